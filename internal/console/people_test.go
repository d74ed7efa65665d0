package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"ward/internal/actor"
	"ward/internal/directory"
	"ward/internal/intervention"
	"ward/internal/store"
	"ward/internal/testutil"
	"ward/internal/testutil/browser"
)

// peopleWorld is two clinics, A and B, with a staff member in each, a staff
// admin of A, an admin, a developer and a patient, each with a session.
type peopleWorld struct {
	*env
	orgA, orgB                  int64
	staffA, staffB              *directory.User
	admin, staffAdmin, dev, pat string
}

func newPeopleWorld(t *testing.T, dbURL string) *peopleWorld {
	t.Helper()
	e := newEnv(t, dbURL)
	w := &peopleWorld{env: e}
	w.orgA = e.org("Clinic Alpha")
	w.orgB = e.org("Clinic Beta")
	e.person("admin@example.org", []string{directory.RoleAdmin})
	e.person("sa@example.org", []string{directory.RoleStaffAdmin}, w.orgA)
	e.person("dev@example.org", []string{directory.RoleApplicationDeveloper})
	e.person("pat@example.org", []string{directory.RolePatient})
	w.staffA = e.person("anna.alpha@example.org", []string{directory.RoleStaff}, w.orgA)
	w.staffB = e.person("bert.beta@example.org", []string{directory.RoleStaff}, w.orgB)
	w.admin, w.staffAdmin = e.session("admin@example.org"), e.session("sa@example.org")
	w.dev, w.pat = e.session("dev@example.org"), e.session("pat@example.org")
	return w
}

// org creates an organization as ward itself.
func (e *env) org(name string) int64 {
	e.t.Helper()
	o, err := e.srv.Services().Directory.CreateOrganization(actor.System(context.Background()), &directory.Organization{Name: name})
	if err != nil {
		e.t.Fatalf("create organization %s: %v", name, err)
	}
	return o.ID
}

// user reads a user as ward itself.
func (e *env) user(id int64) *directory.User {
	e.t.Helper()
	u, _, err := e.srv.Services().Directory.SearchUsers(actor.System(context.Background()),
		directory.UserFilter{IDs: []int64{id}, IncludeDeleted: true}, store.Page{Limit: 1})
	if err != nil || len(u) != 1 {
		e.t.Fatalf("read user %d: %v (%d found)", id, err, len(u))
	}
	return u[0]
}

// roles reads a user's roles as ward itself.
func (e *env) roles(id int64) []string {
	e.t.Helper()
	r, err := e.srv.Services().Directory.UserRoles(actor.System(context.Background()), id)
	if err != nil {
		e.t.Fatalf("roles of %d: %v", id, err)
	}
	return r
}

func personPath(id int64, rest string) string {
	return "/admin/people/" + strconv.FormatInt(id, 10) + rest
}

// TestPeopleSearch: admins see everyone, a staff admin only the people of
// their organizations, and a developer or patient is refused; the filters
// and the pager work.
func TestPeopleSearch(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		w := newPeopleWorld(t, dbURL)
		p := w.get(w.admin, "/admin/people")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "anna.alpha@example.org") || !strings.Contains(p.Body, "bert.beta@example.org") {
			t.Fatalf("admin /admin/people = %d, want both clinics' staff listed", p.Status)
		}
		p = w.get(w.staffAdmin, "/admin/people")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "anna.alpha@example.org") {
			t.Fatalf("staff admin /admin/people = %d, want their clinic's staff", p.Status)
		}
		if strings.Contains(p.Body, "bert.beta@example.org") {
			t.Error("a staff admin of clinic A sees a person of clinic B")
		}
		// Searching for B's person by name finds nothing for A's staff admin.
		if p = w.get(w.staffAdmin, "/admin/people?name=bert"); p.Status != http.StatusOK || strings.Contains(p.Body, "bert.beta@example.org") {
			t.Errorf("staff admin's search for bert = %d (found: %v)", p.Status, strings.Contains(p.Body, "bert.beta@example.org"))
		}
		for _, tok := range []string{w.dev, w.pat} {
			if p := w.get(tok, "/admin/people"); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "Not allowed") {
				t.Errorf("developer/patient /admin/people = %d, want the 403 page", p.Status)
			}
		}
		if p := w.get("", "/admin/people"); p.Status != http.StatusSeeOther {
			t.Errorf("anonymous /admin/people = %d, want 303 to sign in", p.Status)
		}

		// Filters, each as the API applies it.
		if _, err := w.srv.Services().Directory.AddUserIdentifier(actor.System(context.Background()), w.staffB.ID,
			directory.Identifier{System: "http://example.org/mrn", Value: "B-42"}); err != nil {
			t.Fatalf("add identifier: %v", err)
		}
		for q, want := range map[string]string{
			"name=anna":                          "anna.alpha@example.org",
			"email=BERT.BETA@example.org":        "bert.beta@example.org",
			"organization=" + fmt.Sprint(w.orgB): "bert.beta@example.org",
			"identifier=" + url.QueryEscape("http://example.org/mrn|B-42"): "bert.beta@example.org",
			"role=staff_admin": "sa@example.org",
		} {
			p := w.get(w.admin, "/admin/people?"+q)
			if p.Status != http.StatusOK || !strings.Contains(p.Body, want) {
				t.Errorf("search %s = %d, want %s", q, p.Status, want)
			}
			for _, other := range []string{"anna.alpha@example.org", "bert.beta@example.org", "sa@example.org"} {
				if other != want && strings.Contains(p.Body, other) {
					t.Errorf("search %s also lists %s", q, other)
				}
			}
		}
		for _, q := range []string{"role=wizard", "identifier=nopipe", "organization=no-such-org", "organization=999999"} {
			if p := w.get(w.admin, "/admin/people?"+q); p.Status != http.StatusBadRequest {
				t.Errorf("search %s = %d, want 400", q, p.Status)
			}
		}

		// Paging: one a page, the next page continues, the pager keeps the filter.
		p = w.get(w.admin, "/admin/people?role=staff&limit=1")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "anna.alpha@example.org") || !strings.Contains(p.Body, `rel="next"`) {
			t.Fatalf("first page = %d, want anna and a next link", p.Status)
		}
		i := strings.Index(p.Body, `href="/admin/people?after=`)
		if i < 0 {
			t.Fatal("no next-page link")
		}
		next := p.Body[i+len(`href="`):]
		next = strings.ReplaceAll(next[:strings.IndexByte(next, '"')], "&amp;", "&")
		if !strings.Contains(next, "role=staff") {
			t.Errorf("next link %q drops the filter", next)
		}
		// Deactivated people: admins may include them, nobody else.
		if err := w.srv.Services().Directory.DeleteUser(actor.System(context.Background()), w.staffB.ID); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if p := w.get(w.admin, "/admin/people?email=bert.beta@example.org"); !strings.Contains(p.Body, `id="no-people"`) {
			t.Error("a deactivated person is listed without asking")
		}
		if p := w.get(w.admin, "/admin/people?email=bert.beta@example.org&deactivated=1"); p.Status != http.StatusOK ||
			!strings.Contains(p.Body, "bert.beta@example.org") || !strings.Contains(p.Body, "Deactivated") {
			t.Errorf("admin's search including the deactivated = %d, want bert marked Deactivated", p.Status)
		}
		if p := w.get(w.staffAdmin, "/admin/people?deactivated=1"); p.Status != http.StatusForbidden {
			t.Errorf("staff admin including the deactivated = %d, want 403", p.Status)
		}

	})
}

// TestPeopleCreate: the form, a create within the caller's rights (303 to
// the person's page), and refusals of more than they hold shown inline.
func TestPeopleCreate(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		w := newPeopleWorld(t, dbURL)
		if p := w.get(w.admin, "/admin/people/new"); p.Status != http.StatusOK || !strings.Contains(p.Body, `<label for="email">`) ||
			!strings.Contains(p.Body, "Clinic Alpha") {
			t.Fatalf("admin new-person form = %d, want the form with the organizations", p.Status)
		}
		for _, tok := range []string{w.dev, w.pat} {
			if p := w.get(tok, "/admin/people/new"); p.Status != http.StatusForbidden {
				t.Errorf("developer/patient new-person form = %d, want 403", p.Status)
			}
		}
		form := func(email, org string, roles ...string) url.Values {
			return url.Values{"email": {email}, "given_name": {"Cleo"}, "family_name": {"Carter"}, "birthdate": {"1980-02-03"},
				"gender": {"female"}, "password": {"a long enough passphrase"}, "organization": {org}, "role": roles}
		}

		p := w.post(w.admin, "/admin/people", form("cleo@example.org", fmt.Sprint(w.orgB), directory.RoleStaffAdmin))
		if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/admin/people/") || !strings.HasSuffix(p.Location, "?done=person-created") {
			t.Fatalf("admin create = %d → %q, want 303 to the person's page", p.Status, p.Location)
		}
		id, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(p.Location, "/admin/people/"), "?done=person-created"), 10, 64)
		if err != nil {
			t.Fatalf("location %q: %v", p.Location, err)
		}
		if u := w.user(id); u.Email != "cleo@example.org" || u.BirthDate != "1980-02-03" || u.Gender != "female" {
			t.Errorf("created %+v", u)
		}
		if r := w.roles(id); !slices.Equal(r, []string{directory.RoleStaffAdmin}) {
			t.Errorf("created with roles %v", r)
		}
		if p := w.get(w.admin, p.Location); p.Status != http.StatusOK || !strings.Contains(p.Body, "The person was created.") || !strings.Contains(p.Body, "Clinic Beta") {
			t.Errorf("person page after create = %d, want the notice and the organization", p.Status)
		}
		// A staff admin creates staff in their own clinic …
		if p := w.post(w.staffAdmin, "/admin/people", form("dora@example.org", fmt.Sprint(w.orgA), directory.RoleStaff)); p.Status != http.StatusSeeOther {
			t.Errorf("staff admin creates staff in clinic A = %d, want 303", p.Status)
		}
		// … but not an admin, nor anyone in another clinic: the refusal is
		// shown with the form, and nobody is created.
		for name, f := range map[string]url.Values{
			"an admin":          form("eve@example.org", fmt.Sprint(w.orgA), directory.RoleAdmin),
			"a staff admin":     form("eve@example.org", fmt.Sprint(w.orgA), directory.RoleStaffAdmin),
			"in another clinic": form("eve@example.org", fmt.Sprint(w.orgB), directory.RoleStaff),
		} {
			p := w.post(w.staffAdmin, "/admin/people", f)
			if p.Status != http.StatusForbidden || !strings.Contains(p.Body, `id="form-error"`) || !strings.Contains(p.Body, `value="eve@example.org"`) {
				t.Errorf("staff admin creates %s = %d, want 403 with the form and its error", name, p.Status)
			}
		}
		if u, _, _ := w.srv.Services().Directory.SearchUsers(actor.System(context.Background()),
			directory.UserFilter{Email: "eve@example.org"}, store.Page{}); len(u) != 0 {
			t.Error("a refused create left a person behind")
		}
		for _, tok := range []string{w.dev, w.pat} {
			if p := w.post(tok, "/admin/people", form("fay@example.org", "")); p.Status != http.StatusForbidden {
				t.Errorf("developer/patient create = %d, want 403", p.Status)
			}
		}
		// Mistakes the caller can fix come back with the form.
		for name, c := range map[string]struct {
			f    url.Values
			want int
		}{
			"a taken email":           {form("cleo@example.org", ""), http.StatusConflict},
			"a weak password":         {func() url.Values { f := form("gus@example.org", ""); f.Set("password", "short"); return f }(), http.StatusBadRequest},
			"a bad email":             {form("not an email", ""), http.StatusBadRequest},
			"an unknown role":         {form("gus@example.org", "", "wizard"), http.StatusBadRequest},
			"an unknown organization": {form("gus@example.org", "999999"), http.StatusBadRequest},
			"a future birth":          {func() url.Values { f := form("gus@example.org", ""); f.Set("birthdate", "2999-01-01"); return f }(), http.StatusBadRequest},
		} {
			if p := w.post(w.admin, "/admin/people", c.f); p.Status != c.want || !strings.Contains(p.Body, `id="form-error"`) {
				t.Errorf("create with %s = %d, want %d with the error on the form", name, p.Status, c.want)
			}
		}
		// Cross-origin posts are refused before anything happens.
		r := form("hal@example.org", "")
		req := newFormRequest("/admin/people", r)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if p := w.do(w.admin, req); p.Status != http.StatusForbidden {
			t.Errorf("cross-site create = %d, want 403", p.Status)
		}
	})
}

// TestPersonPage: who may open a person's page, and what it shows.
func TestPersonPage(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		w := newPeopleWorld(t, dbURL)
		ctx := actor.System(context.Background())
		dir := w.srv.Services().Directory
		if _, err := dir.AddUserIdentifier(ctx, w.staffA.ID, directory.Identifier{System: "http://example.org/mrn", Value: "A-7"}); err != nil {
			t.Fatal(err)
		}
		if _, err := dir.AddConsent(ctx, &directory.Consent{UserID: w.staffA.ID, OrganizationID: w.orgA, AgreementURL: "https://example.org/c"}); err != nil {
			t.Fatal(err)
		}
		if _, err := dir.SetRelationships(ctx, w.staffA.ID, []directory.UserRelationship{{Relationship: directory.RelSponsor, OtherUserID: w.staffB.ID}}); err != nil {
			t.Fatal(err)
		}
		ivs := w.srv.Services().Interventions
		if _, err := ivs.Create(ctx, intervention.Intervention{Name: "care_plan", LinkURL: "https://cp.example.org/"}); err != nil {
			t.Fatal(err)
		}
		if _, err := ivs.AddRule(ctx, "care_plan", []byte(`{"name":"alpha only","function_details":{"function":"limit_by_clinic_list",`+
			`"kwargs":[{"name":"org_list","value":["Clinic Alpha"]}]}}`)); err != nil {
			t.Fatal(err)
		}
		p := w.get(w.admin, personPath(w.staffA.ID, ""))
		if p.Status != http.StatusOK {
			t.Fatalf("admin person page = %d", p.Status)
		}
		for _, want := range []string{"care_plan", "alpha only", "limit_by_clinic_list", `id="person-interventions"`, "anna.alpha@example.org", `id="person-roles"`, "Clinic Alpha", "A-7", `id="person-consents"`,
			"sponsor", `id="cards-heading"`, `id="person-audit"`, "user.created", `href="/admin/audit?user=` + fmt.Sprint(w.staffA.ID) + `"`,
			`id="person-lock"`, "Not locked", `id="deactivate"`} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("admin's person page lacks %s", want)
			}
		}
		if p := w.get(w.staffAdmin, personPath(w.staffA.ID, "")); p.Status != http.StatusOK || !strings.Contains(p.Body, "anna.alpha@example.org") {
			t.Errorf("staff admin of A opens A's staff = %d, want 200", p.Status)
		}
		if p := w.get(w.staffAdmin, personPath(w.staffB.ID, "")); p.Status != http.StatusForbidden || strings.Contains(p.Body, "bert.beta@example.org") {
			t.Errorf("staff admin of A opens B's staff = %d, want 403 without their details", p.Status)
		}
		for _, tok := range []string{w.dev, w.pat} {
			if p := w.get(tok, personPath(w.staffA.ID, "")); p.Status != http.StatusForbidden {
				t.Errorf("developer/patient person page = %d, want 403", p.Status)
			}
		}
		if p := w.get(w.admin, "/admin/people/999999"); p.Status != http.StatusNotFound {
			t.Errorf("unknown person = %d, want 404", p.Status)
		}
		if p := w.get(w.admin, "/admin/people/abc"); p.Status != http.StatusNotFound {
			t.Errorf("non-numeric person = %d, want 404", p.Status)
		}
		// The audit pages with the pager.
		p = w.get(w.admin, personPath(w.staffA.ID, "?limit=1"))
		if p.Status != http.StatusOK || !strings.Contains(p.Body, `rel="next"`) {
			t.Errorf("person page with one event a page = %d, want a next link", p.Status)
		}
	})
}

// TestPersonActions: each action on a person's page, by a caller allowed
// to do it and by one who is not, and nobody grants more than they hold.
func TestPersonActions(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		w := newPeopleWorld(t, dbURL)
		a, b := w.staffA.ID, w.staffB.ID
		sess := w.srv.Services().Sessions
		post := func(tok string, id int64, action string, form url.Values) page {
			t.Helper()
			return w.post(tok, personPath(id, "/"+action), form)
		}
		wantDone := func(what string, p page, id int64, notice string) {
			t.Helper()
			if p.Status != http.StatusSeeOther || p.Location != personPath(id, "?done="+notice) {
				t.Errorf("%s = %d → %q, want 303 to the person with %s", what, p.Status, p.Location, notice)
			}
		}
		wantRefused := func(what string, p page) {
			t.Helper()
			if p.Status != http.StatusForbidden && p.Status != http.StatusNotFound {
				t.Errorf("%s = %d, want 403 or 404", what, p.Status)
			}
		}
		role := func(r string) url.Values { return url.Values{"role": {r}} }

		// Unlock: a staff admin over their own clinic; not over another.
		for range 5 {
			_, _, _ = sess.Login(context.Background(), "anna.alpha@example.org", "wrong")
			_, _, _ = sess.Login(context.Background(), "bert.beta@example.org", "wrong")
		}
		if p := w.get(w.staffAdmin, personPath(a, "")); !strings.Contains(p.Body, "Locked until") || !strings.Contains(p.Body, `id="unlock"`) {
			t.Error("a locked person's page does not say so to their staff admin")
		}
		if p := w.get(w.admin, "/admin/people?email=anna.alpha@example.org"); !strings.Contains(p.Body, "Locked until") {
			t.Error("the search does not mark a locked person")
		}
		wantRefused("staff admin of A unlocks B", post(w.staffAdmin, b, "unlock", nil))
		wantRefused("developer unlocks A", post(w.dev, a, "unlock", nil))
		wantDone("staff admin of A unlocks A", post(w.staffAdmin, a, "unlock", nil), a, "person-unlocked")
		if _, _, err := sess.Login(context.Background(), "anna.alpha@example.org", testPassword); err != nil {
			t.Errorf("sign in after unlock: %v", err)
		}
		wantDone("admin unlocks B", post(w.admin, b, "unlock", nil), b, "person-unlocked")

		// Deactivate and reactivate.
		wantRefused("staff admin of A deactivates B", post(w.staffAdmin, b, "deactivate", nil))
		wantRefused("patient deactivates A", post(w.pat, a, "deactivate", nil))
		wantDone("staff admin deactivates A", post(w.staffAdmin, a, "deactivate", nil), a, "person-deactivated")
		if w.user(a).Active() {
			t.Fatal("A is still active")
		}
		if p := w.get(w.admin, personPath(a, "")); p.Status != http.StatusOK || !strings.Contains(p.Body, `id="reactivate"`) ||
			!strings.Contains(p.Body, "Deactivated") {
			t.Errorf("admin opens a deactivated person = %d, want their page with Reactivate", p.Status)
		}
		if p := post(w.staffAdmin, a, "deactivate", nil); p.Status != http.StatusConflict && p.Status != http.StatusForbidden {
			t.Errorf("deactivating twice = %d, want 409 (or 403: a deactivated person is hidden from a staff admin)", p.Status)
		}
		wantRefused("developer reactivates A", post(w.dev, a, "reactivate", nil))
		wantDone("staff admin reactivates A", post(w.staffAdmin, a, "reactivate", nil), a, "person-reactivated")
		if !w.user(a).Active() {
			t.Fatal("A is still deactivated")
		}
		if p := post(w.admin, a, "reactivate", nil); p.Status != http.StatusConflict || !strings.Contains(p.Body, `id="action-error"`) {
			t.Errorf("reactivating an active person = %d, want 409 with the page", p.Status)
		}

		// Reset password: admins only; a bad one is shown with the form.
		pw := url.Values{"password": {"another long passphrase"}}
		if p := post(w.staffAdmin, a, "password", pw); p.Status != http.StatusForbidden || !strings.Contains(p.Body, `id="password-error"`) {
			t.Errorf("staff admin sets A's password = %d, want 403 beside the form", p.Status)
		}
		if p := post(w.admin, a, "password", url.Values{"password": {"short"}}); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `id="password-error"`) {
			t.Errorf("admin sets a weak password = %d, want 400 beside the form", p.Status)
		}
		wantDone("admin sets A's password", post(w.admin, a, "password", pw), a, "person-password")
		if _, _, err := sess.Login(context.Background(), "anna.alpha@example.org", "another long passphrase"); err != nil {
			t.Errorf("sign in with the new password: %v", err)
		}

		// Roles: a staff admin grants clinician, not admin, staff_admin or
		// developer, and removes only what they could grant.
		for _, r := range []string{directory.RoleAdmin, directory.RoleStaffAdmin, directory.RoleApplicationDeveloper, directory.RoleService} {
			if p := post(w.staffAdmin, a, "roles", role(r)); p.Status != http.StatusForbidden || !strings.Contains(p.Body, `id="roles-error"`) {
				t.Errorf("staff admin grants %s = %d, want 403 beside the form", r, p.Status)
			}
		}
		if r := w.roles(a); !slices.Equal(r, []string{directory.RoleStaff}) {
			t.Fatalf("after refused grants A has %v", r)
		}
		wantRefused("staff admin of A grants B clinician", post(w.staffAdmin, b, "roles", role(directory.RoleClinician)))
		wantRefused("developer grants A clinician", post(w.dev, a, "roles", role(directory.RoleClinician)))
		wantDone("staff admin grants A clinician", post(w.staffAdmin, a, "roles", role(directory.RoleClinician)), a, "person-role-added")
		if p := post(w.staffAdmin, a, "roles", role("wizard")); p.Status != http.StatusBadRequest {
			t.Errorf("grant an unknown role = %d, want 400", p.Status)
		}
		if p := post(w.staffAdmin, a, "roles", role(directory.RoleClinician)); p.Status != http.StatusConflict {
			t.Errorf("grant a held role = %d, want 409", p.Status)
		}
		wantDone("admin grants A developer", post(w.admin, a, "roles", role(directory.RoleApplicationDeveloper)), a, "person-role-added")
		if p := post(w.staffAdmin, a, "roles/remove", role(directory.RoleApplicationDeveloper)); p.Status != http.StatusForbidden {
			t.Errorf("staff admin removes developer = %d, want 403", p.Status)
		}
		wantDone("staff admin removes clinician", post(w.staffAdmin, a, "roles/remove", role(directory.RoleClinician)), a, "person-role-gone")
		wantRefused("patient removes staff", post(w.pat, a, "roles/remove", role(directory.RoleStaff)))
		if r := w.roles(a); !slices.Equal(r, []string{directory.RoleApplicationDeveloper, directory.RoleStaff}) {
			t.Errorf("A's roles = %v, want developer and staff", r)
		}
		wantDone("admin grants B admin", post(w.admin, b, "roles", role(directory.RoleAdmin)), b, "person-role-added")

		// Organizations: a staff admin only within their own.
		if p := post(w.staffAdmin, a, "organizations", url.Values{"organization": {fmt.Sprint(w.orgB)}}); p.Status != http.StatusForbidden {
			t.Errorf("staff admin adds A to clinic B = %d, want 403", p.Status)
		}
		wantRefused("developer adds A to clinic B", post(w.dev, a, "organizations", url.Values{"organization": {fmt.Sprint(w.orgB)}}))
		if p := post(w.admin, a, "organizations", url.Values{"organization": {"999999"}}); p.Status != http.StatusBadRequest {
			t.Errorf("add to an unknown organization = %d, want 400", p.Status)
		}
		wantDone("admin adds A to clinic B", post(w.admin, a, "organizations", url.Values{"organization": {fmt.Sprint(w.orgB)}}), a, "person-org-added")
		if p := post(w.admin, a, "organizations", url.Values{"organization": {fmt.Sprint(w.orgB)}}); p.Status != http.StatusConflict {
			t.Errorf("add to an organization twice = %d, want 409", p.Status)
		}

		// Identifiers.
		id := url.Values{"system": {"http://example.org/mrn"}, "value": {"A-9"}}
		wantRefused("developer adds an identifier", post(w.dev, a, "identifiers", id))
		wantRefused("staff admin of A adds an identifier to B", post(w.staffAdmin, b, "identifiers", id))
		wantDone("staff admin adds an identifier to A", post(w.staffAdmin, a, "identifiers", id), a, "person-id-added")
		if p := post(w.staffAdmin, a, "identifiers", url.Values{"system": {""}, "value": {"x"}}); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `id="ids-error"`) {
			t.Errorf("an identifier without a system = %d, want 400 beside the form", p.Status)
		}
		if p := w.get(w.admin, personPath(a, "")); !strings.Contains(p.Body, "A-9") {
			t.Error("the added identifier is not listed")
		}

		// Unknown people and malformed ids.
		if p := post(w.admin, 999999, "deactivate", nil); p.Status != http.StatusNotFound {
			t.Errorf("deactivate an unknown person = %d, want 404", p.Status)
		}
		if p := w.post(w.admin, "/admin/people/0/unlock", nil); p.Status != http.StatusNotFound {
			t.Errorf("unlock person 0 = %d, want 404", p.Status)
		}
	})
}

// newFormRequest is a same-origin form post without a session.
func newFormRequest(path string, form url.Values) *http.Request {
	r, _ := http.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	return r
}

// TestPeopleBadInput: NUL bytes, invalid UTF-8, over-long values and a body
// over 1 MiB get a 4xx page, never a 500, on the search and the forms.
func TestPeopleBadInput(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		w := newPeopleWorld(t, dbURL)
		long := strings.Repeat("x", 5000)
		for _, v := range []string{"a\x00b", "\xff", long} {
			for _, field := range []string{"name", "email", "identifier", "organization", "role", "after"} {
				if p := w.get(w.admin, "/admin/people?"+field+"="+url.QueryEscape(v)); p.Status < 400 || p.Status >= 500 {
					t.Errorf("search %s=%q… = %d, want 4xx", field, v[:min(len(v), 8)], p.Status)
				}
			}
			if p := w.get(w.admin, personPath(w.staffA.ID, "?after="+url.QueryEscape(v))); p.Status < 400 || p.Status >= 500 {
				t.Errorf("person page after=%q… = %d, want 4xx", v[:min(len(v), 8)], p.Status)
			}
			for _, field := range []string{"email", "given_name", "family_name", "birthdate", "gender", "password", "organization", "role"} {
				f := url.Values{"email": {"ok@example.org"}, field: {v}}
				if p := w.post(w.admin, "/admin/people", f); p.Status < 400 || p.Status >= 500 {
					t.Errorf("create with %s=%q… = %d, want 4xx", field, v[:min(len(v), 8)], p.Status)
				}
			}
			for action, field := range map[string]string{"password": "password", "roles": "role", "roles/remove": "role",
				"organizations": "organization", "identifiers": "value"} {
				f := url.Values{field: {v}, "system": {"http://example.org/mrn"}}
				if p := w.post(w.admin, personPath(w.staffA.ID, "/"+action), f); p.Status < 400 || p.Status >= 500 {
					t.Errorf("%s with %s=%q… = %d, want 4xx", action, field, v[:min(len(v), 8)], p.Status)
				}
			}
		}
		huge := url.Values{"email": {"big@example.org"}, "given_name": {strings.Repeat("y", 1<<20+1)}}
		if p := w.post(w.admin, "/admin/people", huge); p.Status != http.StatusRequestEntityTooLarge && p.Status != http.StatusBadRequest {
			t.Errorf("create with a body over 1 MiB = %d, want 413 (or 400)", p.Status)
		}
		if p := w.post(w.admin, personPath(w.staffA.ID, "/identifiers"), huge); p.Status != http.StatusRequestEntityTooLarge && p.Status != http.StatusBadRequest {
			t.Errorf("identifier with a body over 1 MiB = %d, want 413 (or 400)", p.Status)
		}
		if u, _, _ := w.srv.Services().Directory.SearchUsers(actor.System(context.Background()),
			directory.UserFilter{Email: "ok@example.org"}, store.Page{}); len(u) != 0 {
			t.Error("a create with bad input left a person behind")
		}
	})
}

// TestBrowserPeople: an administrator signs in, goes to People, creates a
// person in an organization, finds them by search, opens their page and
// grants a role, checking each page's accessibility on the way.
func TestBrowserPeople(t *testing.T) {
	path := browser.Path(t)
	base, srv := browser.StartServer(t, "")
	e := &env{t: t, srv: srv, h: srv.Handler()}
	e.person("admin@example.org", []string{directory.RoleAdmin})
	org := e.org("Clinic Gamma")
	ctx := browser.New(t, path)
	if err := browser.SignIn(ctx, base, "admin@example.org", testPassword, "/admin"); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	step("open People", chromedp.Click(chromedp.CSS(`nav.sections a[href="/admin/people"]`)), chromedp.WaitVisible(chromedp.CSS("#people-heading")))
	browser.Accessible(t, ctx)
	step("open the new-person form", chromedp.Click(chromedp.CSS("#new-person")), chromedp.WaitVisible(chromedp.CSS("#new-person-heading")))
	browser.Accessible(t, ctx)
	step("fill the form",
		chromedp.SendKeys(chromedp.CSS("#email"), "ivy.ives@example.org"),
		chromedp.SendKeys(chromedp.CSS("#given_name"), "Ivy"),
		chromedp.SendKeys(chromedp.CSS("#family_name"), "Ives"),
		chromedp.SetValue(chromedp.CSS("#organization"), fmt.Sprint(org)),
		chromedp.Click(chromedp.CSS("#role-patient")),
		chromedp.Click(chromedp.CSS("#create-person")),
		chromedp.WaitVisible(chromedp.CSS("#person-heading")))
	notice, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#notice")))
	if err != nil || !strings.Contains(notice, "created") {
		t.Fatalf("after create the notice is %q (%v)", notice, err)
	}
	browser.Accessible(t, ctx)

	step("search by name",
		chromedp.Click(chromedp.CSS(`nav.sections a[href="/admin/people"]`)), chromedp.WaitVisible(chromedp.CSS("#people-heading")),
		chromedp.SendKeys(chromedp.CSS("#q-name"), "ivy"),
		chromedp.SetValue(chromedp.CSS("#q-organization"), fmt.Sprint(org)),
		chromedp.Click(chromedp.CSS("#search")),
		// The answer's form carries the query in its markup; the form
		// typed into does not, so this waits for the new page.
		chromedp.WaitVisible(chromedp.CSS(`#q-name[value="ivy"]`)))
	rows, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#people tbody")))
	if err != nil || !strings.Contains(rows, "ivy.ives@example.org") {
		t.Fatalf("the search found %q (%v)", rows, err)
	}
	browser.Accessible(t, ctx)

	step("open the person", chromedp.Click(chromedp.CSS(`#people tbody a`)), chromedp.WaitVisible(chromedp.CSS("#person-heading")))
	browser.Accessible(t, ctx)
	step("grant a role",
		chromedp.SetValue(chromedp.CSS("#grant-role"), directory.RoleClinician),
		chromedp.Click(chromedp.CSS("#grant")),
		chromedp.WaitVisible(chromedp.CSS("#notice")))
	roles, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#person-roles")))
	if err != nil || !strings.Contains(roles, directory.RoleClinician) || !strings.Contains(roles, directory.RolePatient) {
		t.Fatalf("after the grant the roles read %q (%v)", roles, err)
	}
	browser.Accessible(t, ctx)
}
