package console_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2/clientcredentials"

	"ward/internal/directory"
	"ward/internal/testutil"
	"ward/internal/testutil/browser"
)

// TestIssue17DoneMeans walks the issue's "Done means" in Chromium, as an
// administrator who has never read the API docs: sign in, find the
// console from the signed-in page, create an organization, a person in it
// and a client, see the client's token after a client-credentials grant,
// revoke it, find the revocation in the audit log and verify the chain.
// Then a staff administrator sees only their organization's people and a
// developer can reach neither people nor the audit log. Every page on the
// way is checked for accessibility.
func TestIssue17DoneMeans(t *testing.T) {
	path := browser.Path(t)
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) { doneMeans(t, path, dbURL) })
}

func doneMeans(t *testing.T, path, dbURL string) {
	base, srv := browser.StartServer(t, dbURL)
	e := &env{t: t, srv: srv, h: srv.Handler()}
	e.person("admin@example.org", []string{directory.RoleAdmin})
	e.person("dev@example.org", []string{directory.RoleApplicationDeveloper})
	ctx := browser.New(t, path)
	type css = chromedp.CSS
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}

	// Sign in at the plain sign-in page; the signed-in page leads on.
	if err := browser.SignIn(ctx, base, "admin@example.org", testPassword, "/"); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	step("open the console from the signed-in page", chromedp.Click(css("#console-link")), chromedp.WaitVisible(css("#home-heading")))
	browser.Accessible(t, ctx)

	// An organization.
	step("open Organizations", chromedp.Click(css(`nav.sections a[href="/admin/organizations"]`)), chromedp.WaitVisible(css("#orgs-heading")))
	browser.Accessible(t, ctx)
	step("create an organization",
		chromedp.SendKeys(css("#new-org-name"), "Riverside Clinic"),
		chromedp.Click(css("#create-org")),
		chromedp.WaitVisible(css("#org-heading")))
	browser.Accessible(t, ctx)
	orgID := text("#org-id")
	if h := text("#org-heading"); !strings.Contains(h, "Riverside Clinic") {
		t.Fatalf("after creating, the page is %q", h)
	}

	// A person in it.
	step("open People", chromedp.Click(css(`nav.sections a[href="/admin/people"]`)), chromedp.WaitVisible(css("#people-heading")))
	step("open the new-person form", chromedp.Click(css("#new-person")), chromedp.WaitVisible(css("#new-person-heading")))
	browser.Accessible(t, ctx)
	step("create a person in the organization",
		chromedp.SendKeys(css("#email"), "rosa.rivers@example.org"),
		chromedp.SendKeys(css("#given_name"), "Rosa"),
		chromedp.SendKeys(css("#family_name"), "Rivers"),
		chromedp.SetValue(css("#organization"), orgID),
		chromedp.Click(css("#role-staff")),
		chromedp.Click(css("#create-person")),
		chromedp.WaitVisible(css("#person-heading")))
	browser.Accessible(t, ctx)
	if body := text("#main"); !strings.Contains(body, "rosa.rivers@example.org") || !strings.Contains(body, "Riverside Clinic") {
		t.Fatalf("the new person's page does not show their email and organization: %q", body)
	}

	// A client, its token, and revoking it.
	step("open API clients", chromedp.Click(css(`nav.sections a[href="/admin/clients"]`)), chromedp.WaitVisible(css("#clients-heading")))
	step("open the registration form", chromedp.Click(css("#new-client")), chromedp.WaitVisible(css("#client-form")))
	step("register a backend client",
		chromedp.SendKeys(css("#name"), "Riverside reports"),
		chromedp.Click(css("#kind-confidential")),
		chromedp.Click(css("#grant-authorization_code")),
		chromedp.Click(css("#grant-refresh_token")),
		chromedp.Click(css("#grant-client_credentials")),
		chromedp.SendKeys(css("#scope"), "system/Patient.rs"),
		chromedp.Click(css("#register")),
		chromedp.WaitVisible(css("#client-secret")))
	browser.Accessible(t, ctx)
	clientID, secret := text("#client-id"), text("#client-secret")
	cc := clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: base + "/oauth/token", Scopes: []string{"system/Patient.rs"}}
	if _, err := cc.Token(context.Background()); err != nil {
		t.Fatalf("client-credentials grant with the secret the console showed: %v", err)
	}
	step("open the client's page", chromedp.Click(css("#client-link")), chromedp.WaitVisible(css("#client-tokens")))
	browser.Accessible(t, ctx)
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.querySelectorAll('#client-tokens tr.token-row').length"))
	if err != nil || rows != 1 {
		t.Fatalf("the client's page lists %d live tokens (%v), want the one just issued", rows, err)
	}
	step("revoke the token", chromedp.Click(css("#client-tokens button")), chromedp.WaitVisible(css("#notice")), chromedp.WaitVisible(css("#no-tokens")))

	// The revocation in the audit log, and the chain verified.
	step("open the audit log", chromedp.Click(css(`nav.sections a[href="/admin/audit"]`)), chromedp.WaitVisible(css("#audit-heading")))
	step("filter by token revocations",
		chromedp.SetValue(css("#f-type"), "token.revoked"),
		chromedp.Click(css("#filter-go")),
		chromedp.WaitReady(css(`#f-type option[value="token.revoked"][selected]`)),
		chromedp.WaitVisible(css("#events")))
	browser.Accessible(t, ctx)
	if events := text("#events tbody"); !strings.Contains(events, "token.revoked") || !strings.Contains(events, clientID) {
		t.Fatalf("the audit log filtered to revocations of %s shows %q", clientID, events)
	}
	step("verify the chain", chromedp.Click(css("#verify-chain")), chromedp.WaitVisible(css("#chain-intact")))
	browser.Accessible(t, ctx)

	// A staff administrator of Riverside sees its staff and no one else's
	// (RULES.md rule 5; patients they see only with a consent, rule 4).
	other := e.org("Hillside Clinic")
	e.person("hal.hills@example.org", []string{directory.RoleStaff}, other)
	riverside, err := strconv.ParseInt(orgID, 10, 64)
	if err != nil {
		t.Fatalf("the organization's page shows id %q", orgID)
	}
	e.person("sam.staff@example.org", []string{directory.RoleStaffAdmin}, riverside)
	step("sign out", chromedp.Click(css(`form[action="/logout"] button`)), chromedp.WaitVisible(css("#email")))
	if err := browser.SignIn(ctx, base, "sam.staff@example.org", testPassword, "/admin/people"); err != nil {
		t.Fatalf("sign the staff administrator in: %v", err)
	}
	step("list people", chromedp.WaitVisible(css("#people-heading")))
	browser.Accessible(t, ctx)
	if list := text("#main"); !strings.Contains(list, "rosa.rivers@example.org") || strings.Contains(list, "hal.hills@example.org") {
		t.Fatalf("the staff administrator's people list is %q: want Riverside's person and not Hillside's", list)
	}

	// A developer reaches neither people nor the audit log.
	step("sign out", chromedp.Click(css(`form[action="/logout"] button`)), chromedp.WaitVisible(css("#email")))
	if err := browser.SignIn(ctx, base, "dev@example.org", testPassword, "/admin"); err != nil {
		t.Fatalf("sign the developer in: %v", err)
	}
	nav := text("nav.sections")
	if strings.Contains(nav, "People") || strings.Contains(nav, "Audit log") || !strings.Contains(nav, "API clients") {
		t.Errorf("the developer's navigation is %q", nav)
	}
	for _, p := range []string{"/admin/people", "/admin/audit"} {
		step("open "+p+" as the developer", chromedp.Navigate(base+p), chromedp.WaitVisible(css("#error-heading")))
		if h := text("#error-heading"); h != "Not allowed" {
			t.Errorf("the developer at %s sees %q, want the 403 page", p, h)
		}
		browser.Accessible(t, ctx)
	}
}
