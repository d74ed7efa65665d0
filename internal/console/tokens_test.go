package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2/clientcredentials"

	"ward/internal/directory"
	"ward/internal/testutil"
	"ward/internal/testutil/browser"
)

// TestTokenTools: a pasted token is shown to whoever manages its client
// and to the person it was issued for, and revoked by them; others are
// refused; the token never reaches a URL, nor the page after revocation.
func TestTokenTools(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		p := e.people()
		id, secret, _ := e.createClient(p.admin, url.Values{"name": {"Batch"}, "grant_types": {"client_credentials"}, "scope": {"system/Patient.rs"}})
		tok := e.ccToken(id, secret, "system/Patient.rs")

		for _, who := range []string{p.admin, p.dev, p.pat} {
			if pg := e.get(who, "/admin/tokens"); pg.Status != http.StatusOK || !strings.Contains(pg.Body, `<textarea id="token" name="token"`) {
				t.Errorf("token tools page = %d", pg.Status)
			}
		}
		pg := e.post(p.admin, "/admin/tokens/inspect", url.Values{"token": {"  " + tok + "\n"}})
		if pg.Status != http.StatusOK || field(pg.Body, "token-state") != "active" || field(pg.Body, "token-client") != id ||
			!strings.Contains(pg.Body, `id="revoke"`) {
			t.Fatalf("admin inspecting = %d, state %q, client %q", pg.Status, field(pg.Body, "token-state"), field(pg.Body, "token-client"))
		}
		if !strings.Contains(pg.Body, "system/Patient.rs") || !strings.Contains(pg.Body, `href="/admin/clients/`+id+`">Batch</a>`) {
			t.Error("the inspected token's scopes or client are not shown")
		}
		for what, who := range map[string]string{"developer": p.dev, "patient": p.pat} {
			pg := e.post(who, "/admin/tokens/inspect", url.Values{"token": {tok}})
			if pg.Status != http.StatusForbidden || field(pg.Body, "token-error") == "" || strings.Contains(pg.Body, tok) {
				t.Errorf("%s inspecting the admin's token = %d, error %q", what, pg.Status, field(pg.Body, "token-error"))
			}
			wantStatus(t, what+" revoking the admin's token", e.post(who, "/admin/tokens/revoke", url.Values{"token": {tok}}), http.StatusForbidden)
		}
		pg = e.post(p.admin, "/admin/tokens/inspect", url.Values{"token": {"ward_at_" + strings.Repeat("A", 43)}})
		if pg.Status != http.StatusNotFound || field(pg.Body, "token-error") == "" {
			t.Errorf("inspecting a token ward never issued = %d", pg.Status)
		}
		pg = e.post(p.admin, "/admin/tokens/inspect", url.Values{"token": {"hello"}})
		if pg.Status != http.StatusBadRequest || field(pg.Body, "token-error") == "" {
			t.Errorf("inspecting text that is no token = %d", pg.Status)
		}

		pg = e.post(p.admin, "/admin/tokens/revoke", url.Values{"token": {tok}})
		wantDone(t, "admin revoking", pg, "/admin/tokens", "token-revoked")
		if pg = e.get(p.admin, pg.Location); field(pg.Body, "notice") == "" || strings.Contains(pg.Body, tok) {
			t.Errorf("after revoking: notice %q, page holds the token %v", field(pg.Body, "notice"), strings.Contains(pg.Body, tok))
		}
		pg = e.post(p.admin, "/admin/tokens/inspect", url.Values{"token": {tok}})
		if pg.Status != http.StatusOK || field(pg.Body, "token-state") != "inactive" || field(pg.Body, "token-why") == "" ||
			strings.Contains(pg.Body, tok) {
			t.Errorf("inspecting the revoked token = %d, state %q, why %q, page holds it %v", pg.Status,
				field(pg.Body, "token-state"), field(pg.Body, "token-why"), strings.Contains(pg.Body, tok))
		}

		// A person may inspect and revoke a token issued for them; the
		// developer who owns its client may too, another may not.
		_, ptok := e.userToken(p.devU.ID, p.patU.ID)
		if pg := e.post(p.pat, "/admin/tokens/inspect", url.Values{"token": {ptok}}); pg.Status != http.StatusOK || field(pg.Body, "token-state") != "active" ||
			!strings.Contains(field(pg.Body, "token-user"), fmt.Sprintf("(user %d)", p.patU.ID)) {
			t.Errorf("patient inspecting their own token = %d, for %q", pg.Status, field(pg.Body, "token-user"))
		}
		if pg := e.post(p.dev, "/admin/tokens/inspect", url.Values{"token": {ptok}}); pg.Status != http.StatusOK {
			t.Errorf("owner inspecting their client's token = %d", pg.Status)
		}
		wantStatus(t, "another developer inspecting", e.post(p.dev2, "/admin/tokens/inspect", url.Values{"token": {ptok}}), http.StatusForbidden)
		wantDone(t, "patient revoking their own token", e.post(p.pat, "/admin/tokens/revoke", url.Values{"token": {ptok}}), "/admin/tokens", "token-revoked")

		// Disabling a client makes its tokens inactive, and the tool says why.
		tok2 := e.ccToken(id, secret, "system/Patient.rs")
		wantDone(t, "admin disabling", e.post(p.admin, "/admin/clients/"+id+"/disable", nil), "/admin/clients/"+id, "client-disabled")
		if why := field(e.post(p.admin, "/admin/tokens/inspect", url.Values{"token": {tok2}}).Body, "token-why"); why == "" {
			t.Error("no reason for the disabled client's token")
		}
	})
}

// TestTokenToolsBadInput: what is pasted is held to the same rules as
// every form: NUL, invalid UTF-8, too long or too large is a 4xx.
func TestTokenToolsBadInput(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		p := e.people()
		for what, form := range map[string]url.Values{
			"empty":           {"token": {""}},
			"missing":         {},
			"NUL":             {"token": {"ward_at_\x00"}},
			"invalid UTF-8":   {"token": {"ward_at_\xff\xfe"}},
			"over 16 KiB":     {"token": {"ward_at_" + strings.Repeat("A", 20<<10)}},
			"body over 1 MiB": {"token": {strings.Repeat("A", 2<<20)}},
			"two tokens":      {"token": {"ward_at_a", "ward_at_b"}},
			"an auth code":    {"token": {"ward_ac_abc"}},
			"a broken JWT":    {"token": {"eyJhbGciOi.eyJ.x"}},
		} {
			for _, action := range []string{"inspect", "revoke"} {
				pg := e.post(p.admin, "/admin/tokens/"+action, form)
				if pg.Status < 400 || pg.Status >= 500 {
					t.Errorf("%s %s = %d, want 4xx", action, what, pg.Status)
				}
			}
		}
		// The tools take the token in a POST body only.
		for _, path := range []string{"/admin/tokens/inspect?token=ward_at_x", "/admin/tokens/revoke?token=ward_at_x"} {
			if pg := e.get(p.admin, path); pg.Status < 400 || pg.Status >= 500 {
				t.Errorf("GET %s = %d, want 4xx", path, pg.Status)
			}
		}
	})
}

// TestBrowserClients is the area's main task in Chromium: an administrator
// registers a confidential client-credentials client (its secret shown
// once), the client gets a token, the client's page lists it, the
// administrator revokes it there and the token tool says it is inactive.
func TestBrowserClients(t *testing.T) {
	path := browser.Path(t)
	base, srv := browser.StartServer(t, "")
	e := &env{t: t, srv: srv, h: srv.Handler()}
	e.person("admin@example.org", []string{directory.RoleAdmin})
	ctx := browser.New(t, path)
	if err := browser.SignIn(ctx, base, "admin@example.org", testPassword, "/admin"); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	browser.Accessible(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`nav.sections a[href="/admin/clients"]`)),
		chromedp.WaitVisible(chromedp.CSS("#clients-heading"))); err != nil {
		t.Fatalf("open API clients: %v", err)
	}
	browser.Accessible(t, ctx)

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#new-client")), chromedp.WaitVisible(chromedp.CSS("#client-form"))); err != nil {
		t.Fatalf("open the registration form: %v", err)
	}
	browser.Accessible(t, ctx)
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#name"), "Nightly report"),
		chromedp.Click(chromedp.CSS("#kind-confidential")),
		// The form starts with the authorization-code grants ticked.
		chromedp.Click(chromedp.CSS("#grant-authorization_code")),
		chromedp.Click(chromedp.CSS("#grant-refresh_token")),
		chromedp.Click(chromedp.CSS("#grant-client_credentials")),
		chromedp.SendKeys(chromedp.CSS("#scope"), "system/Patient.rs"),
		chromedp.Click(chromedp.CSS("#register")),
		chromedp.WaitVisible(chromedp.CSS("#client-secret")),
	); err != nil {
		t.Fatalf("register the client: %v", err)
	}
	browser.Accessible(t, ctx)
	id, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#client-id")))
	if err != nil || id == "" {
		t.Fatalf("client id %q: %v", id, err)
	}
	secret, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#client-secret")))
	if err != nil || secret == "" {
		t.Fatalf("client secret: %v", err)
	}

	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: base + "/oauth/token", Scopes: []string{"system/Patient.rs"}}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatalf("client-credentials grant with the shown secret: %v", err)
	}

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#client-link")), chromedp.WaitVisible(chromedp.CSS("#client-tokens"))); err != nil {
		t.Fatalf("open the client's page: %v", err)
	}
	browser.Accessible(t, ctx)
	body, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body.innerHTML"))
	if err != nil || strings.Contains(body, secret) {
		t.Fatalf("the client's page shows the secret again (%v)", err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.querySelectorAll('#client-tokens tr.token-row').length"))
	if err != nil || rows != 1 {
		t.Fatalf("the client's page lists %d live tokens (%v), want 1", rows, err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#client-tokens button")), chromedp.WaitVisible(chromedp.CSS("#notice")),
		chromedp.WaitVisible(chromedp.CSS("#no-tokens"))); err != nil {
		t.Fatalf("revoke the token: %v", err)
	}
	browser.Accessible(t, ctx)

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`nav.sections a[href="/admin/tokens"]`)),
		chromedp.WaitVisible(chromedp.CSS("#token"))); err != nil {
		t.Fatalf("open the token tools: %v", err)
	}
	browser.Accessible(t, ctx)
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#token"), tok.AccessToken), chromedp.Click(chromedp.CSS("#inspect")),
		chromedp.WaitVisible(chromedp.CSS("#token-state"))); err != nil {
		t.Fatalf("inspect the token: %v", err)
	}
	browser.Accessible(t, ctx)
	state, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#token-state")))
	if err != nil || state != "inactive" {
		t.Errorf("the token tool says the revoked token is %q (%v), want inactive", state, err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Evaluate[string]("location.href"))
	if err != nil || strings.Contains(loc, tok.AccessToken) || !strings.HasSuffix(loc, "/admin/tokens/inspect") {
		t.Errorf("after inspecting, the address is %q (%v)", loc, err)
	}
}
