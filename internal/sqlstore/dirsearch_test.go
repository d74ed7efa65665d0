package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"ward/internal/directory"
	"ward/internal/sqlstore"
	"ward/internal/testutil"
	"ward/internal/timerange"
)

// seedNamedUsers fills a fresh database with n users with distinct names
// and birth dates, each a patient, every tenth one's GP being user 1.
func seedNamedUsers(tb testing.TB, db *sqlstore.DB, n int) {
	tb.Helper()
	ctx := context.Background()
	day := int64(24 * time.Hour / time.Microsecond)
	stmts := []string{
		fmt.Sprintf(`INSERT INTO users (id, given_name, family_name, given_key, family_key, birth_date, birth_start,
			registered, updated_at, general_practitioner_id)
			SELECT g.n, 'g' || g.n, 'f' || g.n, 'g' || g.n, 'f' || g.n, '', g.n * %d, 0, g.n,
			       CASE WHEN g.n %% 10 = 0 THEN 1 ELSE NULL END FROM `, day) + numbers(db, n),
		`INSERT INTO user_roles (user_id, role_name) SELECT g.n, 'patient' FROM ` + numbers(db, n),
		`ANALYZE`,
	}
	for _, s := range stmts {
		if _, err := db.Writer().ExecContext(ctx, s); err != nil {
			tb.Fatalf("seed: %v\n%s", err, s)
		}
	}
}

// explain returns the plan of query; on PostgreSQL sequential scans are
// off, since small test tables make them cheapest whatever the indexes.
func explain(tb testing.TB, db *sqlstore.DB, query string, args ...any) string {
	tb.Helper()
	ctx := context.Background()
	tx, err := db.Writer().BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	prefix := "EXPLAIN QUERY PLAN "
	if db.Dialect() == sqlstore.Postgres {
		prefix = "EXPLAIN "
		if _, err := tx.ExecContext(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
			tb.Fatal(err)
		}
	}
	rows, err := tx.QueryContext(ctx, prefix+query, args...)
	if err != nil {
		tb.Fatalf("explain: %v\n%s", err, query)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var plan strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			tb.Fatal(err)
		}
		fmt.Fprintln(&plan, vals[len(vals)-1])
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return plan.String()
}

// TestUserSearchUsesIndexes checks that the selective FHIR search filters
// can run on their indexes rather than a scan of every user: the default
// name search on both name keys, birthdate on birth_start, and a
// practitioner's patients on (general_practitioner_id, id).
func TestUserSearchUsesIndexes(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		db := testutil.NewStore(t, url)
		seedNamedUsers(t, db, 3000)
		day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
		cases := []struct {
			what  string
			f     directory.UserFilter
			index []string
		}{
			{"name starts with", directory.UserFilter{Names: []directory.NameClause{{Values: []string{"g123"}}}},
				[]string{"users_given_key", "users_family_key"}},
			{"birthdate", directory.UserFilter{BirthDate: []timerange.Bound{
				{Prefix: timerange.Eq, Start: day("1970-01-05"), End: day("1970-01-06")}}},
				[]string{"users_birth_start"}},
		}
		for _, c := range cases {
			q, args := sqlstore.UserSearchQuery(db, c.f)
			plan := explain(t, db, q, args...)
			for _, idx := range c.index {
				if !strings.Contains(plan, idx) {
					t.Errorf("%s: plan does not use %s:\n%s", c.what, idx, plan)
				}
			}
		}
		plan := explain(t, db, sqlstore.PatientsOfGPQuery(db), int64(1), int64(0), 100)
		if !strings.Contains(plan, "users_general_practitioner") {
			t.Errorf("patients of a GP: plan does not use users_general_practitioner:\n%s", plan)
		}
	})
}

// TestDirectorySearchMigrationBackfills: users written before migration
// 00010 are found by name and birth date once it has run, and its down
// migration undoes it cleanly.
func TestDirectorySearchMigrationBackfills(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := testutil.NewStore(t, url)
		if err := sqlstore.MigrateSchemaTo(ctx, db, 9); err != nil {
			t.Fatalf("down to 9: %v", err)
		}
		for _, s := range []string{
			`INSERT INTO users (given_name, family_name, birth_date, registered, updated_at)
				VALUES ('ANN', 'O''Neil', '1970-01-31', 0, 0)`,
			`INSERT INTO users (given_name, family_name, birth_date, registered, updated_at)
				VALUES ('Bob', 'Unknown', '', 0, 0)`,
		} {
			if _, err := db.Writer().ExecContext(ctx, s); err != nil {
				t.Fatalf("insert as of 00009: %v", err)
			}
		}
		if err := sqlstore.MigrateSchemaTo(ctx, db, 10); err != nil {
			t.Fatalf("up to 10: %v", err)
		}
		day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
		f := directory.UserFilter{
			Names:     []directory.NameClause{{Values: []string{"an"}}, {Values: []string{"o'n"}}},
			BirthDate: []timerange.Bound{{Prefix: timerange.Eq, Start: day("1970-01-31"), End: day("1970-02-01")}},
		}
		n, err := db.CountUsers(ctx, f)
		if err != nil || n != 1 {
			t.Fatalf("backfilled user found %d times (%v), want 1", n, err)
		}
		f = directory.UserFilter{BirthDate: []timerange.Bound{{Prefix: timerange.Lt, Start: day("2100-01-01"), End: day("2100-01-02")}}}
		if n, err := db.CountUsers(ctx, f); err != nil || n != 1 {
			t.Fatalf("birthdate lt 2100 counts %d (%v): the user without a birth date must not match", n, err)
		}
	})
}
