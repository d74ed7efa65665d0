package oauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"ward/internal/client"
	"ward/internal/testutil"
)

// jwtHeader returns the alg and kid of a compact JWS, unverified.
func jwtHeader(t *testing.T, raw string) (alg, kid string) {
	t.Helper()
	head, _, ok := strings.Cut(raw, ".")
	if !ok {
		t.Fatalf("not a JWT: %.40q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatalf("JWT header: %v", err)
	}
	var h struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("JWT header %s: %v", b, err)
	}
	return h.Alg, h.Kid
}

// publishedKeys returns the JWKS's keys as kid -> alg.
func publishedKeys(t *testing.T, e *env) map[string]string {
	t.Helper()
	res, err := http.Get(e.issuer + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	out := map[string]string{}
	for _, k := range set.Keys {
		out[k.KeyID] = k.Algorithm
	}
	return out
}

// TestIDTokenSigningAlgorithms: discovery offers RS256 and ES256, RS256
// first; the JWKS publishes a key of each; a client that registered no
// algorithm gets RS256 ID tokens, which go-oidc's verifier accepts with its
// defaults (RS256 only, as OpenID Connect Core's default); a client that
// registered ES256 gets ES256 ones, refused by a verifier that expects
// RS256. A refreshed ID token keeps the client's algorithm, and follows it
// when the client changes it. JWT access tokens stay ES256 throughout.
func TestIDTokenSigningAlgorithms(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		pat := e.user("pat@example.org", patientPassword, "patient")

		prov, err := oidc.NewProvider(ctx, e.issuer)
		if err != nil {
			t.Fatalf("discovery: %v", err)
		}
		var disc struct {
			Algs []string `json:"id_token_signing_alg_values_supported"`
		}
		if err := prov.Claims(&disc); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(disc.Algs, []string{"RS256", "ES256"}) {
			t.Fatalf("id_token_signing_alg_values_supported = %q, want [RS256 ES256]", disc.Algs)
		}
		published := publishedKeys(t, e)
		var algs []string
		for _, a := range published {
			algs = append(algs, a)
		}
		if !slices.Contains(algs, "RS256") || !slices.Contains(algs, "ES256") {
			t.Fatalf("JWKS publishes %v, want an RS256 and an ES256 key", published)
		}
		keySet := oidc.NewRemoteKeySet(ctx, e.issuer+"/.well-known/jwks.json")

		for i, tc := range []struct {
			name, registered, want string
			verify                 []string // SupportedSigningAlgs; nil is go-oidc's default, RS256
		}{
			{"default", "", "RS256", nil},
			{"ES256", "ES256", "ES256", []string{"ES256"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				scopes := "openid fhirUser offline_access launch/patient patient/*.rs"
				id, _ := e.client(client.Settings{
					Name: "App " + tc.name, Public: true, TokenFormat: client.TokenJWT, IDTokenAlg: tc.registered,
					GrantTypes:   []string{client.GrantAuthorizationCode, client.GrantRefreshToken},
					RedirectURIs: []string{appRedirect}, Scope: scopes,
				})
				ep := prov.Endpoint()
				ep.AuthStyle = oauth2.AuthStyleInParams
				a := &app{e: e, id: id, provider: prov, conf: &oauth2.Config{
					ClientID: id, Endpoint: ep, RedirectURL: appRedirect, Scopes: strings.Fields(scopes)}}
				state, nonce := "state-alg-000"+string(rune('1'+i)), "nonce-alg-000"+string(rune('1'+i))
				verifier, _ := pkce("alg" + tc.name)
				p := a.authorize(e.browser(), pat.Email, patientPassword, state, verifier, nonce)
				tok, err := a.conf.Exchange(ctx, codeFrom(t, p, state), oauth2.VerifierOption(verifier))
				if err != nil {
					t.Fatalf("exchange: %v", err)
				}

				check := func(what string, tok *oauth2.Token, want string, verify []string) {
					t.Helper()
					raw, _ := tok.Extra("id_token").(string)
					if raw == "" {
						t.Fatalf("%s: no id_token", what)
					}
					alg, kid := jwtHeader(t, raw)
					if alg != want || published[kid] != want {
						t.Fatalf("%s: ID token alg %q kid %q (published as %q), want %s", what, alg, kid, published[kid], want)
					}
					v := oidc.NewVerifier(e.issuer, keySet, &oidc.Config{ClientID: id, SupportedSigningAlgs: verify})
					idt, err := v.Verify(ctx, raw)
					if err != nil {
						t.Fatalf("%s: go-oidc refuses the ID token: %v", what, err)
					}
					if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
						t.Errorf("%s: at_hash: %v", what, err)
					}
					other := "RS256"
					if want == "RS256" {
						other = "ES256"
					}
					strict := oidc.NewVerifier(e.issuer, keySet, &oidc.Config{ClientID: id, SupportedSigningAlgs: []string{other}})
					if _, err := strict.Verify(ctx, raw); err == nil {
						t.Errorf("%s: a verifier accepting only %s took a %s ID token", what, other, want)
					}
					if alg, _ := jwtHeader(t, tok.AccessToken); alg != "ES256" {
						t.Errorf("%s: JWT access token alg %q, want ES256 (unchanged)", what, alg)
					}
				}
				check("code exchange", tok, tc.want, tc.verify)
				if i == 0 {
					// The default verifier is RS256 alone: only the first
					// client's tokens may pass it.
					if _, err := oidc.NewVerifier(e.issuer, keySet, &oidc.Config{ClientID: id}).Verify(ctx, tok.Extra("id_token").(string)); err != nil {
						t.Fatalf("go-oidc's default verifier: %v", err)
					}
				}

				fresh, err := a.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
				if err != nil {
					t.Fatalf("refresh: %v", err)
				}
				check("refresh", fresh, tc.want, tc.verify)

				// The client switches algorithm; its next refreshed ID token
				// follows (the client is read at each token request).
				flip, flipVerify := "ES256", []string{"ES256"}
				if tc.want == "ES256" {
					flip, flipVerify = "RS256", nil
				}
				if _, _, err := e.svc.Clients.Update(e.sys(), id, func(s *client.Settings) error {
					s.IDTokenAlg = flip
					return nil
				}); err != nil {
					t.Fatalf("change the client's alg: %v", err)
				}
				again, err := a.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: fresh.RefreshToken}).Token()
				if err != nil {
					t.Fatalf("refresh after the change: %v", err)
				}
				check("refresh after the change", again, flip, flipVerify)
			})
		}
	})
}
