package oauth_test

import (
	"net/http"
	"net/url"
	"testing"

	"ward/internal/client"
	"ward/internal/testutil"
)

// TestClientCredentialsNeedsScope: a missing, empty or blank scope is
// invalid_scope (issue 11, item 4), never a token with "scope":"".
func TestClientCredentialsNeedsScope(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		id, secret := e.client(client.Settings{Name: "svc scope", GrantTypes: []string{client.GrantClientCredentials},
			Scope: "system/*.rs"})
		for name, form := range map[string]url.Values{
			"missing":    {"grant_type": {"client_credentials"}},
			"empty":      {"grant_type": {"client_credentials"}, "scope": {""}},
			"whitespace": {"grant_type": {"client_credentials"}, "scope": {"  \t "}},
		} {
			t.Run(name, func(t *testing.T) {
				st, _, out := e.postForm("/oauth/token", form, id, secret)
				if st != http.StatusBadRequest || out["error"] != "invalid_scope" {
					t.Fatalf("token = %d %v, want 400 invalid_scope", st, out)
				}
				if _, ok := out["access_token"]; ok {
					t.Fatalf("a token was issued: %v", out)
				}
			})
		}
		// The allowed caller beside the denied ones.
		st, _, out := e.postForm("/oauth/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"system/Patient.rs"}}, id, secret)
		if st != http.StatusOK || out["scope"] != "system/Patient.rs" {
			t.Fatalf("token with a scope = %d %v", st, out)
		}
	})
}

