package console_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"ward/internal/console"
	"ward/internal/directory"
	"ward/internal/testutil"
)

// TestAPIDocs: /api/docs is the management API's OpenAPI document as one
// HTML page under the console's CSP, for anyone: a signed-out browser
// (no token, no navigation) and a signed-in person (their navigation).
// It lists every operation, the legacy IdP ones included.
func TestAPIDocs(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		e.person("admin@example.org", []string{directory.RoleAdmin})
		e.person("pat@example.org", []string{directory.RolePatient})
		admin, pat := e.session("admin@example.org"), e.session("pat@example.org")

		p := e.get("", "/api/docs")
		if p.Status != http.StatusOK {
			t.Fatalf("anonymous /api/docs = %d: %.300s", p.Status, p.Body)
		}
		if got := p.Header.Get("Content-Security-Policy"); got != console.CSP {
			t.Errorf("CSP = %q, want the console's %q", got, console.CSP)
		}
		if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("Content-Type = %q, want HTML", ct)
		}
		for _, want := range []string{
			`<code class="operation-id">search-users</code>`,
			`<code>/api/1.0/sso/signin</code>`,
			`<code class="operation-id">list-audit-events</code>`,
			`<code class="operation-id">replay-webhook-delivery</code>`,
			`href="#tag-webhooks"`, `id="tag-webhooks"`, `<th scope="col">Required</th>`,
			`href="/static/ward.css"`,
		} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("the docs lack %s", want)
			}
		}
		for _, banned := range []string{"<script", "http://", "https://cdn", "style="} {
			if strings.Contains(strings.ToLower(p.Body), banned) {
				t.Errorf("the docs hold %q", banned)
			}
		}
		if strings.Contains(p.Body, `aria-label="Console sections"`) {
			t.Error("a signed-out visitor sees the console navigation")
		}

		// Signed in: the page, with the person's navigation.
		p = e.get(admin, "/api/docs")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, `href="/admin/audit"`) ||
			!strings.Contains(p.Body, `href="/api/docs" aria-current="page"`) {
			t.Errorf("admin /api/docs = %d; want the page with the admin's navigation", p.Status)
		}
		p = e.get(pat, "/api/docs")
		if p.Status != http.StatusOK || strings.Contains(p.Body, `href="/admin/audit"`) {
			t.Errorf("patient /api/docs = %d; want the page without the audit log in the navigation", p.Status)
		}

		// Only GET: other methods get the API's problem answer, and an
		// unknown path under /api/ is still the API's 404.
		r := httptest.NewRequest(http.MethodPost, "/api/docs", nil)
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		if p := e.do("", r); p.Status != http.StatusMethodNotAllowed {
			t.Errorf("POST /api/docs = %d, want 405", p.Status)
		}
		if p := e.get("", "/api/docs/nothing"); p.Status != http.StatusNotFound || !strings.Contains(p.Header.Get("Content-Type"), "problem+json") {
			t.Errorf("/api/docs/nothing = %d %q, want the API's 404 problem", p.Status, p.Header.Get("Content-Type"))
		}
		// A bearer token that is not valid is refused like anywhere under
		// /api/; a browser with none is not asked for one (above).
		r = httptest.NewRequest(http.MethodGet, "/api/docs", nil)
		r.Header.Set("Authorization", "Bearer not-a-token")
		if p := e.do("", r); p.Status != http.StatusUnauthorized {
			t.Errorf("/api/docs with a bad token = %d, want 401", p.Status)
		}
	})
}
