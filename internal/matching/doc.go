// Package matching is record matching for FHIR Patient/$match: it turns a
// person's demographics into the blocking keys that find candidate records
// through indexes (never a scan of every patient), and scores each
// candidate against the query in 0..1 with a match grade (certain,
// probable, possible, certainly-not). Names are compared case-, accent- and
// typo-tolerantly (Jaro-Winkler on folded letters), birth dates allow a
// transposed day and month or a year off by one, identifiers in the same
// system weigh for or against, telecom and address add evidence.
// docs/matching.md explains the weights and thresholds.
//
// It knows no HTTP and no SQL: candidates come from the Store declared
// here (implemented by internal/sqlstore), and who may see which candidate
// is decided by the caller (the FHIR policy), not here.
package matching
