package api_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/api"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/directory"
	"ward/internal/intervention"
	"ward/internal/secrets"
	"ward/internal/sqlstore"
	"ward/internal/store"
	"ward/internal/testutil"
)

// ivEnv is env with the client registry and interventions mounted.
type ivEnv struct {
	*env
	aud                 *audit.Log
	st                  *sqlstore.DB
	dev, staff, patient int64
}

// newInterventionEnv builds the env; each with edits the intervention
// service's dependencies before it is built (communicate_test.go adds mail).
func newInterventionEnv(t *testing.T, url string, with ...func(*intervention.Deps)) *ivEnv {
	t.Helper()
	now := func() time.Time { return testNow }
	st := testutil.NewStore(t, url, sqlstore.WithClock(now))
	aud := audit.NewLog(audit.Deps{Store: st, Tx: st}, audit.Config{Version: "test", Now: now})
	dir := directory.NewService(directory.Deps{Store: st, Audit: aud, Hasher: plainHasher{}}, directory.Config{Now: now})
	key, err := secrets.DeriveHMACKey(bytes.Repeat([]byte{9}, secrets.MasterKeySize), secrets.PurposeClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	clients, err := client.NewService(client.Deps{Store: st, Tx: st, Roles: dir, Audit: aud}, client.Config{SecretKey: key, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	deps := intervention.Deps{Store: st, Tx: st, Directory: dir, Clients: st, Audit: aud}
	for _, f := range with {
		f(&deps)
	}
	ivs, err := intervention.NewService(deps, intervention.Config{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Mount(mux, api.Deps{
		Directory: dir, Audit: aud, Clients: clients, Interventions: ivs, Base: "https://ward.test",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	sys := actor.System(context.Background())
	mk := func(email string, roles ...string) int64 {
		u, err := dir.CreateUser(sys, directory.NewUser{User: directory.User{Email: email}, Roles: roles})
		if err != nil {
			t.Fatalf("create %s: %v", email, err)
		}
		return u.ID
	}
	e := &ivEnv{env: &env{t: t, h: testActor(mux), dir: dir}, aud: aud, st: st}
	e.adminID = mk("admin@example.org", directory.RoleAdmin)
	e.dev = mk("dev@example.org", directory.RoleApplicationDeveloper)
	e.staff = mk("staff@example.org", directory.RoleStaff, directory.RoleInterventionStaff)
	e.patient = mk("patient@example.org", directory.RolePatient)
	return e
}

type interventionDoc struct {
	Name         string `json:"name"`
	Description  string `json:"description"`
	CardHTML     string `json:"card_html"`
	LinkLabel    string `json:"link_label"`
	LinkURL      string `json:"link_url"`
	StatusText   string `json:"status_text"`
	PublicAccess bool   `json:"public_access"`
	DisplayRank  int    `json:"display_rank"`
	ClientID     string `json:"client_id"`
	Version      int64  `json:"version"`
}

// TestInterventionAPI: an administrator creates, reads, lists, changes and
// deletes an intervention; every change is in the audit chain; the client
// whose registration names the intervention is shown as acting for it.
func TestInterventionAPI(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newInterventionEnv(t, url)
		var iv interventionDoc
		res := e.do("POST", "/api/intervention", e.adminID, map[string]any{
			"name": "decision_support_p3p", "description": "P3P", "card_html": "<p>Decide <script>x()</script></p>",
			"link_label": "Go", "link_url": "https://p3p.example.org/start", "display_rank": 3,
		})
		e.must(res, http.StatusCreated, &iv)
		if loc := res.header.Get("Location"); loc != "https://ward.test/api/intervention/decision_support_p3p" {
			t.Fatalf("Location %q", loc)
		}
		// public_access defaults to true; HTML is stored exactly as given.
		if !iv.PublicAccess || iv.CardHTML != "<p>Decide <script>x()</script></p>" || iv.Version != 1 || iv.DisplayRank != 3 {
			t.Fatalf("created %+v", iv)
		}
		e.must(e.do("POST", "/api/intervention", e.adminID, map[string]any{"name": "care_plan", "public_access": false}), http.StatusCreated, &iv)
		if iv.PublicAccess {
			t.Fatal("public_access false was not kept")
		}
		e.problem(e.do("POST", "/api/intervention", e.adminID, map[string]any{"name": "care_plan"}), http.StatusConflict)

		// PATCH changes what it names and nothing else.
		e.must(e.do("PATCH", "/api/intervention/decision_support_p3p", e.adminID, map[string]any{
			"public_access": false, "status_text": "Closed"}), http.StatusOK, &iv)
		if iv.PublicAccess || iv.StatusText != "Closed" || iv.LinkURL != "https://p3p.example.org/start" || iv.Version != 2 {
			t.Fatalf("patched %+v", iv)
		}
		stale := e.doHeader("PATCH", "/api/intervention/decision_support_p3p", e.adminID, map[string]any{"link_label": "x"},
			"If-Match-Version", "1")
		e.problem(stale, http.StatusConflict)

		// A client that names the intervention acts for it.
		var c clientDoc
		body := clientBody("P3P app")
		body["intervention"] = "decision_support_p3p"
		e.must(e.do("POST", "/api/client", e.adminID, body), http.StatusCreated, &c)
		e.must(e.do("GET", "/api/intervention/decision_support_p3p", e.adminID, nil), http.StatusOK, &iv)
		if iv.ClientID != c.ClientID {
			t.Fatalf("client_id %q, want %q", iv.ClientID, c.ClientID)
		}
		second := clientBody("Another")
		second["intervention"] = "decision_support_p3p"
		if p := e.problem(e.do("POST", "/api/client", e.adminID, second), http.StatusConflict); !strings.Contains(p.Detail, "already has a client") {
			t.Fatalf("a second client for one intervention: %q", p.Detail)
		}

		var list struct{ Interventions []interventionDoc }
		e.must(e.do("GET", "/api/intervention", e.adminID, nil), http.StatusOK, &list)
		if len(list.Interventions) != 2 || list.Interventions[0].Name != "care_plan" {
			t.Fatalf("list %+v", list)
		}

		e.must(e.do("DELETE", "/api/intervention/care_plan", e.adminID, nil), http.StatusNoContent, nil)
		e.problem(e.do("GET", "/api/intervention/care_plan", e.adminID, nil), http.StatusNotFound)
		e.problem(e.do("DELETE", "/api/intervention/care_plan", e.adminID, nil), http.StatusNotFound)

		evs, _, err := e.aud.List(actor.System(context.Background()), audit.Filter{}, store.Page{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[audit.EventType]int{}
		for _, ev := range evs {
			if strings.HasPrefix(ev.Subject, "Intervention/") {
				seen[ev.Type]++
			}
		}
		if seen[audit.InterventionCreated] != 2 || seen[audit.InterventionUpdated] != 1 || seen[audit.InterventionDeleted] != 1 {
			t.Fatalf("intervention events %v", seen)
		}
	})
}

// TestInterventionAPIRefused: everyone but an administrator is refused
// every operation (403 signed in, 401 anonymous), and nothing changes.
func TestInterventionAPIRefused(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newInterventionEnv(t, url)
		e.must(e.do("POST", "/api/intervention", e.adminID, map[string]any{"name": "care_plan"}), http.StatusCreated, nil)
		ops := []struct {
			method, path string
			body         any
		}{
			{"GET", "/api/intervention", nil},
			{"POST", "/api/intervention", map[string]any{"name": "other"}},
			{"GET", "/api/intervention/care_plan", nil},
			{"PATCH", "/api/intervention/care_plan", map[string]any{"public_access": false}},
			{"DELETE", "/api/intervention/care_plan", nil},
		}
		for _, op := range ops {
			for _, who := range []int64{e.dev, e.staff, e.patient} {
				e.problem(e.do(op.method, op.path, who, op.body), http.StatusForbidden)
			}
			e.problem(e.do(op.method, op.path, 0, op.body), http.StatusUnauthorized)
		}
		var iv interventionDoc
		e.must(e.do("GET", "/api/intervention/care_plan", e.adminID, nil), http.StatusOK, &iv)
		if !iv.PublicAccess || iv.Version != 1 {
			t.Fatalf("a refused call changed %+v", iv)
		}
		e.problem(e.do("GET", "/api/intervention/other", e.adminID, nil), http.StatusNotFound)
	})
}

// TestInterventionAPIBadInput: malformed names, URLs, bad text and
// oversized fields are 400 (413 for an oversized body) on both databases,
// and nothing is stored.
func TestInterventionAPIBadInput(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newInterventionEnv(t, url)
		cases := []struct {
			name   string
			body   any
			status int
		}{
			{"not JSON", "{", http.StatusBadRequest},
			{"no name", map[string]any{"description": "x"}, http.StatusBadRequest},
			{"upper-case name", map[string]any{"name": "Care_Plan"}, http.StatusBadRequest},
			{"name with slash", map[string]any{"name": "a/b"}, http.StatusBadRequest},
			{"long name", map[string]any{"name": strings.Repeat("a", 51)}, http.StatusBadRequest},
			{"relative link", map[string]any{"name": "x1", "link_url": "/start"}, http.StatusBadRequest},
			{"javascript link", map[string]any{"name": "x2", "link_url": "javascript:alert(1)"}, http.StatusBadRequest},
			{"link with credentials", map[string]any{"name": "x3", "link_url": "https://u:p@example.org/"}, http.StatusBadRequest},
			{"NUL in card", `{"name":"x4","card_html":"a\u0000b"}`, http.StatusBadRequest},
			{"NUL in name", `{"name":"x\u0000"}`, http.StatusBadRequest},
			{"huge card", map[string]any{"name": "x5", "card_html": strings.Repeat("<b>", 30000)}, http.StatusBadRequest},
			{"rank out of range", map[string]any{"name": "x6", "display_rank": 1 << 40}, http.StatusBadRequest},
			{"oversized body", `{"name":"x7","description":"` + strings.Repeat("a", api.MaxBodyBytes) + `"}`, http.StatusRequestEntityTooLarge},
		}
		for _, c := range cases {
			e.problem(e.do("POST", "/api/intervention", e.adminID, c.body), c.status)
		}
		e.must(e.do("POST", "/api/intervention", e.adminID, map[string]any{"name": "care_plan"}), http.StatusCreated, nil)
		e.problem(e.do("PATCH", "/api/intervention/care_plan", e.adminID, `{"status_text":"a\u0000b"}`), http.StatusBadRequest)
		e.problem(e.do("PATCH", "/api/intervention/care_plan", e.adminID, map[string]any{"link_url": "ftp://x.example.org/"}), http.StatusBadRequest)
		e.problem(e.do("GET", "/api/intervention/Bad%20Name", e.adminID, nil), http.StatusBadRequest)
		var list struct{ Interventions []interventionDoc }
		e.must(e.do("GET", "/api/intervention", e.adminID, nil), http.StatusOK, &list)
		if len(list.Interventions) != 1 || list.Interventions[0].Version != 1 {
			t.Fatalf("refused input stored something: %+v", list)
		}
	})
}

// doHeader is do with one extra request header.
func (e *env) doHeader(method, path string, as int64, body any, k, v string) response {
	e.t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set(k, v)
		e.h.ServeHTTP(w, r)
	})
	return e.doWith(h, method, path, as, body)
}

type userInterventionDoc struct {
	Intervention string `json:"intervention_name"`
	UserID       int64  `json:"user_id"`
	Access       string `json:"access"`
	LinkURL      string `json:"link_url"`
	StatusText   string `json:"status_text"`
	StaffHTML    string `json:"staff_html"`
}

// serviceAccount creates a service user sponsored by sponsor.
func (e *ivEnv) serviceAccount(email string, sponsor int64) int64 {
	e.t.Helper()
	sys := actor.System(context.Background())
	u, err := e.dir.CreateUser(sys, directory.NewUser{User: directory.User{Email: email}, Roles: []string{directory.RoleService}})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.dir.SetRelationships(sys, u.ID, []directory.UserRelationship{
		{UserID: u.ID, Relationship: directory.RelSponsor, OtherUserID: sponsor}}); err != nil {
		e.t.Fatal(err)
	}
	return u.ID
}

// interventionWithClient creates an intervention and a client owned by
// owner acting for it, with a redirect URI on https://<name>.example.org.
func (e *ivEnv) interventionWithClient(name string, owner int64) {
	e.t.Helper()
	e.must(e.do("POST", "/api/intervention", e.adminID, map[string]any{"name": name, "public_access": false}), http.StatusCreated, nil)
	b := clientBody(name)
	b["redirect_uris"] = []string{"https://" + strings.ReplaceAll(name, "_", "-") + ".example.org/cb"}
	b["intervention"] = name
	b["owner_id"] = owner
	e.must(e.do("POST", "/api/client", e.adminID, b), http.StatusCreated, nil)
}

// TestUserAccessAPI: the intervention's own service account sets a
// person's access with a partial merge; everyone else is refused, and the
// row is read back by whoever may edit the person.
func TestUserAccessAPI(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newInterventionEnv(t, url)
		sys := actor.System(context.Background())
		dev2, err := e.dir.CreateUser(sys, directory.NewUser{User: directory.User{Email: "dev2@example.org"},
			Roles: []string{directory.RoleApplicationDeveloper}})
		if err != nil {
			t.Fatal(err)
		}
		other, err := e.dir.CreateUser(sys, directory.NewUser{User: directory.User{Email: "other@example.org"},
			Roles: []string{directory.RolePatient}})
		if err != nil {
			t.Fatal(err)
		}
		e.interventionWithClient("care_plan", e.dev)
		e.interventionWithClient("sexual_recovery", dev2.ID)
		svcA := e.serviceAccount("svc-a@example.org", e.dev)
		svcB := e.serviceAccount("svc-b@example.org", dev2.ID)
		path := "/api/intervention/care_plan"
		p := strconv.FormatInt(e.patient, 10)

		var ui userInterventionDoc
		e.must(e.do("PUT", path, svcA, map[string]any{"user_id": e.patient, "access": "granted",
			"link_url": "https://care-plan.example.org/p/1", "staff_html": "<b>note</b>"}), http.StatusOK, &ui)
		if ui.Access != "granted" || ui.LinkURL != "https://care-plan.example.org/p/1" || ui.UserID != e.patient {
			t.Fatalf("after PUT %+v", ui)
		}
		// A partial merge keeps what the body leaves out.
		e.must(e.do("PUT", path, svcA, map[string]any{"user_id": e.patient, "status_text": "Week 2"}), http.StatusOK, &ui)
		if ui.Access != "granted" || ui.StatusText != "Week 2" || ui.StaffHTML != "<b>note</b>" {
			t.Fatalf("after merge %+v", ui)
		}

		// Refused callers, each changing nothing.
		for _, who := range []int64{e.dev, svcB, e.adminID, e.patient, e.staff} {
			e.problem(e.do("PUT", path, who, map[string]any{"user_id": e.patient, "access": "forbidden"}), http.StatusForbidden)
		}
		e.problem(e.do("PUT", path, 0, map[string]any{"user_id": e.patient, "access": "forbidden"}), http.StatusUnauthorized)
		// Bad input.
		e.problem(e.do("PUT", path, svcA, map[string]any{"user_id": e.patient, "link_url": "https://evil.example.org/x"}), http.StatusBadRequest)
		e.problem(e.do("PUT", path, svcA, map[string]any{"user_id": e.patient, "access": "maybe"}), http.StatusBadRequest)
		e.problem(e.do("PUT", path, svcA, map[string]any{"user_id": other.ID, "status_text": "no access given"}), http.StatusBadRequest)
		e.problem(e.do("PUT", path, svcA, `{"user_id":`+p+`,"staff_html":"a\u0000b"}`), http.StatusBadRequest)
		e.problem(e.do("PUT", path, svcA, map[string]any{"user_id": 99999, "access": "granted"}), http.StatusNotFound)
		e.problem(e.do("PUT", "/api/intervention/ghost", svcA, map[string]any{"user_id": e.patient, "access": "granted"}), http.StatusNotFound)

		// Reading needs edit on the person.
		for _, who := range []int64{e.adminID, e.patient, svcA} {
			e.must(e.do("GET", path+"/user/"+p, who, nil), http.StatusOK, &ui)
			if ui.Access != "granted" || ui.StatusText != "Week 2" {
				t.Fatalf("read by %d: %+v", who, ui)
			}
		}
		e.problem(e.do("GET", path+"/user/"+p, other.ID, nil), http.StatusForbidden)
		e.problem(e.do("GET", path+"/user/"+p, e.dev, nil), http.StatusForbidden)
		e.problem(e.do("GET", path+"/user/"+p, 0, nil), http.StatusUnauthorized)
		var none userInterventionDoc
		e.must(e.do("GET", path+"/user/"+strconv.FormatInt(other.ID, 10), e.adminID, nil), http.StatusOK, &none)
		if none.Access != "" || none.UserID != other.ID {
			t.Fatalf("a person without a row reads %+v", none)
		}

		evs, _, err := e.aud.List(sys, audit.Filter{Type: audit.InterventionAccessChanged}, store.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 || evs[0].SubjectID != e.patient {
			t.Fatalf("access events %+v", evs)
		}
	})
}

// TestInterventionStaffSharesIntervention: RULES.md step 6 is live. An
// intervention_staff user may act on a patient once both have been given
// access to one intervention by its service account, and not before, nor
// once the patient's access is forbidden, nor over a non-patient.
func TestInterventionStaffSharesIntervention(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newInterventionEnv(t, url)
		sys := actor.System(context.Background())
		ivStaff, err := e.dir.CreateUser(sys, directory.NewUser{User: directory.User{Email: "iv@example.org"},
			Roles: []string{directory.RoleInterventionStaff}})
		if err != nil {
			t.Fatal(err)
		}
		e.interventionWithClient("care_plan", e.dev)
		svc := e.serviceAccount("svc@example.org", e.dev)
		path := "/api/intervention/care_plan/user/" + strconv.FormatInt(e.patient, 10)
		as := actor.With(context.Background(), actor.Actor{UserID: ivStaff.ID})

		e.problem(e.do("GET", path, ivStaff.ID, nil), http.StatusForbidden)
		for _, u := range []int64{ivStaff.ID, e.patient, e.dev} {
			e.must(e.do("PUT", "/api/intervention/care_plan", svc, map[string]any{"user_id": u, "access": "granted"}), http.StatusOK, nil)
		}
		e.must(e.do("GET", path, ivStaff.ID, nil), http.StatusOK, nil)
		if err := e.dir.CheckRole(as, directory.View, e.patient); err != nil {
			t.Fatalf("view of a patient sharing an intervention: %v", err)
		}
		// A developer sharing the intervention is not a patient.
		if err := e.dir.CheckRole(as, directory.View, e.dev); err == nil {
			t.Fatal("intervention_staff may act on a non-patient")
		}
		e.must(e.do("PUT", "/api/intervention/care_plan", svc, map[string]any{"user_id": e.patient, "access": "forbidden"}), http.StatusOK, nil)
		e.problem(e.do("GET", path, ivStaff.ID, nil), http.StatusForbidden)
		if err := e.dir.CheckRole(as, directory.View, e.patient); err == nil {
			t.Fatal("a forbidden row still shares the intervention")
		}
	})
}
