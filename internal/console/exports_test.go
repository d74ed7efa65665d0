package console_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"ward/internal/testutil"
)

// TestExports: an administrator lists the exports (paged), opens one and
// cancels it with a notice, after which it shows as cancelled and cannot
// be cancelled again; a developer and a patient are refused every page and
// the cancel, which changes nothing.
func TestExports(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		o := setupOps(e)
		second := kickOff(e, o.backend.ID)

		p := e.get(o.adminS, "/admin/exports")
		if p.Status != http.StatusOK {
			t.Fatalf("admin exports = %d", p.Status)
		}
		for _, want := range []string{`id="exports-heading"`, `href="/admin/exports/` + o.exportID + `"`,
			`href="/admin/exports/` + second + `"`, o.backend.ID, "accepted", "system"} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("exports list lacks %q", want)
			}
		}
		// One a page: the newest first, then a link to the next.
		p = e.get(o.adminS, "/admin/exports?limit=1")
		if !strings.Contains(p.Body, second) || strings.Contains(p.Body, o.exportID) || !strings.Contains(p.Body, `rel="next"`) {
			t.Errorf("first page of one: want the newest export and a next link")
		}

		detail := "/admin/exports/" + o.exportID
		p = e.get(o.adminS, detail)
		if p.Status != http.StatusOK || !strings.Contains(p.Body, `id="cancel-export"`) || !strings.Contains(p.Body, "http://ward.test/fhir/$export") {
			t.Fatalf("admin export page = %d, want the export with a cancel button", p.Status)
		}

		// Refused callers: the pages and the cancel.
		for name, s := range map[string]string{"developer": o.devS, "patient": o.patS} {
			for _, path := range []string{"/admin/exports", detail} {
				if p := e.get(s, path); p.Status != http.StatusForbidden {
					t.Errorf("%s GET %s = %d, want 403", name, path, p.Status)
				}
			}
			if p := e.post(s, detail+"/cancel", url.Values{}); p.Status != http.StatusForbidden {
				t.Errorf("%s cancel = %d, want 403", name, p.Status)
			}
		}
		if p := e.get(o.adminS, detail); !strings.Contains(p.Body, "accepted") {
			t.Errorf("a refused cancel changed the export")
		}

		// A cross-site post, even an administrator's, is refused before the
		// service.
		r := httptest.NewRequest(http.MethodPost, detail+"/cancel", strings.NewReader(""))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		if p := e.do(o.adminS, r); p.Status != http.StatusForbidden {
			t.Errorf("cross-site cancel = %d, want 403", p.Status)
		}
		if p := e.get(o.adminS, detail); !strings.Contains(p.Body, `id="cancel-export"`) {
			t.Errorf("a cross-site cancel changed the export")
		}

		p = e.post(o.adminS, detail+"/cancel", url.Values{})
		if p.Status != http.StatusSeeOther || p.Location != detail+"?done=export-cancelled" {
			t.Fatalf("admin cancel = %d → %q, want 303 to the export with a notice", p.Status, p.Location)
		}
		p = e.get(o.adminS, p.Location)
		if !strings.Contains(p.Body, `id="notice"`) || !strings.Contains(p.Body, "cancelled") || strings.Contains(p.Body, `id="cancel-export"`) {
			t.Errorf("after cancel the export page lacks the notice or still offers cancel")
		}
		if p := e.post(o.adminS, detail+"/cancel", url.Values{}); p.Status != http.StatusNotFound {
			t.Errorf("second cancel = %d, want 404", p.Status)
		}
	})
}

// TestExportsBadInput: malformed ids, cursors and limits, NUL and invalid
// UTF-8 in the path or query, and an oversized form get a 4xx page.
func TestExportsBadInput(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		o := setupOps(e)
		for _, path := range []string{
			"/admin/exports/not-an-export",
			"/admin/exports/" + url.PathEscape("\x00"),
			"/admin/exports/" + url.PathEscape("\xff"),
			"/admin/exports/" + strings.Repeat("a", 5000),
			"/admin/exports?after=" + url.QueryEscape("\x00"),
			"/admin/exports?after=" + url.QueryEscape("\xff"),
			"/admin/exports?after=not-a-cursor",
			"/admin/exports?after=" + strings.Repeat("x", 5000),
			"/admin/exports?limit=" + url.QueryEscape("\x00"),
		} {
			p := e.get(o.adminS, path)
			if p.Status < 400 || p.Status >= 500 {
				t.Errorf("GET %.80q = %d, want 4xx", path, p.Status)
			}
		}
		for _, id := range []string{"nope", url.PathEscape("\x00"), url.PathEscape("\xff")} {
			if p := e.post(o.adminS, "/admin/exports/"+id+"/cancel", url.Values{}); p.Status < 400 || p.Status >= 500 {
				t.Errorf("cancel %q = %d, want 4xx", id, p.Status)
			}
		}
		big := url.Values{"x": {strings.Repeat("a", 2<<20)}}
		if p := e.post(o.adminS, "/admin/exports/"+o.exportID+"/cancel", big); p.Status < 400 || p.Status >= 500 {
			t.Errorf("cancel with a 2 MiB body = %d, want 4xx", p.Status)
		}
		if p := e.get(o.adminS, "/admin/exports/"+o.exportID); !strings.Contains(p.Body, "accepted") {
			t.Errorf("a refused cancel changed the export")
		}
	})
}
