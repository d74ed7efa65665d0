package fhir

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ward/internal/apperr"
)

// jsonEqual reports whether a and b hold the same JSON value.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("unmarshal %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return data
}

// The official R4 examples decode strictly and re-encode to the same JSON:
// nothing in them is unknown to the decoder and nothing is dropped.
func TestRoundTripSpecExamples(t *testing.T) {
	tests := []struct {
		file   string
		decode func([]byte) (any, error)
	}{
		{"patient-example.json", func(b []byte) (any, error) { return DecodePatient(b) }},
		{"organization-example.json", func(b []byte) (any, error) { return DecodeOrganization(b) }},
		{"organization-example-f001-burgers.json", func(b []byte) (any, error) { return DecodeOrganization(b) }},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			in := readFixture(t, tt.file)
			v, err := tt.decode(in)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if !jsonEqual(t, in, out) {
				t.Errorf("round trip changed the resource:\n in: %s\nout: %s", in, out)
			}
			if !strings.HasPrefix(string(out), `{"resourceType":`) {
				t.Errorf("resourceType is not written first: %.40s", out)
			}
		})
	}
}

func TestDecodePatientSpecExampleFields(t *testing.T) {
	p, err := DecodePatient(readFixture(t, "patient-example.json"))
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "example" || p.Gender != "male" || p.BirthDate != "1974-12-25" {
		t.Errorf("id/gender/birthDate = %q/%q/%q", p.ID, p.Gender, p.BirthDate)
	}
	if p.Active == nil || !*p.Active || p.DeceasedBoolean == nil || *p.DeceasedBoolean {
		t.Errorf("active = %v, deceasedBoolean = %v", p.Active, p.DeceasedBoolean)
	}
	if got := p.Name[0].Given; !reflect.DeepEqual(got, []string{"Peter", "James"}) {
		t.Errorf("given = %v", got)
	}
	if p.BirthDateExt == nil || p.BirthDateExt.Extension[0].ValueDateTime != "1974-12-25T14:35:45-05:00" {
		t.Errorf("_birthDate = %+v", p.BirthDateExt)
	}
	if p.Contact[0].Name.Family != "du Marché" {
		t.Errorf("contact family = %q", p.Contact[0].Name.Family)
	}
}

func TestDecodeStrict(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		org      bool   // decode as Organization instead of Patient
		wantMsg  string // substring of the safe message
		wantExpr string // FieldError expression, "" for none
	}{
		{name: "wrong resourceType", body: `{"resourceType":"Organization"}`, wantMsg: "resourceType must be Patient, got Organization", wantExpr: "Patient.resourceType"},
		{name: "wrong resourceType for organization", body: `{"resourceType":"Patient"}`, org: true, wantMsg: "resourceType must be Organization, got Patient", wantExpr: "Organization.resourceType"},
		{name: "missing resourceType", body: `{"gender":"male"}`, wantMsg: "resourceType is required and must be Patient", wantExpr: "Patient"},
		{name: "null resourceType", body: `{"resourceType":null}`, wantMsg: "resourceType is required"},
		{name: "resourceType not a string", body: `{"resourceType":7}`, wantMsg: "resourceType must be a string"},
		{name: "unknown top-level field", body: `{"resourceType":"Patient","favouriteColour":"blue"}`, wantMsg: `unknown field "favouriteColour"`, wantExpr: "Patient.favouriteColour"},
		{name: "unknown organization field", body: `{"resourceType":"Organization","use_specific_codings":true}`, org: true, wantMsg: `unknown field "use_specific_codings"`},
		{name: "unknown nested field", body: `{"resourceType":"Patient","name":[{"first":"Ann"}]}`, wantMsg: `unknown field "first"`},
		{name: "unsupported extension value type", body: `{"resourceType":"Patient","extension":[{"url":"x","valueQuantity":{}}]}`, wantMsg: `unknown field "valueQuantity"`},
		{name: "wrong type", body: `{"resourceType":"Patient","gender":5}`, wantMsg: "Patient.gender: expected a string, got JSON number", wantExpr: "Patient.gender"},
		{name: "wrong nested type", body: `{"resourceType":"Patient","name":[{"given":"Ann"}]}`, wantMsg: "expected an array", wantExpr: "Patient.name.given"},
		{name: "malformed JSON", body: `{"resourceType":"Patient",}`, wantMsg: "malformed JSON at byte offset 27"},
		{name: "truncated JSON", body: `{"resourceType":"Patient"`, wantMsg: "malformed JSON"},
		{name: "empty body", body: ``, wantMsg: "malformed JSON"},
		{name: "array", body: `[{"resourceType":"Patient"}]`, wantMsg: "must be a JSON object"},
		{name: "null", body: `null`, wantMsg: "resourceType is required"},
		{name: "trailing data", body: `{"resourceType":"Patient"} {}`, wantMsg: "malformed JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.org {
				_, err = DecodeOrganization([]byte(tt.body))
			} else {
				_, err = DecodePatient([]byte(tt.body))
			}
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("err = %v, want Invalid", err)
			}
			if msg := apperr.Message(err); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message = %q, want it to contain %q", msg, tt.wantMsg)
			}
			if tt.wantExpr != "" {
				oo := OutcomeFromError(err)
				if got := oo.Issue[0].Expression; len(got) != 1 || got[0] != tt.wantExpr {
					t.Errorf("expression = %v, want [%s]", got, tt.wantExpr)
				}
			}
		})
	}
}

// The accepting side of the table above: the smallest valid bodies.
func TestDecodeStrictAccepts(t *testing.T) {
	if p, err := DecodePatient([]byte(` {"resourceType":"Patient","gender":"female"} `)); err != nil || p.Gender != "female" {
		t.Errorf("DecodePatient = %+v, %v", p, err)
	}
	if o, err := DecodeOrganization([]byte(`{"resourceType":"Organization","name":"Clinic"}`)); err != nil || o.Name != "Clinic" {
		t.Errorf("DecodeOrganization = %+v, %v", o, err)
	}
	// Unmarshal into the type is as strict as the decoder.
	var p Patient
	if err := json.Unmarshal([]byte(`{"resourceType":"Patient","bogus":1}`), &p); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("json.Unmarshal into Patient with unknown field: err = %v, want Invalid", err)
	}
}

func TestDecodeErrorMessageIsBounded(t *testing.T) {
	long := strings.Repeat("x", 10000)
	_, err := DecodePatient([]byte(`{"resourceType":"Patient","` + long + `":1}`))
	if !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("err = %v, want Invalid", err)
	}
	if n := len(apperr.Message(err)); n > 200 {
		t.Errorf("message is %d bytes; the field name must be clipped", n)
	}
	_, err = DecodePatient([]byte(`{"resourceType":"` + long + `"}`))
	if n := len(apperr.Message(err)); n > 200 {
		t.Errorf("message is %d bytes; the resourceType must be clipped", n)
	}
}

func TestPresentFields(t *testing.T) {
	got, err := PresentFields([]byte(`{"resourceType":"Patient","birthDate":null,"name":[],"gender":"male"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"resourceType": true, "birthDate": true, "name": true, "gender": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("PresentFields = %v, want %v", got, want)
	}
	for _, bad := range []string{`[]`, `null`, `{"a":`, `"x"`} {
		if _, err := PresentFields([]byte(bad)); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("PresentFields(%s): err = %v, want Invalid", bad, err)
		}
	}
}

func TestParseReferenceID(t *testing.T) {
	tests := []struct {
		ref     Reference
		want    int64
		wantErr bool
	}{
		{Reference{Reference: "Organization/5"}, 5, false},
		{Reference{Reference: testBase + "/Organization/12"}, 12, false},
		{Reference{Reference: testBase + "/Organization/12/_history/2"}, 12, false},
		// Another server's Organization/12 is not ours.
		{Reference{Reference: "https://other-hospital.example/fhir/Organization/12"}, 0, true},
		{Reference{Reference: "http://ward.test/fhir/Organization/12"}, 0, true},
		{Reference{Reference: testBase + "x/Organization/12"}, 0, true},
		{Reference{Reference: "https://ward.test/Organization/12"}, 0, true},
		{Reference{Reference: "//ward.test/fhir/Organization/12"}, 0, true},
		{Reference{Reference: "/fhir/Organization/12"}, 0, true},
		{Reference{Reference: "urn:uuid:2f1c3a52-7c1e-4b63-9a43-0c1e5d0b6a11"}, 0, true},
		{Reference{Reference: "urn:oid:1.2.3"}, 0, true},
		{Reference{Reference: "#org1"}, 0, true},
		{Reference{Reference: "x/Organization/12"}, 0, true},
		{Reference{Reference: "Organization/7/_history/3"}, 7, false},
		{Reference{Reference: "Organization/5", Type: "Organization"}, 5, false},
		{Reference{Reference: "Organization/5", Type: "Patient"}, 0, true},
		{Reference{Reference: "Patient/5"}, 0, true},
		{Reference{Reference: "Organization/abc"}, 0, true},
		{Reference{Reference: "Organization/0"}, 0, true},
		{Reference{Reference: "Organization/-3"}, 0, true},
		{Reference{Reference: "Organization/+3"}, 0, true},
		{Reference{Reference: "Organization/99999999999999999999"}, 0, true},
		{Reference{Reference: "Organization/"}, 0, true},
		{Reference{Reference: "5"}, 0, true},
		{Reference{Display: "Acme"}, 0, true},
	}
	for _, tt := range tests {
		got, err := ParseReferenceID(&tt.ref, "Organization", "Organization.partOf", testBase)
		if tt.wantErr {
			if !apperr.Is(err, apperr.Invalid) {
				t.Errorf("ParseReferenceID(%+v): err = %v, want Invalid", tt.ref, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseReferenceID(%+v) = %d, %v; want %d", tt.ref, got, err, tt.want)
		}
	}
	if _, err := ParseReferenceID(nil, "Organization", "x", testBase); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("nil reference: err = %v, want Invalid", err)
	}
}

// encoding/json would match "Gender" to gender; FHIR names are exact.
func TestDecodeRefusesCaseVariants(t *testing.T) {
	for _, body := range []string{
		`{"resourceType":"Patient","Gender":"male"}`,
		`{"resourceType":"Patient","name":[{"Family":"Lee"}]}`,
		`{"resourceType":"Patient","extension":[{"URL":"x"}]}`,
		`{"resourceType":"Patient","contact":[{"name":{"_Family":{}}}]}`,
		`{"resourceType":"Patient","resourcetype":"Patient"}`,
	} {
		_, err := DecodePatient([]byte(body))
		if !apperr.Is(err, apperr.Invalid) || !strings.Contains(apperr.Message(err), "unknown field") {
			t.Errorf("%s: err = %v, want Invalid unknown field", body, err)
		}
	}
	if _, err := DecodeOrganization([]byte(`{"resourceType":"Organization","PartOf":{"reference":"Organization/1"}}`)); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("Organization PartOf: err = %v, want Invalid", err)
	}
	// Raw members (contained) are not walked: their shape is their own.
	if _, err := DecodePatient([]byte(`{"resourceType":"Patient","contained":[{"resourceType":"Organization","Name":"x"}]}`)); err != nil {
		t.Errorf("contained: %v", err)
	}
}

// testBase is the FHIR base URL of the server the mapping tests pretend to
// be: references under it are local.
const testBase = "https://ward.test/fhir"

// Without a base URL every absolute reference is foreign.
func TestParseReferenceIDWithoutBase(t *testing.T) {
	if _, err := ParseReferenceID(&Reference{Reference: testBase + "/Organization/3"}, "Organization", "x", ""); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("absolute reference without a base: err = %v, want Invalid", err)
	}
	if id, err := ParseReferenceID(&Reference{Reference: "Organization/3"}, "Organization", "x", ""); err != nil || id != 3 {
		t.Errorf("relative reference without a base = %d, %v", id, err)
	}
}
