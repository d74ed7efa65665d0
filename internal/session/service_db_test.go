package session_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/secrets"
	"ward/internal/session"
	"ward/internal/sqlstore"
	"ward/internal/store"
	"ward/internal/testutil"
)

type dbHarness struct {
	db    *sqlstore.DB
	svc   *session.Service
	log   *audit.Log
	pw    *countingArgon2
	now   time.Time
	adaID int64
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
	ada := &directory.User{Email: "Ada@Example.org", PasswordHash: hash}
	if err := h.db.CreateUser(t.Context(), ada); err != nil {
		t.Fatalf("create user: %v", err)
	}
	h.adaID = ada.ID
	h.log = audit.NewLog(audit.Deps{Store: h.db, Tx: h.db}, audit.Config{Version: "test", Now: clock})
	h.pw = &countingArgon2{Argon2: pw}
	cfg := session.DefaultConfig()
	cfg.Now = clock
	h.svc = session.NewService(session.Deps{Store: h.db, Users: h.db, Passwords: h.pw, Audit: h.log, Tx: h.db}, cfg)
	return h
}

// countingArgon2 is argon2id counting its checks, safe for parallel use.
type countingArgon2 struct {
	secrets.Argon2
	checks atomic.Int64
}

func (c *countingArgon2) Verify(pw, phc string) (bool, error) {
	c.checks.Add(1)
	return c.Argon2.Verify(pw, phc)
}

// answer is what a sign-in caller sees.
type answer struct {
	kind apperr.Kind
	msg  string
}

func answerOf(err error) answer { return answer{apperr.KindOf(err), apperr.Message(err)} }

// TestParallelBurstChecksAtMostMaxDB is finding 4: a parallel burst of wrong
// passwords gets at most MaxFailures password checks per lock window, and
// the right password afterwards is answered exactly as a wrong one.
func TestParallelBurstChecksAtMostMaxDB(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		h := newDBHarness(t, url)
		ctx := t.Context()
		const n = 50
		answers := make([]answer, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, _, err := h.svc.Login(ctx, "ada@example.org", "wrong-guess")
				answers[i] = answerOf(err)
			})
		}
		wg.Wait()
		wrong := answer{apperr.Unauthenticated, session.BadCredentials}
		for i, a := range answers {
			if a != wrong {
				t.Fatalf("parallel attempt %d answered %+v, want %+v", i, a, wrong)
			}
		}
		if got, max := h.pw.checks.Load(), int64(session.DefaultConfig().MaxFailures); got > max {
			t.Fatalf("%d password checks for %d parallel wrong passwords, want at most %d", got, n, max)
		}
		checks := h.pw.checks.Load()
		_, _, rightErr := h.svc.Login(ctx, "ada@example.org", "s3cret-pass")
		_, _, wrongErr := h.svc.Login(ctx, "ada@example.org", "another-guess")
		if answerOf(rightErr) != answerOf(wrongErr) || answerOf(rightErr) != wrong {
			t.Fatalf("locked: right password %+v, wrong %+v; want both %+v", answerOf(rightErr), answerOf(wrongErr), wrong)
		}
		if h.pw.checks.Load() != checks {
			t.Fatal("a locked account's password was checked")
		}
	})
}

// TestUnknownEmailAnswersLikeKnownDB is finding 5: known and unknown emails
// get the same answers, with the same password checks, before and after the
// lock; the unknown one locks in its keyed counter.
func TestUnknownEmailAnswersLikeKnownDB(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		h := newDBHarness(t, url)
		ctx := t.Context()
		type step struct {
			a      answer
			checks int64
		}
		run := func(email string) []step {
			var out []step
			for _, pw := range []string{"w1", "w2", "w3", "w4", "w5", "w6", "s3cret-pass"} {
				before := h.pw.checks.Load()
				_, _, err := h.svc.Login(ctx, email, pw)
				out = append(out, step{answerOf(err), h.pw.checks.Load() - before})
			}
			return out
		}
		known, unknown := run("ada@example.org"), run("nobody@example.org")
		for i := range known {
			if known[i] != unknown[i] {
				t.Fatalf("attempt %d: known %+v, unknown %+v; want alike", i+1, known[i], unknown[i])
			}
		}
		if unknown[0].checks != 1 {
			t.Fatalf("unknown email: %d password checks, want 1 (the stand-in hash)", unknown[0].checks)
		}
		if unknown[6].checks != 0 {
			t.Fatal("a locked unknown email was checked")
		}
		var rows int
		if err := h.db.Writer().QueryRowContext(ctx, `SELECT COUNT(*) FROM signin_limits WHERE name LIKE 'account:%'`).Scan(&rows); err != nil || rows != 2 {
			t.Fatalf("%d account counters (%v), want one per email", rows, err)
		}
		var clear int
		if err := h.db.Writer().QueryRowContext(ctx, `SELECT COUNT(*) FROM signin_limits WHERE name LIKE '%nobody%'`).Scan(&clear); err != nil || clear != 0 {
			t.Fatalf("the email is stored in clear (%d rows, %v)", clear, err)
		}
		// Unlocking the known account lets the right password in.
		if err := h.svc.Unlock(actor.System(ctx), h.adaID); err != nil {
			t.Fatalf("unlock: %v", err)
		}
		if _, _, err := h.svc.Login(ctx, "ada@example.org", "s3cret-pass"); err != nil {
			t.Fatalf("login after unlock: %v", err)
		}
	})
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
		if _, _, err := h.svc.Login(ctx, "ada@example.org", "s3cret-pass"); !apperr.Is(err, apperr.Unauthenticated) {
			t.Fatalf("right password while locked: %v, want the wrong password's Unauthenticated", err)
		}
		h.now = h.now.Add(30 * time.Minute)
		if _, _, err := h.svc.Login(ctx, "ada@example.org", "s3cret-pass"); err != nil {
			t.Fatalf("right password after the lockout period: %v", err)
		}
		var n int
		if err := h.db.Writer().QueryRowContext(ctx, `SELECT COUNT(*) FROM signin_limits`).Scan(&n); err != nil || n != 0 {
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

// TestSignInLockoutDB: the lockout's end is reported while it lasts, to those
// who may unlock only, and is gone after an unlock or once it has run out.
func TestSignInLockoutDB(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		h := newDBHarness(t, url)
		ctx := t.Context()
		sys := actor.System(ctx)
		if until, err := h.svc.SignInLockout(sys, h.adaID); err != nil || !until.IsZero() {
			t.Fatalf("before any failure: %v, %v; want not locked", until, err)
		}
		lock := func() {
			for range session.DefaultConfig().MaxFailures {
				_, _, _ = h.svc.Login(ctx, "ada@example.org", "wrong")
			}
		}
		lock()
		want := h.now.Add(session.DefaultConfig().LockoutPeriod)
		if until, err := h.svc.SignInLockout(sys, h.adaID); err != nil || !until.Equal(want) {
			t.Fatalf("locked: %v, %v; want %v", until, err, want)
		}
		// Without an authorizer only ward itself may ask; anonymous is 401.
		if _, err := h.svc.SignInLockout(actor.With(ctx, actor.Actor{UserID: h.adaID}), h.adaID); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("asked by a person: %v, want Forbidden", err)
		}
		if _, err := h.svc.SignInLockout(ctx, h.adaID); !apperr.Is(err, apperr.Unauthenticated) {
			t.Fatalf("asked anonymously: %v, want Unauthenticated", err)
		}
		if err := h.svc.Unlock(sys, h.adaID); err != nil {
			t.Fatalf("unlock: %v", err)
		}
		if until, err := h.svc.SignInLockout(sys, h.adaID); err != nil || !until.IsZero() {
			t.Fatalf("after unlock: %v, %v; want not locked", until, err)
		}
		lock()
		h.now = h.now.Add(session.DefaultConfig().LockoutPeriod)
		if until, err := h.svc.SignInLockout(sys, h.adaID); err != nil || !until.IsZero() {
			t.Fatalf("after the lockout period: %v, %v; want not locked", until, err)
		}
	})
}
