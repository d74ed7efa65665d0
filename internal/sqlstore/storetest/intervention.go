package storetest

import (
	"context"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/intervention"
)

// fullIntervention sets every stored field.
func fullIntervention(name string, rank int) *intervention.Intervention {
	return &intervention.Intervention{
		Name: name, Description: "Decision support " + name, CardHTML: "<p>Card <b>" + name + "</b></p>",
		LinkLabel: "Open " + name, LinkURL: "https://app.example.org/" + name, StatusText: "Ready",
		PublicAccess: false, DisplayRank: rank,
		CreatedAt: micro(base), UpdatedAt: micro(base.Add(time.Hour)),
	}
}

func testInterventionRoundTrip(t *testing.T, b Backend) {
	ctx := t.Context()
	iv := fullIntervention("decision_support_p3p", 7)
	iv.CreatedAt = base.In(time.FixedZone("X", 3600))
	must(t, b.Interventions.CreateIntervention(ctx, iv), "create")
	if iv.ID == 0 || iv.Version != 1 {
		t.Fatalf("after create id %d version %d", iv.ID, iv.Version)
	}
	want := fullIntervention("decision_support_p3p", 7)
	want.ID, want.Version = iv.ID, 1
	mustEqual(t, iv, want, "intervention after create")
	got, err := b.Interventions.GetIntervention(ctx, iv.Name)
	must(t, err, "get")
	mustEqual(t, got, want, "intervention read back")

	_, err = b.Interventions.GetIntervention(ctx, "missing")
	wantKind(t, err, apperr.NotFound, "get missing")
	wantKind(t, b.Interventions.CreateIntervention(ctx, fullIntervention("decision_support_p3p", 1)), apperr.Conflict, "duplicate name")
	for _, bad := range []string{"a\x00b", "a\xffb"} {
		x := fullIntervention("bad_text", 1)
		x.CardHTML = bad
		wantKind(t, b.Interventions.CreateIntervention(ctx, x), apperr.Invalid, "bad text")
		_, err := b.Interventions.GetIntervention(ctx, bad)
		wantKind(t, err, apperr.Invalid, "get with bad text")
	}
	_, err = b.Interventions.GetIntervention(ctx, "bad_text")
	wantKind(t, err, apperr.NotFound, "a refused create wrote nothing")

	// Update writes every field but the name, under the version.
	got.Description, got.CardHTML, got.LinkLabel, got.LinkURL = "d2", "<i>c2</i>", "l2", "https://x.example.org/2"
	got.StatusText, got.PublicAccess, got.DisplayRank = "s2", true, -3
	got.UpdatedAt = micro(base.Add(2 * time.Hour))
	must(t, b.Interventions.UpdateIntervention(ctx, got), "update")
	if got.Version != 2 {
		t.Fatalf("version after update %d", got.Version)
	}
	again, err := b.Interventions.GetIntervention(ctx, got.Name)
	must(t, err, "get after update")
	mustEqual(t, again, got, "intervention after update")
	stale := *again
	stale.Version = 1
	wantKind(t, b.Interventions.UpdateIntervention(ctx, &stale), apperr.Conflict, "stale version")
	missing := fullIntervention("missing", 1)
	missing.Version = 1
	wantKind(t, b.Interventions.UpdateIntervention(ctx, missing), apperr.NotFound, "update missing")
}

func testInterventionList(t *testing.T, b Backend) {
	ctx := t.Context()
	ivs, err := b.Interventions.ListInterventions(ctx)
	must(t, err, "list empty")
	if len(ivs) != 0 {
		t.Fatalf("fresh database lists %d interventions", len(ivs))
	}
	for _, x := range []struct {
		name string
		rank int
	}{{"care_plan", 2}, {"sexual_recovery", 1}, {"assessment_engine", 2}} {
		must(t, b.Interventions.CreateIntervention(ctx, fullIntervention(x.name, x.rank)), "create "+x.name)
	}
	ivs, err = b.Interventions.ListInterventions(ctx)
	must(t, err, "list")
	var names []string
	for _, iv := range ivs {
		names = append(names, iv.Name)
	}
	mustEqual(t, names, []string{"sexual_recovery", "assessment_engine", "care_plan"}, "order by rank then name")
}

// testInterventionClient: the client naming an intervention is the one that
// acts for it; a second client may not name it; deleting the intervention
// unlinks the client and removes the per-user rows.
func testInterventionClient(t *testing.T, b Backend) {
	ctx := t.Context()
	owner := newUser(t, b, "dev@example.org")
	patient := newUser(t, b, "p@example.org")
	must(t, b.Interventions.CreateIntervention(ctx, fullIntervention("care_plan", 1)), "create")
	must(t, b.EnrollIntervention(ctx, patient.ID, "care_plan"), "enroll")
	c := fullClient(1, owner.ID, "care_plan")
	must(t, b.Clients.CreateClient(ctx, c), "client")
	iv, err := b.Interventions.GetIntervention(ctx, "care_plan")
	must(t, err, "get")
	if iv.ClientID != c.ID {
		t.Fatalf("client of the intervention %q, want %q", iv.ClientID, c.ID)
	}
	wantKind(t, b.Clients.CreateClient(ctx, fullClient(2, owner.ID, "care_plan")), apperr.Conflict, "second client for one intervention")

	must(t, b.Interventions.DeleteIntervention(ctx, "care_plan"), "delete")
	wantKind(t, b.Interventions.DeleteIntervention(ctx, "care_plan"), apperr.NotFound, "delete again")
	cl, err := b.Clients.GetClient(ctx, c.ID)
	must(t, err, "client after delete")
	if cl.Intervention != "" {
		t.Fatalf("client still names deleted intervention %q", cl.Intervention)
	}
	shared, err := b.Directory.SharedIntervention(ctx, patient.ID, patient.ID)
	must(t, err, "shared")
	if shared {
		t.Fatal("the per-user row outlived its intervention")
	}
}

// testUserIntervention: a person's row round-trips every field, a second
// put replaces it, and rows for unknown people, unknown interventions or
// an access outside the three values are refused.
func testUserIntervention(t *testing.T, b Backend) {
	ctx := t.Context()
	p := newUser(t, b, "p@example.org")
	must(t, b.Interventions.CreateIntervention(ctx, fullIntervention("care_plan", 1)), "create")
	_, err := b.Interventions.GetUserIntervention(ctx, "care_plan", p.ID)
	wantKind(t, err, apperr.NotFound, "no row yet")
	ui := &intervention.UserIntervention{Intervention: "care_plan", UserID: p.ID, Access: intervention.AccessSubscribed,
		CardHTML: "<p>c</p>", LinkLabel: "l", LinkURL: "https://app.example.org/x", StatusText: "s", StaffHTML: "<i>st</i>",
		UpdatedAt: base}
	must(t, b.Interventions.PutUserIntervention(ctx, ui), "put")
	got, err := b.Interventions.GetUserIntervention(ctx, "care_plan", p.ID)
	must(t, err, "get")
	want := *ui
	want.UpdatedAt = micro(base)
	mustEqual(t, got, &want, "row read back")
	ui.Access, ui.CardHTML, ui.StaffHTML = intervention.AccessForbidden, "", ""
	must(t, b.Interventions.PutUserIntervention(ctx, ui), "put again")
	got, err = b.Interventions.GetUserIntervention(ctx, "care_plan", p.ID)
	must(t, err, "get again")
	if got.Access != intervention.AccessForbidden || got.CardHTML != "" || got.StaffHTML != "" || got.LinkLabel != "l" {
		t.Fatalf("replaced row %+v", got)
	}
	bad := *ui
	bad.Access = "maybe"
	wantKind(t, b.Interventions.PutUserIntervention(ctx, &bad), apperr.Invalid, "unknown access")
	bad = *ui
	bad.UserID = 99999
	wantKind(t, b.Interventions.PutUserIntervention(ctx, &bad), apperr.Invalid, "unknown user")
	bad = *ui
	bad.Intervention = "ghost"
	wantKind(t, b.Interventions.PutUserIntervention(ctx, &bad), apperr.Invalid, "unknown intervention")
	bad = *ui
	bad.StaffHTML = "a\x00b"
	wantKind(t, b.Interventions.PutUserIntervention(ctx, &bad), apperr.Invalid, "bad text")
	wantKind(t, b.Tx.InTx(ctx, func(ctx context.Context) error { return b.Interventions.LockUser(ctx, 99999) }), apperr.NotFound, "lock unknown user")
}
