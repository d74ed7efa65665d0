package fhir

import "encoding/json"

// DomainResource holds the members every R4 domain resource shares. Each
// resource embeds it, so its fields appear at the top level of the JSON.
type DomainResource struct {
	ID                string            `json:"id,omitempty"`
	Meta              *Meta             `json:"meta,omitempty"`
	ImplicitRules     string            `json:"implicitRules,omitempty"`
	Language          string            `json:"language,omitempty"`
	Text              *Narrative        `json:"text,omitempty"`
	Contained         []json.RawMessage `json:"contained,omitempty"`
	Extension         []Extension       `json:"extension,omitempty"`
	ModifierExtension []Extension       `json:"modifierExtension,omitempty"`
}

// ResourceID returns the logical id.
func (r DomainResource) ResourceID() string { return r.ID }
