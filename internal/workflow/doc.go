// Package workflow is ward's record of submitted declarations (seed 002:
// a person's self-registration sent by a public portal, a birth declared
// by a field agent) and the actions that move each one through its
// business status: submitted, validated, registered, certified, issued, or
// rejected. The transition table is data (Transitions); each action is a
// use case of its own, recorded in the audit chain as task.status_changed
// in the transaction of the change, so webhook subscribers hear of every
// step. The FHIR interface serves the records as Task resources; this
// package knows nothing of HTTP or SQL, and stores the submitted Task
// JSON as opaque bytes.
//
// Authorization is decided by the caller (the FHIR policy, one scope per
// action); what this package enforces is the order of the steps and the
// rule on self-submitted declarations (see Service.Create).
package workflow
