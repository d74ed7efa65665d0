// Package search turns the query of a FHIR R4 search (GET [base]/[type]?…,
// or the form of POST [base]/[type]/_search) into a typed Query, or into one
// apperr.Invalid error that names every parameter it refused and why.
//
// It is the room between the FHIR handlers and the stores: no net/http, no
// SQL. Handlers pass it r.URL.Query() (or the parsed form) and answer a
// refusal with a 400 OperationOutcome, one issue per entry of Issues(err);
// stores receive a Query whose every value is already checked, so they never
// see a malformed date, an unknown modifier or an unbounded list.
//
// What is understood (FHIR R4 §3.1.1, restricted to what ward serves):
//
//   - On every type: _id, _lastUpdated, _count, _summary (count and false
//     only), _sort (_lastUpdated, -_lastUpdated, _id) and _cursor, ward's
//     opaque paging cursor. _format and _pretty are accepted and ignored here
//     because they shape the response, which is the handler's business.
//   - Per type, the parameters listed in the table in params.go, whose kinds
//     and reference targets are those of the official R4 definitions
//     (checked against internal/fhir/r4spec/search-parameters.json.gz in a test).
//   - Kinds string (modifiers :exact and :contains), token (system|code,
//     |code, system|, code), reference (id, Type/id, and the :Type
//     modifier) and date (prefixes eq ne gt lt ge le sa eb ap on YYYY,
//     YYYY-MM, YYYY-MM-DD or a dateTime with time zone, kept as the
//     implicit half-open range the spec gives it).
//   - Commas inside one value are OR; a repeated parameter is AND; \, \| \$
//     and \\ escape as the spec says.
//
// Query.Values writes a Query back in one canonical form (dates in UTC,
// minimal escapes) for the Bundle's self and next links; Parse of that form
// gives the same Query, which the fuzz target checks.
//
// _cursor is opaque here: only its length and URL-safe alphabet are checked,
// and the store that issued it decodes it. Group's name parameter is ward's
// own (R4 has none) and reference parameters accept only the targets ward
// stores (a Patient as subject), a subset of R4's.
//
// Strictness is deliberate. The spec lets a server ignore parameters it does
// not know, but a FHIR API that silently drops "patient=" or "birthdate:foo"
// returns more records than the caller asked for, which in a health system is
// a disclosure, so anything not understood is refused, empty values included.
// Limits on the number of parameters, values and their lengths are checked
// before any value is parsed, so a hostile query costs little.
package search
