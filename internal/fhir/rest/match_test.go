package rest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"ward/internal/actor"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/fhir"
	"ward/internal/fhir/r4spec"
	"ward/internal/matching"
	"ward/internal/store"
	"ward/internal/testutil"
)

// matchWorld adds to the FHIR world patients to match: José García at
// clinic A, John Smith at clinic A, and Maria Lopez twice (the same
// person's duplicate records), once at each clinic. The clinician sees
// clinic A's patients only.
type matchWorld struct {
	*world
	jose, john, mariaA, mariaB *directory.User
}

func newMatchWorld(t *testing.T, dbURL string) *matchWorld {
	w := &matchWorld{world: newWorld(t, dbURL)}
	sys := actor.System(context.Background())
	d := w.svc.Directory
	mk := func(u directory.User, org int64, ids ...directory.Identifier) *directory.User {
		t.Helper()
		out, err := d.CreateUser(sys, directory.NewUser{User: u, Roles: []string{directory.RolePatient}, OrgIDs: []int64{org}, Identifiers: ids})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.AddConsent(sys, &directory.Consent{UserID: out.ID, OrganizationID: org}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	w.jose = mk(directory.User{GivenName: "José", FamilyName: "García", BirthDate: "1975-04-08", Gender: "male",
		Email: "jose.garcia@example.org"}, w.clinicA.ID, directory.Identifier{System: "urn:nhi", Value: "NHI-777"})
	w.john = mk(directory.User{GivenName: "John", FamilyName: "Smith", BirthDate: "1962-07-05", Gender: "male",
		Phone: "+1 (555) 010-2030"}, w.clinicA.ID)
	w.mariaA = mk(directory.User{GivenName: "Maria", FamilyName: "Lopez", BirthDate: "1970-01-20", Gender: "female",
		Phone: "555 000 1111"}, w.clinicA.ID)
	w.mariaB = mk(directory.User{GivenName: "María", FamilyName: "López", BirthDate: "1970-01-20", Gender: "female",
		Phone: "+1 555 000 1111"}, w.clinicB.ID)
	return w
}

// matchParams is a $match body.
func matchParams(patient string, extra ...string) []byte {
	params := []string{`{"name":"resource","resource":` + patient + `}`}
	params = append(params, extra...)
	return []byte(`{"resourceType":"Parameters","parameter":[` + strings.Join(params, ",") + `]}`)
}

type matchEntry struct {
	id    string
	score float64
	grade string
}

// match posts a $match and returns its entries (match mode only) and
// whether an outcome entry came back; the answer is validated as R4.
func (w *matchWorld) match(t *testing.T, a actor.Actor, body []byte) ([]matchEntry, bool) {
	t.Helper()
	r := w.do(a, http.MethodPost, "/fhir/Patient/$match", body)
	w.check(r, http.StatusOK, "$match")
	var b struct {
		Type  string
		Total *int
		Entry []struct {
			FullURL  string
			Resource struct{ ResourceType, ID string }
			Search   struct {
				Mode      string
				Score     *float64
				Extension []struct{ URL, ValueCode string }
			}
		}
	}
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatal(err)
	}
	if b.Type != "searchset" {
		t.Fatalf("bundle type %q", b.Type)
	}
	var out []matchEntry
	outcome := false
	for _, e := range b.Entry {
		if e.Search.Mode == "outcome" {
			outcome = e.Resource.ResourceType == "OperationOutcome"
			continue
		}
		if e.Search.Mode != "match" || e.Search.Score == nil || len(e.Search.Extension) != 1 ||
			e.Search.Extension[0].URL != fhir.ExtMatchGrade || e.Resource.ResourceType != "Patient" ||
			e.FullURL != base+"/Patient/"+e.Resource.ID {
			t.Fatalf("entry %+v: want a Patient with mode match, a score and the match-grade extension", e)
		}
		out = append(out, matchEntry{e.Resource.ID, *e.Search.Score, e.Search.Extension[0].ValueCode})
	}
	if b.Total == nil || *b.Total != len(out) {
		t.Errorf("total %v, want %d", b.Total, len(out))
	}
	for i := 1; i < len(out); i++ {
		if out[i].score > out[i-1].score {
			t.Errorf("entries not sorted by score: %+v", out)
		}
	}
	return out, outcome
}

func ids(es []matchEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.id)
	}
	return out
}

func TestPatientMatch(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		w := newMatchWorld(t, dbURL)
		sysRead := backend("system/Patient.read")
		t.Run("accents, case and telecom: certain", func(t *testing.T) {
			es, _ := w.match(t, sysRead, matchParams(`{"resourceType":"Patient","name":[{"family":"GARCIA","given":["jose"]}],
				"birthDate":"1975-04-08","telecom":[{"system":"email","value":"Jose.Garcia@Example.org"}]}`))
			if len(es) == 0 || es[0].id != id(w.jose.ID) || es[0].grade != "certain" || es[0].score < 0.95 {
				t.Fatalf("José García: %+v", es)
			}
		})
		t.Run("typo in a given name", func(t *testing.T) {
			es, _ := w.match(t, sysRead, matchParams(`{"resourceType":"Patient","name":[{"family":"Smith","given":["Jonh"]}],"birthDate":"1962-07-05","gender":"male"}`))
			if len(es) != 1 || es[0].id != id(w.john.ID) || es[0].grade != "probable" {
				t.Fatalf("Jonh Smith: %+v", es)
			}
		})
		t.Run("transposed birth date", func(t *testing.T) {
			es, _ := w.match(t, sysRead, matchParams(`{"resourceType":"Patient","name":[{"family":"Smith","given":["John"]}],"birthDate":"1962-05-07",
				"telecom":[{"system":"phone","value":"555-010-2030"}]}`))
			if len(es) != 1 || es[0].id != id(w.john.ID) || es[0].score >= 0.95 || es[0].score < 0.75 {
				t.Fatalf("John Smith, day and month swapped: %+v", es)
			}
		})
		t.Run("identifier: certain", func(t *testing.T) {
			es, _ := w.match(t, sysRead, matchParams(`{"resourceType":"Patient","identifier":[{"system":"urn:nhi","value":"NHI-777"}]}`))
			if len(es) != 1 || es[0].id != id(w.jose.ID) || es[0].grade != "certain" {
				t.Fatalf("by identifier: %+v", es)
			}
		})
		t.Run("nobody", func(t *testing.T) {
			if es, _ := w.match(t, sysRead, matchParams(`{"resourceType":"Patient","name":[{"family":"Okafor","given":["Ngozi"]}],"birthDate":"2001-12-30"}`)); len(es) != 0 {
				t.Fatalf("no such person: %+v", es)
			}
		})
		maria := `{"resourceType":"Patient","name":[{"family":"Lopez","given":["Maria"]}],"birthDate":"1970-01-20","telecom":[{"system":"phone","value":"(555) 000-1111"}]}`
		t.Run("duplicates, count and onlyCertainMatches", func(t *testing.T) {
			es, _ := w.match(t, sysRead, matchParams(maria))
			if !slices.Equal(ids(es), []string{id(w.mariaA.ID), id(w.mariaB.ID)}) || es[1].grade != "certain" {
				t.Fatalf("both Maria Lopez records: %+v", es)
			}
			es, _ = w.match(t, sysRead, matchParams(maria, `{"name":"count","valueInteger":1}`))
			if len(es) != 1 {
				t.Fatalf("count 1: %+v", es)
			}
			es, outcome := w.match(t, sysRead, matchParams(maria, `{"name":"onlyCertainMatches","valueBoolean":true}`))
			if len(es) != 0 || !outcome {
				t.Fatalf("onlyCertainMatches with two certain matches: %+v (outcome %v), want none and an outcome", es, outcome)
			}
			es, outcome = w.match(t, sysRead, matchParams(`{"resourceType":"Patient","identifier":[{"system":"urn:nhi","value":"NHI-777"}]}`,
				`{"name":"onlyCertainMatches","valueBoolean":true}`))
			if len(es) != 1 || outcome {
				t.Fatalf("onlyCertainMatches with one: %+v", es)
			}
			// A probable match is not returned with onlyCertainMatches.
			es, _ = w.match(t, sysRead, matchParams(`{"resourceType":"Patient","name":[{"family":"Smith","given":["Jonh"]}],"birthDate":"1962-07-05"}`,
				`{"name":"onlyCertainMatches","valueBoolean":false}`))
			if len(es) != 1 {
				t.Fatalf("onlyCertainMatches false: %+v", es)
			}
			es, _ = w.match(t, sysRead, matchParams(`{"resourceType":"Patient","name":[{"family":"Smith","given":["Jonh"]}],"birthDate":"1962-07-05"}`,
				`{"name":"onlyCertainMatches","valueBoolean":true}`))
			if len(es) != 0 {
				t.Fatalf("onlyCertainMatches, only a probable match: %+v", es)
			}
		})
		t.Run("user scope sees only visible patients", func(t *testing.T) {
			staff := w.staffApp("user/Patient.read")
			es, _ := w.match(t, staff, matchParams(maria))
			if !slices.Equal(ids(es), []string{id(w.mariaA.ID)}) {
				t.Fatalf("clinician at clinic A: %+v, want only the clinic A record", es)
			}
			// One visible certain match is returned even though another,
			// invisible, exists.
			if es, _ := w.match(t, staff, matchParams(maria, `{"name":"onlyCertainMatches","valueBoolean":true}`)); len(es) != 1 {
				t.Fatalf("clinician, onlyCertainMatches: %+v", es)
			}
			// v2 scopes too.
			if es, _ := w.match(t, w.staffApp("user/Patient.r"), matchParams(maria)); len(es) != 1 {
				t.Fatalf("user/Patient.r: %+v", es)
			}
			if es, _ := w.match(t, backend("system/Patient.rs"), matchParams(maria)); len(es) != 2 {
				t.Fatalf("system/Patient.rs: %+v", es)
			}
		})
		t.Run("audit", func(t *testing.T) {
			before := w.accessEvents(t, w.jose.ID)
			w.match(t, sysRead, matchParams(`{"resourceType":"Patient","identifier":[{"system":"urn:nhi","value":"NHI-777"}]}`))
			after := w.accessEvents(t, w.jose.ID)
			if len(after) != len(before)+1 {
				t.Fatalf("a $match recorded %d access events, want 1", len(after)-len(before))
			}
			if e := after[len(after)-1]; e.Type != audit.RecordRead || e.ClientID != "backend" || !strings.Contains(e.Comment, "$match") {
				t.Errorf("event %+v", e)
			}
		})
		t.Run("refused", func(t *testing.T) {
			body := matchParams(maria)
			for _, tc := range []struct {
				name string
				a    actor.Actor
				want int
			}{
				{"anonymous", noToken, http.StatusUnauthorized},
				{"no Patient scope", backend("system/Observation.read"), http.StatusForbidden},
				{"search only", backend("system/Patient.s"), http.StatusForbidden},
				{"patient app", w.patientApp("launch/patient", "patient/Patient.read"), http.StatusForbidden},
				{"staff without a Patient scope", w.staffApp("user/Observation.read"), http.StatusForbidden},
			} {
				r := w.do(tc.a, http.MethodPost, "/fhir/Patient/$match", body)
				w.check(r, tc.want, tc.name)
				outcomeCode(t, r.body)
			}
			evs, _, err := w.svc.Audit.List(actor.System(context.Background()), audit.Filter{Type: audit.RequestRefused}, store.Page{Limit: store.MaxLimit})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, e := range evs {
				if strings.Contains(e.Comment, "/fhir/Patient/$match") {
					n++
				}
			}
			if n != 4 {
				t.Errorf("%d refusals audited, want 4 (the anonymous one is the middleware's)", n)
			}
		})
		t.Run("bad input", func(t *testing.T) {
			huge := matchParams(`{"resourceType":"Patient","name":[{"family":"` + strings.Repeat("a", 2<<20) + `"}]}`)
			for _, tc := range []struct {
				name string
				body []byte
				want int
			}{
				{"no Patient", []byte(`{"resourceType":"Parameters","parameter":[{"name":"count","valueInteger":3}]}`), 400},
				{"no parameters", []byte(`{"resourceType":"Parameters"}`), 400},
				{"not Parameters", []byte(`{"resourceType":"Patient","name":[{"family":"Lopez"}]}`), 400},
				{"an Observation", matchParams(`{"resourceType":"Observation","status":"final","code":{"text":"x"}}`), 400},
				{"resource null", []byte(`{"resourceType":"Parameters","parameter":[{"name":"resource","resource":null}]}`), 400},
				{"unknown Patient member", matchParams(`{"resourceType":"Patient","nickname":"Jo"}`), 400},
				{"malformed", []byte(`{"resourceType":"Parameters","parameter":[`), 400},
				{"not JSON", []byte(`hello`), 400},
				{"count zero", matchParams(`{"resourceType":"Patient"}`, `{"name":"count","valueInteger":0}`), 400},
				{"count as text", matchParams(`{"resourceType":"Patient"}`, `{"name":"count","valueString":"5"}`), 400},
				{"count huge", matchParams(`{"resourceType":"Patient"}`, `{"name":"count","valueInteger":99999999999999999999}`), 400},
				{"onlyCertainMatches as text", matchParams(`{"resourceType":"Patient"}`, `{"name":"onlyCertainMatches","valueString":"yes"}`), 400},
				{"unknown parameter", matchParams(`{"resourceType":"Patient"}`, `{"name":"userid","valueString":"x"}`), 400},
				{"repeated resource", matchParams(`{"resourceType":"Patient"}`, `{"name":"resource","resource":{"resourceType":"Patient"}}`), 400},
				{"NUL byte", matchParams(`{"resourceType":"Patient","name":[{"family":"Lo\u0000pez"}]}`), 400},
				{"raw NUL byte", matchParams("{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"Lo\x00pez\"}]}"), 400},
				{"invalid UTF-8", matchParams("{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"Lo\xffpez\"}]}"), 400},
				{"empty", []byte(` `), 400},
				{"huge", huge, 413},
			} {
				r := w.do(sysRead, http.MethodPost, "/fhir/Patient/$match", tc.body)
				if r.status != tc.want {
					t.Errorf("%s: %d, want %d: %.300s", tc.name, r.status, tc.want, r.body)
					continue
				}
				outcomeCode(t, r.body)
			}
			if r := w.do(sysRead, http.MethodGet, "/fhir/Patient/$match", nil); r.status != http.StatusMethodNotAllowed {
				t.Errorf("GET $match: %d, want 405", r.status)
			}
			// A body of another media type is refused before it is read.
			if r := w.do(sysRead, http.MethodPost, "/fhir/Patient/$match", matchParams(maria), "Content-Type", "text/plain"); r.status != 400 && r.status != 415 {
				t.Errorf("text/plain: %d", r.status)
			}
			// An empty Patient is valid input and matches nobody.
			if es, _ := w.match(t, sysRead, matchParams(`{"resourceType":"Patient"}`)); len(es) != 0 {
				t.Errorf("empty Patient: %+v", es)
			}
			// Names in another script, long values and many identifiers
			// are answered, not failed.
			long := strings.Repeat("ż", 3000)
			var many []string
			for i := range 40 {
				many = append(many, fmt.Sprintf(`{"system":"urn:s%d","value":"v%d"}`, i, i))
			}
			w.match(t, sysRead, matchParams(`{"resourceType":"Patient","name":[{"family":"李","given":["`+long+`"]}],"birthDate":"2024",
				"identifier":[`+strings.Join(many, ",")+`],"telecom":[{"system":"phone","value":"`+long+`"}]}`))
		})
	})
}

func TestPatientMatchAdvertised(t *testing.T) {
	w := newWorld(t, testutil.SQLiteURL(t))
	r := w.get(noToken, "/fhir/metadata", http.StatusOK)
	cs, err := fhir.DecodeCapabilityStatement(r.body)
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range cs.Rest[0].Resource {
		if res.Type != "Patient" {
			continue
		}
		for _, o := range res.Operation {
			if o.Name == "match" && o.Definition == fhir.OperationPatientMatch {
				return
			}
		}
		t.Fatalf("Patient operations %+v lack $match", res.Operation)
	}
	t.Fatal("no Patient resource in the CapabilityStatement")
}

// TestPatientMatchFollowsR4 checks the parameters $match takes and the
// grades it writes against the R4 definitions (r4spec copies).
func TestPatientMatchFollowsR4(t *testing.T) {
	var op struct {
		URL       string
		Parameter []struct {
			Name, Use, Type string
			Min             int
			Max             string
		}
	}
	readSpec(t, r4spec.PatientMatchFile, &op)
	if op.URL != fhir.OperationPatientMatch {
		t.Errorf("OperationDefinition url %q, ward advertises %q", op.URL, fhir.OperationPatientMatch)
	}
	want := map[string]string{fhir.MatchParamResource: "Resource", fhir.MatchParamOnlyCertain: "boolean", fhir.MatchParamCount: "integer"}
	for _, p := range op.Parameter {
		if p.Use != "in" {
			continue
		}
		if want[p.Name] != p.Type || p.Max != "1" {
			t.Errorf("R4 parameter %s (%s, max %s) is not what ward decodes", p.Name, p.Type, p.Max)
		}
		delete(want, p.Name)
	}
	if len(want) != 0 {
		t.Errorf("ward decodes parameters R4 does not define: %v", want)
	}
	var ext struct {
		URL     string
		Concept []struct{ Code string }
	}
	readSpec(t, r4spec.MatchGradeFile, &ext)
	if ext.URL != fhir.ExtMatchGrade {
		t.Errorf("extension url %q, ward writes %q", ext.URL, fhir.ExtMatchGrade)
	}
	var codes []string
	for _, c := range ext.Concept {
		codes = append(codes, c.Code)
	}
	for _, g := range []matching.Grade{matching.Certain, matching.Probable, matching.Possible, matching.CertainlyNot} {
		if !slices.Contains(codes, string(g)) {
			t.Errorf("grade %q is not a match-grade code (%v)", g, codes)
		}
	}
}

func readSpec(t *testing.T, name string, v any) {
	t.Helper()
	rc, err := r4spec.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := json.NewDecoder(rc).Decode(v); err != nil {
		t.Fatal(err)
	}
}
