package console_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"ward/internal/actor"
	"ward/internal/directory"
	"ward/internal/intervention"
	"ward/internal/testutil"
	"ward/internal/testutil/browser"
)

// patientsRule grants the intervention to patients.
const patientsRule = `{"name": "Patients", "function_details": {"function": "in_role_list", "kwargs": [{"name": "role_list", "value": ["patient"]}]}}`

// careIntervention creates the care_plan intervention as ward itself.
func (e *env) careIntervention() {
	e.t.Helper()
	_, err := e.srv.Services().Interventions.Create(actor.System(context.Background()), intervention.Intervention{
		Name: "care_plan", Description: "Care plan", LinkURL: "https://care.example.org/", LinkLabel: "Open"})
	if err != nil {
		e.t.Fatalf("create intervention: %v", err)
	}
}

// rules lists care_plan's rules as ward itself.
func (e *env) rules() []*intervention.AccessRule {
	e.t.Helper()
	rs, err := e.srv.Services().Interventions.Rules(actor.System(context.Background()), "care_plan")
	if err != nil {
		e.t.Fatalf("list rules: %v", err)
	}
	return rs
}

// TestInterventions: an administrator lists interventions, opens one,
// adds, edits and deletes its access rules (a bad rule is a 400 with the
// reason beside the textarea that keeps what was typed, a stale version a
// 409 showing what is stored now) and explains a decision for a person.
// A staff admin, a developer and a patient are refused every page and
// action with 403.
func TestInterventions(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		e.careIntervention()
		e.person("admin@example.org", []string{directory.RoleAdmin})
		e.person("dev@example.org", []string{directory.RoleApplicationDeveloper})
		pat := e.person("pat@example.org", []string{directory.RolePatient})
		e.person("sa@example.org", []string{directory.RoleStaffAdmin})
		admin := e.session("admin@example.org")

		p := e.get(admin, "/admin/interventions")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, `href="/admin/interventions/care_plan">care_plan</a>`) {
			t.Fatalf("admin list = %d, want care_plan linked", p.Status)
		}
		p = e.get(admin, "/admin/interventions/care_plan")
		for _, want := range []string{"Intervention care_plan", "https://care.example.org/", `id="no-rules"`, `id="new-rule"`, `id="explain-person"`} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("admin intervention page (%d) lacks %s", p.Status, want)
			}
		}
		for path, want := range map[string]int{"/admin/interventions/nope": 404, "/admin/interventions/Bad-Name": 400} {
			if p := e.get(admin, path); p.Status != want {
				t.Errorf("%s = %d, want %d", path, p.Status, want)
			}
		}

		// Add a rule.
		p = e.post(admin, "/admin/interventions/care_plan/rules", url.Values{"rule": {patientsRule}})
		if p.Status != http.StatusSeeOther || p.Location != "/admin/interventions/care_plan?done=rule-added" || len(e.rules()) != 1 {
			t.Fatalf("add rule = %d → %q", p.Status, p.Location)
		}
		rule := e.rules()[0]
		rid := strconv.FormatInt(rule.ID, 10)
		p = e.get(admin, p.Location)
		if !strings.Contains(p.Body, "Access rule added.") || !strings.Contains(p.Body, `id="rule-`+rid+`"`) || !strings.Contains(p.Body, html.EscapeString(`"function": "in_role_list"`)) {
			t.Errorf("the page after adding does not show the rule as JSON:\n%s", p.Body)
		}

		// The box's JSON saves back unchanged, as a person who only
		// presses Save would send it.
		_, box, _ := strings.Cut(p.Body, `<textarea id="rule-`+rid+`"`)
		_, box, _ = strings.Cut(box, ">")
		box, _, _ = strings.Cut(box, "</textarea>")
		if q := e.post(admin, "/admin/interventions/care_plan/rules/"+rid, url.Values{"rule": {html.UnescapeString(box)}, "version": {"1"}}); q.Status != http.StatusSeeOther {
			t.Fatalf("saving the box as shown = %d:\n%s", q.Status, q.Body)
		}
		rule = e.rules()[0]

		// Bad rules: invalid JSON and what the validator refuses, inline.
		for _, bad := range []struct{ text, want string }{
			{`{"name": "Broken", `, "not valid JSON"},
			{`{"name": "Nobody", "function_details": {"function": "no_such_function"}}`, "no_such_function"},
		} {
			p = e.post(admin, "/admin/interventions/care_plan/rules", url.Values{"rule": {bad.text}})
			if p.Status != http.StatusBadRequest {
				t.Errorf("add %q = %d, want 400", bad.text, p.Status)
			}
			for _, want := range []string{`aria-describedby="new-rule-error new-rule-hint"`, `aria-invalid="true"`, `id="new-rule-error" role="alert"`,
				">" + html.EscapeString(bad.text) + "</textarea>", bad.want} {
				if !strings.Contains(p.Body, want) {
					t.Errorf("add %q: the page lacks %s:\n%s", bad.text, want, p.Body)
				}
			}
		}
		if len(e.rules()) != 1 {
			t.Errorf("a refused rule was stored")
		}

		// Edit: good, then stale, then invalid.
		edited := strings.Replace(patientsRule, `"Patients"`, `"Patients only"`, 1)
		v1 := strconv.FormatInt(rule.Version, 10)
		p = e.post(admin, "/admin/interventions/care_plan/rules/"+rid, url.Values{"rule": {edited}, "version": {v1}})
		if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/admin/interventions/care_plan?done=rule-saved") || e.rules()[0].Name != "Patients only" {
			t.Errorf("save rule = %d → %q, name %q", p.Status, p.Location, e.rules()[0].Name)
		}
		stale := strings.Replace(patientsRule, `"Patients"`, `"Stale"`, 1)
		p = e.post(admin, "/admin/interventions/care_plan/rules/"+rid, url.Values{"rule": {stale}, "version": {v1}})
		if p.Status != http.StatusConflict || !strings.Contains(p.Body, `id="rule-`+rid+`-error"`) || !strings.Contains(p.Body, `id="rule-`+rid+`-stored"`) ||
			!strings.Contains(p.Body, html.EscapeString(stale)+"</textarea>") || !strings.Contains(p.Body, "reload and retry") {
			t.Errorf("stale save = %d, want 409 inline, keeping the text and showing what is stored:\n%s", p.Status, p.Body)
		}
		if e.rules()[0].Name != "Patients only" {
			t.Errorf("a stale save changed the rule")
		}
		cur := strconv.FormatInt(e.rules()[0].Version, 10)
		if !strings.Contains(p.Body, `name="version" value="`+cur+`"`) {
			t.Errorf("after a clash the form does not carry the current version %s", cur)
		}
		p = e.post(admin, "/admin/interventions/care_plan/rules/"+rid, url.Values{"rule": {`{"name": 5}`}, "version": {cur}})
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `aria-describedby="rule-`+rid+`-error"`) || !strings.Contains(p.Body, `id="rule-`+rid+`-error" role="alert"`) {
			t.Errorf("invalid save = %d, want 400 inline", p.Status)
		}
		if p := e.post(admin, "/admin/interventions/care_plan/rules/999999", url.Values{"rule": {patientsRule}, "version": {"1"}}); p.Status != http.StatusNotFound {
			t.Errorf("save a missing rule = %d, want 404", p.Status)
		}

		// Explain for the patient, by email and by id; the patients rule
		// grants.
		for _, who := range []string{"pat@example.org", strconv.FormatInt(pat.ID, 10)} {
			p = e.get(admin, "/admin/interventions/care_plan/explain?person="+url.QueryEscape(who))
			for _, want := range []string{"Decision for pat@example.org", "<strong>Granted</strong>", "an access rule", "strategy 1 (Patients only) granted", "in_role_list"} {
				if p.Status != http.StatusOK || !strings.Contains(p.Body, want) {
					t.Errorf("explain for %s = %d, lacks %s:\n%s", who, p.Status, want, p.Body)
				}
			}
		}
		p = e.get(admin, "/admin/interventions/care_plan/explain?person=dev%40example.org")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "<strong>Denied</strong>") || !strings.Contains(p.Body, "public_access is false") {
			t.Errorf("explain for the developer = %d, want denied by public access", p.Status)
		}
		for q, want := range map[string]int{"nobody%40example.org": 404, "999999": 404, "garbage": 400, "-3": 400} {
			p = e.get(admin, "/admin/interventions/care_plan/explain?person="+q)
			if p.Status != want || !strings.Contains(p.Body, `id="explain-error"`) || !strings.Contains(p.Body, `aria-describedby="explain-error"`) {
				t.Errorf("explain for %s = %d, want %d with the reason inline", q, p.Status, want)
			}
		}
		if p := e.get(admin, "/admin/interventions/care_plan/explain"); p.Status != http.StatusOK || strings.Contains(p.Body, "Decision for") {
			t.Errorf("explain without a person = %d, want the form alone", p.Status)
		}

		// Everyone else is refused, and nothing changes.
		for _, email := range []string{"sa@example.org", "dev@example.org", "pat@example.org"} {
			tok := e.session(email)
			for _, path := range []string{"/admin/interventions", "/admin/interventions/care_plan", "/admin/interventions/care_plan/explain?person=pat%40example.org"} {
				if p := e.get(tok, path); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "Not allowed") {
					t.Errorf("%s GET %s = %d, want 403", email, path, p.Status)
				}
			}
			for path, form := range map[string]url.Values{
				"/admin/interventions/care_plan/rules":                    {"rule": {patientsRule}},
				"/admin/interventions/care_plan/rules/" + rid:             {"rule": {stale}, "version": {cur}},
				"/admin/interventions/care_plan/rules/" + rid + "/delete": {},
			} {
				if p := e.post(tok, path, form); p.Status != http.StatusForbidden {
					t.Errorf("%s POST %s = %d, want 403", email, path, p.Status)
				}
			}
		}
		if rs := e.rules(); len(rs) != 1 || rs[0].Name != "Patients only" {
			t.Errorf("refused posts changed the rules: %d rules", len(rs))
		}

		// Delete.
		p = e.post(admin, "/admin/interventions/care_plan/rules/"+rid+"/delete", nil)
		if p.Status != http.StatusSeeOther || p.Location != "/admin/interventions/care_plan?done=rule-deleted" || len(e.rules()) != 0 {
			t.Errorf("delete = %d → %q, %d rules left", p.Status, p.Location, len(e.rules()))
		}
		if p := e.post(admin, "/admin/interventions/care_plan/rules/"+rid+"/delete", nil); p.Status != http.StatusNotFound {
			t.Errorf("delete again = %d, want 404", p.Status)
		}
	})
}

// TestInterventionsBadInput: NUL bytes, invalid UTF-8, a rule over the
// engine's 64 KiB and a body over 1 MiB are 4xx, never a 500 or a change.
func TestInterventionsBadInput(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		e.careIntervention()
		e.person("admin@example.org", []string{directory.RoleAdmin})
		admin := e.session("admin@example.org")
		if p := e.post(admin, "/admin/interventions/care_plan/rules", url.Values{"rule": {patientsRule}}); p.Status != http.StatusSeeOther {
			t.Fatalf("add rule = %d", p.Status)
		}
		rid := strconv.FormatInt(e.rules()[0].ID, 10)
		long := `{"name": "Long", "description": "` + strings.Repeat("d", 70<<10) + `", "function_details": {"function": "tx_begun", "kwargs": [{"name": "boolean_value", "value": true}]}}`
		huge := strings.Repeat("x", 2<<20)
		for _, c := range []struct {
			path string
			form url.Values
		}{
			{"/admin/interventions/care_plan/rules", url.Values{"rule": {`{"name": "a\u0000"}` + "\x00"}}},
			{"/admin/interventions/care_plan/rules", url.Values{"rule": {"{\"name\": \"\xff\"}"}}},
			{"/admin/interventions/care_plan/rules", url.Values{"rule": {long}}},
			{"/admin/interventions/care_plan/rules", url.Values{"rule": {huge}}},
			{"/admin/interventions/care_plan/rules", url.Values{"rule": {""}}},
			{"/admin/interventions/care_plan/rules/" + rid, url.Values{"rule": {"\x00"}, "version": {"1"}}},
			{"/admin/interventions/care_plan/rules/" + rid, url.Values{"rule": {patientsRule}, "version": {"\xff"}}},
			{"/admin/interventions/care_plan/rules/" + rid, url.Values{"rule": {patientsRule}, "version": {"-1"}}},
			{"/admin/interventions/care_plan/rules/" + rid, url.Values{"rule": {long}, "version": {"1"}}},
			{"/admin/interventions/care_plan/rules/abc", url.Values{"rule": {patientsRule}, "version": {"1"}}},
			{"/admin/interventions/" + strings.Repeat("a", 60) + "/rules", url.Values{"rule": {patientsRule}}},
			{"/admin/interventions/care_plan/rules/" + rid + "/delete", url.Values{"x": {huge}}},
		} {
			p := e.post(admin, c.path, c.form)
			if p.Status < 400 || p.Status >= 500 {
				t.Errorf("POST %.80s %.60q = %d, want 4xx", c.path, c.form.Encode(), p.Status)
			}
		}
		for _, q := range []string{"/admin/interventions/care_plan/explain?person=%00", "/admin/interventions/care_plan/explain?person=%ff",
			"/admin/interventions/care_plan/explain?person=" + strings.Repeat("a", 400) + "%40example.org", "/admin/interventions/%ff"} {
			if p := e.get(admin, q); p.Status < 400 || p.Status >= 500 {
				t.Errorf("GET %.80s = %d, want 4xx", q, p.Status)
			}
		}
		if rs := e.rules(); len(rs) != 1 || rs[0].Version != 1 {
			t.Errorf("bad input changed the rules: %v", rs)
		}
	})
}

// submit clicks button and waits for the page the post answers with a
// notice; the old page's notice is removed first, so the wait cannot be
// satisfied by the page the click leaves.
func submit(ctx context.Context, button string) error {
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("(document.getElementById('notice')?.remove(), true)")); err != nil {
		return fmt.Errorf("clear the notice: %w", err)
	}
	return chromedp.Do(ctx, chromedp.Click(chromedp.CSS(button)), chromedp.WaitVisible(chromedp.CSS("#notice")))
}

// text reads the text of the element sel.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// TestBrowserOrganizationsAndInterventions: an administrator signs in,
// creates a top-level organization and a child, renames the child and
// moves it to the top level; then opens an intervention, adds a bad rule
// (the reason appears beside the box, which keeps the text), fixes and
// saves it, and explains the decision for a patient. Every page visited
// passes the accessibility check.
func TestBrowserOrganizationsAndInterventions(t *testing.T) {
	path := browser.Path(t)
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		base, srv := browser.StartServer(t, dbURL)
		e := &env{t: t, srv: srv, h: srv.Handler()}
		e.person("admin@example.org", []string{directory.RoleAdmin})
		e.person("pat@example.org", []string{directory.RolePatient})
		e.careIntervention()
		ctx := browser.New(t, path)
		type css = chromedp.CSS
		if err := browser.SignIn(ctx, base, "admin@example.org", testPassword, "/admin"); err != nil {
			t.Fatalf("sign in: %v", err)
		}
		browser.Accessible(t, ctx)

		// Organizations: create a top-level one, then a child.
		if err := chromedp.Do(ctx, chromedp.Click(css(`nav.sections a[href="/admin/organizations"]`)), chromedp.WaitVisible(css("#orgs-heading"))); err != nil {
			t.Fatalf("open Organizations: %v", err)
		}
		browser.Accessible(t, ctx)
		if err := chromedp.Do(ctx, chromedp.SendKeys(css("#new-org-name"), "Health system")); err != nil {
			t.Fatalf("type a name: %v", err)
		}
		if err := submit(ctx, "#create-org"); err != nil {
			t.Fatalf("create an organization: %v", err)
		}
		if h, n := text(t, ctx, "#org-heading"), text(t, ctx, "#notice"); h != "Health system" || n != "Organization created." {
			t.Errorf("after create: heading %q, notice %q", h, n)
		}
		browser.Accessible(t, ctx)
		if err := chromedp.Do(ctx, chromedp.SendKeys(css("#child-name"), "Clinic A")); err != nil {
			t.Fatalf("type a child's name: %v", err)
		}
		if err := submit(ctx, "#create-child"); err != nil {
			t.Fatalf("create a child: %v", err)
		}
		if h, p := text(t, ctx, "#org-heading"), text(t, ctx, "#org-parent"); h != "Clinic A" || !strings.HasPrefix(p, "Health system") {
			t.Errorf("child page: heading %q, part of %q", h, p)
		}
		browser.Accessible(t, ctx)

		// Rename it, then move it to the top level.
		if err := chromedp.Do(ctx, chromedp.Clear(css("#org-name")), chromedp.SendKeys(css("#org-name"), "Clinic Alpha")); err != nil {
			t.Fatalf("type the new name: %v", err)
		}
		if err := submit(ctx, "#rename-org"); err != nil {
			t.Fatalf("rename: %v", err)
		}
		if h, n := text(t, ctx, "#org-heading"), text(t, ctx, "#notice"); h != "Clinic Alpha" || n != "Organization renamed." {
			t.Errorf("after rename: heading %q, notice %q", h, n)
		}
		if err := chromedp.Do(ctx, chromedp.Clear(css("#org-move-parent"))); err != nil {
			t.Fatalf("clear the parent: %v", err)
		}
		if err := submit(ctx, "#move-org"); err != nil {
			t.Fatalf("move: %v", err)
		}
		if p, n := text(t, ctx, "#org-parent"), text(t, ctx, "#notice"); p != "Top level" || n != "Organization moved." {
			t.Errorf("after move: part of %q, notice %q", p, n)
		}
		browser.Accessible(t, ctx)

		// Interventions: open care_plan.
		if err := chromedp.Do(ctx, chromedp.Click(css(`nav.sections a[href="/admin/interventions"]`)), chromedp.WaitVisible(css("#ivs-heading"))); err != nil {
			t.Fatalf("open Interventions: %v", err)
		}
		browser.Accessible(t, ctx)
		if err := chromedp.Do(ctx, chromedp.Click(css(`a[href="/admin/interventions/care_plan"]`)), chromedp.WaitVisible(css("#iv-heading"))); err != nil {
			t.Fatalf("open care_plan: %v", err)
		}
		browser.Accessible(t, ctx)

		// A bad rule: the reason beside the box, the text kept.
		bad := `{"name": "Patients", "function_details": {"function": "in_role_lst"}}`
		if err := chromedp.Do(ctx, chromedp.SetValue(css("#new-rule"), bad), chromedp.Click(css("#add-rule")), chromedp.WaitVisible(css("#new-rule-error"))); err != nil {
			t.Fatalf("add a bad rule: %v", err)
		}
		if msg := text(t, ctx, "#new-rule-error"); !strings.Contains(msg, "in_role_lst") {
			t.Errorf("the inline error %q does not name the unknown function", msg)
		}
		kept, err := chromedp.Run(ctx, chromedp.Value(css("#new-rule")))
		if err != nil || kept != bad {
			t.Errorf("the box holds %q (%v), want what was typed", kept, err)
		}
		described, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.getElementById('new-rule').getAttribute('aria-describedby')"))
		if err != nil || !strings.Contains(described, "new-rule-error") {
			t.Errorf("the box is described by %q (%v), want the error", described, err)
		}
		browser.Accessible(t, ctx)

		// Fixed and saved.
		if err := chromedp.Do(ctx, chromedp.SetValue(css("#new-rule"), patientsRule)); err != nil {
			t.Fatalf("fix the rule: %v", err)
		}
		if err := submit(ctx, "#add-rule"); err != nil {
			t.Fatalf("add the fixed rule: %v", err)
		}
		if n := text(t, ctx, "#notice"); n != "Access rule added." || len(e.rules()) != 1 {
			t.Errorf("after the fix: notice %q, %d rules", n, len(e.rules()))
		}
		browser.Accessible(t, ctx)

		// Explain for the patient.
		if err := chromedp.Do(ctx, chromedp.SendKeys(css("#explain-person"), "pat@example.org"), chromedp.Click(css("#explain")), chromedp.WaitVisible(css("#decision"))); err != nil {
			t.Fatalf("explain: %v", err)
		}
		if d := text(t, ctx, "#decision"); !strings.HasPrefix(d, "Granted") || !strings.Contains(d, "strategy 1 (Patients) granted") {
			t.Errorf("decision %q, want granted by the patients rule", d)
		}
		browser.Accessible(t, ctx)
	})
}
