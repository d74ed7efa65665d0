package fhir_test

import (
	"encoding/json"
	"testing"
	"time"

	"ward/internal/directory"
	"ward/internal/fhir"
	"ward/internal/testutil"
)

func directoryConsent() *directory.Consent {
	return &directory.Consent{
		ID: 11, UserID: 42, OrganizationID: 5, AgreementURL: "https://example.org/consent/v2",
		Status: directory.ConsentConsented, StaffEditable: true, IncludeInReports: true, SendReminders: true,
		AcceptanceDate: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC),
		ExpiresAt:      time.Date(2029, 3, 1, 10, 0, 0, 0, time.UTC),
	}
}

func TestConsentFromDirectory(t *testing.T) {
	c := directoryConsent()
	res := fhir.ConsentFromDirectory(c, "")
	testutil.ValidateFHIR(t, res)
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	back, err := fhir.DecodeConsent(data)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"id", back.ID, "11"},
		{"status", back.Status, "active"},
		{"scope", back.Scope.Coding[0].Code, "patient-privacy"},
		{"scope system", back.Scope.Coding[0].System, fhir.SystemConsentScope},
		{"category", back.Category[0].Coding[0].Code, fhir.ConsentCategoryLOINC},
		{"patient", back.Patient.Reference, "Patient/42"},
		{"organization", back.Organization[0].Reference, "Organization/5"},
		{"dateTime", back.DateTime, "2024-03-01T10:00:00Z"},
		{"policy rule", back.PolicyRule.Coding[0].Code, "OPTIN"},
		{"policy", back.Policy[0].URI, c.AgreementURL},
		{"source", back.SourceAttachment.URL, c.AgreementURL},
		{"provision type", back.Provision.Type, "permit"},
		{"provision start", back.Provision.Period.Start, "2024-03-01T10:00:00Z"},
		{"provision end", back.Provision.Period.End, "2029-03-01T10:00:00Z"},
		{"provision actor", back.Provision.Actor[0].Reference.Reference, "Organization/5"},
		{"provision action", back.Provision.Action[0].Coding[0].Code, "access"},
		{"extensions", len(back.Extension), 3},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.what, ch.got, ch.want)
		}
	}
	for _, e := range back.Extension {
		if e.ValueBoolean == nil || !*e.ValueBoolean {
			t.Errorf("extension %s = %v, want true", e.URL, e.ValueBoolean)
		}
	}

	abs := fhir.ConsentFromDirectory(c, "https://ward.example.org/fhir/")
	if abs.Patient.Reference != "https://ward.example.org/fhir/Patient/42" {
		t.Fatalf("absolute patient reference %q", abs.Patient.Reference)
	}
}

func TestConsentStatus(t *testing.T) {
	deleted := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	during := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	after := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		edit func(*directory.Consent)
		now  time.Time
		want string
	}{
		{"consented", nil, time.Time{}, "active"},
		{"consented, judged at a time within", nil, during, "active"},
		{"expired, judged at a time after", nil, after, "inactive"},
		{"expired but not judged", nil, time.Time{}, "active"},
		{"suspended", func(c *directory.Consent) { c.Status = directory.ConsentSuspended }, time.Time{}, "inactive"},
		{"deleted", func(c *directory.Consent) { c.Status = directory.ConsentDeleted; c.DeletedAt = &deleted }, during, "inactive"},
		{"deleted at only", func(c *directory.Consent) { c.DeletedAt = &deleted }, time.Time{}, "inactive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := directoryConsent()
			if tc.edit != nil {
				tc.edit(c)
			}
			res := fhir.ConsentAt(c, "", tc.now)
			testutil.ValidateFHIR(t, res)
			if res.Status != tc.want {
				t.Fatalf("status %q, want %q", res.Status, tc.want)
			}
		})
	}
	// Without an agreement URL there is no source or policy, but still a rule.
	c := directoryConsent()
	c.AgreementURL = ""
	res := fhir.ConsentFromDirectory(c, "")
	testutil.ValidateFHIR(t, res)
	if res.SourceAttachment != nil || res.Policy != nil || res.PolicyRule == nil {
		t.Fatalf("source %v, policy %v, rule %v", res.SourceAttachment, res.Policy, res.PolicyRule)
	}
}
