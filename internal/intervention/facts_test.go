package intervention

import (
	"testing"

	"ward/internal/clinical"
)

// TestBooleanValue: what counts as a boolean observation value.
func TestBooleanValue(t *testing.T) {
	q := func(v, unit string) clinical.Value {
		return clinical.Value{Kind: clinical.ValueQuantity, Quantity: &clinical.Quantity{Value: v, Unit: unit}}
	}
	yn := func(system, code string) clinical.Value {
		return clinical.Value{Kind: clinical.ValueConcept, Concept: []clinical.Coding{{System: system, Code: code}}}
	}
	cases := []struct {
		v        clinical.Value
		want, ok bool
	}{
		{clinical.Value{Kind: clinical.ValueBoolean, Boolean: true}, true, true},
		{clinical.Value{Kind: clinical.ValueBoolean}, false, true},
		{clinical.Value{Kind: clinical.ValueString, String: " TRUE "}, true, true},
		{clinical.Value{Kind: clinical.ValueString, String: "false"}, false, true},
		{clinical.Value{Kind: clinical.ValueString, String: "yes"}, false, false},
		{clinical.Value{Kind: clinical.ValueInteger, Integer: 1}, true, true},
		{clinical.Value{Kind: clinical.ValueInteger}, false, true},
		{clinical.Value{Kind: clinical.ValueInteger, Integer: 2}, false, false},
		{q("1", "boolean"), true, true},
		{q("0.0", "Boolean"), false, true},
		{q("1", "mg"), false, false},
		{q("0.5", "boolean"), false, false},
		{yn(yesNoSystem, "Y"), true, true},
		{yn(yesNoSystem, "N"), false, true},
		{yn("http://example.org", "Y"), false, false},
		{clinical.Value{}, false, false},
	}
	for _, c := range cases {
		if got, ok := BooleanValue(c.v); got != c.want || ok != c.ok {
			t.Errorf("%+v: %v, %v; want %v, %v", c.v, got, ok, c.want, c.ok)
		}
	}
}

// TestAddObservation: the first observation offered per display wins, a
// non-boolean newest one leaves the concept absent, other systems are
// ignored.
func TestAddObservation(t *testing.T) {
	f := NewFacts(1)
	seen := map[string]bool{}
	tb := func(display string) []clinical.Coding {
		return []clinical.Coding{{System: clinicalCodeSystem, Code: "x", Display: display}}
	}
	yes := clinical.Value{Kind: clinical.ValueBoolean, Boolean: true}
	no := clinical.Value{Kind: clinical.ValueBoolean}
	f.AddObservation(tb("treatment begun"), no, seen)
	f.AddObservation(tb("treatment begun"), yes, seen)
	f.AddObservation(tb("mood"), clinical.Value{Kind: clinical.ValueString, String: "fine"}, seen)
	f.AddObservation(tb("mood"), yes, seen)
	f.AddObservation([]clinical.Coding{{System: "http://loinc.org", Display: "smoker"}}, yes, seen)
	if len(f.Observations) != 1 || f.Observations["treatment begun"] {
		t.Fatalf("observations %v", f.Observations)
	}
}

// TestSetTxBegunIsTreatmentBegun: a treatment-started Procedure makes the
// "treatment begun" concept true over a newer "false" observation, in
// either order the loader offers them, and touches no other concept.
func TestSetTxBegunIsTreatmentBegun(t *testing.T) {
	tb := []clinical.Coding{clinical.ConceptTreatmentBegun}
	no := clinical.Value{Kind: clinical.ValueBoolean}
	for _, procFirst := range []bool{true, false} {
		f := NewFacts(1)
		if procFirst {
			f.SetTxBegun()
		}
		f.AddObservation(tb, no, map[string]bool{})
		f.AddObservation([]clinical.Coding{clinical.ConceptBiopsy}, no, map[string]bool{})
		if !procFirst {
			if f.Observations["treatment begun"] {
				t.Fatal("the false observation was not read before the procedure")
			}
			f.SetTxBegun()
		}
		if !f.TxBegun || !f.Observations["treatment begun"] || f.Observations["biopsy"] || len(f.Observations) != 2 {
			t.Fatalf("procedure first %t: %+v", procFirst, f)
		}
	}
}
