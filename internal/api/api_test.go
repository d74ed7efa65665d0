package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/api"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/sqlstore"
	"ward/internal/testutil"
)

// testUserHeader names the acting user in tests; testActor stands in for the
// server's authentication middleware.
const testUserHeader = "X-Test-User"

func testActor(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get(testUserHeader); v != "" {
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				http.Error(w, "bad test user", http.StatusTeapot)
				return
			}
			r = r.WithContext(actor.With(r.Context(), actor.Actor{UserID: id}))
		}
		next.ServeHTTP(w, r)
	})
}

// plainHasher stands in for argon2id: these tests never check passwords.
type plainHasher struct{}

func (plainHasher) Hash(pw string) (string, error) { return "plain$" + pw, nil }

var testNow = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

type env struct {
	t       *testing.T
	h       http.Handler
	dir     *directory.Service
	adminID int64
}

func newEnv(t *testing.T, url string) *env {
	t.Helper()
	now := func() time.Time { return testNow }
	st := testutil.NewStore(t, url, sqlstore.WithClock(now))
	aud := audit.NewLog(audit.Deps{Store: st, Tx: st}, audit.Config{Version: "test", Now: now})
	dir := directory.NewService(directory.Deps{Store: st, Audit: aud, Hasher: plainHasher{}}, directory.Config{Now: now})
	mux := http.NewServeMux()
	api.Mount(mux, api.Deps{
		Directory: dir, Audit: aud, Base: "https://ward.test",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	admin, err := dir.CreateUser(actor.System(context.Background()), directory.NewUser{
		User:  directory.User{Email: "admin@example.org", GivenName: "Ada", FamilyName: "Admin"},
		Roles: []string{directory.RoleAdmin},
	})
	if err != nil {
		t.Fatalf("bootstrap admin: %v", err)
	}
	return &env{t: t, h: testActor(mux), dir: dir, adminID: admin.ID}
}

// response is one recorded answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends body (a string is sent as is, anything else as JSON) as user
// `as` (0 = anonymous).
func (e *env) do(method, path string, as int64, body any) response {
	e.t.Helper()
	return e.doWith(e.h, method, path, as, body)
}

func (e *env) doWith(h http.Handler, method, path string, as int64, body any) response {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("marshal body: %v", err)
		}
		r = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if as != 0 {
		req.Header.Set(testUserHeader, strconv.FormatInt(as, 10))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// must asserts the status and decodes the JSON body into v (when not nil).
func (e *env) must(res response, status int, v any) {
	e.t.Helper()
	if res.status != status {
		e.t.Fatalf("status %d, want %d; body %s", res.status, status, res.body)
	}
	if v != nil {
		if err := json.Unmarshal(res.body, v); err != nil {
			e.t.Fatalf("decode %s: %v", res.body, err)
		}
	}
}

type problemDoc struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// problem asserts res is a problem document with status and returns it.
func (e *env) problem(res response, status int) problemDoc {
	e.t.Helper()
	if res.status != status {
		e.t.Fatalf("status %d, want %d; body %s", res.status, status, res.body)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/problem+json" {
		e.t.Fatalf("Content-Type %q, want application/problem+json; body %s", ct, res.body)
	}
	var p problemDoc
	if err := json.Unmarshal(res.body, &p); err != nil {
		e.t.Fatalf("decode problem %s: %v", res.body, err)
	}
	if p.Status != status || p.Title != http.StatusText(status) || p.Detail == "" {
		e.t.Fatalf("problem %+v does not describe a %d", p, status)
	}
	return p
}

type userJSON struct {
	ID        int64  `json:"id"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	BirthDate string `json:"birthdate"`
}

func (e *env) createUser(email, first, last string, roles []string, orgs []int64) int64 {
	e.t.Helper()
	body := map[string]any{"email": email, "first_name": first, "last_name": last, "birthdate": "1960-05-01"}
	var rs []map[string]string
	for _, r := range roles {
		rs = append(rs, map[string]string{"name": r})
	}
	body["roles"] = rs
	var os []map[string]int64
	for _, o := range orgs {
		os = append(os, map[string]int64{"organization_id": o})
	}
	body["organizations"] = os
	var u userJSON
	e.must(e.do("POST", "/api/account", e.adminID, body), http.StatusCreated, &u)
	if u.ID == 0 || u.Email != email {
		e.t.Fatalf("created user %+v", u)
	}
	return u.ID
}

type fhirOrg struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Name         string `json:"name"`
	PartOf       *struct {
		Reference string `json:"reference"`
	} `json:"partOf"`
}

func (e *env) createOrg(name string, parent int64) int64 {
	e.t.Helper()
	body := map[string]any{"resourceType": "Organization", "name": name}
	if parent != 0 {
		body["partOf"] = map[string]string{"reference": fmt.Sprintf("Organization/%d", parent)}
	}
	res := e.do("POST", "/api/organization", e.adminID, body)
	var o fhirOrg
	e.must(res, http.StatusCreated, &o)
	if ct := res.header.Get("Content-Type"); ct != "application/fhir+json" {
		e.t.Fatalf("Content-Type %q", ct)
	}
	testutil.ValidateFHIR(e.t, res.body)
	id, err := strconv.ParseInt(o.ID, 10, 64)
	if err != nil || o.Name != name || o.ResourceType != "Organization" {
		e.t.Fatalf("created organization %s", res.body)
	}
	if res.header.Get("Location") != "https://ward.test/api/organization/"+o.ID {
		e.t.Fatalf("Location %q", res.header.Get("Location"))
	}
	return id
}

// world is the cast of the scenario tests: an org tree, a staff member in
// the top organization, a consented patient in the child, and a second
// patient who never consented.
type world struct {
	top, child, other        int64
	staff, patient, stranger int64
}

func (e *env) world() world {
	e.t.Helper()
	var w world
	w.top = e.createOrg("Top Clinic", 0)
	w.child = e.createOrg("Child Clinic", w.top)
	w.other = e.createOrg("Other Clinic", 0)
	w.staff = e.createUser("staff@example.org", "Sam", "Staff", []string{"staff"}, []int64{w.top})
	w.patient = e.createUser("pat@example.org", "Pat", "Patient", []string{"patient"}, []int64{w.child})
	w.stranger = e.createUser("stranger@example.org", "Stan", "Stranger", []string{"patient"}, []int64{w.other})
	e.must(e.do("POST", fmt.Sprintf("/api/user/%d/consent", w.patient), e.adminID, map[string]any{
		"organization_id": w.child, "agreement_url": "https://example.org/agreement", "staff_editable": true,
	}), http.StatusCreated, nil)
	return w
}
