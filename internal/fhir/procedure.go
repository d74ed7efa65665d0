package fhir

import "encoding/json"

// Procedure is the R4 Procedure resource: an action performed on or for a
// patient (a surgery, a counselling session...). Performed[x] is at most
// one of its variants.
type Procedure struct {
	DomainResource

	Identifier            []Identifier     `json:"identifier,omitempty"`
	InstantiatesCanonical []string         `json:"instantiatesCanonical,omitempty"`
	InstantiatesURI       []string         `json:"instantiatesUri,omitempty"`
	BasedOn               []Reference      `json:"basedOn,omitempty"`
	PartOf                []Reference      `json:"partOf,omitempty"`
	Status                string           `json:"status"` // preparation | in-progress | not-done | on-hold | stopped | completed | entered-in-error | unknown
	StatusReason          *CodeableConcept `json:"statusReason,omitempty"`
	Category              *CodeableConcept `json:"category,omitempty"`
	Code                  *CodeableConcept `json:"code,omitempty"`
	Subject               Reference        `json:"subject"`
	Encounter             *Reference       `json:"encounter,omitempty"`

	PerformedDateTime string    `json:"performedDateTime,omitempty"`
	PerformedPeriod   *Period   `json:"performedPeriod,omitempty"`
	PerformedString   string    `json:"performedString,omitempty"`
	PerformedAge      *Quantity `json:"performedAge,omitempty"`
	PerformedRange    *Range    `json:"performedRange,omitempty"`

	Recorder           *Reference           `json:"recorder,omitempty"`
	Asserter           *Reference           `json:"asserter,omitempty"`
	Performer          []ProcedurePerformer `json:"performer,omitempty"`
	Location           *Reference           `json:"location,omitempty"`
	ReasonCode         []CodeableConcept    `json:"reasonCode,omitempty"`
	ReasonReference    []Reference          `json:"reasonReference,omitempty"`
	BodySite           []CodeableConcept    `json:"bodySite,omitempty"`
	Outcome            *CodeableConcept     `json:"outcome,omitempty"`
	Report             []Reference          `json:"report,omitempty"`
	Complication       []CodeableConcept    `json:"complication,omitempty"`
	ComplicationDetail []Reference          `json:"complicationDetail,omitempty"`
	FollowUp           []CodeableConcept    `json:"followUp,omitempty"`
	Note               []Annotation         `json:"note,omitempty"`
	UsedReference      []Reference          `json:"usedReference,omitempty"`
	UsedCode           []CodeableConcept    `json:"usedCode,omitempty"`
}

// ProcedurePerformer is who performed the procedure and in what role.
type ProcedurePerformer struct {
	Function   *CodeableConcept `json:"function,omitempty"`
	Actor      Reference        `json:"actor"`
	OnBehalfOf *Reference       `json:"onBehalfOf,omitempty"`
}

// ResourceType returns "Procedure".
func (Procedure) ResourceType() string { return "Procedure" }

// procedureWire is Procedure without its JSON methods, for the codec below.
type procedureWire Procedure

// MarshalJSON writes the resource with its resourceType first.
func (p Procedure) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		procedureWire
	}{"Procedure", procedureWire(p)})
}

// UnmarshalJSON decodes strictly, as DecodeProcedure does.
func (p *Procedure) UnmarshalJSON(data []byte) error {
	d, err := DecodeProcedure(data)
	if err != nil {
		return err
	}
	*p = *d
	return nil
}

// DecodeProcedure decodes a Procedure with the same strictness as
// DecodePatient; performed[x] may give only one variant.
func DecodeProcedure(data []byte) (*Procedure, error) {
	var w struct {
		ResourceType string `json:"resourceType"`
		procedureWire
	}
	if err := decodeStrict(data, "Procedure", &w); err != nil {
		return nil, err
	}
	p := Procedure(w.procedureWire)
	if err := checkChoice("Procedure.performed[x]",
		choice{"performedDateTime", p.PerformedDateTime != ""},
		choice{"performedPeriod", p.PerformedPeriod != nil},
		choice{"performedString", p.PerformedString != ""},
		choice{"performedAge", p.PerformedAge != nil},
		choice{"performedRange", p.PerformedRange != nil},
	); err != nil {
		return nil, err
	}
	return &p, nil
}
