package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"ward/internal/actor"
	"ward/internal/client"
	"ward/internal/config"
	"ward/internal/server"
	"ward/internal/testutil"
)

// registerAsDeveloper registers a client as the application developer
// email would through the API, and returns its id.
func registerAsDeveloper(t *testing.T, dbURL, dataDir, email string) string {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir, cfg.DatabaseURL = dataDir, dbURL
	svc, err := server.OpenServices(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open services: %v", err)
	}
	defer svc.Close()
	u, err := userByEmail(context.Background(), svc.Directory, email)
	if err != nil {
		t.Fatalf("find %s: %v", email, err)
	}
	c, _, err := svc.Clients.Create(actor.With(context.Background(), actor.Actor{UserID: u.ID}), client.Settings{
		Name: "Developer's app", Public: true, GrantTypes: []string{client.GrantAuthorizationCode},
		RedirectURIs: []string{"https://dev.example.org/cb"}, Scope: "openid patient/*.rs"})
	if err != nil {
		t.Fatalf("register as %s: %v", email, err)
	}
	return c.ID
}

func TestClientCommands(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		c := newCLI(t, dbURL)
		c.must("add-user", "--email", "dev@example.org", "--password", "orange-kite-1", "--role", "application_developer")

		out := c.must("client", "create", "--name", "Decision support",
			"--grant", "authorization_code", "--grant", "refresh_token",
			"--scope", "openid fhirUser launch/patient patient/*.rs",
			"--redirect-uri", "https://app.example.org/cb", "--redirect-uri", "http://127.0.0.1:8765/cb",
			"--token-format", "jwt", "--owner", "dev@example.org", "--json")
		var created struct {
			ClientID     *string `json:"client_id"`
			ClientSecret *string `json:"client_secret"`
		}
		if err := json.Unmarshal([]byte(out), &created); err != nil {
			t.Fatalf("create --json printed %q: %v", out, err)
		}
		if created.ClientID == nil || *created.ClientID == "" || created.ClientSecret == nil || len(*created.ClientSecret) < 43 {
			t.Fatalf("create --json printed %q, want a client_id and a 256-bit client_secret", out)
		}
		id := *created.ClientID

		out = c.must("client", "create", "--name", "Native app", "--public",
			"--grant", "authorization_code", "--scope", "openid patient/*.rs",
			"--redirect-uri", "http://localhost/cb", "--json")
		var public map[string]any
		if err := json.Unmarshal([]byte(out), &public); err != nil {
			t.Fatalf("public create printed %q: %v", out, err)
		}
		if _, has := public["client_secret"]; has || public["client_id"] == "" {
			t.Fatalf("public create printed %q, want a client_id and no client_secret member", out)
		}

		// Bad input fails with the reasons and a non-zero status.
		code, _, errs := c.run("client", "create", "--name", "Bad", "--grant", "authorization_code",
			"--scope", "openid", "--redirect-uri", "http://app.example.org/cb", "--json")
		if code == 0 || !strings.Contains(errs, "must use https") {
			t.Fatalf("an http redirect URI was accepted: exit %d, stderr %q", code, errs)
		}

		type listed struct {
			ClientID    string   `json:"client_id"`
			Name        string   `json:"client_name"`
			Public      bool     `json:"public"`
			GrantTypes  []string `json:"grant_types"`
			TokenFormat string   `json:"access_token_format"`
			AuthMethod  string   `json:"token_endpoint_auth_method"`
			Disabled    bool     `json:"disabled"`
			Status      string   `json:"status"`
			OwnerID     int64    `json:"owner_id"`
		}
		// list returns the clients registered here, after checking that
		// ward's built-in service-account client is listed first.
		list := func() []listed {
			t.Helper()
			var ls []listed
			out := c.must("client", "list", "--json")
			if err := json.Unmarshal([]byte(out), &ls); err != nil {
				t.Fatalf("list --json printed %q: %v", out, err)
			}
			if len(ls) == 0 || ls[0].ClientID != "ward-service-accounts" || len(ls[0].GrantTypes) != 0 {
				t.Fatalf("list does not start with the built-in client: %+v", ls)
			}
			return ls[1:]
		}
		ls := list()
		if len(ls) != 2 || ls[0].ClientID != id || ls[0].Name != "Decision support" || ls[0].Public ||
			ls[0].TokenFormat != "jwt" || ls[0].AuthMethod != "client_secret_basic" || ls[0].OwnerID == 0 ||
			strings.Join(ls[0].GrantTypes, ",") != "authorization_code,refresh_token" || ls[0].Disabled ||
			ls[0].Status != "active" {
			t.Fatalf("list: %+v", ls)
		}
		if !ls[1].Public || ls[1].AuthMethod != "none" {
			t.Fatalf("public client listed as %+v", ls[1])
		}
		if out := c.must("client", "list"); !strings.Contains(out, id) || !strings.Contains(out, "enabled") {
			t.Fatalf("list printed %q", out)
		}

		// disable and enable take --json, as every client command does,
		// and print the client as list --json prints it.
		toggled := func(verb string) listed {
			t.Helper()
			var l listed
			out := c.must("client", verb, id, "--json")
			if err := json.Unmarshal([]byte(out), &l); err != nil {
				t.Fatalf("%s --json printed %q: %v", verb, out, err)
			}
			return l
		}
		if l := toggled("disable"); l.ClientID != id || !l.Disabled || l.Name != "Decision support" {
			t.Fatalf("disable --json printed %+v", l)
		}
		if l := toggled("enable"); l.ClientID != id || l.Disabled {
			t.Fatalf("enable --json printed %+v", l)
		}
		if out := c.must("client", "disable", id); !strings.Contains(out, "disabled client "+id) {
			t.Fatalf("disable printed %q", out)
		}
		if ls := list(); !ls[0].Disabled || ls[1].Disabled {
			t.Fatalf("after disable: %+v", ls)
		}
		if out := c.must("client", "list"); !strings.Contains(out, "disabled") {
			t.Fatalf("list after disable printed %q", out)
		}
		c.must("client", "enable", id)
		if ls := list(); ls[0].Disabled {
			t.Fatalf("after enable: %+v", ls)
		}
		if code, _, _ := c.run("client", "disable", "no-such-client"); code == 0 {
			t.Fatal("disabling an unknown client succeeded")
		}

		out = c.must("client", "rotate-secret", id, "--json")
		var rotated struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		}
		if err := json.Unmarshal([]byte(out), &rotated); err != nil {
			t.Fatalf("rotate-secret printed %q: %v", out, err)
		}
		if rotated.ClientID != id || rotated.ClientSecret == "" || rotated.ClientSecret == *created.ClientSecret {
			t.Fatalf("rotate-secret printed %q", out)
		}

		// A developer's client, registered through the API, waits pending;
		// the CLI approves it as ward itself.
		pending := registerAsDeveloper(t, dbURL, c.dir, "dev@example.org")
		if ls := list(); ls[2].ClientID != pending || ls[2].Status != "pending" {
			t.Fatalf("developer's client listed as %+v", ls[2])
		}
		if out := c.must("client", "list"); !strings.Contains(out, "pending") {
			t.Fatalf("list printed %q", out)
		}
		var approved listed
		if out := c.must("client", "approve", pending, "--json"); json.Unmarshal([]byte(out), &approved) != nil ||
			approved.ClientID != pending || approved.Status != "active" {
			t.Fatalf("approve --json printed %q", out)
		}
		if ls := list(); ls[2].Status != "active" {
			t.Fatalf("after approve: %+v", ls[2])
		}
		if code, _, _ := c.run("client", "approve", "no-such-client"); code == 0 {
			t.Fatal("approving an unknown client succeeded")
		}
	})
}
