// Package testutil holds helpers for tests only: database URLs for both
// backends, CI-aware skipping, and a migrated store. Never import it from
// production code.
package testutil

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for the admin connection

	"ward/internal/sqlstore"
)

// EnvPostgres names the admin URL of a PostgreSQL server the tests may create
// and drop databases on, e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
const EnvPostgres = "WARD_TEST_POSTGRES_URL"

// InCI reports whether the tests run in CI (CI=true), where a missing
// dependency is a failure, never a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// SQLiteURL returns the URL of a fresh SQLite file in t's temporary directory.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return "sqlite://" + filepath.Join(t.TempDir(), "ward.db")
}

// PostgresURL creates a fresh, uniquely named database on the server named by
// WARD_TEST_POSTGRES_URL and returns its URL; the database is dropped when t
// ends. Without the variable the test is skipped, except under CI=true where
// it fails.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvPostgres)
	if admin == "" {
		if InCI() {
			t.Fatalf("%s is not set; PostgreSQL tests must run in CI", EnvPostgres)
		}
		t.Skipf("%s is not set; skipping PostgreSQL", EnvPostgres)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgres, err)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random database name: %v", err)
	}
	name := "ward_test_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvPostgres, err)
	}
	defer db.Close()
	// The name is generated above (hex only), so quoting it is enough.
	if _, err := db.ExecContext(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, err := sql.Open("pgx", admin)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// ForEachDB runs fn as a subtest per backend: "sqlite" on a fresh file and
// "postgres" on a fresh database (see PostgresURL for when it is skipped).
func ForEachDB(t *testing.T, fn func(t *testing.T, url string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLiteURL(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, PostgresURL(t)) })
}

// NewStore opens and migrates the database at url and closes it when t ends.
func NewStore(t testing.TB, url string, opts ...sqlstore.Option) *sqlstore.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, url, "", opts...)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate store: %v", err)
	}
	return db
}

// Backends lists the backends ForEachDB runs, for table-driven benchmarks.
func Backends() []string { return []string{sqlstore.SQLite, sqlstore.Postgres} }

// URLFor returns a fresh database URL for the named backend (see Backends).
func URLFor(t testing.TB, backend string) string {
	t.Helper()
	switch backend {
	case sqlstore.SQLite:
		return SQLiteURL(t)
	case sqlstore.Postgres:
		return PostgresURL(t)
	}
	t.Fatalf("testutil: unknown backend %q", backend)
	return ""
}
