package intervention_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"ward/internal/actor"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/intervention"
	"ward/internal/testutil"
)

// replica is one ward process's services over a database handle of its
// own, as a second replica (or the CLI beside a server) has.
type replica struct {
	ivs *intervention.Service
	dir *directory.Service
	log *bytes.Buffer
}

type hasher struct{}

func (hasher) Hash(pw string) (string, error) { return "plain$" + pw, nil }

func newReplica(t *testing.T, url string) replica {
	t.Helper()
	st := testutil.NewStore(t, url)
	aud := audit.NewLog(audit.Deps{Store: st, Tx: st}, audit.Config{Version: "test"})
	dir := directory.NewService(directory.Deps{Store: st, Audit: aud, Hasher: hasher{}}, directory.Config{})
	var log bytes.Buffer
	ivs, err := intervention.NewService(intervention.Deps{Store: st, Tx: st, Directory: dir, Clients: st, Audit: aud},
		intervention.Config{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return replica{ivs: ivs, dir: dir, log: &log}
}

func ruleErrors(t *testing.T, r replica, name string) []string {
	t.Helper()
	rules, err := r.ivs.Rules(actor.System(context.Background()), name)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(rules))
	for i, x := range rules {
		out[i] = x.Error
	}
	return out
}

// TestRulesetAcrossReplicas: replica two's compiled rules follow changes
// made through replica one, through the database alone: an organization
// renamed or losing its identifier, an intervention deleted and created
// again. A broken rule fails closed (left out of the ruleset) and its
// error is listed; an unchanged database gives the very same ruleset.
func TestRulesetAcrossReplicas(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		one, two := newReplica(t, url), newReplica(t, url)
		ctx := actor.System(context.Background())
		clinic, err := one.dir.CreateOrganization(ctx, &directory.Organization{Name: "Clinic A",
			Identifiers: []directory.Identifier{{System: "http://example.org/clinics", Value: "a"}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"care_plan", "sexual_recovery"} {
			if _, err := one.ivs.Create(ctx, intervention.Intervention{Name: n}); err != nil {
				t.Fatal(err)
			}
		}
		add := func(raw string) int64 {
			t.Helper()
			r, err := one.ivs.AddRule(ctx, "care_plan", []byte(raw))
			if err != nil {
				t.Fatalf("add %s: %v", raw, err)
			}
			return r.ID
		}
		add(`{"name":"by name","function_details":{"function":"limit_by_clinic_list","kwargs":[{"name":"org_list","value":["Clinic A"]}]}}`)
		add(`{"name":"by id","function_details":{"function":"limit_by_clinic_w_id","kwargs":[{"name":"identifier_system","value":"http://example.org/clinics"},{"name":"identifier_value","value":"a"}]}}`)
		add(`{"name":"not in sr","rank":5,"function_details":{"function":"allow_if_not_in_intervention","kwargs":[{"name":"intervention_name","value":"sexual_recovery"}]}}`)

		rs, err := two.ivs.RulesetForTest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range rs.Rules["care_plan"] {
			names = append(names, r.Name)
		}
		if strings.Join(names, ",") != "not in sr,by name,by id" || len(rs.Broken) != 0 || len(rs.Interventions) != 2 {
			t.Fatalf("ruleset %v broken %v", names, rs.Broken)
		}
		// Concurrent callers of an unchanged database share one ruleset.
		var wg sync.WaitGroup
		got := make([]*intervention.Ruleset, 8)
		for i := range got {
			wg.Go(func() { got[i], _ = two.ivs.RulesetForTest(ctx) })
		}
		wg.Wait()
		for _, g := range got {
			if g != rs {
				t.Fatal("an unchanged database rebuilt the ruleset")
			}
		}

		clinic.Name = "Clinic B"
		if clinic, err = one.dir.UpdateOrganization(ctx, clinic); err != nil {
			t.Fatal(err)
		}
		if e := ruleErrors(t, two, "care_plan"); !strings.Contains(e[0], `no organization is named "Clinic A"`) || e[1] != "" || e[2] != "" {
			t.Fatalf("after the rename: %q", e)
		}
		if !strings.Contains(two.log.String(), "no longer compiles") || !strings.Contains(two.log.String(), "by name") {
			t.Fatalf("the broken rule was not logged: %s", two.log)
		}
		clinic.Identifiers = nil
		if _, err = one.dir.UpdateOrganization(ctx, clinic); err != nil {
			t.Fatal(err)
		}
		if e := ruleErrors(t, two, "care_plan"); !strings.Contains(e[1], "no organization has identifier") {
			t.Fatalf("after the identifier went: %q", e)
		}
		if err := one.ivs.Delete(ctx, "sexual_recovery"); err != nil {
			t.Fatal(err)
		}
		if e := ruleErrors(t, two, "care_plan"); !strings.Contains(e[2], `no intervention is named "sexual_recovery"`) {
			t.Fatalf("after the intervention went: %q", e)
		}
		rs2, err := two.ivs.RulesetForTest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rs2.Generation == rs.Generation || len(rs2.Rules["care_plan"]) != 0 || len(rs2.Broken) != 3 || len(rs2.Interventions) != 1 {
			t.Fatalf("broken rules must grant nothing: %+v", rs2)
		}
		if _, err := one.ivs.Create(ctx, intervention.Intervention{Name: "sexual_recovery"}); err != nil {
			t.Fatal(err)
		}
		if e := ruleErrors(t, two, "care_plan"); e[2] != "" {
			t.Fatalf("after the intervention returned: %q", e)
		}
	})
}

// TestRuleCycleRace: two replicas adding the two halves of a cycle at the
// same moment never both succeed: rule writers are serialised through the
// database, so the second sees the first's rule and is refused.
func TestRuleCycleRace(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		one, two := newReplica(t, url), newReplica(t, url)
		ctx := actor.System(context.Background())
		for _, n := range []string{"care_plan", "sexual_recovery"} {
			if _, err := one.ivs.Create(ctx, intervention.Intervention{Name: n}); err != nil {
				t.Fatal(err)
			}
		}
		link := func(to string) []byte {
			return []byte(`{"name":"not in ` + to + `","function_details":{"function":"allow_if_not_in_intervention",` +
				`"kwargs":[{"name":"intervention_name","value":"` + to + `"}]}}`)
		}
		for round := range 4 {
			var wg sync.WaitGroup
			var errA, errB error
			var a, b *intervention.AccessRule
			wg.Go(func() { a, errA = one.ivs.AddRule(ctx, "care_plan", link("sexual_recovery")) })
			wg.Go(func() { b, errB = two.ivs.AddRule(ctx, "sexual_recovery", link("care_plan")) })
			wg.Wait()
			if (errA == nil) == (errB == nil) {
				t.Fatalf("round %d: both or neither stored: %v / %v", round, errA, errB)
			}
			for _, err := range []error{errA, errB} {
				if err != nil && !strings.Contains(err.Error(), "cycle") {
					t.Fatalf("round %d: refused for another reason: %v", round, err)
				}
			}
			switch {
			case a != nil:
				if err := one.ivs.DeleteRule(ctx, "care_plan", a.ID); err != nil {
					t.Fatal(err)
				}
			case b != nil:
				if err := two.ivs.DeleteRule(ctx, "sexual_recovery", b.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkRuleset: the ruleset of 50 interventions, each with the seed's
// P3P rule, read while nothing changed (one version read) and built afresh
// (what the first decision after a change pays), on SQLite.
func BenchmarkRuleset(b *testing.B) {
	url := testutil.SQLiteURL(b)
	st := testutil.NewStore(b, url)
	aud := audit.NewLog(audit.Deps{Store: st, Tx: st}, audit.Config{Version: "bench"})
	dir := directory.NewService(directory.Deps{Store: st, Audit: aud, Hasher: hasher{}}, directory.Config{})
	newService := func() *intervention.Service {
		ivs, err := intervention.NewService(intervention.Deps{Store: st, Tx: st, Directory: dir, Clients: st, Audit: aud},
			intervention.Config{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		return ivs
	}
	ctx := actor.System(context.Background())
	ucsf, err := dir.CreateOrganization(ctx, &directory.Organization{Name: "UCSF"})
	if err != nil {
		b.Fatal(err)
	}
	for _, o := range []*directory.Organization{{Name: "UCSF Medical Center", PartOfID: ucsf.ID},
		{Name: "UW Medicine (University of Washington)"}} {
		if _, err := dir.CreateOrganization(ctx, o); err != nil {
			b.Fatal(err)
		}
	}
	p3p, err := os.ReadFile("strategy/testdata/seed_p3p.fixed.json")
	if err != nil {
		b.Fatal(err)
	}
	ivs := newService()
	if _, err := ivs.Create(ctx, intervention.Intervention{Name: "sexual_recovery"}); err != nil {
		b.Fatal(err)
	}
	for i := range 50 {
		name := "decision_support_" + strconv.Itoa(i)
		if _, err := ivs.Create(ctx, intervention.Intervention{Name: name}); err != nil {
			b.Fatal(err)
		}
		if _, err := ivs.AddRule(ctx, name, p3p); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("cached", func(b *testing.B) {
		if _, err := ivs.RulesetForTest(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ivs.RulesetForTest(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("build", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rs, err := newService().RulesetForTest(ctx)
			if err != nil || len(rs.Rules) != 50 {
				b.Fatalf("%v %d", err, len(rs.Rules))
			}
		}
	})
}
