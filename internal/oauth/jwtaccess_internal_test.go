package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"ward/internal/oauth/keys"
)

// setKeys is a KeySource whose published set the test changes.
type setKeys struct{ set jose.JSONWebKeySet }

func (s *setKeys) Active(context.Context, string) (*keys.Key, error) { return nil, nil }
func (s *setKeys) PublicJWKS(context.Context) (jose.JSONWebKeySet, error) {
	return s.set, nil
}

// TestVerifiedJWTCache: a token verified once is remembered, but a
// remembered token is still refused once its exp passes or its key is no
// longer published.
func TestVerifiedJWTCache(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := jose.JSONWebKey{Key: priv.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}
	src := &setKeys{set: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}}}
	now := time.Unix(1_800_000_000, 0)
	a := &accessJWTs{keys: src, issuer: "https://ward.example", audience: "https://ward.example/fhir", now: func() time.Time { return now }}

	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: priv, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{"iss": a.issuer, "aud": []string{a.audience}, "exp": now.Add(time.Hour).Unix(),
		"jti": "j1", "client_id": "c1", "sub": "7"})
	jws, err := sg.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := jws.CompactSerialize()

	for i := range 2 {
		if v, err := a.verify(context.Background(), raw); err != nil || v.jti != "j1" || v.clientID != "c1" {
			t.Fatalf("verify %d: %v %v", i, v, err)
		}
	}
	if len(a.seen) != 1 {
		t.Fatalf("%d tokens remembered, want 1", len(a.seen))
	}
	src.set = jose.JSONWebKeySet{}
	if _, err := a.verify(context.Background(), raw); err == nil {
		t.Error("a remembered token whose key is no longer published still verifies")
	}
	src.set = jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}}
	if _, err := a.verify(context.Background(), raw); err != nil {
		t.Errorf("key published again: %v", err)
	}
	now = now.Add(time.Hour)
	if _, err := a.verify(context.Background(), raw); err == nil {
		t.Error("a remembered token verifies at its exp")
	}
}

// BenchmarkVerifyAccessJWT measures a JWT access token's verification the
// first time (signature and claims) and again (the remembered result).
func BenchmarkVerifyAccessJWT(b *testing.B) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	src := &setKeys{set: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: priv.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}}
	a := &accessJWTs{keys: src, issuer: "https://ward.example", audience: "https://ward.example/fhir", now: time.Now}
	sg, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: priv, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	payload, _ := json.Marshal(map[string]any{"iss": a.issuer, "aud": []string{a.audience}, "exp": time.Now().Add(time.Hour).Unix(),
		"jti": "0190a7f2c3d44e5f8a9b0c1d2e3f4a5b", "client_id": "c1", "sub": "7", "scope": "patient/*.rs openid fhirUser",
		"patient": "7", "fhirUser": "https://ward.example/fhir/Patient/7", "iat": time.Now().Unix()})
	jws, _ := sg.Sign(payload)
	raw, _ := jws.CompactSerialize()
	ctx := context.Background()
	b.Run("first", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			a.seen = nil
			if _, err := a.verify(ctx, raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("again", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.verify(ctx, raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
