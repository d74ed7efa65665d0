package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"ward/internal/config"
	"ward/internal/oauth"
	"ward/internal/server"
	"ward/internal/testutil"
)

// TestIDPClientCommands is the "done means" from the command line:
// a system registered with `ward idp-client create --json` signs a person
// in, looks the token up, signs out; rotate and revoke take effect; the
// CLI's output is the contract {"client_id", "x_auth_token"}.
func TestIDPClientCommands(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		c := newCLI(t, dbURL)
		c.must("migrate")
		c.must("add-user", "--email", "xyz@example.org", "--password", "orange-kite-1", "--role", "clinician")
		out := c.must("idp-client", "create", "--name", "SHR @ DGHS MIS", "--json")
		var created map[string]string
		if err := json.Unmarshal([]byte(out), &created); err != nil || len(created) != 2 ||
			created["client_id"] == "" || len(created["x_auth_token"]) < 43 {
			t.Fatalf("idp-client create --json printed %q (%v), want exactly client_id and x_auth_token", out, err)
		}

		cfg := config.Default()
		cfg.DataDir, cfg.DatabaseURL = c.dir, dbURL
		// The CLI changes the database from another process, as another
		// replica would: the server sees a system's rotation or revocation
		// within oauth.ClientCacheTTL, which this clock moves past.
		clock := testutil.NewClock(time.Now())
		srv, err := server.New(context.Background(), cfg, server.WithClock(clock.Now))
		if err != nil {
			t.Fatalf("server.New: %v", err)
		}
		defer srv.Close()
		call := func(method, path, token string, form url.Values) (int, map[string]any) {
			t.Helper()
			r := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("client_id", created["client_id"])
			r.Header.Set("X-Auth-Token", token)
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, r)
			var body map[string]any
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			return rec.Code, body
		}
		status, body := call("POST", "/api/1.0/sso/signin", created["x_auth_token"],
			url.Values{"email": {"xyz@example.org"}, "password": {"orange-kite-1"}})
		tok, _ := body["access_token"].(string)
		if status != http.StatusOK || tok == "" {
			t.Fatalf("signin = %d %v", status, body)
		}
		if status, body := call("GET", "/api/1.0/sso/token/"+tok, created["x_auth_token"], nil); status != 200 || body["email"] != "xyz@example.org" {
			t.Fatalf("token = %d %v", status, body)
		}
		// The token is an ordinary ward token: `ward token inspect` knows it.
		if out := c.must("token", "inspect", tok); !strings.Contains(out, created["client_id"]) {
			t.Errorf("token inspect printed %q, want the system client", out)
		}

		if out := c.must("idp-client", "list"); !strings.Contains(out, created["client_id"]) || !strings.Contains(out, "SHR @ DGHS MIS") {
			t.Errorf("idp-client list printed %q", out)
		}
		out = c.must("idp-client", "rotate", created["client_id"], "--json")
		var rotated map[string]string
		if err := json.Unmarshal([]byte(out), &rotated); err != nil || rotated["x_auth_token"] == "" || rotated["x_auth_token"] == created["x_auth_token"] {
			t.Fatalf("rotate --json printed %q", out)
		}
		clock.Advance(oauth.ClientCacheTTL)
		if status, _ := call("GET", "/api/1.0/sso/token/"+tok, created["x_auth_token"], nil); status != 401 {
			t.Errorf("the rotated-out token = %d, want 401", status)
		}
		if status, _ := call("POST", "/api/1.0/sso/signout/"+tok, rotated["x_auth_token"], nil); status != 200 {
			t.Errorf("signout = %d, want 200", status)
		}
		if status, _ := call("GET", "/api/1.0/sso/token/"+tok, rotated["x_auth_token"], nil); status != 404 {
			t.Errorf("token after signout = %d, want 404", status)
		}
		c.must("idp-client", "revoke", created["client_id"])
		clock.Advance(oauth.ClientCacheTTL)
		if status, _ := call("GET", "/api/1.0/sso/token/"+tok, rotated["x_auth_token"], nil); status != 401 {
			t.Errorf("a revoked system = %d, want 401", status)
		}
		if code, _, _ := c.run("idp-client", "revoke", "nosuch"); code == 0 {
			t.Error("revoking an unknown client succeeded")
		}
	})
}
