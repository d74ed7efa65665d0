package strategy

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"ward/internal/testutil/seedenv"
)

// fakeEnv is seed 001's small directory (internal/testutil/seedenv).
type fakeEnv = seedenv.Env

const (
	orgUCSF    = seedenv.OrgUCSF
	orgUCSFMC  = seedenv.OrgUCSFMC
	orgUrology = seedenv.OrgUrology
	orgUW      = seedenv.OrgUW
	orgOther   = seedenv.OrgOther
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func compile(t *testing.T, raw string) *Rule {
	t.Helper()
	r, err := Compile([]byte(raw), fakeEnv{})
	if err != nil {
		t.Fatalf("compile %s: %v", raw, err)
	}
	return r
}

// person builds Facts.
type person struct {
	orgs  []int64
	roles []string
	obs   map[string]bool
	tx    bool
	in    []string // interventions the person has access to
}

func (p person) facts() *Facts {
	f := &Facts{Roles: map[string]bool{}, Orgs: map[int64]bool{}, Observations: p.obs, TxBegun: p.tx,
		InIntervention: func(n string) bool { return slices.Contains(p.in, n) }}
	for _, o := range p.orgs {
		f.Orgs[o] = true
	}
	for _, r := range p.roles {
		f.Roles[r] = true
	}
	return f
}

// TestSeedTextIsRefusedAsWritten: the seed's three examples are not valid
// JSON as written (testdata/README.md); the loader says why.
func TestSeedTextIsRefusedAsWritten(t *testing.T) {
	for _, name := range []string{"seed_ucsf.txt", "seed_not_in_sr_and_uw.txt", "seed_p3p.txt"} {
		_, err := Compile(read(t, name), fakeEnv{})
		if err == nil || !strings.Contains(err.Error(), "not valid JSON") {
			t.Errorf("%s: %v, want a JSON error", name, err)
		}
	}
}

// TestSeedRules is the people × rules × expected table from the seed's
// text: the P3P rule's description, the UCSF rule, the combined example.
func TestSeedRules(t *testing.T) {
	p3p, err := Compile(read(t, "seed_p3p.fixed.json"), fakeEnv{})
	if err != nil {
		t.Fatal(err)
	}
	ucsf, err := Compile(read(t, "seed_ucsf.fixed.json"), fakeEnv{})
	if err != nil {
		t.Fatal(err)
	}
	uw, err := Compile(read(t, "seed_not_in_sr_and_uw.fixed.json"), fakeEnv{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p3p.Depends, []string{"sexual_recovery"}) || p3p.Name != "P3P Access Conditions" {
		t.Fatalf("p3p compiled as %+v", p3p)
	}
	ok := map[string]bool{"treatment begun": false, "PCa localized diagnosis": true}
	cases := []struct {
		name           string
		p              person
		p3p, ucsf, uwr bool
	}{
		{"UCSF urology patient, localized, no treatment", person{orgs: []int64{orgUrology}, obs: ok}, true, true, false},
		{"same after treatment began (observation)", person{orgs: []int64{orgUrology},
			obs: map[string]bool{"treatment begun": true, "PCa localized diagnosis": true}}, false, true, false},
		{"no observations at all", person{orgs: []int64{orgUrology}}, false, true, false},
		{"in sexual_recovery", person{orgs: []int64{orgUCSFMC}, obs: ok, in: []string{"sexual_recovery"}}, false, true, false},
		{"not localized", person{orgs: []int64{orgUCSFMC},
			obs: map[string]bool{"treatment begun": false, "PCa localized diagnosis": false}}, false, true, false},
		{"UW patient, localized, no treatment", person{orgs: []int64{orgUW}, obs: ok}, true, false, true},
		{"UW patient in sexual_recovery", person{orgs: []int64{orgUW}, obs: ok, in: []string{"sexual_recovery"}}, false, false, false},
		{"other clinic (strategy_2's first branch)", person{orgs: []int64{orgOther}, obs: ok}, true, false, false},
		{"no clinic", person{obs: ok}, true, false, false},
	}
	for _, c := range cases {
		for _, x := range []struct {
			rule *Rule
			want bool
		}{{p3p, c.p3p}, {ucsf, c.ucsf}, {uw, c.uwr}} {
			if got := x.rule.Eval(c.p.facts(), nil); got != x.want {
				t.Errorf("%s / %s: %v, want %v", c.name, x.rule.Name, got, x.want)
			}
		}
	}
}

// TestTrace: the trace of the P3P rule names each strategy, its
// arguments, result and why, for a granted and a refused person.
func TestTrace(t *testing.T) {
	p3p, err := Compile(read(t, "seed_p3p.fixed.json"), fakeEnv{})
	if err != nil {
		t.Fatal(err)
	}
	var tr Trace
	ok := map[string]bool{"treatment begun": false, "PCa localized diagnosis": true}
	if !p3p.Eval(person{orgs: []int64{orgUrology}, obs: ok}.facts(), &tr) {
		t.Fatal("not granted")
	}
	var paths []string
	for _, s := range tr.Steps {
		paths = append(paths, s.Path+"="+s.Function)
	}
	want := []string{"strategy_1=allow_if_not_in_intervention", "strategy_2/strategy_1=not_in_clinic_list",
		"strategy_2/strategy_2=limit_by_clinic_list", "strategy_2=combine_strategies",
		"strategy_3=observation_check", "strategy_4=observation_check", "=combine_strategies"}
	if !slices.Equal(paths, want) {
		t.Fatalf("trace %v, want %v", paths, want)
	}
	s3 := tr.Steps[4]
	if !s3.Result || s3.Args["display"] != "treatment begun" || s3.Args["boolean_value"] != "false" ||
		!strings.Contains(s3.Why, `newest observation of "treatment begun" is false`) {
		t.Fatalf("step 3 %+v", s3)
	}
	tr = Trace{}
	if p3p.Eval(person{orgs: []int64{orgUrology}, obs: map[string]bool{"treatment begun": true, "PCa localized diagnosis": true}}.facts(), &tr) {
		t.Fatal("granted after treatment")
	}
	last := tr.Steps[len(tr.Steps)-1]
	if last.Result || !strings.Contains(last.Why, "3 of 4") {
		t.Fatalf("refusal summarised as %+v", last)
	}
	if _, err := json.Marshal(tr); err != nil {
		t.Fatal(err)
	}
}

// TestFunctions covers each function's parameters and defaults.
func TestFunctions(t *testing.T) {
	f := func(fn, kw string) string {
		return `{"name":"r","function_details":{"function":"` + fn + `","kwargs":[` + kw + `]}}`
	}
	ucsfPatient := person{orgs: []int64{orgUrology}, roles: []string{"patient"}}
	cases := []struct {
		rule string
		p    person
		want bool
	}{
		{f("limit_by_clinic_w_id", `{"name":"identifier_value","value":"p3p"}`), ucsfPatient, true},
		{f("limit_by_clinic_w_id", `{"name":"identifier_value","value":"p3p"},{"name":"include_children","value":false}`), ucsfPatient, false},
		{f("limit_by_clinic_w_id", `{"name":"identifier_value","value":"p3p"},{"name":"combinator","value":"all"}`), ucsfPatient, false},
		{f("limit_by_clinic_w_id", `{"name":"identifier_value","value":"p3p"},{"name":"combinator","value":"all"}`),
			person{orgs: []int64{orgUCSFMC, orgUrology}}, true},
		{f("limit_by_clinic_w_id", `{"name":"identifier_value","value":"p3p"},{"name":"identifier_system","value":"`+DecisionSupportGroup+`"}`), ucsfPatient, true},
		{f("not_in_clinic_w_id", `{"name":"identifier_value","value":"p3p"}`), ucsfPatient, false},
		{f("not_in_clinic_w_id", `{"name":"identifier_value","value":"p3p"},{"name":"include_children","value":"false"}`), ucsfPatient, true},
		{f("in_role_list", `{"name":"role_list","value":["staff","patient"]}`), ucsfPatient, true},
		{f("not_in_role_list", `{"name":"role_list","value":["patient"]}`), ucsfPatient, false},
		{f("allow_if_not_in_intervention", `{"name":"intervention_name","value":"care_plan"}`), ucsfPatient, true},
		{f("allow_if_not_in_intervention", `{"name":"intervention_name","value":"care_plan"}`), person{in: []string{"care_plan"}}, false},
		{f("tx_begun", `{"name":"boolean_value","value":"true"}`), person{tx: true}, true},
		{f("tx_begun", `{"name":"boolean_value","value":"false"}`), person{tx: true}, false},
		{f("tx_begun", `{"name":"boolean_value","value":"false"}`), person{}, true},
		{f("observation_check", `{"name":"display","value":"treatment begun"},{"name":"boolean_value","value":"true"},{"name":"invert_logic","value":true}`), person{}, true},
		{f("observation_check", `{"name":"display","value":"treatment begun"},{"name":"boolean_value","value":"true"},{"name":"invert_logic","value":"true"}`),
			person{obs: map[string]bool{"treatment begun": true}}, false},
		{f("combine_strategies", `{"name":"combinator","value":"any"},{"name":"strategy_1","value":"tx_begun"},{"name":"strategy_1_kwargs","value":[{"name":"boolean_value","value":"true"}]},`+
			`{"name":"strategy_2","value":"in_role_list"},{"name":"strategy_2_kwargs","value":[{"name":"role_list","value":["patient"]}]}`), ucsfPatient, true},
	}
	for _, c := range cases {
		if got := compile(t, c.rule).Eval(c.p.facts(), nil); got != c.want {
			t.Errorf("%s: %v, want %v", c.rule, got, c.want)
		}
	}
	// Seven strategies (the reference stopped at six) and nesting to the limit.
	var kw []string
	for i := 1; i <= 7; i++ {
		n := itoa(i)
		kw = append(kw, `{"name":"strategy_`+n+`","value":"in_role_list"},{"name":"strategy_`+n+`_kwargs","value":[{"name":"role_list","value":["patient"]}]}`)
	}
	if !compile(t, f("combine_strategies", strings.Join(kw, ","))).Eval(ucsfPatient.facts(), nil) {
		t.Error("seven strategies")
	}
	if _, err := Compile([]byte(nested(MaxDepth)), fakeEnv{}); err != nil {
		t.Errorf("nesting %d deep: %v", MaxDepth, err)
	}
}

func itoa(i int) string { return string(rune('0' + i)) }

// nested is a rule of depth combine_strategies levels.
func nested(depth int) string {
	inner := `{"name":"strategy_1","value":"in_role_list"},{"name":"strategy_1_kwargs","value":[{"name":"role_list","value":["patient"]}]}`
	for d := 1; d < depth; d++ {
		inner = `{"name":"strategy_1","value":"combine_strategies"},{"name":"strategy_1_kwargs","value":[` + inner + `]}`
	}
	return `{"name":"deep","function_details":{"function":"combine_strategies","kwargs":[` + inner + `]}}`
}

// TestBadRules: each refusal the issue lists names the problem.
func TestBadRules(t *testing.T) {
	f := func(fn, kw string) string {
		return `{"name":"r","function_details":{"function":"` + fn + `","kwargs":[` + kw + `]}}`
	}
	cases := []struct{ rule, want string }{
		{f("eval", ``), `unknown function "eval"`},
		{f("in_role_list", `{"name":"role_list","value":"patient"}`), `"role_list" must be a list of strings`},
		{f("in_role_list", `{"name":"roles","value":["patient"]}`), `"role_list" is required`},
		{f("in_role_list", `{"name":"role_list","value":["patient"]},{"name":"extra","value":1}`), `unknown kwarg "extra"`},
		{f("in_role_list", `{"name":"role_list","value":["emperor"]}`), `no role is named "emperor"`},
		{f("tx_begun", `{"name":"boolean_value","value":"maybe"}`), `must be true or false`},
		{f("limit_by_clinic_list", `{"name":"org_list","value":["Nowhere"]}`), `no organization is named "Nowhere"`},
		{f("limit_by_clinic_w_id", `{"name":"identifier_value","value":"zzz"}`), `no organization has identifier`},
		{f("limit_by_clinic_w_id", `{"name":"identifier_value","value":"p3p"},{"name":"combinator","value":"most"}`), `combinator must be any or all`},
		{f("observation_check", `{"name":"display","value":"mood"},{"name":"boolean_value","value":"true"}`), `no observation concept has display "mood"`},
		{f("allow_if_not_in_intervention", `{"name":"intervention_name","value":"ghost"}`), `no intervention is named "ghost"`},
		{f("combine_strategies", `{"name":"strategy_1","value":"tx_begun"},{"name":"strategy_1_kwargs","value":[{"name":"boolean_value","value":"true"}]},{"name":"strategy_2_kwargs","value":[]}`),
			`strategy_2_kwargs is given without strategy_2`},
		{f("combine_strategies", `{"name":"strategy_1","value":"tx_begun"},{"name":"strategy_1_kwargs","value":[{"name":"boolean_value","value":"true"}]},{"name":"strategy_3","value":"tx_begun"}`),
			`strategy_2 is missing`},
		{f("combine_strategies", `{"name":"strategy_1","value":"tx_begun"},{"name":"strategy_1_kwargs","value":[{"name":"boolean_value","value":"true"}]},{"name":"strategy_0","value":"tx_begun"}`),
			`unknown kwarg "strategy_0"`},
		{f("combine_strategies", `{"name":"strategy_1","value":"nope"}`), `strategy_1: unknown function "nope"`},
		{f("combine_strategies", ``), `strategy_1 is required`},
		{f("in_role_list", `{"name":"role_list","value":["patient"]},{"name":"role_list","value":["staff"]}`), `given twice`},
		{nested(MaxDepth + 1), `nests deeper than`},
		{`{"name":"r","rank":-1,"function_details":{"function":"tx_begun","kwargs":[{"name":"boolean_value","value":true}]}}`, `rank must be`},
		{`{"function_details":{"function":"tx_begun","kwargs":[]}}`, `name is required`},
		{`{"name":"r"}`, `function_details is required`},
		{`{"name":"r","code":"x","function_details":{}}`, `not valid JSON of the expected shape`},
		{`{"name":"r\u0000","function_details":{}}`, `name is required`},
	}
	for _, c := range cases {
		_, err := Compile([]byte(c.rule), fakeEnv{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.rule, err, c.want)
		}
	}
}

func TestOrder(t *testing.T) {
	rule := func(name string, rank *int) *Rule { return &Rule{Name: name, Rank: rank} }
	got, err := Order([]*Rule{rule("u1", nil), rule("r5", ptr(5)), rule("u2", nil), rule("r1", ptr(1))})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range got {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, []string{"r1", "r5", "u1", "u2"}) {
		t.Fatalf("order %v", names)
	}
	if _, err := Order([]*Rule{rule("a", ptr(2)), rule("b", ptr(2))}); err == nil || !strings.Contains(err.Error(), "rank 2 is taken") {
		t.Fatalf("colliding ranks: %v", err)
	}
	grant := compile(t, `{"name":"g","function_details":{"function":"tx_begun","kwargs":[{"name":"boolean_value","value":"false"}]}}`)
	deny := compile(t, `{"name":"d","function_details":{"function":"tx_begun","kwargs":[{"name":"boolean_value","value":"true"}]}}`)
	var tr Trace
	if i := FirstGrant([]*Rule{deny, grant, deny}, person{}.facts(), &tr); i != 1 || len(tr.Steps) != 2 {
		t.Fatalf("first grant %d after %d steps", i, len(tr.Steps))
	}
}

// FuzzCompile: no input panics the loader, and a compiled rule evaluates.
func FuzzCompile(f *testing.F) {
	for _, n := range []string{"seed_p3p.fixed.json", "seed_ucsf.fixed.json", "seed_not_in_sr_and_uw.fixed.json", "seed_p3p.txt"} {
		b, err := os.ReadFile("testdata/" + n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(nested(MaxDepth + 1)))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := Compile(raw, fakeEnv{})
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		var tr Trace
		r.Eval(person{orgs: []int64{orgUrology}, roles: []string{"patient"}}.facts(), &tr)
		if len(tr.Steps) == 0 {
			t.Fatal("an evaluation left no trace")
		}
	})
}
