package fhir

import (
	"encoding/json"

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
	Type      *CodeableConcept  `json:"type,omitempty"`
	Role      []CodeableConcept `json:"role,omitempty"`
	Who       *Reference        `json:"who,omitempty"`
	AltID     string            `json:"altId,omitempty"`
	Name      string            `json:"name,omitempty"`
	Requestor bool              `json:"requestor"`
	Policy    []string          `json:"policy,omitempty"`
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
// client_id; an event with neither is ward's own. The event's comment is the
// entity description, and its chain hashes are entity details so that an
// exported trail can still be verified. Ward records state changes that
// happened, so the outcome is always success and the action "E" (the audit
// record does not say which of create/update/delete it was).
func FromAuditEvent(e audit.Event, base string) AuditEvent {
	out := AuditEvent{
		DomainResource: DomainResource{ID: formatID(e.ID)},
		Type:           Coding{System: SystemAuditEventType, Code: "rest", Display: "RESTful Operation"},
		Action:         "E",
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
	ent := AuditEventEntity{Description: e.Comment}
	if e.SubjectID != 0 {
		ent.What = referenceTo(base, "Patient", e.SubjectID)
		ent.Type = &Coding{System: SystemAuditEntityType, Code: "1", Display: "Person"}
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
	return out
}
