package fhir

import (
	"encoding/json"

	"ward/internal/clinical"
)

// ValueSet is the part of the R4 ValueSet resource ward emits: a fixed
// list of concepts as compose.include (no expansion). ward only serves
// value sets (GET /api/procedure/valueset/{id}); it never reads one.
type ValueSet struct {
	DomainResource

	URL         string          `json:"url,omitempty"`
	Name        string          `json:"name,omitempty"`
	Title       string          `json:"title,omitempty"`
	Status      string          `json:"status"` // draft | active | retired | unknown
	Publisher   string          `json:"publisher,omitempty"`
	Description string          `json:"description,omitempty"`
	Immutable   *bool           `json:"immutable,omitempty"`
	Compose     ValueSetCompose `json:"compose"`
}

// ValueSetCompose says which concepts the set includes.
type ValueSetCompose struct {
	Include []ValueSetInclude `json:"include"`
}

// ValueSetInclude is a list of concepts from one code system.
type ValueSetInclude struct {
	System  string            `json:"system"`
	Concept []ValueSetConcept `json:"concept"`
}

// ValueSetConcept is one included code with its display.
type ValueSetConcept struct {
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

// ResourceType returns "ValueSet".
func (ValueSet) ResourceType() string { return "ValueSet" }

type valueSetWire ValueSet

// MarshalJSON writes the resource with its resourceType first.
func (v ValueSet) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		valueSetWire
	}{"ValueSet", valueSetWire(v)})
}

// ValueSetFrom is the FHIR form of a clinical value set: one include per
// code system, in the order the concepts are listed.
func ValueSetFrom(v *clinical.ValueSet) ValueSet {
	out := ValueSet{DomainResource: DomainResource{ID: v.ID}, URL: v.URL, Name: v.Name, Title: v.Title,
		Status: "active", Publisher: "ward", Description: v.Description}
	for _, c := range v.Concepts {
		i := len(out.Compose.Include) - 1
		for i >= 0 && out.Compose.Include[i].System != c.System {
			i--
		}
		if i < 0 {
			out.Compose.Include = append(out.Compose.Include, ValueSetInclude{System: c.System})
			i = len(out.Compose.Include) - 1
		}
		out.Compose.Include[i].Concept = append(out.Compose.Include[i].Concept, ValueSetConcept{Code: c.Code, Display: c.Display})
	}
	return out
}
