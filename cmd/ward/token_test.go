package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"ward/internal/config"
	"ward/internal/server"
	"ward/internal/testutil"
)

// runStdin runs ward with stdin, as c.run does with an empty one.
func (c cli) runStdin(stdin string, args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	args = append(args, "--data-dir", c.dir)
	code = run(context.Background(), args, c.env, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func decodeJSON(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("printed %q: %v", out, err)
	}
}

type cliToken struct {
	ID       int64    `json:"id"`
	Kind     string   `json:"kind"`
	ClientID string   `json:"client_id"`
	UserID   int64    `json:"user_id"`
	Scopes   []string `json:"scopes"`
	Service  bool     `json:"service"`
	Active   bool     `json:"active"`
}

type cliServiceAccount struct {
	ServiceUserID int64  `json:"service_user_id"`
	SponsorID     int64  `json:"sponsor_id"`
	Created       bool   `json:"created"`
	AccessToken   string `json:"access_token"`
	TokenID       int64  `json:"token_id"`
	RevokedTokens int    `json:"revoked_tokens"`
}

func TestTokenCommands(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		c := newCLI(t, dbURL)
		c.must("add-user", "--email", "dev@example.org", "--password", "orange-kite-1", "--role", "application_developer")
		c.must("add-user", "--email", "pat@example.org", "--password", "teal-cloud-1", "--role", "patient")

		// A service account: created once, then its token rotated.
		var sa, again cliServiceAccount
		decodeJSON(t, c.must("service-account", "create", "--sponsor", "dev@example.org", "--json"), &sa)
		if !sa.Created || sa.ServiceUserID == 0 || sa.SponsorID == 0 || !strings.HasPrefix(sa.AccessToken, "ward_at_") {
			t.Fatalf("service-account create: %+v", sa)
		}
		decodeJSON(t, c.must("service-account", "create", "--sponsor", "dev@example.org", "--json"), &again)
		if again.Created || again.ServiceUserID != sa.ServiceUserID || again.AccessToken == sa.AccessToken || again.RevokedTokens != 1 {
			t.Fatalf("service-account create again: %+v", again)
		}
		out := c.must("service-account", "create", "--sponsor", "dev@example.org")
		if !strings.Contains(out, "access_token: ward_at_") || !strings.Contains(out, "shown once") {
			t.Fatalf("service-account create printed %q", out)
		}
		token := strings.Fields(out[strings.Index(out, "access_token: "):])[1]
		if code, _, errs := c.run("service-account", "create", "--sponsor", "pat@example.org"); code == 0 ||
			!strings.Contains(errs, "may not sponsor") {
			t.Fatalf("a patient sponsor: exit %d, stderr %q", code, errs)
		}
		if code, _, errs := c.run("service-account", "create", "--sponsor", "nobody@example.org"); code == 0 ||
			!strings.Contains(errs, "no user with email") {
			t.Fatalf("an unknown sponsor: exit %d, stderr %q", code, errs)
		}

		// A server on the same database (and master key: the same data
		// directory) accepts the token.
		cfg := config.Default()
		cfg.DataDir, cfg.DatabaseURL = c.dir, dbURL
		svc, err := server.OpenServices(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		if a, err := svc.OAuth.AuthenticateBearer(context.Background(), token); err != nil || a.UserID != sa.ServiceUserID {
			t.Fatalf("the server refuses the CLI's token: %+v %v", a, err)
		}

		// Inspect, from the argument or standard input.
		var in cliToken
		decodeJSON(t, c.must("token", "inspect", token, "--json"), &in)
		if !in.Active || !in.Service || in.UserID != sa.ServiceUserID || in.ClientID != "ward-service-accounts" ||
			in.Kind != "access" || len(in.Scopes) != 1 || in.Scopes[0] != "ward:api" {
			t.Fatalf("token inspect: %+v", in)
		}
		code, out, errs := c.runStdin(token+"\n", "token", "inspect", "-")
		if code != 0 || !strings.Contains(out, "active:   true") || !strings.Contains(out, "ward-service-accounts") {
			t.Fatalf("token inspect -: exit %d\n%s%s", code, out, errs)
		}
		decodeJSON(t, c.must("token", "inspect", sa.AccessToken, "--json"), &in)
		if in.Active {
			t.Fatalf("the rotated-out token is active: %+v", in)
		}
		for _, bad := range [][]string{{"garbage"}, {"ward_at_forged.sig"}, {"-"}} {
			if code, _, errs := c.run(append([]string{"token", "inspect"}, bad...)...); code == 0 || errs == "" {
				t.Errorf("token inspect %v: exit %d, stderr %q", bad, code, errs)
			}
		}

		// The built-in client's users and tokens; revoke a token by id.
		var users []struct {
			UserID     int64 `json:"user_id"`
			LiveTokens int   `json:"live_tokens"`
		}
		decodeJSON(t, c.must("client", "users", "ward-service-accounts", "--json"), &users)
		if len(users) != 1 || users[0].UserID != sa.ServiceUserID || users[0].LiveTokens != 1 {
			t.Fatalf("client users: %+v", users)
		}
		var toks []cliToken
		decodeJSON(t, c.must("client", "tokens", "ward-service-accounts", "--json"), &toks)
		if len(toks) != 1 || !toks[0].Active {
			t.Fatalf("client tokens: %+v", toks)
		}
		if out := c.must("client", "tokens", "ward-service-accounts"); !strings.Contains(out, fmt.Sprint(toks[0].ID)) {
			t.Fatalf("client tokens printed %q", out)
		}
		if out := c.must("client", "revoke-token", "ward-service-accounts", fmt.Sprint(toks[0].ID)); !strings.Contains(out, "revoked access token") {
			t.Fatalf("revoke-token printed %q", out)
		}
		if _, err := svc.OAuth.AuthenticateBearer(context.Background(), token); err == nil {
			t.Fatal("the server still accepts a token the CLI revoked")
		}
		decodeJSON(t, c.must("client", "tokens", "ward-service-accounts", "--json"), &toks)
		if len(toks) != 0 {
			t.Fatalf("tokens after revoke-token: %+v", toks)
		}
		for _, bad := range [][]string{{"ward-service-accounts", "abc"}, {"ward-service-accounts", "99999999"}, {"no-such-client", "1"}} {
			if code, _, _ := c.run(append([]string{"client", "revoke-token"}, bad...)...); code == 0 {
				t.Errorf("revoke-token %v succeeded", bad)
			}
		}

		// Revoke the service user's authorization; revoke a pasted token.
		decodeJSON(t, c.must("service-account", "create", "--sponsor", "dev@example.org", "--json"), &sa)
		var rev struct {
			Tokens   int `json:"tokens_revoked"`
			Consents int `json:"consents_withdrawn"`
		}
		decodeJSON(t, c.must("client", "revoke-user", "ward-service-accounts", fmt.Sprint(sa.ServiceUserID), "--json"), &rev)
		if rev.Tokens != 1 || rev.Consents != 0 {
			t.Fatalf("revoke-user: %+v", rev)
		}
		if code, _, errs := c.run("client", "revoke-user", "ward-service-accounts", fmt.Sprint(sa.ServiceUserID)); code == 0 ||
			!strings.Contains(errs, "no live token or consent") {
			t.Fatalf("revoke-user again: exit %d, stderr %q", code, errs)
		}
		if code, _, _ := c.run("client", "revoke-user", "ward-service-accounts", "not-a-user"); code == 0 {
			t.Fatal("revoke-user with a malformed user succeeded")
		}
		if code, _, _ := c.run("client", "users", "no-such-client"); code == 0 {
			t.Fatal("users of an unknown client succeeded")
		}
		decodeJSON(t, c.must("service-account", "create", "--sponsor", "dev@example.org", "--json"), &sa)
		code, out, errs = c.runStdin(sa.AccessToken, "token", "revoke", "-", "--json")
		if code != 0 {
			t.Fatalf("token revoke -: exit %d: %s", code, errs)
		}
		decodeJSON(t, out, &in)
		if in.Active || in.ID != sa.TokenID {
			t.Fatalf("token revoke: %+v", in)
		}
		if out := c.must("token", "revoke", sa.AccessToken); !strings.Contains(out, "active:   false") ||
			!strings.Contains(out, fmt.Sprintf("revoked access token %d of client ward-service-accounts", sa.TokenID)) {
			t.Fatalf("revoking a revoked token printed %q, want what was revoked", out)
		}
	})
}
