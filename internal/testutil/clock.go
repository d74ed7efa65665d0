package testutil

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Clock is a clock tests move by hand instead of sleeping; its Now is
// safe for concurrent use and can be given to every service at once.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock d ahead.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Dump is what a test searches for values that must never be stored in
// clear: the bytes of a SQLite database's files (the WAL included), or on
// PostgreSQL every row of tables as text.
func Dump(t testing.TB, dbURL string, db *sql.DB, tables ...string) []byte {
	t.Helper()
	var out []byte
	if path, ok := strings.CutPrefix(dbURL, "sqlite://"); ok {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if b, err := os.ReadFile(filepath.Clean(path + suffix)); err == nil {
				out = append(out, b...)
			}
		}
		if len(out) == 0 {
			t.Fatal("read no SQLite file")
		}
		return out
	}
	for _, table := range tables {
		rows, err := db.QueryContext(context.Background(), `SELECT t::text FROM `+table+` t`)
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s...)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}
