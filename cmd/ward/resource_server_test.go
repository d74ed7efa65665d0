package main

import (
	"encoding/json"
	"strings"
	"testing"

	"ward/internal/testutil"
)

// TestClientCreateResourceServer: `ward client create --resource-server`
// (the CLI acts as the system, so it may) marks a confidential client that
// may introspect every client's tokens; a public one is refused.
func TestClientCreateResourceServer(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		c := newCLI(t, dbURL)
		out := c.must("client", "create", "--name", "Gateway", "--grant", "client_credentials",
			"--scope", "system/*.rs", "--resource-server", "--json")
		var created struct {
			ClientID string `json:"client_id"`
		}
		if err := json.Unmarshal([]byte(out), &created); err != nil || created.ClientID == "" {
			t.Fatalf("create printed %q: %v", out, err)
		}
		c.must("client", "create", "--name", "Plain", "--grant", "client_credentials", "--scope", "system/*.rs", "--json")

		var listed []struct {
			ClientID       string `json:"client_id"`
			Name           string `json:"client_name"`
			ResourceServer bool   `json:"resource_server"`
		}
		if err := json.Unmarshal([]byte(c.must("client", "list", "--json")), &listed); err != nil {
			t.Fatal(err)
		}
		marked := map[string]bool{}
		for _, l := range listed {
			marked[l.Name] = l.ResourceServer
		}
		if !marked["Gateway"] || marked["Plain"] {
			t.Fatalf("resource_server in list = %v, want only Gateway", marked)
		}

		code, _, errs := c.run("client", "create", "--name", "Public RS", "--public", "--grant", "authorization_code",
			"--scope", "openid", "--redirect-uri", "http://localhost/cb", "--resource-server")
		if code == 0 || !strings.Contains(errs, "resource server must be a confidential client") {
			t.Fatalf("a public resource server was accepted: exit %d, stderr %q", code, errs)
		}
	})
}
