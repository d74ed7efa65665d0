package fhir_test

import (
	"net/url"
	"reflect"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/clinical"
	"ward/internal/fhir"
	"ward/internal/fhir/search"
	"ward/internal/timerange"
)

func clinicalFilterOf(t *testing.T, typ, rawQuery string) clinical.Filter {
	t.Helper()
	v, err := url.ParseQuery(rawQuery)
	if err != nil {
		t.Fatal(err)
	}
	q, err := search.Parse(typ, v)
	if err != nil {
		t.Fatalf("parse %s?%s: %v", typ, rawQuery, err)
	}
	f, err := fhir.ClinicalFilter(q)
	if err != nil {
		t.Fatalf("ClinicalFilter(%s?%s): %v", typ, rawQuery, err)
	}
	return f
}

func TestClinicalFilter(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2024, 3, d, 0, 0, 0, 0, time.UTC) }
	cases := []struct {
		query string
		want  clinical.Filter
	}{
		{"", clinical.Filter{}},
		{"_id=3,1,3", clinical.Filter{IDs: []int64{1, 3}}},
		{"_id=abc", clinical.Filter{IDs: []int64{}}},
		{"_id=1,2&_id=2,3", clinical.Filter{IDs: []int64{2}}},
		{"patient=Patient/5", clinical.Filter{PatientIDs: []int64{5}}},
		{"patient=5,6", clinical.Filter{PatientIDs: []int64{5, 6}}},
		{"subject=Patient/5&patient=5,6", clinical.Filter{PatientIDs: []int64{5}}},
		{"subject:Patient=7", clinical.Filter{PatientIDs: []int64{7}}},
		{"patient=abc", clinical.Filter{PatientIDs: []int64{}}},
		{"patient=abc,4", clinical.Filter{PatientIDs: []int64{4}}},
		{"patient=1&patient=2", clinical.Filter{PatientIDs: []int64{}}},
		{"code=http://loinc.org|8480-6,|x&code=http://loinc.org|,y", clinical.Filter{Codes: [][]clinical.CodeMatch{
			{{Match: clinical.CodeSystemAndCode, System: "http://loinc.org", Code: "8480-6"}, {Match: clinical.CodeNoSystem, Code: "x"}},
			{{Match: clinical.CodeSystemOnly, System: "http://loinc.org"}, {Match: clinical.CodeAnySystem, Code: "y"}},
		}}},
		{"date=ge2024-03-01&date=lt2024-03-10", clinical.Filter{Dates: []timerange.Bound{
			{Prefix: timerange.Ge, Start: day(1), End: day(2)}, {Prefix: timerange.Lt, Start: day(10), End: day(11)},
		}}},
		{"_lastUpdated=sa2024-03-01", clinical.Filter{Updated: []timerange.Bound{{Prefix: timerange.Sa, Start: day(1), End: day(2)}}}},
	}
	for _, typ := range []string{"Observation", "Procedure"} {
		for _, c := range cases {
			t.Run(typ+"?"+c.query, func(t *testing.T) {
				got := clinicalFilterOf(t, typ, c.query)
				if !reflect.DeepEqual(got, c.want) {
					t.Fatalf("got  %+v\nwant %+v", got, c.want)
				}
			})
		}
	}
}

// A non-integer patient makes the search match nothing, which the store
// sees as an empty set (not "any patient").
func TestClinicalFilterUnknownPatientMatchesNothing(t *testing.T) {
	f := clinicalFilterOf(t, "Observation", "patient=not-a-number")
	if !f.NoneMatch() {
		t.Fatalf("%+v matches something", f)
	}
	if f := clinicalFilterOf(t, "Observation", "code=x"); f.NoneMatch() {
		t.Fatalf("%+v matches nothing", f)
	}
}

func TestClinicalFilterRefusesOtherTypes(t *testing.T) {
	q, err := search.Parse("Patient", url.Values{"name": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fhir.ClinicalFilter(q); apperr.KindOf(err) != apperr.Invalid {
		t.Fatalf("Patient query: %v, want Invalid", err)
	}
	// A parameter the translation does not know is refused, not ignored.
	q = search.Query{ResourceType: "Observation", Clauses: []search.Clause{{Param: "category", Kind: search.KindToken}}}
	if _, err := fhir.ClinicalFilter(q); apperr.KindOf(err) != apperr.Invalid {
		t.Fatalf("unknown parameter: %v, want Invalid", err)
	}
}
