package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"ward/internal/client"
	"ward/internal/directory"
	"ward/internal/oauth/tokens"
	"ward/internal/sqlstore"
	"ward/internal/testutil"
)

// benchNow is the reference time of the seeded data (microseconds).
var benchNow = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const benchClinics = 199

// numbers returns a FROM item yielding g.n = 1..n in db's dialect.
func numbers(db *sqlstore.DB, n int) string {
	if db.Dialect() == sqlstore.Postgres {
		return fmt.Sprintf("generate_series(1, %d) AS g(n)", n)
	}
	return fmt.Sprintf("(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %d) SELECT n FROM s) AS g", n)
}

// seedPatients fills a fresh database with one top organization (id 1),
// benchClinics clinics below it (ids 2..), and n users, each with one consent
// to clinic n % benchClinics: 1 in 40 users is staff (not a patient), 1 in 50
// is deleted, 1 in 20 consents is suspended and another 1 in 20 expired.
func seedPatients(tb testing.TB, db *sqlstore.DB, n int) {
	tb.Helper()
	ctx := context.Background()
	future, past := benchNow.Add(365*24*time.Hour).UnixMicro(), benchNow.Add(-time.Hour).UnixMicro()
	stmts := []string{
		`INSERT INTO organizations (id, name, part_of_id, updated_at)
			SELECT g.n, 'org ' || g.n, CASE WHEN g.n = 1 THEN NULL ELSE 1 END, 0 FROM ` + numbers(db, benchClinics+1),
		`INSERT INTO users (id, given_name, registered, updated_at, deleted_at)
			SELECT g.n, 'p' || g.n, 0, 0, CASE WHEN g.n % 50 = 0 THEN 1 ELSE NULL END FROM ` + numbers(db, n),
		`INSERT INTO user_roles (user_id, role_name)
			SELECT g.n, CASE WHEN g.n % 40 = 0 THEN 'staff' ELSE 'patient' END FROM ` + numbers(db, n),
		fmt.Sprintf(`INSERT INTO consents (user_id, organization_id, status, acceptance_date, expires_at)
			SELECT g.n, 2 + g.n %% %d, CASE WHEN g.n %% 20 = 1 THEN 'suspended' ELSE 'consented' END, 0,
			       CASE WHEN g.n %% 20 = 2 THEN %d ELSE %d END FROM `, benchClinics, past, future) + numbers(db, n),
		`ANALYZE`,
	}
	for _, s := range stmts {
		if _, err := db.Writer().ExecContext(ctx, s); err != nil {
			tb.Fatalf("seed: %v\n%s", err, s)
		}
	}
}

// explainVisible returns the plan of PatientsConsentedTo for n organizations.
func explainVisible(tb testing.TB, db *sqlstore.DB, n int, forceIndex bool) string {
	tb.Helper()
	ctx := context.Background()
	tx, err := db.Writer().BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	explain := "EXPLAIN QUERY PLAN "
	if db.Dialect() == sqlstore.Postgres {
		explain = "EXPLAIN "
		if forceIndex {
			// Tiny test tables make a sequential scan cheapest; forbid it to
			// see which index the planner can use.
			if _, err := tx.ExecContext(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
				tb.Fatal(err)
			}
		}
	}
	var args []any
	for i := range n {
		args = append(args, int64(2+i), benchNow.UnixMicro(), int64(0), int64(0), int64(0), 100)
	}
	args = append(args, 100)
	rows, err := tx.QueryContext(ctx, explain+sqlstore.VisiblePatientsQuery(db, n), args...)
	if err != nil {
		tb.Fatalf("explain: %v", err)
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

// TestVisiblePatientsUsesIndex checks that the visible-patients query can
// run on the partial index (the contract: no scan of all users).
func TestVisiblePatientsUsesIndex(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		db := testutil.NewStore(t, url)
		seedPatients(t, db, 500)
		plan := explainVisible(t, db, 3, true)
		if !strings.Contains(plan, "consents_visible") {
			t.Fatalf("plan does not use consents_visible:\n%s", plan)
		}
	})
}

// BenchmarkVisiblePatients measures one page of 100 visible patients for a
// staff member, over 100k patients (1M with WARD_BENCH_LARGE=1).
func BenchmarkVisiblePatients(b *testing.B) {
	n := 100_000
	if os.Getenv("WARD_BENCH_LARGE") == "1" {
		n = 1_000_000
	}
	for _, backend := range testutil.Backends() {
		b.Run(fmt.Sprintf("%s/patients=%d", backend, n), func(b *testing.B) {
			db := testutil.NewStore(b, testutil.URLFor(b, backend))
			start := time.Now()
			seedPatients(b, db, n)
			b.Logf("seeded %d patients in %v", n, time.Since(start).Round(time.Millisecond))
			plan := explainVisible(b, db, 1, false)
			if !strings.Contains(plan, "consents_visible") {
				b.Fatalf("plan does not use consents_visible:\n%s", plan)
			}
			orgs := func(k int) []int64 {
				ids := make([]int64, k)
				for i := range ids {
					ids[i] = int64(2 + i)
				}
				return ids
			}
			for _, sc := range []struct {
				name  string
				orgs  []int64
				after int64
			}{
				{"clinics=1", orgs(1), 0},
				{"clinics=1/deep", orgs(1), int64(n / 2)},
				{"clinics=10", orgs(10), 0},
				{"clinics=199", orgs(benchClinics), 0},
				{"clinics=199/deep", orgs(benchClinics), int64(n / 2)},
			} {
				b.Run(sc.name, func(b *testing.B) {
					ctx := context.Background()
					for b.Loop() {
						ids, err := db.PatientsConsentedTo(ctx, sc.orgs, benchNow, sc.after, 100)
						if err != nil {
							b.Fatal(err)
						}
						if len(ids) != 100 {
							b.Fatalf("page of %d, want 100", len(ids))
						}
					}
				})
			}
		})
	}
}

// BenchmarkGetToken measures the bearer check's one query: a token of a
// person looked up by signature among 10k, with whether the person is
// deleted read in the same query (a join on users' primary key).
func BenchmarkGetToken(b *testing.B) {
	const n = 10_000
	for _, backend := range testutil.Backends() {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			db := testutil.NewStore(b, testutil.URLFor(b, backend))
			seedPatients(b, db, n)
			c := &client.Client{ID: "bench-client", Settings: client.Settings{Name: "Bench",
				GrantTypes: []string{client.GrantAuthorizationCode}, AuthMethod: client.AuthNone, Public: true,
				TokenFormat: client.TokenOpaque},
				Status: client.StatusActive, CreatedAt: benchNow, UpdatedAt: benchNow}
			if err := db.CreateClient(ctx, c); err != nil {
				b.Fatal(err)
			}
			ts := make([]*tokens.Token, n)
			for i := range ts {
				ts[i] = &tokens.Token{Signature: fmt.Sprintf("sig-%06d", i), Kind: tokens.KindAccess,
					RequestID: fmt.Sprintf("req-%d", i), ClientID: c.ID, UserID: int64(i + 1),
					Scopes: []string{"patient/*.rs"}, RequestedAt: benchNow, ExpiresAt: benchNow.Add(time.Hour),
					Active: true, Format: "opaque", Data: []byte(`{"session":{}}`)}
			}
			if err := db.CreateTokens(ctx, ts); err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				if _, err := db.GetToken(ctx, tokens.KindAccess, ts[i%n].Signature); err != nil {
					b.Fatal(err)
				}
				i += 7919
			}
		})
	}
}

// BenchmarkReadIDPToken is the legacy IdP look-up's one statement beside
// BenchmarkGetToken's: the same 10k tokens, with the person's ID card
// (two groups, two profiles, a last sign-in) read with the token (the
// caller's client row is the provider's to hold; the issuer's is read only
// for another client's token, not here). One goroutine, so it is the statement's
// cost, not the handler's.
func BenchmarkReadIDPToken(b *testing.B) {
	const n = 10_000
	for _, backend := range testutil.Backends() {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			db := testutil.NewStore(b, testutil.URLFor(b, backend))
			seedPatients(b, db, n)
			c := &client.Client{ID: "bench-system", Settings: client.Settings{Name: "Bench",
				GrantTypes: []string{client.GrantAuthorizationCode}, AuthMethod: client.AuthClientSecretBasic,
				TokenFormat: client.TokenOpaque, IDPSystem: true}, SecretHash: "x",
				Status: client.StatusActive, CreatedAt: benchNow, UpdatedAt: benchNow}
			if err := db.CreateClient(ctx, c); err != nil {
				b.Fatal(err)
			}
			var groups []int64
			for _, name := range []string{"MCI Admin", "API Consumer"} {
				g := &directory.Group{Name: name, Description: name}
				if err := db.CreateGroup(ctx, g); err != nil {
					b.Fatal(err)
				}
				groups = append(groups, g.ID)
			}
			const people = 100 // with groups and profiles; their tokens are read
			ts := make([]*tokens.Token, people)
			for i := range ts {
				id := int64(i + 1)
				if err := db.SetUserGroups(ctx, id, groups); err != nil {
					b.Fatal(err)
				}
				if err := db.SetUserProfiles(ctx, id, []directory.Profile{
					{Type: directory.ProfileProvider, ID: "123", Catchment: []string{"302618", "302614"}},
					{Type: directory.ProfileAdmin, ID: "2", Catchment: []string{"3026"}}}); err != nil {
					b.Fatal(err)
				}
				if err := db.RecordLogin(ctx, id, benchNow); err != nil {
					b.Fatal(err)
				}
				ts[i] = &tokens.Token{Signature: fmt.Sprintf("sig-%06d", i), Kind: tokens.KindAccess,
					RequestID: fmt.Sprintf("req-%d", i), ClientID: c.ID, UserID: id,
					Scopes: []string{client.IDPScope}, RequestedAt: benchNow, ExpiresAt: benchNow.Add(time.Hour),
					Active: true, Format: "opaque", Data: []byte(`{"session":{}}`)}
			}
			if err := db.CreateTokens(ctx, ts); err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				if _, err := db.ReadIDPToken(ctx, c.ID, tokens.KindAccess, ts[i%people].Signature); err != nil {
					b.Fatal(err)
				}
				i += 7
			}
		})
	}
}
