package fhir

import "encoding/json"

// Practitioner is the R4 Practitioner resource: a person who provides care
// (a clinician named as a patient's general practitioner, an observation's
// performer...).
type Practitioner struct {
	DomainResource

	Identifier    []Identifier                `json:"identifier,omitempty"`
	Active        *bool                       `json:"active,omitempty"`
	Name          []HumanName                 `json:"name,omitempty"`
	Telecom       []ContactPoint              `json:"telecom,omitempty"`
	Address       []Address                   `json:"address,omitempty"`
	Gender        string                      `json:"gender,omitempty"` // male | female | other | unknown
	BirthDate     string                      `json:"birthDate,omitempty"`
	Photo         []Attachment                `json:"photo,omitempty"`
	Qualification []PractitionerQualification `json:"qualification,omitempty"`
	Communication []CodeableConcept           `json:"communication,omitempty"`
}

// PractitionerQualification is a certification, licence or training.
type PractitionerQualification struct {
	Identifier []Identifier    `json:"identifier,omitempty"`
	Code       CodeableConcept `json:"code"`
	Period     *Period         `json:"period,omitempty"`
	Issuer     *Reference      `json:"issuer,omitempty"`
}

// ResourceType returns "Practitioner".
func (Practitioner) ResourceType() string { return "Practitioner" }

// practitionerWire is Practitioner without its JSON methods, for the codec below.
type practitionerWire Practitioner

// MarshalJSON writes the resource with its resourceType first.
func (p Practitioner) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		practitionerWire
	}{"Practitioner", practitionerWire(p)})
}

// UnmarshalJSON decodes strictly, as DecodePractitioner does.
func (p *Practitioner) UnmarshalJSON(data []byte) error {
	d, err := DecodePractitioner(data)
	if err != nil {
		return err
	}
	*p = *d
	return nil
}

// DecodePractitioner decodes a Practitioner with the same strictness as
// DecodePatient.
func DecodePractitioner(data []byte) (*Practitioner, error) {
	var w struct {
		ResourceType string `json:"resourceType"`
		practitionerWire
	}
	if err := decodeStrict(data, "Practitioner", &w); err != nil {
		return nil, err
	}
	p := Practitioner(w.practitionerWire)
	for i := range p.Photo {
		if err := checkBase64("Practitioner.photo.data", p.Photo[i].Data); err != nil {
			return nil, err
		}
	}
	return &p, nil
}
