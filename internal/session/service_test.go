package session

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/secrets"
)

// --- fakes -------------------------------------------------------------

type fakeStore struct {
	sessions map[string]Session
	counters map[string]Counter
	touches  int
	logins   map[int64]time.Time
}

func (f *fakeStore) RecordLogin(_ context.Context, userID int64, at time.Time) error {
	if f.logins == nil {
		f.logins = map[int64]time.Time{}
	}
	f.logins[userID] = at
	return nil
}

func (f *fakeStore) LastLogin(_ context.Context, userID int64) (*time.Time, error) {
	if t, ok := f.logins[userID]; ok {
		return &t, nil
	}
	return nil, nil
}

func newFakeStore() *fakeStore {
	return &fakeStore{sessions: map[string]Session{}, counters: map[string]Counter{}}
}

func (f *fakeStore) CreateSession(_ context.Context, s *Session) error {
	if _, dup := f.sessions[s.TokenHash]; dup {
		return apperr.New(apperr.Conflict, "duplicate")
	}
	f.sessions[s.TokenHash] = *s
	return nil
}

func (f *fakeStore) GetSession(_ context.Context, h string) (*Session, error) {
	s, ok := f.sessions[h]
	if !ok {
		return nil, apperr.New(apperr.NotFound, "session not found")
	}
	return &s, nil
}

func (f *fakeStore) TouchSession(_ context.Context, h string, at time.Time) error {
	s, ok := f.sessions[h]
	if !ok {
		return apperr.New(apperr.NotFound, "session not found")
	}
	f.touches++
	s.LastSeen = at
	f.sessions[h] = s
	return nil
}

func (f *fakeStore) DeleteSession(_ context.Context, h string) error {
	delete(f.sessions, h)
	return nil
}

func (f *fakeStore) DeleteUserSessions(_ context.Context, userID int64) error {
	for h, s := range f.sessions {
		if s.UserID == userID {
			delete(f.sessions, h)
		}
	}
	return nil
}

func (f *fakeStore) DeleteExpiredSessions(_ context.Context, idleBefore, createdBefore time.Time) (int, error) {
	n := 0
	for h, s := range f.sessions {
		if s.LastSeen.Before(idleBefore) || s.CreatedAt.Before(createdBefore) {
			delete(f.sessions, h)
			n++
		}
	}
	return n, nil
}

func (f *fakeStore) ReserveAttempt(_ context.Context, key string, max int, at, resetAt time.Time) (Counter, bool, error) {
	c, ok := f.counters[key]
	switch {
	case !ok || !c.Stamp.After(resetAt):
		c = Counter{Failures: 1, Stamp: at}
	case c.Failures >= max:
		return c, false, nil
	default:
		c.Failures++
		c.Stamp = at
	}
	f.counters[key] = c
	return c, true, nil
}

func (f *fakeStore) GetCounter(_ context.Context, key string) (Counter, error) {
	return f.counters[key], nil
}

func (f *fakeStore) ClearCounter(_ context.Context, key string) error {
	delete(f.counters, key)
	return nil
}

func (f *fakeStore) TakeToken(_ context.Context, key string, at time.Time, interval time.Duration, burst int) (time.Time, bool, error) {
	c := f.counters[key]
	tat := c.Stamp
	if tat.Before(at) {
		tat = at
	}
	tat = tat.Add(interval)
	if tat.After(at.Add(time.Duration(burst) * interval)) {
		return c.Stamp, false, nil
	}
	f.counters[key] = Counter{Stamp: tat}
	return tat, true, nil
}

func (f *fakeStore) ReturnToken(_ context.Context, key string, interval time.Duration) error {
	if c, ok := f.counters[key]; ok {
		c.Stamp = c.Stamp.Add(-interval)
		f.counters[key] = c
	}
	return nil
}

func (f *fakeStore) DeleteCountersBefore(_ context.Context, before time.Time) (int, error) {
	n := 0
	for k, c := range f.counters {
		if c.Stamp.Before(before) {
			delete(f.counters, k)
			n++
		}
	}
	return n, nil
}

type fakeUsers map[int64]*directory.User

func (f fakeUsers) GetUserByEmail(_ context.Context, email string) (*directory.User, error) {
	for _, u := range f {
		if strings.EqualFold(u.Email, email) && u.Active() {
			return u, nil
		}
	}
	return nil, apperr.New(apperr.NotFound, "user not found")
}

func (f fakeUsers) GetUser(_ context.Context, id int64) (*directory.User, error) {
	if u, ok := f[id]; ok {
		return u, nil
	}
	return nil, apperr.New(apperr.NotFound, "user not found")
}

// countingVerifier is the real argon2id (cheap settings) that remembers
// which hashes it was asked to check.
type countingVerifier struct {
	secrets.Argon2
	checked []string
}

func (c *countingVerifier) Verify(pw, phc string) (bool, error) {
	c.checked = append(c.checked, phc)
	return c.Argon2.Verify(pw, phc)
}

type record struct {
	actor   actor.Actor
	inTx    bool
	context audit.Context
	subject int64
	comment string
}

type fakeAuditor struct{ records []record }

func (f *fakeAuditor) Record(ctx context.Context, c audit.Change) error {
	f.records = append(f.records, record{actor.From(ctx), ctx.Value(txKey{}) != nil, audit.ContextOf(c.Type), c.SubjectID, c.Comment})
	return nil
}

func (f *fakeAuditor) RecordEach(context.Context, []audit.Entry) error {
	return errors.New("unexpected RecordEach")
}

type txKey struct{}

type fakeTx struct{}

func (fakeTx) InTx(ctx context.Context, fn func(context.Context) error) error {
	if ctx.Value(txKey{}) != nil {
		return fn(ctx)
	}
	return fn(context.WithValue(ctx, txKey{}, true))
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

type harness struct {
	svc   *Service
	st    *fakeStore
	users fakeUsers
	pw    *countingVerifier
	aud   *fakeAuditor
	clk   *clock
}

const (
	aliceID  = 1
	ghostID  = 2 // soft-deleted
	bobID    = 3 // no password
	alicePW  = "correct horse battery staple"
	ghostPW  = "boo"
	aliceEml = "alice@example.org"
)

func newHarness(t *testing.T) *harness {
	t.Helper()
	pw := &countingVerifier{Argon2: secrets.Argon2{Time: 1, MemoryKiB: 64, Threads: 1}}
	hash := func(p string) string {
		h, err := pw.Hash(p)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	deleted := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	users := fakeUsers{
		aliceID: {ID: aliceID, Email: aliceEml, PasswordHash: hash(alicePW)},
		ghostID: {ID: ghostID, Email: "ghost@example.org", PasswordHash: hash(ghostPW), DeletedAt: &deleted},
		bobID:   {ID: bobID, Email: "bob@example.org"},
	}
	h := &harness{st: newFakeStore(), users: users, pw: pw, aud: &fakeAuditor{},
		clk: &clock{time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)}}
	cfg := DefaultConfig()
	cfg.Now = h.clk.now
	h.svc = NewService(Deps{Store: h.st, Users: users, Passwords: pw, Audit: h.aud, Tx: fakeTx{}}, cfg)
	return h
}

func (h *harness) lastAudit(t *testing.T) record {
	t.Helper()
	if len(h.aud.records) == 0 {
		t.Fatal("nothing audited")
	}
	return h.aud.records[len(h.aud.records)-1]
}

// --- login ---------------------------------------------------------------

func TestLoginSuccess(t *testing.T) {
	h := newHarness(t)
	token, sess, err := h.svc.Login(t.Context(), "  ALICE@example.org ", alicePW)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if len(token) < 43 {
		t.Fatalf("token %q is shorter than 32 bytes of base64url", token)
	}
	want := Session{TokenHash: secrets.SHA256Hex(token), UserID: aliceID, CreatedAt: h.clk.t, LastSeen: h.clk.t, AuthTime: h.clk.t}
	if *sess != want {
		t.Fatalf("session %+v, want %+v", *sess, want)
	}
	stored, ok := h.st.sessions[want.TokenHash]
	if !ok || stored != want {
		t.Fatalf("stored session %+v (found %v), want %+v", stored, ok, want)
	}
	if _, clear := h.st.sessions[token]; clear {
		t.Fatal("the token is stored in clear")
	}
	rec := h.lastAudit(t)
	if rec.context != audit.Login || rec.subject != aliceID || rec.actor.UserID != aliceID || !rec.inTx ||
		rec.comment != "login succeeded" {
		t.Fatalf("audit %+v, want a login success by and about alice in the transaction", rec)
	}
}

// TestLoginFailuresLookAlike checks that every kind of failure gives the same
// answer after the same work (one argon2 check), and is audited without the
// password.
func TestLoginFailuresLookAlike(t *testing.T) {
	tests := []struct {
		name, email, password string
		subject               int64
		comment               string
		realHash              bool // checked against the user's own hash
	}{
		{"wrong password", aliceEml, "Tr0ub4dor&3", aliceID, "login failed: wrong password (failure 1 of 5)", true},
		{"unknown email", "mallory@example.org", alicePW, 0, "login failed: unknown email (failure 1 of 5)", false},
		{"empty email", "", alicePW, 0, "login failed: unknown email (failure 1 of 5)", false},
		{"deleted user with right password", "ghost@example.org", ghostPW, 0, "login failed: unknown email (failure 1 of 5)", false},
		{"user without password", "bob@example.org", "", bobID, "login failed: no password set (failure 1 of 5)", false},
		{"NUL in email", "alice\x00@example.org", alicePW, 0, "login failed: unknown email (failure 1 of 5)", false},
		{"invalid UTF-8 email", "alice\xff@example.org", alicePW, 0, "login failed: unknown email (failure 1 of 5)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			_, sess, err := h.svc.Login(t.Context(), tt.email, tt.password)
			if sess != nil || !apperr.Is(err, apperr.Unauthenticated) || apperr.Message(err) != BadCredentials {
				t.Fatalf("login = %v, %v; want Unauthenticated %q", sess, err, BadCredentials)
			}
			if len(h.pw.checked) != 1 {
				t.Fatalf("%d password checks, want exactly 1 (same work on every path)", len(h.pw.checked))
			}
			dummy, _ := h.svc.dummy()
			if isReal := h.pw.checked[0] != dummy; isReal != tt.realHash {
				t.Fatalf("checked against the user's own hash = %v, want %v", isReal, tt.realHash)
			}
			if len(h.st.sessions) != 0 {
				t.Fatal("a session was created")
			}
			rec := h.lastAudit(t)
			if rec.context != audit.Login || rec.subject != tt.subject || rec.comment != tt.comment {
				t.Fatalf("audit %+v, want subject %d comment %q", rec, tt.subject, tt.comment)
			}
			if tt.password != "" && strings.Contains(rec.comment, tt.password) {
				t.Fatal("the password is in the audit trail")
			}
		})
	}
}

func TestLoginLockout(t *testing.T) {
	cfg := DefaultConfig()
	tests := []struct {
		name     string
		failures int
		wait     time.Duration
		wantKind apperr.Kind // for the right password afterwards; Internal means success
	}{
		{"4 failures: not locked", 4, 0, apperr.Internal},
		{"5 failures: locked", 5, 0, apperr.Unauthenticated},
		{"5 failures, just before the period ends: locked", 5, cfg.LockoutPeriod - time.Second, apperr.Unauthenticated},
		{"5 failures, period passed: unlocked", 5, cfg.LockoutPeriod, apperr.Internal},
		{"8 failures: locked", 8, 0, apperr.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			ctx := t.Context()
			for i := range tt.failures {
				_, _, err := h.svc.Login(ctx, aliceEml, "wrong")
				if !apperr.Is(err, apperr.Unauthenticated) || apperr.Message(err) != BadCredentials {
					t.Fatalf("failure %d: %v, want the one Unauthenticated answer", i+1, err)
				}
				h.clk.advance(time.Second)
			}
			if tt.failures >= cfg.MaxFailures {
				if c := h.aud.records[cfg.MaxFailures-1].comment; !strings.Contains(c, "(failure 5 of 5); locked until") {
					t.Fatalf("5th failure audited as %q, want the lock noted", c)
				}
			}
			h.clk.advance(tt.wait - time.Second) // wait counts from the last failure
			checks := len(h.pw.checked)
			_, sess, err := h.svc.Login(ctx, aliceEml, alicePW)
			if tt.wantKind == apperr.Internal {
				if err != nil || sess == nil {
					t.Fatalf("right password: %v, want success", err)
				}
				if _, left := h.st.counters[h.svc.accountKey(aliceEml)]; left {
					t.Fatal("success did not reset the failure count")
				}
				return
			}
			if !apperr.Is(err, tt.wantKind) || apperr.Message(err) != BadCredentials || sess != nil {
				t.Fatalf("right password while locked: %v, want the wrong password's answer", err)
			}
			if len(h.pw.checked) != checks {
				t.Fatal("the password was checked while locked")
			}
			if rec := h.lastAudit(t); rec.subject != aliceID || !strings.HasPrefix(rec.comment, "login refused: locked until ") {
				t.Fatalf("locked attempt audited as %+v", rec)
			}
		})
	}
}

func TestLoginSuccessResetsCount(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	fail := func(n int) {
		for range n {
			if _, _, err := h.svc.Login(ctx, aliceEml, "wrong"); !apperr.Is(err, apperr.Unauthenticated) {
				t.Fatalf("wrong password: %v", err)
			}
		}
	}
	fail(4)
	if _, _, err := h.svc.Login(ctx, aliceEml, alicePW); err != nil {
		t.Fatalf("login: %v", err)
	}
	fail(4) // would be 8 without the reset
	if _, _, err := h.svc.Login(ctx, aliceEml, alicePW); err != nil {
		t.Fatalf("login after reset and 4 more failures: %v, want success", err)
	}
}

func TestFailureCountRestartsAfterPeriod(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	for range 4 {
		_, _, _ = h.svc.Login(ctx, aliceEml, "wrong")
	}
	h.clk.advance(DefaultConfig().LockoutPeriod + time.Second)
	_, _, _ = h.svc.Login(ctx, aliceEml, "wrong")
	if got := h.st.counters[h.svc.accountKey(aliceEml)].Failures; got != 1 {
		t.Fatalf("failures after the period = %d, want the count restarted at 1", got)
	}
	if _, _, err := h.svc.Login(ctx, aliceEml, alicePW); err != nil {
		t.Fatalf("login: %v", err)
	}
}

// TestUnknownEmailLocksLikeKnown: an unknown email is counted, checked
// against the stand-in hash and locked exactly as a known one, so neither
// the answer nor the work tells them apart, locked or not.
func TestUnknownEmailLocksLikeKnown(t *testing.T) {
	type step struct {
		kind   apperr.Kind
		msg    string
		checks int // password checks this attempt made
	}
	run := func(t *testing.T, email string) []step {
		h := newHarness(t)
		var out []step
		for range 7 {
			before := len(h.pw.checked)
			_, _, err := h.svc.Login(t.Context(), email, "Tr0ub4dor&3")
			out = append(out, step{apperr.KindOf(err), apperr.Message(err), len(h.pw.checked) - before})
		}
		// The right password (for alice) after the lock: still the same.
		before := len(h.pw.checked)
		_, _, err := h.svc.Login(t.Context(), email, alicePW)
		return append(out, step{apperr.KindOf(err), apperr.Message(err), len(h.pw.checked) - before})
	}
	known, unknown := run(t, aliceEml), run(t, "mallory@example.org")
	for i := range known {
		if known[i] != unknown[i] {
			t.Fatalf("attempt %d: known %+v, unknown %+v; want alike", i+1, known[i], unknown[i])
		}
		wantChecks := 1
		if i >= DefaultConfig().MaxFailures {
			wantChecks = 0
		}
		if known[i].kind != apperr.Unauthenticated || known[i].checks != wantChecks {
			t.Fatalf("attempt %d: %+v, want Unauthenticated after %d checks", i+1, known[i], wantChecks)
		}
	}
}

func TestUnlock(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	for range 5 {
		_, _, _ = h.svc.Login(ctx, aliceEml, "wrong")
	}
	// Nobody but the system (without an authorizer) may unlock.
	if err := h.svc.Unlock(actor.With(ctx, actor.Actor{UserID: bobID}), aliceID); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("unlock by bob: %v, want Forbidden", err)
	}
	if err := h.svc.Unlock(ctx, aliceID); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("anonymous unlock: %v, want Unauthenticated", err)
	}
	if _, _, err := h.svc.Login(ctx, aliceEml, alicePW); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("still locked: %v", err)
	}
	if err := h.svc.Unlock(actor.System(ctx), aliceID); err != nil {
		t.Fatalf("unlock as the system: %v", err)
	}
	if rec := h.lastAudit(t); !rec.inTx || rec.subject != aliceID || !rec.actor.System || rec.comment != "sign-in lockout of user 1 cleared" {
		t.Fatalf("unlock audited as %+v", rec)
	}
	if _, _, err := h.svc.Login(ctx, aliceEml, alicePW); err != nil {
		t.Fatalf("login after unlock: %v", err)
	}
	// An authorizer decides for everyone else.
	h.svc.WithUnlockAuthorizer(denyAll{})
	if err := h.svc.Unlock(actor.With(ctx, actor.Actor{UserID: bobID}), aliceID); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("unlock refused by the authorizer: %v, want Forbidden", err)
	}
	h.svc.WithUnlockAuthorizer(allowAll{h.users})
	if err := h.svc.Unlock(actor.With(ctx, actor.Actor{UserID: bobID}), aliceID); err != nil {
		t.Fatalf("unlock allowed by the authorizer: %v", err)
	}
}

type denyAll struct{}

func (denyAll) AuthorizeUnlock(context.Context, int64) (*directory.User, error) {
	return nil, apperr.New(apperr.Forbidden, "no")
}

type allowAll struct{ users fakeUsers }

func (a allowAll) AuthorizeUnlock(ctx context.Context, id int64) (*directory.User, error) {
	return a.users.GetUser(ctx, id)
}

func TestLoginUnreadableHash(t *testing.T) {
	h := newHarness(t)
	h.users[aliceID].PasswordHash = "$argon2id$garbage"
	_, _, err := h.svc.Login(t.Context(), aliceEml, alicePW)
	if !apperr.Is(err, apperr.Unauthenticated) || apperr.Message(err) != BadCredentials {
		t.Fatalf("login = %v, want the usual Unauthenticated", err)
	}
	if rec := h.lastAudit(t); rec.comment != "login failed: stored password hash unreadable" {
		t.Fatalf("audited %q", rec.comment)
	}
}

// --- sessions ------------------------------------------------------------

func login(t *testing.T, h *harness) string {
	t.Helper()
	token, _, err := h.svc.Login(t.Context(), aliceEml, alicePW)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return token
}

func TestAuthenticateIdleTimeout(t *testing.T) {
	cfg := DefaultConfig()
	tests := []struct {
		name string
		idle time.Duration
		ok   bool
	}{
		{"just before the idle timeout", cfg.IdleTimeout - time.Second, true},
		{"at the idle timeout", cfg.IdleTimeout, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			token := login(t, h)
			h.clk.advance(tt.idle)
			sess, err := h.svc.Authenticate(t.Context(), token)
			if tt.ok {
				if err != nil || !sess.LastSeen.Equal(h.clk.t) {
					t.Fatalf("authenticate = %+v, %v; want the session, touched now", sess, err)
				}
				return
			}
			if !apperr.Is(err, apperr.Unauthenticated) || sess != nil {
				t.Fatalf("authenticate = %+v, %v; want Unauthenticated", sess, err)
			}
			if len(h.st.sessions) != 0 {
				t.Fatal("the expired session was not deleted")
			}
		})
	}
}

func TestAuthenticateAbsoluteLifetime(t *testing.T) {
	cfg := DefaultConfig()
	h := newHarness(t)
	token := login(t, h)
	// Busy all day: used every 50 minutes, never idle long enough.
	step := 50 * time.Minute
	elapsed := time.Duration(0)
	for elapsed+step < cfg.AbsoluteLifetime {
		h.clk.advance(step)
		elapsed += step
		if _, err := h.svc.Authenticate(t.Context(), token); err != nil {
			t.Fatalf("after %v of activity: %v", elapsed, err)
		}
	}
	h.clk.advance(cfg.AbsoluteLifetime - elapsed)
	if _, err := h.svc.Authenticate(t.Context(), token); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("at the absolute lifetime: %v, want Unauthenticated", err)
	}
	if len(h.st.sessions) != 0 {
		t.Fatal("the expired session was not deleted")
	}
}

func TestAuthenticateTouchesAtMostOncePerMinute(t *testing.T) {
	h := newHarness(t)
	token := login(t, h)
	ctx := t.Context()
	h.clk.advance(30 * time.Second)
	sess, err := h.svc.Authenticate(ctx, token)
	if err != nil || h.st.touches != 0 || !sess.LastSeen.Equal(h.clk.t.Add(-30*time.Second)) {
		t.Fatalf("after 30s: %+v, %v, %d touches; want no write", sess, err, h.st.touches)
	}
	h.clk.advance(31 * time.Second)
	if _, err := h.svc.Authenticate(ctx, token); err != nil || h.st.touches != 1 {
		t.Fatalf("after 61s: %v, %d touches; want one write", err, h.st.touches)
	}
	// Ping always writes.
	h.clk.advance(time.Second)
	if sess, err := h.svc.Ping(ctx, token); err != nil || h.st.touches != 2 || !sess.LastSeen.Equal(h.clk.t) {
		t.Fatalf("ping: %+v, %v, %d touches; want a write", sess, err, h.st.touches)
	}
}

func TestAuthenticateRejects(t *testing.T) {
	tests := []struct {
		name  string
		token func(h *harness, good string) string
		ok    bool
	}{
		{"good token", func(_ *harness, good string) string { return good }, true},
		{"unknown token", func(*harness, string) string { return "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }, false},
		{"empty token", func(*harness, string) string { return "" }, false},
		{"huge token", func(*harness, string) string { return strings.Repeat("a", 10000) }, false},
		{"token hash instead of token", func(_ *harness, good string) string { return secrets.SHA256Hex(good) }, false},
		{"deleted user", func(h *harness, good string) string {
			now := h.clk.t
			h.users[aliceID].DeletedAt = &now
			return good
		}, false},
		{"purged user", func(h *harness, good string) string { delete(h.users, aliceID); return good }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			token := tt.token(h, login(t, h))
			sess, err := h.svc.Authenticate(t.Context(), token)
			if tt.ok != (err == nil) {
				t.Fatalf("authenticate = %+v, %v; want ok=%v", sess, err, tt.ok)
			}
			if err != nil && !apperr.Is(err, apperr.Unauthenticated) {
				t.Fatalf("error kind %v, want Unauthenticated", apperr.KindOf(err))
			}
		})
	}
}

func TestLogout(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	token := login(t, h)
	other := login(t, h)
	if err := h.svc.Logout(ctx, token); err != nil {
		t.Fatalf("logout: %v", err)
	}
	if _, err := h.svc.Authenticate(ctx, token); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("authenticate after logout: %v, want Unauthenticated", err)
	}
	if _, err := h.svc.Authenticate(ctx, other); err != nil {
		t.Fatalf("the other session ended too: %v", err)
	}
	rec := h.lastAudit(t)
	if rec.comment != "logout" || rec.subject != aliceID || rec.actor.UserID != aliceID || !rec.inTx {
		t.Fatalf("logout audited as %+v", rec)
	}
	n := len(h.aud.records)
	if err := h.svc.Logout(ctx, token); err != nil {
		t.Fatalf("second logout: %v", err)
	}
	if len(h.aud.records) != n {
		t.Fatal("a logout of no session was audited")
	}
}

func TestPurgeExpired(t *testing.T) {
	h := newHarness(t)
	old := login(t, h)
	h.clk.advance(50 * time.Minute)
	fresh := login(t, h)
	h.clk.advance(20 * time.Minute) // old idle 70m, fresh idle 20m
	n, err := h.svc.PurgeExpired(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("purge = %d, %v; want 1", n, err)
	}
	if _, ok := h.st.sessions[secrets.SHA256Hex(old)]; ok {
		t.Fatal("the idle session survived")
	}
	if _, ok := h.st.sessions[secrets.SHA256Hex(fresh)]; !ok {
		t.Fatal("the live session was purged")
	}
}

type failingUsers struct{ fakeUsers }

func (failingUsers) GetUserByEmail(context.Context, string) (*directory.User, error) {
	return nil, errors.New("database down")
}

func TestLoginLookupErrorIsNotUnauthenticated(t *testing.T) {
	h := newHarness(t)
	cfg := DefaultConfig()
	cfg.Now = h.clk.now
	svc := NewService(Deps{Store: h.st, Users: failingUsers{h.users}, Passwords: h.pw, Audit: h.aud, Tx: fakeTx{}}, cfg)
	_, _, err := svc.Login(t.Context(), aliceEml, alicePW)
	if err == nil || apperr.KindOf(err) != apperr.Internal {
		t.Fatalf("login with the database down = %v, want an internal error", err)
	}
}
