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
	u := newUser(t, b, "u@example.org")
	l, err := b.Session.GetLockout(ctx, u.ID)
	must(t, err, "no failures yet")
	mustEqual(t, l, &session.Lockout{UserID: u.ID}, "zero lockout")

	period := 30 * time.Minute
	at := base
	for i := 1; i <= 5; i++ {
		at = base.Add(time.Duration(i) * time.Minute)
		l, err := b.Session.RecordFailure(ctx, u.ID, at, at.Add(-period))
		must(t, err, "record")
		mustEqual(t, l, &session.Lockout{UserID: u.ID, Failures: i, LastFailure: micro(at)}, "after failure")
	}
	got, err := b.Session.GetLockout(ctx, u.ID)
	must(t, err, "get")
	mustEqual(t, got, &session.Lockout{UserID: u.ID, Failures: 5, LastFailure: micro(at)}, "stored lockout")

	// Once the period has passed since the last failure, counting restarts.
	later := at.Add(period + time.Second)
	l, err = b.Session.RecordFailure(ctx, u.ID, later, later.Add(-period))
	must(t, err, "record after period")
	mustEqual(t, l, &session.Lockout{UserID: u.ID, Failures: 1, LastFailure: micro(later)}, "restarted count")

	// A success resets.
	must(t, b.Session.ResetFailures(ctx, u.ID), "reset")
	got, err = b.Session.GetLockout(ctx, u.ID)
	must(t, err, "get after reset")
	mustEqual(t, got, &session.Lockout{UserID: u.ID}, "reset lockout")
	must(t, b.Session.ResetFailures(ctx, u.ID), "reset twice is harmless")

	// Concurrent failures are all counted.
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := b.Session.RecordFailure(ctx, u.ID, later, later.Add(-period))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err, "concurrent failure")
	}
	got, err = b.Session.GetLockout(ctx, u.ID)
	must(t, err, "get after concurrent failures")
	if got.Failures != n {
		t.Fatalf("%d failures counted, want %d", got.Failures, n)
	}
	_, err = b.Session.RecordFailure(ctx, 99999, later, later)
	wantKind(t, err, apperr.Invalid, "failure of an unknown user")
}
