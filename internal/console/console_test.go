package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"ward/internal/actor"
	"ward/internal/console"
	"ward/internal/directory"
	"ward/internal/testutil"
	"ward/internal/testutil/browser"
)

// TestGate: the console lets in signed-in browser sessions only, lists to
// each person only the sections their services serve them, and answers
// unknown pages with its own 404.
func TestGate(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		e.person("admin@example.org", []string{directory.RoleAdmin})
		e.person("dev@example.org", []string{directory.RoleApplicationDeveloper})
		e.person("pat@example.org", []string{directory.RolePatient})
		admin, dev, pat := e.session("admin@example.org"), e.session("dev@example.org"), e.session("pat@example.org")

		// Anonymous: to the sign-in page, and back here after.
		p := e.get("", "/admin/people?q=x")
		if p.Status != http.StatusSeeOther || p.Location != "/login?next="+url.QueryEscape("/admin/people?q=x") {
			t.Errorf("anonymous /admin/people = %d → %q, want 303 to sign in and back", p.Status, p.Location)
		}

		p = e.get(admin, "/admin")
		if p.Status != http.StatusOK {
			t.Fatalf("admin /admin = %d", p.Status)
		}
		if got := p.Header.Get("Content-Security-Policy"); got != console.CSP {
			t.Errorf("CSP = %q, want %q", got, console.CSP)
		}
		for _, want := range []string{`href="/admin/people"`, `href="/admin/audit"`, `href="/admin/clients"`, `aria-current="page"`} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("admin's console home lacks %s", want)
			}
		}

		// A developer's navigation has clients, not people or the audit log.
		p = e.get(dev, "/admin")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, `href="/admin/clients"`) {
			t.Errorf("developer /admin = %d, want 200 listing API clients", p.Status)
		}
		for _, hidden := range []string{`href="/admin/people"`, `href="/admin/audit"`} {
			if strings.Contains(p.Body, hidden) {
				t.Errorf("developer's navigation lists %s", hidden)
			}
		}
		// A patient's console has nothing to manage but still answers.
		p = e.get(pat, "/admin")
		if p.Status != http.StatusOK || strings.Contains(p.Body, `href="/admin/clients"`) {
			t.Errorf("patient /admin = %d (lists clients: %v)", p.Status, strings.Contains(p.Body, `href="/admin/clients"`))
		}

		p = e.get(admin, "/admin/no-such-page")
		if p.Status != http.StatusNotFound || !strings.Contains(p.Body, "Not found") || !strings.Contains(p.Body, `href="/admin"`) {
			t.Errorf("unknown console page = %d, want the console's 404 page", p.Status)
		}
		for from, to := range map[string]string{"/users": "/admin/people", "/clients": "/admin/clients", "/audit": "/admin/audit"} {
			if p := e.get(admin, from); p.Status != http.StatusSeeOther || p.Location != to {
				t.Errorf("%s = %d → %q, want 303 → %s", from, p.Status, p.Location, to)
			}
		}
	})
}

// TestGateRefusesTokens: a bearer token, even an administrator's, does not
// open the console: it is for people at a browser.
func TestGateRefusesTokens(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t))
	u := e.person("admin@example.org", []string{directory.RoleAdmin})
	sa, err := e.srv.Services().OAuth.CreateServiceAccount(actor.With(context.Background(), actor.Actor{UserID: u.ID}), u.ID)
	if err != nil {
		t.Fatalf("create a service account: %v", err)
	}
	r := httptest.NewRequest(http.MethodGet, "/admin", nil)
	r.Header.Set("Authorization", "Bearer "+sa.Token)
	p := e.do("", r)
	if p.Status != http.StatusForbidden {
		t.Errorf("bearer /admin = %d, want 403", p.Status)
	}
}

// TestBrowserHome signs an administrator in through the form, lands on the
// console home from /admin, moves through the navigation with the
// keyboard, and checks the page's accessibility.
func TestBrowserHome(t *testing.T) {
	path := browser.Path(t)
	base, srv := browser.StartServer(t, "")
	e := &env{t: t, srv: srv, h: srv.Handler()}
	e.person("admin@example.org", []string{directory.RoleAdmin})
	ctx := browser.New(t, path)
	if err := browser.SignIn(ctx, base, "admin@example.org", testPassword, "/admin"); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	heading, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#home-heading")))
	if err != nil || heading != "Admin console" {
		t.Fatalf("after sign-in the page heading is %q (%v), want the console home", heading, err)
	}
	browser.Accessible(t, ctx)
	// The first Tab reaches the skip link, which is visible when focused.
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\t")); err != nil {
		t.Fatalf("press Tab: %v", err)
	}
	focused, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.activeElement.textContent"))
	if err != nil || focused != "Skip to content" {
		t.Errorf("first Tab focuses %q (%v), want the skip link", focused, err)
	}
}
