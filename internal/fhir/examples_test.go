package fhir

import (
	"encoding/json"
	"strings"
	"testing"

	"ward/internal/apperr"
)

// decoders maps each resource type of this file's resources to its strict
// decoder, for the table-driven tests below and the fuzz targets.
var decoders = map[string]func([]byte) (any, error){
	"Practitioner":        func(b []byte) (any, error) { return DecodePractitioner(b) },
	"Group":               func(b []byte) (any, error) { return DecodeGroup(b) },
	"Observation":         func(b []byte) (any, error) { return DecodeObservation(b) },
	"Procedure":           func(b []byte) (any, error) { return DecodeProcedure(b) },
	"Consent":             func(b []byte) (any, error) { return DecodeConsent(b) },
	"DocumentReference":   func(b []byte) (any, error) { return DecodeDocumentReference(b) },
	"Binary":              func(b []byte) (any, error) { return DecodeBinary(b) },
	"CapabilityStatement": func(b []byte) (any, error) { return DecodeCapabilityStatement(b) },
	"Task":                func(b []byte) (any, error) { return DecodeTask(b) },
}

// resourceExamples are the fixtures in testdata written after the R4 spec's
// examples of the same name, by resource type.
var resourceExamples = map[string][]string{
	"Practitioner":        {"practitioner-example.json", "practitioner-example-f001-evdb.json"},
	"Group":               {"group-example.json", "group-example-member.json"},
	"Observation":         {"observation-example.json", "observation-example-f001-glucose.json", "observation-example-bloodpressure.json"},
	"Procedure":           {"procedure-example.json", "procedure-example-f201-tpf.json"},
	"Consent":             {"consent-example-basic.json", "consent-example-notThem.json"},
	"DocumentReference":   {"documentreference-example.json"},
	"Binary":              {"binary-example.json"},
	"CapabilityStatement": {"capabilitystatement-phr-example.json"},
	"Task":                {"task-example1.json"},
}

// The examples decode strictly and re-encode to the same JSON, resourceType
// first; unmarshalling into the type is the same decoder.
func TestRoundTripResourceExamples(t *testing.T) {
	for typ, files := range resourceExamples {
		for _, file := range files {
			t.Run(file, func(t *testing.T) {
				in := readFixture(t, file)
				v, err := decoders[typ](in)
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				if r, ok := v.(Resource); !ok || r.ResourceType() != typ || r.ResourceID() == "" {
					t.Errorf("decoded %T does not name itself as a %s with an id", v, typ)
				}
				out, err := json.Marshal(v)
				if err != nil {
					t.Fatalf("encode: %v", err)
				}
				if !jsonEqual(t, in, out) {
					t.Errorf("round trip changed the resource:\n in: %s\nout: %s", in, out)
				}
				if want := `{"resourceType":"` + typ + `"`; !strings.HasPrefix(string(out), want) {
					t.Errorf("resourceType is not written first: %.40s", out)
				}
			})
		}
	}
}

func TestDecodeResourceExampleFields(t *testing.T) {
	obs, err := DecodeObservation(readFixture(t, "observation-example-f001-glucose.json"))
	if err != nil {
		t.Fatal(err)
	}
	if obs.Status != "final" || obs.Code.Coding[0].Code != "15074-8" || obs.Subject.Reference != "Patient/f001" {
		t.Errorf("status/code/subject = %q/%+v/%+v", obs.Status, obs.Code, obs.Subject)
	}
	if obs.EffectivePeriod == nil || obs.EffectivePeriod.Start != "2013-04-02T09:30:10+01:00" || obs.Issued != "2013-04-03T15:30:10+01:00" {
		t.Errorf("effectivePeriod/issued = %+v/%q", obs.EffectivePeriod, obs.Issued)
	}
	if obs.ValueQuantity == nil || obs.ValueQuantity.Value != "6.3" || obs.ValueQuantity.Code != "mmol/L" {
		t.Errorf("valueQuantity = %+v", obs.ValueQuantity)
	}
	if rr := obs.ReferenceRange; len(rr) != 1 || rr[0].Low.Value != "3.1" || rr[0].High.Value != "6.2" {
		t.Errorf("referenceRange = %+v", rr)
	}
	if obs.Interpretation[0].Coding[0].Code != "H" || obs.Performer[0].Display != "A. Langeveld" {
		t.Errorf("interpretation/performer = %+v/%+v", obs.Interpretation, obs.Performer)
	}

	bp, err := DecodeObservation(readFixture(t, "observation-example-bloodpressure.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(bp.Component) != 2 || bp.Component[0].ValueQuantity.Value != "107" || bp.Component[1].Code.Coding[0].Code != "8462-4" {
		t.Errorf("components = %+v", bp.Component)
	}

	g, err := DecodeGroup(readFixture(t, "group-example-member.json"))
	if err != nil {
		t.Fatal(err)
	}
	if g.Type != "person" || !g.Actual || len(g.Member) != 4 || g.Member[1].Inactive == nil || !*g.Member[1].Inactive || g.Member[0].Inactive != nil {
		t.Errorf("group = %+v", g)
	}
	herd, err := DecodeGroup(readFixture(t, "group-example.json"))
	if err != nil {
		t.Fatal(err)
	}
	if herd.Quantity == nil || *herd.Quantity != 25 || herd.Characteristic[0].Exclude || herd.Characteristic[1].ValueCodeableConcept.Text != "John Smith" {
		t.Errorf("herd = %+v", herd)
	}

	c, err := DecodeConsent(readFixture(t, "consent-example-notThem.json"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Scope.Coding[0].Code != "patient-privacy" || c.PolicyRule.Coding[0].Code != "OPTIN" || !c.Verification[0].Verified {
		t.Errorf("consent = %+v", c)
	}
	if p := c.Provision; p == nil || p.Actor[0].Reference.Reference != "Practitioner/f204" || p.Provision[0].Type != "deny" || p.Provision[0].Data[0].Meaning != "related" {
		t.Errorf("provision = %+v", c.Provision)
	}

	d, err := DecodeDocumentReference(readFixture(t, "documentreference-example.json"))
	if err != nil {
		t.Fatal(err)
	}
	if a := d.Content[0].Attachment; a.Size != 3654 || a.Hash != "2jmj7l5rSw0yVb/vlWAYkK/YBwk=" || a.Creation != "2005-12-24T09:35:00+11:00" {
		t.Errorf("attachment = %+v", a)
	}

	b, err := DecodeBinary(readFixture(t, "binary-example.json"))
	if err != nil {
		t.Fatal(err)
	}
	content, err := b.Content()
	if err != nil || !strings.HasPrefix(string(content), "%PDF-1.4\n") || b.SecurityContext.Reference != "DocumentReference/example" {
		t.Errorf("binary content = %.20q, %v; securityContext %+v", content, err, b.SecurityContext)
	}

	cs, err := DecodeCapabilityStatement(readFixture(t, "capabilitystatement-phr-example.json"))
	if err != nil {
		t.Fatal(err)
	}
	if cs.Kind != "capability" || cs.FHIRVersion != "4.0.1" || cs.Rest[0].Resource[3].SearchParam[1].Name != "service" {
		t.Errorf("capability statement = %+v", cs)
	}

	pr, err := DecodePractitioner(readFixture(t, "practitioner-example-f001-evdb.json"))
	if err != nil {
		t.Fatal(err)
	}
	if pr.Gender != "male" || pr.BirthDate != "1975-12-07" || pr.Telecom[1].Value != "E.M.vandenbroek@bmc.nl" || pr.Name[0].Suffix[0] != "MD" {
		t.Errorf("practitioner = %+v", pr)
	}
}

// Each decoder is as strict as DecodePatient: resourceType checked, unknown
// and case-variant members refused, wrong JSON types refused with the
// element named; and each refuses what R4 forbids and the schema does not
// catch (two variants of a choice element, bad base64, negative counts).
func TestDecodeResourcesStrict(t *testing.T) {
	for typ, decode := range decoders {
		t.Run(typ, func(t *testing.T) {
			for _, body := range []string{
				`{"resourceType":"Patient"}`,
				`{}`,
				`{"resourceType":"` + typ + `","bogus":1}`,
				`{"resourceType":"` + typ + `","ID":"x"}`,
				`{"resourceType":"` + typ + `","id":5}`,
				`{"resourceType":"` + typ + `","meta":{"lastupdated":"x"}}`,
				`{"resourceType":"` + typ + `"} {}`,
				`{"resourceType":"` + typ + `"`,
				`[]`,
			} {
				if _, err := decode([]byte(body)); !apperr.Is(err, apperr.Invalid) {
					t.Errorf("%s: err = %v, want Invalid", body, err)
				}
			}
			if v, err := decode([]byte(`{"resourceType":"` + typ + `","id":"a1"}`)); err != nil || v.(Resource).ResourceID() != "a1" {
				t.Errorf("minimal %s: %v, %v", typ, v, err)
			}
		})
	}

	tests := []struct {
		typ, body, wantMsg, wantExpr string
	}{
		{"Observation", `{"resourceType":"Observation","valueString":"x","valueBoolean":true}`, "takes one variant, got valueString and valueBoolean", "Observation.value[x]"},
		{"Observation", `{"resourceType":"Observation","effectiveDateTime":"2020","effectivePeriod":{}}`, "effectiveDateTime and effectivePeriod", "Observation.effective[x]"},
		{"Observation", `{"resourceType":"Observation","component":[{"code":{}},{"code":{},"valueInteger":1,"valueQuantity":{}}]}`, "valueQuantity and valueInteger", "Observation.component[1].value[x]"},
		{"Observation", `{"resourceType":"Observation","valueQuantity":{"value":"6.3"}}`, "Observation.valueQuantity.value: expected a number, got JSON string", "Observation.valueQuantity.value"},
		{"Observation", `{"resourceType":"Observation","referenceRange":[{"low":{"value":true}}]}`, "expected a number, got JSON bool", "Observation.referenceRange.low.value"},
		{"Observation", `{"resourceType":"Observation","valueInteger":1.5}`, "expected an integer", "Observation.valueInteger"},
		{"Observation", `{"resourceType":"Observation","valueSampledData":{}}`, `unknown field "valueSampledData"`, "Observation.valueSampledData"},
		{"Observation", `{"resourceType":"Observation","code":{"Text":"x"}}`, `unknown field "Text"`, "Observation.code.Text"},
		{"Procedure", `{"resourceType":"Procedure","performedString":"x","performedPeriod":{}}`, "performedPeriod and performedString", "Procedure.performed[x]"},
		{"Procedure", `{"resourceType":"Procedure","performer":[{"actor":"Practitioner/1"}]}`, "expected an object", "Procedure.performer.actor"},
		{"Group", `{"resourceType":"Group","quantity":-1}`, "must not be negative", "Group.quantity"},
		{"Group", `{"resourceType":"Group","actual":"yes"}`, "expected a boolean", "Group.actual"},
		{"Group", `{"resourceType":"Group","characteristic":[{"code":{},"valueBoolean":true,"valueReference":{}}]}`, "valueBoolean and valueReference", "Group.characteristic[0].value[x]"},
		{"Consent", `{"resourceType":"Consent","sourceAttachment":{},"sourceReference":{}}`, "sourceAttachment and sourceReference", "Consent.source[x]"},
		{"Consent", `{"resourceType":"Consent","provision":{"provision":[{"bogus":1}]}}`, `unknown field "bogus"`, ""},
		{"DocumentReference", `{"resourceType":"DocumentReference","content":[{"attachment":{"data":"not base64!"}}]}`, "is not valid base64", "DocumentReference.content[0].attachment.data"},
		{"DocumentReference", `{"resourceType":"DocumentReference","content":[{"attachment":{"size":-3}}]}`, "must not be negative", "DocumentReference.content[0].attachment.size"},
		{"Binary", `{"resourceType":"Binary","contentType":"text/plain","data":"aGVsbG8"}`, "is not valid base64", "Binary.data"},
		{"Binary", `{"resourceType":"Binary","text":{"status":"generated"}}`, `unknown field "text"`, "Binary.text"},
		{"Practitioner", `{"resourceType":"Practitioner","photo":[{"data":"%%%%"}]}`, "is not valid base64", "Practitioner.photo.data"},
		{"CapabilityStatement", `{"resourceType":"CapabilityStatement","rest":[{"security":{"extension":[{"url":"x","valueQuantity":{}}]}}]}`, `unknown field "valueQuantity"`, ""},
		{"CapabilityStatement", `{"resourceType":"CapabilityStatement","messaging":[{}]}`, `unknown field "messaging"`, "CapabilityStatement.messaging"},
	}
	for _, tt := range tests {
		t.Run(tt.typ+" "+tt.wantMsg, func(t *testing.T) {
			_, err := decoders[tt.typ]([]byte(tt.body))
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("err = %v, want Invalid", err)
			}
			if msg := apperr.Message(err); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message = %q, want it to contain %q", msg, tt.wantMsg)
			}
			if tt.wantExpr != "" {
				if got := OutcomeFromError(err).Issue[0].Expression; len(got) != 1 || got[0] != tt.wantExpr {
					t.Errorf("expression = %v, want [%s]", got, tt.wantExpr)
				}
			}
		})
	}

	// The accepting side: one variant of each choice, whitespace in base64.
	for typ, body := range map[string]string{
		"Observation": `{"resourceType":"Observation","status":"final","code":{"text":"x"},"effectivePeriod":{"start":"2020"},"valueBoolean":false,"component":[{"code":{},"valueInteger":0}]}`,
		"Procedure":   `{"resourceType":"Procedure","status":"completed","subject":{"reference":"Patient/1"},"performedPeriod":{"start":"2020"}}`,
		"Binary":      `{"resourceType":"Binary","contentType":"text/plain","data":"aGVs\nbG8="}`,
		"Group":       `{"resourceType":"Group","type":"person","actual":false,"quantity":0}`,
	} {
		if _, err := decoders[typ]([]byte(body)); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
}

func TestBinaryContent(t *testing.T) {
	b := NewBinary("application/octet-stream", []byte{0, 1, 2, 0xff})
	if b.Data != "AAEC/w==" {
		t.Errorf("data = %q", b.Data)
	}
	got, err := b.Content()
	if err != nil || string(got) != "\x00\x01\x02\xff" {
		t.Errorf("Content = %q, %v", got, err)
	}
	b.SetContent(nil)
	if got, err := b.Content(); b.Data != "" || got != nil || err != nil {
		t.Errorf("empty: data %q content %q err %v", b.Data, got, err)
	}
	if _, err := (&Binary{Data: "@@"}).Content(); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("bad data: err = %v, want Invalid", err)
	}
}

func TestSMARTSecurity(t *testing.T) {
	s := SMARTSecurity("SMART App Launch",
		OAuthURI{"authorize", "https://ward.test/oauth2/auth"},
		OAuthURI{"token", "https://ward.test/oauth2/token"},
		OAuthURI{"register", ""},
		OAuthURI{"revoke", "https://ward.test/oauth2/revoke"})
	want := []OAuthURI{{"authorize", "https://ward.test/oauth2/auth"}, {"token", "https://ward.test/oauth2/token"}, {"revoke", "https://ward.test/oauth2/revoke"}}
	got := s.OAuthURIs()
	if len(got) != len(want) {
		t.Fatalf("OAuthURIs = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("OAuthURIs[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if s.Service[0].Coding[0].Code != "SMART-on-FHIR" || s.Service[0].Coding[0].System != SystemRestfulSecurityService || s.CORS == nil || !*s.CORS {
		t.Errorf("security = %+v", s)
	}
	if SMARTSecurity("").Extension != nil || (*CapabilityStatementSecurity)(nil).OAuthURIs() != nil {
		t.Error("no URIs must give no extension")
	}
}

func TestDecimal(t *testing.T) {
	var q Quantity
	for _, in := range []string{`{"value":6.30}`, `{"value":-0.5e-3}`, `{"value":null}`, `{}`} {
		q = Quantity{}
		if err := json.Unmarshal([]byte(in), &q); err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		out, _ := json.Marshal(q)
		if in == `{"value":null}` {
			in = `{}`
		}
		if string(out) != in {
			t.Errorf("%s re-encodes as %s", in, out)
		}
	}
	for _, in := range []string{`{"value":"6.3"}`, `{"value":true}`, `{"value":{}}`, `{"value":[1]}`} {
		if err := json.Unmarshal([]byte(in), &q); err == nil {
			t.Errorf("%s accepted", in)
		}
	}
	if _, err := json.Marshal(Quantity{Value: "six"}); err == nil {
		t.Error("a Decimal that is not a number encoded")
	}
}

// Every new type names itself, so bundles and handlers can use it.
var (
	_ Resource = Practitioner{}
	_ Resource = Group{}
	_ Resource = Observation{}
	_ Resource = Procedure{}
	_ Resource = Consent{}
	_ Resource = DocumentReference{}
	_ Resource = Binary{}
	_ Resource = CapabilityStatement{}
)

// Task's own checks: the codes of its required bindings, one value per
// input, parseable dates; status and intent present is CheckTask's.
func TestDecodeTaskChecks(t *testing.T) {
	for body, expr := range map[string]string{
		`{"resourceType":"Task","status":"done"}`:                                                    "Task.status",
		`{"resourceType":"Task","intent":"wish"}`:                                                    "Task.intent",
		`{"resourceType":"Task","priority":"soon"}`:                                                  "Task.priority",
		`{"resourceType":"Task","restriction":{"repetitions":0}}`:                                    "Task.restriction.repetitions",
		`{"resourceType":"Task","authoredOn":"yesterday"}`:                                           "Task.authoredOn",
		`{"resourceType":"Task","input":[{"type":{"text":"x"}}]}`:                                    "Task.input[0].value[x]",
		`{"resourceType":"Task","input":[{"valueString":"x"}]}`:                                      "Task.input[0].type",
		`{"resourceType":"Task","output":[{"type":{"text":"x"},"valueString":"a","valueCode":"b"}]}`: "Task.output[0].value[x]",
		`{"resourceType":"Task","input":[{"type":{"text":"x"},"valueDate":"someday"}]}`:              "Task.input[0].valueDate",
		`{"resourceType":"Task","input":[{"type":{"text":"x"},"valueSampledData":{}}]}`:              "Task.valueSampledData",
	} {
		_, err := DecodeTask([]byte(body))
		if !apperr.Is(err, apperr.Invalid) || OutcomeFromError(err).Issue[0].Expression[0] != expr {
			t.Errorf("%s: %v, want Invalid at %s", body, err, expr)
		}
	}
	for body, expr := range map[string]string{
		`{"resourceType":"Task","intent":"order"}`:     "Task.status",
		`{"resourceType":"Task","status":"requested"}`: "Task.intent",
	} {
		tk, err := DecodeTask([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckTask(tk); !apperr.Is(err, apperr.Invalid) || OutcomeFromError(err).Issue[0].Expression[0] != expr {
			t.Errorf("%s: %v, want Invalid at %s", body, err, expr)
		}
	}
	reason, err := DecodeTaskActionReason([]byte(`{"resourceType":"Parameters","parameter":[{"name":"reason","valueString":"why"}]}`))
	if err != nil || reason != "why" {
		t.Errorf("reason: %q %v", reason, err)
	}
	if r, err := DecodeTaskActionReason([]byte(`{"resourceType":"Parameters"}`)); err != nil || r != "" {
		t.Errorf("no reason: %q %v", r, err)
	}
}
