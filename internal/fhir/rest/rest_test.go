package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/audit"
	"ward/internal/clinical"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/fhir"
	"ward/internal/server"
	"ward/internal/store"
	"ward/internal/testutil"
)

// world is a ward with two clinics, a clinician at the first, and two
// patients (one per clinic) with observations, a procedure and a document.
type world struct {
	t                *testing.T
	h                http.Handler
	svc              *server.Services
	clinicA, clinicB *directory.Organization
	staff            *directory.User
	p1, p2           *directory.User
	obs1, obs2       *clinical.Observation
	proc1            *clinical.Procedure
}

const base = "http://ward.test/fhir"

func newWorld(t *testing.T, dbURL string) *world {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = dbURL
	cfg.Issuer = "http://ward.test"
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	w := &world{t: t, h: srv.Handler(), svc: srv.Services()}
	sys := actor.System(context.Background())
	d := w.svc.Directory
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	w.clinicA, err = d.CreateOrganization(sys, &directory.Organization{Name: "Clinic A",
		Identifiers: []directory.Identifier{{System: "urn:clinic", Value: "A"}}})
	must(err)
	w.clinicB, err = d.CreateOrganization(sys, &directory.Organization{Name: "Clinic B"})
	must(err)
	user := func(email, given string, bd string, roles []string, orgs []int64, gp int64) *directory.User {
		u, err := d.CreateUser(sys, directory.NewUser{User: directory.User{Email: email, GivenName: given,
			FamilyName: "Test", BirthDate: bd, Gender: "female", GeneralPractitionerID: gp}, Roles: roles, OrgIDs: orgs})
		must(err)
		return u
	}
	w.staff = user("staff@example.org", "Sam", "1970-01-01", []string{"clinician"}, []int64{w.clinicA.ID}, 0)
	w.p1 = user("p1@example.org", "Alice", "1980-02-03", []string{"patient"}, []int64{w.clinicA.ID}, w.staff.ID)
	w.p2 = user("p2@example.org", "Bella", "1990-05-06", []string{"patient"}, []int64{w.clinicB.ID}, 0)
	_, err = d.AddUserIdentifier(sys, w.p1.ID, directory.Identifier{System: "urn:mrn", Value: "MRN-1"})
	must(err)
	for _, c := range []directory.Consent{{UserID: w.p1.ID, OrganizationID: w.clinicA.ID, StaffEditable: true}, {UserID: w.p2.ID, OrganizationID: w.clinicB.ID}} {
		_, err := d.AddConsent(sys, &c)
		must(err)
	}
	obs := func(p int64, code, value string, at time.Time) *clinical.Observation {
		o, err := w.svc.Clinical.Observations().Create(sys, clinical.Observation{PatientID: p, Status: clinical.ObsFinal,
			Code:      []clinical.Coding{{System: "http://loinc.org", Code: code}},
			Value:     clinical.Value{Kind: clinical.ValueQuantity, Quantity: &clinical.Quantity{Value: value, Unit: "mmol/L"}},
			Effective: clinical.Occurrence{DateTime: &at}, Issued: at})
		must(err)
		return o
	}
	w.obs1 = obs(w.p1.ID, "2345-7", "5.4", time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC))
	obs(w.p1.ID, "2093-3", "4.1", time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC))
	w.obs2 = obs(w.p2.ID, "2345-7", "6.0", time.Date(2024, 3, 2, 9, 0, 0, 0, time.UTC))
	at := time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC)
	w.proc1, err = w.svc.Clinical.Procedures().Create(sys, clinical.Procedure{PatientID: w.p1.ID, Status: clinical.ProcCompleted,
		Code:      []clinical.Coding{{System: clinical.SNOMEDSystem, Code: "26294005"}},
		Performed: clinical.Occurrence{DateTime: &at}})
	must(err)
	return w
}

// As whom a request goes: an actor put in the request context stands for
// the token the bearer middleware would have checked (the middleware
// passes a request without credentials through untouched).
var (
	noToken = actor.Actor{}
)

func (w *world) patientApp(scopes ...string) actor.Actor {
	if len(scopes) == 0 {
		scopes = []string{"launch/patient", "patient/*.rs"}
	}
	return actor.Actor{ClientID: "patient-app", UserID: w.p1.ID, Patient: w.p1.ID, Scopes: scopes}
}

func (w *world) staffApp(scopes ...string) actor.Actor {
	if len(scopes) == 0 {
		scopes = []string{"user/*.cruds"}
	}
	return actor.Actor{ClientID: "staff-app", UserID: w.staff.ID, Scopes: scopes}
}

func backend(scopes ...string) actor.Actor {
	if len(scopes) == 0 {
		scopes = []string{"system/*.rs"}
	}
	return actor.Actor{ClientID: "backend", Scopes: scopes}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (w *world) do(a actor.Actor, method, path string, body []byte, hdr ...string) response {
	w.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, "http://ward.test"+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if !a.Anonymous() {
		req = req.WithContext(actor.With(req.Context(), a))
	}
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, req)
	return response{rec.Code, rec.Header(), rec.Body.Bytes()}
}

// get fetches path and checks the status; a FHIR body is validated
// against the R4 schema.
func (w *world) get(a actor.Actor, path string, want int) response {
	w.t.Helper()
	r := w.do(a, http.MethodGet, path, nil)
	w.check(r, want, "GET "+path)
	return r
}

func (w *world) check(r response, want int, what string) {
	w.t.Helper()
	if r.status != want {
		w.t.Fatalf("%s: status %d, want %d: %s", what, r.status, want, r.body)
	}
	if len(r.body) > 0 && strings.HasPrefix(r.header.Get("Content-Type"), "application/fhir+json") {
		if err := testutil.FHIRSchema(w.t).Validate(r.body); err != nil {
			w.t.Errorf("%s: the response is not valid R4: %v\n%s", what, err, r.body)
		}
	}
}

// bundle fetches a searchset and returns its total and entry ids.
func (w *world) bundle(a actor.Actor, path string) (total int, ids []string, next string) {
	w.t.Helper()
	r := w.get(a, path, http.StatusOK)
	var b struct {
		Total *int `json:"total"`
		Link  []struct{ Relation, URL string }
		Entry []struct {
			Resource struct{ ID string }
		}
	}
	if err := json.Unmarshal(r.body, &b); err != nil {
		w.t.Fatal(err)
	}
	for _, l := range b.Link {
		if l.Relation == "next" {
			next = strings.TrimPrefix(l.URL, "http://ward.test")
		}
	}
	for _, e := range b.Entry {
		ids = append(ids, e.Resource.ID)
	}
	if b.Total == nil {
		return -1, ids, next
	}
	return *b.Total, ids, next
}

func id(n int64) string { return fmt.Sprint(n) }

func outcomeCode(t *testing.T, body []byte) (code string, expr []string) {
	t.Helper()
	var oo fhir.OperationOutcome
	if err := json.Unmarshal(body, &oo); err != nil || len(oo.Issue) == 0 {
		t.Fatalf("not an OperationOutcome: %s", body)
	}
	return oo.Issue[0].Code, oo.Issue[0].Expression
}

func TestFHIR(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		t.Run("metadata", w.testMetadata)
		t.Run("patient app", w.testPatientApp)
		t.Run("staff", w.testStaff)
		t.Run("backend search", w.testBackendSearch)
		t.Run("writes", w.testWrites)
		t.Run("documents", w.testDocuments)
		t.Run("groups", w.testGroups)
		t.Run("consents", w.testConsents)
		t.Run("audit", w.testAudit)
		t.Run("refusals", w.testRefusals)
	})
}

func (w *world) testMetadata(t *testing.T) {
	r := w.get(noToken, "/fhir/metadata", http.StatusOK)
	cs, err := fhir.DecodeCapabilityStatement(r.body)
	if err != nil {
		t.Fatal(err)
	}
	if cs.FHIRVersion != "4.0.1" || cs.Kind != "instance" || len(cs.Rest) != 1 {
		t.Fatalf("statement: %+v", cs)
	}
	uris := map[string]string{}
	for _, u := range cs.Rest[0].Security.OAuthURIs() {
		uris[u.Name] = u.URL
	}
	if uris["token"] != "http://ward.test/oauth/token" || uris["authorize"] != "http://ward.test/oauth/authorize" {
		t.Errorf("SMART oauth-uris: %v", uris)
	}
	types := map[string][]string{}
	for _, res := range cs.Rest[0].Resource {
		for _, in := range res.Interaction {
			types[res.Type] = append(types[res.Type], in.Code)
		}
	}
	for typ, want := range map[string][]string{
		"Patient": {"read", "search-type", "create", "update"}, "Observation": {"read", "search-type", "create", "update"},
		"Organization": {"read", "search-type", "create", "update"}, "Practitioner": {"read", "search-type"},
		"Binary": {"read", "create"}, "Group": {"read", "search-type"}, "AuditEvent": {"read", "search-type"},
	} {
		if !slices.Equal(types[typ], want) {
			t.Errorf("%s interactions %v, want %v", typ, types[typ], want)
		}
	}
	if len(cs.Rest[0].Operation) == 0 || cs.Rest[0].Operation[0].Definition != fhir.OperationExport {
		t.Errorf("system $export not advertised: %+v", cs.Rest[0].Operation)
	}
	// It is valid R4, instantiates the Bulk Data server statement, names
	// the SMART App Launch and Bulk Data guides, and gives each export
	// operation its canonical definition.
	testutil.ValidateFHIR(t, r.body)
	if !slices.Contains(cs.Instantiates, "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data") {
		t.Errorf("instantiates %v, want the Bulk Data CapabilityStatement", cs.Instantiates)
	}
	for _, g := range []string{"http://hl7.org/fhir/smart-app-launch/ImplementationGuide/hl7.fhir.uv.smart-app-launch",
		"http://hl7.org/fhir/uv/bulkdata/ImplementationGuide/hl7.fhir.uv.bulkdata"} {
		if !slices.Contains(cs.ImplementationGuide, g) {
			t.Errorf("implementationGuide %v lacks %s", cs.ImplementationGuide, g)
		}
	}
	ops := map[string]string{}
	for _, o := range cs.Rest[0].Operation {
		ops["system $"+o.Name] = o.Definition
	}
	for _, res := range cs.Rest[0].Resource {
		for _, o := range res.Operation {
			ops[res.Type+" $"+o.Name] = o.Definition
		}
	}
	for op, want := range map[string]string{
		"system $export":  "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
		"Patient $export": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export",
		"Group $export":   "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export",
	} {
		if ops[op] != want {
			t.Errorf("%s definition %q, want %q", op, ops[op], want)
		}
	}
	// Every advertised interaction answers (none is a 404 or 405).
	if r := w.do(backend(), http.MethodGet, "/fhir/Procedure", nil); r.status != http.StatusOK {
		t.Errorf("advertised Procedure search answered %d", r.status)
	}
}

func (w *world) testPatientApp(t *testing.T) {
	app := w.patientApp()
	r := w.get(app, "/fhir/Patient/"+id(w.p1.ID), http.StatusOK)
	p, err := fhir.DecodePatient(r.body)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != id(w.p1.ID) || p.Meta == nil || p.Meta.VersionID == "" || r.header.Get("ETag") != `W/"`+p.Meta.VersionID+`"` {
		t.Errorf("patient %s meta %+v etag %q", p.ID, p.Meta, r.header.Get("ETag"))
	}
	if r := w.do(app, http.MethodGet, "/fhir/Patient/"+id(w.p1.ID), nil, "If-None-Match", r.header.Get("ETag")); r.status != http.StatusNotModified {
		t.Errorf("conditional read with the current ETag: %d, want 304", r.status)
	}
	if r := w.do(app, http.MethodGet, "/fhir/Patient/"+id(w.p1.ID), nil, "If-None-Match", `W/"999"`); r.status != http.StatusOK {
		t.Errorf("conditional read with a stale ETag: %d, want 200", r.status)
	}
	// Someone else's record does not exist for this app.
	w.get(app, "/fhir/Patient/"+id(w.p2.ID), http.StatusNotFound)
	w.get(app, "/fhir/Observation/"+id(w.obs2.ID), http.StatusNotFound)
	w.get(app, "/fhir/Observation/"+id(w.obs1.ID), http.StatusOK)
	if total, ids, _ := w.bundle(app, "/fhir/Observation"); total != 2 || len(ids) != 2 {
		t.Errorf("own observations: total %d ids %v, want 2", total, ids)
	}
	if total, _, _ := w.bundle(app, "/fhir/Observation?patient=Patient/"+id(w.p2.ID)); total != 0 {
		t.Errorf("another patient's observations: total %d, want 0", total)
	}
	if total, ids, _ := w.bundle(app, "/fhir/Patient"); total != 1 || !slices.Equal(ids, []string{id(w.p1.ID)}) {
		t.Errorf("patient search: %d %v, want only self", total, ids)
	}
	// Reference data is readable; writes are not in the scopes.
	w.get(app, "/fhir/Organization/"+id(w.clinicA.ID), http.StatusOK)
	w.get(app, "/fhir/Practitioner/"+id(w.staff.ID), http.StatusOK)
	body := observationBody(w.p1.ID, "")
	if r := w.do(app, http.MethodPost, "/fhir/Observation", body); r.status != http.StatusForbidden {
		t.Errorf("create without a write scope: %d, want 403", r.status)
	}
	// v1 scopes mean the same as v2.
	v1 := w.patientApp("launch/patient", "patient/Observation.read")
	if total, _, _ := w.bundle(v1, "/fhir/Observation"); total != 2 {
		t.Errorf("v1 patient/Observation.read search: total %d, want 2", total)
	}
	w.get(v1, "/fhir/Procedure/"+id(w.proc1.ID), http.StatusForbidden)
	// A patient's token lists no Group (a Group names other patients).
	if total, _, _ := w.bundle(app, "/fhir/Group"); total != 0 {
		t.Errorf("patient app Group search: total %d, want 0", total)
	}
	w.get(app, "/fhir/Group/org-"+id(w.clinicA.ID), http.StatusNotFound)
}

func (w *world) testStaff(t *testing.T) {
	app := w.staffApp()
	// check_role: the clinician sees the patient consented at their clinic only.
	_, ids, _ := w.bundle(app, "/fhir/Patient")
	if !slices.Contains(ids, id(w.p1.ID)) || slices.Contains(ids, id(w.p2.ID)) {
		t.Errorf("staff patient search %v: want p1, not p2", ids)
	}
	w.get(app, "/fhir/Patient/"+id(w.p2.ID), http.StatusNotFound)
	w.get(app, "/fhir/Observation/"+id(w.obs2.ID), http.StatusNotFound)
	if total, _, _ := w.bundle(app, "/fhir/Observation?patient="+id(w.p1.ID)); total != 2 {
		t.Errorf("staff: p1's observations total %d, want 2", total)
	}
	if total, _, _ := w.bundle(app, "/fhir/Observation?subject=Patient/"+id(w.p2.ID)); total != 0 {
		t.Errorf("staff: p2's observations total %d, want 0", total)
	}
	r := w.get(app, "/fhir/Observation", http.StatusBadRequest)
	if code, _ := outcomeCode(t, r.body); code != "invalid" {
		t.Errorf("staff search without a patient: issue %q", code)
	}
}

func (w *world) testBackendSearch(t *testing.T) {
	svc := backend()
	if total, ids, _ := w.bundle(svc, "/fhir/Patient"); total != 2 || len(ids) != 2 {
		t.Errorf("backend patients: %d %v", total, ids)
	}
	cases := map[string][]string{
		"/fhir/Patient?identifier=urn:mrn|MRN-1":                      {id(w.p1.ID)},
		"/fhir/Patient?identifier=MRN-1":                              {id(w.p1.ID)},
		"/fhir/Patient?name=ali":                                      {id(w.p1.ID)},
		"/fhir/Patient?name:exact=ali":                                nil,
		"/fhir/Patient?birthdate=1980-02-03":                          {id(w.p1.ID)},
		"/fhir/Patient?birthdate=ge1985":                              {id(w.p2.ID)},
		"/fhir/Patient?birthdate=lt1985-01-01":                        {id(w.p1.ID)},
		"/fhir/Patient?organization=Organization/" + id(w.clinicB.ID): {id(w.p2.ID)},
		"/fhir/Patient?_id=" + id(w.p2.ID):                            {id(w.p2.ID)},
		"/fhir/Observation?code=http://loinc.org|2345-7":              {id(w.obs1.ID), id(w.obs2.ID)},
		"/fhir/Observation?code=2345-7&date=2024-03-02":               {id(w.obs2.ID)},
		"/fhir/Observation?date=gt2025":                               nil,
		"/fhir/Procedure?code=http://snomed.info/sct|26294005":        {id(w.proc1.ID)},
		"/fhir/Organization?identifier=urn:clinic|A":                  {id(w.clinicA.ID)},
		"/fhir/Organization?name=clinic":                              {id(w.clinicA.ID), id(w.clinicB.ID)},
		"/fhir/Practitioner?name=sam":                                 {id(w.staff.ID)},
	}
	for path, want := range cases {
		total, ids, _ := w.bundle(svc, path)
		if !slices.Equal(ids, want) || total != len(want) {
			t.Errorf("%s: total %d ids %v, want %v", path, total, ids, want)
		}
	}
	// A page of patients is rendered whole: identifiers and organizations
	// are there as on a read.
	r := w.get(svc, "/fhir/Patient?_id="+id(w.p1.ID), http.StatusOK)
	if !strings.Contains(string(r.body), `"value":"MRN-1"`) || !strings.Contains(string(r.body), "Organization/"+id(w.clinicA.ID)) {
		t.Errorf("searchset patient lacks its identifier or organization: %s", r.body)
	}
	// The total is on the first page of patients, not on the pages after.
	total, _, next := w.bundle(svc, "/fhir/Patient?_count=1")
	if total != 2 || next == "" {
		t.Fatalf("first page: total %d next %q", total, next)
	}
	if total, ids, _ := w.bundle(svc, next); total != -1 || len(ids) != 1 {
		t.Errorf("second page: total %d ids %v, want no total and one patient", total, ids)
	}

	// _summary=count: the total and no entries.
	if total, ids, _ := w.bundle(svc, "/fhir/Observation?_summary=count"); total != 3 || len(ids) != 0 {
		t.Errorf("_summary=count: total %d entries %v", total, ids)
	}
	// Paging: follow next links to the end; every observation once.
	var all []string
	path := "/fhir/Observation?_count=1"
	for path != "" {
		total, ids, next := w.bundle(svc, path)
		if total != 3 {
			t.Errorf("page %s: total %d, want 3", path, total)
		}
		all = append(all, ids...)
		path = next
		if len(all) > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(all) != 3 || all[0] == all[1] {
		t.Errorf("paged observations %v, want 3 distinct", all)
	}
	// A malformed parameter is a 400 naming it.
	for _, bad := range []string{"/fhir/Patient?birthdate=yesterday", "/fhir/Patient?foo=bar", "/fhir/Observation?_count=-1"} {
		r := w.get(svc, bad, http.StatusBadRequest)
		_, expr := outcomeCode(t, r.body)
		u, _ := url.Parse(bad)
		for k := range u.Query() {
			if !slices.Contains(expr, k) {
				t.Errorf("%s: expression %v does not name %q", bad, expr, k)
			}
		}
	}
	w.get(svc, "/fhir/Patient?_sort=-_lastUpdated", http.StatusBadRequest)
}

func observationBody(patient int64, idField string) []byte {
	idPart := ""
	if idField != "" {
		idPart = `"id":"` + idField + `",`
	}
	return []byte(`{"resourceType":"Observation",` + idPart + `"status":"final",
		"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},
		"subject":{"reference":"Patient/` + id(patient) + `"},
		"effectiveDateTime":"2025-01-02T03:04:05Z","issued":"2025-01-02T03:04:05Z",
		"valueQuantity":{"value":120,"unit":"mmHg"}}`)
}

func (w *world) testWrites(t *testing.T) {
	app := w.staffApp()
	r := w.do(app, http.MethodPost, "/fhir/Observation", observationBody(w.p1.ID, ""))
	w.check(r, http.StatusCreated, "create observation")
	created, err := fhir.DecodeObservation(r.body)
	if err != nil {
		t.Fatal(err)
	}
	if loc := r.header.Get("Location"); !strings.HasSuffix(loc, "/Observation/"+created.ID+"/_history/1") {
		t.Errorf("Location %q", loc)
	}
	// An update: the id must match, the resource type must be right.
	upd := observationBody(w.p1.ID, created.ID)
	r = w.do(app, http.MethodPut, "/fhir/Observation/"+created.ID, upd, "If-Match", `W/"1"`)
	w.check(r, http.StatusOK, "update observation")
	if r.header.Get("ETag") != `W/"2"` {
		t.Errorf("ETag after update %q, want W/\"2\"", r.header.Get("ETag"))
	}
	if r := w.do(app, http.MethodPut, "/fhir/Observation/"+created.ID, upd, "If-Match", `W/"1"`); r.status != http.StatusPreconditionFailed {
		t.Errorf("stale If-Match: %d, want 412", r.status)
	}
	for name, c := range map[string]struct {
		path string
		body []byte
	}{
		"id mismatch":     {"/fhir/Observation/" + created.ID, observationBody(w.p1.ID, "999")},
		"no id":           {"/fhir/Observation/" + created.ID, observationBody(w.p1.ID, "")},
		"wrong type":      {"/fhir/Observation/" + created.ID, []byte(`{"resourceType":"Patient","id":"` + created.ID + `"}`)},
		"unknown element": {"/fhir/Observation/" + created.ID, []byte(`{"resourceType":"Observation","id":"` + created.ID + `","bogus":1}`)},
		"not json":        {"/fhir/Observation/" + created.ID, []byte(`{"resourceType":`)},
	} {
		if r := w.do(app, http.MethodPut, c.path, c.body); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400: %s", name, r.status, r.body)
		} else if code, _ := outcomeCode(t, r.body); code == "" {
			t.Errorf("%s: no issue code", name)
		}
	}
	// Writing into a record the caller cannot see is "not found".
	if r := w.do(app, http.MethodPost, "/fhir/Observation", observationBody(w.p2.ID, "")); r.status != http.StatusNotFound {
		t.Errorf("create for an unseen patient: %d, want 404", r.status)
	}
	// A read-only token may not write at all.
	if r := w.do(w.staffApp("user/*.rs"), http.MethodPost, "/fhir/Observation", observationBody(w.p1.ID, "")); r.status != http.StatusForbidden {
		t.Errorf("create with read scopes: %d, want 403", r.status)
	}
	// The audit event of the create names the person and the client.
	evs, _, err := w.svc.Audit.List(actor.System(context.Background()), audit.Filter{SubjectID: w.p1.ID, Context: audit.Observation}, store.Page{Limit: store.MaxLimit})
	if err != nil || len(evs) == 0 {
		t.Fatalf("no observation audit events: %v", err)
	}
	if last := evs[len(evs)-1]; last.UserID != w.staff.ID || last.ClientID != "staff-app" {
		t.Errorf("observation audit event by user %d client %q, want the clinician through staff-app", last.UserID, last.ClientID)
	}

	// Demographics: the elements sent replace, version-aware.
	r = w.get(app, "/fhir/Patient/"+id(w.p1.ID), http.StatusOK)
	etag := r.header.Get("ETag")
	patient := []byte(`{"resourceType":"Patient","id":"` + id(w.p1.ID) + `","birthDate":"1980-02-04"}`)
	r = w.do(app, http.MethodPut, "/fhir/Patient/"+id(w.p1.ID), patient, "If-Match", etag)
	w.check(r, http.StatusOK, "update patient")
	if p, _ := fhir.DecodePatient(r.body); p == nil || p.BirthDate != "1980-02-04" || len(p.Name) == 0 {
		t.Errorf("updated patient %s: want the new birth date and the name kept", r.body)
	}
	if r := w.do(app, http.MethodPut, "/fhir/Patient/"+id(w.p1.ID), patient, "If-Match", etag); r.status != http.StatusPreconditionFailed {
		t.Errorf("patient update with a stale ETag: %d, want 412", r.status)
	}
	other := []byte(`{"resourceType":"Patient","id":"` + id(w.p2.ID) + `","birthDate":"1990-01-01"}`)
	if r := w.do(app, http.MethodPut, "/fhir/Patient/"+id(w.p2.ID), other); r.status != http.StatusNotFound {
		t.Errorf("update of an unseen patient: %d, want 404", r.status)
	}

	// Organizations: the directory's admin rule decides.
	org := []byte(`{"resourceType":"Organization","name":"Clinic C"}`)
	if r := w.do(app, http.MethodPost, "/fhir/Organization", org); r.status != http.StatusForbidden {
		t.Errorf("a clinician creating an organization: %d, want 403", r.status)
	}
	r = w.do(backend("system/*.cruds"), http.MethodPost, "/fhir/Organization", org)
	w.check(r, http.StatusCreated, "backend creates an organization")
	created2, _ := fhir.DecodeOrganization(r.body)
	rename := []byte(`{"resourceType":"Organization","id":"` + created2.ID + `","name":"Clinic C North"}`)
	r = w.do(backend("system/*.cruds"), http.MethodPut, "/fhir/Organization/"+created2.ID, rename)
	w.check(r, http.StatusOK, "backend renames it")
	if r := w.do(w.patientApp("launch/patient", "patient/*.cruds"), http.MethodPut, "/fhir/Organization/"+created2.ID, rename); r.status != http.StatusForbidden {
		t.Errorf("a patient app writing an organization: %d, want 403", r.status)
	}

	// Wrong media type.
	r = w.do(app, http.MethodPost, "/fhir/Observation", observationBody(w.p1.ID, ""), "Content-Type", "text/plain")
	if r.status != http.StatusBadRequest {
		t.Errorf("text/plain body: %d, want 400", r.status)
	}
}

func (w *world) testDocuments(t *testing.T) {
	app := w.staffApp()
	content := []byte("%PDF-1.4 a small letter")
	r := w.do(app, http.MethodPost, "/fhir/Binary", content, "Content-Type", "application/pdf",
		"X-Security-Context", "Patient/"+id(w.p1.ID))
	w.check(r, http.StatusCreated, "upload")
	var b fhir.Binary
	if err := json.Unmarshal(r.body, &b); err != nil || b.ID == "" {
		t.Fatalf("upload answer %s (%v)", r.body, err)
	}
	r = w.get(app, "/fhir/Binary/"+b.ID, http.StatusOK)
	if !bytes.Equal(r.body, content) || r.header.Get("Content-Type") != "application/pdf" {
		t.Errorf("download: %q as %q", r.body, r.header.Get("Content-Type"))
	}
	r = w.get(app, "/fhir/DocumentReference/"+b.ID+"/Binary", http.StatusOK)
	if !bytes.Equal(r.body, content) {
		t.Errorf("DocumentReference/{id}/Binary: %q", r.body)
	}
	r = w.do(app, http.MethodGet, "/fhir/Binary/"+b.ID, nil, "Accept", "application/fhir+json")
	w.check(r, http.StatusOK, "Binary as FHIR")
	var fb fhir.Binary
	if err := json.Unmarshal(r.body, &fb); err != nil {
		t.Fatal(err)
	}
	if got, _ := fb.Content(); !bytes.Equal(got, content) || fb.ContentType != "application/pdf" {
		t.Errorf("Binary JSON content %q type %q", got, fb.ContentType)
	}
	r = w.get(app, "/fhir/DocumentReference/"+b.ID, http.StatusOK)
	dr, err := fhir.DecodeDocumentReference(r.body)
	if err != nil {
		t.Fatal(err)
	}
	if len(dr.Content) != 1 || !strings.HasSuffix(dr.Content[0].Attachment.URL, "/Binary/"+b.ID) {
		t.Errorf("DocumentReference content %+v", dr.Content)
	}
	if total, _, _ := w.bundle(app, "/fhir/DocumentReference?patient="+id(w.p1.ID)); total != 1 {
		t.Errorf("document search total %d, want 1", total)
	}
	// Another patient's app, and a backend without document scopes, see nothing.
	other := actor.Actor{ClientID: "patient-app", UserID: w.p2.ID, Patient: w.p2.ID, Scopes: []string{"patient/*.rs"}}
	w.get(other, "/fhir/Binary/"+b.ID, http.StatusNotFound)
	w.get(backend("system/Patient.rs"), "/fhir/Binary/"+b.ID, http.StatusForbidden)
	if r := w.get(backend("system/Document.read"), "/fhir/Binary/"+b.ID, http.StatusOK); !bytes.Equal(r.body, content) {
		t.Errorf("system/Document.read download %q", r.body)
	}
	// Inline JSON create, and a missing patient.
	inline := `{"resourceType":"DocumentReference","status":"current","subject":{"reference":"Patient/` + id(w.p1.ID) +
		`"},"content":[{"attachment":{"contentType":"text/plain","data":"aGVsbG8="}}]}`
	w.check(w.do(app, http.MethodPost, "/fhir/DocumentReference", []byte(inline)), http.StatusCreated, "inline document")
	if r := w.do(app, http.MethodPost, "/fhir/Binary", content, "Content-Type", "application/pdf"); r.status != http.StatusBadRequest {
		t.Errorf("upload without a patient: %d, want 400", r.status)
	}
}

func (w *world) testGroups(t *testing.T) {
	members := func(a actor.Actor, gid string) []string {
		r := w.get(a, "/fhir/Group/"+gid, http.StatusOK)
		g, err := fhir.DecodeGroup(r.body)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range g.Member {
			out = append(out, m.Entity.Reference)
		}
		return out
	}
	want := []string{base + "/Patient/" + id(w.p1.ID)}
	if got := members(backend(), "org-"+id(w.clinicA.ID)); !slices.Equal(got, want) {
		t.Errorf("clinic A group %v, want %v", got, want)
	}
	if got := members(backend(), "practitioner-"+id(w.staff.ID)); !slices.Equal(got, want) {
		t.Errorf("practitioner group %v, want %v", got, want)
	}
	// The clinician reads their clinic's Group, not the other one.
	members(w.staffApp(), "org-"+id(w.clinicA.ID))
	w.get(w.staffApp(), "/fhir/Group/org-"+id(w.clinicB.ID), http.StatusNotFound)
	w.get(backend(), "/fhir/Group/org-999999", http.StatusNotFound)
	w.get(backend(), "/fhir/Group/nonsense", http.StatusNotFound)
	orgs, err := w.svc.Directory.CountOrganizations(actor.System(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	if total, ids, _ := w.bundle(backend(), "/fhir/Group"); total != orgs+1 || len(ids) != orgs+1 {
		t.Errorf("groups: total %d ids %v, want one per organization (%d) and one practitioner", total, ids, orgs)
	}
	// A conditional read of an unchanged Group is 304.
	etag := w.get(backend(), "/fhir/Group/org-"+id(w.clinicA.ID), http.StatusOK).header.Get("ETag")
	if r := w.do(backend(), http.MethodGet, "/fhir/Group/org-"+id(w.clinicA.ID), nil, "If-None-Match", etag); r.status != http.StatusNotModified {
		t.Errorf("conditional read of an unchanged Group: %d, want 304", r.status)
	}
	// Kept current: a new consent joins the Group at once.
	sys := actor.System(context.Background())
	if _, err := w.svc.Directory.AddConsent(sys, &directory.Consent{UserID: w.p2.ID, OrganizationID: w.clinicA.ID}); err != nil {
		t.Fatal(err)
	}
	if got := members(backend(), "org-"+id(w.clinicA.ID)); len(got) != 2 {
		t.Errorf("after p2 consents to clinic A: %v, want both patients", got)
	}
	if r := w.do(backend(), http.MethodGet, "/fhir/Group/org-"+id(w.clinicA.ID), nil, "If-None-Match", etag); r.status != http.StatusOK {
		t.Errorf("conditional read after the membership changed: %d, want 200 (the ETag must change)", r.status)
	}
	if err := w.svc.Directory.DeleteConsent(sys, w.p2.ID, w.clinicA.ID); err != nil {
		t.Fatal(err)
	}
}

func (w *world) testAudit(t *testing.T) {
	before := w.accessEvents(t, w.p1.ID)
	w.get(w.patientApp(), "/fhir/Patient/"+id(w.p1.ID), http.StatusOK)
	w.bundle(w.patientApp(), "/fhir/Observation")
	after := w.accessEvents(t, w.p1.ID)
	if len(after) != len(before)+2 {
		t.Fatalf("reads recorded %d access events, want 2", len(after)-len(before))
	}
	e := after[len(after)-1]
	if e.ClientID != "patient-app" || e.UserID != w.p1.ID || e.SubjectID != w.p1.ID {
		t.Errorf("access event %+v: want who, which client and which patient", e)
	}
	// The trail is readable as AuditEvent by the patient (their own) only.
	total, ids, _ := w.bundle(w.patientApp("patient/AuditEvent.rs"), "/fhir/AuditEvent?patient="+id(w.p1.ID))
	if total < 0 && len(ids) == 0 {
		t.Error("the patient's own audit events are not listed")
	}
	w.get(w.patientApp("patient/AuditEvent.rs"), fmt.Sprintf("/fhir/AuditEvent/%d", e.ID), http.StatusOK)
	if e.Type != audit.RecordRead || e.Subject != "Patient/"+id(w.p1.ID) {
		t.Errorf("access event type %q subject %q, want record.read about the patient", e.Type, e.Subject)
	}
	// subtype filters by the typed event, with or without ward's system.
	for _, q := range []string{"record.read", url.QueryEscape(fhir.SystemWardEventType + "|record.read"), "access"} {
		_, ids, _ = w.bundle(w.patientApp("patient/AuditEvent.rs"), "/fhir/AuditEvent?patient="+id(w.p1.ID)+"&subtype="+q)
		// The search is itself a read, recorded as one: take the trail after it.
		reads := map[string]bool{}
		for _, ev := range w.accessEvents(t, w.p1.ID) {
			reads[id(ev.ID)] = ev.Type == audit.RecordRead
		}
		if len(ids) == 0 {
			t.Errorf("subtype=%s lists nothing", q)
		}
		for _, i := range ids {
			if !reads[i] {
				t.Errorf("subtype=%s lists AuditEvent/%s, not a read of the patient's data", q, i)
			}
		}
	}
	for _, q := range []string{"user.gossiped", url.QueryEscape("http://example.org|record.read")} {
		if _, ids, _ = w.bundle(w.patientApp("patient/AuditEvent.rs"), "/fhir/AuditEvent?patient="+id(w.p1.ID)+"&subtype="+q); len(ids) != 0 {
			t.Errorf("subtype=%s lists %v, want nothing", q, ids)
		}
	}
	w.get(w.patientApp("patient/AuditEvent.rs"), "/fhir/AuditEvent?patient="+id(w.p1.ID)+"&subtype=record.read,access", http.StatusBadRequest)
	otherEvents := w.accessEvents(t, w.p2.ID)
	if len(otherEvents) > 0 {
		w.get(w.patientApp("patient/AuditEvent.rs"), fmt.Sprintf("/fhir/AuditEvent/%d", otherEvents[0].ID), http.StatusNotFound)
	}
}

func (w *world) accessEvents(t *testing.T, subject int64) []audit.Event {
	t.Helper()
	evs, _, err := w.svc.Audit.List(actor.System(context.Background()), audit.Filter{SubjectID: subject, Context: audit.Access}, store.Page{Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func (w *world) testRefusals(t *testing.T) {
	r := w.get(noToken, "/fhir/Patient", http.StatusUnauthorized)
	if code, _ := outcomeCode(t, r.body); code != "login" {
		t.Errorf("no token: issue %q, want login", code)
	}
	// A forged token is refused by the bearer middleware, as FHIR.
	r = w.do(noToken, http.MethodGet, "/fhir/Patient", nil, "Authorization", "Bearer ward_at_nonsense")
	if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("Content-Type"), "application/fhir+json") {
		t.Errorf("forged token: %d %q", r.status, r.header.Get("Content-Type"))
	}
	w.get(backend(), "/fhir/Patient/abc", http.StatusNotFound)
	// Only FHIR JSON is written.
	w.get(backend(), "/fhir/Patient?_format=json", http.StatusOK)
	w.get(backend(), "/fhir/Patient?_format=xml", http.StatusNotAcceptable)
	if r := w.do(backend(), http.MethodGet, "/fhir/metadata", nil, "Accept", "application/fhir+xml"); r.status != http.StatusNotAcceptable {
		t.Errorf("Accept: application/fhir+xml: %d, want 406", r.status)
	}
	if r := w.do(backend(), http.MethodGet, "/fhir/metadata", nil, "Accept", "application/fhir+xml, application/fhir+json;q=0.5"); r.status != http.StatusOK {
		t.Errorf("Accept with JSON as a second choice: %d, want 200", r.status)
	}
	w.get(backend(), "/fhir/Medication", http.StatusNotFound)
	if r := w.do(backend(), http.MethodDelete, "/fhir/Patient/1", nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE Patient: %d, want 405", r.status)
	}
}

func (w *world) testConsents(t *testing.T) {
	app := w.patientApp()
	total, ids, _ := w.bundle(app, "/fhir/Consent")
	if total != 1 || len(ids) != 1 || !strings.HasPrefix(ids[0], id(w.p1.ID)+"-") {
		t.Fatalf("the patient's consents: %d %v", total, ids)
	}
	r := w.get(app, "/fhir/Consent/"+ids[0], http.StatusOK)
	c, err := fhir.DecodeConsent(r.body)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != "active" || c.Patient == nil || !strings.HasSuffix(c.Patient.Reference, "/Patient/"+id(w.p1.ID)) {
		t.Errorf("consent %s", r.body)
	}
	if r := w.do(app, http.MethodGet, "/fhir/Consent/"+ids[0], nil, "If-None-Match", r.header.Get("ETag")); r.status != http.StatusNotModified {
		t.Errorf("conditional read of an unchanged consent: %d", r.status)
	}
	// Someone else's consents are not there for this app.
	_, others, _ := w.bundle(backend(), "/fhir/Consent?patient="+id(w.p2.ID))
	if len(others) == 0 {
		t.Fatal("the backend sees no consent of p2")
	}
	w.get(app, "/fhir/Consent/"+others[0], http.StatusNotFound)
	if total, _, _ := w.bundle(app, "/fhir/Consent?patient="+id(w.p2.ID)); total != 0 {
		t.Errorf("the app lists %d of p2's consents", total)
	}
	w.get(app, "/fhir/Consent/nonsense", http.StatusNotFound)
	// Even a system token names the patient.
	w.get(backend(), "/fhir/Consent", http.StatusBadRequest)
}
