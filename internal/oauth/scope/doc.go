// Package scope is ward's model of OAuth scopes as SMART on FHIR uses them:
// it parses scope strings, decides what a set of granted scopes allows, cuts a
// client's request down to what it was registered for, and describes scopes
// in plain words for consent screens.
//
// Both SMART App Launch syntaxes parse into one model. Version 1 writes
// resource permissions as "read", "write" or "*" (patient/Observation.read);
// version 2 writes them as the letters c, r, u, d, s in that order
// (patient/Observation.rs), optionally followed by a search-parameter
// restriction (patient/Observation.rs?category=laboratory). v1 "read" is v2
// "rs", "write" is "cud" and "*" is "cruds"; String always gives the v2 form.
// Bulk Data operation scopes in the form OpenEMR uses (system/*.$export,
// system/Group.$export, system/*.$bulkdata-status) parse as resource scopes
// that carry an Operation instead of permissions.
//
// The package is pure: no HTTP, no storage. Its one security promise is that
// nothing here widens access: a wildcard is honoured only where a granted or
// registered scope holds it, and Narrow never grants more than both the
// request and the registration allow.
package scope
