package session_test

import (
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/secrets"
	"ward/internal/session"
	"ward/internal/store"
	sqlstore "ward/internal/store/sql"
	"ward/internal/testutil"
)

type dbHarness struct {
	db  *sqlstore.DB
	svc *session.Service
	log *audit.Log
	now time.Time
}

func newDBHarness(t *testing.T, url string) *dbHarness {
	t.Helper()
	h := &dbHarness{now: time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return h.now }
	h.db = testutil.NewStore(t, url, sqlstore.WithClock(clock))
	pw := secrets.Argon2{Time: 1, MemoryKiB: 64, Threads: 1}
	hash, err := pw.Hash("s3cret-pass")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.db.CreateUser(t.Context(), &directory.User{Email: "Ada@Example.org", PasswordHash: hash}); err != nil {
		t.Fatalf("create user: %v", err)
	}
	h.log = audit.NewLog(h.db, h.db, clock, "test")
	h.svc = session.NewService(h.db, h.db, pw, h.log, h.db, session.DefaultConfig(), clock)
	return h
}

func TestSessionLifecycleDB(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		h := newDBHarness(t, url)
		ctx := t.Context()

		token, sess, err := h.svc.Login(ctx, "ada@example.org", "s3cret-pass")
		if err != nil {
			t.Fatalf("login: %v", err)
		}
		var stored string
		if err := h.db.Writer().QueryRowContext(ctx, `SELECT token_hash FROM sessions`).Scan(&stored); err != nil {
			t.Fatalf("read sessions: %v", err)
		}
		if stored != secrets.SHA256Hex(token) || stored != sess.TokenHash {
			t.Fatal("the sessions table does not hold exactly the token's SHA-256")
		}

		h.now = h.now.Add(59 * time.Minute)
		if _, err := h.svc.Authenticate(ctx, token); err != nil {
			t.Fatalf("authenticate within the idle timeout: %v", err)
		}
		h.now = h.now.Add(time.Hour)
		if _, err := h.svc.Authenticate(ctx, token); !apperr.Is(err, apperr.Unauthenticated) {
			t.Fatalf("authenticate after an idle hour: %v, want Unauthenticated", err)
		}
		var n int
		if err := h.db.Writer().QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d sessions left (%v), want the expired one deleted", n, err)
		}

		token, _, err = h.svc.Login(ctx, "ada@example.org", "s3cret-pass")
		if err != nil {
			t.Fatalf("login again: %v", err)
		}
		if err := h.svc.Logout(ctx, token); err != nil {
			t.Fatalf("logout: %v", err)
		}
		if _, err := h.svc.Authenticate(ctx, token); !apperr.Is(err, apperr.Unauthenticated) {
			t.Fatalf("authenticate after logout: %v", err)
		}

		evs, _, err := h.log.List(ctx, audit.Filter{Context: audit.Login}, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		var comments []string
		for _, e := range evs {
			comments = append(comments, e.Comment)
		}
		want := []string{"login succeeded", "login succeeded", "logout"}
		if len(comments) != len(want) {
			t.Fatalf("login events %q, want %q", comments, want)
		}
		for i := range want {
			if comments[i] != want[i] {
				t.Fatalf("login events %q, want %q", comments, want)
			}
		}
		if b, err := h.log.Verify(ctx); err != nil || b != nil {
			t.Fatalf("verify = %v, %v", b, err)
		}
	})
}

func TestLockoutDB(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		h := newDBHarness(t, url)
		ctx := t.Context()
		for i := range 5 {
			if _, _, err := h.svc.Login(ctx, "ada@example.org", "wrong"); !apperr.Is(err, apperr.Unauthenticated) {
				t.Fatalf("failure %d: %v", i+1, err)
			}
			h.now = h.now.Add(time.Second)
		}
		if _, _, err := h.svc.Login(ctx, "ada@example.org", "s3cret-pass"); !apperr.Is(err, apperr.RateLimited) {
			t.Fatalf("right password while locked: %v, want RateLimited", err)
		}
		h.now = h.now.Add(30 * time.Minute)
		if _, _, err := h.svc.Login(ctx, "ada@example.org", "s3cret-pass"); err != nil {
			t.Fatalf("right password after the lockout period: %v", err)
		}
		var n int
		if err := h.db.Writer().QueryRowContext(ctx, `SELECT COUNT(*) FROM login_failures`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d failure rows left (%v), want the count reset", n, err)
		}
		evs, _, err := h.log.List(ctx, audit.Filter{Context: audit.Login}, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 7 { // 5 failures, 1 refusal, 1 success
			t.Fatalf("%d login events, want 7", len(evs))
		}
	})
}
