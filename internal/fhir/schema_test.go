package fhir_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/clinical"
	"ward/internal/directory"
	"ward/internal/fhir"
	"ward/internal/testutil"
)

// Every resource ward emits is valid against the official R4 JSON Schema.
func TestEmittedResourcesAreValidR4(t *testing.T) {
	died := time.Date(2024, 3, 4, 5, 6, 7, 123456000, time.UTC)
	user := &directory.User{
		ID: 42, Email: "ann@example.org", GivenName: "Ann", FamilyName: "Lee", BirthDate: "1950-02-28",
		Gender: "female", Phone: "555 0100", AltPhone: "555 0199", Locale: "en_AU", Timezone: "Australia/Sydney",
		Deceased: true, DeceasedAt: &died, ImageURL: "https://img.example.org/ann.png",
		Races:       []directory.Coding{{System: "http://hl7.org/fhir/v3/Race", Code: "2106-3", Display: "White"}},
		Ethnicities: []directory.Coding{{System: "http://hl7.org/fhir/v3/Ethnicity", Code: "2186-5"}},
		Indigenous:  []directory.Coding{{System: "http://us.truenth.org/fhir/valueset/AU-NHHD-METeOR-id-291036", Code: "4"}},
		UpdatedAt:   time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC), Version: 7, GeneralPractitionerID: 9,
	}
	ids := []directory.Identifier{{System: "http://example.org/mrn", Value: "M-1", Use: "official"}}
	org := &directory.Organization{
		ID: 6, Name: "Clinic", PartOfID: 2,
		Identifiers:   []directory.Identifier{{System: directory.ShortcutAliasSystem, Value: "clinic"}},
		Type:          []directory.Coding{{System: "http://terminology.hl7.org/CodeSystem/organization-type", Code: "prov"}},
		Telecom:       []directory.ContactPoint{{System: "phone", Value: "1", Use: "work"}},
		Addresses:     []directory.Address{{Use: "work", Line: []string{"1 Main St"}, City: "Town", Country: "USA"}},
		Timezone:      "America/Los_Angeles",
		DefaultLocale: "en_US",
		Coding:        directory.CodingOptions{UseSpecificCodings: true, RaceCodings: true},
		UpdatedAt:     time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), Version: 3,
	}
	alive := *user
	alive.DeceasedAt, alive.Deceased = nil, false
	patient := fhir.PatientFromUser(user, ids, []int64{2, 6}, "")
	total := 2
	at := time.Date(2024, 5, 6, 7, 8, 9, 10000, time.UTC)

	resources := map[string]any{
		"full patient":            patient,
		"patient, absolute refs":  fhir.PatientFromUser(user, ids, []int64{2}, "https://ward.test/fhir"),
		"living patient":          fhir.PatientFromUser(&alive, nil, nil, ""),
		"bare patient":            fhir.PatientFromUser(&directory.User{ID: 1}, nil, nil, ""),
		"organization":            fhir.OrganizationFromDirectory(org, ""),
		"top-level organization":  fhir.OrganizationFromDirectory(&directory.Organization{ID: 1, Name: "Top"}, "https://ward.test/fhir"),
		"searchset":               fhir.SearchsetBundle("https://ward.test/fhir", "https://ward.test/fhir/Patient", "https://ward.test/fhir/Patient?_cursor=x", &total, []any{patient, fhir.OrganizationFromDirectory(org, "")}),
		"empty searchset":         fhir.SearchsetBundle("", "", "", nil, nil),
		"outcome, field error":    fhir.OutcomeFromError(decodeErr(t)),
		"outcome, internal error": fhir.OutcomeFromError(errors.New("boom")),
		"audit, user and subject": fhir.FromAuditEvent(audit.Event{ID: 1, Timestamp: at, UserID: 2, SubjectID: 3, Context: audit.User, Comment: "updated demographics", Hash: "ab", PrevHash: "cd"}, "https://ward.test/fhir"),
		"audit, client at login":  fhir.FromAuditEvent(audit.Event{ID: 2, Timestamp: at, UserID: 2, ClientID: "app", Context: audit.Login}, ""),
		"audit, system":           fhir.FromAuditEvent(audit.Event{ID: 3, Timestamp: at, Context: audit.Other}, ""),
		"audit, typed observation": fhir.FromAuditEvent(audit.Event{ID: 4, Timestamp: at, UserID: 2, ClientID: "app", SubjectID: 3,
			Context: audit.Observation, Type: audit.ObservationUpdated, Subject: "Observation/9", Payload: `{"changed":["status"]}`,
			SourceIP: "2001:db8::1", Comment: "updated observation 9", Hash: "ab", PrevHash: "cd"}, "https://ward.test/fhir"),
		"audit, typed client": fhir.FromAuditEvent(audit.Event{ID: 5, Timestamp: at, UserID: 2, Context: audit.Intervention,
			Type: audit.ClientSecretRotated, Subject: "Client/abc", SourceIP: "192.0.2.1"}, ""),
		"audit, typed consent": fhir.FromAuditEvent(audit.Event{ID: 6, Timestamp: at, UserID: 2, SubjectID: 3, Context: audit.ConsentCtx,
			Type: audit.ConsentWithdrawn, Subject: "Consent/4"}, ""),
		"audit, typed sign-in": fhir.FromAuditEvent(audit.Event{ID: 7, Timestamp: at, UserID: 3, SubjectID: 3, Context: audit.Login,
			Type: audit.SigninSucceeded, Subject: "Patient/3", SourceIP: "192.0.2.1"}, ""),
		"value set tx-started":     fhir.ValueSetFrom(clinical.TxStarted),
		"value set tx-not-started": fhir.ValueSetFrom(clinical.TxNotStarted),
	}
	for _, k := range []apperr.Kind{apperr.Invalid, apperr.NotFound, apperr.Forbidden, apperr.Conflict, apperr.Unauthenticated, apperr.TooLarge, apperr.RateLimited} {
		resources["outcome "+k.String()] = fhir.OutcomeFromError(apperr.New(k, "message"))
	}
	for name, r := range resources {
		t.Run(name, func(t *testing.T) { testutil.ValidateFHIR(t, r) })
	}
}

// The spec examples, decoded and re-encoded, are still valid R4.
func TestSpecExamplesStayValidR4(t *testing.T) {
	for _, name := range []string{"patient-example.json", "organization-example.json", "organization-example-f001-burgers.json"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			testutil.ValidateFHIR(t, data) // the fixture itself is faithful
			var v any
			if name == "patient-example.json" {
				v, err = fhir.DecodePatient(data)
			} else {
				v, err = fhir.DecodeOrganization(data)
			}
			if err != nil {
				t.Fatal(err)
			}
			testutil.ValidateFHIR(t, v)
		})
	}
}

// The validator itself refuses what R4 forbids, so the tests above can fail.
func TestSchemaValidatorRefusesInvalid(t *testing.T) {
	v := testutil.FHIRSchema(t)
	for name, body := range map[string]string{
		"unknown member":        `{"resourceType":"Patient","use_specific_codings":true}`,
		"bad gender code":       `{"resourceType":"Patient","gender":"yes please"}`,
		"wrong type":            `{"resourceType":"Patient","active":"yes"}`,
		"non-standard timezone": `{"resourceType":"Patient","extension":[{"url":"` + fhir.ExtTimezone + `","timezone":"UTC"}]}`,
		"bad instant":           `{"resourceType":"Patient","meta":{"lastUpdated":"2024-01-01"}}`,
		"unknown resource":      `{"resourceType":"Nonsense"}`,
		"audit without source":  `{"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"2024-01-01T00:00:00Z","agent":[{"requestor":true}]}`,
	} {
		if err := v.Validate([]byte(body)); err == nil {
			t.Errorf("%s: schema accepted %s", name, body)
		}
	}
	if err := v.Validate([]byte(`{"resourceType":"Patient","gender":"female"}`)); err != nil {
		t.Errorf("schema refused a valid Patient: %v", err)
	}
}

func decodeErr(t *testing.T) error {
	t.Helper()
	_, err := fhir.DecodePatient(json.RawMessage(`{"resourceType":"Patient","gender":5}`))
	if err == nil {
		t.Fatal("expected a decode error")
	}
	return err
}
