// Package fhir is ward's hand-written subset of FHIR R4: the resources ward
// serves and accepts, with their exact R4 JSON names, strict decoders for
// request bodies, and the mapping between those resources and the directory.
//
// Every resource marshals with its resourceType first and decodes strictly:
// an unknown member, a wrong or missing resourceType, or malformed JSON is an
// apperr.Invalid error, which OutcomeFromError turns into an
// OperationOutcome. Everything this package emits is checked in tests
// against the official R4 JSON Schema (internal/fhir/r4spec).
//
// One file per resource; shared datatypes live in datatypes.go.
package fhir

// The time zone extension is validated against the IANA database; embed it
// so validation does not depend on the host having zoneinfo installed.
import _ "time/tzdata"
