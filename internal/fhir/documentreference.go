package fhir

import (
	"encoding/json"
	"fmt"
)

// DocumentReference is the R4 DocumentReference resource: the metadata of
// a document (a discharge letter, a scanned consent form, a bulk-export
// attachment) whose content is an Attachment, usually a URL to a Binary.
type DocumentReference struct {
	DomainResource

	MasterIdentifier *Identifier                  `json:"masterIdentifier,omitempty"`
	Identifier       []Identifier                 `json:"identifier,omitempty"`
	Status           string                       `json:"status"`              // current | superseded | entered-in-error
	DocStatus        string                       `json:"docStatus,omitempty"` // preliminary | final | amended | entered-in-error
	Type             *CodeableConcept             `json:"type,omitempty"`
	Category         []CodeableConcept            `json:"category,omitempty"`
	Subject          *Reference                   `json:"subject,omitempty"`
	Date             string                       `json:"date,omitempty"` // instant
	Author           []Reference                  `json:"author,omitempty"`
	Authenticator    *Reference                   `json:"authenticator,omitempty"`
	Custodian        *Reference                   `json:"custodian,omitempty"`
	RelatesTo        []DocumentReferenceRelatesTo `json:"relatesTo,omitempty"`
	Description      string                       `json:"description,omitempty"`
	SecurityLabel    []CodeableConcept            `json:"securityLabel,omitempty"`
	Content          []DocumentReferenceContent   `json:"content,omitempty"` // at least one in R4
	Context          *DocumentReferenceContext    `json:"context,omitempty"`
}

// DocumentReferenceRelatesTo links to a document this one replaces,
// transforms, signs or appends to.
type DocumentReferenceRelatesTo struct {
	Code   string    `json:"code"` // replaces | transforms | signs | appends
	Target Reference `json:"target"`
}

// DocumentReferenceContent is one rendition of the document.
type DocumentReferenceContent struct {
	Attachment Attachment `json:"attachment"`
	Format     *Coding    `json:"format,omitempty"`
}

// DocumentReferenceContext is the clinical context the document belongs to.
type DocumentReferenceContext struct {
	Encounter         []Reference       `json:"encounter,omitempty"`
	Event             []CodeableConcept `json:"event,omitempty"`
	Period            *Period           `json:"period,omitempty"`
	FacilityType      *CodeableConcept  `json:"facilityType,omitempty"`
	PracticeSetting   *CodeableConcept  `json:"practiceSetting,omitempty"`
	SourcePatientInfo *Reference        `json:"sourcePatientInfo,omitempty"`
	Related           []Reference       `json:"related,omitempty"`
}

// ResourceType returns "DocumentReference".
func (DocumentReference) ResourceType() string { return "DocumentReference" }

// documentReferenceWire is DocumentReference without its JSON methods, for
// the codec below.
type documentReferenceWire DocumentReference

// MarshalJSON writes the resource with its resourceType first.
func (d DocumentReference) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		documentReferenceWire
	}{"DocumentReference", documentReferenceWire(d)})
}

// UnmarshalJSON decodes strictly, as DecodeDocumentReference does.
func (d *DocumentReference) UnmarshalJSON(data []byte) error {
	v, err := DecodeDocumentReference(data)
	if err != nil {
		return err
	}
	*d = *v
	return nil
}

// DecodeDocumentReference decodes a DocumentReference with the same
// strictness as DecodePatient; inline attachment data must be base64 and
// attachment sizes must not be negative.
func DecodeDocumentReference(data []byte) (*DocumentReference, error) {
	var w struct {
		ResourceType string `json:"resourceType"`
		documentReferenceWire
	}
	if err := decodeStrict(data, "DocumentReference", &w); err != nil {
		return nil, err
	}
	d := DocumentReference(w.documentReferenceWire)
	for i := range d.Content {
		a := &d.Content[i].Attachment
		expr := fmt.Sprintf("DocumentReference.content[%d].attachment", i)
		if err := checkBase64(expr+".data", a.Data); err != nil {
			return nil, err
		}
		if err := nonNegative(expr+".size", &a.Size); err != nil {
			return nil, err
		}
	}
	return &d, nil
}
