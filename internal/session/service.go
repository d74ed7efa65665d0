package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/secrets"
	"ward/internal/store"
)

// UserLookup finds the person signing in. Contract: a missing (or, for
// GetUserByEmail, soft-deleted) user is an apperr NotFound error;
// GetUserByEmail compares emails case-insensitively.
type UserLookup interface {
	GetUserByEmail(ctx context.Context, email string) (*directory.User, error)
	GetUser(ctx context.Context, id int64) (*directory.User, error)
}

// PasswordVerifier checks passwords against stored hashes (secrets.Argon2).
// Verify is (false, nil) for a wrong password and an error only for a stored
// hash it cannot read. Hash is used once, to make the stand-in hash that
// unknown emails are checked against.
type PasswordVerifier interface {
	Verify(password, phc string) (bool, error)
	Hash(password string) (string, error)
}

// Auditor records audit events inside the caller's transaction.
type Auditor interface {
	Record(ctx context.Context, c audit.Context, subjectID int64, comment string) error
}

// Config holds session lifetimes and the lockout rule.
type Config struct {
	// IdleTimeout ends a session not used for this long.
	IdleTimeout time.Duration
	// AbsoluteLifetime ends a session this long after sign-in, however busy.
	AbsoluteLifetime time.Duration
	// MaxFailures consecutive failed password checks lock the account;
	// 0 or less disables lockout.
	MaxFailures int
	// LockoutPeriod is how long the account stays locked, counted from the
	// last failure; after it the failure count starts again.
	LockoutPeriod time.Duration
}

// DefaultConfig returns the reference system's rules: 1 hour idle, 12 hours
// absolute, lock after 5 failures for 30 minutes.
func DefaultConfig() Config {
	return Config{IdleTimeout: time.Hour, AbsoluteLifetime: 12 * time.Hour, MaxFailures: 5, LockoutPeriod: 30 * time.Minute}
}

const (
	// TokenBytes is the entropy of a session token.
	TokenBytes = 32
	// maxTokenLen bounds the cookie value we are willing to hash; a real
	// token is 43 characters.
	maxTokenLen = 256
	// touchInterval is the least time between two LastSeen writes of one
	// session: every request reads the session, and writing on each would
	// turn reads into writes (on SQLite, through its one writer). Idle
	// expiry is therefore accurate to within this interval.
	touchInterval = time.Minute
	// badCredentials is the one answer for every failed sign-in, so the
	// caller learns nothing about which emails exist.
	badCredentials = "invalid email or password"
)

// Service signs people in and keeps their browser sessions.
type Service struct {
	st    Store
	users UserLookup
	pw    PasswordVerifier
	aud   Auditor
	tx    store.Transactor
	cfg   Config
	now   func() time.Time

	dummyOnce sync.Once
	dummyHash string
	dummyErr  error
}

// NewService wires a Service. now may be nil (time.Now).
func NewService(st Store, users UserLookup, pw PasswordVerifier, aud Auditor, tx store.Transactor, cfg Config, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, users: users, pw: pw, aud: aud, tx: tx, cfg: cfg, now: now}
}

// dummy returns a hash of a random password made with the verifier's
// current settings: checking a password against it costs what checking a
// real user's costs, and it matches nothing.
func (s *Service) dummy() (string, error) {
	s.dummyOnce.Do(func() {
		pw, err := secrets.RandomToken(TokenBytes)
		if err != nil {
			s.dummyErr = err
			return
		}
		s.dummyHash, s.dummyErr = s.pw.Hash(pw)
	})
	if s.dummyErr != nil {
		return "", fmt.Errorf("login: make stand-in password hash: %w", s.dummyErr)
	}
	return s.dummyHash, nil
}

// Login checks email and password and, when they match, starts a session,
// returning its token (to put in the cookie; only its SHA-256 is stored).
//
// Every attempt is audited (context login), never with the password. An
// unknown email, a deleted user, a user without a password and a wrong
// password all get the same apperr Unauthenticated "invalid email or
// password" after the same argon2 work. After cfg.MaxFailures consecutive
// failures the account is locked for cfg.LockoutPeriod from the last
// failure: attempts then get apperr RateLimited, even with the right
// password, without a password check (so a locked account cannot be used to
// burn CPU).
func (s *Service) Login(ctx context.Context, email, password string) (string, *Session, error) {
	email = strings.TrimSpace(email)
	var u *directory.User
	if email != "" {
		var err error
		u, err = s.users.GetUserByEmail(ctx, email)
		if err != nil && !apperr.Is(err, apperr.NotFound) {
			return "", nil, fmt.Errorf("login: look up user: %w", err)
		}
	}
	if u == nil || !u.Active() || u.PasswordHash == "" {
		why, subject := "unknown email", int64(0)
		if u != nil {
			why, subject = "no password set", u.ID
			if !u.Active() {
				why = "account deleted"
			}
		}
		// Unknown emails are not quoted: people type passwords there.
		return "", nil, s.refuseWithDummy(ctx, subject, why)
	}

	if lo, err := s.st.GetLockout(ctx, u.ID); err != nil {
		return "", nil, fmt.Errorf("login: read lockout: %w", err)
	} else if until, locked := s.lockedUntil(lo); locked {
		return "", nil, s.refuseLocked(ctx, u.ID, until)
	}

	ok, verr := s.pw.Verify(password, u.PasswordHash)
	if verr != nil {
		// The stored hash is unreadable: a data problem, not the caller's
		// guess, so it does not count towards lockout.
		if err := s.auditFailure(ctx, u.ID, "stored password hash unreadable"); err != nil {
			return "", nil, err
		}
		return "", nil, apperr.Wrap(apperr.Unauthenticated, verr, badCredentials)
	}
	if !ok {
		return "", nil, s.recordWrongPassword(ctx, u.ID)
	}
	return s.start(ctx, u.ID)
}

// lockedUntil reports whether lo locks the account now, and until when.
func (s *Service) lockedUntil(lo *Lockout) (time.Time, bool) {
	if s.cfg.MaxFailures <= 0 || lo == nil || lo.Failures < s.cfg.MaxFailures {
		return time.Time{}, false
	}
	until := lo.LastFailure.Add(s.cfg.LockoutPeriod)
	return until, s.now().Before(until)
}

func (s *Service) refuseWithDummy(ctx context.Context, subjectID int64, why string) error {
	h, err := s.dummy()
	if err != nil {
		return err
	}
	if _, err := s.pw.Verify("", h); err != nil {
		return fmt.Errorf("login: check stand-in hash: %w", err)
	}
	if err := s.auditFailure(ctx, subjectID, why); err != nil {
		return err
	}
	return apperr.New(apperr.Unauthenticated, badCredentials)
}

func (s *Service) auditFailure(ctx context.Context, subjectID int64, why string) error {
	if err := s.aud.Record(ctx, audit.Login, subjectID, "login failed: "+why); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	return nil
}

func (s *Service) refuseLocked(ctx context.Context, userID int64, until time.Time) error {
	if err := s.aud.Record(ctx, audit.Login, userID,
		"login refused: account locked until "+until.UTC().Format(time.RFC3339)); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	return apperr.New(apperr.RateLimited, "too many failed sign-ins; try again later")
}

// recordWrongPassword counts the failure and audits it in one transaction.
func (s *Service) recordWrongPassword(ctx context.Context, userID int64) error {
	now := s.now()
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		lo, err := s.st.RecordFailure(ctx, userID, now, now.Add(-s.cfg.LockoutPeriod))
		if err != nil {
			return fmt.Errorf("login: record failure: %w", err)
		}
		why := fmt.Sprintf("wrong password (failure %d)", lo.Failures)
		if s.cfg.MaxFailures > 0 {
			why = fmt.Sprintf("wrong password (failure %d of %d)", lo.Failures, s.cfg.MaxFailures)
			if until, locked := s.lockedUntil(lo); locked {
				why += "; account locked until " + until.UTC().Format(time.RFC3339)
			}
		}
		return s.auditFailure(ctx, userID, why)
	})
	if err != nil {
		return err
	}
	return apperr.New(apperr.Unauthenticated, badCredentials)
}

// errLocked aborts the sign-in transaction when the account was locked by
// failures committed while this attempt checked its password.
var errLocked = errors.New("locked")

// start opens a session after a good password. The lockout is read again
// inside the transaction so that guesses racing in parallel cannot slip a
// success past a lock that concurrent failures have just set.
func (s *Service) start(ctx context.Context, userID int64) (string, *Session, error) {
	token, err := secrets.RandomToken(TokenBytes)
	if err != nil {
		return "", nil, fmt.Errorf("login: %w", err)
	}
	now := s.now()
	sess := &Session{TokenHash: secrets.SHA256Hex(token), UserID: userID, CreatedAt: now, LastSeen: now, AuthTime: now}
	var until time.Time
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		lo, err := s.st.GetLockout(ctx, userID)
		if err != nil {
			return fmt.Errorf("login: read lockout: %w", err)
		}
		var locked bool
		if until, locked = s.lockedUntil(lo); locked {
			return errLocked
		}
		if err := s.st.CreateSession(ctx, sess); err != nil {
			return fmt.Errorf("login: create session: %w", err)
		}
		if lo.Failures > 0 {
			if err := s.st.ResetFailures(ctx, userID); err != nil {
				return fmt.Errorf("login: reset failures: %w", err)
			}
		}
		// The person is now the actor of their own sign-in.
		actx := actor.With(ctx, actor.Actor{UserID: userID, ClientID: actor.From(ctx).ClientID})
		if err := s.aud.Record(actx, audit.Login, userID, "login succeeded"); err != nil {
			return fmt.Errorf("login: %w", err)
		}
		return nil
	})
	if errors.Is(err, errLocked) {
		return "", nil, s.refuseLocked(ctx, userID, until)
	}
	if err != nil {
		return "", nil, err
	}
	return token, sess, nil
}

// Authenticate returns the live session for token. A session past its idle
// timeout or absolute lifetime, or whose user was deleted, is removed and
// answered apperr Unauthenticated, as is an unknown token. LastSeen is moved
// forward when it is more than a minute old.
func (s *Service) Authenticate(ctx context.Context, token string) (*Session, error) {
	return s.authenticate(ctx, token, false)
}

// Ping is Authenticate that always refreshes LastSeen: the explicit "I am
// still here" of POST /api/ping.
func (s *Service) Ping(ctx context.Context, token string) (*Session, error) {
	return s.authenticate(ctx, token, true)
}

func (s *Service) authenticate(ctx context.Context, token string, alwaysTouch bool) (*Session, error) {
	if token == "" || len(token) > maxTokenLen {
		return nil, apperr.New(apperr.Unauthenticated, "not signed in")
	}
	h := secrets.SHA256Hex(token)
	sess, err := s.st.GetSession(ctx, h)
	if apperr.Is(err, apperr.NotFound) {
		return nil, apperr.Wrap(apperr.Unauthenticated, err, "session expired or signed out")
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	now := s.now()
	if s.expired(sess, now) {
		return nil, s.drop(ctx, h, "session expired")
	}
	u, err := s.users.GetUser(ctx, sess.UserID)
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return nil, fmt.Errorf("authenticate: look up user: %w", err)
	}
	if err != nil || !u.Active() {
		return nil, s.drop(ctx, h, "account no longer active")
	}
	if alwaysTouch || now.Sub(sess.LastSeen) >= touchInterval {
		if err := s.st.TouchSession(ctx, h, now); err != nil {
			if apperr.Is(err, apperr.NotFound) { // signed out meanwhile
				return nil, apperr.Wrap(apperr.Unauthenticated, err, "session expired or signed out")
			}
			return nil, fmt.Errorf("authenticate: touch session: %w", err)
		}
		sess.LastSeen = now
	}
	return sess, nil
}

// expired reports whether sess has passed its idle timeout or its absolute
// lifetime at now.
func (s *Service) expired(sess *Session, now time.Time) bool {
	return now.Sub(sess.LastSeen) >= s.cfg.IdleTimeout || now.Sub(sess.CreatedAt) >= s.cfg.AbsoluteLifetime
}

// drop deletes a session found dead on use and returns the Unauthenticated
// answer for it.
func (s *Service) drop(ctx context.Context, tokenHash, msg string) error {
	if err := s.st.DeleteSession(ctx, tokenHash); err != nil {
		return fmt.Errorf("authenticate: delete dead session: %w", err)
	}
	return apperr.New(apperr.Unauthenticated, "%s", msg)
}

// Logout ends the session and audits it. Signing out with a token that is
// unknown or already gone succeeds and records nothing: there is no session
// and no person to attribute it to.
func (s *Service) Logout(ctx context.Context, token string) error {
	if token == "" || len(token) > maxTokenLen {
		return nil
	}
	h := secrets.SHA256Hex(token)
	sess, err := s.st.GetSession(ctx, h)
	if apperr.Is(err, apperr.NotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.st.DeleteSession(ctx, h); err != nil {
			return fmt.Errorf("logout: %w", err)
		}
		actx := actor.With(ctx, actor.Actor{UserID: sess.UserID, ClientID: actor.From(ctx).ClientID})
		if err := s.aud.Record(actx, audit.Login, sess.UserID, "logout"); err != nil {
			return fmt.Errorf("logout: %w", err)
		}
		return nil
	})
}

// PurgeExpired deletes every session past its idle timeout or absolute
// lifetime and returns how many (for the janitor job; Authenticate already
// removes dead sessions it meets).
func (s *Service) PurgeExpired(ctx context.Context) (int, error) {
	now := s.now()
	n, err := s.st.DeleteExpiredSessions(ctx, now.Add(-s.cfg.IdleTimeout), now.Add(-s.cfg.AbsoluteLifetime))
	if err != nil {
		return 0, fmt.Errorf("purge expired sessions: %w", err)
	}
	return n, nil
}
