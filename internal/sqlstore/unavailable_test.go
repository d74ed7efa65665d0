package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/sqlstore"
	"ward/internal/testutil"
)

// terminate ends the given backends (every other backend of the database
// when pids is empty) from an outside connection, as a PostgreSQL restart
// or failover does, and waits until they are gone.
func terminate(t *testing.T, url string, pids ...int64) {
	t.Helper()
	ctx := t.Context()
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatalf("admin connection: %v", err)
	}
	defer admin.Close()
	const others = `datname = current_database() AND pid <> pg_backend_pid() AND (cardinality($1::int[]) = 0 OR pid = ANY($1::int[]))`
	if _, err := admin.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE `+others, pids); err != nil {
		t.Fatalf("terminate backends: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := admin.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE `+others, pids).Scan(&n); err != nil {
			t.Fatalf("count backends: %v", err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d backends still alive after pg_terminate_backend", n)
		}
	}
}

// Issue 9: a dropped PostgreSQL connection made in-flight requests 500.
// Reads outside a transaction are retried once on a fresh connection; a
// write whose connection is lost is not retried (it may have committed)
// and reports apperr.Unavailable, which the edges answer with 503.
func TestLostConnection(t *testing.T) {
	url := testutil.PostgresURL(t)
	db := testutil.NewStore(t, url)
	ctx := t.Context()
	u := &directory.User{Email: "u@example.org", GivenName: "U", FamilyName: "F", Registered: time.Now()}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatalf("create user: %v", err)
	}

	t.Run("read is retried", func(t *testing.T) {
		for range 2 {
			if _, err := db.GetUser(ctx, u.ID); err != nil {
				t.Fatalf("read before: %v", err)
			}
			terminate(t, url)
			// Both shapes of read: a single row and a list.
			if got, err := db.GetUser(ctx, u.ID); err != nil || got.Email != u.Email {
				t.Fatalf("read after the connections were terminated: %v", err)
			}
			terminate(t, url)
			if _, err := db.UserRoles(ctx, u.ID); err != nil {
				t.Fatalf("list after the connections were terminated: %v", err)
			}
		}
	})

	// The probe's case: the connection is ended while the read is in
	// flight (here: waiting for a table lock held by another session).
	t.Run("in-flight read is retried", func(t *testing.T) {
		admin, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatalf("admin connection: %v", err)
		}
		defer admin.Close()
		lock, err := admin.BeginTx(ctx, nil)
		if err != nil {
			t.Fatalf("begin: %v", err)
		}
		defer lock.Rollback()
		if _, err := lock.ExecContext(ctx, `LOCK TABLE users IN ACCESS EXCLUSIVE MODE`); err != nil {
			t.Fatalf("lock users: %v", err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := db.GetUser(ctx, u.ID)
			done <- err
		}()
		var pid int64
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := admin.QueryRowContext(ctx, `SELECT pid FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock' LIMIT 1`).Scan(&pid)
			if err == nil {
				break
			}
			if !errors.Is(err, sql.ErrNoRows) {
				t.Fatalf("find the waiting read: %v", err)
			}
			if time.Now().After(deadline) {
				t.Fatal("the read never waited for the lock")
			}
		}
		terminate(t, url, pid)
		if err := lock.Rollback(); err != nil {
			t.Fatalf("release lock: %v", err)
		}
		if err := <-done; err != nil {
			t.Fatalf("in-flight read whose connection was ended: %v", err)
		}
	})

	t.Run("write is Unavailable", func(t *testing.T) {
		err := db.InTx(ctx, func(ctx context.Context) error {
			var pid int64
			if err := db.Tx(ctx).QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
				return err
			}
			if err := db.SetUserRoles(ctx, u.ID, []string{directory.RolePatient}); err != nil {
				return err
			}
			terminate(t, url, pid)
			return db.SetUserRoles(ctx, u.ID, []string{directory.RolePatient, directory.RoleTest})
		})
		if !apperr.Is(err, apperr.Unavailable) {
			t.Fatalf("write on a lost connection: %v, want apperr Unavailable", err)
		}
		// Nothing of the broken transaction committed, and the store
		// answers again on a fresh connection.
		roles, err := db.UserRoles(ctx, u.ID)
		if err != nil {
			t.Fatalf("read after the failed write: %v", err)
		}
		if len(roles) != 0 {
			t.Fatalf("roles %v survived a transaction whose connection was lost", roles)
		}
		if err := db.SetUserRoles(ctx, u.ID, []string{directory.RoleTest}); err != nil {
			t.Fatalf("write after the failed one: %v", err)
		}
	})
}

// Transactions group-committed with one whose connection is lost share
// its fate: each either committed or reports apperr.Unavailable (a 503 the
// client may retry), never an internal error.
func TestLostConnectionBatch(t *testing.T) {
	url := testutil.PostgresURL(t)
	db := testutil.NewStore(t, url)
	ctx := t.Context()
	u := &directory.User{Email: "u@example.org", GivenName: "U", FamilyName: "F", Registered: time.Now()}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatalf("create user: %v", err)
	}
	// A blocker holds the committer so the next transactions queue up and
	// are most likely run as one batch.
	release := make(chan struct{})
	started := make(chan struct{})
	blocker := make(chan error, 1)
	go func() {
		blocker <- db.InTx(ctx, func(context.Context) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.InTx(ctx, func(ctx context.Context) error {
				if err := db.SetUserProfiles(ctx, u.ID, []directory.Profile{{Type: "patient", ID: fmt.Sprint(i)}}); err != nil {
					return err
				}
				if i != 0 {
					return nil
				}
				var pid int64
				if err := db.Tx(ctx).QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
					return err
				}
				terminate(t, url, pid)
				return db.SetUserProfiles(ctx, u.ID, nil)
			})
		}()
	}
	close(release)
	wg.Wait()
	if err := <-blocker; err != nil {
		t.Fatalf("blocker: %v", err)
	}
	if !apperr.Is(errs[0], apperr.Unavailable) {
		t.Errorf("the transaction whose connection was lost: %v, want apperr Unavailable", errs[0])
	}
	for i, err := range errs[1:] {
		if err != nil && !apperr.Is(err, apperr.Unavailable) {
			t.Errorf("transaction %d of the batch: %v, want success or apperr Unavailable", i+1, err)
		}
	}
}

// Two replicas locking two users in opposite orders (as two group-commit
// batches can) deadlock; PostgreSQL ends one transaction, which reports
// apperr.Unavailable (a retry succeeds), and the other commits.
func TestDeadlockVictimIsUnavailable(t *testing.T) {
	url := testutil.PostgresURL(t)
	a, b := testutil.NewStore(t, url), testutil.NewStore(t, url)
	ctx := t.Context()
	var users [2]int64
	for i := range users {
		u := &directory.User{Email: fmt.Sprintf("u%d@example.org", i), GivenName: "U", FamilyName: "F", Registered: time.Now()}
		if err := a.CreateUser(ctx, u); err != nil {
			t.Fatalf("create user: %v", err)
		}
		users[i] = u.ID
	}
	locked := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, db := range []*sqlstore.DB{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.InTx(ctx, func(ctx context.Context) error {
				if err := db.LockUser(ctx, users[i]); err != nil {
					return err
				}
				close(locked[i])
				<-locked[1-i]
				return db.LockUser(ctx, users[1-i])
			})
		}()
	}
	wg.Wait()
	failed := 0
	for i, err := range errs {
		if err == nil {
			continue
		}
		failed++
		if !apperr.Is(err, apperr.Unavailable) {
			t.Errorf("replica %d: %v, want apperr Unavailable", i, err)
		}
	}
	if failed != 1 {
		t.Fatalf("%d of 2 deadlocked transactions failed, want 1: %v", failed, errs)
	}
}
