package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/bulk"
)

// exportCases are the conformance cases of bulk.Store.
var exportCases = []struct {
	name string
	fn   func(t *testing.T, b Backend)
}{
	{"ExportRoundTrip", testExportRoundTrip},
	{"ExportUpdateVersion", testExportUpdateVersion},
	{"ExportPatientsNilVersusEmpty", testExportPatientsNilVersusEmpty},
	{"ExportCountActive", testExportCountActive},
	{"ExportCountActiveSerialises", testExportCountActiveSerialises},
	{"ExportExpiredAndDelete", testExportExpiredAndDelete},
	{"ExportUserPurged", testExportUserPurged},
}

// fullExport returns an export with every field set, n mixed into the
// strings.
func fullExport(n int, client string, user int64) *bulk.Export {
	s := func(f string) string { return fmt.Sprintf(f, n) }
	return &bulk.Export{
		ID:              s("0b9f6c1e-0000-4000-8000-%012d"),
		ClientID:        client,
		UserID:          user,
		Level:           bulk.LevelGroup,
		GroupID:         s("org-%d"),
		Types:           []string{"Patient", "Observation"},
		Since:           micro(base.Add(-time.Hour)),
		TypeFilters:     []string{s("Observation?code=%d")},
		Patients:        []int64{int64(n), 7, 9},
		OutputFormat:    "application/fhir+ndjson",
		Status:          bulk.StatusInProgress,
		RequestURL:      s("https://ward.example/fhir/Group/org-%d/$export?_type=Patient"),
		TransactionTime: micro(base),
		Progress:        []bulk.TypeProgress{{Type: "Patient", Parts: 2, Lines: 200, LastKey: 4321, Done: true}},
		Output: []bulk.File{{Type: "Patient", Name: "Patient-1.ndjson", Key: s("exports/%d/Patient-1.ndjson"),
			Count: 100, Size: 12345}},
		Errors: []bulk.File{{Type: "OperationOutcome", Name: "OperationOutcome-Observation.ndjson",
			Key: s("exports/%d/OperationOutcome-Observation.ndjson"), Count: 1, Size: 99}},
		Failure:     s("failure %d"),
		CreatedAt:   micro(base.Add(-2 * time.Hour)),
		CompletedAt: micro(base.Add(time.Minute)),
		ExpiresAt:   micro(base.Add(24 * time.Hour)),
	}
}

func testExportRoundTrip(t *testing.T, b Backend) {
	ctx := t.Context()
	u := newUser(t, b, "exporter@example.org")
	e := fullExport(1, "client-a", u.ID)
	must(t, b.Exports.CreateExport(ctx, e), "create export")
	mustEqual(t, e.Version, int64(1), "version after create")
	got, err := b.Exports.GetExport(ctx, e.ID)
	must(t, err, "get export")
	mustEqual(t, got, e, "export round trip")

	wantKind(t, b.Exports.CreateExport(ctx, fullExport(1, "client-b", 0)), apperr.Conflict, "duplicate id")
	_, err = b.Exports.GetExport(ctx, "0b9f6c1e-ffff-4000-8000-000000000000")
	wantKind(t, err, apperr.NotFound, "unknown export")

	// The optional fields come back zero when not set.
	bare := &bulk.Export{ID: "bare", ClientID: "client-a", Level: bulk.LevelSystem, OutputFormat: "application/fhir+ndjson",
		Status: bulk.StatusAccepted, RequestURL: "https://ward.example/fhir/$export", CreatedAt: micro(base)}
	must(t, b.Exports.CreateExport(ctx, bare), "create bare export")
	got, err = b.Exports.GetExport(ctx, "bare")
	must(t, err, "get bare export")
	mustEqual(t, got, bare, "bare export round trip")
}

func testExportUpdateVersion(t *testing.T, b Backend) {
	ctx := t.Context()
	e := fullExport(2, "client-a", 0)
	e.Status, e.CompletedAt, e.ExpiresAt, e.TransactionTime, e.Failure = bulk.StatusAccepted, time.Time{}, time.Time{}, time.Time{}, ""
	e.Progress, e.Output, e.Errors = nil, nil, nil
	must(t, b.Exports.CreateExport(ctx, e), "create export")

	stale := *e
	e.Status = bulk.StatusCompleted
	e.TransactionTime = micro(base.Add(time.Second))
	e.Patients = []int64{3}
	e.Progress = []bulk.TypeProgress{{Type: "Observation", Parts: 1, Lines: 5, LastKey: 55}}
	e.Output = []bulk.File{{Type: "Observation", Name: "Observation-1.ndjson", Key: "exports/x/Observation-1.ndjson", Count: 5, Size: 500}}
	e.Errors = []bulk.File{{Type: "OperationOutcome", Name: "e.ndjson", Key: "exports/x/e.ndjson", Count: 1, Size: 10}}
	e.Failure = "none really"
	e.CompletedAt = micro(base.Add(time.Hour))
	e.ExpiresAt = micro(base.Add(25 * time.Hour))
	must(t, b.Exports.UpdateExport(ctx, e), "update export")
	mustEqual(t, e.Version, int64(2), "version after update")
	got, err := b.Exports.GetExport(ctx, e.ID)
	must(t, err, "get export")
	mustEqual(t, got, e, "updated export")

	// A writer holding the old version is refused and changes nothing.
	stale.Status = bulk.StatusCancelled
	wantKind(t, b.Exports.UpdateExport(ctx, &stale), apperr.Conflict, "stale update")
	mustEqual(t, stale.Version, int64(1), "stale version untouched")
	got, err = b.Exports.GetExport(ctx, e.ID)
	must(t, err, "get export after stale update")
	mustEqual(t, got, e, "export after stale update")

	must(t, b.Exports.DeleteExport(ctx, e.ID), "delete export")
	wantKind(t, b.Exports.UpdateExport(ctx, e), apperr.NotFound, "update of a deleted export")
}

func testExportPatientsNilVersusEmpty(t *testing.T, b Backend) {
	ctx := t.Context()
	all := fullExport(3, "client-a", 0)
	all.Patients = nil
	none := fullExport(4, "client-a", 0)
	none.Patients = []int64{}
	must(t, b.Exports.CreateExport(ctx, all), "create all-patients export")
	must(t, b.Exports.CreateExport(ctx, none), "create no-patients export")
	got, err := b.Exports.GetExport(ctx, all.ID)
	must(t, err, "get")
	if got.Patients != nil {
		t.Fatalf("every-patient export came back with patients %v", got.Patients)
	}
	got, err = b.Exports.GetExport(ctx, none.ID)
	must(t, err, "get")
	if got.Patients == nil || len(got.Patients) != 0 {
		t.Fatalf("no-patient export came back with patients %#v, want empty non-nil", got.Patients)
	}
	// And the same through an update.
	got.Patients = nil
	must(t, b.Exports.UpdateExport(ctx, got), "update to every patient")
	got, err = b.Exports.GetExport(ctx, none.ID)
	must(t, err, "get")
	if got.Patients != nil {
		t.Fatalf("after update, patients %v, want nil", got.Patients)
	}
}

func testExportCountActive(t *testing.T, b Backend) {
	ctx := t.Context()
	for i, st := range []bulk.Status{bulk.StatusAccepted, bulk.StatusInProgress, bulk.StatusCompleted,
		bulk.StatusFailed, bulk.StatusCancelled, bulk.StatusInProgress} {
		e := fullExport(10+i, "client-a", 0)
		e.Status = st
		must(t, b.Exports.CreateExport(ctx, e), "create export")
	}
	other := fullExport(20, "client-b", 0)
	other.Status = bulk.StatusAccepted
	must(t, b.Exports.CreateExport(ctx, other), "create other client's export")

	n, err := b.Exports.CountActiveExports(ctx, "client-a")
	must(t, err, "count")
	mustEqual(t, n, 3, "active exports of client-a")
	n, err = b.Exports.CountActiveExports(ctx, "client-c")
	must(t, err, "count")
	mustEqual(t, n, 0, "active exports of a client with none")
}

// Concurrent check-then-insert transactions for one client never let more
// exports through than the cap.
func testExportCountActiveSerialises(t *testing.T, b Backend) {
	ctx := t.Context()
	const cap, tries = 2, 6
	var wg sync.WaitGroup
	errs := make([]error, tries)
	for i := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.Tx.InTx(ctx, func(ctx context.Context) error {
				n, err := b.Exports.CountActiveExports(ctx, "client-cap")
				if err != nil {
					return err
				}
				if n >= cap {
					return apperr.New(apperr.RateLimited, "cap reached")
				}
				e := fullExport(100+i, "client-cap", 0)
				e.Status = bulk.StatusAccepted
				return b.Exports.CreateExport(ctx, e)
			})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case apperr.Is(err, apperr.RateLimited):
		default:
			t.Fatalf("kick-off transaction: %v", err)
		}
	}
	mustEqual(t, ok, cap, "exports let through")
	n, err := b.Exports.CountActiveExports(ctx, "client-cap")
	must(t, err, "count")
	mustEqual(t, n, cap, "active exports stored")
}

func testExportExpiredAndDelete(t *testing.T, b Backend) {
	ctx := t.Context()
	var ids []string
	for i, exp := range []time.Time{base.Add(2 * time.Hour), base.Add(time.Hour), {}, base.Add(3 * time.Hour), base} {
		e := fullExport(30+i, "client-a", 0)
		e.ExpiresAt = micro(exp)
		if exp.IsZero() {
			e.ExpiresAt = time.Time{}
		}
		must(t, b.Exports.CreateExport(ctx, e), "create export")
		ids = append(ids, e.ID)
	}
	got, err := b.Exports.ExpiredExports(ctx, base.Add(2*time.Hour), 10)
	must(t, err, "expired exports")
	var gotIDs []string
	for _, e := range got {
		gotIDs = append(gotIDs, e.ID)
	}
	mustEqual(t, gotIDs, []string{ids[4], ids[1], ids[0]}, "expired exports, oldest first (boundary included)")
	got, err = b.Exports.ExpiredExports(ctx, base.Add(2*time.Hour), 2)
	must(t, err, "expired exports with limit")
	mustEqual(t, len(got), 2, "limit")

	must(t, b.Exports.DeleteExport(ctx, ids[4]), "delete")
	must(t, b.Exports.DeleteExport(ctx, ids[4]), "delete again")
	_, err = b.Exports.GetExport(ctx, ids[4])
	wantKind(t, err, apperr.NotFound, "deleted export")
	got, err = b.Exports.ExpiredExports(ctx, base.Add(2*time.Hour), 10)
	must(t, err, "expired exports after delete")
	mustEqual(t, len(got), 2, "expired exports after delete")
}

// Purging the user behind an export keeps the export (it belongs to the
// client until it expires) without the user.
func testExportUserPurged(t *testing.T, b Backend) {
	ctx := t.Context()
	u := newUser(t, b, "purged-exporter@example.org")
	e := fullExport(40, "client-a", u.ID)
	must(t, b.Exports.CreateExport(ctx, e), "create export")
	must(t, b.Directory.PurgeUser(ctx, u.ID), "purge user")
	got, err := b.Exports.GetExport(ctx, e.ID)
	must(t, err, "get export after purge")
	e.UserID = 0
	mustEqual(t, got, e, "export after its user's purge")
}
