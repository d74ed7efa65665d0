package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"ward/internal/testutil"
)

// TestConnectors: an administrator sees each connector's status with the
// link to connect it, and its own page; a developer and a patient are
// refused both; an unknown connector is 404 and a malformed name 4xx.
func TestConnectors(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		o := setupOps(e)

		p := e.get(o.adminS, "/admin/connectors")
		if p.Status != http.StatusOK {
			t.Fatalf("admin connectors = %d", p.Status)
		}
		for _, want := range []string{`id="connectors-heading"`, `href="/admin/connectors/campdoc"`,
			`href="/admin/connectors/campdoc/connect"`, "Connect campdoc", "unprimed"} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("connectors list lacks %q", want)
			}
		}
		p = e.get(o.adminS, "/admin/connectors/campdoc")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, `id="connect"`) ||
			!strings.Contains(p.Body, "https://mis.example.org/api/v2") || strings.Contains(p.Body, "connector secret 77") {
			t.Errorf("admin connector page = %d, want its status and connect link and no secret", p.Status)
		}
		for name, s := range map[string]string{"developer": o.devS, "patient": o.patS} {
			for _, path := range []string{"/admin/connectors", "/admin/connectors/campdoc"} {
				if p := e.get(s, path); p.Status != http.StatusForbidden {
					t.Errorf("%s GET %s = %d, want 403", name, path, p.Status)
				}
			}
		}
		if p := e.get(o.adminS, "/admin/connectors/nosuch"); p.Status != http.StatusNotFound {
			t.Errorf("unknown connector = %d, want 404", p.Status)
		}
		for _, name := range []string{"Bad Name", "\x00", "\xff", strings.Repeat("a", 5000)} {
			if p := e.get(o.adminS, "/admin/connectors/"+url.PathEscape(name)); p.Status < 400 || p.Status >= 500 {
				t.Errorf("connector %.40q = %d, want 4xx", name, p.Status)
			}
		}
	})
}
