package fhir_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"ward/internal/fhir"
	"ward/internal/testutil"
)

var decodeByType = map[string]func([]byte) (any, error){
	"Patient":             func(b []byte) (any, error) { return fhir.DecodePatient(b) },
	"Organization":        func(b []byte) (any, error) { return fhir.DecodeOrganization(b) },
	"Practitioner":        func(b []byte) (any, error) { return fhir.DecodePractitioner(b) },
	"Group":               func(b []byte) (any, error) { return fhir.DecodeGroup(b) },
	"Observation":         func(b []byte) (any, error) { return fhir.DecodeObservation(b) },
	"Procedure":           func(b []byte) (any, error) { return fhir.DecodeProcedure(b) },
	"Consent":             func(b []byte) (any, error) { return fhir.DecodeConsent(b) },
	"DocumentReference":   func(b []byte) (any, error) { return fhir.DecodeDocumentReference(b) },
	"Binary":              func(b []byte) (any, error) { return fhir.DecodeBinary(b) },
	"CapabilityStatement": func(b []byte) (any, error) { return fhir.DecodeCapabilityStatement(b) },
	"Task":                func(b []byte) (any, error) { return fhir.DecodeTask(b) },
}

// Every fixture in testdata is valid R4, and so is what it decodes and
// re-encodes to.
func TestAllFixturesStayValidR4(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) < 10 {
		t.Fatalf("fixtures: %v (%d files)", err, len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			testutil.ValidateFHIR(t, data)
			var probe struct {
				ResourceType string `json:"resourceType"`
			}
			if err := json.Unmarshal(data, &probe); err != nil {
				t.Fatal(err)
			}
			decode, ok := decodeByType[probe.ResourceType]
			if !ok {
				t.Fatalf("no decoder for %q", probe.ResourceType)
			}
			v, err := decode(data)
			if err != nil {
				t.Fatal(err)
			}
			testutil.ValidateFHIR(t, v)
		})
	}
}

// The shapes ward will build in Go for these resources encode to valid R4:
// every value[x] and effective[x] variant the portal and bulk export use,
// required elements only, and a SMART server's CapabilityStatement.
func TestNewResourcesEncodeValidR4(t *testing.T) {
	num := func(s string) fhir.Decimal { return fhir.Decimal(s) }
	loinc := func(code, display string) fhir.CodeableConcept {
		return fhir.CodeableConcept{Coding: []fhir.Coding{{System: "http://loinc.org", Code: code, Display: display}}}
	}
	vital := []fhir.CodeableConcept{{Coding: []fhir.Coding{{System: fhir.SystemObservationCategory, Code: "vital-signs"}}}}
	subject := &fhir.Reference{Reference: "Patient/42"}
	yes, no := true, false
	seven := int64(7)
	zero := int64(0)
	mg := func(v string) *fhir.Quantity {
		return &fhir.Quantity{Value: num(v), Unit: "mg/dL", System: "http://unitsofmeasure.org", Code: "mg/dL"}
	}

	resources := map[string]any{
		"observation quantity with range": fhir.Observation{
			DomainResource: fhir.DomainResource{ID: "1", Meta: &fhir.Meta{VersionID: "2", LastUpdated: "2024-06-01T12:00:00Z"}},
			Status:         "final", Category: []fhir.CodeableConcept{{Coding: []fhir.Coding{{System: fhir.SystemObservationCategory, Code: "laboratory"}}}},
			Code: loinc("2339-0", "Glucose"), Subject: subject,
			EffectiveDateTime: "2024-05-06T07:08:09Z", Issued: "2024-05-06T09:00:00.123Z",
			Performer:      []fhir.Reference{{Reference: "Practitioner/9"}, {Reference: "Organization/6"}},
			ValueQuantity:  mg("95.0"),
			Interpretation: []fhir.CodeableConcept{{Coding: []fhir.Coding{{System: "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", Code: "N"}}}},
			ReferenceRange: []fhir.ObservationReferenceRange{{Low: mg("70"), High: mg("99"), Text: "70-99 mg/dL"}},
			Note:           []fhir.Annotation{{AuthorString: "lab", Time: "2024-05-06", Text: "fasting"}},
		},
		"observation codeable concept, period": fhir.Observation{
			Status: "amended", Code: loinc("72166-2", "Tobacco smoking status"), Subject: subject,
			EffectivePeriod:      &fhir.Period{Start: "2020-01-01", End: "2024-01-01"},
			ValueCodeableConcept: &fhir.CodeableConcept{Coding: []fhir.Coding{{System: "http://snomed.info/sct", Code: "8517006"}}, Text: "Former smoker"},
		},
		"observation string":  fhir.Observation{Status: "final", Code: loinc("8689-2", "History"), Subject: subject, ValueString: "none reported"},
		"observation boolean": fhir.Observation{Status: "preliminary", Code: loinc("x", ""), Subject: subject, ValueBoolean: &no},
		"observation integer": fhir.Observation{Status: "final", Code: loinc("44250-9", "PHQ-2"), Subject: subject, ValueInteger: &seven, EffectiveInstant: "2024-05-06T07:08:09+10:00"},
		"observation components": fhir.Observation{
			Status: "final", Category: vital, Code: loinc("85354-9", "Blood pressure"), Subject: subject,
			Component: []fhir.ObservationComponent{
				{Code: loinc("8480-6", "Systolic"), ValueQuantity: &fhir.Quantity{Value: num("120"), Unit: "mmHg", System: "http://unitsofmeasure.org", Code: "mm[Hg]"}},
				{Code: loinc("8462-4", "Diastolic"), DataAbsentReason: &fhir.CodeableConcept{Text: "not measured"}},
			},
		},
		"observation range": fhir.Observation{Status: "final", Code: loinc("x", ""), ValueRange: &fhir.Range{Low: &fhir.Quantity{Value: num("1")}}},
		"bare observation":  fhir.Observation{Status: "unknown", Code: fhir.CodeableConcept{Text: "something"}},

		"procedure": fhir.Procedure{
			DomainResource: fhir.DomainResource{ID: "3"},
			Status:         "completed", Code: &fhir.CodeableConcept{Text: "Appendectomy"}, Subject: *subject,
			PerformedDateTime: "2013-04-05",
			Performer:         []fhir.ProcedurePerformer{{Actor: fhir.Reference{Reference: "Practitioner/9"}, OnBehalfOf: &fhir.Reference{Reference: "Organization/6"}}},
		},
		"procedure period": fhir.Procedure{Status: "in-progress", Subject: *subject, PerformedPeriod: &fhir.Period{Start: "2024-05-06T07:08:09Z"}},
		"bare procedure":   fhir.Procedure{Status: "unknown", Subject: fhir.Reference{Display: "someone"}},

		"consent": fhir.Consent{
			DomainResource: fhir.DomainResource{ID: "4"},
			Status:         "active",
			Scope:          fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemConsentScope, Code: "patient-privacy"}}},
			Category:       []fhir.CodeableConcept{{Coding: []fhir.Coding{{System: "http://loinc.org", Code: "59284-0"}}}},
			Patient:        subject, DateTime: "2024-05-06T07:08:09Z",
			Organization: []fhir.Reference{{Reference: "Organization/6"}},
			PolicyRule:   &fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemV3ActCode, Code: "OPTIN"}}},
			Provision: &fhir.ConsentProvision{
				Type: "permit", Period: &fhir.Period{Start: "2024-05-06"},
				Provision: []fhir.ConsentProvision{{Type: "deny", Class: []fhir.Coding{{System: "http://hl7.org/fhir/resource-types", Code: "Observation"}}}},
			},
		},

		"group": fhir.Group{
			DomainResource: fhir.DomainResource{ID: "5"},
			Type:           "person", Actual: true, Name: "Clinic cohort", Quantity: &seven,
			Member: []fhir.GroupMember{
				{Entity: fhir.Reference{Reference: "Patient/1"}, Period: &fhir.Period{Start: "2024-01-01"}},
				{Entity: fhir.Reference{Reference: "Patient/2"}, Inactive: &yes},
			},
		},
		"definitional group": fhir.Group{
			Type: "person", Actual: false, Quantity: &zero,
			Characteristic: []fhir.GroupCharacteristic{{Code: fhir.CodeableConcept{Text: "deceased"}, ValueBoolean: &no, Exclude: true}},
		},

		"document reference": fhir.DocumentReference{
			DomainResource: fhir.DomainResource{ID: "6"},
			Status:         "current", Type: &fhir.CodeableConcept{Coding: []fhir.Coding{{System: "http://loinc.org", Code: "34108-1"}}},
			Subject: subject, Date: "2024-05-06T07:08:09Z", Author: []fhir.Reference{{Reference: "Practitioner/9"}},
			Content: []fhir.DocumentReferenceContent{{Attachment: fhir.Attachment{
				ContentType: "application/pdf", URL: "https://ward.test/fhir/Binary/7", Size: 3654,
				Hash: "2jmj7l5rSw0yVb/vlWAYkK/YBwk=", Title: "Discharge letter", Creation: "2024-05-06",
			}}},
		},
		"binary":       fhir.NewBinary("application/pdf", []byte("%PDF-1.4\n")),
		"empty binary": fhir.Binary{ID: "8", ContentType: "text/plain", SecurityContext: &fhir.Reference{Reference: "DocumentReference/6"}},

		"practitioner": fhir.Practitioner{
			DomainResource: fhir.DomainResource{ID: "9"},
			Identifier:     []fhir.Identifier{{System: "http://hl7.org/fhir/sid/us-npi", Value: "1234567893"}},
			Active:         &yes, Name: []fhir.HumanName{{Family: "Careful", Given: []string{"Adam"}, Prefix: []string{"Dr"}}},
			Telecom: []fhir.ContactPoint{{System: "email", Value: "adam@example.org", Use: "work"}},
			Address: []fhir.Address{{Use: "work", City: "PleasantVille"}}, Gender: "male", BirthDate: "1970-01-01",
		},

		"smart capability statement": smartCapabilityStatement(),
	}
	// A searchset (or an export's worth) of the new types is valid too.
	var entries []any
	for _, name := range []string{"observation components", "procedure", "consent", "group", "document reference", "binary", "practitioner"} {
		entries = append(entries, resources[name])
	}
	resources["searchset of new types"] = fhir.SearchsetBundle("https://ward.test/fhir", "", "", nil, entries)
	for name, r := range resources {
		t.Run(name, func(t *testing.T) { testutil.ValidateFHIR(t, r) })
	}
}

// smartCapabilityStatement is the shape ward's /metadata will take.
func smartCapabilityStatement() fhir.CapabilityStatement {
	read := []fhir.CapabilityStatementInteraction{{Code: "read"}, {Code: "search-type"}}
	return fhir.CapabilityStatement{
		Status: "active", Date: "2024-06-01T12:00:00Z", Kind: "instance",
		Software:       &fhir.CapabilityStatementSoftware{Name: "ward", Version: "0.1.0"},
		Implementation: &fhir.CapabilityStatementImplementation{Description: "ward FHIR API", URL: "https://ward.test/fhir"},
		FHIRVersion:    "4.0.1", Format: []string{"application/fhir+json", "json"},
		Rest: []fhir.CapabilityStatementRest{{
			Mode: "server",
			Security: fhir.SMARTSecurity("SMART App Launch and Backend Services",
				fhir.OAuthURI{Name: "authorize", URL: "https://ward.test/oauth2/auth"},
				fhir.OAuthURI{Name: "token", URL: "https://ward.test/oauth2/token"},
				fhir.OAuthURI{Name: "revoke", URL: "https://ward.test/oauth2/revoke"}),
			Resource: []fhir.CapabilityStatementResource{
				{
					Type: "Patient", Interaction: read,
					SearchParam: []fhir.CapabilityStatementSearchParam{{Name: "_id", Type: "token"}, {Name: "birthdate", Type: "date", Definition: "http://hl7.org/fhir/SearchParameter/individual-birthdate"}},
					Operation:   []fhir.CapabilityStatementOperation{{Name: "export", Definition: fhir.OperationPatientExport}},
				},
				{
					Type: "Group", Interaction: []fhir.CapabilityStatementInteraction{{Code: "read"}},
					Operation: []fhir.CapabilityStatementOperation{{Name: "export", Definition: fhir.OperationGroupExport}},
				},
				{Type: "Observation", Interaction: read, SearchParam: []fhir.CapabilityStatementSearchParam{{Name: "patient", Type: "reference"}, {Name: "category", Type: "token"}}},
				{Type: "Binary", Interaction: []fhir.CapabilityStatementInteraction{{Code: "read"}}},
			},
			Interaction: []fhir.CapabilityStatementInteraction{{Code: "search-system"}},
			Operation:   []fhir.CapabilityStatementOperation{{Name: "export", Definition: fhir.OperationExport}},
		}},
	}
}

// The validator refuses what R4 forbids in these resources, so the tests
// above can fail.
func TestSchemaValidatorRefusesInvalidNewResources(t *testing.T) {
	v := testutil.FHIRSchema(t)
	for name, body := range map[string]string{
		"observation without code":   `{"resourceType":"Observation","status":"final"}`,
		"observation bad status":     `{"resourceType":"Observation","status":"done and dusted","code":{}}`,
		"observation string decimal": `{"resourceType":"Observation","status":"final","code":{},"valueQuantity":{"value":"6.3"}}`,
		"procedure without subject":  `{"resourceType":"Procedure","status":"completed"}`,
		"consent without scope":      `{"resourceType":"Consent","status":"active","category":[{}]}`,
		"document without content":   `{"resourceType":"DocumentReference","status":"current"}`,
		"binary with text":           `{"resourceType":"Binary","contentType":"text/plain","text":{"status":"generated","div":"<div/>"}}`,
		"capability bad kind":        `{"resourceType":"CapabilityStatement","status":"active","date":"2024","kind":"everything","fhirVersion":"4.0.1","format":["json"]}`,
	} {
		if err := v.Validate([]byte(body)); err == nil {
			t.Errorf("%s: schema accepted %s", name, body)
		}
	}
}
