package console_test

import (
	"context"
	"fmt"
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

// createdID reads the organization id out of the 303 a create answers.
func createdID(t *testing.T, p page) int64 {
	t.Helper()
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/admin/organizations/") {
		t.Fatalf("create = %d → %q, want 303 to the new organization", p.Status, p.Location)
	}
	rest := strings.TrimPrefix(p.Location, "/admin/organizations/")
	rest, q, _ := strings.Cut(rest, "?")
	if q != "done=org-created" {
		t.Errorf("create answers with %q, want the created notice", q)
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	if err != nil {
		t.Fatalf("create → %q: %v", p.Location, err)
	}
	return id
}

// readOrg reads an organization (and its version) through the service.
func (e *env) readOrg(id int64) *directory.Organization {
	e.t.Helper()
	o, err := e.srv.Services().Directory.GetOrganization(actor.System(context.Background()), id)
	if err != nil {
		e.t.Fatalf("get organization %d: %v", id, err)
	}
	return o
}

func vers(o *directory.Organization) string { return strconv.FormatInt(o.Version, 10) }

// TestOrganizations: an administrator browses the tree, creates top-level
// and child organizations, renames one, adds and removes an identifier
// and moves one; a move into its own subtree is a 400 naming the problem,
// a stale form a 409. A staff admin, a developer and a patient see the
// tree (organizations are public reference data in the directory) without
// the forms, and every change they post is refused with 403.
func TestOrganizations(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		e.person("admin@example.org", []string{directory.RoleAdmin})
		e.person("dev@example.org", []string{directory.RoleApplicationDeveloper})
		e.person("pat@example.org", []string{directory.RolePatient})
		admin, dev, pat := e.session("admin@example.org"), e.session("dev@example.org"), e.session("pat@example.org")

		p := e.get(admin, "/admin/organizations")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "There are no organizations yet") || !strings.Contains(p.Body, `id="create-org"`) {
			t.Fatalf("admin, empty tree = %d, want the page with the create form:\n%s", p.Status, p.Body)
		}

		health := createdID(t, e.post(admin, "/admin/organizations", url.Values{"name": {"  Health system  "}}))
		if o := e.readOrg(health); o.Name != "Health system" || o.PartOfID != 0 {
			t.Errorf("created %+v, want a trimmed top-level Health system", o)
		}
		clinic := createdID(t, e.post(admin, "/admin/organizations", url.Values{"name": {"Clinic A"}, "parent": {strconv.FormatInt(health, 10)}}))
		if o := e.readOrg(clinic); o.PartOfID != health {
			t.Errorf("child part of %d, want %d", o.PartOfID, health)
		}
		ward := createdID(t, e.post(admin, "/admin/organizations", url.Values{"name": {"Ward 3"}, "parent": {strconv.FormatInt(clinic, 10)}}))
		other := createdID(t, e.post(admin, "/admin/organizations", url.Values{"name": {"Other system"}}))

		// The tree nests Ward 3 in Clinic A in Health system.
		p = e.get(admin, "/admin/organizations")
		nested := fmt.Sprintf(`href="/admin/organizations/%d">Health system</a> <span class="hint">#%d · 2 below</span>`, health, health)
		if p.Status != http.StatusOK || !strings.Contains(p.Body, nested) || !strings.Contains(p.Body, "4 organizations, 2 at the top level") {
			t.Errorf("tree = %d, want Health system with 2 below and the counts:\n%s", p.Status, p.Body)
		}
		if i, j := strings.Index(p.Body, ">Clinic A<"), strings.Index(p.Body, ">Ward 3<"); i < 0 || j < i {
			t.Errorf("tree does not draw Ward 3 below Clinic A")
		}

		// The organization's page: notice, parent, children, people link.
		p = e.get(admin, fmt.Sprintf("/admin/organizations/%d?done=org-created", clinic))
		for _, want := range []string{"Organization created.", fmt.Sprintf(`href="/admin/organizations/%d">Health system</a> (#%d)`, health, health),
			fmt.Sprintf(`href="/admin/organizations/%d">Ward 3</a>`, ward), fmt.Sprintf(`href="/admin/people?organization=%d"`, clinic),
			"0 people in Clinic A", `id="create-child"`, `id="move-org"`, `id="rename-org"`, `id="add-identifier"`} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("clinic page (%d) lacks %s", p.Status, want)
			}
		}

		// Rename, with the version the form carries; the old version again
		// is a clash.
		v := vers(e.readOrg(clinic))
		p = e.post(admin, fmt.Sprintf("/admin/organizations/%d/name", clinic), url.Values{"name": {"Clinic Alpha"}, "version": {v}})
		if p.Status != http.StatusSeeOther || p.Location != fmt.Sprintf("/admin/organizations/%d?done=org-renamed", clinic) || e.readOrg(clinic).Name != "Clinic Alpha" {
			t.Errorf("rename = %d → %q (name %q)", p.Status, p.Location, e.readOrg(clinic).Name)
		}
		p = e.post(admin, fmt.Sprintf("/admin/organizations/%d/name", clinic), url.Values{"name": {"Clinic Beta"}, "version": {v}})
		if p.Status != http.StatusConflict || !strings.Contains(p.Body, "changed by someone else") {
			t.Errorf("rename with a stale version = %d, want 409 saying so", p.Status)
		}

		// Identifiers: add, shown, remove.
		p = e.post(admin, fmt.Sprintf("/admin/organizations/%d/identifiers", clinic),
			url.Values{"system": {"http://example.org/site"}, "value": {"A-1"}, "version": {vers(e.readOrg(clinic))}})
		if p.Status != http.StatusSeeOther || len(e.readOrg(clinic).Identifiers) != 1 {
			t.Errorf("add identifier = %d, identifiers %v", p.Status, e.readOrg(clinic).Identifiers)
		}
		if p := e.get(admin, fmt.Sprintf("/admin/organizations/%d", clinic)); !strings.Contains(p.Body, "<td>http://example.org/site</td><td>A-1</td>") {
			t.Errorf("the identifier is not listed")
		}
		p = e.post(admin, fmt.Sprintf("/admin/organizations/%d/identifiers", clinic),
			url.Values{"system": {""}, "value": {"A-2"}, "version": {vers(e.readOrg(clinic))}})
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "identifier system is required") {
			t.Errorf("identifier without a system = %d", p.Status)
		}
		p = e.post(admin, fmt.Sprintf("/admin/organizations/%d/identifiers/delete", clinic),
			url.Values{"system": {"http://example.org/site"}, "value": {"A-1"}, "version": {vers(e.readOrg(clinic))}})
		if p.Status != http.StatusSeeOther || len(e.readOrg(clinic).Identifiers) != 0 {
			t.Errorf("remove identifier = %d, identifiers %v", p.Status, e.readOrg(clinic).Identifiers)
		}

		// Moves: into its own subtree and under itself are refused with a
		// clear 400; under a missing organization too; a good move works,
		// and so does the shortcut alias and back to the top level.
		for _, bad := range []struct {
			id     int64
			parent string
			want   string
		}{
			{health, strconv.FormatInt(ward, 10), "is at or below"},
			{health, strconv.FormatInt(health, 10), "cannot be part of itself"},
			{clinic, "999999", "there is no organization"},
			{clinic, "no-such-alias", "there is no organization"},
		} {
			p = e.post(admin, fmt.Sprintf("/admin/organizations/%d/move", bad.id), url.Values{"parent": {bad.parent}, "version": {vers(e.readOrg(bad.id))}})
			if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, bad.want) {
				t.Errorf("move %d under %s = %d, want 400 saying %q:\n%s", bad.id, bad.parent, p.Status, bad.want, p.Body)
			}
		}
		if e.readOrg(health).PartOfID != 0 {
			t.Fatalf("a refused move changed the tree")
		}
		p = e.post(admin, fmt.Sprintf("/admin/organizations/%d/move", clinic), url.Values{"parent": {strconv.FormatInt(other, 10)}, "version": {vers(e.readOrg(clinic))}})
		if p.Status != http.StatusSeeOther || p.Location != fmt.Sprintf("/admin/organizations/%d?done=org-moved", clinic) || e.readOrg(clinic).PartOfID != other {
			t.Errorf("move = %d → %q, parent %d, want %d", p.Status, p.Location, e.readOrg(clinic).PartOfID, other)
		}
		if p := e.get(admin, fmt.Sprintf("/admin/organizations/%d", ward)); !strings.Contains(p.Body, fmt.Sprintf(`href="/admin/organizations/%d">Other system</a> › <a href="/admin/organizations/%d">Clinic Alpha</a> › <span aria-current="page">Ward 3`, other, clinic)) {
			t.Errorf("Ward 3's breadcrumb does not follow the move:\n%s", p.Body)
		}
		p = e.post(admin, fmt.Sprintf("/admin/organizations/%d/move", clinic), url.Values{"parent": {""}, "version": {vers(e.readOrg(clinic))}})
		if p.Status != http.StatusSeeOther || e.readOrg(clinic).PartOfID != 0 {
			t.Errorf("move to the top level = %d, parent %d", p.Status, e.readOrg(clinic).PartOfID)
		}

		// Unknown organizations are the console's 404.
		for _, path := range []string{"/admin/organizations/999999", "/admin/organizations/abc", "/admin/organizations/0"} {
			if p := e.get(admin, path); p.Status != http.StatusNotFound || !strings.Contains(p.Body, "Not found") {
				t.Errorf("%s = %d, want 404", path, p.Status)
			}
		}
		if p := e.post(admin, "/admin/organizations/999999/name", url.Values{"name": {"x"}, "version": {"1"}}); p.Status != http.StatusNotFound {
			t.Errorf("rename a missing organization = %d, want 404", p.Status)
		}

		// Others: the tree and pages without forms; every change refused.
		sa := e.person("sa@example.org", []string{directory.RoleStaffAdmin}, health)
		_ = sa
		staffAdmin := e.session("sa@example.org")
		before := e.readOrg(health)
		for who, tok := range map[string]string{"staff admin": staffAdmin, "developer": dev, "patient": pat} {
			p := e.get(tok, "/admin/organizations")
			if p.Status != http.StatusOK || !strings.Contains(p.Body, ">Health system<") || strings.Contains(p.Body, `id="create-org"`) {
				t.Errorf("%s tree = %d, want the tree without the create form", who, p.Status)
			}
			p = e.get(tok, fmt.Sprintf("/admin/organizations/%d", health))
			if p.Status != http.StatusOK || strings.Contains(p.Body, "<form method=\"post\" action=\"/admin/organizations") || strings.Contains(p.Body, "people in") {
				t.Errorf("%s organization page = %d, want it without forms or a people count", who, p.Status)
			}
			for path, form := range map[string]url.Values{
				"/admin/organizations": {"name": {"Mine"}},
				fmt.Sprintf("/admin/organizations/%d", health) + "/name":               {"name": {"Mine"}, "version": {vers(before)}},
				fmt.Sprintf("/admin/organizations/%d", health) + "/identifiers":        {"system": {"s"}, "value": {"v"}, "version": {vers(before)}},
				fmt.Sprintf("/admin/organizations/%d", health) + "/identifiers/delete": {"system": {"s"}, "value": {"v"}, "version": {vers(before)}},
				fmt.Sprintf("/admin/organizations/%d", health) + "/move":               {"parent": {strconv.FormatInt(other, 10)}, "version": {vers(before)}},
			} {
				if p := e.post(tok, path, form); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "Not allowed") {
					t.Errorf("%s POST %s = %d, want 403", who, path, p.Status)
				}
			}
		}
		if after := e.readOrg(health); after.Version != before.Version || after.Name != before.Name {
			t.Errorf("refused posts changed Health system: %+v", after)
		}
		if n, err := e.srv.Services().Directory.CountOrganizations(context.Background()); err != nil || n != 4 {
			t.Errorf("organizations after refused creates: %d, %v; want 4", n, err)
		}

		// A cross-origin post, even an administrator's, is refused.
		r := httptest.NewRequest(http.MethodPost, "/admin/organizations", strings.NewReader(url.Values{"name": {"Forged"}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		if p := e.do(admin, r); p.Status != http.StatusForbidden {
			t.Errorf("cross-site create = %d, want 403", p.Status)
		}

		// Anonymous: to sign in.
		if p := e.get("", "/admin/organizations"); p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/login?next=") {
			t.Errorf("anonymous tree = %d → %q", p.Status, p.Location)
		}
	})
}

// TestOrganizationTreePages: the top level pages 25 at a time, and a
// chain deeper than the page draws is cut with a count and a link.
func TestOrganizationTreePages(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		e.person("admin@example.org", []string{directory.RoleAdmin})
		admin := e.session("admin@example.org")
		ctx := actor.System(context.Background())
		dir := e.srv.Services().Directory
		var first int64
		for i := range 30 {
			o, err := dir.CreateOrganization(ctx, &directory.Organization{Name: fmt.Sprintf("Top %02d", i)})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if i == 0 {
				first = o.ID
			}
		}
		// A chain of 9 below Top 00: 6 levels drawn, 3 cut.
		parent := first
		var chain []int64
		for i := range 9 {
			o, err := dir.CreateOrganization(ctx, &directory.Organization{Name: fmt.Sprintf("Level %d", i+1), PartOfID: parent})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			parent = o.ID
			chain = append(chain, o.ID)
		}
		p := e.get(admin, "/admin/organizations")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, ">Top 24<") || strings.Contains(p.Body, ">Top 25<") {
			t.Fatalf("first page = %d, want Top 00 to Top 24", p.Status)
		}
		if !strings.Contains(p.Body, ">Level 6<") || strings.Contains(p.Body, ">Level 7<") ||
			!strings.Contains(p.Body, fmt.Sprintf(`3 more below not drawn here: <a href="/admin/organizations/%d">open Level 6</a>`, chain[5])) {
			t.Errorf("the chain is not cut after 6 levels with a count:\n%s", p.Body)
		}
		next := fmt.Sprintf(`href="/admin/organizations?after=%d"`, first+24)
		if !strings.Contains(p.Body, next) {
			t.Fatalf("first page lacks the next link %s", next)
		}
		p = e.get(admin, fmt.Sprintf("/admin/organizations?after=%d", first+24))
		if p.Status != http.StatusOK || !strings.Contains(p.Body, ">Top 25<") || !strings.Contains(p.Body, ">Top 29<") ||
			strings.Contains(p.Body, ">Top 24<") || strings.Contains(p.Body, `rel="next"`) || !strings.Contains(p.Body, `rel="first"`) {
			t.Errorf("second page = %d, want Top 25 to Top 29, a first link and no next", p.Status)
		}
		// Level 6's own page lists its child and pages it.
		p = e.get(admin, fmt.Sprintf("/admin/organizations/%d", chain[5]))
		if !strings.Contains(p.Body, fmt.Sprintf(`href="/admin/organizations/%d">Level 7</a>`, chain[6])) || !strings.Contains(p.Body, "3 organizations</dd>") {
			t.Errorf("Level 6's page does not list Level 7 and 3 below")
		}
		for _, q := range []string{"after=abc", "after=-5"} {
			if p := e.get(admin, "/admin/organizations?"+q); p.Status != http.StatusBadRequest {
				t.Errorf("?%s = %d, want 400", q, p.Status)
			}
		}
	})
}

// TestOrganizationsBadInput: NUL bytes, invalid UTF-8, over-long text and
// a body over 1 MiB are 4xx pages, never a 500 or a change.
func TestOrganizationsBadInput(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		e.person("admin@example.org", []string{directory.RoleAdmin})
		admin := e.session("admin@example.org")
		id := createdID(t, e.post(admin, "/admin/organizations", url.Values{"name": {"Clinic"}}))
		v := vers(e.readOrg(id))
		huge := strings.Repeat("x", 2<<20)
		cases := []struct {
			path string
			form url.Values
		}{
			{"/admin/organizations", url.Values{"name": {"a\x00b"}}},
			{"/admin/organizations", url.Values{"name": {"a\xffb"}}},
			{"/admin/organizations", url.Values{"name": {strings.Repeat("n", 300)}}},
			{"/admin/organizations", url.Values{"name": {""}}},
			{"/admin/organizations", url.Values{"name": {"x"}, "parent": {"\x00"}}},
			{"/admin/organizations", url.Values{"name": {"x"}, "parent": {strings.Repeat("p", 300)}}},
			{"/admin/organizations", url.Values{"name": {huge}}},
			{fmt.Sprintf("/admin/organizations/%d/name", id), url.Values{"name": {"\xff"}, "version": {v}}},
			{fmt.Sprintf("/admin/organizations/%d/name", id), url.Values{"name": {"x"}, "version": {"\x00"}}},
			{fmt.Sprintf("/admin/organizations/%d/name", id), url.Values{"name": {"x"}, "version": {"nine"}}},
			{fmt.Sprintf("/admin/organizations/%d/identifiers", id), url.Values{"system": {"s"}, "value": {strings.Repeat("v", 300)}, "version": {v}}},
			{fmt.Sprintf("/admin/organizations/%d/identifiers", id), url.Values{"system": {"s\x00"}, "value": {"v"}, "version": {v}}},
			{fmt.Sprintf("/admin/organizations/%d/move", id), url.Values{"parent": {"\xff"}, "version": {v}}},
			{fmt.Sprintf("/admin/organizations/%d/move", id), url.Values{"parent": {huge}, "version": {v}}},
		}
		for _, c := range cases {
			p := e.post(admin, c.path, c.form)
			if p.Status < 400 || p.Status >= 500 {
				t.Errorf("POST %s %.60q = %d, want 4xx", c.path, c.form.Encode(), p.Status)
			}
		}
		for _, q := range []string{"/admin/organizations?after=%00", "/admin/organizations?after=%ff", "/admin/organizations/%00", fmt.Sprintf("/admin/organizations/%d?after=%%ff", id)} {
			if p := e.get(admin, q); p.Status < 400 || p.Status >= 500 {
				t.Errorf("GET %s = %d, want 4xx", q, p.Status)
			}
		}
		if o := e.readOrg(id); o.Name != "Clinic" || len(o.Identifiers) != 0 || o.PartOfID != 0 {
			t.Errorf("bad input changed the organization: %+v", o)
		}
		if n, _ := e.srv.Services().Directory.CountOrganizations(context.Background()); n != 1 {
			t.Errorf("bad input created organizations: %d", n)
		}
	})
}
