package oauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"ward/internal/client"
	"ward/internal/oauth/keys"
	"ward/internal/testutil"
)

// newJWTApp is newApp for a public SMART app whose access tokens are
// RFC 9068 JWTs.
func newJWTApp(t *testing.T, e *env, scopes string) *app {
	t.Helper()
	id, _ := e.client(client.Settings{
		Name: "JWT Patient App", Public: true, TokenFormat: client.TokenJWT,
		GrantTypes:   []string{client.GrantAuthorizationCode, client.GrantRefreshToken},
		RedirectURIs: []string{appRedirect}, Scope: scopes,
	})
	p, err := oidc.NewProvider(context.Background(), e.issuer)
	if err != nil {
		t.Fatalf("oidc discovery: %v", err)
	}
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInParams
	return &app{e: e, id: id, provider: p, conf: &oauth2.Config{
		ClientID: id, Endpoint: ep, RedirectURL: appRedirect, Scopes: strings.Fields(scopes),
	}}
}

// jwtParts splits a compact JWS and decodes its header and payload.
func jwtParts(t *testing.T, raw string) (header, payload map[string]any, sig string) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", raw)
	}
	for i, into := range []*map[string]any{&header, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatal(err)
		}
	}
	return header, payload, parts[2]
}

func b64JSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// signJWT signs claims with key under kid and typ.
func signJWT(t *testing.T, key any, kid, typ string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader(jose.HeaderKey("kid"), kid)
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := sg.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func with(claims map[string]any, k string, v any) map[string]any {
	out := map[string]any{}
	for name, val := range claims {
		out[name] = val
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

// TestJWTAccessTokenVerified is issue 10 finding 2: a JWT access token was
// looked up by its last segment alone, so "a.b.<signature>" or a token with
// edited claims passed. Now its signature (by a key ward publishes), typ,
// iss, aud and exp are verified before any lookup, and the row is found by
// the verified jti. Every forgery is inactive at introspection and 401 at
// the FHIR API and userinfo; the genuine token works at all three, also
// after a key rotation.
func TestJWTAccessTokenVerified(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		pat := e.user("pat@example.org", patientPassword, "patient")
		other := e.user("other@example.org", patientPassword, "patient")
		a := newJWTApp(t, e, "openid fhirUser launch/patient patient/*.rs")
		verifier, _ := pkce("j")
		code := codeFrom(t, a.authorize(e.browser(), pat.Email, patientPassword, "state-jwt", verifier, "nonce-jwt"), "state-jwt")
		tok, err := a.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		real := tok.AccessToken
		header, claims, sig := jwtParts(t, real)
		if header["typ"] != "at+jwt" || claims["jti"] == "" || claims["jti"] == nil {
			t.Fatalf("issued token: header %v claims %v", header, claims)
		}
		rsID, rsSecret := e.client(client.Settings{Name: "Resource server", GrantTypes: []string{client.GrantClientCredentials},
			Scope: "system/*.rs", ResourceServer: true})
		patPath := "/fhir/Patient/" + strconv.FormatInt(pat.ID, 10)

		works := func(name, token string) {
			t.Helper()
			if in := e.introspect(token, rsID, rsSecret); in["active"] != true || in["sub"] != strconv.FormatInt(pat.ID, 10) {
				t.Errorf("%s: introspection %v, want active for the patient", name, in)
			}
			if st, _, out := e.bearerGet(patPath, token); st != http.StatusOK {
				t.Errorf("%s: FHIR read %d %v, want 200", name, st, out)
			}
			if st, _, out := e.bearerGet("/oauth/userinfo", token); st != http.StatusOK || out["sub"] != strconv.FormatInt(pat.ID, 10) {
				t.Errorf("%s: userinfo %d %v, want 200 for the patient", name, st, out)
			}
		}
		dead := func(name, token string) {
			t.Helper()
			if in := e.introspect(token, rsID, rsSecret); len(in) != 1 || in["active"] != false {
				t.Errorf("%s: introspection %v, want exactly {\"active\":false}", name, in)
			}
			for _, path := range []string{patPath, "/fhir/Patient/" + strconv.FormatInt(other.ID, 10), "/oauth/userinfo"} {
				if st, _, out := e.bearerGet(path, token); st != http.StatusUnauthorized {
					t.Errorf("%s: GET %s %d %v, want 401", name, path, st, out)
				}
			}
		}
		works("the genuine token", real)

		// Re-signed by ward's own current key, claims unchanged: the same
		// token as far as a verifier can tell (it proves the forgeries
		// below fail for the claim they change, not for the re-signing).
		k, err := e.svc.Keys.Active(ctx, keys.ES256)
		if err != nil {
			t.Fatal(err)
		}
		wardKey := k.PrivateJWK().Key
		if kid := header["kid"]; kid != k.KID {
			t.Fatalf("token kid %v, current key %s", kid, k.KID)
		}
		works("the genuine claims re-signed by ward's key", signJWT(t, wardKey, k.KID, "at+jwt", claims))

		foreign, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		decade := time.Now().AddDate(10, 0, 0).Unix()
		edited := with(with(claims, "patient", strconv.FormatInt(other.ID, 10)), "exp", decade)
		forged := []struct{ name, token string }{
			{"a.b.<real signature>", "a.b." + sig},
			{"header and payload of nothing", b64JSON(t, map[string]any{}) + "." + b64JSON(t, map[string]any{}) + "." + sig},
			{"edited payload (other patient, exp in ten years), original signature",
				b64JSON(t, header) + "." + b64JSON(t, edited) + "." + sig},
			{"edited payload (exp in ten years only), original signature",
				b64JSON(t, header) + "." + b64JSON(t, with(claims, "exp", decade)) + "." + sig},
			{"signed by another key under ward's kid", signJWT(t, foreign, k.KID, "at+jwt", claims)},
			{"signed by another key under its own kid", signJWT(t, foreign, "attacker", "at+jwt", claims)},
			{"wrong iss", signJWT(t, wardKey, k.KID, "at+jwt", with(claims, "iss", "https://evil.example"))},
			{"no iss", signJWT(t, wardKey, k.KID, "at+jwt", with(claims, "iss", nil))},
			{"wrong aud", signJWT(t, wardKey, k.KID, "at+jwt", with(claims, "aud", []string{"https://other.example/fhir"}))},
			{"no aud", signJWT(t, wardKey, k.KID, "at+jwt", with(claims, "aud", nil))},
			{"expired", signJWT(t, wardKey, k.KID, "at+jwt", with(claims, "exp", time.Now().Add(-time.Minute).Unix()))},
			{"no exp", signJWT(t, wardKey, k.KID, "at+jwt", with(claims, "exp", nil))},
			{"typ JWT (as an ID token)", signJWT(t, wardKey, k.KID, "JWT", claims)},
			{"no jti", signJWT(t, wardKey, k.KID, "at+jwt", with(claims, "jti", nil))},
			{"another client's id", signJWT(t, wardKey, k.KID, "at+jwt", with(claims, "client_id", rsID))},
			{"the ID token", tok.Extra("id_token").(string)},
		}
		for _, f := range forged {
			dead(f.name, f.token)
		}

		// A rotation retires the key but keeps it published until every
		// token it signed has expired: the token still works.
		if _, err := e.svc.Keys.Rotate(e.sys(), time.Hour); err != nil {
			t.Fatal(err)
		}
		works("the genuine token after a key rotation", real)

		// Revoked: the verified token's row says no.
		st, _, out := e.postForm("/oauth/revoke", map[string][]string{"token": {real}, "client_id": {a.id}}, "", "")
		if st != http.StatusOK {
			t.Fatalf("revoke: %d %v", st, out)
		}
		dead("the genuine token, revoked", real)
	})
}
