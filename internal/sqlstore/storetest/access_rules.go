package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/intervention"
)

var accessRuleCases = []struct {
	name string
	fn   func(t *testing.T, b Backend)
}{
	{"AccessRuleRoundTrip", testAccessRuleRoundTrip},
	{"AccessRuleRank", testAccessRuleRank},
	{"AccessRuleCascade", testAccessRuleCascade},
	{"RulesetVersion", testRulesetVersion},
	{"RuleRefs", testRuleRefs},
}

func intp(v int) *int { return &v }

// fullAccessRule sets every stored field; the details keep their spacing
// so a backend that re-encodes them is caught.
func fullAccessRule(iv, name string, rank *int) *intervention.AccessRule {
	return &intervention.AccessRule{Intervention: iv, Name: name, Description: "Who sees " + name, Rank: rank,
		Details:   json.RawMessage(`{"function": "in_role_list",  "kwargs": [{"name": "role_list", "value": ["patient"]}]}`),
		CreatedAt: micro(base), UpdatedAt: micro(base.Add(time.Minute))}
}

func testAccessRuleRoundTrip(t *testing.T, b Backend) {
	ctx := t.Context()
	must(t, b.Interventions.CreateIntervention(ctx, fullIntervention("care_plan", 1)), "intervention")
	r := fullAccessRule("care_plan", "patients", intp(3))
	must(t, b.Interventions.CreateAccessRule(ctx, r), "create")
	if r.ID == 0 || r.Version != 1 {
		t.Fatalf("after create id %d version %d", r.ID, r.Version)
	}
	want := fullAccessRule("care_plan", "patients", intp(3))
	want.ID, want.Version = r.ID, 1
	got, err := b.Interventions.GetAccessRule(ctx, r.ID)
	must(t, err, "get")
	mustEqual(t, got, want, "rule read back")
	unranked := fullAccessRule("care_plan", "anyone", nil)
	must(t, b.Interventions.CreateAccessRule(ctx, unranked), "create unranked")

	got.Name, got.Description, got.Rank = "patients 2", "d2", nil
	got.Details = json.RawMessage(`{"function":"tx_begun","kwargs":[{"name":"boolean_value","value":"false"}]}`)
	got.UpdatedAt = micro(base.Add(time.Hour))
	must(t, b.Interventions.UpdateAccessRule(ctx, got), "update")
	if got.Version != 2 {
		t.Fatalf("version after update %d", got.Version)
	}
	again, err := b.Interventions.GetAccessRule(ctx, got.ID)
	must(t, err, "get after update")
	mustEqual(t, again, got, "rule after update")
	stale := *again
	stale.Version = 1
	wantKind(t, b.Interventions.UpdateAccessRule(ctx, &stale), apperr.Conflict, "stale version")
	missing := *again
	missing.ID = 99999
	wantKind(t, b.Interventions.UpdateAccessRule(ctx, &missing), apperr.NotFound, "update missing")

	list, err := b.Interventions.ListAccessRules(ctx, "care_plan")
	must(t, err, "list")
	if len(list) != 2 || list[0].ID != r.ID || list[1].ID != unranked.ID {
		t.Fatalf("list %+v, want the two rules by id", list)
	}
	all, err := b.Interventions.ListAccessRules(ctx, "")
	must(t, err, "list all")
	if len(all) != 2 {
		t.Fatalf("list all holds %d rules", len(all))
	}

	wantKind(t, b.Interventions.CreateAccessRule(ctx, fullAccessRule("ghost", "x", nil)), apperr.Invalid, "unknown intervention")
	bad := fullAccessRule("care_plan", "a\x00b", nil)
	wantKind(t, b.Interventions.CreateAccessRule(ctx, bad), apperr.Invalid, "bad text")
	must(t, b.Interventions.DeleteAccessRule(ctx, r.ID), "delete")
	wantKind(t, b.Interventions.DeleteAccessRule(ctx, r.ID), apperr.NotFound, "delete again")
	_, err = b.Interventions.GetAccessRule(ctx, r.ID)
	wantKind(t, err, apperr.NotFound, "get deleted")
}

// testAccessRuleRank: a rank is unique within an intervention (the unique
// index), free across interventions, and any number of rules have none.
func testAccessRuleRank(t *testing.T, b Backend) {
	ctx := t.Context()
	for _, n := range []string{"care_plan", "sexual_recovery"} {
		must(t, b.Interventions.CreateIntervention(ctx, fullIntervention(n, 1)), "intervention "+n)
	}
	must(t, b.Interventions.CreateAccessRule(ctx, fullAccessRule("care_plan", "a", intp(1))), "first")
	wantKind(t, b.Interventions.CreateAccessRule(ctx, fullAccessRule("care_plan", "b", intp(1))), apperr.Conflict, "taken rank")
	must(t, b.Interventions.CreateAccessRule(ctx, fullAccessRule("sexual_recovery", "c", intp(1))), "same rank elsewhere")
	for _, n := range []string{"d", "e"} {
		must(t, b.Interventions.CreateAccessRule(ctx, fullAccessRule("care_plan", n, nil)), "unranked "+n)
	}
	second := fullAccessRule("care_plan", "f", intp(2))
	must(t, b.Interventions.CreateAccessRule(ctx, second), "second rank")
	second.Rank = intp(1)
	wantKind(t, b.Interventions.UpdateAccessRule(ctx, second), apperr.Conflict, "update to a taken rank")
}

// testAccessRuleCascade: deleting an intervention deletes its rules.
func testAccessRuleCascade(t *testing.T, b Backend) {
	ctx := t.Context()
	must(t, b.Interventions.CreateIntervention(ctx, fullIntervention("care_plan", 1)), "intervention")
	r := fullAccessRule("care_plan", "a", nil)
	must(t, b.Interventions.CreateAccessRule(ctx, r), "rule")
	must(t, b.Interventions.DeleteIntervention(ctx, "care_plan"), "delete intervention")
	_, err := b.Interventions.GetAccessRule(ctx, r.ID)
	wantKind(t, err, apperr.NotFound, "rule of a deleted intervention")
}

// testRulesetVersion: the version moves with every change a compiled
// ruleset depends on, and not with a refused or rolled-back one.
func testRulesetVersion(t *testing.T, b Backend) {
	ctx := t.Context()
	version := func() int64 {
		t.Helper()
		v, err := b.Interventions.RulesetVersion(ctx)
		must(t, err, "ruleset version")
		return v
	}
	moves := func(what string, fn func() error) {
		t.Helper()
		v := version()
		must(t, fn(), what)
		if after := version(); after <= v {
			t.Fatalf("%s did not move the ruleset version (%d -> %d)", what, v, after)
		}
	}
	owner := newUser(t, b, "dev@example.org")
	iv := fullIntervention("care_plan", 1)
	moves("create intervention", func() error { return b.Interventions.CreateIntervention(ctx, iv) })
	moves("update intervention", func() error { return b.Interventions.UpdateIntervention(ctx, iv) })
	c := fullClient(1, owner.ID, "care_plan")
	moves("a client naming the intervention", func() error { return b.Clients.CreateClient(ctx, c) })
	c.Intervention = ""
	moves("the client unlinked", func() error { return b.Clients.UpdateClient(ctx, c) })
	r := fullAccessRule("care_plan", "a", nil)
	moves("create rule", func() error { return b.Interventions.CreateAccessRule(ctx, r) })
	moves("update rule", func() error { return b.Interventions.UpdateAccessRule(ctx, r) })
	moves("delete rule", func() error { return b.Interventions.DeleteAccessRule(ctx, r.ID) })
	moves("lock rules", func() error {
		return b.Tx.InTx(ctx, func(ctx context.Context) error { return b.Interventions.LockAccessRules(ctx) })
	})
	org := fullOrg("Clinic", 0, "clinic")
	moves("create organization", func() error { return b.Directory.CreateOrganization(ctx, org) })
	org.Name = "Clinic renamed"
	moves("rename organization", func() error { return b.Directory.UpdateOrganization(ctx, org) })
	org.Identifiers = org.Identifiers[:1]
	moves("organization identifiers", func() error { return b.Directory.UpdateOrganization(ctx, org) })
	moves("delete organization", func() error { return b.Directory.DeleteOrganization(ctx, org.ID) })
	moves("delete intervention", func() error { return b.Interventions.DeleteIntervention(ctx, "care_plan") })

	v := version()
	wantKind(t, b.Interventions.CreateAccessRule(ctx, fullAccessRule("ghost", "x", nil)), apperr.Invalid, "refused rule")
	_ = b.Tx.InTx(ctx, func(ctx context.Context) error {
		must(t, b.Interventions.LockAccessRules(ctx), "lock")
		return apperr.New(apperr.Invalid, "roll back")
	})
	if after := version(); after != v {
		t.Fatalf("a refused write and a rollback moved the version (%d -> %d)", v, after)
	}
}

// testRuleRefs: every organization's name and every identifier.
func testRuleRefs(t *testing.T, b Backend) {
	ctx := t.Context()
	top := fullOrg("UCSF", 0, "ucsf")
	must(t, b.Directory.CreateOrganization(ctx, top), "top")
	child := fullOrg("UCSF Medical Center", top.ID, "ucsfmc")
	must(t, b.Directory.CreateOrganization(ctx, child), "child")
	orgs, err := b.Interventions.OrgRefs(ctx)
	must(t, err, "org refs")
	mustEqual(t, orgs, []intervention.OrgRef{{ID: top.ID, Name: "UCSF"}, {ID: child.ID, Name: "UCSF Medical Center"}}, "org refs")
	ids, err := b.Interventions.OrgIdentifierRefs(ctx)
	must(t, err, "identifier refs")
	var want []intervention.OrgIdentifierRef
	for _, o := range []*struct {
		id int64
		n  string
	}{{top.ID, "ucsf"}, {child.ID, "ucsfmc"}} {
		for _, i := range fullOrg("", 0, o.n).Identifiers {
			want = append(want, intervention.OrgIdentifierRef{OrgID: o.id, System: i.System, Value: i.Value})
		}
	}
	mustEqual(t, ids, want, "identifier refs")
}
