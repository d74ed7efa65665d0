package clinical_test

import (
	"strings"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/clinical"
)

func TestValidObservationsAndProcedures(t *testing.T) {
	o := obs()
	if err := clinical.ValidateObservation(&o); err != nil {
		t.Fatalf("valid observation refused: %v", err)
	}
	for _, v := range []clinical.Value{
		{},
		{Kind: clinical.ValueConcept, Concept: []clinical.Coding{{System: "urn:s", Code: "c"}}},
		{Kind: clinical.ValueString, String: "s"},
		{Kind: clinical.ValueBoolean},
		{Kind: clinical.ValueInteger, Integer: -7},
		{Kind: clinical.ValueQuantity, Quantity: &clinical.Quantity{Value: "-0.5e3", System: "http://unitsofmeasure.org", Code: "g"}},
	} {
		o := obs()
		o.Value = v
		if err := clinical.ValidateObservation(&o); err != nil {
			t.Errorf("value %+v refused: %v", v, err)
		}
	}
	p := proc()
	start := fixed
	p.Performed = clinical.Occurrence{Start: &start}
	if err := clinical.ValidateProcedure(&p); err != nil {
		t.Fatalf("valid procedure with an open period refused: %v", err)
	}
}

// Every problem is reported at once, each naming its field.
func TestValidateObservationNamesEveryField(t *testing.T) {
	start, end := fixed, fixed.Add(-time.Hour)
	o := clinical.Observation{
		Status:      "done",
		Code:        []clinical.Coding{{Display: "no system or code"}},
		Category:    []clinical.Coding{{System: "urn:s"}},
		Value:       clinical.Value{Kind: clinical.ValueQuantity, Quantity: &clinical.Quantity{Value: "1,5", Code: "g"}, String: "extra"},
		Effective:   clinical.Occurrence{DateTime: &start, Start: &start, End: &end},
		PerformerID: -1,
	}
	err := clinical.ValidateObservation(&o)
	if !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("got %v, want invalid", err)
	}
	msg := apperr.Message(err)
	for _, field := range []string{"patient:", "status:", "code[0].system:", "code[0].code:", "category[0].code:",
		"value.quantity.value:", "value.quantity.system:", "value:", "effective:", "effective.end:", "issued:", "performer:"} {
		if !strings.Contains(msg, field) {
			t.Errorf("message %q does not name %s", msg, field)
		}
	}
}

func TestValidateObservationValues(t *testing.T) {
	for name, v := range map[string]clinical.Value{
		"unknown kind":      {Kind: "decimal"},
		"quantity missing":  {Kind: clinical.ValueQuantity},
		"empty concept":     {Kind: clinical.ValueConcept},
		"empty string":      {Kind: clinical.ValueString},
		"integer too large": {Kind: clinical.ValueInteger, Integer: 1 << 40},
		"boolean with more": {Kind: clinical.ValueBoolean, Integer: 1},
		"none with a value": {String: "x"},
	} {
		o := obs()
		o.Value = v
		if err := clinical.ValidateObservation(&o); !apperr.Is(err, apperr.Invalid) ||
			!strings.Contains(apperr.Message(err), "value") {
			t.Errorf("%s: got %v, want invalid naming the value", name, err)
		}
	}
	o := obs()
	o.Code = nil
	if err := clinical.ValidateObservation(&o); err == nil || !strings.Contains(apperr.Message(err), "code: at least one") {
		t.Errorf("no code: got %v", err)
	}
}

func TestValidateProcedureNamesEveryField(t *testing.T) {
	p := clinical.Procedure{
		Status:      "finished",
		Code:        []clinical.Coding{{System: "http://loinc.org", Code: "1"}},
		PerformerID: -3,
	}
	err := clinical.ValidateProcedure(&p)
	if !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("got %v, want invalid", err)
	}
	msg := apperr.Message(err)
	for _, want := range []string{"patient:", "status:", "code: needs a coding with system http://snomed.info/sct",
		"performed: a dateTime or a period is required", "performer:"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not say %q", msg, want)
		}
	}
	p = proc()
	p.Code = nil
	if err := clinical.ValidateProcedure(&p); err == nil || !strings.Contains(apperr.Message(err), "code: at least one") {
		t.Errorf("no code: got %v", err)
	}
	at, start := fixed, fixed
	p = proc()
	p.Performed = clinical.Occurrence{DateTime: &at, Start: &start}
	if err := clinical.ValidateProcedure(&p); err == nil || !strings.Contains(apperr.Message(err), "not both") {
		t.Errorf("dateTime and period: got %v", err)
	}
}
