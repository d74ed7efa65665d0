package intervention

import (
	"strings"

	"ward/internal/clinical"
)

// clinicalCodeSystem is the TRUENTH clinical code system: observation_check
// names a concept by its display ("treatment begun", "PCa localized
// diagnosis"), and only codings of this system are matched.
const clinicalCodeSystem = clinical.TrueNTHClinicalSystem

// yesNoSystem is HL7 v2 table 0136 (Y/N), FHIR's usual coded yes/no.
const yesNoSystem = "http://terminology.hl7.org/CodeSystem/v2-0136"

// Facts is what decisions know about one person, loaded once per decision
// by Store.LoadFacts with a fixed number of queries whatever the number of
// interventions. Maps are never nil.
type Facts struct {
	UserID int64
	// Roles are the person's role names.
	Roles map[string]bool
	// Orgs are the organizations the person belongs to (a rule's
	// organization sets already hold the children it covers).
	Orgs map[int64]bool
	// Observations holds, per TRUENTH clinical-code display, the boolean
	// value of the person's newest observation of it (AddObservation);
	// a concept whose newest observation has no boolean value is absent.
	Observations map[string]bool
	// TxBegun: a Procedure coded in clinical.TxStarted exists that is not
	// deleted, entered-in-error or not-done (those say it did not happen).
	// Set it with SetTxBegun.
	TxBegun bool
	// Rows are the person's UserIntervention rows by intervention name.
	Rows map[string]*UserIntervention
}

// NewFacts returns empty Facts for userID.
func NewFacts(userID int64) *Facts {
	return &Facts{UserID: userID, Roles: map[string]bool{}, Orgs: map[int64]bool{},
		Observations: map[string]bool{}, Rows: map[string]*UserIntervention{}}
}

// AddObservation records one observation. A loader offers a person's
// observations newest first: by effective time (effective[x]'s dateTime,
// else its period's end, else its start; one without effective[x] counts
// at its issued instant), then by issued, then by id, each descending; it
// leaves out deleted, entered-in-error and cancelled ones (they assert
// nothing). The first offered for a concept display wins (seen records the
// displays met), so older ones change nothing, and a newest one without a
// boolean value leaves the concept absent. Only TRUENTH clinical codings
// name a concept.
func (f *Facts) AddObservation(codes []clinical.Coding, v clinical.Value, seen map[string]bool) {
	b, ok := BooleanValue(v)
	for _, c := range codes {
		if c.System != clinicalCodeSystem || c.Display == "" || seen[c.Display] {
			continue
		}
		if f.TxBegun && c.Display == clinical.ConceptTreatmentBegun.Display {
			continue // SetTxBegun decided it, in whichever order the loader calls them
		}
		seen[c.Display] = true
		if ok {
			f.Observations[c.Display] = b
		}
	}
}

// SetTxBegun records that a treatment-started Procedure exists. Such a
// Procedure is also the person's "treatment begun" observation, true,
// whatever observations of that concept say: the seed's P3P rule asks the
// observation, the reference's later rules ask tx_begun, and a recorded
// treatment must hide a card under either. A procedure performed cannot be
// un-begun by a later "false" observation; marking the Procedure
// entered-in-error is how a mistaken record is withdrawn.
func (f *Facts) SetTxBegun() {
	f.TxBegun = true
	f.Observations[clinical.ConceptTreatmentBegun.Display] = true
}

// ClinicalCodeSystem returns the system AddObservation matches, for a
// store that filters observations in its query.
func ClinicalCodeSystem() string { return clinicalCodeSystem }

// BooleanValue is an observation value read as a boolean, ok false when it
// is not one. Booleans are: valueBoolean; valueString "true"/"false" (any
// case); valueInteger 1/0; valueQuantity 1/0 with unit "boolean" (as the
// reference stored them); valueCodeableConcept coded Y/N in HL7 v2 table
// 0136. Everything else (no value, other numbers or text) is not a
// boolean, and an observation_check on it sees no value.
func BooleanValue(v clinical.Value) (bool, bool) {
	switch v.Kind {
	case clinical.ValueBoolean:
		return v.Boolean, true
	case clinical.ValueString:
		switch strings.ToLower(strings.TrimSpace(v.String)) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	case clinical.ValueInteger:
		if v.Integer == 0 || v.Integer == 1 {
			return v.Integer == 1, true
		}
	case clinical.ValueQuantity:
		if q := v.Quantity; q != nil && strings.EqualFold(q.Unit, "boolean") {
			switch q.Value {
			case "1", "1.0":
				return true, true
			case "0", "0.0":
				return false, true
			}
		}
	case clinical.ValueConcept:
		for _, c := range v.Concept {
			if c.System == yesNoSystem {
				switch c.Code {
				case "Y":
					return true, true
				case "N":
					return false, true
				}
			}
		}
	}
	return false, false
}
