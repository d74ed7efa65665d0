package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/sqlstore"
	"ward/internal/sqlstore/storetest"
	"ward/internal/store"
	"ward/internal/testutil"
)

// enroll inserts an intervention enrolment with plain SQL: interventions get
// their Store methods in a later issue.
func enroll(db *sqlstore.DB) func(ctx context.Context, userID int64, name string) error {
	return func(ctx context.Context, userID int64, name string) error {
		if _, err := db.Writer().ExecContext(ctx, sqlstore.Rebind(db,
			`INSERT INTO interventions (name) VALUES (?) ON CONFLICT (name) DO NOTHING`), name); err != nil {
			return err
		}
		_, err := db.Writer().ExecContext(ctx, sqlstore.Rebind(db,
			`INSERT INTO user_interventions (user_id, intervention_name) VALUES (?, ?)`), userID, name)
		return err
	}
}

func TestConformance(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		// Each case gets its own fresh database.
		first := true
		storetest.Run(t, func(t *testing.T) storetest.Backend {
			u := url
			if !first {
				if strings.HasPrefix(url, "sqlite") {
					u = testutil.SQLiteURL(t)
				} else {
					u = testutil.PostgresURL(t)
				}
			}
			first = false
			db := testutil.NewStore(t, u)
			return storetest.Backend{
				Directory:          db,
				Audit:              db,
				Session:            db,
				Clients:            db,
				Keys:               db,
				Tokens:             db,
				Clinical:           db,
				Exports:            db,
				Interventions:      db,
				Tx:                 db,
				EnrollIntervention: enroll(db),
				Roles:              db.Roles,
				Replica: func(t *testing.T) (directory.Store, store.Transactor) {
					r := testutil.NewStore(t, u)
					return r, r
				},
			}
		})
	})
}

func TestMigrateIdempotent(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		db := testutil.NewStore(t, url)
		for range 2 {
			if err := db.Migrate(t.Context()); err != nil {
				t.Fatalf("second migrate: %v", err)
			}
		}
		if err := db.Ping(t.Context()); err != nil {
			t.Fatalf("ping: %v", err)
		}
	})
}

func TestOpenURLs(t *testing.T) {
	ctx := t.Context()
	t.Run("default file in a new data dir", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data", "nested")
		db, err := sqlstore.Open(ctx, "", dir)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer db.Close()
		if db.Dialect() != sqlstore.SQLite {
			t.Fatalf("dialect %q", db.Dialect())
		}
		if _, err := os.Stat(filepath.Join(dir, "ward.db")); err != nil {
			t.Fatalf("database file: %v", err)
		}
		st, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o700 {
			t.Fatalf("data dir mode %v, want 0700", st.Mode().Perm())
		}
	})
	t.Run("absolute sqlite path", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "abs.db")
		db, err := sqlstore.Open(ctx, "sqlite://"+path, "ignored")
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer db.Close()
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("database file: %v", err)
		}
	})
	t.Run("relative sqlite path", func(t *testing.T) {
		t.Chdir(t.TempDir())
		db, err := sqlstore.Open(ctx, "sqlite://rel.db", "")
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer db.Close()
		if _, err := os.Stat("rel.db"); err != nil {
			t.Fatalf("database file: %v", err)
		}
	})
	for _, bad := range []string{"mysql://root@localhost/ward", "sqlite://", "/just/a/path.db"} {
		t.Run("rejects "+bad, func(t *testing.T) {
			db, err := sqlstore.Open(ctx, bad, t.TempDir())
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded", bad)
			}
		})
	}
	t.Run("no url and no data dir", func(t *testing.T) {
		if _, err := sqlstore.Open(ctx, "", ""); err == nil {
			t.Fatal("Open with nothing succeeded")
		}
	})
}

// TestSQLitePragmas checks the SQLite discipline on a real connection.
func TestSQLitePragmas(t *testing.T) {
	db := testutil.NewStore(t, testutil.SQLiteURL(t))
	ctx := t.Context()
	var mode string
	var fk, sync, busy int
	w := db.Writer()
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := w.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if err := w.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if err := w.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || fk != 1 || sync != 1 || busy <= 0 {
		t.Fatalf("journal_mode=%s foreign_keys=%d synchronous=%d busy_timeout=%d; want wal, 1, 1 (NORMAL), > 0",
			mode, fk, sync, busy)
	}
	if n := w.Stats().MaxOpenConnections; n != 1 {
		t.Fatalf("writer allows %d connections, want 1", n)
	}
}

// TestConstraintClassification checks that constraint errors come back
// classified by code on both drivers.
func TestConstraintClassification(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		db := testutil.NewStore(t, url)
		err := db.SetUserRoles(t.Context(), 12345, []string{"admin"})
		if !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("foreign-key violation classified as %v (%v), want invalid", apperr.KindOf(err), err)
		}
	})
}

// The default SQLite database holds patient data: the file and its WAL must
// be readable by ward's user only.
func TestSQLiteFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	db, err := sqlstore.Open(t.Context(), "", dir)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	for _, name := range []string{"ward.db", "ward.db-wal"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("stat %s: %v", name, err)
		}
		if mode := fi.Mode().Perm(); mode&0o077 != 0 {
			t.Errorf("%s has mode %v, want no group or other access", name, mode)
		}
	}
}

// TestAuditChainAcrossTypedEventsMigration: events written before migration
// 00017 (no typed fields, v1 hash) and typed events after it form one chain
// that verifies; editing a typed field of a new row is caught.
func TestAuditChainAcrossTypedEventsMigration(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db, err := sqlstore.Open(ctx, url, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		if err := sqlstore.MigrateTo(ctx, db, 15); err != nil {
			t.Fatalf("migrate to 15: %v", err)
		}
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := db.Writer().ExecContext(ctx, sqlstore.Rebind(db, q), args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		// Two rows as the previous release wrote them.
		at := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
		prev := ""
		for i := int64(1); i <= 2; i++ {
			e := audit.Event{ID: i, Timestamp: at.Add(time.Duration(i) * time.Second), UserID: 1, SubjectID: i,
				Context: audit.User, Comment: fmt.Sprintf("old change %d", i), Version: "0.9", PrevHash: prev}
			e.Hash = audit.ComputeHash(&e)
			exec(`INSERT INTO audit_events (id, ts, user_id, subject_id, client_id, context, comment, version, prev_hash, hash)
				VALUES (?, ?, ?, ?, '', ?, ?, ?, ?, ?)`, e.ID, e.Timestamp.UnixMicro(), e.UserID, e.SubjectID,
				string(e.Context), e.Comment, e.Version, e.PrevHash, e.Hash)
			exec(`UPDATE audit_head SET last_id = ?, last_hash = ? WHERE id = 1`, e.ID, e.Hash)
			prev = e.Hash
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		l := audit.NewLog(audit.Deps{Store: db, Tx: db}, audit.Config{Version: "1.0"})
		rctx := actor.WithAddr(actor.With(ctx, actor.Actor{UserID: 1, ClientID: "app"}), "192.0.2.4")
		for i := range 2 {
			if err := l.Record(rctx, audit.Change{Type: audit.UserUpdated, Subject: "Patient/2", SubjectID: 2,
				Fields: map[string]any{"changed": []string{"email"}}, Comment: fmt.Sprintf("new change %d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		if b, err := l.Verify(ctx); err != nil || b != nil {
			t.Fatalf("verify across the migration: %v, %v", b, err)
		}
		e3, err := l.Get(ctx, 3)
		if err != nil || e3.Type != audit.UserUpdated || e3.SourceIP != "192.0.2.4" || e3.Payload != `{"changed":["email"]}` {
			t.Fatalf("event 3 = %+v, %v", e3, err)
		}
		for _, tamper := range []string{
			`UPDATE audit_events SET payload = '{"changed":["name"]}' WHERE id = 3`,
			`UPDATE audit_events SET event_type = '', subject = '', payload = '', source_ip = '' WHERE id = 3`,
			`UPDATE audit_events SET source_ip = '203.0.113.1' WHERE id = 3`,
		} {
			tx, err := db.Writer().BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, tamper); err != nil {
				t.Fatalf("%s: %v", tamper, err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			b, err := l.Verify(ctx)
			if err != nil || b == nil || b.ID != 3 {
				t.Fatalf("after %s: verify = %v, %v; want event 3 reported", tamper, b, err)
			}
			// Put the row back for the next edit.
			exec(`UPDATE audit_events SET event_type = ?, subject = ?, payload = ?, source_ip = ? WHERE id = 3`,
				string(e3.Type), e3.Subject, e3.Payload, e3.SourceIP)
			if b, err := l.Verify(ctx); err != nil || b != nil {
				t.Fatalf("restored row: %v, %v", b, err)
			}
		}
	})
}
