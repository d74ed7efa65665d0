package workflow

import "slices"

// BusinessStatus is where a declaration is in its workflow
// (Task.businessStatus).
type BusinessStatus string

// The business statuses.
const (
	Submitted  BusinessStatus = "submitted"
	Validated  BusinessStatus = "validated"
	Registered BusinessStatus = "registered"
	Certified  BusinessStatus = "certified"
	Issued     BusinessStatus = "issued"
	Rejected   BusinessStatus = "rejected"
)

// BusinessStatuses lists every status in workflow order.
var BusinessStatuses = []BusinessStatus{Submitted, Validated, Registered, Certified, Issued, Rejected}

// Valid reports whether s is one of BusinessStatuses.
func (s BusinessStatus) Valid() bool { return slices.Contains(BusinessStatuses, s) }

// Action is a step a registrar (or a system acting for one) takes on a
// declaration. Each is guarded by a scope of the same name on Task
// (system/Task.certify): see scope.TaskActions.
type Action string

// The actions.
const (
	Validate Action = "validate"
	Register Action = "register"
	Certify  Action = "certify"
	Issue    Action = "issue"
	Reject   Action = "reject"
)

// Transition is what an action does: from any of From, to To.
type Transition struct {
	From []BusinessStatus
	To   BusinessStatus
}

// Transitions is the workflow, as data: the one table every action is
// checked against. Following OpenCRVS (seed 002), a registrar may register
// a declaration straight from submitted (a registration agent's validation
// is a step that local registrars may skip), and a declaration may be
// rejected (sent back "requires updates") until it is registered, never
// after: a registered record is corrected, not rejected. Certify and issue
// are the portal's markBirthAsCertified and markBirthAsIssued: a
// certificate is printed for a registered record, then handed over.
// Rejected and issued are final.
var Transitions = map[Action]Transition{
	Validate: {From: []BusinessStatus{Submitted}, To: Validated},
	Register: {From: []BusinessStatus{Submitted, Validated}, To: Registered},
	Certify:  {From: []BusinessStatus{Registered}, To: Certified},
	Issue:    {From: []BusinessStatus{Certified}, To: Issued},
	Reject:   {From: []BusinessStatus{Submitted, Validated}, To: Rejected},
}

// Actions lists the actions in workflow order.
var Actions = []Action{Validate, Register, Certify, Issue, Reject}

// FHIRStatus is the R4 Task.status each business status is served with:
// a submitted declaration is requested (ready to be acted on), one being
// worked through is in-progress, an issued one completed, a rejected one
// rejected.
var FHIRStatus = map[BusinessStatus]string{
	Submitted:  "requested",
	Validated:  "in-progress",
	Registered: "in-progress",
	Certified:  "in-progress",
	Issued:     "completed",
	Rejected:   "rejected",
}

// Allowed reports whether action may be taken on a declaration in status
// from, and the status it leads to.
func Allowed(action Action, from BusinessStatus) (BusinessStatus, bool) {
	t, ok := Transitions[action]
	if !ok || !slices.Contains(t.From, from) {
		return "", false
	}
	return t.To, true
}
