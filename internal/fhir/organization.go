package fhir

import "encoding/json"

// Organization is the R4 Organization resource: a clinic, hospital or
// ministry in ward's organization tree (partOf names the parent).
type Organization struct {
	DomainResource

	Identifier []Identifier          `json:"identifier,omitempty"`
	Active     *bool                 `json:"active,omitempty"`
	Type       []CodeableConcept     `json:"type,omitempty"`
	Name       string                `json:"name,omitempty"`
	Alias      []string              `json:"alias,omitempty"`
	Telecom    []ContactPoint        `json:"telecom,omitempty"`
	Address    []Address             `json:"address,omitempty"`
	PartOf     *Reference            `json:"partOf,omitempty"`
	Contact    []OrganizationContact `json:"contact,omitempty"`
	Endpoint   []Reference           `json:"endpoint,omitempty"`
}

// OrganizationContact is a contact party for an organization (press,
// patient enquiries, billing...).
type OrganizationContact struct {
	Purpose *CodeableConcept `json:"purpose,omitempty"`
	Name    *HumanName       `json:"name,omitempty"`
	Telecom []ContactPoint   `json:"telecom,omitempty"`
	Address *Address         `json:"address,omitempty"`
}

// ResourceType returns "Organization".
func (Organization) ResourceType() string { return "Organization" }

// organizationWire is Organization without its JSON methods, for the codec below.
type organizationWire Organization

// MarshalJSON writes the resource with its resourceType first.
func (o Organization) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		organizationWire
	}{"Organization", organizationWire(o)})
}

// UnmarshalJSON decodes strictly, as DecodeOrganization does.
func (o *Organization) UnmarshalJSON(data []byte) error {
	d, err := DecodeOrganization(data)
	if err != nil {
		return err
	}
	*o = *d
	return nil
}

// DecodeOrganization decodes an Organization from a request body, with the
// same strictness as DecodePatient.
func DecodeOrganization(data []byte) (*Organization, error) {
	var w struct {
		ResourceType string `json:"resourceType"`
		organizationWire
	}
	if err := decodeStrict(data, "Organization", &w); err != nil {
		return nil, err
	}
	o := Organization(w.organizationWire)
	return &o, nil
}
