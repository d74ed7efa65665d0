// Package seedenv is the small directory seed 001's access rules name, as
// a strategy.Env for tests of the rule engine and of decisions: UCSF >
// UCSF Medical Center > UCSF Urology, UW Medicine and an unrelated clinic;
// UCSF Medical Center carries the decision-support identifier "p3p". It
// imports nothing of ward, so the engine's own tests can use it.
package seedenv

import "slices"

// Organization ids.
const (
	OrgUCSF    = 1
	OrgUCSFMC  = 2
	OrgUrology = 3
	OrgUW      = 4
	OrgOther   = 5
)

// decisionSupportGroup is strategy.DecisionSupportGroup (not imported:
// the strategy package's tests import this one).
const decisionSupportGroup = "http://us.truenth.org/identity-codes/decision-support-group"

var names = map[string]int64{"UCSF": OrgUCSF, "UCSF Medical Center": OrgUCSFMC, "UCSF Urology": OrgUrology,
	"UW Medicine (University of Washington)": OrgUW, "Other clinic": OrgOther}

var below = map[int64][]int64{OrgUCSF: {OrgUCSF, OrgUCSFMC, OrgUrology}, OrgUCSFMC: {OrgUCSFMC, OrgUrology},
	OrgUrology: {OrgUrology}, OrgUW: {OrgUW}, OrgOther: {OrgOther}}

// Env resolves the seed's names. Interventions lists the interventions
// that exist; nil means the seed's sexual_recovery, care_plan and
// decision_support_p3p.
type Env struct{ Interventions []string }

// OrgsNamed returns the organization of that name.
func (Env) OrgsNamed(n string) []int64 {
	if id, ok := names[n]; ok {
		return []int64{id}
	}
	return nil
}

// OrgsWithIdentifier knows the decision-support identifier "p3p".
func (Env) OrgsWithIdentifier(system, value string) []int64 {
	if system == decisionSupportGroup && value == "p3p" {
		return []int64{OrgUCSFMC}
	}
	return nil
}

// AtOrBelow returns id and the organizations below it.
func (Env) AtOrBelow(id int64) []int64 { return below[id] }

// RoleExists knows patient, staff, admin and clinician.
func (Env) RoleExists(n string) bool {
	return slices.Contains([]string{"patient", "staff", "admin", "clinician"}, n)
}

// ConceptExists knows the seed's two TRUENTH concepts.
func (Env) ConceptExists(d string) bool {
	return d == "treatment begun" || d == "PCa localized diagnosis"
}

// InterventionExists reports whether n is one of e.Interventions.
func (e Env) InterventionExists(n string) bool {
	if e.Interventions == nil {
		return slices.Contains([]string{"sexual_recovery", "care_plan", "decision_support_p3p"}, n)
	}
	return slices.Contains(e.Interventions, n)
}
