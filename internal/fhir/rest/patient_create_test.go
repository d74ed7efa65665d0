package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"ward/internal/actor"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/fhir"
	"ward/internal/store"
	"ward/internal/testutil"
)

// TestPatientCreate covers POST /fhir/Patient: who may create a patient
// (the rules of POST /api/account, plus a create scope that is not a
// patient/ one), what the answer carries, what a read gives back, and
// which bodies are refused, on both databases.
func TestPatientCreate(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		t.Run("backend round trip", w.testPatientCreateRoundTrip)
		t.Run("staff", w.testPatientCreateStaff)
		t.Run("refused callers", w.testPatientCreateRefused)
		t.Run("bad bodies", w.testPatientCreateBadBodies)
	})
}

// newPatientBody is a Patient with every element ward stores, plus some it
// accepts and does not store (address) and an id and meta a create ignores.
func (w *world) newPatientBody(email string) []byte {
	return []byte(`{"resourceType":"Patient","id":"999999","meta":{"versionId":"7"},
		"identifier":[{"system":"urn:mrn","value":"NEW-` + email + `","use":"official"}],
		"active":true,
		"name":[{"use":"official","family":"Newman","given":["Nora"]}],
		"telecom":[{"system":"email","value":"` + email + `"},
			{"system":"phone","value":"+1 555 0100","use":"mobile"},
			{"system":"phone","value":"+1 555 0199","use":"home"}],
		"gender":"female","birthDate":"1975-04-05",
		"deceasedBoolean":false,
		"address":[{"line":["1 Main St"],"city":"Springfield"}],
		"photo":[{"url":"https://example.org/nora.png"}],
		"communication":[{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"en-AU"}]}}],
		"extension":[{"url":"` + fhir.ExtTimezone + `","valueCode":"Australia/Sydney"}],
		"managingOrganization":{"reference":"Organization/` + id(w.clinicA.ID) + `"},
		"generalPractitioner":[{"reference":"Practitioner/` + id(w.staff.ID) + `"}]}`)
}

// userByEmail finds a live user by email as ward itself; nil when none.
func (w *world) userByEmail(t *testing.T, email string) *directory.User {
	t.Helper()
	users, _, err := w.svc.Directory.SearchUsers(actor.System(context.Background()), directory.UserFilter{Email: email}, store.Page{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) == 0 {
		return nil
	}
	return users[0]
}

func (w *world) rolesOf(t *testing.T, uid int64) []string {
	t.Helper()
	roles, err := w.svc.Directory.UserRoles(actor.System(context.Background()), uid)
	if err != nil {
		t.Fatal(err)
	}
	return roles
}

func (w *world) testPatientCreateRoundTrip(t *testing.T) {
	app := backend("system/Patient.cruds")
	r := w.do(app, http.MethodPost, "/fhir/Patient", w.newPatientBody("nora@example.org"))
	w.check(r, http.StatusCreated, "create patient")
	created, err := fhir.DecodePatient(r.body)
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == "" || created.ID == "999999" {
		t.Fatalf("created id %q: want a new id, not the body's", created.ID)
	}
	if loc := r.header.Get("Location"); loc != base+"/Patient/"+created.ID+"/_history/1" {
		t.Errorf("Location %q", loc)
	}
	if r.header.Get("ETag") != `W/"1"` || r.header.Get("Last-Modified") == "" {
		t.Errorf("ETag %q Last-Modified %q", r.header.Get("ETag"), r.header.Get("Last-Modified"))
	}
	if created.Meta == nil || created.Meta.VersionID != "1" || created.Meta.LastUpdated == "" {
		t.Errorf("meta %+v: want version 1 and lastUpdated set by ward", created.Meta)
	}

	// A read gives back every element ward stores, as sent.
	r = w.get(backend("system/Patient.rs"), "/fhir/Patient/"+created.ID, http.StatusOK)
	var got, want map[string]any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(w.newPatientBody("nora@example.org"), &want); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"identifier", "active", "name", "telecom", "gender", "birthDate", "deceasedBoolean",
		"photo", "communication", "extension"} {
		g, _ := json.Marshal(got[k])
		x, _ := json.Marshal(want[k])
		if !bytes.Equal(g, x) {
			t.Errorf("%s read back as %s, sent %s", k, g, x)
		}
	}
	// References come back absolute under the FHIR base.
	if mo, _ := json.Marshal(got["managingOrganization"]); string(mo) != `{"reference":"`+base+`/Organization/`+id(w.clinicA.ID)+`"}` {
		t.Errorf("managingOrganization %s", mo)
	}
	gp, _ := json.Marshal(got["generalPractitioner"])
	for _, ref := range []string{"Organization/" + id(w.clinicA.ID), "Practitioner/" + id(w.staff.ID)} {
		if !strings.Contains(string(gp), `"`+base+"/"+ref+`"`) {
			t.Errorf("generalPractitioner %s lacks %s", gp, ref)
		}
	}
	if _, ok := got["address"]; ok {
		t.Errorf("address read back, but the directory does not store it: %s", r.body)
	}

	// The account holds the patient role and nothing else, and its
	// creation is audited as account creation, naming the client.
	uid := w.userByEmail(t, "nora@example.org").ID
	if id(uid) != created.ID {
		t.Fatalf("user %d, created Patient/%s", uid, created.ID)
	}
	if roles := w.rolesOf(t, uid); !slices.Equal(roles, []string{directory.RolePatient}) {
		t.Errorf("roles %v, want [patient]", roles)
	}
	evs, _, err := w.svc.Audit.List(actor.System(context.Background()), audit.Filter{SubjectID: uid, Context: audit.Account}, store.Page{Limit: 10})
	if err != nil || len(evs) != 1 {
		t.Fatalf("account audit events %v (%v), want one", evs, err)
	}
	if e := evs[0]; e.ClientID != "backend" || !strings.Contains(e.Comment, "created account") || !strings.Contains(e.Comment, "urn:mrn|NEW-nora@example.org") {
		t.Errorf("audit event %+v", e)
	}

	// A minimal body makes a patient too.
	r = w.do(app, http.MethodPost, "/fhir/Patient", []byte(`{"resourceType":"Patient"}`))
	w.check(r, http.StatusCreated, "create an empty patient")
}

func (w *world) testPatientCreateStaff(t *testing.T) {
	app := w.staffApp("user/Patient.cruds")
	body := []byte(`{"resourceType":"Patient","name":[{"family":"Staffmade","given":["Sid"]}],
		"telecom":[{"system":"email","value":"sid@example.org"}],
		"managingOrganization":{"reference":"` + base + `/Organization/` + id(w.clinicA.ID) + `"}}`)
	r := w.do(app, http.MethodPost, "/fhir/Patient", body)
	w.check(r, http.StatusCreated, "a clinician creates a patient at their clinic")
	u := w.userByEmail(t, "sid@example.org")
	if u == nil {
		t.Fatal("no user made")
	}
	if roles := w.rolesOf(t, u.ID); !slices.Equal(roles, []string{directory.RolePatient}) {
		t.Errorf("roles %v, want [patient]", roles)
	}
	orgs, err := w.svc.Directory.UserOrganizations(actor.System(context.Background()), u.ID)
	if err != nil || len(orgs) != 1 || orgs[0].ID != w.clinicA.ID {
		t.Errorf("organizations %v (%v), want clinic A", orgs, err)
	}
	evs, _, err := w.svc.Audit.List(actor.System(context.Background()), audit.Filter{SubjectID: u.ID, Context: audit.Account}, store.Page{Limit: 10})
	if err != nil || len(evs) != 1 || evs[0].UserID != w.staff.ID || evs[0].ClientID != "staff-app" {
		t.Errorf("account audit events %+v (%v): want one by the clinician through staff-app", evs, err)
	}

	// Refused beside it: a clinic that is not theirs, as for /api/account.
	outside := []byte(`{"resourceType":"Patient","telecom":[{"system":"email","value":"sid2@example.org"}],
		"managingOrganization":{"reference":"Organization/` + id(w.clinicB.ID) + `"}}`)
	if r := w.do(app, http.MethodPost, "/fhir/Patient", outside); r.status != http.StatusForbidden {
		t.Errorf("a clinician creating a patient at another clinic: %d, want 403: %s", r.status, r.body)
	}
	if w.userByEmail(t, "sid2@example.org") != nil {
		t.Error("a refused create made a user")
	}
}

func (w *world) testPatientCreateRefused(t *testing.T) {
	sys := actor.System(context.Background())
	developer, err := w.svc.Directory.CreateUser(sys, directory.NewUser{User: directory.User{Email: "dev@example.org"},
		Roles: []string{directory.RoleApplicationDeveloper}})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"resourceType":"Patient","telecom":[{"system":"email","value":"refused@example.org"}]}`)
	for name, c := range map[string]struct {
		a    actor.Actor
		want int
	}{
		"anonymous":                      {noToken, http.StatusUnauthorized},
		"patient/ scope":                 {w.patientApp("launch/patient", "patient/Patient.cruds"), http.StatusForbidden},
		"patient/ wildcard scope":        {w.patientApp("launch/patient", "patient/*.write"), http.StatusForbidden},
		"user/ read-only scope":          {w.staffApp("user/Patient.rs"), http.StatusForbidden},
		"system/ read-only scope":        {backend("system/Patient.read"), http.StatusForbidden},
		"create scope on another type":   {backend("system/Observation.c"), http.StatusForbidden},
		"patient user with user/ scope":  {actor.Actor{ClientID: "app", UserID: w.p1.ID, Scopes: []string{"user/Patient.c"}}, http.StatusForbidden},
		"developer with user/ scope":     {actor.Actor{ClientID: "app", UserID: developer.ID, Scopes: []string{"user/Patient.write"}}, http.StatusForbidden},
		"developer with user/ wildcards": {actor.Actor{ClientID: "app", UserID: developer.ID, Scopes: []string{"user/*.cruds"}}, http.StatusForbidden},
	} {
		r := w.do(c.a, http.MethodPost, "/fhir/Patient", body)
		if r.status != c.want {
			t.Errorf("%s: %d, want %d: %s", name, r.status, c.want, r.body)
			continue
		}
		w.check(r, c.want, name)
	}
	if w.userByEmail(t, "refused@example.org") != nil {
		t.Error("a refused create made a user")
	}
	// The same body is allowed with a create scope, so the refusals above
	// are the caller's, not the body's.
	w.check(w.do(w.staffApp("user/Patient.c"), http.MethodPost, "/fhir/Patient", body), http.StatusCreated, "clinician with user/Patient.c")
	if r := w.do(backend("system/Patient.write"), http.MethodPost, "/fhir/Patient",
		[]byte(`{"resourceType":"Patient","telecom":[{"system":"email","value":"v1@example.org"}]}`)); r.status != http.StatusCreated {
		t.Errorf("system/Patient.write (SMART v1): %d, want 201: %s", r.status, r.body)
	}
}

func (w *world) testPatientCreateBadBodies(t *testing.T) {
	app := backend("system/Patient.c")
	big := append([]byte(`{"resourceType":"Patient","name":[{"family":"`), bytes.Repeat([]byte("x"), 2<<20)...)
	big = append(big, `"}]}`...)
	for name, c := range map[string]struct {
		body []byte
		want int
		code string
	}{
		"duplicate email":         {[]byte(`{"resourceType":"Patient","telecom":[{"system":"email","value":"P1@example.org"}]}`), http.StatusConflict, "conflict"},
		"identifier held":         {[]byte(`{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"MRN-1"}],"telecom":[{"system":"email","value":"dupmrn@example.org"}]}`), http.StatusConflict, "conflict"},
		"escaped NUL":             {[]byte(`{"resourceType":"Patient","name":[{"family":"a\u0000b"}]}`), http.StatusBadRequest, "invalid"},
		"invalid UTF-8":           {[]byte("{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"a\xff\xfeb\"}]}"), http.StatusBadRequest, "invalid"},
		"huge body":               {big, http.StatusRequestEntityTooLarge, "too-costly"},
		"wrong type":              {[]byte(`{"resourceType":"Observation"}`), http.StatusBadRequest, "invalid"},
		"unknown element":         {[]byte(`{"resourceType":"Patient","bogus":1}`), http.StatusBadRequest, "invalid"},
		"bad gender":              {[]byte(`{"resourceType":"Patient","gender":"robot"}`), http.StatusBadRequest, "invalid"},
		"bad birthDate":           {[]byte(`{"resourceType":"Patient","birthDate":"1975-13-45"}`), http.StatusBadRequest, "invalid"},
		"bad email":               {[]byte(`{"resourceType":"Patient","telecom":[{"system":"email","value":"not an email"}]}`), http.StatusBadRequest, "invalid"},
		"inactive":                {[]byte(`{"resourceType":"Patient","active":false}`), http.StatusBadRequest, "invalid"},
		"identifier no system":    {[]byte(`{"resourceType":"Patient","identifier":[{"value":"x"}]}`), http.StatusBadRequest, "invalid"},
		"unknown organization":    {[]byte(`{"resourceType":"Patient","managingOrganization":{"reference":"Organization/987654"}}`), http.StatusBadRequest, "invalid"},
		"unknown practitioner":    {[]byte(`{"resourceType":"Patient","generalPractitioner":[{"reference":"Practitioner/987654"}]}`), http.StatusBadRequest, "invalid"},
		"patient as practitioner": {[]byte(`{"resourceType":"Patient","generalPractitioner":[{"reference":"Practitioner/` + id(w.p2.ID) + `"}]}`), http.StatusBadRequest, "invalid"},
		"remote organization":     {[]byte(`{"resourceType":"Patient","managingOrganization":{"reference":"https://elsewhere.example/fhir/Organization/1"}}`), http.StatusBadRequest, "invalid"},
		"modifier extension":      {[]byte(`{"resourceType":"Patient","modifierExtension":[{"url":"urn:x","valueBoolean":true}]}`), http.StatusBadRequest, "invalid"},
		"not an object":           {[]byte(`[]`), http.StatusBadRequest, "invalid"},
	} {
		r := w.do(app, http.MethodPost, "/fhir/Patient", c.body)
		if r.status != c.want {
			t.Errorf("%s: %d, want %d: %s", name, r.status, c.want, r.body)
			continue
		}
		if code, _ := outcomeCode(t, r.body); code != c.code {
			t.Errorf("%s: issue %q, want %q: %s", name, code, c.code, r.body)
		}
		if name == "inactive" || name == "unknown practitioner" {
			if _, expr := outcomeCode(t, r.body); len(expr) == 0 || !strings.HasPrefix(expr[0], "Patient.") {
				t.Errorf("%s: the issue names no element: %s", name, r.body)
			}
		}
		// The message is ward's, never the database's.
		for _, leak := range []string{"SQL", "INSERT", "UNIQUE", "constraint", "pq:", "sqlite"} {
			if strings.Contains(string(r.body), leak) {
				t.Errorf("%s: the answer leaks %q: %s", name, leak, r.body)
			}
		}
	}
	// The refused identifier clash made nothing, not even the account
	// without the identifier.
	if w.userByEmail(t, "dupmrn@example.org") != nil {
		t.Error("a create refused for its identifier left a user behind")
	}
	if r := w.do(app, http.MethodPost, "/fhir/Patient", []byte(`{"resourceType":"Patient"}`), "Content-Type", "text/plain"); r.status != http.StatusBadRequest {
		t.Errorf("text/plain body: %d, want 400", r.status)
	}
}
