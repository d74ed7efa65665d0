package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/clinical"
	"ward/internal/directory"
	"ward/internal/intervention"
	"ward/internal/intervention/strategy"
	"ward/internal/testutil"
)

// person is one row of the people × rules table: where they belong, what
// their record says, and the access the seed's text gives them.
type person struct {
	name string
	orgs []string
	// obs are TRUENTH clinical observations, by display.
	obs map[string]bool
	// txProcedure records a completed radical prostatectomy.
	txProcedure bool
	// srGranted gives a granted row in sexual_recovery.
	srGranted bool
	// want is the access to decision_support_p3p (the seed's P3P rule) and
	// care_plan (the seed's UCSF rule).
	wantP3P, wantUCSF bool
}

var (
	ready     = map[string]bool{"treatment begun": false, "PCa localized diagnosis": true}
	begun     = map[string]bool{"treatment begun": true, "PCa localized diagnosis": true}
	notLocal  = map[string]bool{"treatment begun": false, "PCa localized diagnosis": false}
	ucsfMC    = "UCSF Medical Center"
	uwMed     = "UW Medicine (University of Washington)"
	scenarios = []person{
		// P3P: not in sexual_recovery AND (not in UCSF Medical Center OR in
		// UW / UCSF Medical Center) AND treatment not begun AND localized.
		{name: "listed clinic, ready", orgs: []string{ucsfMC}, obs: ready, wantP3P: true, wantUCSF: true},
		{name: "other listed clinic, ready", orgs: []string{uwMed}, obs: ready, wantP3P: true},
		{name: "no clinic, ready", obs: ready, wantP3P: true},
		// UCSF is above UCSF Medical Center: not in the clinic's subtree.
		{name: "parent organization, ready", orgs: []string{"UCSF"}, obs: ready, wantP3P: true, wantUCSF: true},
		{name: "treatment begun observed", orgs: []string{ucsfMC}, obs: begun, wantUCSF: true},
		{name: "treatment-started procedure", orgs: []string{ucsfMC}, obs: ready, txProcedure: true, wantUCSF: true},
		{name: "not localized", orgs: []string{ucsfMC}, obs: notLocal, wantUCSF: true},
		{name: "no observations", orgs: []string{ucsfMC}, wantUCSF: true},
		{name: "in sexual_recovery", orgs: []string{uwMed}, obs: ready, srGranted: true},
	}
)

// TestSeedRulesDecideOnBothDatabases: the seed's P3P rule (on
// decision_support_p3p) and UCSF rule (on care_plan, public_access false),
// stored through the API exactly as the seed writes them (JSON slips
// repaired), decide a table of people derived from the seed's text, read
// back through GET /api/user/{id}/interventions on both databases.
func TestSeedRulesDecideOnBothDatabases(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newRulesEnv(t, url)
		e.must(e.do("POST", "/api/intervention/decision_support_p3p/access_rule", e.adminID, seedRule(t, "seed_p3p.fixed.json")),
			http.StatusCreated, nil)
		e.must(e.do("PATCH", "/api/intervention/care_plan", e.adminID, map[string]any{"public_access": false}), http.StatusOK, nil)
		e.must(e.do("POST", "/api/intervention/care_plan/access_rule", e.adminID, seedRule(t, "seed_ucsf.fixed.json")),
			http.StatusCreated, nil)
		for i, p := range scenarios {
			id := e.seedPerson(fmt.Sprintf("p%d@example.org", i), p)
			got := e.cards(id, false)
			if got["decision_support_p3p"].Access != p.wantP3P || got["care_plan"].Access != p.wantUCSF {
				t.Errorf("%s: P3P %t (want %t), UCSF %t (want %t)", p.name, got["decision_support_p3p"].Access, p.wantP3P,
					got["care_plan"].Access, p.wantUCSF)
			}
		}
	})
}

// TestP3PDoneMeans is issue 13's "Done means": an admin loads the seed's
// P3P rule through the API; a patient in a listed clinic without treatment
// begun sees the card; after a treatment-started Procedure they do not;
// the trace explains both; the intervention's service account grants a
// second patient access, and a developer's or another intervention's
// account is refused.
func TestP3PDoneMeans(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newRulesEnv(t, url)
		e.must(e.do("POST", "/api/intervention/decision_support_p3p/access_rule", e.adminID, seedRule(t, "seed_p3p.fixed.json")),
			http.StatusCreated, nil)
		pat := e.seedPerson("pat@example.org", person{orgs: []string{ucsfMC}, obs: ready})

		card := e.cards(pat, true)["decision_support_p3p"]
		if !card.Access || card.Trace == nil || card.Trace.Stage != intervention.StageStrategy ||
			len(card.Trace.Strategies) != 1 || !card.Trace.Strategies[0].Result ||
			card.Trace.Strategies[0].Name != "P3P Access Conditions" {
			t.Fatalf("before treatment: %+v %+v", card, card.Trace)
		}
		if s := step(t, card.Trace, "strategy_3"); !s.Result || !strings.Contains(s.Why, `"treatment begun" is false`) {
			t.Fatalf("before treatment, strategy_3: %+v", s)
		}

		e.addProcedure(pat, "26294005") // radical prostatectomy: in tx-started
		card = e.cards(pat, true)["decision_support_p3p"]
		if card.Access || card.LinkURL != "" || card.Trace.Stage != intervention.StagePublicAccess ||
			card.Trace.Strategies[0].Result {
			t.Fatalf("after treatment: %+v %+v", card, card.Trace)
		}
		if s := step(t, card.Trace, "strategy_3"); s.Result || !strings.Contains(s.Why, `"treatment begun" is true`) {
			t.Fatalf("after treatment, strategy_3: %+v", s)
		}
		// combine_strategies stopped at the failing strategy_3.
		if s := step(t, card.Trace, ""); s.Function != "combine_strategies" || s.Result ||
			!strings.Contains(s.Why, "3 of 4") {
			t.Fatalf("after treatment, the combined rule: %+v", s)
		}

		// A second patient, outside every rule (not localized), gets access
		// from the intervention's own service account.
		second := e.seedPerson("second@example.org", person{orgs: []string{ucsfMC}, obs: notLocal})
		if e.cards(second, false)["decision_support_p3p"].Access {
			t.Fatal("the second patient had access before the grant")
		}
		grant := map[string]any{"user_id": second, "access": "granted"}
		for _, who := range []struct {
			name string
			id   int64
		}{{"the client's developer", e.dev}, {"another intervention's account", e.svc2}, {"the patient", pat}} {
			e.problem(e.do("PUT", "/api/intervention/decision_support_p3p", who.id, grant), http.StatusForbidden)
			if e.cards(second, false)["decision_support_p3p"].Access {
				t.Fatalf("%s granted access", who.name)
			}
		}
		e.must(e.do("PUT", "/api/intervention/decision_support_p3p", e.svc, grant), http.StatusOK, nil)
		card = e.cards(second, true)["decision_support_p3p"]
		if !card.Access || card.Trace.Stage != intervention.StageUserRow || card.UserAccess != "granted" {
			t.Fatalf("after the grant: %+v %+v", card, card.Trace)
		}
	})
}

// seedPerson creates a patient as the person describes.
func (e *rulesEnv) seedPerson(email string, p person) int64 {
	e.t.Helper()
	ctx := actor.System(context.Background())
	u, err := e.dir.CreateUser(ctx, directory.NewUser{User: directory.User{Email: email}, Roles: []string{directory.RolePatient}})
	if err != nil {
		e.t.Fatal(err)
	}
	var orgs []int64
	for _, name := range p.orgs {
		orgs = append(orgs, e.orgs[name])
	}
	if len(orgs) > 0 {
		if _, err := e.dir.SetUserOrganizations(ctx, u.ID, orgs); err != nil {
			e.t.Fatal(err)
		}
	}
	at := testNow.Add(-24 * time.Hour)
	for display, v := range p.obs {
		c, ok := clinical.ConceptByDisplay(display)
		if !ok {
			e.t.Fatalf("no concept %q", display)
		}
		o := &clinical.Observation{PatientID: u.ID, Status: clinical.ObsFinal, Code: []clinical.Coding{c},
			Value: clinical.Value{Kind: clinical.ValueBoolean, Boolean: v}, Issued: at}
		if err := e.st.Observations().Create(ctx, o); err != nil {
			e.t.Fatal(err)
		}
	}
	if p.txProcedure {
		e.addProcedure(u.ID, "26294005")
	}
	if p.srGranted {
		if err := e.st.PutUserIntervention(ctx, &intervention.UserIntervention{Intervention: "sexual_recovery", UserID: u.ID,
			Access: intervention.AccessGranted, UpdatedAt: testNow}); err != nil {
			e.t.Fatal(err)
		}
	}
	return u.ID
}

// addProcedure records a completed SNOMED CT procedure for the patient.
func (e *rulesEnv) addProcedure(patient int64, code string) {
	e.t.Helper()
	at := testNow.Add(-time.Hour)
	pr := &clinical.Procedure{PatientID: patient, Status: clinical.ProcCompleted,
		Code:      []clinical.Coding{{System: clinical.SNOMEDSystem, Code: code}},
		Performed: clinical.Occurrence{DateTime: &at}}
	if err := e.st.Procedures().Create(actor.System(context.Background()), pr); err != nil {
		e.t.Fatal(err)
	}
}

// cards reads the person's cards as an administrator, by intervention.
func (e *rulesEnv) cards(id int64, trace bool) map[string]cardDoc {
	e.t.Helper()
	path := fmt.Sprintf("/api/user/%d/interventions", id)
	if trace {
		path += "?trace=true"
	}
	var doc cardsDoc
	e.must(e.do("GET", path, e.adminID, nil), http.StatusOK, &doc)
	out := map[string]cardDoc{}
	for _, c := range doc.Interventions {
		out[c.Name] = c
	}
	return out
}

// step finds the step at path in the first rule's trace.
func step(t *testing.T, tr *intervention.CardTrace, path string) strategy.Step {
	t.Helper()
	for _, s := range tr.Strategies[0].Steps {
		if s.Path == path {
			return s
		}
	}
	t.Fatalf("no step at %q in %+v", path, tr.Strategies[0].Steps)
	return strategy.Step{}
}
