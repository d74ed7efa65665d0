package oauth_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"ward/internal/client"
	"ward/internal/testutil"
)

const patientPassword = "sea otter lantern 1"

// app is a SMART patient app registered as a public client, driven by
// golang.org/x/oauth2 with endpoints from go-oidc's discovery.
type app struct {
	e        *env
	id       string
	conf     *oauth2.Config
	provider *oidc.Provider
}

func newApp(t *testing.T, e *env, scopes string) *app {
	t.Helper()
	id, _ := e.client(client.Settings{
		Name: "Patient App", Public: true,
		GrantTypes:   []string{client.GrantAuthorizationCode, client.GrantRefreshToken},
		RedirectURIs: []string{appRedirect}, Scope: scopes,
	})
	// go-oidc checks that discovery's issuer is exactly the one asked for.
	p, err := oidc.NewProvider(context.Background(), e.issuer)
	if err != nil {
		t.Fatalf("oidc discovery: %v", err)
	}
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInParams
	return &app{e: e, id: id, provider: p, conf: &oauth2.Config{
		ClientID: id, Endpoint: ep, RedirectURL: appRedirect, Scopes: strings.Fields(scopes),
	}}
}

// authorize runs the browser part of the flow up to the redirect back to
// the app, answering sign-in and consent as they come.
func (a *app) authorize(b *browser, email, password, state, verifier, nonce string, extra ...oauth2.AuthCodeOption) page {
	a.e.t.Helper()
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)}, extra...)
	p := b.get(a.conf.AuthCodeURL(state, opts...))
	if strings.Contains(p.body, `name="password"`) {
		p = b.signIn(p, email, password)
	}
	if strings.Contains(p.body, `name="decision"`) {
		p = b.consent(p, "allow", nil)
	}
	return p
}

func codeFrom(t *testing.T, p page, state string) string {
	t.Helper()
	if p.location == nil || !strings.HasPrefix(p.location.String(), appRedirect) {
		t.Fatalf("expected a redirect to the app, got %d at %s:\n%.600s", p.status, p.url, p.body)
	}
	q := p.location.Query()
	if q.Get("state") != state {
		t.Fatalf("state = %q, want %q", q.Get("state"), state)
	}
	if q.Get("error") != "" {
		t.Fatalf("authorization error %s: %s", q.Get("error"), q.Get("error_description"))
	}
	return q.Get("code")
}

func TestAuthorizationCodeFlow(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		pat := e.user("pat@example.org", patientPassword, "patient")
		a := newApp(t, e, "openid fhirUser profile offline_access launch/patient patient/*.rs")
		b := e.browser()

		verifier, _ := pkce("a")
		p := a.authorize(b, pat.Email, patientPassword, "state-0001", verifier, "nonce-0001")
		code := codeFrom(t, p, "state-0001")

		tok, err := a.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if got := tok.Extra("patient"); got != strconv.FormatInt(pat.ID, 10) {
			t.Errorf("patient = %v, want %d (a patient launches with their own record)", got, pat.ID)
		}
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token for offline_access")
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := a.provider.Verifier(&oidc.Config{ClientID: a.id}).Verify(ctx, raw)
		if err != nil {
			t.Fatalf("verify ID token: %v", err)
		}
		if idt.Nonce != "nonce-0001" {
			t.Errorf("nonce = %q", idt.Nonce)
		}
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			t.Errorf("at_hash: %v", err)
		}
		var claims struct {
			AuthTime int64  `json:"auth_time"`
			FhirUser string `json:"fhirUser"`
			Sub      string `json:"sub"`
		}
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		if want := e.issuer + "/fhir/Patient/" + strconv.FormatInt(pat.ID, 10); claims.FhirUser != want {
			t.Errorf("fhirUser = %q, want %q", claims.FhirUser, want)
		}
		if claims.AuthTime == 0 || claims.Sub != strconv.FormatInt(pat.ID, 10) {
			t.Errorf("auth_time %d, sub %q", claims.AuthTime, claims.Sub)
		}

		// userinfo through go-oidc.
		ui, err := a.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		if ui.Subject != claims.Sub {
			t.Errorf("userinfo sub %q", ui.Subject)
		}
		// It is personal data: no cache keeps it.
		if st, hdr, _ := e.bearerGet("/oauth/userinfo", tok.AccessToken); st != http.StatusOK || hdr.Get("Cache-Control") != "no-store" {
			t.Errorf("userinfo: %d, Cache-Control %q, want no-store", st, hdr.Get("Cache-Control"))
		}

		// Refresh rotates: a new pair, and the old refresh token is spent.
		fresh, err := a.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken || fresh.AccessToken == tok.AccessToken {
			t.Fatal("refresh did not rotate the tokens")
		}
		rs, rsSecret := e.client(client.Settings{Name: "Resource server", GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/*.rs", ResourceServer: true})
		if e.introspect(tok.AccessToken, rs, rsSecret)["active"] != false {
			t.Error("the access token issued before the refresh is still active")
		}
		if in := e.introspect(fresh.AccessToken, rs, rsSecret); in["active"] != true || in["patient"] != strconv.FormatInt(pat.ID, 10) {
			t.Errorf("fresh token introspection = %v", in)
		}

		// Reusing the spent refresh token is refused and revokes the family.
		_, err = a.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		var re *oauth2.RetrieveError
		if !asRetrieve(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Fatalf("reused refresh token: %v, want invalid_grant", err)
		}
		if e.introspect(fresh.AccessToken, rs, rsSecret)["active"] != false {
			t.Error("refresh-token reuse did not revoke the token family")
		}
		if _, err := a.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: fresh.RefreshToken}).Token(); err == nil {
			t.Error("the family's newest refresh token still works after reuse was detected")
		}

		// A second authorization is remembered: no consent page.
		verifier2, _ := pkce("b")
		p = b.get(a.conf.AuthCodeURL("state-0002", oauth2.S256ChallengeOption(verifier2), oidc.Nonce("nonce-0002")))
		code2 := codeFrom(t, p, "state-0002")
		tok2, err := a.conf.Exchange(ctx, code2, oauth2.VerifierOption(verifier2))
		if err != nil {
			t.Fatalf("second exchange: %v", err)
		}

		// Revocation (RFC 7009) by the app; the token is then refused.
		st, _, _ := e.postForm("/oauth/revoke", url.Values{"token": {tok2.AccessToken}, "client_id": {a.id}}, "", "")
		if st != http.StatusOK {
			t.Fatalf("revoke: %d", st)
		}
		if e.introspect(tok2.AccessToken, rs, rsSecret)["active"] != false {
			t.Error("revoked token still active")
		}
		if st, _, _ := e.bearerGet("/oauth/userinfo", tok2.AccessToken); st != http.StatusUnauthorized {
			t.Errorf("userinfo with a revoked token: %d, want 401", st)
		}

		for _, want := range [][]string{
			{"consent given to client " + a.id},
			{"authorization code issued to client " + a.id},
			{"token issued to client " + a.id, "authorization_code"},
			{"token refreshed to client " + a.id},
			{"token request refused: invalid_grant"},
			{"token revoked by client " + a.id},
		} {
			if !e.hasAudit(want...) {
				t.Errorf("no audit event with %q", want)
			}
		}
	})
}

func asRetrieve(err error, re **oauth2.RetrieveError) bool {
	if err == nil {
		return false
	}
	r, ok := err.(*oauth2.RetrieveError)
	if !ok {
		// oauth2 wraps it in url.Error-free form on some paths.
		for u := err; u != nil; {
			if x, ok := u.(*oauth2.RetrieveError); ok {
				*re = x
				return true
			}
			w, ok := u.(interface{ Unwrap() error })
			if !ok {
				return false
			}
			u = w.Unwrap()
		}
		return false
	}
	*re = r
	return true
}
