package storetest

import (
	"sync"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/session"
)

func testSessions(t *testing.T, b Backend) {
	ctx := t.Context()
	u := newUser(t, b, "u@example.org")
	v := newUser(t, b, "v@example.org")
	s := &session.Session{
		TokenHash: "3b1f0c9e2a",
		UserID:    u.ID,
		CreatedAt: micro(base),
		LastSeen:  micro(base.Add(time.Minute)),
		AuthTime:  micro(base.Add(-time.Minute)),
	}
	must(t, b.Session.CreateSession(ctx, s), "create")
	got, err := b.Session.GetSession(ctx, s.TokenHash)
	must(t, err, "get")
	mustEqual(t, got, s, "session read back")
	wantKind(t, b.Session.CreateSession(ctx, s), apperr.Conflict, "duplicate token hash")
	wantKind(t, b.Session.CreateSession(ctx, &session.Session{TokenHash: "x", UserID: 99999, CreatedAt: base, LastSeen: base, AuthTime: base}),
		apperr.Invalid, "session of an unknown user")

	touched := base.Add(30 * time.Minute)
	must(t, b.Session.TouchSession(ctx, s.TokenHash, touched), "touch")
	got, err = b.Session.GetSession(ctx, s.TokenHash)
	must(t, err, "get touched")
	if !got.LastSeen.Equal(micro(touched)) || !got.CreatedAt.Equal(s.CreatedAt) {
		t.Fatalf("after touch %+v, want LastSeen %v and CreatedAt unchanged", got, touched)
	}
	wantKind(t, b.Session.TouchSession(ctx, "missing", touched), apperr.NotFound, "touch missing")
	_, err = b.Session.GetSession(ctx, "missing")
	wantKind(t, err, apperr.NotFound, "get missing")

	must(t, b.Session.DeleteSession(ctx, s.TokenHash), "delete")
	_, err = b.Session.GetSession(ctx, s.TokenHash)
	wantKind(t, err, apperr.NotFound, "get deleted")
	must(t, b.Session.DeleteSession(ctx, s.TokenHash), "delete twice is harmless")

	// DeleteUserSessions removes only that user's sessions.
	for _, h := range []string{"u1", "u2"} {
		must(t, b.Session.CreateSession(ctx, &session.Session{TokenHash: h, UserID: u.ID, CreatedAt: base, LastSeen: base, AuthTime: base}), h)
	}
	must(t, b.Session.CreateSession(ctx, &session.Session{TokenHash: "v1", UserID: v.ID, CreatedAt: base, LastSeen: base, AuthTime: base}), "v1")
	must(t, b.Session.DeleteUserSessions(ctx, u.ID), "delete user sessions")
	for _, h := range []string{"u1", "u2"} {
		_, err := b.Session.GetSession(ctx, h)
		wantKind(t, err, apperr.NotFound, "session "+h)
	}
	if _, err := b.Session.GetSession(ctx, "v1"); err != nil {
		t.Fatalf("another user's session was deleted: %v", err)
	}
	must(t, b.Session.DeleteSession(ctx, "v1"), "cleanup")

	// Expiry: idle, too old, and fresh.
	now := base.Add(24 * time.Hour)
	idleBefore, createdBefore := now.Add(-time.Hour), now.Add(-12*time.Hour)
	for _, s := range []*session.Session{
		{TokenHash: "idle", UserID: u.ID, CreatedAt: now.Add(-2 * time.Hour), LastSeen: now.Add(-61 * time.Minute), AuthTime: now},
		{TokenHash: "old", UserID: u.ID, CreatedAt: now.Add(-13 * time.Hour), LastSeen: now.Add(-time.Minute), AuthTime: now},
		{TokenHash: "fresh", UserID: u.ID, CreatedAt: now.Add(-11 * time.Hour), LastSeen: now.Add(-59 * time.Minute), AuthTime: now},
		{TokenHash: "edge", UserID: v.ID, CreatedAt: createdBefore, LastSeen: idleBefore, AuthTime: now},
	} {
		must(t, b.Session.CreateSession(ctx, s), s.TokenHash)
	}
	n, err := b.Session.DeleteExpiredSessions(ctx, idleBefore, createdBefore)
	must(t, err, "delete expired")
	if n != 2 {
		t.Fatalf("deleted %d expired sessions, want 2", n)
	}
	for h, alive := range map[string]bool{"idle": false, "old": false, "fresh": true, "edge": true} {
		_, err := b.Session.GetSession(ctx, h)
		if alive && err != nil {
			t.Errorf("session %s: %v, want kept", h, err)
		}
		if !alive && !apperr.Is(err, apperr.NotFound) {
			t.Errorf("session %s: %v, want deleted", h, err)
		}
	}
}

func testLockout(t *testing.T, b Backend) {
	ctx := t.Context()
	const key = "account:3f2a"
	c, err := b.Session.GetCounter(ctx, key)
	must(t, err, "no attempts yet")
	mustEqual(t, c, session.Counter{}, "zero counter")

	period := 30 * time.Minute
	at := base
	for i := 1; i <= 5; i++ {
		at = base.Add(time.Duration(i) * time.Minute)
		c, ok, err := b.Session.ReserveAttempt(ctx, key, 5, at, at.Add(-period))
		must(t, err, "reserve")
		if !ok {
			t.Fatalf("attempt %d refused below the limit", i)
		}
		mustEqual(t, c, session.Counter{Failures: i, Stamp: micro(at)}, "after attempt")
	}
	// Locked: refused, nothing changes, the counter as it stands comes back.
	c, ok, err := b.Session.ReserveAttempt(ctx, key, 5, at.Add(time.Minute), at.Add(time.Minute-period))
	must(t, err, "reserve while locked")
	if ok {
		t.Fatal("sixth attempt granted within the lock window")
	}
	mustEqual(t, c, session.Counter{Failures: 5, Stamp: micro(at)}, "locked counter")
	got, err := b.Session.GetCounter(ctx, key)
	must(t, err, "get")
	mustEqual(t, got, session.Counter{Failures: 5, Stamp: micro(at)}, "stored counter")

	// Once the period has passed since the last attempt, counting restarts.
	later := at.Add(period + time.Second)
	c, ok, err = b.Session.ReserveAttempt(ctx, key, 5, later, later.Add(-period))
	must(t, err, "reserve after period")
	if !ok {
		t.Fatal("attempt after the lock window refused")
	}
	mustEqual(t, c, session.Counter{Failures: 1, Stamp: micro(later)}, "restarted count")

	// A success clears.
	must(t, b.Session.ClearCounter(ctx, key), "clear")
	got, err = b.Session.GetCounter(ctx, key)
	must(t, err, "get after clear")
	mustEqual(t, got, session.Counter{}, "cleared counter")
	must(t, b.Session.ClearCounter(ctx, key), "clear twice is harmless")

	// A parallel burst gets exactly max reservations, on any backend.
	const n, max = 40, 5
	var wg sync.WaitGroup
	granted := make(chan bool, n)
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, ok, err := b.Session.ReserveAttempt(ctx, key, max, later, later.Add(-period))
			granted <- ok
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	close(granted)
	for err := range errs {
		must(t, err, "concurrent reservation")
	}
	k := 0
	for ok := range granted {
		if ok {
			k++
		}
	}
	if k != max {
		t.Fatalf("%d of %d parallel reservations granted, want %d", k, n, max)
	}
	// Other keys are untouched.
	c, ok, err = b.Session.ReserveAttempt(ctx, "account:other", max, later, later.Add(-period))
	must(t, err, "other key")
	if !ok || c.Failures != 1 {
		t.Fatalf("another key: %+v, %v; want a first attempt", c, ok)
	}
}

func testThrottleBucket(t *testing.T, b Backend) {
	ctx := t.Context()
	const key, burst = "addr:192.0.2.7", 3
	step := time.Second
	now := micro(base)
	for i := 1; i <= burst; i++ {
		tat, ok, err := b.Session.TakeToken(ctx, key, now, step, burst)
		must(t, err, "take")
		if !ok || !tat.Equal(now.Add(time.Duration(i)*step)) {
			t.Fatalf("take %d: %v at %v, want allowed with tat %v", i, ok, tat, now.Add(time.Duration(i)*step))
		}
	}
	tat, ok, err := b.Session.TakeToken(ctx, key, now, step, burst)
	must(t, err, "take from an empty bucket")
	if ok || !tat.Equal(now.Add(burst*step)) {
		t.Fatalf("empty bucket: %v at %v, want refused with tat unchanged %v", ok, tat, now.Add(burst*step))
	}
	// One interval later one token is back, and only one.
	now = now.Add(step)
	if _, ok, err := b.Session.TakeToken(ctx, key, now, step, burst); err != nil || !ok {
		t.Fatalf("after one interval: %v, %v; want a token", ok, err)
	}
	if _, ok, err := b.Session.TakeToken(ctx, key, now, step, burst); err != nil || ok {
		t.Fatalf("second take after one interval: %v, %v; want refused", ok, err)
	}
	// A returned token can be taken again.
	must(t, b.Session.ReturnToken(ctx, key, step), "return")
	if _, ok, err := b.Session.TakeToken(ctx, key, now, step, burst); err != nil || !ok {
		t.Fatalf("after a return: %v, %v; want a token", ok, err)
	}
	// Long idle: the bucket is full again, never fuller.
	now = now.Add(time.Hour)
	for i := range burst + 1 {
		_, ok, err := b.Session.TakeToken(ctx, key, now, step, burst)
		must(t, err, "take after idle")
		if ok != (i < burst) {
			t.Fatalf("take %d after idle: %v", i+1, ok)
		}
	}
	// Parallel takes never overrun the bucket.
	const pk, n = "addr:198.51.100.1", 30
	var wg sync.WaitGroup
	oks := make(chan bool, n)
	for range n {
		wg.Go(func() {
			_, ok, err := b.Session.TakeToken(ctx, pk, now, step, burst)
			if err != nil {
				t.Errorf("parallel take: %v", err)
			}
			oks <- ok
		})
	}
	wg.Wait()
	close(oks)
	k := 0
	for ok := range oks {
		if ok {
			k++
		}
	}
	if k != burst {
		t.Fatalf("%d of %d parallel takes allowed, want %d", k, n, burst)
	}
	// Old counters are purged; fresh ones stay.
	must(t, b.Session.ClearCounter(ctx, "account:other"), "clear")
	if _, _, err := b.Session.ReserveAttempt(ctx, "account:old", 5, base, base.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	n2, err := b.Session.DeleteCountersBefore(ctx, now.Add(-time.Minute))
	must(t, err, "delete old counters")
	if n2 != 1 {
		t.Fatalf("deleted %d old counters, want 1 (account:old)", n2)
	}
	if c, err := b.Session.GetCounter(ctx, key); err != nil || c.Stamp.IsZero() {
		t.Fatalf("fresh bucket %+v, %v; want kept", c, err)
	}
}
