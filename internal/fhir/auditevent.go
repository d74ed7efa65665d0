package fhir

import (
	"encoding/json"
	"strings"

	"ward/internal/audit"
)

// AuditEvent is the R4 AuditEvent: how ward's audit trail is shown to FHIR
// clients.
type AuditEvent struct {
	DomainResource

	Type           Coding             `json:"type"`
	Subtype        []Coding           `json:"subtype,omitempty"`
	Action         string             `json:"action,omitempty"` // C | R | U | D | E
	Period         *Period            `json:"period,omitempty"`
	Recorded       string             `json:"recorded"` // instant
	Outcome        string             `json:"outcome,omitempty"`
	OutcomeDesc    string             `json:"outcomeDesc,omitempty"`
	PurposeOfEvent []CodeableConcept  `json:"purposeOfEvent,omitempty"`
	Agent          []AuditEventAgent  `json:"agent"`
	Source         AuditEventSource   `json:"source"`
	Entity         []AuditEventEntity `json:"entity,omitempty"`
}

// AuditEventAgent is an actor in the event: a user, a client, ward itself.
type AuditEventAgent struct {
	Type      *CodeableConcept   `json:"type,omitempty"`
	Role      []CodeableConcept  `json:"role,omitempty"`
	Who       *Reference         `json:"who,omitempty"`
	AltID     string             `json:"altId,omitempty"`
	Name      string             `json:"name,omitempty"`
	Requestor bool               `json:"requestor"`
	Policy    []string           `json:"policy,omitempty"`
	Network   *AuditEventNetwork `json:"network,omitempty"`
}

// AuditEventNetwork is where an agent acted from.
type AuditEventNetwork struct {
	Address string `json:"address,omitempty"`
	Type    string `json:"type,omitempty"` // 1 machine name | 2 IP address | ...
}

// AuditEventSource is the system that recorded the event.
type AuditEventSource struct {
	Site     string    `json:"site,omitempty"`
	Observer Reference `json:"observer"`
	Type     []Coding  `json:"type,omitempty"`
}

// AuditEventEntity is something the event was about.
type AuditEventEntity struct {
	What        *Reference               `json:"what,omitempty"`
	Type        *Coding                  `json:"type,omitempty"`
	Role        *Coding                  `json:"role,omitempty"`
	Name        string                   `json:"name,omitempty"`
	Description string                   `json:"description,omitempty"`
	Detail      []AuditEventEntityDetail `json:"detail,omitempty"`
}

// AuditEventEntityDetail is a named extra value about an entity.
type AuditEventEntityDetail struct {
	Type        string `json:"type"`
	ValueString string `json:"valueString,omitempty"`
}

// ResourceType returns "AuditEvent".
func (AuditEvent) ResourceType() string { return "AuditEvent" }

// auditEventWire is AuditEvent without its JSON methods.
type auditEventWire AuditEvent

// MarshalJSON writes the resource with its resourceType first.
func (a AuditEvent) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		auditEventWire
	}{"AuditEvent", auditEventWire(a)})
}

// UnmarshalJSON decodes strictly (resourceType must be AuditEvent).
func (a *AuditEvent) UnmarshalJSON(data []byte) error {
	var w struct {
		ResourceType string `json:"resourceType"`
		auditEventWire
	}
	if err := decodeStrict(data, "AuditEvent", &w); err != nil {
		return err
	}
	*a = AuditEvent(w.auditEventWire)
	return nil
}

// Code systems used to describe ward's audit events.
const (
	// SystemAuditContext holds ward's audit contexts (login, user, consent...)
	// as AuditEvent.subtype codes.
	SystemAuditContext = "http://us.truenth.org/fhir/CodeSystem/audit-context"
	// SystemWardEventType holds ward's typed change events (user.created,
	// signin.failed, ...: audit.EventType) as AuditEvent.subtype codes.
	// A stable identifier for ward's registry, not a resolvable page.
	SystemWardEventType = "https://ward.example/fhir/CodeSystem/event-type"
	// SystemAuditEventType is R4's audit event type code system.
	SystemAuditEventType = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	// SystemDICOM is DICOM's code system, used for user authentication events.
	SystemDICOM = "http://dicom.nema.org/resources/ontology/DCM"
	// SystemSecuritySourceType is R4's audit source type code system.
	SystemSecuritySourceType = "http://terminology.hl7.org/CodeSystem/security-source-type"
	// SystemAuditEntityType is R4's audit entity type code system.
	SystemAuditEntityType = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
)

// FromAuditEvent renders one event of ward's audit chain. The acting user
// and the subject are Patient references (ward serves every user's
// demographics as a Patient), relative when base is "" and absolute under
// base otherwise; an OAuth client acting is a Device agent named by its
// client_id; an event with neither is ward's own. The request's source
// address is the first agent's network. The event's comment is the
// entity description, its payload and chain hashes are entity details (so
// an exported trail can still be verified). A typed event's type is a
// second subtype (SystemWardEventType), its action follows from the type
// (C/R/U/D/E), and what changed, when it is not the patient, is a second
// entity. Events recorded before types existed have the action "E". Ward
// records state changes that happened, so the outcome is always success.
func FromAuditEvent(e audit.Event, base string) AuditEvent {
	out := AuditEvent{
		DomainResource: DomainResource{ID: formatID(e.ID)},
		Type:           Coding{System: SystemAuditEventType, Code: "rest", Display: "RESTful Operation"},
		Action:         string(audit.ActionOf(e.Type)),
		Recorded:       formatInstant(e.Timestamp),
		Outcome:        "0",
		Source: AuditEventSource{
			Site:     base,
			Observer: Reference{Display: "ward"},
			Type:     []Coding{{System: SystemSecuritySourceType, Code: "4", Display: "Application Server"}},
		},
	}
	if e.Context == audit.Login || e.Context == audit.Authentication {
		out.Type = Coding{System: SystemDICOM, Code: "110114", Display: "User Authentication"}
	}
	if e.Context != "" {
		out.Subtype = []Coding{{System: SystemAuditContext, Code: string(e.Context)}}
	}
	if e.Type != "" {
		out.Subtype = append(out.Subtype, Coding{System: SystemWardEventType, Code: string(e.Type)})
	}
	if e.UserID != 0 {
		out.Agent = append(out.Agent, AuditEventAgent{Who: referenceTo(base, "Patient", e.UserID), Requestor: true})
	}
	if e.ClientID != "" {
		out.Agent = append(out.Agent, AuditEventAgent{
			Who:       &Reference{Type: "Device", Display: e.ClientID},
			AltID:     e.ClientID,
			Requestor: e.UserID == 0,
		})
	}
	if len(out.Agent) == 0 {
		out.Agent = []AuditEventAgent{{Who: &Reference{Display: "ward"}, Name: "ward", Requestor: true}}
	}
	if e.SourceIP != "" {
		out.Agent[0].Network = &AuditEventNetwork{Address: e.SourceIP, Type: "2"}
	}
	ent := AuditEventEntity{Description: e.Comment}
	if e.SubjectID != 0 {
		ent.What = referenceTo(base, "Patient", e.SubjectID)
		ent.Type = &Coding{System: SystemAuditEntityType, Code: "1", Display: "Person"}
	}
	if e.Payload != "" {
		ent.Detail = append(ent.Detail, AuditEventEntityDetail{Type: "payload", ValueString: e.Payload})
	}
	if e.Hash != "" {
		ent.Detail = append(ent.Detail, AuditEventEntityDetail{Type: "hash", ValueString: e.Hash})
	}
	if e.PrevHash != "" {
		ent.Detail = append(ent.Detail, AuditEventEntityDetail{Type: "prevHash", ValueString: e.PrevHash})
	}
	if ent.What != nil || ent.Description != "" || len(ent.Detail) > 0 {
		out.Entity = []AuditEventEntity{ent}
	}
	if sub := subjectEntity(e, base); sub != nil {
		out.Entity = append(out.Entity, *sub)
	}
	return out
}

// subjectEntity is the entity of what a typed event changed, or nil when
// there is none or it is the patient already named. Kinds ward serves as
// FHIR resources are references; others (Client, Token, Export, ...) are
// named by their reference string.
func subjectEntity(e audit.Event, base string) *AuditEventEntity {
	if e.Subject == "" || e.SubjectID != 0 && e.Subject == "Patient/"+formatID(e.SubjectID) {
		return nil
	}
	kind, id, ok := strings.Cut(e.Subject, "/")
	ent := &AuditEventEntity{Name: e.Subject, Type: &Coding{System: SystemAuditEntityType, Code: "2", Display: "System Object"}}
	switch {
	case !ok || id == "":
	case kind == "Patient":
		ent.Type = &Coding{System: SystemAuditEntityType, Code: "1", Display: "Person"}
		ent.What = &Reference{Reference: joinRef(base, e.Subject)}
	case kind == "Organization", kind == "Observation", kind == "Procedure", kind == "DocumentReference":
		ent.What = &Reference{Reference: joinRef(base, e.Subject)}
	case kind == "Consent" && e.SubjectID != 0:
		// ward serves a consent as Consent/{patient}-{consent}.
		ent.What = &Reference{Reference: joinRef(base, "Consent/"+formatID(e.SubjectID)+"-"+id)}
	}
	return ent
}

// joinRef is ref relative when base is "" and absolute under base otherwise.
func joinRef(base, ref string) string {
	if base == "" {
		return ref
	}
	return strings.TrimRight(base, "/") + "/" + ref
}
