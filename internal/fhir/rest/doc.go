// Package rest is ward's FHIR R4 REST interface at /fhir: the
// CapabilityStatement, read, search, create and update for each resource
// type ward serves, searchset Bundles with stable paging, conditional reads,
// and OperationOutcome for every error. Which caller may touch which data
// is decided by internal/fhir/policy, never here; this package turns HTTP
// into calls on the domain services and their answers back into FHIR.
//
// bulk.go is the Bulk Data 2.0 protocol ($export kick-off, status, cancel,
// file download) over bulk.Service, which decides and writes.
package rest
