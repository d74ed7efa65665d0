package fhir

import (
	"encoding/json"
	"reflect"
)

// The R4 general-purpose datatypes ward reads and writes. Each carries the
// exact R4 JSON names; optional primitives are omitted when empty, and
// booleans that are meaningful when false are pointers so that "absent" and
// "false" stay distinct. Elements ward has no use for are still declared where
// the official examples use them, so that strict decoding accepts spec
// conformant input and re-encoding does not drop it.

// Element carries the id and extensions of a primitive value, the FHIR JSON
// "_name" companion of a primitive property (e.g. "_birthDate").
type Element struct {
	ID        string      `json:"id,omitempty"`
	Extension []Extension `json:"extension,omitempty"`
}

// Narrative is a resource's human-readable summary (DomainResource.text).
type Narrative struct {
	Status string `json:"status,omitempty"`
	Div    string `json:"div,omitempty"`
}

// Meta is resource metadata: the version ward stores and when it changed.
type Meta struct {
	VersionID   string   `json:"versionId,omitempty"`
	LastUpdated string   `json:"lastUpdated,omitempty"` // instant
	Source      string   `json:"source,omitempty"`
	Profile     []string `json:"profile,omitempty"`
	Security    []Coding `json:"security,omitempty"`
	Tag         []Coding `json:"tag,omitempty"`
}

// Coding is a code from a code system.
type Coding struct {
	System       string `json:"system,omitempty"`
	Version      string `json:"version,omitempty"`
	Code         string `json:"code,omitempty"`
	Display      string `json:"display,omitempty"`
	UserSelected *bool  `json:"userSelected,omitempty"`
}

// CodeableConcept is a concept given as codings and/or text.
type CodeableConcept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// Period is a time range; either end may be open.
type Period struct {
	Start string `json:"start,omitempty"` // dateTime
	End   string `json:"end,omitempty"`   // dateTime
}

// Identifier names a resource in some system.
type Identifier struct {
	Use      string           `json:"use,omitempty"`
	Type     *CodeableConcept `json:"type,omitempty"`
	System   string           `json:"system,omitempty"`
	Value    string           `json:"value,omitempty"`
	Period   *Period          `json:"period,omitempty"`
	Assigner *Reference       `json:"assigner,omitempty"`
}

// Reference points at another resource, by relative or absolute URL, by
// identifier, or only by display text.
type Reference struct {
	Reference  string      `json:"reference,omitempty"`
	Type       string      `json:"type,omitempty"`
	Identifier *Identifier `json:"identifier,omitempty"`
	Display    string      `json:"display,omitempty"`
}

// HumanName is a person's name.
type HumanName struct {
	Use       string   `json:"use,omitempty"`
	Text      string   `json:"text,omitempty"`
	Family    string   `json:"family,omitempty"`
	FamilyExt *Element `json:"_family,omitempty"`
	Given     []string `json:"given,omitempty"`
	Prefix    []string `json:"prefix,omitempty"`
	Suffix    []string `json:"suffix,omitempty"`
	Period    *Period  `json:"period,omitempty"`
}

// ContactPoint is a phone number, email address, fax, URL and the like.
type ContactPoint struct {
	System string  `json:"system,omitempty"` // phone | fax | email | pager | url | sms | other
	Value  string  `json:"value,omitempty"`
	Use    string  `json:"use,omitempty"` // home | work | temp | old | mobile
	Rank   int     `json:"rank,omitempty"`
	Period *Period `json:"period,omitempty"`
}

// Address is a postal or physical address.
type Address struct {
	Use        string   `json:"use,omitempty"`
	Type       string   `json:"type,omitempty"`
	Text       string   `json:"text,omitempty"`
	Line       []string `json:"line,omitempty"`
	City       string   `json:"city,omitempty"`
	District   string   `json:"district,omitempty"`
	State      string   `json:"state,omitempty"`
	PostalCode string   `json:"postalCode,omitempty"`
	Country    string   `json:"country,omitempty"`
	Period     *Period  `json:"period,omitempty"`
}

// Attachment is content by reference (URL) or inline (base64 data).
type Attachment struct {
	ContentType string `json:"contentType,omitempty"`
	Language    string `json:"language,omitempty"`
	Data        string `json:"data,omitempty"` // base64Binary
	URL         string `json:"url,omitempty"`
	Size        int64  `json:"size,omitempty"`
	Hash        string `json:"hash,omitempty"` // base64 SHA-1
	Title       string `json:"title,omitempty"`
	Creation    string `json:"creation,omitempty"` // dateTime
}

// Extension is an R4 extension. Only the value[x] variants ward produces or
// the later resources need are declared; any other variant is an unknown
// field and is refused by the strict decoders rather than silently dropped.
type Extension struct {
	ID        string      `json:"id,omitempty"`
	URL       string      `json:"url"`
	Extension []Extension `json:"extension,omitempty"`

	ValueBoolean         *bool            `json:"valueBoolean,omitempty"`
	ValueInteger         *int64           `json:"valueInteger,omitempty"`
	ValueDecimal         Decimal          `json:"valueDecimal,omitempty"`
	ValueString          string           `json:"valueString,omitempty"`
	ValueCode            string           `json:"valueCode,omitempty"`
	ValueURI             string           `json:"valueUri,omitempty"`
	ValueURL             string           `json:"valueUrl,omitempty"`
	ValueDate            string           `json:"valueDate,omitempty"`
	ValueDateTime        string           `json:"valueDateTime,omitempty"`
	ValueInstant         string           `json:"valueInstant,omitempty"`
	ValueCoding          *Coding          `json:"valueCoding,omitempty"`
	ValueCodeableConcept *CodeableConcept `json:"valueCodeableConcept,omitempty"`
	ValueIdentifier      *Identifier      `json:"valueIdentifier,omitempty"`
	ValueReference       *Reference       `json:"valueReference,omitempty"`
	ValuePeriod          *Period          `json:"valuePeriod,omitempty"`
	ValueAttachment      *Attachment      `json:"valueAttachment,omitempty"`

	// LegacyTimezone is the reference system's non-standard
	// {"url": ..., "timezone": "..."} shape of the timezone extension. It is
	// accepted on input so existing clients keep working, and never emitted
	// (it is not valid R4).
	LegacyTimezone string `json:"timezone,omitempty"`
}

// HasValue reports whether the extension carries any value[x] or nested
// extension; an extension without one is how a client clears the field the
// extension maps to.
func (e *Extension) HasValue() bool {
	return e.ValueBoolean != nil || e.ValueInteger != nil || e.ValueDecimal != "" ||
		e.ValueString != "" || e.ValueCode != "" || e.ValueURI != "" || e.ValueURL != "" ||
		e.ValueDate != "" || e.ValueDateTime != "" || e.ValueInstant != "" ||
		e.ValueCoding != nil || e.ValueCodeableConcept != nil || e.ValueIdentifier != nil ||
		e.ValueReference != nil || e.ValuePeriod != nil || e.ValueAttachment != nil ||
		e.LegacyTimezone != "" || len(e.Extension) > 0
}

// boolPtr returns a pointer to b, for the optional booleans above.
func boolPtr(b bool) *bool { return &b }

// Quantity is a measured amount (also R4's SimpleQuantity, Age, Duration and
// the other Quantity profiles, which share its JSON form). Value is a decimal
// kept as its JSON text, so that "185" and "185.0" both survive a round trip.
type Quantity struct {
	Value      Decimal `json:"value,omitempty"`
	Comparator string  `json:"comparator,omitempty"` // < | <= | >= | >
	Unit       string  `json:"unit,omitempty"`
	System     string  `json:"system,omitempty"`
	Code       string  `json:"code,omitempty"`
}

// Range is a set of values bounded by low and high; either may be open.
type Range struct {
	Low  *Quantity `json:"low,omitempty"`
	High *Quantity `json:"high,omitempty"`
}

// Ratio is a relationship between two quantities.
type Ratio struct {
	Numerator   *Quantity `json:"numerator,omitempty"`
	Denominator *Quantity `json:"denominator,omitempty"`
}

// Annotation is a text note with who made it and when.
type Annotation struct {
	AuthorReference *Reference `json:"authorReference,omitempty"`
	AuthorString    string     `json:"authorString,omitempty"`
	Time            string     `json:"time,omitempty"` // dateTime
	Text            string     `json:"text"`           // markdown
}

// ContactDetail is a contact for a conformance resource's publisher.
type ContactDetail struct {
	Name    string         `json:"name,omitempty"`
	Telecom []ContactPoint `json:"telecom,omitempty"`
}

// Decimal is an R4 decimal: a JSON number kept as its literal text, so that
// precision ("6.30") survives a round trip. Unlike json.Number it decodes
// only from a JSON number, never from a string, as R4's JSON form requires.
type Decimal string

// MarshalJSON writes the number as is; text that is not a JSON number is an
// error.
func (d Decimal) MarshalJSON() ([]byte, error) {
	return json.Marshal(json.Number(d))
}

// UnmarshalJSON accepts a JSON number (null leaves d unchanged).
func (d *Decimal) UnmarshalJSON(data []byte) error {
	switch {
	case string(data) == "null":
		return nil
	case len(data) > 0 && (data[0] == '-' || data[0] >= '0' && data[0] <= '9'):
		*d = Decimal(data)
		return nil
	}
	kind := "value"
	if len(data) > 0 {
		switch data[0] {
		case '"':
			kind = "string"
		case 't', 'f':
			kind = "bool"
		case '{':
			kind = "object"
		case '[':
			kind = "array"
		}
	}
	return &json.UnmarshalTypeError{Value: kind, Type: reflect.TypeFor[Decimal]()}
}
