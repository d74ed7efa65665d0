package oauth_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"ward/internal/client"
	"ward/internal/config"
	"ward/internal/oauth"
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

// TestAssertionJKU: a client assertion whose jku header is not the client's
// registered jwks_uri fails verification (SMART Backend Services; issue 11,
// item 3), even when signed with the right key; the registered URL passes.
func TestAssertionJKU(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		tokenURL := e.issuer + "/oauth/token"
		rs := newAssertionKey(t, jose.RS384)
		jwksSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(rs.jwks()))
		}))
		t.Cleanup(jwksSrv.Close)
		uriID, _ := e.client(client.Settings{Name: "backend jku", GrantTypes: []string{client.GrantClientCredentials},
			Scope: "system/Patient.rs", AuthMethod: client.AuthPrivateKeyJWT, JWKSURI: jwksSrv.URL})
		es := newAssertionKey(t, jose.ES384)
		inlineID, _ := e.client(client.Settings{Name: "backend inline jku", GrantTypes: []string{client.GrantClientCredentials},
			Scope: "system/Patient.rs", AuthMethod: client.AuthPrivateKeyJWT, JWKS: es.jwks()})

		for _, c := range []struct {
			name, id string
			key      assertionKey
			jku      any
			want     int
		}{
			{"registered jku", uriID, rs, jwksSrv.URL, http.StatusOK},
			{"no jku", uriID, rs, nil, http.StatusOK},
			{"foreign jku", uriID, rs, "https://attacker.example/jwks.json", http.StatusUnauthorized},
			{"jku not a string", uriID, rs, 42, http.StatusUnauthorized},
			{"jku on an inline-JWKS client", inlineID, es, jwksSrv.URL, http.StatusUnauthorized},
			{"inline-JWKS client without jku", inlineID, es, nil, http.StatusOK},
		} {
			t.Run(c.name, func(t *testing.T) {
				st, _, out := e.postForm("/oauth/token", backendForm(c.key.assertionWithHeader(t, c.id, tokenURL, c.jku), "system/Patient.rs"), "", "")
				if st != c.want {
					t.Fatalf("token = %d %v, want %d", st, out, c.want)
				}
				if c.want == http.StatusUnauthorized && out["error"] != "invalid_client" {
					t.Fatalf("error = %v, want invalid_client", out)
				}
			})
		}
	})
}

// assertionWithHeader is assertion with a jku header when jku is not nil.
func (k assertionKey) assertionWithHeader(t *testing.T, clientID, aud string, jku any) string {
	t.Helper()
	now := time.Now()
	claims := map[string]any{"iss": clientID, "sub": clientID, "aud": aud,
		"exp": now.Add(4 * time.Minute).Unix(), "jti": fmt.Sprintf("jti-%d", now.UnixNano())}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if jku != nil {
		opts = opts.WithHeader("jku", jku)
	}
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(sg).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestSystemTokenLifetime: an access token with a system/ scope lasts at
// most five minutes by default (SMART Backend Services: SHOULD NOT exceed
// 300 s; issue 11, item 5), WARD_SYSTEM_TOKEN_LIFETIME is honoured, and
// tokens without a system/ scope keep the access token lifetime.
func TestSystemTokenLifetime(t *testing.T) {
	for _, c := range []struct {
		name string
		set  time.Duration // 0: the default
		max  time.Duration
	}{{"default", 0, 5 * time.Minute}, {"configured", 90 * time.Second, 90 * time.Second}} {
		t.Run(c.name, func(t *testing.T) {
			testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
				e := newEnvWith(t, dbURL, func(cfg *config.Config) {
					if c.set != 0 {
						cfg.SystemTokenLifetime = c.set
					}
				})
				for _, format := range []string{client.TokenOpaque, client.TokenJWT} {
					id, secret := e.client(client.Settings{Name: "svc life " + format, GrantTypes: []string{client.GrantClientCredentials},
						Scope: "system/*.rs " + oauth.ScopeAPI, TokenFormat: format})
					before := time.Now()
					st, _, out := e.postForm("/oauth/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"system/Patient.rs"}}, id, secret)
					if st != http.StatusOK {
						t.Fatalf("%s: token: %d %v", format, st, out)
					}
					in, _ := out["expires_in"].(float64)
					if in <= 0 || time.Duration(in)*time.Second > c.max || time.Duration(in)*time.Second < c.max-time.Minute {
						t.Errorf("%s: system token expires_in = %v, want at most (and about) %s", format, out["expires_in"], c.max)
					}
					at := out["access_token"].(string)
					intro := e.introspect(at, id, secret)
					exp, _ := intro["exp"].(float64)
					if intro["active"] != true || time.Unix(int64(exp), 0).After(before.Add(c.max+time.Second)) {
						t.Errorf("%s: system token introspects as %v, want exp within %s", format, intro, c.max)
					}
					if format == client.TokenJWT {
						var claims struct {
							Exp int64 `json:"exp"`
						}
						parts := strings.Split(at, ".")
						raw, err := base64.RawURLEncoding.DecodeString(parts[min(1, len(parts)-1)])
						if err != nil || json.Unmarshal(raw, &claims) != nil || claims.Exp == 0 {
							t.Fatalf("JWT access token's claims unreadable: %v", err)
						}
						if time.Unix(claims.Exp, 0).After(before.Add(c.max + time.Second)) {
							t.Errorf("JWT exp %d lies beyond %s", claims.Exp, c.max)
						}
					}

					// Without a system/ scope: the access token lifetime (1h).
					st, _, out = e.postForm("/oauth/token", url.Values{"grant_type": {"client_credentials"}, "scope": {oauth.ScopeAPI}}, id, secret)
					if st != http.StatusOK {
						t.Fatalf("%s: api token: %d %v", format, st, out)
					}
					if in, _ := out["expires_in"].(float64); time.Duration(in)*time.Second < 55*time.Minute {
						t.Errorf("%s: token without system/ scope expires_in = %v, want the 1h access token lifetime", format, out["expires_in"])
					}
				}

				// A person's token through the authorization code flow keeps
				// the access token lifetime too.
				pat := e.user("life@example.org", patientPassword, "patient")
				a := newApp(t, e, revokeScopes)
				l := newLiveness(e, a)
				before := time.Now()
				g := a.launch(pat.Email, "", "life-"+c.name)
				intro := e.introspect(g.access, l.rs, l.rsSecret)
				exp, _ := intro["exp"].(float64)
				if intro["active"] != true || time.Unix(int64(exp), 0).Before(before.Add(55*time.Minute)) {
					t.Errorf("user token introspects as %v, want exp about an hour ahead", intro)
				}
			})
		})
	}
}
