package fhir

import (
	"encoding/json"
	"fmt"
)

// Group is the R4 Group resource: a set of patients (or practitioners,
// devices...) treated together, such as the cohort of a Group-level bulk
// export. Actual is true for an enumerated group (its members are listed)
// and false for a definitional one (its characteristics describe it).
type Group struct {
	DomainResource

	Identifier     []Identifier          `json:"identifier,omitempty"`
	Active         *bool                 `json:"active,omitempty"`
	Type           string                `json:"type"` // person | animal | practitioner | device | medication | substance
	Actual         bool                  `json:"actual"`
	Code           *CodeableConcept      `json:"code,omitempty"`
	Name           string                `json:"name,omitempty"`
	Quantity       *int64                `json:"quantity,omitempty"` // unsignedInt
	ManagingEntity *Reference            `json:"managingEntity,omitempty"`
	Characteristic []GroupCharacteristic `json:"characteristic,omitempty"`
	Member         []GroupMember         `json:"member,omitempty"`
}

// GroupCharacteristic is a trait the group's members share (or, with
// Exclude, lack). Value[x] is at most one of its variants.
type GroupCharacteristic struct {
	Code                 CodeableConcept  `json:"code"`
	ValueCodeableConcept *CodeableConcept `json:"valueCodeableConcept,omitempty"`
	ValueBoolean         *bool            `json:"valueBoolean,omitempty"`
	ValueQuantity        *Quantity        `json:"valueQuantity,omitempty"`
	ValueRange           *Range           `json:"valueRange,omitempty"`
	ValueReference       *Reference       `json:"valueReference,omitempty"`
	Exclude              bool             `json:"exclude"`
	Period               *Period          `json:"period,omitempty"`
}

// GroupMember is one member: who, since when, and whether they still are.
type GroupMember struct {
	Entity   Reference `json:"entity"`
	Period   *Period   `json:"period,omitempty"`
	Inactive *bool     `json:"inactive,omitempty"`
}

// ResourceType returns "Group".
func (Group) ResourceType() string { return "Group" }

// groupWire is Group without its JSON methods, for the codec below.
type groupWire Group

// MarshalJSON writes the resource with its resourceType first.
func (g Group) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		groupWire
	}{"Group", groupWire(g)})
}

// UnmarshalJSON decodes strictly, as DecodeGroup does.
func (g *Group) UnmarshalJSON(data []byte) error {
	d, err := DecodeGroup(data)
	if err != nil {
		return err
	}
	*g = *d
	return nil
}

// DecodeGroup decodes a Group with the same strictness as DecodePatient;
// quantity must not be negative and each characteristic's value[x] may
// give only one variant.
func DecodeGroup(data []byte) (*Group, error) {
	var w struct {
		ResourceType string `json:"resourceType"`
		groupWire
	}
	if err := decodeStrict(data, "Group", &w); err != nil {
		return nil, err
	}
	g := Group(w.groupWire)
	if err := nonNegative("Group.quantity", g.Quantity); err != nil {
		return nil, err
	}
	for i, c := range g.Characteristic {
		if err := checkChoice(fmt.Sprintf("Group.characteristic[%d].value[x]", i),
			choice{"valueCodeableConcept", c.ValueCodeableConcept != nil},
			choice{"valueBoolean", c.ValueBoolean != nil},
			choice{"valueQuantity", c.ValueQuantity != nil},
			choice{"valueRange", c.ValueRange != nil},
			choice{"valueReference", c.ValueReference != nil},
		); err != nil {
			return nil, err
		}
	}
	return &g, nil
}
