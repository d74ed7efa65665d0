package oauth_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"ward/internal/client"
	"ward/internal/testutil"
)

func TestAuthorizationCodeBadInput(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		pat := e.user("pat@example.org", patientPassword, "patient")
		a := newApp(t, e, "openid fhirUser offline_access launch/patient patient/*.rs")
		b := e.browser()
		rs, rsSecret := e.client(client.Settings{Name: "rs", GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/*.rs", ResourceServer: true})

		// getCode runs a full browser round and returns a fresh code.
		getCode := func(state, verifier string) string {
			t.Helper()
			return codeFrom(t, a.authorize(b, pat.Email, patientPassword, state, verifier, "nonce-"+state), state)
		}
		exchange := func(code string, form url.Values) (int, map[string]any) {
			t.Helper()
			f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {a.id}, "redirect_uri": {appRedirect}}
			for k, v := range form {
				f[k] = v
			}
			st, _, out := e.postForm("/oauth/token", f, "", "")
			return st, out
		}

		verifier, _ := pkce("v")
		t.Run("wrong PKCE verifier", func(t *testing.T) {
			code := getCode("state-pkce-1", verifier)
			st, out := exchange(code, url.Values{"code_verifier": {verifier[:len(verifier)-1] + "X"}})
			if st != http.StatusBadRequest || out["error"] != "invalid_grant" || out["access_token"] != nil {
				t.Fatalf("got %d %v, want invalid_grant", st, out)
			}
		})
		t.Run("missing PKCE verifier", func(t *testing.T) {
			code := getCode("state-pkce-2", verifier)
			st, out := exchange(code, nil)
			if st != http.StatusBadRequest || out["access_token"] != nil || (out["error"] != "invalid_grant" && out["error"] != "invalid_request") {
				t.Fatalf("got %d %v, want invalid_grant or invalid_request", st, out)
			}
		})
		t.Run("redirect URI differing at the token endpoint", func(t *testing.T) {
			code := getCode("state-redir-1", verifier)
			st, out := exchange(code, url.Values{"code_verifier": {verifier}, "redirect_uri": {appRedirect + "x"}})
			if st != http.StatusBadRequest || out["error"] != "invalid_grant" {
				t.Fatalf("got %d %v, want invalid_grant", st, out)
			}
		})
		t.Run("reused code revokes the tokens of its first use", func(t *testing.T) {
			code := getCode("state-reuse-1", verifier)
			st, first := exchange(code, url.Values{"code_verifier": {verifier}})
			if st != http.StatusOK {
				t.Fatalf("first exchange %d %v", st, first)
			}
			st, out := exchange(code, url.Values{"code_verifier": {verifier}})
			if st != http.StatusBadRequest || out["error"] != "invalid_grant" {
				t.Fatalf("second exchange %d %v, want invalid_grant", st, out)
			}
			if e.introspect(first["access_token"].(string), rs, rsSecret)["active"] != false {
				t.Error("the tokens of the code's first use survive its replay")
			}
			if st, _, _ := e.postForm("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {a.id},
				"refresh_token": {first["refresh_token"].(string)}}, "", ""); st == http.StatusOK {
				t.Error("the refresh token of the code's first use survives its replay")
			}
		})
		t.Run("unsupported grant type", func(t *testing.T) {
			st, _, out := e.postForm("/oauth/token", url.Values{"grant_type": {"password"}, "client_id": {a.id}, "username": {"x"}, "password": {"y"}}, "", "")
			if st != http.StatusBadRequest || out["error"] != "unsupported_grant_type" {
				t.Fatalf("got %d %v", st, out)
			}
		})

		// Errors before the redirect URI is verified must not redirect.
		authorizeURL := func(mod func(url.Values)) string {
			_, ch := pkce("z")
			q := url.Values{"response_type": {"code"}, "client_id": {a.id}, "redirect_uri": {appRedirect},
				"scope": {"openid patient/*.rs"}, "state": {"state-bad-0001"}, "code_challenge": {ch},
				"code_challenge_method": {"S256"}}
			mod(q)
			return e.issuer + "/oauth/authorize?" + q.Encode()
		}
		for _, c := range []struct {
			name     string
			mod      func(url.Values)
			redirect bool   // answered at the app's redirect URI
			wantErr  string // the error code, at the redirect or on the page
		}{
			{"redirect URI differing by one character", func(q url.Values) { q.Set("redirect_uri", appRedirect+"/") }, false, "invalid_request"},
			{"unknown client", func(q url.Values) { q.Set("client_id", "nope") }, false, "invalid_client"},
			{"unknown scope", func(q url.Values) { q.Set("scope", "openid patient/*.rs frobnicate") }, true, "invalid_scope"},
			{"scope not registered", func(q url.Values) { q.Set("scope", "user/*.rs") }, true, "invalid_scope"},
			{"no PKCE for a public client", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, true, "invalid_request"},
			{"PKCE plain", func(q url.Values) { q.Set("code_challenge_method", "plain") }, true, "invalid_request"},
			{"implicit flow", func(q url.Values) { q.Set("response_type", "token") }, true, "unsupported_response_type"},
		} {
			t.Run(c.name, func(t *testing.T) {
				p := b.get(authorizeURL(c.mod))
				if c.redirect {
					if p.location == nil || !strings.HasPrefix(p.location.String(), appRedirect) {
						t.Fatalf("want a redirect to the app with %s, got %d %.300s", c.wantErr, p.status, p.body)
					}
					if got := p.location.Query().Get("error"); got != c.wantErr {
						t.Fatalf("error = %q (%s), want %q", got, p.location.Query().Get("error_description"), c.wantErr)
					}
					if p.location.Query().Get("code") != "" {
						t.Fatal("a code was issued")
					}
					return
				}
				if p.location != nil {
					t.Fatalf("redirected to %s before the redirect URI was verified", p.location)
				}
				if p.status < 400 || !strings.Contains(p.body, c.wantErr) {
					t.Fatalf("got %d, want an error page naming %s:\n%.400s", p.status, c.wantErr, p.body)
				}
			})
		}

		t.Run("deny returns access_denied", func(t *testing.T) {
			other := newApp(t, e, "openid patient/*.rs")
			v, _ := pkce("d")
			p := b.get(other.conf.AuthCodeURL("state-deny-01", oauth2.S256ChallengeOption(v), oidc.Nonce("nonce-deny-01")))
			p = b.consent(p, "deny", nil)
			if p.location == nil || p.location.Query().Get("error") != "access_denied" || p.location.Query().Get("code") != "" {
				t.Fatalf("deny: %v %d %.300s", p.location, p.status, p.body)
			}
			if !e.hasAudit("consent refused for client " + other.id) {
				t.Error("refusal not audited")
			}
		})
		t.Run("consent answer from another origin is refused", func(t *testing.T) {
			other := newApp(t, e, "openid patient/*.rs")
			v, _ := pkce("o")
			p := b.get(other.conf.AuthCodeURL("state-csrf-01", oauth2.S256ChallengeOption(v), oidc.Nonce("nonce-csrf-01")))
			f := p.hidden()
			f.Set("decision", "allow")
			b.origin = "https://attacker.example"
			defer func() { b.origin = e.issuer }()
			got := b.post(e.issuer+"/oauth/authorize", f)
			if got.status != http.StatusForbidden || got.location != nil {
				t.Fatalf("cross-origin consent: %d %v", got.status, got.location)
			}
		})
		t.Run("disabled client: no new tokens and old ones stop", func(t *testing.T) {
			code := getCode("state-disable", verifier)
			tok, err := a.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.Clients.Disable(e.sys(), a.id); err != nil {
				t.Fatal(err)
			}
			if e.introspect(tok.AccessToken, rs, rsSecret)["active"] != false {
				t.Error("a disabled client's token is still active")
			}
			if st, _, _ := e.bearerGet("/oauth/userinfo", tok.AccessToken); st != http.StatusUnauthorized {
				t.Errorf("userinfo with a disabled client's token: %d", st)
			}
			st, _, out := e.postForm("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {a.id},
				"refresh_token": {tok.RefreshToken}}, "", "")
			if st != http.StatusUnauthorized || out["error"] != "invalid_client" {
				t.Errorf("refresh by a disabled client: %d %v", st, out)
			}
			p := b.get(a.conf.AuthCodeURL("state-disabled", oauth2.S256ChallengeOption(verifier)))
			if p.location != nil || p.status < 400 {
				t.Errorf("authorize for a disabled client: %d %v", p.status, p.location)
			}
		})
	})
}

func TestBearerAuthentication(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		pat := e.user("pat@example.org", patientPassword, "patient")
		withAPI := newApp(t, e, "openid ward:api")
		without := newApp(t, e, "openid patient/*.rs")
		b := e.browser()
		token := func(a *app) string {
			v, _ := pkce(a.id[:2])
			code := codeFrom(t, a.authorize(b, pat.Email, patientPassword, "state-"+a.id[:4], v, "nonce-"+a.id[:4]), "state-"+a.id[:4])
			tok, err := a.conf.Exchange(ctx, code, oauth2.VerifierOption(v))
			if err != nil {
				t.Fatal(err)
			}
			return tok.AccessToken
		}
		api, plain := token(withAPI), token(without)

		st, _, me := e.bearerGet("/api/me", api)
		if st != http.StatusOK || me["id"] == nil {
			t.Fatalf("/api/me with a ward:api token: %d %v", st, me)
		}
		st, hdr, _ := e.bearerGet("/api/me", plain)
		if st != http.StatusForbidden || !strings.Contains(hdr.Get("WWW-Authenticate"), "insufficient_scope") {
			t.Errorf("/api/me without ward:api: %d %q, want 403 insufficient_scope", st, hdr.Get("WWW-Authenticate"))
		}
		for _, bad := range []string{"ward_at_forged.signature", api[:len(api)-2] + "xx", "garbage",
			"eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIiwic2NvcGUiOiJ3YXJkOmFwaSJ9.", // alg none
			"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",             // an HMAC JWT
		} {
			st, hdr, _ := e.bearerGet("/api/me", bad)
			if st != http.StatusUnauthorized || !strings.Contains(hdr.Get("WWW-Authenticate"), "invalid_token") {
				t.Errorf("forged token %q: %d %q", bad[:8], st, hdr.Get("WWW-Authenticate"))
			}
		}
		for _, h := range []string{"Bearer", "Bearer  ", "Basic", "Bearer a b, Bearer c"} {
			req, _ := http.NewRequest(http.MethodGet, e.issuer+"/api/me", nil)
			req.Header.Set("Authorization", h)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("Authorization %q: %d, want 401", h, res.StatusCode)
			}
		}
		if !e.hasAudit("request refused (401)", "GET /api/me") || !e.hasAudit("request refused (403)", "ward:api") {
			t.Error("refused bearer requests are not audited")
		}
		// The actor of a token's events is the person and the client.
		found := false
		for _, ev := range e.auditEvents() {
			if strings.HasPrefix(ev.Comment, "token issued to client "+withAPI.id) {
				found = true
				if ev.UserID != pat.ID || ev.ClientID != withAPI.id {
					t.Errorf("token issue audited as user %d, client %q; want %d and %q", ev.UserID, ev.ClientID, pat.ID, withAPI.id)
				}
			}
		}
		if !found {
			t.Error("issue not audited")
		}
	})
}
