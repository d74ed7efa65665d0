package oauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"ward/internal/testutil"
)

// TestEndSessionAsksUnlessTheHintIsThisSessions: RP-Initiated Logout
// signs out at once only for an ID token issued in the browser session
// that is signing out (its sid claim); an ID token from an earlier session
// gets a confirmation page and ends nothing, a link cannot confirm, a
// cross-site post of the confirmation is refused, and ward's own
// confirmation form signs out and goes back to the application.
func TestEndSessionAsksUnlessTheHintIsThisSessions(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		pat := e.user("pat@example.org", patientPassword, "patient")
		a := newApp(t, e, "openid fhirUser patient/*.rs")
		b := e.browser()
		idToken := func(state string) string {
			t.Helper()
			v, _ := pkce(state)
			p := a.authorize(b, pat.Email, patientPassword, state, v, "nonce-"+state)
			tok, err := a.conf.Exchange(ctx, codeFrom(t, p, state), oauth2.VerifierOption(v))
			if err != nil {
				t.Fatal(err)
			}
			return tok.Extra("id_token").(string)
		}
		signedIn := func() bool { return b.get(e.issuer+"/").url.Path == "/" }
		logout := func(hint, state string) url.Values {
			return url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {appRedirect}, "state": {state}}
		}

		old := idToken("state-session-1")
		if sidOf(t, old) == "" {
			t.Fatal("the ID token carries no sid")
		}
		// The hint from this very session: signed out and sent back at once.
		got := b.get(e.issuer + "/oauth/logout?" + logout(old, "bye-1").Encode())
		if got.location == nil || !strings.HasPrefix(got.location.String(), appRedirect) || got.location.Query().Get("state") != "bye-1" {
			t.Fatalf("logout with this session's hint: %d %v", got.status, got.location)
		}
		if signedIn() {
			t.Fatal("still signed in after logout with this session's hint")
		}

		// A new session; the old session's ID token (still unexpired), as a
		// cross-site link would send it, only asks.
		if sidOf(t, idToken("state-session-2")) == sidOf(t, old) {
			t.Fatal("two browser sessions share a sid")
		}
		for _, q := range []url.Values{logout(old, "bye-2"), func() url.Values {
			v := logout(old, "bye-2")
			v.Set("confirm", "yes") // a link cannot confirm
			return v
		}()} {
			got = b.get(e.issuer + "/oauth/logout?" + q.Encode())
			if got.status != http.StatusOK || got.location != nil || !strings.Contains(got.body, `name="confirm"`) {
				t.Fatalf("logout with an earlier session's hint: %d %v, want the confirmation page:\n%.600s", got.status, got.location, got.body)
			}
			if !signedIn() {
				t.Fatal("an earlier session's ID token signed the person out without asking")
			}
		}
		confirm := got.hidden()
		if confirm.Get("id_token_hint") != old || confirm.Get("post_logout_redirect_uri") != appRedirect || confirm.Get("state") != "bye-2" {
			t.Errorf("the confirmation form does not carry the request: %v", confirm)
		}
		confirm.Set("confirm", "yes")

		// Another site posting the confirmation is refused.
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/oauth/logout", strings.NewReader(confirm.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if got := b.read(b.c.Do(req)); got.status != http.StatusForbidden || got.location != nil {
			t.Errorf("cross-site confirmation: %d %v, want 403", got.status, got.location)
		}
		if !signedIn() {
			t.Fatal("a cross-site confirmation signed the person out")
		}

		// The person presses Sign out on ward's page.
		got = b.post(e.issuer+"/oauth/logout", confirm)
		if got.location == nil || !strings.HasPrefix(got.location.String(), appRedirect) || got.location.Query().Get("state") != "bye-2" {
			t.Fatalf("confirmed logout: %d %v", got.status, got.location)
		}
		if signedIn() {
			t.Error("still signed in after confirming")
		}
		if !e.hasAudit("signed out of ward at the request of client "+a.id, "confirmed by the person") {
			t.Error("confirmed sign-out not audited")
		}
	})
}

// sidOf returns the sid claim of a JWT (its signature is go-oidc's to
// check; here only the claim matters).
func sidOf(t *testing.T, jwt string) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c.SID
}
