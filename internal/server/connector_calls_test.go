package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/audit"
	"ward/internal/config"
	"ward/internal/connector/mistest"
	"ward/internal/directory"
	"ward/internal/httpauth"
	"ward/internal/mail"
	"ward/internal/server"
	"ward/internal/testutil"
)

// passRig is a ward server with a connector to a test MIS.
type passRig struct {
	t     *testing.T
	srv   *server.Server
	svc   *server.Services
	h     http.Handler
	mis   *mistest.Server
	clock *testutil.Clock
	url   string
}

const passPassword = "a long enough passphrase 31"

func newPassRig(t *testing.T, dbURL string) *passRig {
	clock := testutil.NewClock(time.Now().UTC()) // ward and the MIS share it
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = dbURL
	cfg.OutboundAllowPrivate = true
	srv, err := server.New(context.Background(), cfg, server.WithClock(clock.Now))
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	m := mistest.New(t, mistest.Options{Now: clock.Now})
	return &passRig{t: t, srv: srv, svc: srv.Services(), h: srv.Handler(), mis: m, clock: clock, url: dbURL}
}

// person creates a signed-up person with roles and returns their email.
func (r *passRig) person(email string, roles ...string) string {
	r.t.Helper()
	sys := actor.System(context.Background())
	u, err := r.svc.Directory.CreateUser(sys, directory.NewUser{User: directory.User{Email: email}, Roles: roles})
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.svc.Directory.SetPassword(sys, u.ID, passPassword); err != nil {
		r.t.Fatal(err)
	}
	return email
}

// login signs email in now (the clock may have ended earlier sessions).
func (r *passRig) login(email string) string {
	r.t.Helper()
	cookie, _, err := r.svc.Sessions.Login(context.Background(), email, passPassword)
	if err != nil {
		r.t.Fatalf("login %s: %v", email, err)
	}
	return cookie
}

func (r *passRig) send(method, target, cookie string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: httpauth.CookieName, Value: cookie})
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, req)
	return rec
}

func jsonBody(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// connect creates the connector campdoc through the API and primes it
// through the connect route and the test MIS's login.
func (r *passRig) connect(admin string) {
	r.t.Helper()
	r.create(admin)
	r.prime(admin)
}

// create creates the connector campdoc through the API, unprimed.
func (r *passRig) create(admin string) {
	r.t.Helper()
	if rec := r.send("POST", "/api/connector", admin, jsonBody(map[string]any{"name": "campdoc",
		"base_url": r.mis.BaseURL(), "authorize_url": r.mis.AuthorizeURL(), "token_url": r.mis.TokenURL(),
		"client_id": r.mis.ClientID(), "client_secret": r.mis.ClientSecret(),
		"redirect_uri": "https://ward.test/admin/connectors/campdoc/callback"})); rec.Code != http.StatusCreated {
		r.t.Fatalf("create connector: %d %s", rec.Code, rec.Body)
	}
}

// prime connects campdoc as an admin's browser does: the connect route,
// the MIS's login, ward's callback.
func (r *passRig) prime(admin string) {
	r.t.Helper()
	rec := r.send("GET", "/admin/connectors/campdoc/connect", admin, nil)
	if rec.Code != http.StatusSeeOther {
		r.t.Fatalf("connect: %d %s", rec.Code, rec.Body)
	}
	back, err := r.mis.Login(rec.Header().Get("Location"))
	if err != nil {
		r.t.Fatalf("MIS login: %v", err)
	}
	if rec := r.send("GET", back.RequestURI(), admin, nil); rec.Code != http.StatusOK {
		r.t.Fatalf("callback: %d %s", rec.Code, rec.Body)
	}
}

func (r *passRig) status(admin string) string {
	r.t.Helper()
	var st struct {
		Status string `json:"status"`
	}
	rec := r.send("GET", "/api/connector/campdoc", admin, nil)
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		r.t.Fatalf("status: %d %s", rec.Code, rec.Body)
	}
	return st.Status
}

// dump is the database's bytes (SQLite's files) or its connector and
// audit rows as text (PostgreSQL), to look for what must not be in clear.
func (r *passRig) dump() []byte {
	r.t.Helper()
	return testutil.Dump(r.t, r.url, r.svc.DB.Writer(), "connectors", "connector_states", "audit_events")
}

func (r *passRig) events(from int64) []audit.Event {
	r.t.Helper()
	var got []audit.Event
	if err := r.svc.DB.ScanAudit(context.Background(), from, func(e audit.Event) error {
		got = append(got, e)
		return nil
	}); err != nil {
		r.t.Fatal(err)
	}
	return got
}

func want(t *testing.T, rec *httptest.ResponseRecorder, code int, what string) {
	t.Helper()
	if rec.Code != code {
		t.Fatalf("%s: %d %s, want %d", what, rec.Code, rec.Body, code)
	}
}

// TestConnectorPassThroughDone is issue 16's "Done means": an admin creates
// a connector, connects it through the MIS's login, and profile and
// registration calls through the pass-through API work across days of
// simulated time while tokens expire and refresh themselves; no token is
// in the database in clear; a grant revoked at the MIS ends as a
// disconnected connector with an audit event, and calls then fail at once
// without reaching the MIS.
func TestConnectorPassThroughDone(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		r := newPassRig(t, dbURL)
		adminEmail := r.person("root@example.org", directory.RoleAdmin)
		admin := r.login(adminEmail)
		r.connect(admin)
		if st := r.status(admin); st != "connected" {
			t.Fatalf("after priming: %s", st)
		}
		p := r.mis.AddProfile(mistest.Profile{Identifier: "C-100", GivenName: "Ada", FamilyName: "Lovelace", DOB: "2012-05-01"})
		g := r.mis.AddGroup(mistest.Group{Identifier: "S27", Name: "Summer 2027"})
		pid, gid := fmt.Sprint(p.ID), fmt.Sprint(g.ID)
		base := "/api/connector/campdoc"
		issuedAtStart := len(r.mis.Issued())

		for day := range 4 {
			if day > 0 {
				r.clock.Advance(26 * time.Hour) // past the access token's hour, every day
				admin = r.login(adminEmail)     // the earlier session has idled out
			}
			want(t, r.send("GET", base+"/profiles/C-100", admin, nil), http.StatusOK, "get profile")
			want(t, r.send("PUT", base+"/profiles/C-100", admin, jsonBody(map[string]string{"sex": "female"})),
				http.StatusOK, "update profile")
			want(t, r.send("PUT", base+fmt.Sprintf("/profiles/N-%d", day), admin,
				jsonBody(map[string]string{"given_name": "Grace", "family_name": "Hopper"})), http.StatusOK, "create profile")
			rec := r.send("POST", base+"/profiles/"+pid+"/registrations", admin, jsonBody(map[string]string{"group_id": gid}))
			want(t, rec, http.StatusCreated, "create registration")
			var reg struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &reg); err != nil || reg.ID == "" {
				t.Fatalf("registration: %s", rec.Body)
			}
			rec = r.send("GET", base+"/profiles/"+pid+"/registrations", admin, nil)
			want(t, rec, http.StatusOK, "list registrations")
			if !strings.Contains(rec.Body.String(), `"id":"`+reg.ID+`"`) {
				t.Fatalf("registrations lack %s: %s", reg.ID, rec.Body)
			}
			want(t, r.send("DELETE", base+"/profiles/"+pid+"/registrations/"+reg.ID, admin, nil), http.StatusNoContent, "deactivate")
			want(t, r.send("GET", base+"/profiles/"+pid+"/reviews", admin, nil), http.StatusOK, "reviews")
		}
		// The other routes, once.
		rec := r.send("GET", base+"/profiles?limit=1", admin, nil)
		want(t, rec, http.StatusOK, "list profiles")
		var page struct {
			Items []map[string]any `json:"items"`
			More  bool             `json:"more"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || len(page.Items) != 1 || !page.More {
			t.Fatalf("profiles?limit=1: %s", rec.Body)
		}
		want(t, r.send("GET", base+"/profiles?limit=100000", admin, nil), http.StatusBadRequest, "limit over the cap")
		want(t, r.send("GET", base+"/groups", admin, nil), http.StatusOK, "list groups")
		want(t, r.send("GET", base+"/groups/"+gid, admin, nil), http.StatusOK, "get group")
		want(t, r.send("GET", base+"/groups/999999", admin, nil), http.StatusNotFound, "no such group")
		want(t, r.send("GET", base+"/profiles/NOPE-1", admin, nil), http.StatusNotFound, "no such profile")
		want(t, r.send("POST", base+"/users", admin, jsonBody(map[string]string{"identifier": "C-100",
			"email": "ada@example.org", "givenName": "Ada", "familyName": "Lovelace"})), http.StatusCreated, "create user")
		want(t, r.send("POST", base+"/sso", admin, jsonBody(map[string]string{"email": "ada@example.org"})), http.StatusOK, "sso")
		want(t, r.send("GET", "/api/connector/nope/groups", admin, nil), http.StatusNotFound, "no such connector")

		if len(r.mis.Issued()) <= issuedAtStart+2 {
			t.Fatalf("the MIS issued %d secrets over the days, after %d at priming: tokens were not refreshed",
				len(r.mis.Issued()), issuedAtStart)
		}
		if st := r.status(admin); st != "connected" {
			t.Fatalf("after the days: %s", st)
		}
		// The calls are counted on ward's registry, by connector.
		if _, body := get(t, r.h, "/metrics"); !strings.Contains(body,
			`ward_connector_calls_total{connector="campdoc",operation="create_registration",outcome="ok"} 4`) {
			t.Fatal("/metrics lacks the connector calls")
		}
		dump := r.dump()
		for _, s := range r.mis.Issued() {
			if strings.HasPrefix(s, "http") {
				continue // an SSO link, handed to the caller, never stored
			}
			if bytes.Contains(dump, []byte(s)) {
				t.Errorf("the database holds %q in clear", s)
			}
		}
		if bytes.Contains(dump, []byte("Lovelace")) {
			t.Error("the database holds a name read through the MIS")
		}
		if !bytes.Contains(dump, []byte("connector.called")) {
			t.Fatal("the dump does not hold the audit of the calls: the scan read nothing")
		}

		// A revoked grant: the next call finds out, the connector ends
		// disconnected with an event, and later calls do not reach the MIS.
		head, _, err := r.svc.DB.AuditHead(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		r.mis.RevokeGrants()
		want(t, r.send("GET", base+"/groups", admin, nil), http.StatusServiceUnavailable, "after the revocation")
		if st := r.status(admin); st != "disconnected" {
			t.Fatalf("after the revocation: %s", st)
		}
		var disconnected bool
		for _, e := range r.events(head) {
			disconnected = disconnected || e.Type == audit.ConnectorDisconnected
		}
		if !disconnected {
			t.Fatal("no connector.disconnected event")
		}
		n := len(r.mis.Requests())
		rec = r.send("GET", base+"/profiles/C-100", admin, nil)
		want(t, rec, http.StatusServiceUnavailable, "disconnected")
		if !strings.Contains(rec.Body.String(), "disconnected") {
			t.Fatalf("the problem does not say why: %s", rec.Body)
		}
		if got := len(r.mis.Requests()); got != n {
			t.Fatalf("a call on a disconnected connector reached the MIS (%d requests, was %d)", got, n)
		}
		// The administrator was mailed once (stored not_sent: no SMTP
		// here), without any secret the MIS issued.
		alerts, err := r.svc.DB.ListMailMessages(context.Background(), "", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(alerts) != 1 || alerts[0].RecipientAddress != adminEmail || alerts[0].Status != mail.StatusNotSent ||
			!strings.Contains(alerts[0].Body, "/admin/connectors/campdoc/connect") {
			t.Fatalf("disconnection alerts %+v, want one not_sent to %s", alerts, adminEmail)
		}
		for _, s := range r.mis.Issued() {
			if strings.Contains(alerts[0].Body, s) {
				t.Fatalf("the alert holds a secret the MIS issued")
			}
		}
	})
}

// TestConnectorPassThroughRefusals: only administrators call through (the
// others are refused before the MIS is reached, and leave no
// connector.called event); bad text and huge bodies are 4xx.
func TestConnectorPassThroughRefusals(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		r := newPassRig(t, dbURL)
		admin := r.login(r.person("root@example.org", directory.RoleAdmin))
		base := "/api/connector/campdoc"
		// Before priming: 503, and the MIS is not called.
		r.create(admin)
		want(t, r.send("GET", base+"/groups", admin, nil), http.StatusServiceUnavailable, "unprimed")
		if n := len(r.mis.Requests()); n != 0 {
			t.Fatalf("an unprimed connector reached the MIS %d times", n)
		}
		r.prime(admin)
		p := r.mis.AddProfile(mistest.Profile{Identifier: "C-1", GivenName: "Ada", FamilyName: "Lovelace"})
		pid := fmt.Sprint(p.ID)

		others := map[string]string{
			"staff":     r.login(r.person("staff@example.org", directory.RoleStaff)),
			"clinician": r.login(r.person("doc@example.org", directory.RoleClinician)),
			"patient":   r.login(r.person("pat@example.org", directory.RolePatient)),
			"anonymous": "",
		}
		calls := []struct {
			method, path string
			body         []byte
		}{
			{"GET", base + "/groups", nil},
			{"GET", base + "/groups/1", nil},
			{"GET", base + "/profiles", nil},
			{"GET", base + "/profiles/C-1", nil},
			{"PUT", base + "/profiles/C-1", jsonBody(map[string]string{"sex": "female"})},
			{"GET", base + "/profiles/" + pid + "/registrations", nil},
			{"POST", base + "/profiles/" + pid + "/registrations", jsonBody(map[string]string{"group_id": "1"})},
			{"DELETE", base + "/profiles/" + pid + "/registrations/1", nil},
			{"GET", base + "/profiles/" + pid + "/reviews", nil},
			{"POST", base + "/users", jsonBody(map[string]string{"identifier": "C-1", "email": "a@example.org", "givenName": "A", "familyName": "B"})},
			{"POST", base + "/sso", jsonBody(map[string]string{"email": "a@example.org"})},
		}
		head, _, err := r.svc.DB.AuditHead(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n := len(r.mis.Requests())
		for who, cookie := range others {
			wantCode := http.StatusForbidden
			if cookie == "" {
				wantCode = http.StatusUnauthorized
			}
			for _, c := range calls {
				want(t, r.send(c.method, c.path, cookie, c.body), wantCode, who+" "+c.method+" "+c.path)
			}
		}
		if got := len(r.mis.Requests()); got != n {
			t.Fatalf("refused callers reached the MIS: %d requests, was %d", got, n)
		}
		for _, e := range r.events(head) {
			if e.Type == audit.ConnectorCalled {
				t.Fatalf("a refused call was audited as made: %+v", e)
			}
		}
		// The admin's call is audited with the operation, not the body.
		want(t, r.send("GET", base+"/profiles/C-1", admin, nil), http.StatusOK, "admin get profile")
		var called *audit.Event
		for _, e := range r.events(head) {
			if e.Type == audit.ConnectorCalled {
				called = &e
			}
		}
		if called == nil || !strings.Contains(called.Payload, "mis-get-profile") || strings.Contains(called.Payload, "C-1") {
			t.Fatalf("connector.called: %+v", called)
		}

		// The MIS's refusals: its 403 (ward's grant does not cover the
		// call) is a bad gateway, its 409 stays a conflict, and a profile
		// created without its names is the caller's 400.
		r.mis.Inject(mistest.Fault{Method: "GET", Path: "/groups", Status: http.StatusForbidden, Count: 1})
		want(t, r.send("GET", base+"/groups", admin, nil), http.StatusBadGateway, "MIS 403")
		r.mis.Inject(mistest.Fault{Method: "POST", Path: "/profiles", Status: http.StatusConflict, Count: 1})
		want(t, r.send("POST", base+"/profiles/"+pid+"/registrations", admin, jsonBody(map[string]string{"group_id": "1"})),
			http.StatusConflict, "MIS 409")
		want(t, r.send("PUT", base+"/profiles/NEW-1", admin, jsonBody(map[string]string{"sex": "female"})),
			http.StatusBadRequest, "create without names")

		// Bad input is the caller's error, on every database.
		for _, c := range []struct {
			method, path string
			body         []byte
			want         int
		}{
			{"PUT", base + "/profiles/C-1", []byte(`{"given_name":"A\u0000B"}`), http.StatusBadRequest},
			{"PUT", base + "/profiles/C-1", []byte("{\"given_name\":\"A\xff\xfeB\"}"), http.StatusBadRequest},
			{"POST", base + "/sso", []byte(`{"email":"` + strings.Repeat("a", 2<<20) + `"}`), http.StatusRequestEntityTooLarge},
			{"POST", base + "/profiles/" + pid + "/registrations", []byte(`{"group_id":""}`), http.StatusBadRequest},
			{"GET", base + "/profiles/C%00-1", nil, http.StatusBadRequest},
			{"GET", base + "/groups/%FF%FE", nil, http.StatusBadRequest},
			{"GET", base + "/profiles?limit=0", nil, http.StatusBadRequest},
		} {
			rec := r.send(c.method, c.path, admin, c.body)
			if rec.Code != c.want {
				t.Errorf("%s %.60s: %d %.200s, want %d", c.method, c.path, rec.Code, rec.Body, c.want)
			}
		}
	})
}

// TestConnectorProfileSystem: a connector created with its own profile
// identifier system maps user:N through a directory identifier in that
// system (one lookup); an identifier under the default system no longer
// maps.
func TestConnectorProfileSystem(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		r := newPassRig(t, dbURL)
		admin := r.login(r.person("root@example.org", directory.RoleAdmin))
		const system = "https://mis.example.org/fhir/profile-id"
		if rec := r.send("POST", "/api/connector", admin, jsonBody(map[string]any{"name": "campdoc",
			"base_url": r.mis.BaseURL(), "authorize_url": r.mis.AuthorizeURL(), "token_url": r.mis.TokenURL(),
			"client_id": r.mis.ClientID(), "client_secret": r.mis.ClientSecret(), "profile_system": system,
			"redirect_uri": "https://ward.test/admin/connectors/campdoc/callback"})); rec.Code != http.StatusCreated ||
			!strings.Contains(rec.Body.String(), `"profile_system":"`+system+`"`) {
			t.Fatalf("create connector: %d %s", rec.Code, rec.Body)
		}
		r.prime(admin)
		p := r.mis.AddProfile(mistest.Profile{Identifier: "C-7", GivenName: "Ada", FamilyName: "Lovelace"})
		g := r.mis.AddGroup(mistest.Group{Identifier: "S27", Name: "Summer 2027"})
		sys := actor.System(context.Background())
		mapped := func(email, idSystem string) int64 {
			u, err := r.svc.Directory.CreateUser(sys, directory.NewUser{User: directory.User{Email: email},
				Identifiers: []directory.Identifier{{System: idSystem, Value: fmt.Sprint(p.ID)}}})
			if err != nil {
				t.Fatal(err)
			}
			return u.ID
		}
		own, dflt := mapped("own@example.org", system), mapped("dflt@example.org", "urn:ward:connector:campdoc:profile")
		base := "/api/connector/campdoc/profiles/"
		reg := jsonBody(map[string]string{"group_id": fmt.Sprint(g.ID)})
		want(t, r.send("POST", base+fmt.Sprintf("user:%d/registrations", own), admin, reg), http.StatusCreated,
			"register a person mapped in the connector's system")
		if regs := r.mis.Registrations(p.ID); len(regs) != 1 {
			t.Fatalf("the MIS holds %d registrations of profile %d, want 1", len(regs), p.ID)
		}
		want(t, r.send("POST", base+fmt.Sprintf("user:%d/registrations", dflt), admin, reg), http.StatusNotFound,
			"register a person mapped only in the default system")
	})
}
