package fhir_test

import (
	"net/url"
	"reflect"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/fhir"
	"ward/internal/fhir/search"
	"ward/internal/timerange"
)

func parseQuery(t *testing.T, typ, raw string) search.Query {
	t.Helper()
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	q, err := search.Parse(typ, v)
	if err != nil {
		t.Fatalf("parse %s?%s: %v", typ, raw, err)
	}
	return q
}

func utc(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestPatientFilter(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  directory.UserFilter
	}{
		{"nothing but the role", "", directory.UserFilter{Role: directory.RolePatient}},
		{"name modifiers, one clause each (sorted as search.Query sorts them)", "name=pet,jo&name:exact=Peter&name:contains=ers",
			directory.UserFilter{Role: directory.RolePatient, Names: []directory.NameClause{
				{Match: directory.NameStartsWith, Values: []string{"pet", "jo"}},
				{Match: directory.NameContains, Values: []string{"ers"}},
				{Match: directory.NameExact, Values: []string{"Peter"}},
			}}},
		{"birthdate prefixes are ANDed bounds", "birthdate=ge2020&birthdate=lt2021-06",
			directory.UserFilter{Role: directory.RolePatient, BirthDate: []timerange.Bound{
				{Prefix: timerange.Ge, Start: utc(2020, 1, 1), End: utc(2021, 1, 1)},
				{Prefix: timerange.Lt, Start: utc(2021, 6, 1), End: utc(2021, 7, 1)},
			}}},
		{"_lastUpdated", "_lastUpdated=gt2024-01-02T03:04:05Z",
			directory.UserFilter{Role: directory.RolePatient, Updated: []timerange.Bound{{Prefix: timerange.Gt,
				Start: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), End: time.Date(2024, 1, 2, 3, 4, 6, 0, time.UTC)}}}},
		{"identifier forms", "identifier=urn:mrn|1,2,urn:x|,|3&identifier=urn:y|9",
			directory.UserFilter{Role: directory.RolePatient, Identifiers: [][]directory.Identifier{
				{{System: "urn:mrn", Value: "1"}, {Value: "2"}, {System: "urn:x"}},
				{{System: "urn:y", Value: "9"}},
			}}},
		{"an identifier without a system matches nobody", "identifier=|3",
			directory.UserFilter{Role: directory.RolePatient, Identifiers: [][]directory.Identifier{{}}}},
		{"organization references, repeated", "organization=Organization/5,7&organization=9",
			directory.UserFilter{Role: directory.RolePatient, Organizations: [][]int64{{5, 7}, {9}}}},
		{"an organization that cannot exist", "organization=abc",
			directory.UserFilter{Role: directory.RolePatient, Organizations: [][]int64{{}}}},
		{"genders ORed, then ANDed", "gender=male,female&gender=female,other",
			directory.UserFilter{Role: directory.RolePatient, Genders: []string{"female"}}},
		{"gender with its system", "gender=http://hl7.org/fhir/administrative-gender|other",
			directory.UserFilter{Role: directory.RolePatient, Genders: []string{"other"}}},
		{"gender system only: any recorded gender", "gender=http://hl7.org/fhir/administrative-gender|",
			directory.UserFilter{Role: directory.RolePatient, Genders: []string{"male", "female", "other", "unknown"}}},
		{"gender without a system matches nobody", "gender=|male",
			directory.UserFilter{Role: directory.RolePatient, Genders: []string{}}},
		{"_id: numbers only, repeated intersects", "_id=3,abc,4,04&_id=4,5",
			directory.UserFilter{Role: directory.RolePatient, IDs: []int64{4}}},
		{"_id that cannot exist", "_id=abc",
			directory.UserFilter{Role: directory.RolePatient, IDs: []int64{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fhir.PatientFilter(parseQuery(t, "Patient", tc.query))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("filter\n got  %+v\n want %+v", got, tc.want)
			}
		})
	}
}

func TestPatientFilterRefusesORedDates(t *testing.T) {
	for _, q := range []string{"birthdate=2020,2021", "_lastUpdated=gt2020,lt2010"} {
		_, err := fhir.PatientFilter(parseQuery(t, "Patient", q))
		if apperr.KindOf(err) != apperr.Invalid {
			t.Fatalf("%s: err %v, want Invalid", q, err)
		}
		issues := search.Issues(err)
		if len(issues) != 1 || issues[0].Param == "" || issues[0].Param != parseQuery(t, "Patient", q).Clauses[0].Param {
			t.Fatalf("%s: issues %+v, want one naming the parameter", q, issues)
		}
	}
	// One date per occurrence is fine.
	if _, err := fhir.PatientFilter(parseQuery(t, "Patient", "birthdate=2020")); err != nil {
		t.Fatal(err)
	}
}

func TestFilterWrongType(t *testing.T) {
	if _, err := fhir.PatientFilter(parseQuery(t, "Practitioner", "")); apperr.KindOf(err) != apperr.Internal {
		t.Fatalf("PatientFilter of a Practitioner search: %v", err)
	}
	if _, err := fhir.PractitionerFilter(parseQuery(t, "Patient", "")); apperr.KindOf(err) != apperr.Internal {
		t.Fatalf("PractitionerFilter of a Patient search: %v", err)
	}
}

func TestPractitionerFilter(t *testing.T) {
	got, err := fhir.PractitionerFilter(parseQuery(t, "Practitioner", "name:exact=Greta&identifier=urn:npi|1&_id=7&_lastUpdated=2024"))
	if err != nil {
		t.Fatal(err)
	}
	want := directory.UserFilter{
		Roles:       []string{directory.RoleClinician, directory.RoleStaff, directory.RoleStaffAdmin},
		Names:       []directory.NameClause{{Match: directory.NameExact, Values: []string{"Greta"}}},
		Identifiers: [][]directory.Identifier{{{System: "urn:npi", Value: "1"}}},
		IDs:         []int64{7},
		Updated:     []timerange.Bound{{Prefix: timerange.Eq, Start: utc(2024, 1, 1), End: utc(2025, 1, 1)}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("filter\n got  %+v\n want %+v", got, want)
	}
	// The role is the practitioner roles, never the patient one.
	if got.Role != "" {
		t.Fatalf("Role = %q", got.Role)
	}
}
