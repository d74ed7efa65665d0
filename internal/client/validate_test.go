package client

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"ward/internal/apperr"
	oscope "ward/internal/oauth/scope"
)

// testJWKS returns a JSON Web Key Set holding one EC key: its public half,
// or the private key itself when private is true.
func testJWKS(t *testing.T, private bool) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var key any = &k.PublicKey
	if private {
		key = k
	}
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func confidential() Settings {
	return Settings{
		Name:         "Decision support",
		GrantTypes:   []string{GrantAuthorizationCode, GrantRefreshToken},
		RedirectURIs: []string{"https://app.example.org/cb"},
		Scope:        "openid fhirUser launch/patient patient/*.rs",
	}
}

func TestNormalizeAccepts(t *testing.T) {
	pub := testJWKS(t, false)
	cases := []struct {
		name       string
		edit       func(*Settings)
		wantMethod string
		wantFormat string
	}{
		{"confidential defaults to client_secret_basic and opaque", func(*Settings) {}, AuthClientSecretBasic, TokenOpaque},
		{"client_secret_post and jwt", func(s *Settings) { s.AuthMethod, s.TokenFormat = AuthClientSecretPost, TokenJWT }, AuthClientSecretPost, TokenJWT},
		{"public defaults to none", func(s *Settings) { s.Public = true }, AuthNone, TokenOpaque},
		{"jwks_uri defaults to private_key_jwt", func(s *Settings) { s.JWKSURI = "https://app.example.org/jwks" }, AuthPrivateKeyJWT, TokenOpaque},
		{"inline public jwks", func(s *Settings) { s.AuthMethod, s.JWKS = AuthPrivateKeyJWT, pub }, AuthPrivateKeyJWT, TokenOpaque},
		{"client_credentials only, no redirect", func(s *Settings) {
			s.GrantTypes, s.RedirectURIs, s.Scope = []string{GrantClientCredentials}, nil, "system/*.rs"
		}, AuthClientSecretBasic, TokenOpaque},
		{"loopback http redirects", func(s *Settings) {
			s.RedirectURIs = []string{"http://127.0.0.1:7000/cb", "http://localhost/cb", "http://[::1]:80/cb"}
		}, AuthClientSecretBasic, TokenOpaque},
		{"https redirect with query", func(s *Settings) { s.RedirectURIs = []string{"https://a.example.org/cb?x=1"} }, AuthClientSecretBasic, TokenOpaque},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := confidential()
			c.edit(&s)
			got, err := normalize(s)
			if err != nil {
				t.Fatalf("normalize: %v", err)
			}
			if got.AuthMethod != c.wantMethod || got.TokenFormat != c.wantFormat {
				t.Fatalf("auth %q format %q, want %q %q", got.AuthMethod, got.TokenFormat, c.wantMethod, c.wantFormat)
			}
		})
	}
}

func TestNormalizeDedupesGrantsAndTrims(t *testing.T) {
	s := confidential()
	s.Name = "  Padded  "
	s.GrantTypes = []string{GrantAuthorizationCode, GrantAuthorizationCode, GrantRefreshToken}
	got, err := normalize(s)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Padded" || len(got.GrantTypes) != 2 {
		t.Fatalf("got name %q grants %v", got.Name, got.GrantTypes)
	}
}

func TestNormalizeRejects(t *testing.T) {
	priv := testJWKS(t, true)
	cases := []struct {
		name string
		edit func(*Settings)
		want string // a phrase of the error message
	}{
		{"no name", func(s *Settings) { s.Name = "  " }, "name is required"},
		{"control characters in name", func(s *Settings) { s.Name = "a\x00b" }, "control characters"},
		{"no grant", func(s *Settings) { s.GrantTypes = nil }, "at least one grant type"},
		{"unknown grant", func(s *Settings) { s.GrantTypes = []string{"password"} }, `grant type "password"`},
		{"refresh without code", func(s *Settings) {
			s.GrantTypes, s.RedirectURIs = []string{GrantClientCredentials, GrantRefreshToken}, nil
		}, "refresh_token needs authorization_code"},
		{"public with client_credentials", func(s *Settings) {
			s.Public, s.GrantTypes = true, []string{GrantAuthorizationCode, GrantClientCredentials}
		}, "public client cannot use client_credentials"},
		{"public without code", func(s *Settings) {
			s.Public, s.GrantTypes, s.RedirectURIs = true, []string{GrantClientCredentials}, nil
		}, "must use the authorization_code grant"},
		{"public with a secret method", func(s *Settings) { s.Public, s.AuthMethod = true, AuthClientSecretBasic }, "must use token endpoint auth method none"},
		{"confidential with none", func(s *Settings) { s.AuthMethod = AuthNone }, "cannot use token endpoint auth method none"},
		{"unknown auth method", func(s *Settings) { s.AuthMethod = "tls_client_auth" }, "auth method"},
		{"code without redirect", func(s *Settings) { s.RedirectURIs = nil }, "at least one redirect URI"},
		{"redirect without code", func(s *Settings) { s.GrantTypes = []string{GrantClientCredentials} }, "only used by the authorization_code grant"},
		{"relative redirect", func(s *Settings) { s.RedirectURIs = []string{"/cb"} }, "must be absolute"},
		{"redirect with fragment", func(s *Settings) { s.RedirectURIs = []string{"https://a.example.org/cb#x"} }, "fragment"},
		{"redirect with empty fragment", func(s *Settings) { s.RedirectURIs = []string{"https://a.example.org/cb#"} }, "fragment"},
		{"plain http redirect", func(s *Settings) { s.RedirectURIs = []string{"http://a.example.org/cb"} }, "must use https"},
		{"http on a lookalike host", func(s *Settings) { s.RedirectURIs = []string{"http://localhost.evil.example/cb"} }, "must use https"},
		{"custom scheme", func(s *Settings) { s.RedirectURIs = []string{"com.example.app:/cb"} }, "redirect URI"},
		{"redirect with userinfo", func(s *Settings) { s.RedirectURIs = []string{"https://u:p@a.example.org/cb"} }, "user information"},
		{"redirect with whitespace", func(s *Settings) { s.RedirectURIs = []string{" https://a.example.org/cb"} }, "whitespace"},
		{"duplicate redirect", func(s *Settings) {
			s.RedirectURIs = []string{"https://a.example.org/cb", "https://a.example.org/cb"}
		}, "listed twice"},
		{"empty scope", func(s *Settings) { s.Scope = "" }, "scope is required"},
		{"leading space in scope", func(s *Settings) { s.Scope = " openid" }, "single spaces"},
		{"double space in scope", func(s *Settings) { s.Scope = "openid  profile" }, "single spaces"},
		{"tab in scope", func(s *Settings) { s.Scope = "openid\tprofile" }, "not allowed in a scope"},
		{"quote in scope", func(s *Settings) { s.Scope = `openid "x"` }, "not allowed in a scope"},
		{"unknown SMART context", func(s *Settings) { s.Scope = "practitioner/Observation.rs" }, "practitioner"},
		{"SMART permissions out of order", func(s *Settings) { s.Scope = "patient/Observation.sr" }, "Observation.sr"},
		{"duplicate scope", func(s *Settings) { s.Scope = "openid openid" }, "listed twice"},
		{"private_key_jwt without keys", func(s *Settings) { s.AuthMethod = AuthPrivateKeyJWT }, "needs a jwks_uri or an inline jwks"},
		{"both jwks and jwks_uri", func(s *Settings) {
			s.AuthMethod, s.JWKSURI, s.JWKS = AuthPrivateKeyJWT, "https://a.example.org/jwks", testJWKS(t, false)
		}, "not both"},
		{"jwks_uri over http", func(s *Settings) { s.JWKSURI = "http://a.example.org/jwks" }, "jwks_uri"},
		{"jwks that is not JSON", func(s *Settings) { s.AuthMethod, s.JWKS = AuthPrivateKeyJWT, "{nope" }, "not a JSON Web Key Set"},
		{"empty jwks", func(s *Settings) { s.AuthMethod, s.JWKS = AuthPrivateKeyJWT, `{"keys":[]}` }, "holds no keys"},
		{"private key in jwks", func(s *Settings) { s.AuthMethod, s.JWKS = AuthPrivateKeyJWT, priv }, "not a valid public key"},
		{"symmetric key in jwks", func(s *Settings) {
			s.AuthMethod, s.JWKS = AuthPrivateKeyJWT, `{"keys":[{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0"}]}`
		}, "not a valid public key"},
		{"keys with a secret method", func(s *Settings) { s.JWKSURI, s.AuthMethod = "https://a.example.org/jwks", AuthClientSecretBasic }, "only used with private_key_jwt"},
		{"unknown token format", func(s *Settings) { s.TokenFormat = "paseto" }, "token format"},
		{"negative owner", func(s *Settings) { s.OwnerID = -1 }, "owner"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := confidential()
			c.edit(&s)
			_, err := normalize(s)
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("got %v, want an Invalid error", err)
			}
			if msg := apperr.Message(err); !strings.Contains(msg, c.want) {
				t.Fatalf("message %q does not mention %q", msg, c.want)
			}
		})
	}
}

// Every problem is reported in one answer.
func TestNormalizeReportsAllProblems(t *testing.T) {
	_, err := normalize(Settings{GrantTypes: []string{"implicit"}, TokenFormat: "x"})
	msg := apperr.Message(err)
	for _, want := range []string{"name is required", `grant type "implicit"`, "scope is required", "token format"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
}

// FuzzNormalize checks that no registration input panics and that whatever
// is accepted satisfies the invariants the token endpoint relies on.
func FuzzNormalize(f *testing.F) {
	f.Add("App", "authorization_code", "https://a.example.org/cb", "openid patient/*.rs", "", false)
	f.Add("App", "client_credentials", "", "system/*.rs", "client_secret_post", false)
	f.Add("App", "authorization_code", "http://127.0.0.1/cb", "openid", "none", true)
	f.Fuzz(func(t *testing.T, name, grant, redirect, scope, method string, public bool) {
		s := Settings{Name: name, GrantTypes: []string{grant}, Scope: scope, AuthMethod: method, Public: public}
		if redirect != "" {
			s.RedirectURIs = []string{redirect}
		}
		got, err := normalize(s)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("error of kind %v: %v", apperr.KindOf(err), err)
			}
			return
		}
		if got.Public != (got.AuthMethod == AuthNone) {
			t.Fatalf("accepted public=%v with auth method %q", got.Public, got.AuthMethod)
		}
		for _, tok := range strings.Split(got.Scope, " ") {
			if _, err := oscope.Parse(tok); err != nil {
				t.Fatalf("accepted malformed scope %q", got.Scope)
			}
		}
		for _, u := range got.RedirectURIs {
			if strings.Contains(u, "#") {
				t.Fatalf("accepted redirect URI with fragment %q", u)
			}
		}
	})
}

// id_token_signed_response_alg: empty becomes RS256 (OpenID Connect Core's
// default), ES256 is kept, and anything else is refused by name, including
// "none", HMAC algorithms, other spellings and text that is not text.
func TestNormalizeIDTokenAlg(t *testing.T) {
	for in, want := range map[string]string{"": IDTokenRS256, "RS256": IDTokenRS256, "ES256": IDTokenES256} {
		s := confidential()
		s.IDTokenAlg = in
		got, err := normalize(s)
		if err != nil || got.IDTokenAlg != want || got.IDTokenSigningAlg() != want {
			t.Errorf("alg %q: got %q, %v; want %q", in, got.IDTokenAlg, err, want)
		}
	}
	for _, bad := range []string{"none", "HS256", "rs256", "ES384", "PS256", " RS256", "RS256\x00", "\xff\xfe", strings.Repeat("R", 5000)} {
		s := confidential()
		s.IDTokenAlg = bad
		_, err := normalize(s)
		if !apperr.Is(err, apperr.Invalid) || !strings.Contains(apperr.Message(err), "id_token_signed_response_alg") {
			t.Errorf("alg %q: got %v, want Invalid naming id_token_signed_response_alg", bad, err)
			continue
		}
		if len(apperr.Message(err)) > 500 {
			t.Errorf("alg of %d bytes: message of %d bytes echoes it whole", len(bad), len(apperr.Message(err)))
		}
	}
	if (&Settings{}).IDTokenSigningAlg() != IDTokenRS256 {
		t.Error("a client stored without an alg (registered before the setting) must get RS256")
	}
}
