package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ward/internal/testutil"
)

func TestConnectorCommands(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		c := newCLI(t, dbURL)
		const secret = "cli-client-secret-5f0e"
		args := []string{"connector", "create", "--name", "campdoc", "--base-url", "https://mis.example.org/api/v2",
			"--authorize-url", "https://mis.example.org/oauth/authorize", "--token-url", "https://mis.example.org/oauth/token",
			"--client-id", "ward", "--client-secret", secret,
			"--redirect-uri", "https://ward.example.org/admin/connectors/campdoc/callback",
			"--scope", "profiles", "--scope", "groups", "--json"}
		out := c.must(args...)
		var got connectorOut
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("create --json printed %q: %v", out, err)
		}
		if got.Name != "campdoc" || got.Status != "unprimed" || strings.Join(got.Scopes, " ") != "profiles groups" ||
			got.ProfileSystem != "urn:ward:connector:campdoc:profile" {
			t.Fatalf("created %+v", got)
		}
		file := filepath.Join(t.TempDir(), "secret")
		if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		c.must("connector", "create", "--name", "other", "--base-url", "https://o.example.org", "--authorize-url",
			"https://o.example.org/a", "--token-url", "https://o.example.org/t", "--client-id", "w",
			"--client-secret-file", file, "--redirect-uri", "https://ward.example.org/admin/connectors/other/callback",
			"--profile-system", "https://o.example.org/fhir/profile-id")
		if out := c.must("connector", "show", "other"); !strings.Contains(out, "https://o.example.org/fhir/profile-id") {
			t.Fatalf("show other: %q lacks its profile system", out)
		}
		var other connectorOut
		if err := json.Unmarshal([]byte(c.must("connector", "show", "other", "--json")), &other); err != nil ||
			other.ProfileSystem != "https://o.example.org/fhir/profile-id" {
			t.Fatalf("show other --json: %+v, %v", other, err)
		}
		for _, a := range [][]string{{"connector", "list"}, {"connector", "list", "--json"},
			{"connector", "show", "campdoc"}, {"connector", "show", "campdoc", "--json"}} {
			out := c.must(a...)
			if strings.Contains(out, secret) {
				t.Fatalf("ward %s printed the client secret", strings.Join(a, " "))
			}
			if !strings.Contains(out, "campdoc") || !strings.Contains(out, "unprimed") {
				t.Fatalf("ward %s printed %q", strings.Join(a, " "), out)
			}
		}
		c.must("connector", "delete", "other")
		for _, bad := range [][]string{
			{"connector", "show", "other"},
			args[:len(args)-1], // the name is taken
			{"connector", "create", "--name", "x", "--base-url", "http://mis.example.org", "--authorize-url", "https://a.example.org",
				"--token-url", "https://a.example.org", "--client-id", "w", "--client-secret", "s", "--redirect-uri", "https://w.example.org"},
			{"connector", "create", "--name", "y", "--base-url", "https://mis.example.org", "--authorize-url", "https://a.example.org",
				"--token-url", "https://a.example.org", "--client-id", "w", "--redirect-uri", "https://w.example.org"},
			{"connector", "create", "--name", "z", "--base-url", "https://mis.example.org", "--authorize-url", "https://a.example.org",
				"--token-url", "https://a.example.org", "--client-id", "w", "--client-secret", "s",
				"--redirect-uri", "https://w.example.org", "--profile-system", "not a uri"},
		} {
			if code, _, errs := c.run(bad...); code == 0 || errs == "" {
				t.Errorf("ward %s = exit %d stderr %q, want a refusal", strings.Join(bad, " "), code, errs)
			}
		}
	})
}
