package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"ward/internal/actor"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/server"
	"ward/internal/store"
	"ward/internal/testutil"
)

// The escalation suite (issue 9): the whole server on a real listener, each
// role signed in the way it would be from outside (a browser session, or
// the bearer token it can obtain), every management write and the FHIR
// writes, asserting the answer of the rule "nobody can create a principal,
// client, token, role grant or scope with more power than they hold"
// (internal/grantpolicy). It drives ward only through HTTP, so it runs
// unchanged against older builds, where it shows the escalations.

const escPassword = "escalation password 1"

// escRedirect is a redirect URI nothing listens on: the browser stops at
// the redirect and reads the code from it.
const escRedirect = "http://127.0.0.1:9/cb"

// principal is one caller: a signed-in person (session cookie), a bearer
// token holder, or nobody.
type principal struct {
	role   string
	id     int64
	cookie *http.Cookie
	bearer string
	// fhir is the FHIR access token the role can obtain ("" for none).
	fhir string
}

type escEnv struct {
	t    *testing.T
	base string
	svc  *server.Services
	// noRedirect is an HTTP client that stops at every redirect.
	noRedirect *http.Client
}

func newEscEnv(t *testing.T, dbURL string) *escEnv {
	t.Helper()
	ln := testutil.Listen(t)
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = dbURL
	cfg.Addr = ln.Addr().String()
	cfg.Issuer = "http://" + ln.Addr().String()
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	testutil.Serve(t, srv, ln)
	return &escEnv{t: t, base: cfg.Issuer, svc: srv.Services(),
		noRedirect: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// user creates a person as ward itself; password "" for none.
func (e *escEnv) user(email, password string, roles []string, orgs ...int64) int64 {
	e.t.Helper()
	u, err := e.svc.Directory.CreateUser(actor.System(context.Background()), directory.NewUser{
		User:     directory.User{Email: email, GivenName: "Esc", FamilyName: strings.Split(email, "@")[0], BirthDate: "1970-01-01"},
		Password: password, Roles: roles, OrgIDs: orgs})
	if err != nil {
		e.t.Fatalf("create %s: %v", email, err)
	}
	return u.ID
}

// signIn posts the sign-in form and returns the session cookie.
func (e *escEnv) signIn(email string) *http.Cookie {
	e.t.Helper()
	res, err := e.noRedirect.PostForm(e.base+"/login", url.Values{"email": {email}, "password": {escPassword}, "next": {"/"}})
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	for _, c := range res.Cookies() {
		if c.Value != "" {
			return c
		}
	}
	e.t.Fatalf("sign-in of %s set no cookie: %d", email, res.StatusCode)
	return nil
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request as p: JSON body (or raw bytes), p's credentials.
func (e *escEnv) do(p principal, method, path string, body any, token string) answer {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.base+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		if strings.HasPrefix(path, "/fhir/") {
			req.Header.Set("Content-Type", "application/fhir+json")
		}
	}
	switch {
	case token != "":
		req.Header.Set("Authorization", "Bearer "+token)
	case p.bearer != "":
		req.Header.Set("Authorization", "Bearer "+p.bearer)
	case p.cookie != nil:
		req.AddCookie(p.cookie)
	}
	res, err := e.noRedirect.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, header: res.Header, body: b}
}

var escHiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

// authorize runs the authorization code flow for p (signed in already) on
// clientID, allowing on the consent page, and returns the redirect back to
// the app.
func (e *escEnv) authorize(p principal, clientID, scope, verifier string) *url.URL {
	e.t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {escRedirect},
		"scope": {scope}, "state": {"escalation-state"}, "code_challenge_method": {"S256"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}}
	a := e.do(p, http.MethodGet, "/oauth/authorize?"+q.Encode(), nil, "")
	if a.status == http.StatusOK && bytes.Contains(a.body, []byte(`name="decision"`)) {
		f := url.Values{}
		for _, m := range escHiddenRE.FindAllStringSubmatch(string(a.body), -1) {
			f.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
		}
		f.Set("decision", "allow")
		req, _ := http.NewRequest(http.MethodPost, e.base+"/oauth/authorize", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", e.base)
		req.AddCookie(p.cookie)
		res, err := e.noRedirect.Do(req)
		if err != nil {
			e.t.Fatal(err)
		}
		res.Body.Close()
		a = answer{status: res.StatusCode, header: res.Header}
	}
	loc, err := url.Parse(a.header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), escRedirect) {
		e.t.Fatalf("%s: authorize on %s ended at %d %q:\n%.400s", p.role, clientID, a.status, a.header.Get("Location"), a.body)
	}
	return loc
}

// fhirToken is the access token p gets from clientID by the authorization
// code flow, failing the test when the flow refuses.
func (e *escEnv) fhirToken(p principal, clientID, scope string) string {
	e.t.Helper()
	verifier := oauth2.GenerateVerifier()
	loc := e.authorize(p, clientID, scope, verifier)
	if loc.Query().Get("code") == "" {
		e.t.Fatalf("%s: no code from %s: %s", p.role, clientID, loc)
	}
	res, err := http.PostForm(e.base+"/oauth/token", url.Values{"grant_type": {"authorization_code"},
		"code": {loc.Query().Get("code")}, "redirect_uri": {escRedirect}, "client_id": {clientID},
		"code_verifier": {verifier}})
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || res.StatusCode != http.StatusOK || tok.AccessToken == "" {
		e.t.Fatalf("%s: token exchange on %s: %d %v", p.role, clientID, res.StatusCode, err)
	}
	return tok.AccessToken
}

// clientCredentials asks for a client_credentials token; "" when refused.
func (e *escEnv) clientCredentials(id, secret, scope string) string {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.base+"/oauth/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&tok)
	return tok.AccessToken
}

// escWorld is the cast: one principal per role, an org tree, and a
// patient of the clinic who consented (staff-editable) and holds no
// password (nobody signs in as them).
type escWorld struct {
	e          *escEnv
	top, child int64
	patient    int64
	by         map[string]principal
	roles      []string // principal roles, admin last
	// app is an administrator's active public client for user/ scopes.
	app string
}

// escRoles is the static role set that matters, as the suite names them;
// admin comes last so that an admin's successful change never decides
// what the others' attempts meet.
var escRoles = []string{"application_developer", "staff_admin", "staff", "clinician", "patient", "service", "no role", "anonymous", "admin"}

func newEscWorld(t *testing.T, e *escEnv) *escWorld {
	t.Helper()
	w := &escWorld{e: e, by: map[string]principal{}, roles: escRoles}
	sys := actor.System(context.Background())
	top, err := e.svc.Directory.CreateOrganization(sys, &directory.Organization{Name: "Top Clinic"})
	if err != nil {
		t.Fatal(err)
	}
	child, err := e.svc.Directory.CreateOrganization(sys, &directory.Organization{Name: "Child Clinic", PartOfID: top.ID})
	if err != nil {
		t.Fatal(err)
	}
	w.top, w.child = top.ID, child.ID
	w.patient = e.user("consented@example.org", "", []string{directory.RolePatient}, w.child)
	if _, err := e.svc.Directory.AddConsent(sys, &directory.Consent{UserID: w.patient, OrganizationID: w.child,
		StaffEditable: true, AgreementURL: "https://example.org/agreement"}); err != nil {
		t.Fatal(err)
	}
	signedIn := map[string][]string{
		"admin": {directory.RoleAdmin}, "application_developer": {directory.RoleApplicationDeveloper},
		"staff_admin": {directory.RoleStaffAdmin}, "staff": {directory.RoleStaff}, "clinician": {directory.RoleClinician},
		"patient": {directory.RolePatient}, "no role": nil,
	}
	for role, roles := range signedIn {
		email := strings.ReplaceAll(role, " ", "-") + "@example.org"
		var orgs []int64
		if role != "admin" && role != "application_developer" && role != "no role" {
			orgs = []int64{w.top}
		}
		id := e.user(email, escPassword, roles, orgs...)
		w.by[role] = principal{role: role, id: id, cookie: e.signIn(email)}
	}
	w.by["anonymous"] = principal{role: "anonymous"}
	// The service role as one obtains it: a service account an
	// administrator created (for a sponsor of its own, so that the rows
	// below, which re-issue other service accounts, leave it alone), whose
	// token acts with that role.
	var sa struct {
		ServiceUserID int64  `json:"service_user_id"`
		AccessToken   string `json:"access_token"`
	}
	admin := w.by["admin"]
	sponsor := e.user("sponsor@example.org", "", []string{directory.RoleApplicationDeveloper})
	a := e.do(admin, http.MethodPost, fmt.Sprintf("/api/user/%d/service-account", sponsor), nil, "")
	if a.status != http.StatusCreated || json.Unmarshal(a.body, &sa) != nil || sa.AccessToken == "" {
		t.Fatalf("the admin's service account: %d %s", a.status, a.body)
	}
	w.by["service"] = principal{role: "service", id: sa.ServiceUserID, bearer: sa.AccessToken, fhir: sa.AccessToken}

	// FHIR tokens: each signed-in role authorizes the administrator's
	// active app for user/ scopes, bounded by their own rights.
	var app struct {
		ClientID string `json:"client_id"`
	}
	a = e.do(admin, http.MethodPost, "/api/client", map[string]any{"client_name": "Escalation app", "public": true,
		"grant_types": []string{"authorization_code"}, "redirect_uris": []string{escRedirect}, "scope": "openid user/*.cruds"}, "")
	if a.status != http.StatusCreated || json.Unmarshal(a.body, &app) != nil {
		t.Fatalf("the admin's app: %d %s", a.status, a.body)
	}
	w.app = app.ClientID
	for role := range signedIn {
		p := w.by[role]
		p.fhir = e.fhirToken(p, w.app, "openid user/*.cruds")
		w.by[role] = p
	}
	return w
}

// devApp is a client as an application developer registers one.
func devApp(name string) map[string]any {
	return map[string]any{"client_name": name, "public": true, "grant_types": []string{"authorization_code"},
		"redirect_uris": []string{escRedirect}, "scope": "openid fhirUser patient/*.rs user/*.cruds"}
}

// want maps roles to statuses; def is every other role's.
func want(def int, by map[string]int) map[string]int {
	out := map[string]int{}
	for _, r := range escRoles {
		out[r] = def
	}
	for r, s := range by {
		out[r] = s
	}
	return out
}

// TestEscalation asserts the rule table for every role and write.
func TestEscalation(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEscEnv(t, dbURL)
		w := newEscWorld(t, e)
		dev := w.by["application_developer"]

		// The developer's own app, for the client rows below.
		var devClient struct {
			ClientID string `json:"client_id"`
			Status   string `json:"status"`
		}
		a := e.do(dev, http.MethodPost, "/api/client", devApp("Developer's app"), "")
		if a.status != http.StatusCreated || json.Unmarshal(a.body, &devClient) != nil {
			t.Fatalf("the developer registers an app: %d %s", a.status, a.body)
		}
		if devClient.Status != "pending" {
			t.Errorf("a developer's new client is %q, want pending", devClient.Status)
		}
		// Pending, it serves its owner only: a patient who tries it is
		// refused; the developer tests it with their own sign-in, which
		// reaches no one else's record.
		if loc := e.authorize(w.by["patient"], devClient.ClientID, "openid user/*.cruds", oauth2.GenerateVerifier()); loc.Query().Get("error") != "access_denied" {
			t.Errorf("a patient authorized the developer's pending app: %s", loc)
		}
		devTok := e.fhirToken(dev, devClient.ClientID, "openid user/*.cruds")
		if a := e.do(dev, http.MethodGet, fmt.Sprintf("/fhir/Patient/%d", w.patient), nil, devTok); a.status != http.StatusNotFound {
			t.Errorf("the developer's own token of their pending app reads the patient: %d", a.status)
		}

		// target returns a fresh staff member of the top clinic, for one
		// role grant each.
		n := 0
		target := func() int64 {
			n++
			return e.user(fmt.Sprintf("target%d@example.org", n), "", []string{directory.RoleStaff}, w.top)
		}
		selfOr := func(p principal) int64 {
			if p.id == 0 {
				return dev.id
			}
			return p.id
		}
		observation := []byte(fmt.Sprintf(`{"resourceType":"Observation","status":"final",
			"code":{"coding":[{"system":"http://loinc.org","code":"2345-7"}]},
			"subject":{"reference":"Patient/%d"},"effectiveDateTime":"2025-01-02T03:04:05Z",
			"valueQuantity":{"value":5.4,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"}}`, w.patient))
		var patientDoc map[string]any
		if a := e.do(w.by["admin"], http.MethodGet, fmt.Sprintf("/fhir/Patient/%d", w.patient), nil, w.by["admin"].fhir); a.status != http.StatusOK ||
			json.Unmarshal(a.body, &patientDoc) != nil {
			t.Fatalf("read the patient: %d %s", a.status, a.body)
		}
		patientDoc["gender"] = "other"
		delete(patientDoc, "meta")
		patientBody, _ := json.Marshal(patientDoc)

		signedInOnly := func(def int, by map[string]int) map[string]int {
			m := want(def, by)
			m["anonymous"] = http.StatusUnauthorized
			return m
		}
		staffCreate := map[string]int{"admin": http.StatusCreated, "staff_admin": http.StatusCreated,
			"staff": http.StatusCreated, "clinician": http.StatusCreated, "service": http.StatusCreated}
		fhirWrite := func(ok int) map[string]int {
			return map[string]int{"admin": ok, "staff_admin": ok, "staff": ok, "clinician": ok,
				// The patient reaches only their own record, the developer
				// and a person without roles no one's: not found.
				"patient": http.StatusNotFound, "application_developer": http.StatusNotFound, "no role": http.StatusNotFound,
				// A service token carries ward:api, no FHIR scope.
				"service": http.StatusForbidden, "anonymous": http.StatusUnauthorized}
		}
		rows := []struct {
			name string
			req  func(p principal) (method, path string, body any, token string)
			want map[string]int
		}{
			// Finding 1.
			{"register client_credentials system/*.cruds", func(principal) (string, string, any, string) {
				return "POST", "/api/client", map[string]any{"client_name": "Backend", "grant_types": []string{"client_credentials"},
					"scope": "system/*.cruds"}, ""
			}, signedInOnly(http.StatusForbidden, map[string]int{"admin": http.StatusCreated})},
			{"register client_credentials patient/*.rs", func(principal) (string, string, any, string) {
				return "POST", "/api/client", map[string]any{"client_name": "Backend", "grant_types": []string{"client_credentials"},
					"scope": "patient/*.rs"}, ""
			}, signedInOnly(http.StatusForbidden, map[string]int{"admin": http.StatusCreated})},
			{"register system scope on an app", func(principal) (string, string, any, string) {
				b := devApp("System app")
				b["scope"] = "openid system/Patient.rs"
				return "POST", "/api/client", b, ""
			}, signedInOnly(http.StatusForbidden, map[string]int{"admin": http.StatusCreated})},
			{"register ward:api", func(principal) (string, string, any, string) {
				b := devApp("API app")
				b["scope"] = "openid ward:api"
				return "POST", "/api/client", b, ""
			}, signedInOnly(http.StatusForbidden, map[string]int{"admin": http.StatusCreated})},
			{"register an app", func(principal) (string, string, any, string) {
				return "POST", "/api/client", devApp("App"), ""
			}, signedInOnly(http.StatusForbidden, map[string]int{"admin": http.StatusCreated, "application_developer": http.StatusCreated})},
			{"add system scope to the developer's app", func(principal) (string, string, any, string) {
				b := devApp("Developer's app")
				b["scope"] = "openid fhirUser patient/*.rs user/*.cruds system/*.rs"
				return "PUT", "/api/client/" + devClient.ClientID, b, ""
			}, signedInOnly(http.StatusForbidden, map[string]int{"admin": http.StatusOK})},
			{"add client_credentials to the developer's app", func(principal) (string, string, any, string) {
				b := devApp("Developer's app")
				b["public"] = false
				b["grant_types"] = []string{"authorization_code", "client_credentials"}
				return "PUT", "/api/client/" + devClient.ClientID, b, ""
			}, signedInOnly(http.StatusForbidden, map[string]int{"admin": http.StatusOK})},
			{"approve the developer's app", func(principal) (string, string, any, string) {
				return "POST", "/api/client/" + devClient.ClientID + "/approve", nil, ""
			}, signedInOnly(http.StatusForbidden, map[string]int{"admin": http.StatusOK})},
			// Finding 2.
			{"service account for oneself", func(p principal) (string, string, any, string) {
				return "POST", fmt.Sprintf("/api/user/%d/service-account", selfOr(p)), nil, ""
			}, signedInOnly(http.StatusForbidden, map[string]int{"admin": http.StatusCreated})},
			{"service account for the developer", func(principal) (string, string, any, string) {
				return "POST", fmt.Sprintf("/api/user/%d/service-account", dev.id), nil, ""
			}, signedInOnly(http.StatusForbidden, map[string]int{"admin": http.StatusCreated})},
			{"grant admin", func(principal) (string, string, any, string) {
				return "POST", fmt.Sprintf("/api/user/%d/roles", target()), map[string]any{"roles": []map[string]string{{"name": "admin"}}}, ""
			}, signedInOnly(http.StatusForbidden, map[string]int{"admin": http.StatusOK})},
			{"grant service", func(principal) (string, string, any, string) {
				return "POST", fmt.Sprintf("/api/user/%d/roles", target()), map[string]any{"roles": []map[string]string{{"name": "service"}}}, ""
			}, signedInOnly(http.StatusForbidden, map[string]int{"admin": http.StatusOK})},
			{"grant staff_admin", func(principal) (string, string, any, string) {
				return "POST", fmt.Sprintf("/api/user/%d/roles", target()), map[string]any{"roles": []map[string]string{{"name": "staff_admin"}}}, ""
			}, signedInOnly(http.StatusForbidden, map[string]int{"admin": http.StatusOK})},
			{"grant application_developer", func(principal) (string, string, any, string) {
				return "POST", fmt.Sprintf("/api/user/%d/roles", target()), map[string]any{"roles": []map[string]string{{"name": "application_developer"}}}, ""
			}, signedInOnly(http.StatusForbidden, map[string]int{"admin": http.StatusOK})},
			// The existing rules stand: a staff admin and a service account
			// still make clinic staff clinicians.
			{"grant clinician", func(principal) (string, string, any, string) {
				return "POST", fmt.Sprintf("/api/user/%d/roles", target()), map[string]any{"roles": []map[string]string{{"name": "clinician"}}}, ""
			}, signedInOnly(http.StatusForbidden, map[string]int{"admin": http.StatusOK, "staff_admin": http.StatusOK, "service": http.StatusOK})},
			{"make oneself staff_admin", func(p principal) (string, string, any, string) {
				return "POST", fmt.Sprintf("/api/user/%d/roles", selfOr(p)), map[string]any{"roles": []map[string]string{{"name": "staff_admin"}}}, ""
			}, signedInOnly(http.StatusForbidden, map[string]int{"admin": http.StatusOK, "staff_admin": http.StatusConflict})},
			{"make oneself admin", func(p principal) (string, string, any, string) {
				return "POST", fmt.Sprintf("/api/user/%d/roles", selfOr(p)), map[string]any{"roles": []map[string]string{{"name": "admin"}}}, ""
			}, signedInOnly(http.StatusForbidden, map[string]int{"admin": http.StatusConflict})},
			{"create a patient account", func(p principal) (string, string, any, string) {
				return "POST", "/api/account", map[string]any{"email": fmt.Sprintf("new-patient-%s@example.org", strings.ReplaceAll(p.role, " ", "-")),
					"roles": []map[string]string{{"name": "patient"}}, "organizations": []map[string]int64{{"organization_id": w.child}}}, ""
			}, signedInOnly(http.StatusForbidden, staffCreate)},
			{"create a staff_admin account", func(p principal) (string, string, any, string) {
				return "POST", "/api/account", map[string]any{"email": fmt.Sprintf("new-sa-%s@example.org", strings.ReplaceAll(p.role, " ", "-")),
					"roles": []map[string]string{{"name": "staff_admin"}}, "organizations": []map[string]int64{{"organization_id": w.child}}}, ""
			}, signedInOnly(http.StatusForbidden, map[string]int{"admin": http.StatusCreated})},
			{"create an admin account", func(p principal) (string, string, any, string) {
				return "POST", "/api/account", map[string]any{"email": fmt.Sprintf("new-admin-%s@example.org", strings.ReplaceAll(p.role, " ", "-")),
					"roles": []map[string]string{{"name": "admin"}}}, ""
			}, signedInOnly(http.StatusForbidden, map[string]int{"admin": http.StatusCreated})},
			// FHIR writes with the token each role can obtain.
			{"FHIR create Observation of the patient", func(p principal) (string, string, any, string) {
				return "POST", "/fhir/Observation", observation, p.fhir
			}, fhirWrite(http.StatusCreated)},
			{"FHIR update the patient", func(p principal) (string, string, any, string) {
				return "PUT", fmt.Sprintf("/fhir/Patient/%d", w.patient), patientBody, p.fhir
			}, fhirWrite(http.StatusOK)},
			// Creating a Patient through FHIR follows POST /api/account: the
			// roles that create accounts may, nobody else; the account gets
			// the patient role and nothing more (checked below).
			{"FHIR create a Patient", func(p principal) (string, string, any, string) {
				return "POST", "/fhir/Patient", []byte(fmt.Sprintf(`{"resourceType":"Patient",
					"telecom":[{"system":"email","value":"fhir-patient-%s@example.org"}],
					"managingOrganization":{"reference":"Organization/%d"}}`, strings.ReplaceAll(p.role, " ", "-"), w.child)), p.fhir
			}, map[string]int{"admin": http.StatusCreated, "staff_admin": http.StatusCreated, "staff": http.StatusCreated,
				"clinician": http.StatusCreated, "patient": http.StatusForbidden, "application_developer": http.StatusForbidden,
				"no role": http.StatusForbidden, "service": http.StatusForbidden, "anonymous": http.StatusUnauthorized}},
		}
		for _, row := range rows {
			for _, role := range w.roles {
				p := w.by[role]
				method, path, body, token := row.req(p)
				if p.role == "anonymous" {
					token = ""
				}
				a := e.do(p, method, path, body, token)
				if a.status != row.want[role] {
					t.Errorf("%s as %s: %s %s = %d, want %d; %.300s", row.name, role, method, path, a.status, row.want[role], a.body)
					continue
				}
				if a.status >= 400 && strings.HasPrefix(path, "/api/") {
					if ct := a.header.Get("Content-Type"); ct != "application/problem+json" {
						t.Errorf("%s as %s: a %d as %q", row.name, role, a.status, ct)
					}
				}
			}
		}

		// Every Patient made through FHIR holds the patient role alone.
		for _, role := range w.roles {
			email := "fhir-patient-" + strings.ReplaceAll(role, " ", "-") + "@example.org"
			users, _, err := e.svc.Directory.SearchUsers(actor.System(context.Background()), directory.UserFilter{Email: email}, store.Page{Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range users {
				if roles, err := e.svc.Directory.UserRoles(actor.System(context.Background()), u.ID); err != nil || !slices.Equal(roles, []string{directory.RolePatient}) {
					t.Errorf("the Patient %s created holds roles %v (%v), want [patient]", email, roles, err)
				}
			}
		}

		// After all that, nobody but the admin created a client: the
		// developer's attempts at power left nothing behind.
		for _, c := range listClients(t, e, w.by["admin"]) {
			if c.OwnerID == dev.id && c.ClientID != devClient.ClientID && c.Name != "App" {
				t.Errorf("the developer owns client %+v", c)
			}
			if strings.Contains(c.Scope, "system/") && c.OwnerID != 0 {
				t.Errorf("a client with system scopes has owner %d: %+v", c.OwnerID, c)
			}
		}
	})
}

type listedClient struct {
	ClientID string `json:"client_id"`
	Name     string `json:"client_name"`
	Scope    string `json:"scope"`
	OwnerID  int64  `json:"owner_id"`
	Status   string `json:"status"`
}

func listClients(t *testing.T, e *escEnv, admin principal) []listedClient {
	t.Helper()
	var page struct {
		Clients []listedClient `json:"clients"`
	}
	a := e.do(admin, http.MethodGet, "/api/client?limit=1000", nil, "")
	if a.status != http.StatusOK || json.Unmarshal(a.body, &page) != nil {
		t.Fatalf("list clients: %d %s", a.status, a.body)
	}
	return page.Clients
}

// TestEscalationFindings reproduces findings 1 and 2 exactly as issue 9
// tells them, and shows what each would have led to.
func TestEscalationFindings(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEscEnv(t, dbURL)
		devID := e.user("dev@example.org", escPassword, []string{directory.RoleApplicationDeveloper})
		dev := principal{role: "application_developer", id: devID, cookie: e.signIn("dev@example.org")}
		victim := e.user("victim@example.org", "", []string{directory.RolePatient})

		// Finding 1: POST /api/client with client_credentials and
		// system/*.cruds, then a client_credentials token reads and writes
		// every Patient.
		a := e.do(dev, http.MethodPost, "/api/client", map[string]any{"client_name": "Exfiltrator",
			"grant_types": []string{"client_credentials"}, "scope": "system/*.cruds"}, "")
		if a.status != http.StatusForbidden {
			var c struct {
				ClientID string `json:"client_id"`
				Secret   string `json:"client_secret"`
			}
			_ = json.Unmarshal(a.body, &c)
			detail := ""
			if tok := e.clientCredentials(c.ClientID, c.Secret, "system/*.cruds"); tok != "" {
				r := e.do(principal{}, http.MethodGet, fmt.Sprintf("/fhir/Patient/%d", victim), nil, tok)
				detail = fmt.Sprintf("; its client_credentials token reads patient %d: %d", victim, r.status)
			}
			t.Errorf("finding 1: a developer registered client_credentials + system/*.cruds: %d, want 403%s", a.status, detail)
		}

		// Finding 2: POST /api/user/{own id}/service-account, then the
		// service token reads the whole audit log and makes its owner
		// staff_admin.
		a = e.do(dev, http.MethodPost, fmt.Sprintf("/api/user/%d/service-account", devID), nil, "")
		if a.status != http.StatusForbidden {
			var sa struct {
				AccessToken string `json:"access_token"`
			}
			_ = json.Unmarshal(a.body, &sa)
			detail := ""
			if sa.AccessToken != "" {
				svc := principal{bearer: sa.AccessToken}
				r := e.do(svc, http.MethodGet, "/api/auditlog?limit=1000", nil, "")
				g := e.do(svc, http.MethodPost, fmt.Sprintf("/api/user/%d/roles", devID),
					map[string]any{"roles": []map[string]string{{"name": "staff_admin"}}}, "")
				detail = fmt.Sprintf("; the service token reads the audit log: %d, makes its owner staff_admin: %d", r.status, g.status)
			}
			t.Errorf("finding 2: a developer sponsored their own service account: %d, want 403%s", a.status, detail)
		}
	})
}
