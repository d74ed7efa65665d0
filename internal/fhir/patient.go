package fhir

import "encoding/json"

// Patient is the R4 Patient resource. Ward serves every user's demographics
// as a Patient (as the reference system does); see PatientFromUser and
// ApplyPatient for which elements map to the directory.
type Patient struct {
	DomainResource

	Identifier           []Identifier           `json:"identifier,omitempty"`
	Active               *bool                  `json:"active,omitempty"`
	Name                 []HumanName            `json:"name,omitempty"`
	Telecom              []ContactPoint         `json:"telecom,omitempty"`
	Gender               string                 `json:"gender,omitempty"`
	BirthDate            string                 `json:"birthDate,omitempty"`
	BirthDateExt         *Element               `json:"_birthDate,omitempty"`
	DeceasedBoolean      *bool                  `json:"deceasedBoolean,omitempty"`
	DeceasedDateTime     string                 `json:"deceasedDateTime,omitempty"`
	Address              []Address              `json:"address,omitempty"`
	MaritalStatus        *CodeableConcept       `json:"maritalStatus,omitempty"`
	MultipleBirthBoolean *bool                  `json:"multipleBirthBoolean,omitempty"`
	MultipleBirthInteger *int64                 `json:"multipleBirthInteger,omitempty"`
	Photo                []Attachment           `json:"photo,omitempty"`
	Contact              []PatientContact       `json:"contact,omitempty"`
	Communication        []PatientCommunication `json:"communication,omitempty"`
	GeneralPractitioner  []Reference            `json:"generalPractitioner,omitempty"`
	ManagingOrganization *Reference             `json:"managingOrganization,omitempty"`
	Link                 []PatientLink          `json:"link,omitempty"`
}

// PatientContact is a contact party (guardian, partner, friend) of a patient.
type PatientContact struct {
	Relationship []CodeableConcept `json:"relationship,omitempty"`
	Name         *HumanName        `json:"name,omitempty"`
	Telecom      []ContactPoint    `json:"telecom,omitempty"`
	Address      *Address          `json:"address,omitempty"`
	Gender       string            `json:"gender,omitempty"`
	Organization *Reference        `json:"organization,omitempty"`
	Period       *Period           `json:"period,omitempty"`
}

// PatientCommunication is a language the patient may be spoken to in.
type PatientCommunication struct {
	Language  CodeableConcept `json:"language"`
	Preferred *bool           `json:"preferred,omitempty"`
}

// PatientLink links to another Patient or RelatedPerson about the same person.
type PatientLink struct {
	Other Reference `json:"other"`
	Type  string    `json:"type"`
}

// ResourceType returns "Patient".
func (Patient) ResourceType() string { return "Patient" }

// patientWire is Patient without its JSON methods, for the codec below.
type patientWire Patient

// MarshalJSON writes the resource with its resourceType first.
func (p Patient) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		patientWire
	}{"Patient", patientWire(p)})
}

// UnmarshalJSON decodes strictly, as DecodePatient does.
func (p *Patient) UnmarshalJSON(data []byte) error {
	d, err := DecodePatient(data)
	if err != nil {
		return err
	}
	*p = *d
	return nil
}

// DecodePatient decodes a Patient from a request body. A missing or wrong
// resourceType, an unknown member, a value of the wrong JSON type, malformed
// JSON or trailing data is an apperr.Invalid error naming the problem.
func DecodePatient(data []byte) (*Patient, error) {
	var w struct {
		ResourceType string `json:"resourceType"`
		patientWire
	}
	if err := decodeStrict(data, "Patient", &w); err != nil {
		return nil, err
	}
	p := Patient(w.patientWire)
	return &p, nil
}
