// Package clinical is a patient's clinical record as ward keeps it: the
// Observations and Procedures seed 001 stores for each user (a coded
// concept with a value, status and issued time; a SNOMED CT procedure with
// when it was performed). It holds the plain types, their validation, the
// Store contract and the Service that checks check_role on the patient and
// audits every write in the same transaction. Filter is FHIR search over
// the record (ids, patients, codes, clinical date, last change) in plain
// terms, with its reference matcher. It knows nothing of HTTP,
// SQL or FHIR JSON; internal/fhir maps these types to R4 resources.
package clinical
