package intervention

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// benchRules are realistic access rules: the seed's three as written
// (repaired JSON), and the shapes the reference's deployments used.
var benchRules = []func(tb testing.TB) []string{
	func(tb testing.TB) []string { return []string{seedRule(tb, "seed_p3p.fixed.json")} },
	func(tb testing.TB) []string { return []string{seedRule(tb, "seed_ucsf.fixed.json")} },
	func(tb testing.TB) []string { return []string{seedRule(tb, "seed_not_in_sr_and_uw.fixed.json")} },
	func(testing.TB) []string {
		return []string{`{"name":"untreated patients","function_details":{"function":"combine_strategies","kwargs":[
			{"name":"strategy_1","value":"in_role_list"},{"name":"strategy_1_kwargs","value":[{"name":"role_list","value":["patient"]}]},
			{"name":"strategy_2","value":"tx_begun"},{"name":"strategy_2_kwargs","value":[{"name":"boolean_value","value":"false"}]}]}}`}
	},
	func(testing.TB) []string {
		return []string{`{"name":"p3p clinics","function_details":{"function":"limit_by_clinic_w_id","kwargs":[{"name":"identifier_value","value":"p3p"}]}}`}
	},
	func(testing.TB) []string {
		return []string{`{"name":"localized","function_details":{"function":"observation_check","kwargs":[
			{"name":"display","value":"PCa localized diagnosis"},{"name":"boolean_value","value":"true"}]}}`}
	},
	func(testing.TB) []string {
		return []string{`{"name":"not staff","rank":1,"function_details":{"function":"not_in_role_list","kwargs":[{"name":"role_list","value":["staff","admin"]}]}}`,
			`{"name":"treated","function_details":{"function":"tx_begun","kwargs":[{"name":"boolean_value","value":"true"}]}}`}
	},
}

// BenchRuleset is 50 interventions with realistic rules: sexual_recovery
// (which the P3P rules name) and 49 others cycling through benchRules,
// every fifth public. Exported (in a test file) for the store benchmark.
func BenchRuleset(tb testing.TB) *Ruleset {
	tb.Helper()
	ivs := []*Intervention{{Name: "sexual_recovery", DisplayRank: 0, CardHTML: "<p>sr</p>"}}
	rules := map[string][]string{}
	for i := 1; i < 50; i++ {
		name := fmt.Sprintf("app_%02d", i)
		ivs = append(ivs, &Intervention{Name: name, DisplayRank: i, PublicAccess: i%5 == 0, CardHTML: "<p>" + name + "</p>",
			LinkLabel: "Open", LinkURL: "https://" + name + ".example.org/", StatusText: "ready"})
		rules[name] = benchRules[i%len(benchRules)](tb)
	}
	return ruleset(tb, ivs, rules)
}

// benchPeople are n people spread over the seed's clinics, roles,
// observations, treatment and access rows (the same for every run).
func benchPeople(n int) []*Facts {
	r := rand.New(rand.NewPCG(1, 2))
	orgs := []int64{orgUCSF, orgUCSFMC, orgUrology, orgUW, orgOther}
	out := make([]*Facts, n)
	for i := range out {
		p := person{orgs: []int64{orgs[r.IntN(len(orgs))]}, roles: []string{"patient"}, tx: r.IntN(3) == 0,
			obs:  map[string]bool{"treatment begun": r.IntN(3) == 0, "PCa localized diagnosis": r.IntN(2) == 0},
			rows: map[string]Access{}}
		if r.IntN(20) == 0 {
			p.roles = []string{"staff"}
		}
		if r.IntN(4) == 0 {
			p.rows["sexual_recovery"] = AccessGranted
		}
		if r.IntN(10) == 0 {
			p.rows[fmt.Sprintf("app_%02d", 1+r.IntN(49))] = AccessForbidden
		}
		out[i] = p.facts()
	}
	return out
}

// BenchmarkDecideCards is one person's cards for 50 interventions once
// the facts are loaded: what GET /api/user/{id}/interventions spends on
// deciding (goal: under 50 µs).
func BenchmarkDecideCards(b *testing.B) {
	rs := BenchRuleset(b)
	f := person{orgs: []int64{orgUrology}, roles: []string{"patient"}, obs: localized}.facts()
	cards := make([]Card, 0, len(rs.Interventions))
	b.ReportAllocs()
	for b.Loop() {
		cards = NewDecider(rs, f).Cards(cards[:0], nil)
	}
	if !cards[1].Access {
		b.Fatal("the P3P card is not granted")
	}
}

// BenchmarkDecideCardsTrace is the same with ?trace=true.
func BenchmarkDecideCardsTrace(b *testing.B) {
	rs := BenchRuleset(b)
	f := person{orgs: []int64{orgUrology}, roles: []string{"patient"}, obs: localized}.facts()
	b.ReportAllocs()
	for b.Loop() {
		var traces []CardTrace
		NewDecider(rs, f).Cards(nil, &traces)
	}
}

// BenchmarkDecisions10k decides 50 interventions for each of 10,000
// people per op (500,000 decisions), reporting decisions per second and
// allocations per person.
func BenchmarkDecisions10k(b *testing.B) {
	rs := BenchRuleset(b)
	people := benchPeople(10_000)
	cards := make([]Card, 0, len(rs.Interventions))
	granted := 0
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		granted = 0
		for _, f := range people {
			cards = NewDecider(rs, f).Cards(cards[:0], nil)
			for i := range cards {
				if cards[i].Access {
					granted++
				}
			}
		}
	}
	elapsed := time.Since(start)
	decisions := float64(b.N) * float64(len(people)*len(rs.Interventions))
	b.ReportMetric(decisions/elapsed.Seconds(), "decisions/s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/decisions, "ns/decision")
	if granted == 0 {
		b.Fatal("nothing granted")
	}
}
