package sqlstore_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/matching"
	"ward/internal/sqlstore"
	"ward/internal/testutil"
)

// TestMatchCandidates checks each kind of blocking key finds its patients,
// and only live patients, on both databases.
func TestMatchCandidates(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		db := testutil.NewStore(t, url)
		ctx := actor.System(context.Background())
		mk := func(u directory.User, roles ...string) int64 {
			t.Helper()
			if err := db.CreateUser(ctx, &u); err != nil {
				t.Fatal(err)
			}
			if err := db.SetUserRoles(ctx, u.ID, roles); err != nil {
				t.Fatal(err)
			}
			return u.ID
		}
		jose := mk(directory.User{GivenName: "José", FamilyName: "García", BirthDate: "1980-02-03",
			Email: "Jose@Example.org", Phone: "+1 (555) 012-3456"}, directory.RolePatient)
		if err := db.AddUserIdentifier(ctx, jose, directory.Identifier{System: "urn:mrn", Value: "MRN-1"}, true); err != nil {
			t.Fatal(err)
		}
		ana := mk(directory.User{GivenName: "Ana", FamilyName: "Lopez", BirthDate: "1980-03-02", AltPhone: "555 999 0000"}, directory.RolePatient)
		staff := mk(directory.User{GivenName: "Jose", FamilyName: "Garcia", BirthDate: "1980-02-03"}, directory.RoleStaff)
		gone := mk(directory.User{GivenName: "Jose", FamilyName: "Garcia", BirthDate: "1980-02-03"}, directory.RolePatient)
		now := time.Now()
		if err := db.SetUserDeleted(ctx, gone, &now); err != nil {
			t.Fatal(err)
		}
		_ = staff
		find := func(k matching.Keys) []int64 {
			t.Helper()
			users, err := db.MatchCandidates(ctx, k, 10)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, u := range users {
				ids = append(ids, u.ID)
			}
			return ids
		}
		for _, tc := range []struct {
			name string
			k    matching.Keys
			want []int64
		}{
			{"identifier", matching.Keys{Identifiers: []matching.Identifier{{System: "urn:mrn", Value: "MRN-1"}}}, []int64{jose}},
			{"identifier in another system", matching.Keys{Identifiers: []matching.Identifier{{System: "urn:other", Value: "MRN-1"}}}, nil},
			{"email", matching.Keys{Emails: []string{"jose@example.org"}}, []int64{jose}},
			{"phone", matching.Keys{Phones: []string{matching.PhoneKey("555-012-3456")}}, []int64{jose}},
			{"alt phone", matching.Keys{Phones: []string{matching.PhoneKey("+1 555 999 0000")}}, []int64{ana}},
			{"birth date and its transposition", matching.Keys{BirthDates: matching.BirthVariants("1980-02-03")}, []int64{jose, ana}},
			{"phonetic name", matching.Keys{Names: []matching.NameKey{{Family: matching.Phonetic("Garsia"), Given: matching.Phonetic("Jose")}}}, []int64{jose}},
			{"phonetic family name", matching.Keys{Names: []matching.NameKey{{Family: matching.Phonetic("Lopes")}}}, []int64{ana}},
			{"no key", matching.Keys{}, nil},
			// More keys than the fixed statement holds: a statement of
			// their own shape.
			{"many emails", matching.Keys{Emails: []string{"a@x", "b@x", "c@x", "d@x", "e@x", "f@x", "g@x", "h@x", "jose@example.org"},
				Names: []matching.NameKey{{Family: "L120"}, {Family: "L200"}}}, []int64{jose, ana}},
		} {
			if got := find(tc.k); !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
		// An update re-keys the row.
		if _, err := db.GetUser(ctx, ana); err != nil {
			t.Fatal(err)
		}
		u, _ := db.GetUser(ctx, ana)
		u.FamilyName = "Okafor"
		if err := db.UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if got := find(matching.Keys{Names: []matching.NameKey{{Family: matching.Phonetic("Okafor")}}}); !slices.Equal(got, []int64{ana}) {
			t.Errorf("after rename: %v", got)
		}
		// perKey bounds each kind of key.
		if got, err := db.MatchCandidates(ctx, matching.Keys{BirthDates: matching.BirthVariants("1980-02-03")}, 1); err != nil || len(got) != 1 {
			t.Errorf("perKey 1: %d candidates, %v", len(got), err)
		}
		// Text no database stores is Invalid, not a 500.
		if _, err := db.MatchCandidates(ctx, matching.Keys{Emails: []string{"a\x00b"}}, 10); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("NUL byte: %v, want Invalid", err)
		}
		if _, err := db.MatchCandidates(ctx, matching.Keys{Identifiers: []matching.Identifier{{System: "s", Value: "\xff"}}}, 10); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("invalid UTF-8: %v, want Invalid", err)
		}
	})
}

// TestMatchKeysBackfill checks that rows written without match keys (before
// migration 00027) are keyed by Migrate.
func TestMatchKeysBackfill(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		db := testutil.NewStore(t, url)
		ctx := context.Background()
		if _, err := db.Writer().ExecContext(ctx, `INSERT INTO users (given_name, family_name, phone, registered, updated_at)
			VALUES ('Zoë', 'Müller', '0049 30 1234567', 0, 0)`); err != nil {
			t.Fatal(err)
		}
		var id int64
		if err := db.Writer().QueryRowContext(ctx, `SELECT id FROM users WHERE family_phon IS NULL`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Writer().ExecContext(ctx, `INSERT INTO user_roles (user_id, role_name) VALUES (`+strconv.FormatInt(id, 10)+`, 'patient')`); err != nil {
			t.Fatal(err)
		}
		// More than one batch of them.
		if _, err := db.Writer().ExecContext(ctx, `INSERT INTO users (given_name, family_name, registered, updated_at)
			SELECT 'g' || g.n, 'Family', 0, 0 FROM `+numbers(db, 1200)); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var unkeyed int
		if err := db.Writer().QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE family_phon IS NULL`).Scan(&unkeyed); err != nil || unkeyed != 0 {
			t.Fatalf("%d rows unkeyed after Migrate (%v)", unkeyed, err)
		}
		users, err := db.MatchCandidates(ctx, matching.Keys{Names: []matching.NameKey{{Family: matching.Phonetic("Muller"), Given: matching.Phonetic("Zoe")}},
			Phones: []string{matching.PhoneKey("301234567")}}, 10)
		if err != nil || len(users) != 1 || users[0].ID != id {
			t.Fatalf("after backfill: %v %v", users, err)
		}
	})
}

// TestMatchCandidatesUsesIndexes checks that no pass scans users.
func TestMatchCandidatesUsesIndexes(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		db := testutil.NewStore(t, url)
		seedNamedUsers(t, db, 2000)
		k := matching.KeysFor(matching.Record{Family: "García", Given: []string{"José"}, BirthDate: "1980-02-03",
			Identifiers: []matching.Identifier{{System: "urn:mrn", Value: "1"}}, Emails: []string{"a@b.c"}, Phones: []string{"5550123456"}})
		q, args := sqlstore.MatchQuery(db, k, 100)
		plan := explain(t, db, q, args...)
		bad := "SCAN u\n"
		if db.Dialect() == sqlstore.Postgres {
			bad = "Seq Scan on users"
		}
		if strings.Contains(plan+"\n", bad) {
			t.Fatalf("a pass scans users:\n%s", plan)
		}
	})
}
