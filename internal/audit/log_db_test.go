package audit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/audit"
	"ward/internal/sqlstore"
	"ward/internal/store"
	"ward/internal/testutil"
)

// newChain returns a migrated database holding n events recorded through a
// Log, and the Log.
func newChain(t *testing.T, url string, n int) (*sqlstore.DB, *audit.Log) {
	t.Helper()
	db := testutil.NewStore(t, url)
	now := time.Date(2025, 1, 2, 3, 4, 5, 678901234, time.UTC)
	l := audit.NewLog(audit.Deps{Store: db, Tx: db}, audit.Config{Version: "test", Now: func() time.Time { now = now.Add(time.Second); return now }})
	ctx := actor.With(t.Context(), actor.Actor{UserID: 9, ClientID: "cli"})
	for i := range n {
		if err := l.Record(ctx, audit.Change{Type: audit.UserUpdated, SubjectID: int64(i + 1), Comment: fmt.Sprintf("change %d", i+1)}); err != nil {
			t.Fatalf("record %d: %v", i+1, err)
		}
	}
	return db, l
}

func TestRecordJoinsTransactionDB(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		db, l := newChain(t, url, 2)
		ctx := t.Context()
		boom := errors.New("boom")
		err := db.InTx(ctx, func(ctx context.Context) error {
			if err := l.Record(ctx, audit.Change{Type: audit.RoleGranted, SubjectID: 1, Comment: "rolled back"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v, want boom", err)
		}
		evs, _, err := l.List(ctx, audit.Filter{}, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 {
			t.Fatalf("%d events after a rolled-back record, want 2", len(evs))
		}
		if err := l.Record(ctx, audit.Change{Type: audit.RoleGranted, SubjectID: 1, Comment: "committed \x00 with NUL and \xff"}); err != nil {
			t.Fatalf("record after rollback: %v", err)
		}
		if b, err := l.Verify(ctx); err != nil || b != nil {
			t.Fatalf("verify = %v, %v; want intact", b, err)
		}
	})
}

// TestVerifyNamesTamperedRowDB edits the stored chain with raw SQL, as an
// intruder with database access would, and expects Verify to name the row.
func TestVerifyNamesTamperedRowDB(t *testing.T) {
	tests := []struct {
		name   string
		sql    []string
		wantID int64
		reason string
	}{
		{"untouched", nil, 0, ""},
		{"comment edited", []string{`UPDATE audit_events SET comment = 'nothing to see' WHERE id = 3`},
			3, "event 3: hash mismatch (row edited)"},
		{"actor edited", []string{`UPDATE audit_events SET user_id = 1 WHERE id = 5`},
			5, "event 5: hash mismatch (row edited)"},
		{"timestamp edited", []string{`UPDATE audit_events SET ts = ts + 1 WHERE id = 1`},
			1, "event 1: hash mismatch (row edited)"},
		{"middle row deleted", []string{`DELETE FROM audit_events WHERE id = 4`},
			4, "event 4 missing (row deleted)"},
		{"tail row deleted", []string{`DELETE FROM audit_events WHERE id = 6`},
			6, "event 6 missing (row deleted"},
		{"ids swapped", []string{
			`UPDATE audit_events SET id = 100 WHERE id = 2`,
			`UPDATE audit_events SET id = 2 WHERE id = 3`,
			`UPDATE audit_events SET id = 3 WHERE id = 100`,
		}, 2, "event 2: hash mismatch (row edited)"},
		{"head rewound", []string{`UPDATE audit_head SET last_id = 4,
			last_hash = (SELECT hash FROM audit_events WHERE id = 4) WHERE id = 1`},
			5, "event 5: beyond the chain head"},
	}
	for _, backend := range testutil.Backends() {
		t.Run(backend, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					db, l := newChain(t, testutil.URLFor(t, backend), 6)
					for _, q := range tt.sql {
						if _, err := db.Writer().ExecContext(t.Context(), q); err != nil {
							t.Fatalf("tamper %q: %v", q, err)
						}
					}
					b, err := l.Verify(t.Context())
					if err != nil {
						t.Fatalf("verify: %v", err)
					}
					if tt.reason == "" {
						if b != nil {
							t.Fatalf("intact chain reported broken: %s", b)
						}
						return
					}
					if b == nil || b.ID != tt.wantID || !strings.Contains(b.Reason, tt.reason) {
						t.Fatalf("broken = %+v, want id %d and %q", b, tt.wantID, tt.reason)
					}
				})
			}
		})
	}
}
