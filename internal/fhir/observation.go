package fhir

import (
	"encoding/json"
	"fmt"
)

// Observation is the R4 Observation resource: a measurement or assertion
// about a patient (vital signs, laboratory results, survey answers...).
// Effective[x] and value[x] are each at most one of their variants; the
// decoder refuses a resource that gives two.
type Observation struct {
	DomainResource

	Identifier []Identifier      `json:"identifier,omitempty"`
	BasedOn    []Reference       `json:"basedOn,omitempty"`
	PartOf     []Reference       `json:"partOf,omitempty"`
	Status     string            `json:"status"` // registered | preliminary | final | amended | corrected | cancelled | entered-in-error | unknown
	Category   []CodeableConcept `json:"category,omitempty"`
	Code       CodeableConcept   `json:"code"`
	Subject    *Reference        `json:"subject,omitempty"`
	Focus      []Reference       `json:"focus,omitempty"`
	Encounter  *Reference        `json:"encounter,omitempty"`

	EffectiveDateTime string  `json:"effectiveDateTime,omitempty"`
	EffectivePeriod   *Period `json:"effectivePeriod,omitempty"`
	EffectiveInstant  string  `json:"effectiveInstant,omitempty"`

	Issued    string      `json:"issued,omitempty"` // instant
	Performer []Reference `json:"performer,omitempty"`

	ValueQuantity        *Quantity        `json:"valueQuantity,omitempty"`
	ValueCodeableConcept *CodeableConcept `json:"valueCodeableConcept,omitempty"`
	ValueString          string           `json:"valueString,omitempty"`
	ValueBoolean         *bool            `json:"valueBoolean,omitempty"`
	ValueInteger         *int64           `json:"valueInteger,omitempty"`
	ValueRange           *Range           `json:"valueRange,omitempty"`
	ValueRatio           *Ratio           `json:"valueRatio,omitempty"`
	ValueTime            string           `json:"valueTime,omitempty"`
	ValueDateTime        string           `json:"valueDateTime,omitempty"`
	ValuePeriod          *Period          `json:"valuePeriod,omitempty"`

	DataAbsentReason *CodeableConcept            `json:"dataAbsentReason,omitempty"`
	Interpretation   []CodeableConcept           `json:"interpretation,omitempty"`
	Note             []Annotation                `json:"note,omitempty"`
	BodySite         *CodeableConcept            `json:"bodySite,omitempty"`
	Method           *CodeableConcept            `json:"method,omitempty"`
	Specimen         *Reference                  `json:"specimen,omitempty"`
	Device           *Reference                  `json:"device,omitempty"`
	ReferenceRange   []ObservationReferenceRange `json:"referenceRange,omitempty"`
	HasMember        []Reference                 `json:"hasMember,omitempty"`
	DerivedFrom      []Reference                 `json:"derivedFrom,omitempty"`
	Component        []ObservationComponent      `json:"component,omitempty"`
}

// ObservationReferenceRange is a range of normal or recommended values.
type ObservationReferenceRange struct {
	Low       *Quantity         `json:"low,omitempty"`
	High      *Quantity         `json:"high,omitempty"`
	Type      *CodeableConcept  `json:"type,omitempty"`
	AppliesTo []CodeableConcept `json:"appliesTo,omitempty"`
	Age       *Range            `json:"age,omitempty"`
	Text      string            `json:"text,omitempty"`
}

// ObservationComponent is one part of a multi-part observation, such as
// the systolic and diastolic values of a blood pressure.
type ObservationComponent struct {
	Code CodeableConcept `json:"code"`

	ValueQuantity        *Quantity        `json:"valueQuantity,omitempty"`
	ValueCodeableConcept *CodeableConcept `json:"valueCodeableConcept,omitempty"`
	ValueString          string           `json:"valueString,omitempty"`
	ValueBoolean         *bool            `json:"valueBoolean,omitempty"`
	ValueInteger         *int64           `json:"valueInteger,omitempty"`
	ValueRange           *Range           `json:"valueRange,omitempty"`
	ValueRatio           *Ratio           `json:"valueRatio,omitempty"`
	ValueTime            string           `json:"valueTime,omitempty"`
	ValueDateTime        string           `json:"valueDateTime,omitempty"`
	ValuePeriod          *Period          `json:"valuePeriod,omitempty"`

	DataAbsentReason *CodeableConcept            `json:"dataAbsentReason,omitempty"`
	Interpretation   []CodeableConcept           `json:"interpretation,omitempty"`
	ReferenceRange   []ObservationReferenceRange `json:"referenceRange,omitempty"`
}

// SystemObservationCategory is R4's observation category code system
// (vital-signs, laboratory, survey...).
const SystemObservationCategory = "http://terminology.hl7.org/CodeSystem/observation-category"

// ResourceType returns "Observation".
func (Observation) ResourceType() string { return "Observation" }

// observationWire is Observation without its JSON methods, for the codec below.
type observationWire Observation

// MarshalJSON writes the resource with its resourceType first.
func (o Observation) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		observationWire
	}{"Observation", observationWire(o)})
}

// UnmarshalJSON decodes strictly, as DecodeObservation does.
func (o *Observation) UnmarshalJSON(data []byte) error {
	d, err := DecodeObservation(data)
	if err != nil {
		return err
	}
	*o = *d
	return nil
}

// DecodeObservation decodes an Observation with the same strictness as
// DecodePatient; in addition, effective[x] and each value[x] (of the
// observation and of its components) may give only one variant.
func DecodeObservation(data []byte) (*Observation, error) {
	var w struct {
		ResourceType string `json:"resourceType"`
		observationWire
	}
	if err := decodeStrict(data, "Observation", &w); err != nil {
		return nil, err
	}
	o := Observation(w.observationWire)
	if err := checkChoice("Observation.effective[x]",
		choice{"effectiveDateTime", o.EffectiveDateTime != ""},
		choice{"effectivePeriod", o.EffectivePeriod != nil},
		choice{"effectiveInstant", o.EffectiveInstant != ""},
	); err != nil {
		return nil, err
	}
	if err := checkChoice("Observation.value[x]", observationValues(
		o.ValueQuantity, o.ValueCodeableConcept, o.ValueString, o.ValueBoolean, o.ValueInteger,
		o.ValueRange, o.ValueRatio, o.ValueTime, o.ValueDateTime, o.ValuePeriod)...); err != nil {
		return nil, err
	}
	for i, c := range o.Component {
		if err := checkChoice(fmt.Sprintf("Observation.component[%d].value[x]", i), observationValues(
			c.ValueQuantity, c.ValueCodeableConcept, c.ValueString, c.ValueBoolean, c.ValueInteger,
			c.ValueRange, c.ValueRatio, c.ValueTime, c.ValueDateTime, c.ValuePeriod)...); err != nil {
			return nil, err
		}
	}
	return &o, nil
}

// observationValues lists the value[x] variants shared by Observation and
// its components.
func observationValues(q *Quantity, cc *CodeableConcept, s string, b *bool, n *int64,
	r *Range, ra *Ratio, tm, dt string, p *Period) []choice {
	return []choice{
		{"valueQuantity", q != nil},
		{"valueCodeableConcept", cc != nil},
		{"valueString", s != ""},
		{"valueBoolean", b != nil},
		{"valueInteger", n != nil},
		{"valueRange", r != nil},
		{"valueRatio", ra != nil},
		{"valueTime", tm != ""},
		{"valueDateTime", dt != ""},
		{"valuePeriod", p != nil},
	}
}
