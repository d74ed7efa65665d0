package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"ward/internal/clinical"
	"ward/internal/sqlstore"
	"ward/internal/store"
	"ward/internal/testutil"
	"ward/internal/timerange"
)

// Rows written before migration 00009 are searchable by code and date once
// it has run: the codings are backfilled and the date range is generated.
func TestClinicalSearchMigrationBackfills(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db, err := sqlstore.Open(ctx, url, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		if err := sqlstore.MigrateTo(ctx, db, 8); err != nil {
			t.Fatalf("migrate to 8: %v", err)
		}
		at := time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC).UnixMicro()
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := db.Writer().ExecContext(ctx, sqlstore.Rebind(db, q), args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		exec(`INSERT INTO users (id, email, registered, updated_at) VALUES (1, 'p@example.org', ?, ?)`, at, at)
		// No effective: the date falls back to issued.
		exec(`INSERT INTO observations (id, patient_id, status, code, issued, updated_at)
			VALUES (1, 1, 'final', '[{"system":"http://loinc.org","code":"8480-6"},{"system":"http://snomed.info/sct","code":"1"}]', ?, ?)`, at, at)
		exec(`INSERT INTO procedures (id, patient_id, status, code, performed_start, updated_at)
			VALUES (1, 1, 'completed', '[{"system":"http://snomed.info/sct","code":"26294005"}]', ?, ?)`, at, at)
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		march10 := []timerange.Bound{{Prefix: timerange.Eq, Start: time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC),
			End: time.Date(2024, 3, 11, 0, 0, 0, 0, time.UTC)}}
		f := clinical.Filter{PatientIDs: []int64{1}, Dates: march10, Codes: [][]clinical.CodeMatch{{
			{Match: clinical.CodeSystemAndCode, System: "http://loinc.org", Code: "8480-6"}}}}
		obs, _, err := db.Observations().Search(ctx, f, store.Page{})
		if err != nil || len(obs) != 1 || obs[0].ID != 1 {
			t.Fatalf("observation after the backfill: %v, %v", obs, err)
		}
		// An ongoing procedure that started that day is not "eq" the day
		// (it goes on after it) but is "ge" it.
		pf := clinical.Filter{Codes: [][]clinical.CodeMatch{{{Match: clinical.CodeAnySystem, Code: "26294005"}}}, Dates: march10}
		if n, err := db.Procedures().CountMatching(ctx, pf); err != nil || n != 0 {
			t.Fatalf("ongoing procedure eq the day: %d, %v", n, err)
		}
		pf.Dates = []timerange.Bound{{Prefix: timerange.Ge, Start: march10[0].Start, End: march10[0].End}}
		if n, err := db.Procedures().CountMatching(ctx, pf); err != nil || n != 1 {
			t.Fatalf("ongoing procedure ge the day: %d, %v", n, err)
		}
	})
}
