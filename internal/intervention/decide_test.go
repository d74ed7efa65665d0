package intervention

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"ward/internal/intervention/strategy"
	"ward/internal/testutil/seedenv"
)

const (
	orgUCSF    = seedenv.OrgUCSF
	orgUCSFMC  = seedenv.OrgUCSFMC
	orgUrology = seedenv.OrgUrology
	orgUW      = seedenv.OrgUW
	orgOther   = seedenv.OrgOther
)

// ruleset builds a Ruleset: each intervention with its rules (JSON, in
// creation order), compiled and ordered as the store would.
func ruleset(t testing.TB, ivs []*Intervention, rules map[string][]string) *Ruleset {
	t.Helper()
	env := seedenv.Env{Interventions: []string{}}
	for _, iv := range ivs {
		env.Interventions = append(env.Interventions, iv.Name)
	}
	rs := &Ruleset{Interventions: ivs, Rules: map[string][]*strategy.Rule{}}
	for name, raws := range rules {
		var compiled []*strategy.Rule
		for _, raw := range raws {
			r, err := strategy.Compile([]byte(raw), env)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			compiled = append(compiled, r)
		}
		ordered, err := strategy.Order(compiled)
		if err != nil {
			t.Fatal(err)
		}
		rs.Rules[name] = ordered
	}
	return rs
}

func seedRule(t testing.TB, file string) string {
	t.Helper()
	b, err := os.ReadFile("strategy/testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// person builds Facts.
type person struct {
	orgs  []int64
	roles []string
	obs   map[string]bool
	tx    bool
	rows  map[string]Access
}

func (p person) facts() *Facts {
	f := NewFacts(7)
	for _, o := range p.orgs {
		f.Orgs[o] = true
	}
	for _, r := range p.roles {
		f.Roles[r] = true
	}
	for k, v := range p.obs {
		f.Observations[k] = v
	}
	f.TxBegun = p.tx
	for name, a := range p.rows {
		f.Rows[name] = &UserIntervention{Intervention: name, UserID: 7, Access: a}
	}
	return f
}

// seedRuleset is seed 001's interventions: sexual_recovery (granted by a
// row), decision_support_p3p (the seed's full P3P rule), ucsf_portal (the
// seed's UCSF rule), uw_support (the seed's combined example), care_plan
// (public, no rules) and tx_followup (treatment begun, by procedure).
func seedRuleset(t testing.TB) *Ruleset {
	ivs := []*Intervention{
		{Name: "sexual_recovery", DisplayRank: 1, CardHTML: "<p>sr</p>", LinkURL: "https://sr.example.org/"},
		{Name: "decision_support_p3p", DisplayRank: 2, CardHTML: "<p>p3p</p>", LinkLabel: "Open",
			LinkURL: "https://p3p.example.org/", StatusText: "ready"},
		{Name: "ucsf_portal", DisplayRank: 3},
		{Name: "uw_support", DisplayRank: 4},
		{Name: "care_plan", DisplayRank: 5, PublicAccess: true, LinkURL: "https://cp.example.org/"},
		{Name: "tx_followup", DisplayRank: 6},
	}
	return ruleset(t, ivs, map[string][]string{
		"decision_support_p3p": {seedRule(t, "seed_p3p.fixed.json")},
		"ucsf_portal":          {seedRule(t, "seed_ucsf.fixed.json")},
		"uw_support":           {seedRule(t, "seed_not_in_sr_and_uw.fixed.json")},
		"tx_followup": {`{"name":"treated","rank":2,"function_details":{"function":"tx_begun","kwargs":[{"name":"boolean_value","value":"true"}]}}`,
			`{"name":"clinicians","rank":1,"function_details":{"function":"in_role_list","kwargs":[{"name":"role_list","value":["clinician"]}]}}`},
	})
}

var localized = map[string]bool{"treatment begun": false, "PCa localized diagnosis": true}

// TestSeedDecisions is the people × rules × expected access table from
// seed 001's text; display_for_user and quick_access_check (each with a
// fresh Decider, so neither reuses the other's answers) agree on every row.
func TestSeedDecisions(t *testing.T) {
	rs := seedRuleset(t)
	names := []string{"sexual_recovery", "decision_support_p3p", "ucsf_portal", "uw_support", "care_plan", "tx_followup"}
	cases := []struct {
		name string
		p    person
		want []bool // in names' order
	}{
		{"UCSF urology patient, localized, no treatment", person{orgs: []int64{orgUrology}, obs: localized},
			[]bool{false, true, true, false, true, false}},
		{"same after treatment began (observation)", person{orgs: []int64{orgUrology},
			obs: map[string]bool{"treatment begun": true, "PCa localized diagnosis": true}},
			[]bool{false, false, true, false, true, false}},
		{"same with a treatment-started procedure", person{orgs: []int64{orgUrology}, obs: localized, tx: true},
			[]bool{false, true, true, false, true, true}},
		{"no observations at all", person{orgs: []int64{orgUrology}}, []bool{false, false, true, false, true, false}},
		{"granted sexual_recovery: P3P withdrawn", person{orgs: []int64{orgUCSFMC}, obs: localized,
			rows: map[string]Access{"sexual_recovery": AccessGranted}}, []bool{true, false, true, false, true, false}},
		{"subscribed to sexual_recovery: not in it", person{orgs: []int64{orgUCSFMC}, obs: localized,
			rows: map[string]Access{"sexual_recovery": AccessSubscribed}}, []bool{false, true, true, false, true, false}},
		{"not localized", person{orgs: []int64{orgUCSFMC}, obs: map[string]bool{"treatment begun": false, "PCa localized diagnosis": false}},
			[]bool{false, false, true, false, true, false}},
		{"UW patient, localized, no treatment", person{orgs: []int64{orgUW}, obs: localized},
			[]bool{false, true, false, true, true, false}},
		{"UW patient in sexual_recovery", person{orgs: []int64{orgUW}, obs: localized,
			rows: map[string]Access{"sexual_recovery": AccessGranted}}, []bool{true, false, false, false, true, false}},
		{"other clinic", person{orgs: []int64{orgOther}, obs: localized}, []bool{false, true, false, false, true, false}},
		{"clinician, no clinic", person{roles: []string{"clinician"}}, []bool{false, false, false, false, true, true}},
		{"forbidden care_plan beats public_access", person{rows: map[string]Access{"care_plan": AccessForbidden}},
			[]bool{false, false, false, false, false, false}},
		{"forbidden beats a granting rule", person{orgs: []int64{orgUrology}, obs: localized, tx: true,
			rows: map[string]Access{"ucsf_portal": AccessForbidden, "tx_followup": AccessForbidden, "decision_support_p3p": AccessForbidden}},
			[]bool{false, false, false, false, true, false}},
		{"forbidden sexual_recovery is not being in it", person{orgs: []int64{orgUW}, obs: localized,
			rows: map[string]Access{"sexual_recovery": AccessForbidden}}, []bool{false, true, false, true, true, false}},
		{"granted row without any rule", person{rows: map[string]Access{"ucsf_portal": AccessGranted}},
			[]bool{false, false, true, false, true, false}},
		{"subscribed grants no display", person{rows: map[string]Access{"ucsf_portal": AccessSubscribed}},
			[]bool{false, false, false, false, true, false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := c.p.facts()
			cards := NewDecider(rs, f).Cards(nil, nil)
			for i, name := range names {
				if cards[i].Intervention.Name != name {
					t.Fatalf("card %d is %s, want %s (display order)", i, cards[i].Intervention.Name, name)
				}
				quick := NewDecider(rs, f).QuickAccessCheck(i)
				if cards[i].Access != quick {
					t.Errorf("%s: display_for_user %v, quick_access_check %v", name, cards[i].Access, quick)
				}
				if cards[i].Access != c.want[i] {
					t.Errorf("%s: access %v, want %v (stage %s)", name, cards[i].Access, c.want[i], cards[i].Stage)
				}
			}
		})
	}
}

// TestDisplayDetails: the row's display details override the
// intervention's where set; a card without access carries no link.
func TestDisplayDetails(t *testing.T) {
	rs := seedRuleset(t)
	f := person{orgs: []int64{orgUrology}, obs: localized}.facts()
	f.Rows["decision_support_p3p"] = &UserIntervention{Intervention: "decision_support_p3p", Access: AccessSubscribed,
		CardHTML: "<p>yours</p>", LinkURL: "https://p3p.example.org/you", StatusText: ""}
	cards := NewDecider(rs, f).Cards(nil, nil)
	p3p := cards[1]
	want := Card{Intervention: rs.Interventions[1], Access: true, CardHTML: "<p>yours</p>", LinkLabel: "Open",
		LinkURL: "https://p3p.example.org/you", StatusText: "ready", UserAccess: AccessSubscribed, Stage: StageStrategy}
	if p3p != want {
		t.Fatalf("card %+v, want %+v", p3p, want)
	}
	sr := cards[0]
	if sr.Access || sr.LinkURL != "" || sr.CardHTML != "<p>sr</p>" || sr.Stage != StagePublicAccess {
		t.Fatalf("card without access %+v", sr)
	}
}

// TestCardTrace: the trace of the seed's combined P3P rule names the
// stage, the rule and each step, for a granted and a refused person; the
// other stages explain themselves.
func TestCardTrace(t *testing.T) {
	rs := seedRuleset(t)
	decide := func(p person) []CardTrace {
		var traces []CardTrace
		cards := NewDecider(rs, p.facts()).Cards(nil, &traces)
		for i := range cards {
			if cards[i].Access != traces[i].Access || cards[i].Stage != traces[i].Stage {
				t.Fatalf("card %+v, trace %+v", cards[i], traces[i])
			}
		}
		if _, err := json.Marshal(traces); err != nil {
			t.Fatal(err)
		}
		return traces
	}
	tr := decide(person{orgs: []int64{orgUrology}, obs: localized})[1]
	if !tr.Access || tr.Stage != StageStrategy || tr.Why != "strategy 1 (P3P Access Conditions) granted" || len(tr.Strategies) != 1 {
		t.Fatalf("granted trace %+v", tr)
	}
	var paths []string
	for _, s := range tr.Strategies[0].Steps {
		paths = append(paths, s.Path+"="+s.Function)
	}
	want := []string{"strategy_1=allow_if_not_in_intervention", "strategy_2/strategy_1=not_in_clinic_list",
		"strategy_2/strategy_2=limit_by_clinic_list", "strategy_2=combine_strategies",
		"strategy_3=observation_check", "strategy_4=observation_check", "=combine_strategies"}
	if !slices.Equal(paths, want) {
		t.Fatalf("steps %v, want %v", paths, want)
	}
	if s := tr.Strategies[0].Steps[0]; !s.Result || s.Why != "the person does not have access to sexual_recovery" {
		t.Fatalf("first step %+v", s)
	}

	tr = decide(person{orgs: []int64{orgUrology}, obs: map[string]bool{"treatment begun": true, "PCa localized diagnosis": true}})[1]
	if tr.Access || tr.Stage != StagePublicAccess || !strings.Contains(tr.Why, "public_access is false") ||
		len(tr.Strategies) != 1 || tr.Strategies[0].Result {
		t.Fatalf("refused trace %+v", tr)
	}
	steps := tr.Strategies[0].Steps
	if s := steps[len(steps)-2]; s.Path != "strategy_3" || s.Result || !strings.Contains(s.Why, `"treatment begun" is true`) {
		t.Fatalf("the step that refused: %+v", s)
	}

	// Ranked rules run first: tx_followup's rank 1 rule (clinicians) is
	// strategy 1 and its rank 2 rule (treated) strategy 2.
	tr = decide(person{tx: true})[5]
	if !tr.Access || tr.Why != "strategy 2 (treated) granted" || tr.Strategies[0].Name != "clinicians" || tr.Strategies[0].Result {
		t.Fatalf("ranked trace %+v", tr)
	}
	traces := decide(person{rows: map[string]Access{"care_plan": AccessForbidden, "ucsf_portal": AccessGranted,
		"uw_support": AccessSubscribed}})
	if tr := traces[4]; tr.Stage != StageUserRow || tr.Access || !strings.Contains(tr.Why, "forbidden") || len(tr.Strategies) != 0 {
		t.Fatalf("forbidden trace %+v", tr)
	}
	if tr := traces[2]; tr.Stage != StageUserRow || !tr.Access || len(tr.Strategies) != 1 {
		t.Fatalf("granted-row trace %+v", tr)
	}
	if tr := traces[3]; tr.Stage != StagePublicAccess || tr.Access || !strings.Contains(tr.Why, "subscribed") {
		t.Fatalf("subscribed trace %+v", tr)
	}
}

// TestCycleIsFinite: a cycle through allow_if_not_in_intervention is
// refused when rules are stored; should one reach a decision anyway, the
// decision still ends (the intervention being decided counts as no access
// where the cycle closes).
func TestCycleIsFinite(t *testing.T) {
	notIn := func(n string) string {
		return `{"name":"not in ` + n + `","function_details":{"function":"allow_if_not_in_intervention","kwargs":[{"name":"intervention_name","value":"` + n + `"}]}}`
	}
	rs := ruleset(t, []*Intervention{{Name: "a"}, {Name: "b"}}, map[string][]string{"a": {notIn("b")}, "b": {notIn("a")}})
	f := person{}.facts()
	var traces []CardTrace
	cards := NewDecider(rs, f).Cards(nil, &traces)
	if len(cards) != 2 || cards[0].Access || !cards[1].Access {
		t.Fatalf("cards %+v", cards)
	}
	if NewDecider(rs, f).QuickAccessCheck(1) {
		t.Fatal("b's quick check entered from b grants")
	}
}

// TestDecisionAllocations: deciding 50 cards without a trace allocates
// only the Decider (its memo and the engine's callback), never per card
// or per rule: the rules were compiled once, and the engine builds no
// trace text unless asked.
func TestDecisionAllocations(t *testing.T) {
	rs := BenchRuleset(t)
	f := person{orgs: []int64{orgUrology}, roles: []string{"patient"}, obs: localized}.facts()
	cards := make([]Card, 0, len(rs.Interventions))
	if n := testing.AllocsPerRun(20, func() { cards = NewDecider(rs, f).Cards(cards[:0], nil) }); n > 3 {
		t.Fatalf("%v allocations per decision of 50 cards, want at most 3", n)
	}
}
