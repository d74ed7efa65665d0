package oauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/client"
	"ward/internal/config"
	"ward/internal/oauth"
	"ward/internal/server"
	"ward/internal/testutil"
)

// TestTokenEndpointThrottle: wrong client secrets count against the
// caller's address; after 30 the token endpoint answers 429 with
// Retry-After before looking at the credential (the right secret too),
// while other addresses and many successes are unaffected.
func TestTokenEndpointThrottle(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		var mu sync.Mutex
		now := time.Now().UTC().Truncate(time.Second)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.DatabaseURL = dbURL
		srv, err := server.New(context.Background(), cfg, server.WithClock(clock))
		if err != nil {
			t.Fatalf("server.New: %v", err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		c, secret, err := srv.Services().Clients.Create(actor.System(context.Background()), client.Settings{
			Name: "Backend", GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/Patient.rs",
		})
		if err != nil {
			t.Fatal(err)
		}
		h := srv.Handler()
		token := func(remote, secret string) (int, http.Header, map[string]any) {
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {"system/Patient.rs"}}
			req := httptest.NewRequest("POST", oauth.PathToken, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(c.ID, secret)
			req.RemoteAddr = remote
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var body map[string]any
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			return rec.Code, rec.Header(), body
		}
		const caller, other = "203.0.113.7:1000", "198.51.100.7:1000"
		for i := range 40 {
			if code, _, _ := token(caller, secret); code != http.StatusOK {
				t.Fatalf("token %d = %d, want 200 (successes never count)", i+1, code)
			}
		}
		for i := range 30 {
			if code, _, body := token(caller, "wrong"); code != http.StatusUnauthorized || body["error"] != "invalid_client" {
				t.Fatalf("wrong secret %d = %d %v, want 401 invalid_client", i+1, code, body)
			}
		}
		code, hdr, body := token(caller, "wrong")
		if code != http.StatusTooManyRequests || hdr.Get("Retry-After") != "1" || body["error"] == nil {
			t.Fatalf("31st wrong secret = %d %v (Retry-After %q), want 429 with an RFC 6749 error and Retry-After 1", code, body, hdr.Get("Retry-After"))
		}
		if code, _, _ := token(caller, secret); code != http.StatusTooManyRequests {
			t.Fatalf("right secret from the throttled address = %d, want 429", code)
		}
		if code, _, _ := token(other, "wrong"); code != http.StatusUnauthorized {
			t.Fatalf("wrong secret from another address = %d, want 401", code)
		}
		if code, _, _ := token(other, secret); code != http.StatusOK {
			t.Fatalf("right secret from another address = %d, want 200", code)
		}
		mu.Lock()
		now = now.Add(time.Second)
		mu.Unlock()
		if code, _, _ := token(caller, secret); code != http.StatusOK {
			t.Fatalf("right secret a second later = %d, want 200", code)
		}
	})
}
