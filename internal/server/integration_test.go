package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/client"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/httpauth"
	"ward/internal/integration"
	"ward/internal/oauth"
	"ward/internal/server"
	"ward/internal/testutil"
	"ward/internal/webhook"
)

// receiver is a loopback integration receiver: it records every push
// (headers, body, the status it answered) and answers with code.
type receiver struct {
	srv   *httptest.Server
	code  atomic.Int32
	mu    sync.Mutex
	got   []received
	ready chan struct{} // one value per push
}

type received struct {
	headers map[string]string
	body    []byte
	code    int
	payload integration.Payload
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{ready: make(chan struct{}, 100)}
	rc.code.Store(http.StatusOK)
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h := map[string]string{}
		for _, k := range []string{webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderSignature} {
			h[k] = r.Header.Get(k)
		}
		code := int(rc.code.Load())
		got := received{headers: h, body: body, code: code}
		_ = json.Unmarshal(body, &got.payload)
		rc.mu.Lock()
		rc.got = append(rc.got, got)
		rc.mu.Unlock()
		w.WriteHeader(code)
		rc.ready <- struct{}{}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// wait waits for the next push; the deadline only stops a broken test.
func (rc *receiver) wait(t *testing.T) received {
	t.Helper()
	select {
	case <-rc.ready:
	case <-time.After(60 * time.Second):
		t.Fatal("the receiver got no push")
	}
	g := rc.all()
	return g[len(g)-1]
}

type apiCaller struct {
	t *testing.T
	h http.Handler
}

func (c apiCaller) do(method, target, cookie, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: httpauth.CookieName, Value: cookie})
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	return rec
}

// introspect asks ward about token as the integration's own client would.
func introspect(t *testing.T, h http.Handler, clientID, secret, token string) map[string]any {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, oauth.PathIntrospect, strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
		t.Fatalf("introspection: %d %s", rec.Code, rec.Body)
	}
	return out
}

func staffCookie(t *testing.T, svc *server.Services) string {
	t.Helper()
	sys := actor.System(context.Background())
	staff, err := svc.Directory.CreateUser(sys, directory.NewUser{User: directory.User{Email: "desk@example.org"},
		Roles: []string{directory.RoleStaff}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Directory.SetPassword(sys, staff.ID, "a clerk passphrase 12"); err != nil {
		t.Fatal(err)
	}
	cookie, _, err := svc.Sessions.Login(context.Background(), staff.Email, "a clerk passphrase 12")
	if err != nil {
		t.Fatal(err)
	}
	return cookie
}

// TestIntegrationAPIAccess: only an administrator may use /api/integration
// (staff 403, anonymous 401, on every route), and bad input is a 4xx: a
// URL that is not https, a private address while
// WARD_OUTBOUND_ALLOW_PRIVATE is off, NUL bytes, invalid UTF-8, a huge
// body, an unknown or unfit client, a lifetime out of range.
func TestIntegrationAPIAccess(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		srv := newServer(t, dbURL, nil)
		h, svc := srv.Handler(), srv.Services()
		admin, _ := adminCredentials(t, svc, h)
		staff := staffCookie(t, svc)
		sys := actor.System(context.Background())
		portal, _, err := svc.Clients.Create(sys, client.Settings{Name: "portal",
			GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/Patient.rs"})
		if err != nil {
			t.Fatal(err)
		}
		app, _, err := svc.Clients.Create(sys, client.Settings{Name: "app", Public: true,
			GrantTypes: []string{client.GrantAuthorizationCode}, RedirectURIs: []string{"https://app.example.org/cb"},
			Scope: "openid patient/Patient.rs"})
		if err != nil {
			t.Fatal(err)
		}
		c := apiCaller{t: t, h: h}
		good := `{"client_id":"` + portal.ID + `","url":"https://portal.example.org/ward-token"}`

		for _, who := range []struct {
			cookie string
			want   int
		}{{"", http.StatusUnauthorized}, {staff, http.StatusForbidden}} {
			if rec := c.do("POST", "/api/integration", who.cookie, good); rec.Code != who.want {
				t.Fatalf("create as %q: %d %s, want %d", who.cookie, rec.Code, rec.Body, who.want)
			}
		}
		rec := c.do("POST", "/api/integration", admin, good)
		var created struct {
			ID, Secret, Status   string
			TokenLifetimeSeconds int64 `json:"token_lifetime_seconds"`
		}
		if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &created) != nil ||
			!strings.HasPrefix(created.Secret, "whsec_") || created.ID == "" || created.TokenLifetimeSeconds != 3600 {
			t.Fatalf("admin create: %d %s", rec.Code, rec.Body)
		}
		one := "/api/integration/" + created.ID
		for _, r := range []struct{ method, path string }{
			{"GET", "/api/integration"}, {"GET", one}, {"POST", one + "/push"}, {"DELETE", one},
		} {
			if rec := c.do(r.method, r.path, "", ""); rec.Code != http.StatusUnauthorized {
				t.Errorf("anonymous %s %s: %d, want 401", r.method, r.path, rec.Code)
			}
			if rec := c.do(r.method, r.path, staff, ""); rec.Code != http.StatusForbidden {
				t.Errorf("staff %s %s: %d, want 403", r.method, r.path, rec.Code)
			}
		}
		rec = c.do("GET", one, admin, "")
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), created.Secret) ||
			strings.Contains(rec.Body.String(), "secret") {
			t.Fatalf("admin get: %d %s (the secret is shown once)", rec.Code, rec.Body)
		}
		if rec := c.do("GET", "/api/integration", admin, ""); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), created.ID) {
			t.Fatalf("admin list: %d %s", rec.Code, rec.Body)
		}

		huge := `{"client_id":"` + portal.ID + `","url":"https://portal.example.org/` + strings.Repeat("a", 2<<20) + `"}`
		for _, body := range []string{
			`{"client_id":"` + portal.ID + `","url":"ftp://portal.example.org/token"}`,
			`{"client_id":"` + portal.ID + `","url":"http://portal.example.org/token"}`,
			`{"client_id":"` + portal.ID + `","url":"https://10.0.0.7/token"}`,
			`{"client_id":"` + portal.ID + `","url":"https://127.0.0.1/token"}`,
			`{"client_id":"` + portal.ID + `","url":"https://169.254.169.254/latest/meta-data"}`,
			`{"client_id":"` + portal.ID + `","url":"https://portal.example.org/\u0000"}`,
			"{\"client_id\":\"" + portal.ID + "\",\"url\":\"https://portal.example.org/\xff\"}",
			`{"client_id":"nobody","url":"https://portal.example.org/token"}`,
			`{"client_id":"` + app.ID + `","url":"https://portal.example.org/token"}`,
			`{"client_id":"` + portal.ID + `","url":"https://portal.example.org/token","token_lifetime_seconds":60}`,
			`{"client_id":"` + portal.ID + `","url":"https://portal.example.org/token","token_lifetime_seconds":90000}`,
			`{"client_id":"` + portal.ID + `","url":"https://portal.example.org/token","token_lifetime_seconds":-5}`,
			`{"client_id":"` + portal.ID + `"}`,
			`not json`,
			huge,
		} {
			rec := c.do("POST", "/api/integration", admin, body)
			if rec.Code < 400 || rec.Code > 499 {
				t.Errorf("create with %.120q: %d %s, want a 4xx", body, rec.Code, rec.Body)
			}
		}
		for _, bad := range []string{"/api/integration/nope", "/api/integration/int_%00", "/api/integration/%FF"} {
			if rec := c.do("GET", bad, admin, ""); rec.Code < 400 || rec.Code > 499 {
				t.Errorf("GET %s: %d, want a 4xx", bad, rec.Code)
			}
		}
		if rec := c.do("DELETE", one, admin, ""); rec.Code != http.StatusNoContent {
			t.Fatalf("admin delete: %d %s", rec.Code, rec.Body)
		}
		if rec := c.do("GET", one, admin, ""); rec.Code != http.StatusNotFound {
			t.Fatalf("get after delete: %d", rec.Code)
		}
	})
}

// TestIntegrationPushedTokenEndToEnd is issue 15's "an integration
// receives its pushed token and uses it": an integration registered while
// ward is down gets a token when ward starts, verifies its signature, and
// uses it (introspection says active with the client's scopes; a FHIR
// search its scopes allow answers 200). A failing receiver is visible and
// its token revoked; it recovers; a disabled client gets no pushes; a
// deleted integration gets none and its tokens are revoked.
func TestIntegrationPushedTokenEndToEnd(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		sys := actor.System(ctx)
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.DatabaseURL = dbURL
		cfg.OutboundAllowPrivate = true
		rc := newReceiver(t)

		// Registered from the CLI while no server runs: nothing pushes yet.
		cli, err := server.OpenServices(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := cli.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		portal, portalSecret, err := cli.Clients.Create(sys, client.Settings{Name: "portal",
			GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/Patient.rs"})
		if err != nil {
			t.Fatal(err)
		}
		created, err := cli.Integrations.Create(sys, integration.NewIntegration{ClientID: portal.ID, URL: rc.srv.URL + "/ward-token"})
		if err != nil {
			t.Fatal(err)
		}
		if err := cli.Close(); err != nil {
			t.Fatal(err)
		}
		if rc.count() != 0 {
			t.Fatal("pushed before ward started")
		}

		srv, err := server.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		h, svc := srv.Handler(), srv.Services()
		testutil.Serve(t, srv, testutil.Listen(t))

		got := rc.wait(t)
		if err := webhook.Verify(created.Secret, got.headers, got.body, time.Now(), 5*time.Minute); err != nil {
			t.Fatalf("the push's signature: %v", err)
		}
		p := got.payload
		if p.AccessToken == "" || p.TokenType != "Bearer" || p.ClientID != portal.ID || p.Scope != "system/Patient.rs" ||
			p.ExpiresIn < 3500 || p.ExpiresIn > 3600 || strings.Count(p.AccessToken, ".") != 2 {
			t.Fatalf("pushed %s", got.body)
		}
		first := p.AccessToken
		in := introspect(t, h, portal.ID, portalSecret, first)
		if in["active"] != true || in["scope"] != "system/Patient.rs" || in["client_id"] != portal.ID {
			t.Fatalf("introspection of the pushed token: %v", in)
		}
		// The token tools see it as the client's JWT (ward token inspect).
		ti, err := svc.OAuth.InspectToken(sys, first)
		if err != nil || !ti.Active || ti.Format != "jwt" || ti.ClientID != portal.ID || ti.UserID != 0 {
			t.Fatalf("inspect the pushed token: %+v, %v", ti, err)
		}
		req := httptest.NewRequest("GET", "/fhir/Patient?_count=5", nil)
		req.Header.Set("Authorization", "Bearer "+first)
		res := httptest.NewRecorder()
		h.ServeHTTP(res, req)
		if res.Code != http.StatusOK || !strings.Contains(res.Body.String(), `"searchset"`) {
			t.Fatalf("FHIR search with the pushed token: %d %s", res.Code, res.Body)
		}
		req = httptest.NewRequest("GET", "/fhir/Patient?_count=5", nil)
		req.Header.Set("Authorization", "Bearer "+first+"x")
		res = httptest.NewRecorder()
		h.ServeHTTP(res, req)
		if res.Code != http.StatusUnauthorized {
			t.Fatalf("FHIR search with a forged token: %d", res.Code)
		}

		admin, _ := adminCredentials(t, svc, h)
		c := apiCaller{t: t, h: h}
		var st struct {
			Status              string `json:"status"`
			LastHTTPStatus      int    `json:"last_http_status"`
			LastError           string `json:"last_error"`
			ConsecutiveFailures int    `json:"consecutive_failures"`
			TokenID             int64  `json:"token_id"`
		}
		show := func(rec *httptest.ResponseRecorder) {
			t.Helper()
			st.LastHTTPStatus, st.LastError = 0, ""
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &st) != nil {
				t.Fatalf("integration: %d %s", rec.Code, rec.Body)
			}
		}
		one := "/api/integration/" + created.ID
		show(c.do("GET", one, admin, ""))
		if st.Status != "pushed" || st.ConsecutiveFailures != 0 || st.TokenID == 0 {
			t.Fatalf("after the start push: %+v", st)
		}

		// The receiver fails: visible, and the unaccepted token is dead.
		rc.code.Store(http.StatusInternalServerError)
		show(c.do("POST", one+"/push", admin, ""))
		if st.Status != "failed" || st.LastHTTPStatus != 500 || st.ConsecutiveFailures != 1 || st.LastError == "" {
			t.Fatalf("after a failed push: %+v", st)
		}
		show(c.do("POST", one+"/push", admin, ""))
		if st.Status != "failed" || st.ConsecutiveFailures != 2 {
			t.Fatalf("after a second failed push: %+v", st)
		}
		// It recovers.
		rc.code.Store(http.StatusNoContent)
		show(c.do("POST", one+"/push", admin, ""))
		if st.Status != "pushed" || st.ConsecutiveFailures != 0 || st.LastError != "" {
			t.Fatalf("after recovery: %+v", st)
		}
		var live []string
		for _, r := range rc.all() {
			in := introspect(t, h, portal.ID, portalSecret, r.payload.AccessToken)
			accepted := r.code >= 200 && r.code < 300
			if in["active"] != accepted {
				t.Fatalf("a token answered %d is active=%v, want %v", r.code, in["active"], accepted)
			}
			if accepted {
				live = append(live, r.payload.AccessToken)
			}
		}
		if len(live) < 2 || live[0] != first {
			t.Fatalf("the first token should stay valid beside the new one: %d live", len(live))
		}

		// A disabled client gets nothing (and its tokens died with it).
		if _, err := svc.Clients.Disable(sys, portal.ID); err != nil {
			t.Fatal(err)
		}
		n := rc.count()
		if rec := c.do("POST", one+"/push", admin, ""); rec.Code != http.StatusConflict {
			t.Fatalf("push to a disabled client: %d %s", rec.Code, rec.Body)
		}
		if err := svc.Integrations.Push(ctx, created.ID, true); err != nil {
			t.Fatal(err)
		}
		show(c.do("GET", one, admin, ""))
		if rc.count() != n || st.Status != "suspended" {
			t.Fatalf("disabled client: %d pushes (was %d), %+v", rc.count(), n, st)
		}
		if _, err := svc.Clients.Enable(sys, portal.ID); err != nil {
			t.Fatal(err)
		}
		show(c.do("POST", one+"/push", admin, ""))
		if st.Status != "pushed" {
			t.Fatalf("after enabling the client: %+v", st)
		}
		last := rc.all()[rc.count()-1].payload.AccessToken
		if in := introspect(t, h, portal.ID, portalSecret, last); in["active"] != true {
			t.Fatalf("the token pushed after enabling: %v", in)
		}

		// Deleted: its live tokens are revoked and pushes stop.
		if rec := c.do("DELETE", one, admin, ""); rec.Code != http.StatusNoContent {
			t.Fatalf("delete: %d %s", rec.Code, rec.Body)
		}
		if in := introspect(t, h, portal.ID, portalSecret, last); in["active"] != false {
			t.Fatalf("a token of a deleted integration: %v", in)
		}
		n = rc.count()
		if err := svc.Integrations.Push(ctx, created.ID, true); err != nil {
			t.Fatal(err)
		}
		if err := svc.Integrations.PushDue(ctx); err != nil {
			t.Fatal(err)
		}
		if rc.count() != n {
			t.Fatalf("a deleted integration was pushed to")
		}
	})
}
