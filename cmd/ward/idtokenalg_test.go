package main

import (
	"encoding/json"
	"strings"
	"testing"

	"ward/internal/testutil"
)

// TestClientCreateIDTokenAlg: `ward client create --id-token-alg ES256`
// registers a client whose ID tokens are ES256; without the flag a client
// gets RS256; list (text and --json) shows each; any other value (none,
// HMAC, another spelling) is refused naming the value and creates nothing.
func TestClientCreateIDTokenAlg(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		c := newCLI(t, dbURL)
		create := func(name string, extra ...string) []string {
			return append([]string{"client", "create", "--name", name, "--grant", "authorization_code",
				"--scope", "openid fhirUser", "--redirect-uri", "https://app.example.org/cb", "--json"}, extra...)
		}
		c.must(create("Elliptic", "--id-token-alg", "ES256")...)
		c.must(create("Default")...)
		c.must(create("Explicit", "--id-token-alg", "RS256")...)

		var listed []struct {
			Name       string `json:"client_name"`
			IDTokenAlg string `json:"id_token_signed_response_alg"`
		}
		if err := json.Unmarshal([]byte(c.must("client", "list", "--json")), &listed); err != nil {
			t.Fatal(err)
		}
		algs := map[string]string{}
		for _, l := range listed {
			algs[l.Name] = l.IDTokenAlg
		}
		if algs["Elliptic"] != "ES256" || algs["Default"] != "RS256" || algs["Explicit"] != "RS256" {
			t.Fatalf("id_token_signed_response_alg in list = %v", algs)
		}
		if out := c.must("client", "list"); !strings.Contains(out, "ID_TOKEN") || !strings.Contains(out, "ES256") {
			t.Fatalf("list printed %q, want an ID_TOKEN column showing ES256", out)
		}

		for _, bad := range []string{"none", "HS256", "rs256", "ES512", "RS256\x01"} {
			code, _, errs := c.run(create("Bad "+bad, "--id-token-alg", bad)...)
			if code == 0 || !strings.Contains(errs, "id_token_signed_response_alg") || !strings.Contains(errs, "not one of RS256, ES256") {
				t.Fatalf("--id-token-alg %q: exit %d, stderr %q", bad, code, errs)
			}
		}
		if err := json.Unmarshal([]byte(c.must("client", "list", "--json")), &listed); err != nil {
			t.Fatal(err)
		}
		for _, l := range listed {
			if strings.HasPrefix(l.Name, "Bad") {
				t.Fatalf("a refused client was registered: %+v", l)
			}
		}
	})
}
