package fhir_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"ward/internal/directory"
	"ward/internal/fhir"
	"ward/internal/testutil"
)

func practitionerUser() *directory.User {
	return &directory.User{
		ID: 9, Email: "greta@clinic.example.org", GivenName: "Greta", FamilyName: "Gold",
		Gender: "female", Phone: "+61 2 5550 0100", AltPhone: "+61 2 5550 0199", Locale: "en-AU",
		Timezone: "Australia/Sydney", ImageURL: "https://img.example.org/greta.png",
		BirthDate: "1970-01-01", Deceased: true, GeneralPractitionerID: 3,
		UpdatedAt: time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC), Version: 4,
	}
}

func TestPractitionerFromUser(t *testing.T) {
	u := practitionerUser()
	ids := []directory.Identifier{{System: "http://hl7.org/fhir/sid/us-npi", Value: "1234567893", Use: "official"}}
	p := fhir.PractitionerFromUser(u, ids, "https://ward.example.org/fhir")
	testutil.ValidateFHIR(t, p)
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"resourceType": "Practitioner",
		"id":           "9",
		"meta":         map[string]any{"versionId": "4", "lastUpdated": "2024-06-01T12:00:00Z"},
		"extension":    []any{map[string]any{"url": fhir.ExtTimezone, "valueCode": "Australia/Sydney"}},
		"identifier":   []any{map[string]any{"use": "official", "system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}},
		"active":       true,
		"name":         []any{map[string]any{"use": "official", "family": "Gold", "given": []any{"Greta"}}},
		"telecom": []any{
			map[string]any{"system": "email", "value": "greta@clinic.example.org", "use": "work"},
			map[string]any{"system": "phone", "value": "+61 2 5550 0100", "use": "work"},
			map[string]any{"system": "phone", "value": "+61 2 5550 0199", "use": "home"},
		},
		"gender":        "female",
		"photo":         []any{map[string]any{"url": "https://img.example.org/greta.png"}},
		"communication": []any{map[string]any{"coding": []any{map[string]any{"system": fhir.SystemBCP47, "code": "en-AU"}}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("practitioner\n got  %s\n want %v", data, want)
	}
	// It decodes back with ward's own strict decoder.
	if _, err := fhir.DecodePractitioner(data); err != nil {
		t.Fatal(err)
	}
}

func TestPractitionerFromUserMinimalAndDeleted(t *testing.T) {
	at := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	u := &directory.User{ID: 5, DeletedAt: &at}
	p := fhir.PractitionerFromUser(u, nil, "")
	testutil.ValidateFHIR(t, p)
	if p.Active == nil || *p.Active {
		t.Fatalf("a deleted user's practitioner is active: %v", p.Active)
	}
	if p.Name != nil || p.Telecom != nil || p.Identifier != nil || p.Meta != nil {
		t.Fatalf("empty fields rendered: %+v", p)
	}
}
