package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"ward/internal/actor"
	"ward/internal/oauth/keys"
	"ward/internal/testutil"
)

// The first start creates the signing keys and the server publishes them;
// a rotation (as by the CLI, through the same services) is published too.
func TestJWKSPublishedFromFirstStart(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		srv := newServer(t, url, nil)
		h := srv.Handler()

		fetch := func() jose.JSONWebKeySet {
			t.Helper()
			res, body := get(t, h, "/.well-known/jwks.json")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET jwks: status %d body %q", res.StatusCode, body)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/jwk-set+json" {
				t.Errorf("Content-Type %q", ct)
			}
			var set jose.JSONWebKeySet
			if err := json.Unmarshal([]byte(body), &set); err != nil {
				t.Fatalf("decode jwks: %v", err)
			}
			for _, k := range set.Keys {
				if !k.IsPublic() {
					t.Fatalf("key %s is published with its private part", k.KeyID)
				}
			}
			return set
		}
		if set := fetch(); len(set.Keys) != 2 {
			t.Fatalf("%d keys published after first start, want one ES256 and one RS256", len(set.Keys))
		}
		ctx := actor.System(t.Context())
		fresh, err := srv.Services().Keys.Rotate(ctx, time.Hour)
		if err != nil {
			t.Fatalf("rotate: %v", err)
		}
		set := fetch()
		if len(set.Keys) != 4 {
			t.Fatalf("%d keys published after a rotation, want 4 (old and new)", len(set.Keys))
		}
		for _, k := range fresh {
			if len(set.Key(k.KID)) != 1 {
				t.Errorf("new %s key %s is not published", k.Alg, k.KID)
			}
		}
		// Only GET is served.
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/.well-known/jwks.json", nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("POST jwks: status %d, want 405", rec.Code)
		}
		if _, err := srv.Services().Keys.Active(t.Context(), keys.ES256); err != nil {
			t.Fatalf("active ES256 key: %v", err)
		}
	})
}
