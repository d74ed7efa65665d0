package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"ward/internal/actor"
	"ward/internal/client"
	"ward/internal/directory"
	"ward/internal/testutil/browser"
)

// TestBrowserAuthorizeConsent runs the authorization-code flow in headless
// Chromium as a person would: the app sends the browser to ward, the person
// signs in, reads the consent page and allows, and the browser arrives at
// the app's redirect URI with a code. It checks what only a browser
// enforces: the pages' CSP must let the forms end in a redirect to the app.
func TestBrowserAuthorizeConsent(t *testing.T) {
	chrome := browser.Path(t)

	arrived := make(chan url.Values, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- r.URL.Query():
		default:
		}
		_, _ = w.Write([]byte("<!doctype html><title>app</title><p id=done>back at the app</p>"))
	}))
	t.Cleanup(app.Close)
	redirect := app.URL + "/callback"

	base, srv := browser.StartServer(t, "")
	sys := actor.System(context.Background())
	if _, err := srv.Services().Directory.CreateUser(sys, directory.NewUser{
		User:     directory.User{Email: "pat@example.org", GivenName: "Pat", FamilyName: "Example"},
		Password: adminPassword, Roles: []string{directory.RolePatient},
	}); err != nil {
		t.Fatalf("create patient: %v", err)
	}
	c, _, err := srv.Services().Clients.Create(sys, client.Settings{
		Name: "Diary App", Public: true, GrantTypes: []string{client.GrantAuthorizationCode},
		RedirectURIs: []string{redirect}, Scope: "openid fhirUser launch/patient patient/Observation.rs",
	})
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	verifier := "a-verifier-of-enough-length-for-pkce-0123456789"
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {redirect},
		"scope": {"openid fhirUser launch/patient patient/Observation.rs"}, "state": {"browser-state-1"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		"aud": {base + "/fhir"}}

	ctx := browser.New(t, chrome)

	type css = chromedp.CSS
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/oauth/authorize?"+q.Encode()),
		chromedp.WaitVisible(css("#email")),
		chromedp.SendKeys(css("#email"), "pat@example.org"),
		chromedp.SendKeys(css("#password"), adminPassword),
		chromedp.Click(css(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(css("#consent-heading")),
	)
	if err != nil {
		t.Fatalf("sign in on the way to consent: %v", err)
	}
	heading, err := chromedp.Run(ctx, chromedp.Text(css("#consent-heading")))
	if err != nil {
		t.Fatalf("read the consent page: %v", err)
	}
	browser.Accessible(t, ctx)
	if want := "Allow Diary App to use your ward account?"; heading != want {
		t.Errorf("consent heading %q, want %q", heading, want)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(css(`button[name=decision][value=allow]`)),
		chromedp.WaitVisible(css("#done")),
	); err != nil {
		t.Fatalf("allow: %v (the CSP form-action may block the redirect to the app)", err)
	}
	select {
	case got := <-arrived:
		if got.Get("state") != "browser-state-1" || got.Get("code") == "" || got.Get("error") != "" {
			t.Fatalf("the app received %v", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the browser never reached the app")
	}
}
