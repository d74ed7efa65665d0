package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"ward/internal/actor"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/httpauth"
	"ward/internal/testutil"
)

// testMIS is the OAuth side of a test MIS: an authorize endpoint that
// "signs in" at once and sends the browser back with a code, and a token
// endpoint that checks the client, the code and PKCE.
type testMIS struct {
	srv    *httptest.Server
	mu     sync.Mutex
	codes  map[string]string // code -> challenge
	n      int
	issued []string
}

func newTestMIS(t *testing.T) *testMIS {
	m := &testMIS{codes: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		m.mu.Lock()
		m.n++
		code := fmt.Sprintf("mis-code-%d-7e3a", m.n)
		m.codes[code] = q.Get("code_challenge")
		m.issued = append(m.issued, code)
		m.mu.Unlock()
		back, _ := url.Parse(q.Get("redirect_uri"))
		back.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		defer m.mu.Unlock()
		id, secret, _ := r.BasicAuth()
		_ = r.ParseForm()
		challenge, ok := m.codes[r.PostForm.Get("code")]
		delete(m.codes, r.PostForm.Get("code"))
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if id != "ward" || secret != "mis-client-secret-41" || !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		m.n++
		at, rt := fmt.Sprintf("mis-access-%d-a1", m.n), fmt.Sprintf("mis-refresh-%d-b2", m.n)
		m.issued = append(m.issued, at, rt)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": at, "refresh_token": rt, "expires_in": 3600})
	})
	m.srv = httptest.NewServer(mux)
	t.Cleanup(m.srv.Close)
	return m
}

// TestConnectorPriming drives issue 16's priming through ward's handler:
// an administrator creates a connector, follows the connect link to the
// test MIS's login and back, and the connector is connected; staff and
// the anonymous are refused, and a bad or replayed state stores nothing.
func TestConnectorPriming(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		srv := newServer(t, dbURL, func(c *config.Config) { c.OutboundAllowPrivate = true })
		h := srv.Handler()
		svc := srv.Services()
		adminCookie, _ := adminCredentials(t, svc, h)
		sys := actor.System(context.Background())
		staff, err := svc.Directory.CreateUser(sys, directory.NewUser{User: directory.User{Email: "staff@example.org"},
			Roles: []string{directory.RoleStaff}})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Directory.SetPassword(sys, staff.ID, "a clerk passphrase 12"); err != nil {
			t.Fatal(err)
		}
		staffCookie, _, err := svc.Sessions.Login(context.Background(), staff.Email, "a clerk passphrase 12")
		if err != nil {
			t.Fatal(err)
		}
		mis := newTestMIS(t)
		send := func(method, target, cookie, body string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(method, target, strings.NewReader(body))
			if cookie != "" {
				req.AddCookie(&http.Cookie{Name: httpauth.CookieName, Value: cookie})
			}
			if body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec
		}
		body, _ := json.Marshal(map[string]any{"name": "campdoc", "base_url": mis.srv.URL + "/api/v2",
			"authorize_url": mis.srv.URL + "/oauth/authorize", "token_url": mis.srv.URL + "/oauth/token",
			"client_id": "ward", "client_secret": "mis-client-secret-41",
			"redirect_uri": "https://ward.test/admin/connectors/campdoc/callback", "scopes": []string{"profiles"}})
		if rec := send("POST", "/api/connector", adminCookie, string(body)); rec.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}

		const connect = "/admin/connectors/campdoc/connect"
		if rec := send("GET", connect, "", ""); rec.Code != http.StatusSeeOther ||
			rec.Header().Get("Location") != "/login?next="+url.QueryEscape(connect) {
			t.Fatalf("anonymous connect: %d to %q, want the sign-in page", rec.Code, rec.Header().Get("Location"))
		}
		if rec := send("GET", connect, staffCookie, ""); rec.Code != http.StatusForbidden {
			t.Fatalf("staff connect: %d, want 403", rec.Code)
		}
		if rec := send("GET", "/admin/connectors/nope/connect", adminCookie, ""); rec.Code != http.StatusNotFound {
			t.Fatalf("connect to no connector: %d, want 404", rec.Code)
		}
		rec := send("GET", connect, adminCookie, "")
		if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), mis.srv.URL+"/oauth/authorize?") {
			t.Fatalf("admin connect: %d to %q", rec.Code, rec.Header().Get("Location"))
		}
		// The browser at the MIS's login, which sends it back.
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := noFollow.Get(rec.Header().Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		back, err := url.Parse(res.Header.Get("Location"))
		if err != nil || back.Path != "/admin/connectors/campdoc/callback" {
			t.Fatalf("the MIS sent the browser to %q", res.Header.Get("Location"))
		}
		callback := back.RequestURI()
		code, state := back.Query().Get("code"), back.Query().Get("state")

		for _, c := range []struct {
			target, cookie string
			want           int
		}{
			{"/admin/connectors/campdoc/callback?code=" + code, adminCookie, http.StatusBadRequest},
			{"/admin/connectors/campdoc/callback?code=" + code + "&state=forged", adminCookie, http.StatusBadRequest},
			{"/admin/connectors/campdoc/callback?error=access_denied&state=" + state, adminCookie, http.StatusBadRequest},
			{callback, staffCookie, http.StatusForbidden},
		} {
			if rec := send("GET", c.target, c.cookie, ""); rec.Code != c.want {
				t.Fatalf("GET %s: %d, want %d", c.target, rec.Code, c.want)
			}
		}
		if rec := send("GET", callback, "", ""); rec.Code != http.StatusSeeOther {
			t.Fatalf("anonymous callback: %d, want the sign-in redirect", rec.Code)
		}
		var st struct {
			Status      string  `json:"status"`
			TokenExpiry *string `json:"token_expiry"`
		}
		rec = send("GET", "/api/connector/campdoc", adminCookie, "")
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Status != "unprimed" {
			t.Fatalf("after refused callbacks: %s", rec.Body)
		}

		if rec := send("GET", callback, adminCookie, ""); rec.Code != http.StatusOK ||
			!strings.Contains(rec.Body.String(), "is connected") {
			t.Fatalf("callback: %d %s", rec.Code, rec.Body)
		}
		if rec := send("GET", callback, adminCookie, ""); rec.Code != http.StatusBadRequest {
			t.Fatalf("replayed callback: %d, want 400", rec.Code)
		}
		rec = send("GET", "/api/connector/campdoc", adminCookie, "")
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Status != "connected" || st.TokenExpiry == nil {
			t.Fatalf("after priming: %s", rec.Body)
		}
		mis.mu.Lock()
		issued := append([]string(nil), mis.issued...)
		mis.mu.Unlock()
		for _, s := range append(issued, "mis-client-secret-41") {
			if strings.Contains(rec.Body.String(), s) && !strings.HasPrefix(s, "mis-code") {
				t.Fatalf("the status shows a secret: %s", rec.Body)
			}
		}
		// Priming scheduled the refresh job in its transaction.
		var jobs int
		if err := svc.DB.Writer().QueryRowContext(context.Background(),
			`SELECT count(*) FROM river_job WHERE kind = 'connector_refresh'`).Scan(&jobs); err != nil || jobs != 1 {
			t.Fatalf("refresh jobs scheduled: %d, %v; want 1", jobs, err)
		}
		tok, err := svc.Connectors.Token(context.Background(), "campdoc")
		if err != nil || !strings.HasPrefix(tok, "mis-access-") {
			t.Fatalf("Token after priming: %q, %v", tok, err)
		}
	})
}
