package fhir_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/clinical"
	"ward/internal/fhir"
	"ward/internal/testutil"
)

func tp(t time.Time) *time.Time { return &t }

var clinicalAt = time.Date(2024, 3, 10, 12, 30, 15, 123456000, time.UTC)

// fullClinicalObservation sets every field an Observation carries.
func fullClinicalObservation() *clinical.Observation {
	return &clinical.Observation{
		ID: 7, PatientID: 42, Status: clinical.ObsAmended,
		Code: []clinical.Coding{
			{System: "http://loinc.org", Code: "8480-6", Display: "Systolic"},
			{System: "http://snomed.info/sct", Code: "271649006", Display: "Systolic BP"},
		},
		Category: []clinical.Coding{
			{System: fhir.SystemObservationCategory, Code: "vital-signs", Display: "Vital Signs"},
			{System: fhir.SystemObservationCategory, Code: "exam"},
		},
		Value: clinical.Value{Kind: clinical.ValueQuantity, Quantity: &clinical.Quantity{
			Value: "120.50", Unit: "mm[Hg]", System: "http://unitsofmeasure.org", Code: "mm[Hg]"}},
		Effective:   clinical.Occurrence{DateTime: tp(clinicalAt)},
		Issued:      clinicalAt.Add(time.Hour),
		PerformerID: 9,
		UpdatedAt:   clinicalAt.Add(2 * time.Hour),
		Version:     3,
	}
}

func fullClinicalProcedure() *clinical.Procedure {
	return &clinical.Procedure{
		ID: 8, PatientID: 42, Status: clinical.ProcCompleted,
		Code: []clinical.Coding{
			{System: clinical.SNOMEDSystem, Code: "26294005", Display: "Radical prostatectomy"},
			{System: "http://example.org/local", Code: "RP"},
		},
		Performed:   clinical.Occurrence{Start: tp(clinicalAt), End: tp(clinicalAt.Add(90 * time.Minute))},
		PerformerID: 9,
		UpdatedAt:   clinicalAt.Add(2 * time.Hour),
		Version:     2,
	}
}

// stored is what a round trip can bring back: the bookkeeping the service
// and store own is not read from a client.
func storedObservation(o *clinical.Observation) *clinical.Observation {
	c := *o
	c.Version, c.UpdatedAt, c.CreatedBy, c.DeletedAt = 0, time.Time{}, 0, nil
	return &c
}

func storedProcedure(p *clinical.Procedure) *clinical.Procedure {
	c := *p
	c.Version, c.UpdatedAt, c.CreatedBy, c.DeletedAt = 0, time.Time{}, 0, nil
	return &c
}

// roundTripJSON encodes v, checks it against the R4 schema, and returns the
// JSON.
func roundTripJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	testutil.ValidateFHIR(t, data)
	return data
}

// Every value form and occurrence form survives clinical -> R4 JSON ->
// clinical, and every emitted resource is valid R4.
func TestObservationRoundTrip(t *testing.T) {
	variants := map[string]func(o *clinical.Observation){
		"quantity and dateTime": func(*clinical.Observation) {},
		"concept and period": func(o *clinical.Observation) {
			o.Value = clinical.Value{Kind: clinical.ValueConcept, Concept: []clinical.Coding{{System: "http://snomed.info/sct", Code: "373066001", Display: "Yes"}}}
			o.Effective = clinical.Occurrence{Start: tp(clinicalAt), End: tp(clinicalAt.Add(time.Hour))}
		},
		"string, open-ended period": func(o *clinical.Observation) {
			o.Value = clinical.Value{Kind: clinical.ValueString, String: "fine — ünïcode"}
			o.Effective = clinical.Occurrence{Start: tp(clinicalAt)}
		},
		"boolean false, period without start": func(o *clinical.Observation) {
			o.Value = clinical.Value{Kind: clinical.ValueBoolean}
			o.Effective = clinical.Occurrence{End: tp(clinicalAt)}
		},
		"integer, no effective, no performer, no category": func(o *clinical.Observation) {
			o.Value = clinical.Value{Kind: clinical.ValueInteger, Integer: -42}
			o.Effective, o.PerformerID, o.Category = clinical.Occurrence{}, 0, nil
		},
		"no value": func(o *clinical.Observation) { o.Value = clinical.Value{} },
	}
	for name, change := range variants {
		t.Run(name, func(t *testing.T) {
			o := fullClinicalObservation()
			change(o)
			r := fhir.ObservationFromClinical(o, "")
			if r.Meta == nil || r.Meta.VersionID != "3" || r.Meta.LastUpdated != "2024-03-10T14:30:15.123456Z" {
				t.Fatalf("meta %+v", r.Meta)
			}
			if r.Subject == nil || r.Subject.Reference != "Patient/42" {
				t.Fatalf("subject %+v", r.Subject)
			}
			if o.PerformerID != 0 && (len(r.Performer) != 1 || r.Performer[0].Reference != "Practitioner/9") {
				t.Fatalf("performer %+v", r.Performer)
			}
			data := roundTripJSON(t, r)
			back, err := fhir.DecodeObservation(data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := fhir.ToClinicalObservation(back, testBase)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, storedObservation(o)) {
				t.Fatalf("round trip:\n got  %+v\n want %+v", got, storedObservation(o))
			}
		})
	}
}

func TestProcedureRoundTrip(t *testing.T) {
	variants := map[string]func(p *clinical.Procedure){
		"period": func(*clinical.Procedure) {},
		"dateTime, no performer": func(p *clinical.Procedure) {
			p.Performed, p.PerformerID = clinical.Occurrence{DateTime: tp(clinicalAt)}, 0
		},
		"ongoing": func(p *clinical.Procedure) { p.Performed = clinical.Occurrence{Start: tp(clinicalAt)} },
	}
	for name, change := range variants {
		t.Run(name, func(t *testing.T) {
			p := fullClinicalProcedure()
			change(p)
			r := fhir.ProcedureFromClinical(p, "")
			if r.Meta == nil || r.Meta.VersionID != "2" || r.Subject.Reference != "Patient/42" {
				t.Fatalf("meta %+v, subject %+v", r.Meta, r.Subject)
			}
			data := roundTripJSON(t, r)
			back, err := fhir.DecodeProcedure(data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := fhir.ToClinicalProcedure(back, testBase)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, storedProcedure(p)) {
				t.Fatalf("round trip:\n got  %+v\n want %+v", got, storedProcedure(p))
			}
		})
	}
}

// Absolute references under a base, as bulk export writes them.
func TestClinicalAbsoluteReferences(t *testing.T) {
	o := fhir.ObservationFromClinical(fullClinicalObservation(), "https://ward.example/fhir/")
	if o.Subject.Reference != "https://ward.example/fhir/Patient/42" || o.Performer[0].Reference != "https://ward.example/fhir/Practitioner/9" {
		t.Fatalf("observation references %+v %+v", o.Subject, o.Performer)
	}
	roundTripJSON(t, o)
	back, err := fhir.ToClinicalObservation(o, "https://ward.example/fhir")
	if err != nil || back.PatientID != 42 || back.PerformerID != 9 {
		t.Fatalf("absolute references read back as %+v, %v", back, err)
	}
	// The same references read by another server are not its own.
	if _, err := fhir.ToClinicalObservation(o, testBase); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("another server's references read back with err %v, want Invalid", err)
	}
	p := fhir.ProcedureFromClinical(fullClinicalProcedure(), "https://ward.example/fhir")
	if p.Subject.Reference != "https://ward.example/fhir/Patient/42" || p.Performer[0].Actor.Reference != "https://ward.example/fhir/Practitioner/9" {
		t.Fatalf("procedure references %+v %+v", p.Subject, p.Performer)
	}
	roundTripJSON(t, p)
}

// Partial dates and effectiveInstant are read; the instant is kept.
func TestClinicalDateForms(t *testing.T) {
	o, err := fhir.DecodeObservation([]byte(`{"resourceType":"Observation","status":"final",
		"code":{"coding":[{"system":"http://loinc.org","code":"1"}]},"subject":{"reference":"Patient/1"},
		"effectiveInstant":"2024-03-10T12:00:00+02:00","issued":"2024-03-10T12:00:00.5Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := fhir.ToClinicalObservation(o, testBase)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Effective.DateTime.Equal(time.Date(2024, 3, 10, 10, 0, 0, 0, time.UTC)) || c.Effective.DateTime.Location() != time.UTC {
		t.Fatalf("effectiveInstant read as %v", c.Effective.DateTime)
	}
	if !c.Issued.Equal(time.Date(2024, 3, 10, 12, 0, 0, 5e8, time.UTC)) {
		t.Fatalf("issued read as %v", c.Issued)
	}
	p, err := fhir.DecodeProcedure([]byte(`{"resourceType":"Procedure","status":"completed",
		"code":{"coding":[{"system":"http://snomed.info/sct","code":"1"}]},"subject":{"reference":"Patient/1"},
		"performedPeriod":{"start":"2024-03","end":"2024-03-10"}}`))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := fhir.ToClinicalProcedure(p, testBase)
	if err != nil {
		t.Fatal(err)
	}
	if !cp.Performed.Start.Equal(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)) || !cp.Performed.End.Equal(time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("partial dates read as %v..%v", cp.Performed.Start, cp.Performed.End)
	}
}

// wantField checks err is Invalid with a FieldError naming expr.
func wantField(t *testing.T, err error, expr string) {
	t.Helper()
	if apperr.KindOf(err) != apperr.Invalid {
		t.Fatalf("got %v, want Invalid naming %s", err, expr)
	}
	var fe *fhir.FieldError
	if !errors.As(err, &fe) || fe.Expression != expr {
		t.Fatalf("got %v (field %v), want a FieldError for %s", err, fe, expr)
	}
}

// What the clinical record cannot hold is refused naming the element.
func TestToClinicalObservationRefuses(t *testing.T) {
	valid := `"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"1"}]}`
	subj := `,"subject":{"reference":"Patient/1"}`
	cases := []struct{ body, expr string }{
		{`{` + valid + `}`, "Observation.subject"},
		{`{` + valid + `,"subject":{"reference":"Group/1"}}`, "Observation.subject"},
		{`{` + valid + `,"subject":{"reference":"Patient/abc"}}`, "Observation.subject"},
		{`{` + valid + subj + `,"id":"x1"}`, "Observation.id"},
		{`{"resourceType":"Observation","status":"unknown","code":{"coding":[{"system":"s","code":"1"}]}` + subj + `}`, "Observation.status"},
		{`{` + valid + subj + `,"performer":[{"reference":"Organization/1"}]}`, "Observation.performer[0]"},
		{`{` + valid + subj + `,"performer":[{"reference":"Practitioner/1"},{"reference":"Practitioner/2"}]}`, "Observation.performer[1]"},
		{`{` + valid + subj + `,"bodySite":{"text":"arm"}}`, "Observation.bodySite"},
		{`{` + valid + subj + `,"component":[{"code":{"text":"x"}}]}`, "Observation.component"},
		{`{` + valid + subj + `,"note":[{"text":"x"}]}`, "Observation.note"},
		{`{` + valid + subj + `,"encounter":{"reference":"Encounter/1"}}`, "Observation.encounter"},
		{`{` + valid + subj + `,"identifier":[{"system":"s","value":"v"}]}`, "Observation.identifier"},
		{`{` + valid + subj + `,"extension":[{"url":"http://x","valueString":"y"}]}`, "Observation.extension"},
		{`{` + valid + subj + `,"modifierExtension":[{"url":"http://x","valueString":"y"}]}`, "Observation.modifierExtension"},
		{`{` + valid + subj + `,"valueRange":{"low":{"value":1}}}`, "Observation.valueRange"},
		{`{` + valid + subj + `,"valuePeriod":{"start":"2024"}}`, "Observation.valuePeriod"},
		{`{` + valid + subj + `,"valueQuantity":{"value":1,"comparator":"<"}}`, "Observation.valueQuantity.comparator"},
		{`{` + valid + subj + `,"valueQuantity":{"unit":"mg"}}`, "Observation.valueQuantity.value"},
		{`{` + valid + subj + `,"valueCodeableConcept":{"text":"yes"}}`, "Observation.valueCodeableConcept.text"},
		{`{"resourceType":"Observation","status":"final","code":{"coding":[{"code":"1"}]}` + subj + `}`, "Observation.code.coding[0]"},
		{`{"resourceType":"Observation","status":"final","code":{"text":"bp"}` + subj + `}`, "Observation.code.text"},
		{`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"s","code":"1","version":"2"}]}` + subj + `}`, "Observation.code.coding[0].version"},
		{`{` + valid + subj + `,"category":[{"coding":[{"system":"s"}]}]}`, "Observation.category[0].coding[0]"},
		{`{` + valid + subj + `,"effectiveDateTime":"yesterday"}`, "Observation.effectiveDateTime"},
		{`{` + valid + subj + `,"effectivePeriod":{"end":"2024-13-01"}}`, "Observation.effectivePeriod.end"},
		{`{` + valid + subj + `,"effectivePeriod":{}}`, "Observation.effectivePeriod"},
		{`{` + valid + subj + `,"issued":"2024-03-10"}`, "Observation.issued"},
	}
	for _, c := range cases {
		t.Run(c.expr, func(t *testing.T) {
			o, err := fhir.DecodeObservation([]byte(c.body))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			got, err := fhir.ToClinicalObservation(o, testBase)
			if err == nil {
				t.Fatalf("accepted as %+v", got)
			}
			wantField(t, err, c.expr)
		})
	}
	// The same body with only a subject is accepted: each case above fails
	// for its own element.
	o, err := fhir.DecodeObservation([]byte(`{` + valid + subj + `,"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},"meta":{"versionId":"9"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fhir.ToClinicalObservation(o, testBase); err != nil {
		t.Fatalf("the valid base body (with narrative and meta, which are ignored) is refused: %v", err)
	}
}

func TestToClinicalProcedureRefuses(t *testing.T) {
	head := `"resourceType":"Procedure","status":"completed","subject":{"reference":"Patient/1"}`
	code := `,"code":{"coding":[{"system":"http://snomed.info/sct","code":"1"}]}`
	when := `,"performedDateTime":"2024-03-10"`
	cases := []struct{ body, expr string }{
		{`{"resourceType":"Procedure","status":"completed","subject":{"reference":"Group/1"}` + code + when + `}`, "Procedure.subject"},
		{`{` + head + when + `}`, "Procedure.code"},
		{`{` + head + code + `}`, "Procedure.performed[x]"},
		{`{` + head + code + `,"performedString":"last week"}`, "Procedure.performedString"},
		{`{` + head + code + `,"performedPeriod":{"start":"soon"}}`, "Procedure.performedPeriod.start"},
		{`{` + head + code + when + `,"performer":[{"actor":{"reference":"Patient/1"}}]}`, "Procedure.performer[0].actor"},
		{`{` + head + code + when + `,"performer":[{"actor":{"reference":"Practitioner/1"},"function":{"text":"x"}}]}`, "Procedure.performer[0].function"},
		{`{` + head + code + when + `,"performer":[{"actor":{"reference":"Practitioner/1"}},{"actor":{"reference":"Practitioner/2"}}]}`, "Procedure.performer[1]"},
		{`{` + head + code + when + `,"recorder":{"reference":"Practitioner/1"}}`, "Procedure.recorder"},
		{`{` + head + code + when + `,"bodySite":[{"text":"x"}]}`, "Procedure.bodySite"},
		{`{` + head + code + when + `,"category":{"text":"x"}}`, "Procedure.category"},
		{`{` + head + code + when + `,"id":"-1"}`, "Procedure.id"},
		{`{` + head + code + when + `,"contained":[{"resourceType":"Patient"}]}`, "Procedure.contained"},
	}
	for _, c := range cases {
		t.Run(c.expr, func(t *testing.T) {
			p, err := fhir.DecodeProcedure([]byte(c.body))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			got, err := fhir.ToClinicalProcedure(p, testBase)
			if err == nil {
				t.Fatalf("accepted as %+v", got)
			}
			wantField(t, err, c.expr)
		})
	}
	p, err := fhir.DecodeProcedure([]byte(`{` + head + code + when + `,"performer":[{"actor":{"reference":"Practitioner/3"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := fhir.ToClinicalProcedure(p, testBase); err != nil || got.PerformerID != 3 {
		t.Fatalf("the valid base body: %+v, %v", got, err)
	}
}

// testBase is the FHIR base URL of the server the mapping tests pretend to
// be: references under it are local.
const testBase = "https://ward.test/fhir"
