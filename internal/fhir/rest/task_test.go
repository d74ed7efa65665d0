package rest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"ward/internal/actor"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/fhir"
	"ward/internal/oauth"
	"ward/internal/testutil"
)

// Seed 002's workflow records: a portal submits declarations as FHIR
// Tasks, registrars move them through their business status one scoped
// operation at a time, and every step lands in the audit chain.
func TestTasks(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		t.Run("whole path", w.testTaskPath)
		t.Run("illegal transitions", w.testTaskIllegal)
		t.Run("reject", w.testTaskReject)
		t.Run("known facility", w.testTaskKnownFacility)
		t.Run("search", w.testTaskSearch)
		t.Run("bad input", w.testTaskBadInput)
		t.Run("metadata", w.testTaskMetadata)
		t.Run("registered client", w.testTaskRegisteredClient)
	})
}

// portal is the self-service portal: a system client that submits and
// reads declarations but takes no step.
func portal() actor.Actor { return backend("system/Task.crs") }

// registrar holds every action scope but the one left out, and the
// widest data scopes: none of them implies the missing action.
func registrar(without string) actor.Actor {
	scopes := []string{"system/*.cruds", "system/Task.cruds", "system/Task.write"}
	for _, a := range []string{"validate", "register", "certify", "issue", "reject"} {
		if a != without {
			scopes = append(scopes, "system/Task."+a)
		}
	}
	return backend(scopes...)
}

// declaration is a self-registration of a person not yet in ward.
func declaration(extra string) []byte {
	return []byte(`{"resourceType":"Task","status":"requested","intent":"proposal",
		"code":{"text":"birth declaration"},
		"for":{"display":"Baby Nakato"},
		"owner":{"identifier":{"system":"urn:portal","value":"home"},"display":"Self-service portal"},
		"input":[{"type":{"text":"child name"},"valueString":"Nakato"},
		         {"type":{"text":"date of birth"},"valueDate":"2026-11-30"}]` + extra + `}`)
}

type taskView struct {
	ID             string
	Status         string
	BusinessStatus struct{ Coding []fhir.Coding }
	StatusReason   *struct{ Text string }
	Meta           struct{ VersionID string }
}

func (tv taskView) business() string {
	if len(tv.BusinessStatus.Coding) == 0 {
		return ""
	}
	return tv.BusinessStatus.Coding[0].Code
}

func decodeTask(t *testing.T, body []byte) taskView {
	t.Helper()
	var tv taskView
	if err := json.Unmarshal(body, &tv); err != nil {
		t.Fatalf("not a Task: %v: %s", err, body)
	}
	return tv
}

func (w *world) submit(a actor.Actor, body []byte) taskView {
	w.t.Helper()
	r := w.do(a, http.MethodPost, "/fhir/Task", body)
	w.check(r, http.StatusCreated, "POST /fhir/Task")
	tv := decodeTask(w.t, r.body)
	if tv.business() != "submitted" || tv.Status != "requested" || !strings.Contains(r.header.Get("Location"), "/fhir/Task/"+tv.ID+"/_history/1") {
		w.t.Fatalf("new declaration: %+v Location %q", tv, r.header.Get("Location"))
	}
	return tv
}

func (w *world) act(a actor.Actor, id, op string, body []byte, want int) response {
	w.t.Helper()
	r := w.do(a, http.MethodPost, "/fhir/Task/"+id+"/$"+op, body)
	w.check(r, want, "$"+op+" on Task/"+id)
	return r
}

// statusChanges lists the task.status_changed events about Task/id as
// "from>to:action", and counts the request.refused events about it.
func (w *world) statusChanges(id string) (changes []string, refused int) {
	w.t.Helper()
	err := w.svc.DB.ScanAudit(context.Background(), 0, func(e audit.Event) error {
		if e.Subject != "Task/"+id {
			return nil
		}
		switch e.Type {
		case audit.TaskStatusChanged:
			var p map[string]string
			if err := json.Unmarshal([]byte(e.Payload), &p); err != nil {
				return err
			}
			s := p["from"] + ">" + p["to"] + ":" + p["action"]
			if p["reason"] != "" {
				s += "(" + p["reason"] + ")"
			}
			changes = append(changes, s)
		case audit.RequestRefused:
			refused++
		}
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return changes, refused
}

func (w *world) testTaskPath(t *testing.T) {
	tv := w.submit(portal(), declaration(""))
	w.get(portal(), "/fhir/Task/"+tv.ID, http.StatusOK)
	// The portal itself may take no step.
	w.act(portal(), tv.ID, "validate-declaration", nil, http.StatusForbidden)
	steps := []struct{ op, action, business, status string }{
		{"validate-declaration", "validate", "validated", "in-progress"},
		{"register", "register", "registered", "in-progress"},
		{"certify", "certify", "certified", "in-progress"},
		{"issue", "issue", "issued", "completed"},
	}
	for i, s := range steps {
		// Refused with every other scope, the widest cruds included...
		r := w.act(registrar(s.action), tv.ID, s.op, nil, http.StatusForbidden)
		if code, _ := outcomeCode(t, r.body); code != "forbidden" || !strings.Contains(string(r.body), "system/Task."+s.action) {
			t.Errorf("$%s without its scope: %s", s.op, r.body)
		}
		// ...allowed with its own scope alone.
		r = w.act(backend("system/Task."+s.action), tv.ID, s.op, nil, http.StatusOK)
		got := decodeTask(t, r.body)
		if got.business() != s.business || got.Status != s.status || got.Meta.VersionID != fmt.Sprint(i+2) {
			t.Errorf("after $%s: %+v, want %s/%s version %d", s.op, got, s.business, s.status, i+2)
		}
	}
	changes, refused := w.statusChanges(tv.ID)
	want := []string{"submitted>validated:validate", "validated>registered:register", "registered>certified:certify", "certified>issued:issue"}
	if !slices.Equal(changes, want) {
		t.Errorf("task.status_changed events %v, want %v", changes, want)
	}
	if refused != len(steps)+1 {
		t.Errorf("%d refusals audited, want %d", refused, len(steps)+1)
	}
	// The read shows the last step.
	if got := decodeTask(t, w.get(portal(), "/fhir/Task/"+tv.ID, http.StatusOK).body); got.business() != "issued" {
		t.Errorf("read after issue: %+v", got)
	}
}

func (w *world) testTaskIllegal(t *testing.T) {
	tv := w.submit(portal(), declaration(""))
	sys := backend("system/Task.validate", "system/Task.register", "system/Task.certify", "system/Task.issue", "system/Task.reject")
	for _, op := range []string{"certify", "issue"} {
		r := w.act(sys, tv.ID, op, nil, http.StatusConflict)
		if code, _ := outcomeCode(t, r.body); code != "conflict" || !strings.Contains(string(r.body), "submitted") ||
			!strings.Contains(string(r.body), op) {
			t.Errorf("$%s on a submitted declaration: %s", op, r.body)
		}
	}
	w.act(sys, tv.ID, "validate-declaration", nil, http.StatusOK)
	w.act(sys, tv.ID, "validate-declaration", nil, http.StatusConflict)
	w.act(sys, tv.ID, "issue", nil, http.StatusConflict)
	w.act(sys, tv.ID, "register", nil, http.StatusOK)
	// A registered record is corrected, never rejected.
	w.act(sys, tv.ID, "reject", nil, http.StatusConflict)
	// Register straight from submitted is allowed (a registrar may skip
	// validation).
	tv2 := w.submit(portal(), declaration(""))
	w.act(sys, tv2.ID, "register", nil, http.StatusOK)
	// Nothing changed by the refusals.
	if changes, _ := w.statusChanges(tv.ID); len(changes) != 2 {
		t.Errorf("status changes %v, want validate and register only", changes)
	}
	// An unknown Task is 404, with or without the scope.
	w.act(sys, "999999", "register", nil, http.StatusNotFound)
	w.act(sys, "abc", "register", nil, http.StatusNotFound)
}

func (w *world) testTaskReject(t *testing.T) {
	tv := w.submit(portal(), declaration(""))
	reason := `{"resourceType":"Parameters","parameter":[{"name":"reason","valueString":"the birth date is missing its certificate"}]}`
	w.act(backend("system/Task.validate"), tv.ID, "reject", []byte(reason), http.StatusForbidden)
	r := w.act(backend("system/Task.reject"), tv.ID, "reject", []byte(reason), http.StatusOK)
	got := decodeTask(t, r.body)
	if got.business() != "rejected" || got.Status != "rejected" || got.StatusReason == nil ||
		got.StatusReason.Text != "the birth date is missing its certificate" {
		t.Errorf("rejected: %+v", got)
	}
	// Rejected is final.
	w.act(backend("system/Task.register"), tv.ID, "register", nil, http.StatusConflict)
	w.act(backend("system/Task.validate"), tv.ID, "validate-declaration", nil, http.StatusConflict)
	changes, _ := w.statusChanges(tv.ID)
	if !slices.Equal(changes, []string{"submitted>rejected:reject(the birth date is missing its certificate)"}) {
		t.Errorf("reject events %v", changes)
	}
	// Reject from validated too.
	tv2 := w.submit(portal(), declaration(""))
	w.act(backend("system/Task.validate"), tv2.ID, "validate-declaration", nil, http.StatusOK)
	w.act(backend("system/Task.reject"), tv2.ID, "reject", nil, http.StatusOK)
	// Bad Parameters bodies.
	tv3 := w.submit(portal(), declaration(""))
	for name, body := range map[string]string{
		"another parameter": `{"resourceType":"Parameters","parameter":[{"name":"why","valueString":"x"}]}`,
		"no value":          `{"resourceType":"Parameters","parameter":[{"name":"reason"}]}`,
		"not Parameters":    `{"resourceType":"Task"}`,
		"malformed":         `{"resourceType":"Parameters",`,
		"too long reason":   `{"resourceType":"Parameters","parameter":[{"name":"reason","valueString":"` + strings.Repeat("x", 2000) + `"}]}`,
	} {
		if r := w.do(backend("system/Task.reject"), http.MethodPost, "/fhir/Task/"+tv3.ID+"/$reject", []byte(body)); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400: %s", name, r.status, r.body)
		}
	}
	if got := decodeTask(t, w.get(portal(), "/fhir/Task/"+tv3.ID, http.StatusOK).body); got.business() != "submitted" {
		t.Errorf("a refused body changed the declaration: %+v", got)
	}
}

func (w *world) testTaskKnownFacility(t *testing.T) {
	clinicA := id(w.clinicA.ID)
	known := map[string]string{
		"owner reference":     `,"location":{"reference":"Organization/` + clinicA + `"}`,
		"absolute reference":  `,"location":{"reference":"` + base + `/Organization/` + id(w.clinicB.ID) + `"}`,
		"location identifier": `,"location":{"identifier":{"system":"urn:clinic","value":"A"}}`,
		"identifier value":    `,"location":{"identifier":{"value":"A"}}`,
		"name":                `,"location":{"display":"  clinic a "}`,
		"requester org":       `,"requester":{"reference":"Organization/` + clinicA + `"}`,
		"every element":       `,"focus":{"display":"x"},"encounter":{"display":"y"},"note":[{"text":"z"}],"performerType":[{"text":"registrar"}],"authoredOn":"2026-12-01","priority":"routine","description":"d","identifier":[{"value":"1"}],"basedOn":[{"display":"b"}],"executionPeriod":{"start":"2026-12-01"},"restriction":{"repetitions":1},"reasonCode":{"text":"r"},"groupIdentifier":{"value":"g"},"output":[{"type":{"text":"o"},"valueBoolean":true}],"instantiatesUri":"http://example.org/x","partOf":[{"display":"p"}],"insurance":[{"display":"i"}],"relevantHistory":[{"display":"h"}],"reasonReference":{"display":"rr"},"lastModified":"2026-12-01T00:00:00Z","statusReason":{"text":"ignored"},"businessStatus":{"coding":[{"code":"submitted"}]},"meta":{"versionId":"9"},"id":"77","extension":[{"url":"http://example.org/e","valueString":"v"}]`,
		"input identifier":    "",
		"input reference":     "",
	}
	// Every element ward keeps, with the location named by its name.
	known["every element"] = strings.Replace(known["every element"], `"focus"`, `"location":{"display":"Clinic B"},"focus"`, 1)
	for name, extra := range known {
		body := declaration(extra)
		switch name {
		case "input identifier":
			body = []byte(strings.Replace(string(declaration("")), `"input":[`,
				`"input":[{"type":{"text":"health facility"},"valueIdentifier":{"system":"urn:clinic","value":"A"}},`, 1))
		case "input reference":
			body = []byte(strings.Replace(string(declaration("")), `"input":[`,
				`"input":[{"type":{"text":"place of birth"},"valueReference":{"reference":"Organization/`+clinicA+`"}},`, 1))
		}
		r := w.do(portal(), http.MethodPost, "/fhir/Task", body)
		w.check(r, http.StatusBadRequest, name)
		if code, expr := outcomeCode(t, r.body); code != "invalid" || !strings.Contains(string(r.body), "reference data") || len(expr) != 1 {
			t.Errorf("%s: %s", name, r.body)
		}
	}
	// An unknown facility is fine, and so is a known one for a
	// declaration that is not self-submitted: a clinician declaring for
	// their patient.
	w.submit(portal(), declaration(`,"location":{"identifier":{"system":"urn:clinic","value":"Z"},"display":"Village clinic"}`))
	staff := w.staffApp("user/Task.cruds")
	body := []byte(`{"resourceType":"Task","status":"requested","intent":"order","for":{"reference":"Patient/` + id(w.p1.ID) + `"},
		"requester":{"reference":"Practitioner/` + id(w.staff.ID) + `"},"owner":{"reference":"Organization/` + clinicA + `"}}`)
	w.submit(staff, body)
	// The patient declaring themself (requester is the subject) is
	// self-submitted.
	self := w.patientApp("launch/patient", "patient/Task.crs")
	body = []byte(`{"resourceType":"Task","status":"requested","intent":"proposal","for":{"reference":"Patient/` + id(w.p1.ID) + `"},
		"requester":{"reference":"Patient/` + id(w.p1.ID) + `"},"owner":{"reference":"Organization/` + clinicA + `"}}`)
	w.check(w.do(self, http.MethodPost, "/fhir/Task", body), http.StatusBadRequest, "self-declaration naming a known facility")
	w.check(w.do(staff, http.MethodPost, "/fhir/Task", body), http.StatusBadRequest, "requester is the subject")
	// A patient app declares only for its own patient.
	body = []byte(`{"resourceType":"Task","status":"requested","intent":"proposal","for":{"display":"someone"}}`)
	w.check(w.do(self, http.MethodPost, "/fhir/Task", body), http.StatusForbidden, "patient app, someone else")
}

func (w *world) testTaskSearch(t *testing.T) {
	// A fresh declaration per business status, so the search has
	// something of each to tell apart.
	sys := backend("system/Task.crs", "system/Task.validate")
	a := w.submit(portal(), declaration(""))
	b := w.submit(portal(), declaration(""))
	w.act(sys, b.ID, "validate-declaration", nil, http.StatusOK)
	staff := w.staffApp("user/Task.crs")
	mine := w.submit(staff, []byte(`{"resourceType":"Task","status":"requested","intent":"order","for":{"reference":"Patient/`+id(w.p1.ID)+`"}}`))
	has := func(ids []string, want ...string) bool {
		for _, x := range want {
			if !slices.Contains(ids, x) {
				return false
			}
		}
		return true
	}
	_, ids, _ := w.bundle(sys, "/fhir/Task?business-status=submitted")
	if !has(ids, a.ID, mine.ID) || slices.Contains(ids, b.ID) {
		t.Errorf("business-status=submitted: %v", ids)
	}
	_, ids, _ = w.bundle(sys, "/fhir/Task?business-status="+url.QueryEscape(fhir.SystemTaskBusinessStatus+"|validated")+"&_lastUpdated=ge2000-01-01")
	if !has(ids, b.ID) || slices.Contains(ids, a.ID) {
		t.Errorf("business-status=validated: %v", ids)
	}
	_, ids, _ = w.bundle(sys, "/fhir/Task?status=in-progress")
	if !has(ids, b.ID) || slices.Contains(ids, a.ID) {
		t.Errorf("status=in-progress: %v", ids)
	}
	if total, ids, _ := w.bundle(sys, "/fhir/Task?patient=Patient/"+id(w.p1.ID)); total < 1 || !has(ids, mine.ID) || slices.Contains(ids, a.ID) {
		t.Errorf("patient search: %d %v", total, ids)
	}
	if total, _, _ := w.bundle(sys, "/fhir/Task?_lastUpdated=lt2000-01-01"); total != 0 {
		t.Errorf("_lastUpdated=lt2000: %d", total)
	}
	if total, _, _ := w.bundle(sys, "/fhir/Task?business-status=submitted&business-status=validated"); total != 0 {
		t.Errorf("two business statuses ANDed: %d", total)
	}
	// Paging: one at a time, following next links, reaches them all once.
	total, _, _ := w.bundle(sys, "/fhir/Task")
	seen := map[string]bool{}
	next := "/fhir/Task?_count=1"
	for next != "" {
		var page []string
		_, page, next = w.bundle(sys, next)
		for _, x := range page {
			if seen[x] {
				t.Fatalf("Task/%s on two pages", x)
			}
			seen[x] = true
		}
	}
	if len(seen) != total {
		t.Errorf("paged %d of %d", len(seen), total)
	}
	// A patient app sees its own declarations only; staff must name the
	// patient; a declaration about nobody ward knows is outside both.
	app := w.patientApp("launch/patient", "patient/Task.rs")
	if _, ids, _ := w.bundle(app, "/fhir/Task"); !has(ids, mine.ID) || slices.Contains(ids, a.ID) {
		t.Errorf("patient app search: %v", ids)
	}
	w.get(app, "/fhir/Task/"+a.ID, http.StatusNotFound)
	w.get(app, "/fhir/Task/"+mine.ID, http.StatusOK)
	w.get(staff, "/fhir/Task", http.StatusBadRequest)
	w.get(staff, "/fhir/Task/"+a.ID, http.StatusNotFound)
	w.get(staff, "/fhir/Task/"+mine.ID, http.StatusOK)
	// Without a Task scope at all: 403.
	w.get(backend("system/Patient.rs"), "/fhir/Task", http.StatusForbidden)
	w.get(backend("system/Task.certify"), "/fhir/Task/"+a.ID, http.StatusForbidden)
	w.get(noToken, "/fhir/Task/"+a.ID, http.StatusUnauthorized)
	// Unsupported parameters are refused, not ignored.
	w.get(sys, "/fhir/Task?owner=Organization/1", http.StatusBadRequest)

	// A signed-in registrar's user/ action scope reaches the declarations
	// of patients they may edit, and no other; a system/ action scope
	// means nothing with a person signed in.
	w.act(w.staffApp("system/Task.validate"), mine.ID, "validate-declaration", nil, http.StatusForbidden)
	w.act(w.staffApp("user/Task.validate"), a.ID, "validate-declaration", nil, http.StatusNotFound)
	w.act(w.staffApp("user/Task.validate"), mine.ID, "validate-declaration", nil, http.StatusOK)
	w.act(w.patientApp("launch/patient", "patient/Task.cruds"), mine.ID, "register", nil, http.StatusForbidden)
}

func (w *world) testTaskBadInput(t *testing.T) {
	cases := map[string]struct {
		body string
		want int
	}{
		"malformed":           {`{"resourceType":"Task",`, 400},
		"wrong type":          {`{"resourceType":"Patient"}`, 400},
		"no resourceType":     {`{"status":"requested","intent":"order"}`, 400},
		"array":               {`[]`, 400},
		"NUL escape":          {`{"resourceType":"Task","status":"requested","intent":"order","for":{"display":"a\u0000b"}}`, 400},
		"raw NUL":             {"{\"resourceType\":\"Task\",\"status\":\"requested\",\"intent\":\"order\",\"for\":{\"display\":\"a\x00b\"}}", 400},
		"invalid UTF-8":       {"{\"resourceType\":\"Task\",\"status\":\"requested\",\"intent\":\"order\",\"for\":{\"display\":\"a\xffb\"}}", 400},
		"no intent":           {`{"resourceType":"Task","status":"requested","for":{"display":"a"}}`, 400},
		"bad intent":          {`{"resourceType":"Task","status":"requested","intent":"wish","for":{"display":"a"}}`, 400},
		"no status":           {`{"resourceType":"Task","intent":"order","for":{"display":"a"}}`, 400},
		"bad status":          {`{"resourceType":"Task","status":"done","intent":"order","for":{"display":"a"}}`, 400},
		"not requested":       {`{"resourceType":"Task","status":"completed","intent":"order","for":{"display":"a"}}`, 400},
		"business status":     {`{"resourceType":"Task","status":"requested","intent":"order","for":{"display":"a"},"businessStatus":{"coding":[{"code":"registered"}]}}`, 400},
		"nobody":              {`{"resourceType":"Task","status":"requested","intent":"order"}`, 400},
		"unknown patient":     {`{"resourceType":"Task","status":"requested","intent":"order","for":{"reference":"Patient/999999"}}`, 400},
		"bad patient id":      {`{"resourceType":"Task","status":"requested","intent":"order","for":{"reference":"Patient/abc"}}`, 400},
		"unknown field":       {`{"resourceType":"Task","status":"requested","intent":"order","for":{"display":"a"},"Status":"x"}`, 400},
		"input without value": {`{"resourceType":"Task","status":"requested","intent":"order","input":[{"type":{"text":"x"}}]}`, 400},
		"input two values":    {`{"resourceType":"Task","status":"requested","intent":"order","input":[{"type":{"text":"x"},"valueString":"a","valueBoolean":true}]}`, 400},
		"input without type":  {`{"resourceType":"Task","status":"requested","intent":"order","input":[{"valueString":"a"}]}`, 400},
		"bad date":            {`{"resourceType":"Task","status":"requested","intent":"order","for":{"display":"a"},"authoredOn":"yesterday"}`, 400},
		"trailing data":       {`{"resourceType":"Task","status":"requested","intent":"order","for":{"display":"a"}} {}`, 400},
		"huge":                {`{"resourceType":"Task","status":"requested","intent":"order","for":{"display":"` + strings.Repeat("x", 2<<20) + `"}}`, 413},
	}
	for name, c := range cases {
		r := w.do(portal(), http.MethodPost, "/fhir/Task", []byte(c.body))
		if r.status != c.want {
			t.Errorf("%s: %d, want %d: %.300s", name, r.status, c.want, r.body)
			continue
		}
		var oo fhir.OperationOutcome
		if err := json.Unmarshal(r.body, &oo); err != nil || len(oo.Issue) == 0 {
			t.Errorf("%s: not an OperationOutcome: %v", name, err)
		}
	}
	// Creating needs Task.c: read and action scopes do not give it.
	for _, a := range []actor.Actor{backend("system/Task.rs"), backend("system/Task.certify"), w.patientApp()} {
		w.check(w.do(a, http.MethodPost, "/fhir/Task", declaration("")), http.StatusForbidden, "create without Task.c")
	}
	w.check(w.do(noToken, http.MethodPost, "/fhir/Task", declaration("")), http.StatusUnauthorized, "create without a token")
	// Interactions Task does not offer are 405, not 404 or 500.
	tv := w.submit(portal(), declaration(""))
	for _, m := range []string{http.MethodPut, http.MethodDelete} {
		if r := w.do(backend("system/*.cruds"), m, "/fhir/Task/"+tv.ID, declaration("")); r.status != http.StatusMethodNotAllowed {
			t.Errorf("%s Task: %d", m, r.status)
		}
	}
	if r := w.do(registrar(""), http.MethodGet, "/fhir/Task/"+tv.ID+"/$register", nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET $register: %d", r.status)
	}
	w.get(portal(), "/fhir/Task/abc", http.StatusNotFound)
	w.get(portal(), "/fhir/Task/999999", http.StatusNotFound)
	// A declaration is stored as sent (apart from what ward manages):
	// the elements round-trip.
	r := w.get(portal(), "/fhir/Task/"+tv.ID, http.StatusOK)
	for _, s := range []string{`"valueDate":"2026-11-30"`, `"display":"Baby Nakato"`, `"intent":"proposal"`, `"lastModified":"`} {
		if !strings.Contains(string(r.body), s) {
			t.Errorf("stored Task lacks %s: %s", s, r.body)
		}
	}
}

func (w *world) testTaskMetadata(t *testing.T) {
	// Discovery lists the action scopes.
	d := w.do(noToken, http.MethodGet, "/.well-known/smart-configuration", nil)
	var conf struct {
		ScopesSupported []string `json:"scopes_supported"`
	}
	if err := json.Unmarshal(d.body, &conf); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"validate", "register", "certify", "issue", "reject"} {
		if !slices.Contains(conf.ScopesSupported, "system/Task."+a) {
			t.Errorf("scopes_supported lacks system/Task.%s: %v", a, conf.ScopesSupported)
		}
	}
	r := w.get(noToken, "/fhir/metadata", http.StatusOK)
	cs, err := fhir.DecodeCapabilityStatement(r.body)
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range cs.Rest[0].Resource {
		if res.Type != "Task" {
			continue
		}
		var ops, ins []string
		for _, o := range res.Operation {
			ops = append(ops, o.Name)
		}
		for _, in := range res.Interaction {
			ins = append(ins, in.Code)
		}
		if !slices.Equal(ops, []string{"validate-declaration", "register", "certify", "issue", "reject"}) ||
			!slices.Equal(ins, []string{"read", "search-type", "create"}) {
			t.Errorf("Task in the statement: operations %v interactions %v", ops, ins)
		}
		return
	}
	t.Error("Task is not in the CapabilityStatement")
}

// A client registered with action scopes gets them in a real token and
// uses them, as an administrator would set it up with
// `ward client create --scope "system/Task.certify"`.
func (w *world) testTaskRegisteredClient(t *testing.T) {
	sys := actor.System(context.Background())
	c, secret, err := w.svc.Clients.Create(sys, client.Settings{Name: "Registry office",
		GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/Task.crs system/Task.register system/Task.certify"})
	if err != nil {
		t.Fatal(err)
	}
	token := func(scope string) (int, string) {
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
		req := httptest.NewRequest(http.MethodPost, oauth.PathToken, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(c.ID, secret)
		rec := httptest.NewRecorder()
		w.h.ServeHTTP(rec, req)
		var body struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return rec.Code, body.AccessToken
	}
	// A scope the client was not registered for is refused.
	if code, _ := token("system/Task.issue"); code != http.StatusBadRequest {
		t.Errorf("token for an unregistered action: %d", code)
	}
	code, tok := token("system/Task.crs system/Task.register")
	if code != http.StatusOK || tok == "" {
		t.Fatalf("token: %d", code)
	}
	call := func(method, path string, body []byte) response {
		var req *http.Request
		if body != nil {
			req = httptest.NewRequest(method, "http://ward.test"+path, strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/fhir+json")
		} else {
			req = httptest.NewRequest(method, "http://ward.test"+path, nil)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		w.h.ServeHTTP(rec, req)
		return response{rec.Code, rec.Header(), rec.Body.Bytes()}
	}
	r := call(http.MethodPost, "/fhir/Task", declaration(""))
	w.check(r, http.StatusCreated, "create with a real token")
	tv := decodeTask(t, r.body)
	w.check(call(http.MethodPost, "/fhir/Task/"+tv.ID+"/$register", nil), http.StatusOK, "$register with a real token")
	// certify is registered but was not asked for in this token.
	w.check(call(http.MethodPost, "/fhir/Task/"+tv.ID+"/$certify", nil), http.StatusForbidden, "$certify not in the token")
}
