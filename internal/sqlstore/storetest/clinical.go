package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/clinical"
	"ward/internal/store"
)

// clinicalCases are the conformance cases of clinical.Store.
var clinicalCases = []struct {
	name string
	fn   func(t *testing.T, b Backend)
}{
	{"ObservationRoundTrip", testObservationRoundTrip},
	{"ObservationUpdateAndDelete", testObservationUpdateAndDelete},
	{"ObservationListAndCount", testObservationListAndCount},
	{"ObservationScan", testObservationScan},
	{"ProcedureRoundTrip", testProcedureRoundTrip},
	{"ProcedureUpdateAndDelete", testProcedureUpdateAndDelete},
	{"ProcedureListAndCount", testProcedureListAndCount},
	{"ProcedureScan", testProcedureScan},
	{"ClinicalPurgedUsers", testClinicalPurgedUsers},
}

// fullObservation returns an observation with every field set (DeletedAt
// aside) and n mixed into every string; the value is a quantity.
func fullObservation(n int, patient, performer, recorder int64) *clinical.Observation {
	s := func(f string) string { return fmt.Sprintf(f, n) }
	return &clinical.Observation{
		PatientID: patient,
		Status:    clinical.ObsAmended,
		Code: []clinical.Coding{
			{System: "http://loinc.org", Code: s("8480-%d"), Display: s("Systolic %d")},
			{System: "http://snomed.info/sct", Code: s("27113001%d"), Display: "Body weight"},
		},
		Category: []clinical.Coding{{System: "http://terminology.hl7.org/CodeSystem/observation-category",
			Code: "vital-signs", Display: s("Vital Signs %d")}},
		Value: clinical.Value{Kind: clinical.ValueQuantity, Quantity: &clinical.Quantity{
			Value: s("12%d.50"), Unit: "mm[Hg]", System: "http://unitsofmeasure.org", Code: "mm[Hg]"}},
		Effective:   clinical.Occurrence{DateTime: microPtr(base.Add(time.Duration(n) * time.Hour))},
		Issued:      micro(base.Add(time.Duration(n)*time.Hour + time.Minute)),
		PerformerID: performer,
		CreatedBy:   recorder,
	}
}

// fullProcedure returns a procedure with every field set (DeletedAt aside);
// performed is a period with both ends.
func fullProcedure(n int, patient, performer, recorder int64) *clinical.Procedure {
	return &clinical.Procedure{
		PatientID: patient,
		Status:    clinical.ProcCompleted,
		Code: []clinical.Coding{
			{System: clinical.SNOMEDSystem, Code: fmt.Sprintf("17390700%d", n), Display: fmt.Sprintf("Radical prostatectomy %d", n)},
			{System: "http://example.org/local", Code: fmt.Sprintf("RP-%d", n)},
		},
		Performed: clinical.Occurrence{
			Start: microPtr(base.Add(time.Duration(n) * time.Hour)),
			End:   microPtr(base.Add(time.Duration(n)*time.Hour + 90*time.Minute)),
		},
		PerformerID: performer,
		CreatedBy:   recorder,
	}
}

// clinicalUsers creates a patient, a performer and a recorder.
func clinicalUsers(t *testing.T, b Backend) (patient, performer, recorder int64) {
	t.Helper()
	return newUser(t, b, "patient@example.org", "patient").ID, newUser(t, b, "dr@example.org", "clinician").ID,
		newUser(t, b, "nurse@example.org", "staff").ID
}

func getObservation(t *testing.T, b Backend, id int64) *clinical.Observation {
	t.Helper()
	o, err := b.Clinical.GetObservation(t.Context(), id)
	must(t, err, "get observation")
	return o
}

func getProcedure(t *testing.T, b Backend, id int64) *clinical.Procedure {
	t.Helper()
	p, err := b.Clinical.GetProcedure(t.Context(), id)
	must(t, err, "get procedure")
	return p
}

func testObservationRoundTrip(t *testing.T, b Backend) {
	ctx := t.Context()
	pat, perf, rec := clinicalUsers(t, b)
	o := fullObservation(1, pat, perf, rec)
	// Unrounded times in another zone go in; microseconds, UTC come back.
	o.Issued = o.Issued.Add(789 * time.Nanosecond).In(time.FixedZone("X", -5*3600))
	must(t, b.Clinical.CreateObservation(ctx, o), "create")
	if o.ID == 0 || o.Version != 1 || o.UpdatedAt.IsZero() {
		t.Fatalf("create set id %d, version %d, updated %v", o.ID, o.Version, o.UpdatedAt)
	}
	want := fullObservation(1, pat, perf, rec)
	want.ID, want.Version, want.UpdatedAt = o.ID, 1, o.UpdatedAt
	mustEqual(t, o, want, "observation after create")
	mustEqual(t, getObservation(t, b, o.ID), want, "observation read back")
	if o.UpdatedAt != micro(o.UpdatedAt) || o.UpdatedAt.Location() != time.UTC {
		t.Fatalf("UpdatedAt %v is not UTC microseconds", o.UpdatedAt)
	}

	// Every value form and a period survive; optional fields may be empty.
	values := []clinical.Value{
		{Kind: clinical.ValueConcept, Concept: []clinical.Coding{{System: "http://snomed.info/sct", Code: "373066001", Display: "Yes"}}},
		{Kind: clinical.ValueString, String: "fine, thanks — ünïcode"},
		{Kind: clinical.ValueBoolean, Boolean: true},
		{Kind: clinical.ValueBoolean},
		{Kind: clinical.ValueInteger, Integer: -42},
		{Kind: clinical.ValueQuantity, Quantity: &clinical.Quantity{Value: "0.000100"}},
		{},
	}
	for i, v := range values {
		bare := &clinical.Observation{PatientID: pat, Status: clinical.ObsFinal,
			Code:  []clinical.Coding{{System: "urn:s", Code: fmt.Sprint(i)}},
			Value: v, Issued: micro(base)}
		if i%2 == 0 {
			bare.Effective = clinical.Occurrence{Start: microPtr(base), End: microPtr(base.Add(time.Hour))}
		} else {
			bare.Effective = clinical.Occurrence{Start: microPtr(base)}
		}
		must(t, b.Clinical.CreateObservation(ctx, bare), fmt.Sprintf("create bare %d", i))
		mustEqual(t, getObservation(t, b, bare.ID), bare, fmt.Sprintf("bare observation %d read back", i))
	}

	_, err := b.Clinical.GetObservation(ctx, 999999)
	wantKind(t, err, apperr.NotFound, "unknown observation")
	wantKind(t, b.Clinical.CreateObservation(ctx, fullObservation(2, 999999, perf, rec)), apperr.Invalid, "unknown patient")
	wantKind(t, b.Clinical.CreateObservation(ctx, fullObservation(3, pat, 999999, rec)), apperr.Invalid, "unknown performer")
	wantKind(t, b.Clinical.CreateObservation(ctx, fullObservation(4, pat, perf, 999999)), apperr.Invalid, "unknown recorder")
	bad := fullObservation(5, pat, perf, rec)
	bad.Status = "bogus"
	wantKind(t, b.Clinical.CreateObservation(ctx, bad), apperr.Invalid, "unknown status")

	// A failed transaction leaves no observation behind.
	boom := errors.New("boom")
	rolled := fullObservation(6, pat, perf, rec)
	err = b.Tx.InTx(ctx, func(ctx context.Context) error {
		must(t, b.Clinical.CreateObservation(ctx, rolled), "create in transaction")
		if _, err := b.Clinical.GetObservation(ctx, rolled.ID); err != nil {
			t.Fatalf("observation not visible inside its transaction: %v", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx returned %v, want the fn error", err)
	}
	_, err = b.Clinical.GetObservation(ctx, rolled.ID)
	wantKind(t, err, apperr.NotFound, "observation of a rolled-back transaction")
}

func testObservationUpdateAndDelete(t *testing.T, b Backend) {
	ctx := t.Context()
	pat, perf, rec := clinicalUsers(t, b)
	o := fullObservation(1, pat, perf, rec)
	must(t, b.Clinical.CreateObservation(ctx, o), "create")
	stale := *o

	// Every writable field changes.
	up := fullObservation(7, pat, rec, rec)
	up.ID, up.Version = o.ID, o.Version
	up.Status = clinical.ObsCorrected
	up.Value = clinical.Value{Kind: clinical.ValueInteger, Integer: 7}
	up.Effective = clinical.Occurrence{Start: microPtr(base), End: microPtr(base.Add(time.Minute))}
	must(t, b.Clinical.UpdateObservation(ctx, up), "update")
	if up.Version != 2 {
		t.Fatalf("version after update %d, want 2", up.Version)
	}
	got := getObservation(t, b, o.ID)
	mustEqual(t, got, up, "observation after update")
	if got.UpdatedAt.Before(o.UpdatedAt) {
		t.Fatalf("UpdatedAt went back: %v before %v", got.UpdatedAt, o.UpdatedAt)
	}

	wantKind(t, b.Clinical.UpdateObservation(ctx, &stale), apperr.Conflict, "stale update")
	missing := fullObservation(8, pat, perf, rec)
	missing.ID, missing.Version = 999999, 1
	wantKind(t, b.Clinical.UpdateObservation(ctx, missing), apperr.NotFound, "update of a missing observation")
	noPatient := *got
	noPatient.PerformerID = 999999
	wantKind(t, b.Clinical.UpdateObservation(ctx, &noPatient), apperr.Invalid, "update to an unknown performer")

	wantKind(t, b.Clinical.DeleteObservation(ctx, o.ID, 1, base), apperr.Conflict, "stale delete")
	wantKind(t, b.Clinical.DeleteObservation(ctx, 999999, 1, base), apperr.NotFound, "delete of a missing observation")
	must(t, b.Clinical.DeleteObservation(ctx, o.ID, 2, base.Add(time.Hour)), "delete")
	del := getObservation(t, b, o.ID)
	if del.Version != 3 || del.DeletedAt == nil || !del.DeletedAt.Equal(micro(base.Add(time.Hour))) {
		t.Fatalf("deleted observation has version %d, deleted_at %v", del.Version, del.DeletedAt)
	}
	want := *got
	want.Version, want.DeletedAt, want.UpdatedAt = 3, microPtr(base.Add(time.Hour)), del.UpdatedAt
	mustEqual(t, del, &want, "deleted observation keeps its fields")
	wantKind(t, b.Clinical.DeleteObservation(ctx, o.ID, 3, base), apperr.Conflict, "delete twice")
	again := *del
	again.DeletedAt = nil
	wantKind(t, b.Clinical.UpdateObservation(ctx, &again), apperr.Conflict, "update of a deleted observation")
}

func testObservationListAndCount(t *testing.T, b Backend) {
	ctx := t.Context()
	pat, perf, rec := clinicalUsers(t, b)
	other := newUser(t, b, "other@example.org", "patient").ID
	var ids []int64
	for i := range 5 {
		o := fullObservation(i, pat, perf, rec)
		must(t, b.Clinical.CreateObservation(ctx, o), "create")
		ids = append(ids, o.ID)
		must(t, b.Clinical.CreateObservation(ctx, fullObservation(i, other, perf, rec)), "create other's")
	}
	must(t, b.Clinical.DeleteObservation(ctx, ids[2], 1, base), "delete one")
	wantIDs := []int64{ids[4], ids[3], ids[1], ids[0]} // newest first, deleted left out

	var seen []int64
	p := store.Page{Limit: 3}
	for pages := 0; ; pages++ {
		page, next, err := b.Clinical.ListObservations(ctx, pat, p)
		must(t, err, "list")
		for _, o := range page {
			if o.PatientID != pat {
				t.Fatalf("listed observation %d of patient %d", o.ID, o.PatientID)
			}
			seen = append(seen, o.ID)
		}
		if next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		p.After = next
	}
	mustEqual(t, seen, wantIDs, "observation ids over pages")
	first, _, err := b.Clinical.ListObservations(ctx, pat, store.Page{Limit: 1})
	must(t, err, "list one")
	mustEqual(t, first[0], getObservation(t, b, ids[4]), "listed observation has every field")
	_, _, err = b.Clinical.ListObservations(ctx, pat, store.Page{After: "not a cursor!"})
	wantKind(t, err, apperr.Invalid, "malformed cursor")
	none, next, err := b.Clinical.ListObservations(ctx, 999999, store.Page{})
	must(t, err, "list unknown patient")
	if len(none) != 0 || next != "" {
		t.Fatalf("unknown patient has %d observations, next %q", len(none), next)
	}

	for _, c := range []struct {
		patient int64
		want    int
	}{{pat, 4}, {other, 5}, {0, 9}, {999999, 0}} {
		n, err := b.Clinical.CountObservations(ctx, c.patient)
		must(t, err, "count")
		if n != c.want {
			t.Fatalf("count of patient %d = %d, want %d", c.patient, n, c.want)
		}
	}
}

func testObservationScan(t *testing.T, b Backend) {
	ctx := t.Context()
	pat, perf, rec := clinicalUsers(t, b)
	// More rows than one batch, so the scan must continue across batches.
	const n = 520
	var all []*clinical.Observation
	must(t, b.Tx.InTx(ctx, func(ctx context.Context) error {
		for i := range n {
			o := fullObservation(i, pat, perf, rec)
			if err := b.Clinical.CreateObservation(ctx, o); err != nil {
				return err
			}
			all = append(all, o)
		}
		return nil
	}), "create many")
	must(t, b.Clinical.DeleteObservation(ctx, all[10].ID, 1, base), "delete one")

	scan := func(afterID int64, since time.Time) []int64 {
		t.Helper()
		var ids []int64
		must(t, b.Clinical.ScanObservations(ctx, afterID, since, func(o *clinical.Observation) error {
			if o.Deleted() {
				t.Fatalf("scan returned deleted observation %d", o.ID)
			}
			// fn may use the store while the scan runs.
			if _, err := b.Clinical.GetObservation(ctx, o.ID); err != nil {
				return err
			}
			ids = append(ids, o.ID)
			return nil
		}), "scan")
		return ids
	}
	var want []int64
	for i, o := range all {
		if i != 10 {
			want = append(want, o.ID)
		}
	}
	mustEqual(t, scan(0, time.Time{}), want, "scan of everything in id order")
	mustEqual(t, scan(all[100].ID, time.Time{}), want[100:], "scan after an id")
	mustEqual(t, scan(all[n-1].ID, time.Time{}), []int64(nil), "scan after the last id")

	// Rows changed at or after since are the ones scanned.
	time.Sleep(2 * time.Millisecond) // let the clock move past the inserts
	up := getObservation(t, b, all[5].ID)
	up.Status = clinical.ObsCorrected
	must(t, b.Clinical.UpdateObservation(ctx, up), "update")
	since := up.UpdatedAt
	var wantSince []int64
	for _, id := range want {
		if !getObservation(t, b, id).UpdatedAt.Before(since) {
			wantSince = append(wantSince, id)
		}
	}
	if len(wantSince) >= len(want) {
		t.Fatalf("every row changed at or after %v; the since filter is not exercised", since)
	}
	mustEqual(t, scan(0, since), wantSince, "scan since the update")
	mustEqual(t, scan(all[5].ID, since), []int64(nil), "scan since, after the updated id")

	// fn's error stops the scan and is returned.
	boom := errors.New("boom")
	calls := 0
	err := b.Clinical.ScanObservations(ctx, 0, time.Time{}, func(*clinical.Observation) error {
		calls++
		return boom
	})
	if !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("scan returned %v after %d calls, want boom after 1", err, calls)
	}
}

func testProcedureRoundTrip(t *testing.T, b Backend) {
	ctx := t.Context()
	pat, perf, rec := clinicalUsers(t, b)
	p := fullProcedure(1, pat, perf, rec)
	start := p.Performed.Start.Add(123 * time.Nanosecond).In(time.FixedZone("Y", 3600))
	p.Performed.Start = &start
	must(t, b.Clinical.CreateProcedure(ctx, p), "create")
	if p.ID == 0 || p.Version != 1 || p.UpdatedAt.IsZero() {
		t.Fatalf("create set id %d, version %d, updated %v", p.ID, p.Version, p.UpdatedAt)
	}
	want := fullProcedure(1, pat, perf, rec)
	want.ID, want.Version, want.UpdatedAt = p.ID, 1, p.UpdatedAt
	mustEqual(t, p, want, "procedure after create")
	mustEqual(t, getProcedure(t, b, p.ID), want, "procedure read back")

	// A dateTime instead of a period; optional fields empty.
	bare := &clinical.Procedure{PatientID: pat, Status: clinical.ProcInProgress,
		Code:      []clinical.Coding{{System: clinical.SNOMEDSystem, Code: "26294005"}},
		Performed: clinical.Occurrence{DateTime: microPtr(base)}}
	must(t, b.Clinical.CreateProcedure(ctx, bare), "create bare")
	mustEqual(t, getProcedure(t, b, bare.ID), bare, "bare procedure read back")

	_, err := b.Clinical.GetProcedure(ctx, 999999)
	wantKind(t, err, apperr.NotFound, "unknown procedure")
	wantKind(t, b.Clinical.CreateProcedure(ctx, fullProcedure(2, 999999, perf, rec)), apperr.Invalid, "unknown patient")
	wantKind(t, b.Clinical.CreateProcedure(ctx, fullProcedure(3, pat, 999999, rec)), apperr.Invalid, "unknown performer")
	wantKind(t, b.Clinical.CreateProcedure(ctx, fullProcedure(4, pat, perf, 999999)), apperr.Invalid, "unknown recorder")
	noTime := fullProcedure(5, pat, perf, rec)
	noTime.Performed = clinical.Occurrence{}
	wantKind(t, b.Clinical.CreateProcedure(ctx, noTime), apperr.Invalid, "no performed time")

	boom := errors.New("boom")
	rolled := fullProcedure(6, pat, perf, rec)
	err = b.Tx.InTx(ctx, func(ctx context.Context) error {
		must(t, b.Clinical.CreateProcedure(ctx, rolled), "create in transaction")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx returned %v, want the fn error", err)
	}
	_, err = b.Clinical.GetProcedure(ctx, rolled.ID)
	wantKind(t, err, apperr.NotFound, "procedure of a rolled-back transaction")
}

func testProcedureUpdateAndDelete(t *testing.T, b Backend) {
	ctx := t.Context()
	pat, perf, rec := clinicalUsers(t, b)
	p := fullProcedure(1, pat, perf, rec)
	must(t, b.Clinical.CreateProcedure(ctx, p), "create")
	stale := *p

	up := fullProcedure(9, pat, rec, rec)
	up.ID, up.Version = p.ID, p.Version
	up.Status = clinical.ProcStopped
	up.Performed = clinical.Occurrence{DateTime: microPtr(base.Add(time.Minute))}
	must(t, b.Clinical.UpdateProcedure(ctx, up), "update")
	if up.Version != 2 {
		t.Fatalf("version after update %d, want 2", up.Version)
	}
	got := getProcedure(t, b, p.ID)
	mustEqual(t, got, up, "procedure after update")

	wantKind(t, b.Clinical.UpdateProcedure(ctx, &stale), apperr.Conflict, "stale update")
	missing := fullProcedure(8, pat, perf, rec)
	missing.ID, missing.Version = 999999, 1
	wantKind(t, b.Clinical.UpdateProcedure(ctx, missing), apperr.NotFound, "update of a missing procedure")

	wantKind(t, b.Clinical.DeleteProcedure(ctx, p.ID, 1, base), apperr.Conflict, "stale delete")
	wantKind(t, b.Clinical.DeleteProcedure(ctx, 999999, 1, base), apperr.NotFound, "delete of a missing procedure")
	must(t, b.Clinical.DeleteProcedure(ctx, p.ID, 2, base.Add(time.Hour)), "delete")
	del := getProcedure(t, b, p.ID)
	want := *got
	want.Version, want.DeletedAt, want.UpdatedAt = 3, microPtr(base.Add(time.Hour)), del.UpdatedAt
	mustEqual(t, del, &want, "deleted procedure keeps its fields")
	wantKind(t, b.Clinical.DeleteProcedure(ctx, p.ID, 3, base), apperr.Conflict, "delete twice")
	again := *del
	again.DeletedAt = nil
	wantKind(t, b.Clinical.UpdateProcedure(ctx, &again), apperr.Conflict, "update of a deleted procedure")
}

func testProcedureListAndCount(t *testing.T, b Backend) {
	ctx := t.Context()
	pat, perf, rec := clinicalUsers(t, b)
	other := newUser(t, b, "other@example.org", "patient").ID
	var ids []int64
	for i := range 4 {
		p := fullProcedure(i, pat, perf, rec)
		must(t, b.Clinical.CreateProcedure(ctx, p), "create")
		ids = append(ids, p.ID)
	}
	must(t, b.Clinical.CreateProcedure(ctx, fullProcedure(9, other, perf, rec)), "create other's")
	must(t, b.Clinical.DeleteProcedure(ctx, ids[1], 1, base), "delete one")

	page, next, err := b.Clinical.ListProcedures(ctx, pat, store.Page{Limit: 2})
	must(t, err, "list")
	mustEqual(t, []int64{page[0].ID, page[1].ID}, []int64{ids[3], ids[2]}, "first page, newest first")
	mustEqual(t, page[0], getProcedure(t, b, ids[3]), "listed procedure has every field")
	if next == "" {
		t.Fatal("no cursor after a full page")
	}
	page, next, err = b.Clinical.ListProcedures(ctx, pat, store.Page{Limit: 2, After: next})
	must(t, err, "list page 2")
	if len(page) != 1 || page[0].ID != ids[0] || next != "" {
		t.Fatalf("second page %d rows (next %q), want only procedure %d", len(page), next, ids[0])
	}
	for _, c := range []struct {
		patient int64
		want    int
	}{{pat, 3}, {other, 1}, {0, 4}} {
		n, err := b.Clinical.CountProcedures(ctx, c.patient)
		must(t, err, "count")
		if n != c.want {
			t.Fatalf("count of patient %d = %d, want %d", c.patient, n, c.want)
		}
	}
}

func testProcedureScan(t *testing.T, b Backend) {
	ctx := t.Context()
	pat, perf, rec := clinicalUsers(t, b)
	var all []*clinical.Procedure
	for i := range 6 {
		p := fullProcedure(i, pat, perf, rec)
		must(t, b.Clinical.CreateProcedure(ctx, p), "create")
		all = append(all, p)
	}
	must(t, b.Clinical.DeleteProcedure(ctx, all[0].ID, 1, base), "delete one")
	scan := func(afterID int64, since time.Time) []*clinical.Procedure {
		t.Helper()
		var out []*clinical.Procedure
		must(t, b.Clinical.ScanProcedures(ctx, afterID, since, func(p *clinical.Procedure) error {
			out = append(out, p)
			return nil
		}), "scan")
		return out
	}
	mustEqual(t, scan(0, time.Time{}), all[1:], "scan of everything with every field")
	mustEqual(t, scan(all[3].ID, time.Time{}), all[4:], "scan after an id")

	time.Sleep(2 * time.Millisecond)
	up := getProcedure(t, b, all[2].ID)
	up.Status = clinical.ProcOnHold
	must(t, b.Clinical.UpdateProcedure(ctx, up), "update")
	got := scan(0, up.UpdatedAt)
	for _, p := range got {
		if p.UpdatedAt.Before(up.UpdatedAt) {
			t.Fatalf("scan since %v returned procedure %d changed at %v", up.UpdatedAt, p.ID, p.UpdatedAt)
		}
	}
	if len(got) == 0 || len(got) == 5 {
		t.Fatalf("scan since the update returned %d procedures", len(got))
	}
	found := false
	for _, p := range got {
		found = found || p.ID == up.ID
	}
	if !found {
		t.Fatal("scan since the update left out the updated procedure")
	}
}

func testClinicalPurgedUsers(t *testing.T, b Backend) {
	ctx := t.Context()
	pat, perf, rec := clinicalUsers(t, b)
	other := newUser(t, b, "other@example.org", "patient").ID
	o := fullObservation(1, pat, perf, rec)
	must(t, b.Clinical.CreateObservation(ctx, o), "create observation")
	p := fullProcedure(1, pat, perf, rec)
	must(t, b.Clinical.CreateProcedure(ctx, p), "create procedure")
	ko := fullObservation(2, other, perf, rec)
	must(t, b.Clinical.CreateObservation(ctx, ko), "create other's observation")
	kp := fullProcedure(2, other, perf, rec)
	must(t, b.Clinical.CreateProcedure(ctx, kp), "create other's procedure")

	// Purging the performer and the recorder keeps the record, unattributed.
	must(t, b.Directory.PurgeUser(ctx, perf), "purge performer")
	must(t, b.Directory.PurgeUser(ctx, rec), "purge recorder")
	if g := getObservation(t, b, ko.ID); g.PerformerID != 0 || g.CreatedBy != 0 {
		t.Fatalf("observation keeps performer %d, recorder %d of purged users", g.PerformerID, g.CreatedBy)
	}
	if g := getProcedure(t, b, kp.ID); g.PerformerID != 0 || g.CreatedBy != 0 {
		t.Fatalf("procedure keeps performer %d, recorder %d of purged users", g.PerformerID, g.CreatedBy)
	}

	// Purging the patient takes their record with them, and nobody else's.
	must(t, b.Directory.PurgeUser(ctx, pat), "purge patient")
	_, err := b.Clinical.GetObservation(ctx, o.ID)
	wantKind(t, err, apperr.NotFound, "observation of a purged patient")
	_, err = b.Clinical.GetProcedure(ctx, p.ID)
	wantKind(t, err, apperr.NotFound, "procedure of a purged patient")
	getObservation(t, b, ko.ID)
	getProcedure(t, b, kp.ID)
	n, err := b.Clinical.CountObservations(ctx, 0)
	must(t, err, "count")
	if n != 1 {
		t.Fatalf("%d observations left, want 1", n)
	}
}
