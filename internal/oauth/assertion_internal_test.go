package oauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/ory/fosite"
)

func signedAssertion(t testing.TB, alg jose.SignatureAlgorithm, claims map[string]any) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(sg).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestCheckAssertion(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ok := signedAssertion(t, jose.ES384, map[string]any{"exp": now.Add(4 * time.Minute).Unix()})
	if f, err := checkAssertion(ok, now); err != nil || f.Alg != "ES384" {
		t.Fatalf("a good assertion: %v %v", f, err)
	}
	timed := signedAssertion(t, jose.ES384, map[string]any{"exp": now.Unix() + 1, "iat": now.Unix(), "nbf": now.Unix()})
	if _, err := checkAssertion(timed, now); err != nil {
		t.Fatalf("iat and nbf now, exp next second: %v", err)
	}
	for name, raw := range map[string]string{
		"exp 10 minutes ahead": signedAssertion(t, jose.ES384, map[string]any{"exp": now.Add(10 * time.Minute).Unix()}),
		"expired":              signedAssertion(t, jose.ES384, map[string]any{"exp": now.Add(-time.Hour).Unix()}),
		"no exp":               signedAssertion(t, jose.ES384, map[string]any{"sub": "x"}),
		"exp not a number":     signedAssertion(t, jose.ES384, map[string]any{"exp": "soon"}),
		"exp this second":      signedAssertion(t, jose.ES384, map[string]any{"exp": now.Unix()}),
		"exp a second past":    signedAssertion(t, jose.ES384, map[string]any{"exp": now.Unix() - 1}),
		"iat a second ahead":   signedAssertion(t, jose.ES384, map[string]any{"exp": now.Add(time.Minute).Unix(), "iat": now.Unix() + 1}),
		"nbf a minute ahead":   signedAssertion(t, jose.ES384, map[string]any{"exp": now.Add(2 * time.Minute).Unix(), "nbf": now.Add(time.Minute).Unix()}),
		"iat not a number":     signedAssertion(t, jose.ES384, map[string]any{"exp": now.Add(time.Minute).Unix(), "iat": "now"}),
		"alg none":             "eyJhbGciOiJub25lIn0.eyJleHAiOjE4MDAwMDAxMDB9.",
		"not a JWT":            "abc",
		"empty":                "",
	} {
		if _, err := checkAssertion(raw, now); fositeErr(err).ErrorField != fosite.ErrInvalidClient.ErrorField {
			t.Errorf("%s: %v, want invalid_client", name, err)
		}
	}
}

// FuzzCheckAssertion: whatever a client sends as client_assertion, the
// parser answers with invalid_client or accepts a known alg and a bounded
// exp, and never panics.
func FuzzCheckAssertion(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	f.Add(signedAssertion(f, jose.ES384, map[string]any{"exp": now.Add(time.Minute).Unix()}))
	f.Add("eyJhbGciOiJub25lIn0.eyJleHAiOjE4MDAwMDAxMDB9.")
	f.Add("eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2ln")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, raw string) {
		fa, err := checkAssertion(raw, now)
		if err != nil {
			if fositeErr(err).ErrorField != fosite.ErrInvalidClient.ErrorField {
				t.Fatalf("error %v is not invalid_client", err)
			}
			return
		}
		known := false
		for _, a := range AssertionAlgs {
			known = known || a == fa.Alg
		}
		if !known || fa.Exp.After(now.Add(MaxAssertionLifetime+assertionSkew)) || fa.Exp.Before(now.Add(-assertionSkew)) {
			t.Fatalf("accepted %+v", fa)
		}
	})
}
