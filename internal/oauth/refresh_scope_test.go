package oauth_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"ward/internal/client"
	"ward/internal/testutil"
)

// TestRefreshNarrowsScope is issue 10's info finding: a refresh asking for
// a narrower scope got the whole grant back. RFC 6749 section 6: the new
// access token (and the answer's scope) has the narrower set, the refresh
// token keeps the grant, and a scope the grant does not hold is
// invalid_scope, refused before the refresh token is spent. For opaque and
// JWT access tokens alike.
func TestRefreshNarrowsScope(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		pat := e.user("pat@example.org", patientPassword, "patient")
		l := newLiveness(e, nil)
		for _, format := range []string{client.TokenOpaque, client.TokenJWT} {
			a := newApp(t, e, revokeScopes)
			if _, _, err := e.svc.Clients.Update(e.sys(), a.id, func(s *client.Settings) error {
				s.TokenFormat = format
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			g := a.launch(pat.Email, "", "narrow-"+format)

			// Wider than the grant: refused, and the refresh token still works.
			st, out := a.refresh(g.refresh, url.Values{"scope": {"openid patient/*.rs user/*.rs"}})
			if st != http.StatusBadRequest || out["error"] != "invalid_scope" {
				t.Fatalf("%s: wider scope: %d %v, want 400 invalid_scope", format, st, out)
			}

			narrow := "openid launch/patient patient/*.rs"
			st, out = a.refresh(g.refresh, url.Values{"scope": {"patient/*.rs openid launch/patient openid"}})
			if st != http.StatusOK {
				t.Fatalf("%s: narrower scope: %d %v", format, st, out)
			}
			if out["scope"] != narrow {
				t.Errorf("%s: answer's scope %q, want %q", format, out["scope"], narrow)
			}
			at, rt := out["access_token"].(string), out["refresh_token"].(string)
			if in := e.introspect(at, l.rs, l.rsSecret); in["active"] != true || in["scope"] != narrow {
				t.Errorf("%s: new access token introspects as %v, want scope %q", format, in, narrow)
			}
			if in := e.introspect(rt, l.rs, l.rsSecret); in["active"] != true || in["scope"] != revokeScopes {
				t.Errorf("%s: new refresh token introspects as %v, want the grant's scope %q", format, in, revokeScopes)
			}
			if format == client.TokenJWT {
				if got := jwtClaim(t, at, "scope"); got != narrow {
					t.Errorf("JWT access token's scope claim %q, want %q", got, narrow)
				}
			}
			// userinfo follows the narrower token: openid without profile.
			st, _, ui := e.bearerGet("/oauth/userinfo", at)
			if st != http.StatusOK || ui["name"] != nil {
				t.Errorf("%s: userinfo with the narrowed token: %d %v, want no name (profile dropped)", format, st, ui)
			}

			// A refresh without scope gets the whole grant again.
			st, out = a.refresh(rt, nil)
			if st != http.StatusOK || out["scope"] != revokeScopes {
				t.Errorf("%s: refresh without scope: %d %v, want the grant's scope", format, st, out)
			}
		}
	})
}

// jwtClaim reads one string claim of a JWT without verifying it.
func jwtClaim(t *testing.T, token, name string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %.20s…", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	s, _ := claims[name].(string)
	return s
}
