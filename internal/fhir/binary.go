package fhir

import (
	"encoding/json"

	"ward/internal/apperr"
)

// Binary is the R4 Binary resource: raw content (a document's bytes) with
// its MIME type. It is a Resource, not a DomainResource: it has no text,
// contained resources or extensions.
type Binary struct {
	ID            string `json:"id,omitempty"`
	Meta          *Meta  `json:"meta,omitempty"`
	ImplicitRules string `json:"implicitRules,omitempty"`
	Language      string `json:"language,omitempty"`

	ContentType     string     `json:"contentType"`
	SecurityContext *Reference `json:"securityContext,omitempty"`
	Data            string     `json:"data,omitempty"` // base64Binary
}

// NewBinary returns a Binary holding content, base64-encoded.
func NewBinary(contentType string, content []byte) *Binary {
	b := &Binary{ContentType: contentType}
	b.SetContent(content)
	return b
}

// SetContent stores content as the resource's base64 data.
func (b *Binary) SetContent(content []byte) {
	b.Data = ""
	if len(content) > 0 {
		b.Data = base64Encode(content)
	}
}

// Content returns the decoded data; malformed base64 is an Invalid error
// (DecodeBinary never returns such a resource).
func (b *Binary) Content() ([]byte, error) {
	if b.Data == "" {
		return nil, nil
	}
	out, err := decodeBase64(b.Data)
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, err, "Binary.data is not valid base64")
	}
	return out, nil
}

// ResourceType returns "Binary".
func (Binary) ResourceType() string { return "Binary" }

// ResourceID returns the logical id.
func (b Binary) ResourceID() string { return b.ID }

// binaryWire is Binary without its JSON methods, for the codec below.
type binaryWire Binary

// MarshalJSON writes the resource with its resourceType first.
func (b Binary) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		binaryWire
	}{"Binary", binaryWire(b)})
}

// UnmarshalJSON decodes strictly, as DecodeBinary does.
func (b *Binary) UnmarshalJSON(data []byte) error {
	d, err := DecodeBinary(data)
	if err != nil {
		return err
	}
	*b = *d
	return nil
}

// DecodeBinary decodes a Binary with the same strictness as DecodePatient;
// data must be valid base64.
func DecodeBinary(data []byte) (*Binary, error) {
	var w struct {
		ResourceType string `json:"resourceType"`
		binaryWire
	}
	if err := decodeStrict(data, "Binary", &w); err != nil {
		return nil, err
	}
	b := Binary(w.binaryWire)
	if err := checkBase64("Binary.data", b.Data); err != nil {
		return nil, err
	}
	return &b, nil
}
