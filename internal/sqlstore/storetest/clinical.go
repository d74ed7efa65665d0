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

// clinicalCases are the conformance cases of clinical.Store. The contract
// shared by both kinds of record (clinical.Records) is checked once,
// generically, on each; the round trips check what is a kind's own.
var clinicalCases = []struct {
	name string
	fn   func(t *testing.T, b Backend)
}{
	{"ObservationRoundTrip", testObservationRoundTrip},
	{"ObservationRefusals", observationRecords.refusals},
	{"ObservationUpdateAndDelete", observationRecords.updateAndDelete},
	{"ObservationListAndCount", observationRecords.listAndCount},
	{"ObservationScan", observationRecords.scan},
	{"ProcedureRoundTrip", testProcedureRoundTrip},
	{"ProcedureRefusals", procedureRecords.refusals},
	{"ProcedureUpdateAndDelete", procedureRecords.updateAndDelete},
	{"ProcedureListAndCount", procedureRecords.listAndCount},
	{"ProcedureScan", procedureRecords.scan},
	{"ClinicalPurgedUsers", testClinicalPurgedUsers},
}

// recordKind is what the shared cases need to know about one kind of
// clinical record, T.
type recordKind[T any, P clinical.Record[T]] struct {
	name    string // "observation"
	records func(clinical.Store) clinical.Records[T]
	// full returns a record with every field set (DeletedAt aside) and n
	// mixed into every string.
	full func(n int, patient, performer, recorder int64) *T
	// change changes every writable field of r but the performer.
	change func(r *T)
	// touch changes r's status, for an update that moves UpdatedAt.
	touch func(r *T)
}

var observationRecords = recordKind[clinical.Observation, *clinical.Observation]{
	name: "observation", records: clinical.Store.Observations, full: fullObservation,
	change: func(o *clinical.Observation) {
		o.Status = clinical.ObsCorrected
		o.Value = clinical.Value{Kind: clinical.ValueInteger, Integer: 7}
		o.Effective = clinical.Occurrence{Start: microPtr(base), End: microPtr(base.Add(time.Minute))}
	},
	touch: func(o *clinical.Observation) { o.Status = clinical.ObsCorrected },
}

var procedureRecords = recordKind[clinical.Procedure, *clinical.Procedure]{
	name: "procedure", records: clinical.Store.Procedures, full: fullProcedure,
	change: func(p *clinical.Procedure) {
		p.Status = clinical.ProcStopped
		p.Performed = clinical.Occurrence{DateTime: microPtr(base.Add(time.Minute))}
	},
	touch: func(p *clinical.Procedure) { p.Status = clinical.ProcOnHold },
}

func (k recordKind[T, P]) get(t *testing.T, b Backend, id int64) *T {
	t.Helper()
	r, err := k.records(b.Clinical).Get(t.Context(), id)
	must(t, err, "get "+k.name)
	return r
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
	return observationRecords.get(t, b, id)
}

func getProcedure(t *testing.T, b Backend, id int64) *clinical.Procedure {
	t.Helper()
	return procedureRecords.get(t, b, id)
}

func testObservationRoundTrip(t *testing.T, b Backend) {
	ctx := t.Context()
	pat, perf, rec := clinicalUsers(t, b)
	o := fullObservation(1, pat, perf, rec)
	// Unrounded times in another zone go in; microseconds, UTC come back.
	o.Issued = o.Issued.Add(789 * time.Nanosecond).In(time.FixedZone("X", -5*3600))
	must(t, b.Clinical.Observations().Create(ctx, o), "create")
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
		must(t, b.Clinical.Observations().Create(ctx, bare), fmt.Sprintf("create bare %d", i))
		mustEqual(t, getObservation(t, b, bare.ID), bare, fmt.Sprintf("bare observation %d read back", i))
	}

	bad := fullObservation(5, pat, perf, rec)
	bad.Status = "bogus"
	wantKind(t, b.Clinical.Observations().Create(ctx, bad), apperr.Invalid, "unknown status")
}

// refusals checks what Create refuses and that a rolled-back create leaves
// nothing behind.
func (k recordKind[T, P]) refusals(t *testing.T, b Backend) {
	ctx := t.Context()
	rs := k.records(b.Clinical)
	pat, perf, rec := clinicalUsers(t, b)
	_, err := rs.Get(ctx, 999999)
	wantKind(t, err, apperr.NotFound, "unknown "+k.name)
	wantKind(t, rs.Create(ctx, k.full(2, 999999, perf, rec)), apperr.Invalid, "unknown patient")
	wantKind(t, rs.Create(ctx, k.full(3, pat, 999999, rec)), apperr.Invalid, "unknown performer")
	wantKind(t, rs.Create(ctx, k.full(4, pat, perf, 999999)), apperr.Invalid, "unknown recorder")

	// A failed transaction leaves no record behind.
	boom := errors.New("boom")
	rolled := k.full(6, pat, perf, rec)
	err = b.Tx.InTx(ctx, func(ctx context.Context) error {
		must(t, rs.Create(ctx, rolled), "create in transaction")
		if _, err := rs.Get(ctx, *P(rolled).Head().ID); err != nil {
			t.Fatalf("%s not visible inside its transaction: %v", k.name, err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx returned %v, want the fn error", err)
	}
	_, err = rs.Get(ctx, *P(rolled).Head().ID)
	wantKind(t, err, apperr.NotFound, k.name+" of a rolled-back transaction")
}

func (k recordKind[T, P]) updateAndDelete(t *testing.T, b Backend) {
	ctx := t.Context()
	rs := k.records(b.Clinical)
	pat, perf, rec := clinicalUsers(t, b)
	r := k.full(1, pat, perf, rec)
	must(t, rs.Create(ctx, r), "create")
	rh := P(r).Head()
	id := *rh.ID
	stale := *r

	// Every writable field changes.
	up := k.full(7, pat, rec, rec)
	uh := P(up).Head()
	*uh.ID, *uh.Version = id, *rh.Version
	k.change(up)
	must(t, rs.Update(ctx, up), "update")
	if *uh.Version != 2 {
		t.Fatalf("version after update %d, want 2", *uh.Version)
	}
	got := k.get(t, b, id)
	mustEqual(t, got, up, k.name+" after update")
	if P(got).Head().UpdatedAt.Before(*rh.UpdatedAt) {
		t.Fatalf("UpdatedAt went back: %v before %v", *P(got).Head().UpdatedAt, *rh.UpdatedAt)
	}

	wantKind(t, rs.Update(ctx, &stale), apperr.Conflict, "stale update")
	missing := k.full(8, pat, perf, rec)
	*P(missing).Head().ID, *P(missing).Head().Version = 999999, 1
	wantKind(t, rs.Update(ctx, missing), apperr.NotFound, "update of a missing "+k.name)
	noPerformer := *got
	*P(&noPerformer).Head().PerformerID = 999999
	wantKind(t, rs.Update(ctx, &noPerformer), apperr.Invalid, "update to an unknown performer")

	wantKind(t, rs.Delete(ctx, id, 1, base), apperr.Conflict, "stale delete")
	wantKind(t, rs.Delete(ctx, 999999, 1, base), apperr.NotFound, "delete of a missing "+k.name)
	must(t, rs.Delete(ctx, id, 2, base.Add(time.Hour)), "delete")
	del := k.get(t, b, id)
	dh := P(del).Head()
	if *dh.Version != 3 || *dh.DeletedAt == nil || !(*dh.DeletedAt).Equal(micro(base.Add(time.Hour))) {
		t.Fatalf("deleted %s has version %d, deleted_at %v", k.name, *dh.Version, *dh.DeletedAt)
	}
	want := *got
	wh := P(&want).Head()
	*wh.Version, *wh.DeletedAt, *wh.UpdatedAt = 3, microPtr(base.Add(time.Hour)), *dh.UpdatedAt
	mustEqual(t, del, &want, "deleted "+k.name+" keeps its fields")
	wantKind(t, rs.Delete(ctx, id, 3, base), apperr.Conflict, "delete twice")
	again := *del
	*P(&again).Head().DeletedAt = nil
	wantKind(t, rs.Update(ctx, &again), apperr.Conflict, "update of a deleted "+k.name)
}

func (k recordKind[T, P]) listAndCount(t *testing.T, b Backend) {
	ctx := t.Context()
	rs := k.records(b.Clinical)
	pat, perf, rec := clinicalUsers(t, b)
	other := newUser(t, b, "other@example.org", "patient").ID
	var ids []int64
	for i := range 5 {
		r := k.full(i, pat, perf, rec)
		must(t, rs.Create(ctx, r), "create")
		ids = append(ids, *P(r).Head().ID)
		must(t, rs.Create(ctx, k.full(i, other, perf, rec)), "create other's")
	}
	must(t, rs.Delete(ctx, ids[2], 1, base), "delete one")
	wantIDs := []int64{ids[4], ids[3], ids[1], ids[0]} // newest first, deleted left out

	var seen []int64
	p := store.Page{Limit: 3}
	for pages := 0; ; pages++ {
		page, next, err := rs.List(ctx, pat, p)
		must(t, err, "list")
		for _, r := range page {
			h := P(r).Head()
			if *h.PatientID != pat {
				t.Fatalf("listed %s %d of patient %d", k.name, *h.ID, *h.PatientID)
			}
			seen = append(seen, *h.ID)
		}
		if next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		p.After = next
	}
	mustEqual(t, seen, wantIDs, k.name+" ids over pages")
	first, _, err := rs.List(ctx, pat, store.Page{Limit: 1})
	must(t, err, "list one")
	mustEqual(t, first[0], k.get(t, b, ids[4]), "listed "+k.name+" has every field")
	_, _, err = rs.List(ctx, pat, store.Page{After: "not a cursor!"})
	wantKind(t, err, apperr.Invalid, "malformed cursor")
	none, next, err := rs.List(ctx, 999999, store.Page{})
	must(t, err, "list unknown patient")
	if len(none) != 0 || next != "" {
		t.Fatalf("unknown patient has %d %ss, next %q", len(none), k.name, next)
	}

	for _, c := range []struct {
		patient int64
		want    int
	}{{pat, 4}, {other, 5}, {0, 9}, {999999, 0}} {
		n, err := rs.Count(ctx, c.patient)
		must(t, err, "count")
		if n != c.want {
			t.Fatalf("count of patient %d = %d, want %d", c.patient, n, c.want)
		}
	}
}

func (k recordKind[T, P]) scan(t *testing.T, b Backend) {
	ctx := t.Context()
	rs := k.records(b.Clinical)
	pat, perf, rec := clinicalUsers(t, b)
	// More rows than one batch, so the scan must continue across batches.
	const n = 520
	var all []*T
	must(t, b.Tx.InTx(ctx, func(ctx context.Context) error {
		for i := range n {
			r := k.full(i, pat, perf, rec)
			if err := rs.Create(ctx, r); err != nil {
				return err
			}
			all = append(all, r)
		}
		return nil
	}), "create many")
	id := func(r *T) int64 { return *P(r).Head().ID }
	must(t, rs.Delete(ctx, id(all[10]), 1, base), "delete one")

	scan := func(afterID int64, since time.Time) []int64 {
		t.Helper()
		var ids []int64
		must(t, rs.Scan(ctx, afterID, since, func(r *T) error {
			if P(r).Deleted() {
				t.Fatalf("scan returned deleted %s %d", k.name, id(r))
			}
			// fn may use the store while the scan runs.
			got, err := rs.Get(ctx, id(r))
			if err != nil {
				return err
			}
			mustEqual(t, r, got, "scanned "+k.name+" has every field")
			ids = append(ids, id(r))
			return nil
		}), "scan")
		return ids
	}
	var want []int64
	for i, r := range all {
		if i != 10 {
			want = append(want, id(r))
		}
	}
	mustEqual(t, scan(0, time.Time{}), want, "scan of everything in id order")
	mustEqual(t, scan(id(all[100]), time.Time{}), want[100:], "scan after an id")
	mustEqual(t, scan(id(all[n-1]), time.Time{}), []int64(nil), "scan after the last id")

	// Rows changed at or after since are the ones scanned.
	time.Sleep(2 * time.Millisecond) // let the clock move past the inserts
	up := k.get(t, b, id(all[5]))
	k.touch(up)
	must(t, rs.Update(ctx, up), "update")
	since := *P(up).Head().UpdatedAt
	var wantSince []int64
	for _, i := range want {
		if !P(k.get(t, b, i)).Head().UpdatedAt.Before(since) {
			wantSince = append(wantSince, i)
		}
	}
	if len(wantSince) >= len(want) {
		t.Fatalf("every row changed at or after %v; the since filter is not exercised", since)
	}
	mustEqual(t, scan(0, since), wantSince, "scan since the update")
	mustEqual(t, scan(id(all[5]), since), []int64(nil), "scan since, after the updated id")

	// fn's error stops the scan and is returned.
	boom := errors.New("boom")
	calls := 0
	err := rs.Scan(ctx, 0, time.Time{}, func(*T) error {
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
	must(t, b.Clinical.Procedures().Create(ctx, p), "create")
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
	must(t, b.Clinical.Procedures().Create(ctx, bare), "create bare")
	mustEqual(t, getProcedure(t, b, bare.ID), bare, "bare procedure read back")

	noTime := fullProcedure(5, pat, perf, rec)
	noTime.Performed = clinical.Occurrence{}
	wantKind(t, b.Clinical.Procedures().Create(ctx, noTime), apperr.Invalid, "no performed time")
}

func testClinicalPurgedUsers(t *testing.T, b Backend) {
	ctx := t.Context()
	pat, perf, rec := clinicalUsers(t, b)
	other := newUser(t, b, "other@example.org", "patient").ID
	o := fullObservation(1, pat, perf, rec)
	must(t, b.Clinical.Observations().Create(ctx, o), "create observation")
	p := fullProcedure(1, pat, perf, rec)
	must(t, b.Clinical.Procedures().Create(ctx, p), "create procedure")
	ko := fullObservation(2, other, perf, rec)
	must(t, b.Clinical.Observations().Create(ctx, ko), "create other's observation")
	kp := fullProcedure(2, other, perf, rec)
	must(t, b.Clinical.Procedures().Create(ctx, kp), "create other's procedure")

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
	_, err := b.Clinical.Observations().Get(ctx, o.ID)
	wantKind(t, err, apperr.NotFound, "observation of a purged patient")
	_, err = b.Clinical.Procedures().Get(ctx, p.ID)
	wantKind(t, err, apperr.NotFound, "procedure of a purged patient")
	getObservation(t, b, ko.ID)
	getProcedure(t, b, kp.ID)
	n, err := b.Clinical.Observations().Count(ctx, 0)
	must(t, err, "count")
	if n != 1 {
		t.Fatalf("%d observations left, want 1", n)
	}
}
