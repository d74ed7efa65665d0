package storetest

import (
	"testing"
	"time"

	"ward/internal/clinical"
	"ward/internal/intervention"
)

const truenthCodes = "http://us.truenth.org/clinical-codes"

// factObservation is a boolean observation of a TRUENTH concept.
func factObservation(patient int64, display string, v bool, effective, issued time.Time) *clinical.Observation {
	o := &clinical.Observation{PatientID: patient, Status: clinical.ObsFinal,
		Code:   []clinical.Coding{{System: truenthCodes, Code: display + "-code", Display: display}},
		Value:  clinical.Value{Kind: clinical.ValueBoolean, Boolean: v},
		Issued: micro(issued)}
	if !effective.IsZero() {
		o.Effective = clinical.Occurrence{DateTime: microPtr(effective)}
	}
	return o
}

func txProcedure(patient int64, code string, status string) *clinical.Procedure {
	return &clinical.Procedure{PatientID: patient, Status: status,
		Code:      []clinical.Coding{{System: clinical.SNOMEDSystem, Code: code, Display: "procedure " + code}},
		Performed: clinical.Occurrence{DateTime: microPtr(base)}}
}

// testInterventionFacts: LoadFacts reads roles, organizations and rows;
// the newest observation of a concept wins (effective time, then issued,
// then id), entered-in-error, cancelled and deleted ones are ignored, and
// only a live treatment-started Procedure makes TxBegun true.
func testInterventionFacts(t *testing.T, b Backend) {
	ctx := t.Context()
	p := newUser(t, b, "p@example.org", "patient", "staff")
	other := newUser(t, b, "other@example.org", "patient")
	top := newOrg(t, b, "UCSF", 0)
	clinic := newOrg(t, b, "UCSF Urology", top.ID)
	must(t, b.Directory.SetUserOrganizations(ctx, p.ID, []int64{clinic.ID}), "organizations")
	must(t, b.Interventions.CreateIntervention(ctx, fullIntervention("care_plan", 1)), "intervention")
	row := &intervention.UserIntervention{Intervention: "care_plan", UserID: p.ID, Access: intervention.AccessGranted,
		CardHTML: "<p>mine</p>", LinkLabel: "Go", LinkURL: "https://app.example.org/me", StatusText: "s", StaffHTML: "<i>x</i>",
		UpdatedAt: micro(base)}
	must(t, b.Interventions.PutUserIntervention(ctx, row), "row")

	f, err := b.Interventions.LoadFacts(ctx, p.ID)
	must(t, err, "load")
	mustEqual(t, f.Roles, map[string]bool{"patient": true, "staff": true}, "roles")
	mustEqual(t, f.Orgs, map[int64]bool{clinic.ID: true}, "organizations (the person's own)")
	mustEqual(t, f.Rows, map[string]*intervention.UserIntervention{"care_plan": row}, "rows")
	if f.TxBegun || len(f.Observations) != 0 {
		t.Fatalf("no clinical record yet: %+v", f)
	}

	obs := b.Clinical.Observations()
	create := func(o *clinical.Observation) int64 {
		t.Helper()
		must(t, obs.Create(ctx, o), "observation")
		return o.ID
	}
	h := func(n int) time.Time { return base.Add(time.Duration(n) * time.Hour) }
	// "treatment begun": the newest by effective time is false, though an
	// older-effective one was issued later.
	create(factObservation(p.ID, "treatment begun", true, h(1), h(50)))
	create(factObservation(p.ID, "treatment begun", false, h(2), h(3)))
	// "PCa localized diagnosis": equal effective times, the later issued wins.
	create(factObservation(p.ID, "PCa localized diagnosis", false, h(5), h(6)))
	create(factObservation(p.ID, "PCa localized diagnosis", true, h(5), h(7)))
	// "biopsy": no effective time, so the issued instant; equal, the higher id wins.
	create(factObservation(p.ID, "biopsy", false, time.Time{}, h(8)))
	create(factObservation(p.ID, "biopsy", true, time.Time{}, h(8)))
	// Newer but entered in error, cancelled or deleted: ignored.
	bad := factObservation(p.ID, "treatment begun", true, h(40), h(40))
	bad.Status = clinical.ObsEnteredInError
	create(bad)
	bad = factObservation(p.ID, "biopsy", false, h(40), h(40))
	bad.Status = clinical.ObsCancelled
	create(bad)
	gone := create(factObservation(p.ID, "PCa localized diagnosis", false, h(41), h(41)))
	must(t, obs.Delete(ctx, gone, 1, h(42)), "delete")
	// A newer observation without a boolean value leaves the concept absent.
	create(factObservation(p.ID, "mood", true, h(1), h(1)))
	text := factObservation(p.ID, "mood", false, h(2), h(2))
	text.Value = clinical.Value{Kind: clinical.ValueString, String: "fine"}
	create(text)
	// Other systems and other people are not this person's facts.
	foreign := factObservation(p.ID, "smoker", true, h(1), h(1))
	foreign.Code[0].System = "http://loinc.org"
	create(foreign)
	create(factObservation(other.ID, "treatment begun", true, h(90), h(90)))

	f, err = b.Interventions.LoadFacts(ctx, p.ID)
	must(t, err, "load with observations")
	mustEqual(t, f.Observations, map[string]bool{"treatment begun": false, "PCa localized diagnosis": true, "biopsy": true},
		"newest boolean observation per concept")

	// tx_begun: not-started, entered-in-error, not-done and deleted
	// procedures do not count; a completed radical prostatectomy does.
	procs := b.Clinical.Procedures()
	must(t, procs.Create(ctx, txProcedure(p.ID, clinical.TxNotStarted.Concepts[1].Code, clinical.ProcCompleted)), "surveillance")
	must(t, procs.Create(ctx, txProcedure(p.ID, "26294005", clinical.ProcEnteredInError)), "in error")
	must(t, procs.Create(ctx, txProcedure(p.ID, "26294005", clinical.ProcNotDone)), "not done")
	deleted := txProcedure(p.ID, "33195004", clinical.ProcCompleted)
	must(t, procs.Create(ctx, deleted), "radiotherapy")
	must(t, procs.Delete(ctx, deleted.ID, 1, h(3)), "delete radiotherapy")
	must(t, procs.Create(ctx, txProcedure(other.ID, "26294005", clinical.ProcCompleted)), "someone else's")
	f, err = b.Interventions.LoadFacts(ctx, p.ID)
	must(t, err, "load with procedures")
	if f.TxBegun || f.Observations["treatment begun"] {
		t.Fatal("treatment begun from a procedure that does not count")
	}
	must(t, procs.Create(ctx, txProcedure(p.ID, "26294005", clinical.ProcCompleted)), "prostatectomy")
	f, err = b.Interventions.LoadFacts(ctx, p.ID)
	must(t, err, "load after prostatectomy")
	// The procedure is also the "treatment begun" observation, over the
	// newer observation that said false.
	if !f.TxBegun || !f.Observations["treatment begun"] {
		t.Fatalf("a completed treatment-started procedure did not set treatment begun: %+v", f)
	}

	// An unknown person has no facts.
	f, err = b.Interventions.LoadFacts(ctx, 999999)
	must(t, err, "unknown person")
	mustEqual(t, f, intervention.NewFacts(999999), "facts of nobody")
}
