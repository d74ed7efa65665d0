package fhir

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Bundle is the R4 Bundle. Ward emits searchset bundles (SearchsetBundle);
// the other types decode so that clients' batch and transaction bundles can
// be read later.
type Bundle struct {
	ID        string        `json:"id,omitempty"`
	Meta      *Meta         `json:"meta,omitempty"`
	Type      string        `json:"type"`
	Timestamp string        `json:"timestamp,omitempty"`
	Total     *int          `json:"total,omitempty"`
	Link      []BundleLink  `json:"link,omitempty"`
	Entry     []BundleEntry `json:"entry,omitempty"`
}

// BundleLink is a link from the bundle: "self", "next", "previous"...
type BundleLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// BundleEntry is one resource in a bundle. Resource is any value that
// marshals to a resource (a *Patient, a json.RawMessage...); a decoded
// bundle holds each resource as json.RawMessage, to be decoded strictly by
// its type's decoder.
type BundleEntry struct {
	FullURL  string             `json:"fullUrl,omitempty"`
	Resource any                `json:"resource,omitempty"`
	Search   *BundleEntrySearch `json:"search,omitempty"`
}

// BundleEntrySearch says why an entry is in a searchset: "match" or "include"
// (or "outcome" for an OperationOutcome about the search). Score is the
// ranking in 0..1 ($match sets it, with the match-grade extension).
type BundleEntrySearch struct {
	Extension []Extension `json:"extension,omitempty"`
	Mode      string      `json:"mode,omitempty"`
	Score     Decimal     `json:"score,omitempty"`
}

// UnmarshalJSON keeps the resource as raw JSON.
func (e *BundleEntry) UnmarshalJSON(data []byte) error {
	var w struct {
		FullURL  string             `json:"fullUrl,omitempty"`
		Resource json.RawMessage    `json:"resource,omitempty"`
		Search   *BundleEntrySearch `json:"search,omitempty"`
	}
	// Strict like the rest of the bundle: encoding/json does not carry
	// DisallowUnknownFields into a custom unmarshaler.
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return err
	}
	e.FullURL, e.Search = w.FullURL, w.Search
	e.Resource = nil
	if len(w.Resource) > 0 && string(w.Resource) != "null" {
		e.Resource = w.Resource
	}
	return nil
}

// ResourceType returns "Bundle".
func (Bundle) ResourceType() string { return "Bundle" }

// ResourceID returns the bundle's id.
func (b Bundle) ResourceID() string { return b.ID }

// bundleWire is Bundle without its JSON methods.
type bundleWire Bundle

// MarshalJSON writes the resource with its resourceType first.
func (b Bundle) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		bundleWire
	}{"Bundle", bundleWire(b)})
}

// UnmarshalJSON decodes strictly (resourceType must be Bundle).
func (b *Bundle) UnmarshalJSON(data []byte) error {
	var w struct {
		ResourceType string `json:"resourceType"`
		bundleWire
	}
	if err := decodeStrict(data, "Bundle", &w); err != nil {
		return err
	}
	*b = Bundle(w.bundleWire)
	return nil
}

// SearchsetBundle returns a searchset of resources. Each entry's fullUrl is
// {base}/{type}/{id} when base is set and the resource has an id (resources
// implementing Resource, or raw JSON with resourceType and id); total is
// omitted when nil (unknown); selfURL and nextURL become the "self" and
// "next" links when not empty.
func SearchsetBundle(base, selfURL, nextURL string, total *int, resources []any) *Bundle {
	b := &Bundle{Type: "searchset", Total: total}
	if selfURL != "" {
		b.Link = append(b.Link, BundleLink{Relation: "self", URL: selfURL})
	}
	if nextURL != "" {
		b.Link = append(b.Link, BundleLink{Relation: "next", URL: nextURL})
	}
	b.Entry = make([]BundleEntry, 0, len(resources))
	for _, r := range resources {
		typ, id := typeAndID(r)
		e := BundleEntry{Resource: r, Search: &BundleEntrySearch{Mode: "match"}}
		if typ == "OperationOutcome" {
			e.Search.Mode = "outcome"
		}
		if base != "" && typ != "" && id != "" {
			e.FullURL = strings.TrimRight(base, "/") + "/" + typ + "/" + id
		}
		b.Entry = append(b.Entry, e)
	}
	return b
}

// typeAndID names a resource held as a Resource or as raw JSON.
func typeAndID(r any) (typ, id string) {
	switch v := r.(type) {
	case Resource:
		return v.ResourceType(), v.ResourceID()
	case json.RawMessage:
		return probeTypeAndID(v)
	}
	return "", ""
}

// probeTypeAndID reads resourceType and id from raw resource JSON.
func probeTypeAndID(data []byte) (typ, id string) {
	var probe struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
	}
	if json.Unmarshal(data, &probe) != nil {
		return "", ""
	}
	return probe.ResourceType, probe.ID
}
