package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"ward/internal/testutil"
)

// TestIntegrationCommands: create prints {"id","secret"} once; list and
// show never print the secret; push posts a token from the CLI (to a
// loopback receiver, with WARD_OUTBOUND_ALLOW_PRIVATE=1) and exits 1 when
// the receiver refuses it; bad input is refused; delete removes it.
func TestIntegrationCommands(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		var posts, code atomic.Int32
		code.Store(http.StatusOK)
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			posts.Add(1)
			w.WriteHeader(int(code.Load()))
		}))
		defer rcv.Close()
		c := newCLI(t, dbURL)
		c.env = append(c.env, "WARD_OUTBOUND_ALLOW_PRIVATE=1")
		var cl struct {
			ClientID string `json:"client_id"`
		}
		out := c.must("client", "create", "--name", "Portal", "--grant", "client_credentials", "--scope", "system/Patient.rs", "--json")
		if err := json.Unmarshal([]byte(out), &cl); err != nil || cl.ClientID == "" {
			t.Fatalf("client create: %q", out)
		}
		out = c.must("integration", "create", "--client-id", cl.ClientID, "--url", rcv.URL+"/token", "--token-lifetime", "30m", "--json")
		var created struct {
			ID, Secret           string
			TokenLifetimeSeconds int64 `json:"token_lifetime_seconds"`
		}
		if err := json.Unmarshal([]byte(out), &created); err != nil || created.ID == "" ||
			!strings.HasPrefix(created.Secret, "whsec_") || created.TokenLifetimeSeconds != 1800 {
			t.Fatalf("integration create --json: %q", out)
		}
		for _, a := range [][]string{{"integration", "list"}, {"integration", "list", "--json"},
			{"integration", "show", created.ID}, {"integration", "show", created.ID, "--json"}} {
			out := c.must(a...)
			if strings.Contains(out, created.Secret) || !strings.Contains(out, created.ID) {
				t.Fatalf("ward %s printed %q", strings.Join(a, " "), out)
			}
		}
		out = c.must("integration", "push", created.ID, "--json")
		if posts.Load() != 1 || !strings.Contains(out, `"status":"pushed"`) {
			t.Fatalf("push: %d posts, %q", posts.Load(), out)
		}
		code.Store(http.StatusBadGateway)
		if code, out, _ := c.run("integration", "push", created.ID); code != 1 || !strings.Contains(out, "failed") {
			t.Fatalf("a refused push exits %d: %q", code, out)
		}
		for _, bad := range [][]string{
			{"integration", "create", "--client-id", cl.ClientID, "--url", "ftp://portal.example.org/t"},
			{"integration", "create", "--client-id", cl.ClientID, "--url", rcv.URL, "--token-lifetime", "1m"},
			{"integration", "create", "--client-id", "nobody", "--url", rcv.URL},
			{"integration", "show", "int_000000000000000000000000"},
			{"integration", "delete", "nope"},
		} {
			if code, _, _ := c.run(bad...); code == 0 {
				t.Errorf("ward %s succeeded", strings.Join(bad, " "))
			}
		}
		if out := c.must("integration", "delete", created.ID); !strings.Contains(out, "1 live pushed token(s) revoked") {
			t.Fatalf("delete: %q", out)
		}
		if code, _, _ := c.run("integration", "show", created.ID); code == 0 {
			t.Fatal("show after delete succeeded")
		}
	})
}
