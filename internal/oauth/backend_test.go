package oauth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2/clientcredentials"

	"ward/internal/client"
	"ward/internal/testutil"
)

func TestClientCredentials(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		for _, format := range []string{client.TokenOpaque, client.TokenJWT} {
			t.Run(format, func(t *testing.T) {
				id, secret := e.client(client.Settings{Name: "svc " + format, GrantTypes: []string{client.GrantClientCredentials},
					Scope: "system/*.rs system/Patient.$export", TokenFormat: format})
				cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.issuer + "/oauth/token",
					Scopes: []string{"system/Patient.rs"}}
				tok, err := cc.Token(ctx)
				if err != nil {
					t.Fatalf("token: %v", err)
				}
				if got := tok.Extra("scope"); got != "system/Patient.rs" {
					t.Errorf("scope = %v, want exactly what was asked", got)
				}
				if tok.RefreshToken != "" {
					t.Error("client credentials must not yield a refresh token")
				}
				if in := e.introspect(tok.AccessToken, id, secret); in["active"] != true || in["client_id"] != id || in["sub"] != id {
					t.Errorf("introspection = %v", in)
				}
				if format == client.TokenOpaque {
					if !strings.HasPrefix(tok.AccessToken, "ward_at_") {
						t.Errorf("opaque token %q lacks the ward_at_ prefix", tok.AccessToken[:12])
					}
					return
				}
				// RFC 9068: typ at+jwt, signed by a key in ward's JWKS.
				keys := oidc.NewRemoteKeySet(ctx, e.issuer+"/.well-known/jwks.json")
				payload, err := keys.VerifySignature(ctx, tok.AccessToken)
				if err != nil {
					t.Fatalf("JWT access token does not verify against the JWKS: %v", err)
				}
				parsed, err := jwt.ParseSigned(tok.AccessToken, []jose.SignatureAlgorithm{jose.ES256})
				if err != nil {
					t.Fatal(err)
				}
				if typ := parsed.Headers[0].ExtraHeaders["typ"]; typ != "at+jwt" {
					t.Errorf("typ = %v, want at+jwt", typ)
				}
				var c map[string]any
				if err := json.Unmarshal(payload, &c); err != nil {
					t.Fatal(err)
				}
				for _, k := range []string{"iss", "exp", "aud", "sub", "client_id", "iat", "jti"} {
					if c[k] == nil {
						t.Errorf("JWT access token lacks %s: %v", k, c)
					}
				}
				if c["client_id"] != id || c["scope"] != "system/Patient.rs" || c["iss"] != e.issuer {
					t.Errorf("claims = %v", c)
				}
			})
		}
	})
}

// assertionKey is a backend service's key pair.
type assertionKey struct {
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
	kid  string
}

func newAssertionKey(t *testing.T, alg jose.SignatureAlgorithm) assertionKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.ES384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case jose.RS384:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("alg %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return assertionKey{alg: alg, priv: priv, kid: "k-" + string(alg)}
}

func (k assertionKey) jwks() string {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}}}
	b, _ := json.Marshal(set)
	return string(b)
}

// assertion builds a client assertion; mutate adjusts the claims.
func (k assertionKey) assertion(t *testing.T, clientID, aud string, mutate func(map[string]any)) string {
	t.Helper()
	now := time.Now()
	claims := map[string]any{"iss": clientID, "sub": clientID, "aud": aud,
		"exp": now.Add(4 * time.Minute).Unix(), "jti": fmt.Sprintf("jti-%d", now.UnixNano())}
	if mutate != nil {
		mutate(claims)
	}
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(sg).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func backendForm(assertion, scope string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "scope": {scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion}}
}

func TestBackendServices(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		tokenURL := e.issuer + "/oauth/token"
		es := newAssertionKey(t, jose.ES384)
		rs := newAssertionKey(t, jose.RS384)

		// One client with an inline JWKS, one with a jwks_uri.
		esID, _ := e.client(client.Settings{Name: "backend es384", GrantTypes: []string{client.GrantClientCredentials},
			Scope: "system/*.rs system/*.$export", AuthMethod: client.AuthPrivateKeyJWT, JWKS: es.jwks()})
		jwksSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(rs.jwks()))
		}))
		t.Cleanup(jwksSrv.Close)
		rsID, _ := e.client(client.Settings{Name: "backend rs384", GrantTypes: []string{client.GrantClientCredentials},
			Scope: "system/Patient.rs", AuthMethod: client.AuthPrivateKeyJWT, JWKSURI: jwksSrv.URL})

		for _, c := range []struct {
			name, id string
			key      assertionKey
		}{{"ES384 inline JWKS", esID, es}, {"RS384 jwks_uri", rsID, rs}} {
			t.Run(c.name, func(t *testing.T) {
				st, _, out := e.postForm("/oauth/token", backendForm(c.key.assertion(t, c.id, tokenURL, nil), "system/Patient.rs"), "", "")
				if st != http.StatusOK {
					t.Fatalf("token: %d %v", st, out)
				}
				if out["scope"] != "system/Patient.rs" || out["access_token"] == nil {
					t.Fatalf("token response %v", out)
				}
			})
		}

		hs := func(claims map[string]any) string {
			// An HMAC "signed" with the client's public key as the secret.
			pub, _ := json.Marshal(jose.JSONWebKey{Key: es.priv.Public()})
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
			b, _ := json.Marshal(claims)
			p := base64.RawURLEncoding.EncodeToString(b)
			m := hmac.New(sha256.New, pub)
			m.Write([]byte(h + "." + p))
			return h + "." + p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
		}
		none := func(claims map[string]any) string {
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
			b, _ := json.Marshal(claims)
			return h + "." + base64.RawURLEncoding.EncodeToString(b) + "."
		}
		claims := func() map[string]any {
			return map[string]any{"iss": esID, "sub": esID, "aud": tokenURL,
				"exp": time.Now().Add(time.Minute).Unix(), "jti": fmt.Sprintf("x-%d", time.Now().UnixNano())}
		}
		replayed := es.assertion(t, esID, tokenURL, nil)
		if st, _, out := e.postForm("/oauth/token", backendForm(replayed, "system/Patient.rs"), "", ""); st != http.StatusOK {
			t.Fatalf("first use of an assertion: %d %v", st, out)
		}
		bad := []struct {
			name      string
			assertion string
			scope     string
			wantErr   string
		}{
			{"replayed jti", replayed, "system/Patient.rs", "invalid_client"},
			{"exp more than five minutes ahead", es.assertion(t, esID, tokenURL, func(c map[string]any) {
				c["exp"] = time.Now().Add(10 * time.Minute).Unix()
			}), "system/Patient.rs", "invalid_client"},
			{"expired", es.assertion(t, esID, tokenURL, func(c map[string]any) {
				c["exp"] = time.Now().Add(-5 * time.Minute).Unix()
			}), "system/Patient.rs", "invalid_client"},
			{"no exp", es.assertion(t, esID, tokenURL, func(c map[string]any) { delete(c, "exp") }), "system/Patient.rs", "invalid_client"},
			{"wrong audience", es.assertion(t, esID, "https://elsewhere.example/token", nil), "system/Patient.rs", "invalid_client"},
			{"iss is not the client", es.assertion(t, esID, tokenURL, func(c map[string]any) { c["iss"] = rsID }), "system/Patient.rs", "invalid_client"},
			{"signed by another key", rs.assertion(t, esID, tokenURL, nil), "system/Patient.rs", "invalid_client"},
			{"alg none", none(claims()), "system/Patient.rs", "invalid_client"},
			{"HMAC over the public key", hs(claims()), "system/Patient.rs", "invalid_client"},
			{"garbage", "not.a.jwt", "system/Patient.rs", "invalid_client"},
			{"scope not registered", es.assertion(t, esID, tokenURL, nil), "system/Patient.cud", "invalid_scope"},
			{"user scope for a backend", es.assertion(t, esID, tokenURL, nil), "user/Patient.rs", "invalid_scope"},
			{"unknown scope", es.assertion(t, esID, tokenURL, nil), "system/Nonsense.rs", "invalid_scope"},
		}
		for _, c := range bad {
			t.Run(c.name, func(t *testing.T) {
				st, hdr, out := e.postForm("/oauth/token", backendForm(c.assertion, c.scope), "", "")
				if out["error"] != c.wantErr || out["access_token"] != nil {
					t.Fatalf("got %d %v, want error %s", st, out, c.wantErr)
				}
				if c.wantErr == "invalid_client" && (st != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") == "") {
					t.Errorf("invalid_client answered %d with WWW-Authenticate %q, want 401 and a challenge", st, hdr.Get("WWW-Authenticate"))
				}
			})
		}
		if !e.hasAudit("token request refused: invalid_client") || !e.hasAudit("token request refused: invalid_scope") {
			t.Error("refused backend requests are not audited")
		}
	})
}
