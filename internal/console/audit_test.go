package console_test

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"ward/internal/actor"
	"ward/internal/directory"
	"ward/internal/testutil"
)

// TestAuditLogPage: an administrator lists the whole audit log, filtered
// by person (id or email), client, event type and time, a page at a time;
// a developer and a patient are refused by the audit log's own rule.
func TestAuditLogPage(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		e.person("admin@example.org", []string{directory.RoleAdmin})
		e.person("dev@example.org", []string{directory.RoleApplicationDeveloper})
		e.person("pat@example.org", []string{directory.RolePatient})
		ann := e.person("ann@example.org", []string{directory.RolePatient})
		admin, dev, pat := e.session("admin@example.org"), e.session("dev@example.org"), e.session("pat@example.org")
		if _, err := e.srv.Services().Directory.CreateOrganization(actor.System(context.Background()),
			&directory.Organization{Name: "Northside Clinic"}); err != nil {
			t.Fatalf("create an organization: %v", err)
		}

		p := e.get(admin, "/admin/audit")
		if p.Status != http.StatusOK {
			t.Fatalf("admin /admin/audit = %d", p.Status)
		}
		for _, want := range []string{"user.created", "organization.created", `href="/admin/people/` + strconv.FormatInt(ann.ID, 10) + `"`,
			"ann@example.org", `<option value="webhook.delivery_replayed">`, `action="/admin/audit/verify"`} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("the audit log lacks %s", want)
			}
		}

		// Newest first: the organization (made last) above the people.
		if i := strings.Index(p.Body, `id="events"`); i < 0 {
			t.Error("the audit log has no events table")
		} else if tbl := p.Body[i:]; strings.Index(tbl, ">organization.created<") > strings.Index(tbl, ">user.created<") {
			t.Error("the audit log does not list the newest event first")
		}

		// By event type: only that type.
		p = e.get(admin, "/admin/audit?type=organization.created")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "Northside Clinic") || strings.Contains(p.Body, `<code class="event-type">user.created<`) {
			t.Errorf("filtered by organization.created = %d; want the organization's event and no user.created", p.Status)
		}
		if !strings.Contains(p.Body, `<option value="organization.created" selected>`) {
			t.Errorf("the type select does not keep the chosen type")
		}
		// By person, by id and by email: only events involving them.
		for _, who := range []string{strconv.FormatInt(ann.ID, 10), "ann@example.org"} {
			p = e.get(admin, "/admin/audit?"+url.Values{"person": {who}}.Encode())
			if p.Status != http.StatusOK || !strings.Contains(p.Body, "ann@example.org") || strings.Contains(p.Body, "Northside Clinic") {
				t.Errorf("filtered by person %s = %d; want Ann's events only", who, p.Status)
			}
		}
		// By client: no event here was acted through one.
		p = e.get(admin, "/admin/audit?client=no-such-app")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, `id="no-events"`) {
			t.Errorf("filtered by an unused client = %d; want no events", p.Status)
		}
		// By time: nothing before 2000, everything after.
		p = e.get(admin, "/admin/audit?to=2000-01-01T00:00")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, `id="no-events"`) {
			t.Errorf("events before 2000 = %d; want none", p.Status)
		}
		p = e.get(admin, "/admin/audit?from=2000-01-01T00:00&type=user.created")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "ann@example.org") {
			t.Errorf("events since 2000 = %d; want Ann's creation", p.Status)
		}

		// Paging: two at a time, the next page continues with the filter.
		p = e.get(admin, "/admin/audit?type=user.created&limit=2")
		next := hrefBefore(p.Body, `" rel="next"`)
		if p.Status != http.StatusOK || next == "" {
			t.Fatalf("first page of 4 user.created events by 2 = %d, no next link", p.Status)
		}
		p = e.get(admin, next)
		if p.Status != http.StatusOK || strings.Count(p.Body, `<code class="event-type">user.created</code>`) != 2 ||
			!strings.Contains(p.Body, `rel="first"`) {
			t.Errorf("second page = %d with %d user.created events; want 2 and a first-page link", p.Status,
				strings.Count(p.Body, `<code class="event-type">user.created</code>`))
		}

		for name, tok := range map[string]string{"developer": dev, "patient": pat} {
			if p := e.get(tok, "/admin/audit"); p.Status != http.StatusForbidden || strings.Contains(p.Body, "user.created") {
				t.Errorf("%s /admin/audit = %d; want 403 showing no event", name, p.Status)
			}
			if p := e.get(tok, "/admin/audit?person=abc"); p.Status != http.StatusForbidden {
				t.Errorf("%s /admin/audit with a bad filter = %d; want 403", name, p.Status)
			}
		}
		if p := e.get("", "/admin/audit"); p.Status != http.StatusSeeOther {
			t.Errorf("anonymous /admin/audit = %d; want 303 to sign in", p.Status)
		}
	})
}

// hrefBefore returns the href of the link whose attributes go on with
// marker (`" rel="next"`), unescaped; "" when there is none.
func hrefBefore(body, marker string) string {
	i := strings.Index(body, marker)
	if i < 0 {
		return ""
	}
	j := strings.LastIndex(body[:i], `href="`)
	if j < 0 {
		return ""
	}
	return html.UnescapeString(body[j+len(`href="`) : i])
}

// newPost is an empty form post to path.
func newPost(path string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(""))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// TestAuditVerify: "Verify chain" tells an administrator the chain is
// intact with its length, then where it breaks once a row is edited; a
// developer and a patient are refused by the audit log.
func TestAuditVerify(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		e.person("admin@example.org", []string{directory.RoleAdmin})
		e.person("dev@example.org", []string{directory.RoleApplicationDeveloper})
		e.person("pat@example.org", []string{directory.RolePatient})
		admin, dev, pat := e.session("admin@example.org"), e.session("dev@example.org"), e.session("pat@example.org")

		for name, tok := range map[string]string{"developer": dev, "patient": pat} {
			if p := e.post(tok, "/admin/audit/verify", nil); p.Status != http.StatusForbidden || strings.Contains(p.Body, "intact") {
				t.Errorf("%s verify = %d; want 403", name, p.Status)
			}
		}
		p := e.post(admin, "/admin/audit/verify", nil)
		if p.Status != http.StatusOK || !strings.Contains(p.Body, `id="chain-intact"`) {
			t.Fatalf("admin verify = %d; want the chain intact", p.Status)
		}
		n, _, err := e.srv.Services().DB.AuditHead(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := "The chain is intact: " + strconv.FormatInt(n, 10) + " events"; !strings.Contains(p.Body, want) {
			t.Errorf("verify result lacks %q", want)
		}

		if _, err := e.srv.Services().DB.Writer().ExecContext(context.Background(),
			`UPDATE audit_events SET comment = 'nothing to see' WHERE id = 2`); err != nil {
			t.Fatalf("tamper: %v", err)
		}
		p = e.post(admin, "/admin/audit/verify", nil)
		if p.Status != http.StatusOK || !strings.Contains(p.Body, `id="chain-broken"`) ||
			!strings.Contains(p.Body, "broken at event 2") {
			t.Errorf("verify after an edit = %d; want the chain broken at event 2", p.Status)
		}
		// A verify from another site is refused before it runs.
		r := newPost("/admin/audit/verify")
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		if p := e.do(admin, r); p.Status != http.StatusForbidden {
			t.Errorf("cross-site verify = %d; want 403", p.Status)
		}
	})
}

// TestAuditBadInput: filter values that are not ids, times or text get
// the page with the mistake (400), never a 500, on both databases.
func TestAuditBadInput(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		e.person("admin@example.org", []string{directory.RoleAdmin})
		admin := e.session("admin@example.org")
		for _, q := range []url.Values{
			{"person": {"abc"}},
			{"person": {"-3"}},
			{"person": {"99999999999999999999"}},
			{"person": {"nobody@example.org"}},
			{"person": {"a@b@c"}},
			{"type": {"no.such_type"}},
			{"from": {"yesterday"}},
			{"to": {"2026-13-45T99:99"}},
			{"from": {"2026-02-01T00:00"}, "to": {"2026-01-01T00:00"}},
			{"person": {"\x00"}},
			{"client": {"\xff"}},
			{"type": {"user.created\x00"}},
			{"client": {strings.Repeat("x", 5000)}},
			{"after": {"!!"}},
		} {
			p := e.get(admin, "/admin/audit?"+q.Encode())
			if p.Status < 400 || p.Status >= 500 {
				t.Errorf("/admin/audit?%s = %d; want a 4xx", q.Encode(), p.Status)
			}
		}
		p := e.get(admin, "/admin/audit?person=abc")
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `id="filter-error"`) || !strings.Contains(p.Body, "person:") {
			t.Errorf("a bad person = %d; want 400 naming the field on the audit page", p.Status)
		}
	})
}
