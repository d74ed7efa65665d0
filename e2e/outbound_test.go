package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"ward/internal/testutil"
)

// TestOutboundSwitch: the real binary refuses a backend client's loopback
// jwks_uri (401 invalid_client with a generic description, the key-set
// server never reached) until WARD_OUTBOUND_ALLOW_PRIVATE=1, and then
// accepts its assertion. Storage plays no part, so SQLite only.
func TestOutboundSwitch(t *testing.T) {
	dataDir, dbURL := t.TempDir(), testutil.SQLiteURL(t)
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES384", Use: "sig"}}})
	var hits atomic.Int64
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(keys.Close)
	var backend struct {
		ClientID string `json:"client_id"`
	}
	wardJSON(t, dataDir, dbURL, &backend, "client", "create", "--name", "Loopback keys",
		"--grant", "client_credentials", "--scope", "system/Patient.rs", "--jwks-uri", keys.URL+"/jwks.json", "--json")
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES384, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	token := func(t *testing.T, base string) (int, map[string]any) {
		assertion, err := jwt.Signed(sg).Claims(map[string]any{"iss": backend.ClientID, "sub": backend.ClientID,
			"aud": base + "/oauth/token", "exp": time.Now().Add(4 * time.Minute).Unix(), "jti": fmt.Sprint(time.Now().UnixNano())}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		res, body := read(t)(http.PostForm(base+"/oauth/token", url.Values{"grant_type": {"client_credentials"},
			"scope": {"system/Patient.rs"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion": {assertion}}))
		var out map[string]any
		_ = json.Unmarshal([]byte(body), &out)
		return res.StatusCode, out
	}

	t.Run("switch off", func(t *testing.T) {
		base := serve(t, dataDir, dbURL)
		code, out := token(t, base)
		desc, _ := out["error_description"].(string)
		if code != http.StatusUnauthorized || out["error"] != "invalid_client" ||
			!strings.HasSuffix(desc, "The client's key set could not be fetched.") {
			t.Fatalf("loopback jwks_uri with the switch off: %d %v, want 401 invalid_client, generic", code, out)
		}
		if hits.Load() != 0 {
			t.Fatal("the loopback key-set server was reached with the switch off")
		}
	})
	t.Run("switch on", func(t *testing.T) {
		base := serveEnv(t, dataDir, dbURL, "WARD_OUTBOUND_ALLOW_PRIVATE=1").base
		if code, out := token(t, base); code != http.StatusOK || out["access_token"] == nil {
			t.Fatalf("loopback jwks_uri with WARD_OUTBOUND_ALLOW_PRIVATE=1: %d %v", code, out)
		}
		if hits.Load() != 1 {
			t.Fatalf("the key-set server was asked %d times, want 1", hits.Load())
		}
	})
}
