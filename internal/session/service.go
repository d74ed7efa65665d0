package session

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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

// UnlockAuthorizer decides who may unlock whose account, and returns the
// account (directory.Service.AuthorizeUnlock).
type UnlockAuthorizer interface {
	AuthorizeUnlock(ctx context.Context, userID int64) (*directory.User, error)
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
	// AccountKey signs normalised emails into the lockout counter's key
	// (secrets.DeriveHMACKey(master, secrets.PurposeSigninLimit)), so the
	// database holds no email in clear and every replica counts under the
	// same key. Nil means a random key: right for a single process only.
	AccountKey secrets.HMACKey
	// Now is the clock (nil: time.Now).
	Now func() time.Time
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
	// BadCredentials is the one answer for every failed sign-in (unknown
	// email, wrong password, locked account, right password on a locked
	// account), so the caller learns nothing about which emails exist or
	// which guess was right.
	BadCredentials = "invalid email or password, or the account is locked after too many failed attempts"
	// maxEmailLen bounds the email looked up; no address is longer (RFC 5321).
	maxEmailLen = 254
)

// Service signs people in and keeps their browser sessions.
type Service struct {
	st    Store
	users UserLookup
	pw    PasswordVerifier
	aud   audit.Recorder
	tx    store.Transactor
	cfg   Config
	now   func() time.Time
	authz UnlockAuthorizer

	dummyOnce sync.Once
	dummyHash string
	dummyErr  error
}

// Deps are the collaborators a Service cannot work without.
type Deps struct {
	Store Store
	Users UserLookup
	// Passwords checks a password against a stored hash.
	Passwords PasswordVerifier
	Audit     audit.Recorder
	Tx        store.Transactor
}

// NewService wires a Service. A nil cfg.AccountKey is replaced by a random
// one (lockout keys then do not survive a restart); a nil cfg.Now is
// time.Now.
func NewService(d Deps, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AccountKey == nil {
		cfg.AccountKey = make(secrets.HMACKey, 32)
		_, _ = rand.Read(cfg.AccountKey) // crypto/rand.Read never fails (Go 1.24+)
	}
	return &Service{st: d.Store, users: d.Users, pw: d.Passwords, aud: d.Audit, tx: d.Tx, cfg: cfg, now: cfg.Now}
}

// WithUnlockAuthorizer sets who decides Unlock for callers other than the
// system; without one only the system may unlock.
func (s *Service) WithUnlockAuthorizer(a UnlockAuthorizer) *Service {
	s.authz = a
	return s
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

// NormalizeEmail is the form of an email the lockout is keyed by: trimmed
// and lower-cased, as GetUserByEmail compares.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// accountKey is the lockout counter's key for email.
func (s *Service) accountKey(email string) string {
	return "account:" + s.cfg.AccountKey.Sign(NormalizeEmail(email))
}

// lookupable reports whether email could be anyone's: anything else (too
// long, not UTF-8, a NUL, which PostgreSQL refuses in text) is answered as
// an unknown email without asking the database.
func lookupable(email string) bool {
	return email != "" && len(email) <= maxEmailLen && utf8.ValidString(email) && !strings.ContainsRune(email, 0)
}

// Login checks email and password and, when they match, starts a session,
// returning its token (to put in the cookie; only its SHA-256 is stored).
//
// Every attempt first reserves a slot in the lockout counter of its email
// (one statement, see Store.ReserveAttempt), known and unknown emails
// alike, before any password check: so at most cfg.MaxFailures checks run
// per lock window however many attempts arrive in parallel, and an unknown
// email locks exactly as a known one does. A success clears the counter.
//
// Every failure is the same apperr Unauthenticated BadCredentials: an
// unknown email, a deleted user, a user without a password and a wrong
// password after the same argon2 work (against a stand-in hash when there is
// no real one); a locked email, with the right password or a wrong one,
// without any (a locked account cannot be used to burn CPU). Every attempt
// is audited (context login), never with the password.
func (s *Service) Login(ctx context.Context, email, password string) (string, *Session, error) {
	var token string
	var sess *Session
	_, err := s.signIn(ctx, email, password, func(ctx context.Context, userID int64, now time.Time) error {
		var err error
		token, err = secrets.RandomToken(TokenBytes)
		if err != nil {
			return fmt.Errorf("login: %w", err)
		}
		sess = &Session{TokenHash: secrets.SHA256Hex(token), UserID: userID, CreatedAt: now, LastSeen: now, AuthTime: now}
		if err := s.st.CreateSession(ctx, sess); err != nil {
			return fmt.Errorf("login: create session: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	return token, sess, nil
}

// Issuer hands a person who just proved their password what they signed in
// for (a browser session, an IdP API token). It runs inside the sign-in's
// transaction, with the sign-in's time, so its rows commit with the cleared
// lockout counter and the audit event or not at all.
type Issuer func(ctx context.Context, userID int64, now time.Time) error

// SignIn is Login for another edge than the browser form (the legacy IdP
// API): the same lockout reservation, the same answers and argon2 work for
// unknown emails, the same audit and last-login record; on success issue
// runs in the sign-in's transaction, and the person's id is returned.
func (s *Service) SignIn(ctx context.Context, email, password string, issue Issuer) (int64, error) {
	if issue == nil {
		return 0, fmt.Errorf("sign in: no issuer")
	}
	return s.signIn(ctx, email, password, issue)
}

func (s *Service) signIn(ctx context.Context, email, password string, issue Issuer) (int64, error) {
	email = strings.TrimSpace(email)
	var u *directory.User
	if lookupable(email) {
		var err error
		u, err = s.users.GetUserByEmail(ctx, email)
		if err != nil && !apperr.Is(err, apperr.NotFound) {
			return 0, fmt.Errorf("login: look up user: %w", err)
		}
	}
	var subject int64
	if u != nil {
		subject = u.ID
	}
	key := s.accountKey(email)
	c, err := s.reserve(ctx, key)
	if err != nil {
		return 0, err
	}
	if c == nil {
		return 0, s.refuseLocked(ctx, subject, key)
	}
	if u == nil || !u.Active() || u.PasswordHash == "" {
		why := "unknown email"
		if u != nil {
			why = "no password set"
			if !u.Active() {
				why = "account deleted"
			}
		}
		// Unknown emails are not quoted: people type passwords there.
		return 0, s.refuseWithDummy(ctx, subject, why, c)
	}
	ok, verr := s.pw.Verify(password, u.PasswordHash)
	if verr != nil {
		// The stored hash is unreadable: a data problem, not the caller's
		// guess; it is logged in the audit trail for an admin to fix.
		if err := s.auditFailure(ctx, u.ID, "stored password hash unreadable"); err != nil {
			return 0, err
		}
		return 0, apperr.Wrap(apperr.Unauthenticated, verr, BadCredentials)
	}
	if !ok {
		return 0, s.refuse(ctx, u.ID, "wrong password", c)
	}
	return u.ID, s.start(ctx, u.ID, key, issue)
}

// reserve takes one attempt from key's lock window; nil (and no error) when
// the key is locked. With lockout off it reserves nothing and grants all.
func (s *Service) reserve(ctx context.Context, key string) (*Counter, error) {
	if s.cfg.MaxFailures <= 0 {
		return &Counter{}, nil
	}
	now := s.now()
	c, granted, err := s.st.ReserveAttempt(ctx, key, s.cfg.MaxFailures, now, now.Add(-s.cfg.LockoutPeriod))
	if err != nil {
		return nil, fmt.Errorf("login: reserve attempt: %w", err)
	}
	if !granted {
		return nil, nil
	}
	return &c, nil
}

func (s *Service) refuseWithDummy(ctx context.Context, subjectID int64, why string, c *Counter) error {
	h, err := s.dummy()
	if err != nil {
		return err
	}
	if _, err := s.pw.Verify("", h); err != nil {
		return fmt.Errorf("login: check stand-in hash: %w", err)
	}
	return s.refuse(ctx, subjectID, why, c)
}

// refuse audits a failed check (the attempt was counted when it was
// reserved) and returns the one answer.
func (s *Service) refuse(ctx context.Context, subjectID int64, why string, c *Counter) error {
	if s.cfg.MaxFailures > 0 {
		why = fmt.Sprintf("%s (failure %d of %d)", why, c.Failures, s.cfg.MaxFailures)
		if c.Failures >= s.cfg.MaxFailures {
			why += "; locked until " + c.Stamp.Add(s.cfg.LockoutPeriod).UTC().Format(time.RFC3339)
		}
	}
	if err := s.auditFailure(ctx, subjectID, why); err != nil {
		return err
	}
	return apperr.New(apperr.Unauthenticated, BadCredentials)
}

// userRef is the subject of a sign-in event: the user, or none when the
// email names nobody.
func userRef(id int64) string {
	if id == 0 {
		return ""
	}
	return audit.UserRef(id)
}

func (s *Service) auditFailure(ctx context.Context, subjectID int64, why string) error {
	if err := s.aud.Record(ctx, audit.Change{Type: audit.SigninFailed, Subject: userRef(subjectID), SubjectID: subjectID,
		Comment: "login failed: " + why}); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	return nil
}

// refuseLocked answers an attempt on a locked email exactly as a wrong
// password is answered; only the audit trail tells them apart.
func (s *Service) refuseLocked(ctx context.Context, subjectID int64, key string) error {
	c, err := s.st.GetCounter(ctx, key)
	if err != nil {
		return fmt.Errorf("login: read lockout: %w", err)
	}
	until := c.Stamp.Add(s.cfg.LockoutPeriod).UTC().Format(time.RFC3339)
	if err := s.aud.Record(ctx, audit.Change{Type: audit.SigninLocked, Subject: userRef(subjectID), SubjectID: subjectID,
		Fields: map[string]any{"locked_until": until}, Comment: "login refused: locked until " + until}); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	return apperr.New(apperr.Unauthenticated, BadCredentials)
}

// start runs issue after a good password, clears the email's lockout
// counter and records the sign-in (audit event and last login), in one
// transaction.
func (s *Service) start(ctx context.Context, userID int64, key string, issue Issuer) error {
	now := s.now()
	return s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := issue(ctx, userID, now); err != nil {
			return err
		}
		if s.cfg.MaxFailures > 0 {
			if err := s.st.ClearCounter(ctx, key); err != nil {
				return fmt.Errorf("login: reset failures: %w", err)
			}
		}
		if err := s.st.RecordLogin(ctx, userID, now); err != nil {
			return fmt.Errorf("login: %w", err)
		}
		// The person is now the actor of their own sign-in.
		actx := actor.With(ctx, actor.Actor{UserID: userID, ClientID: actor.From(ctx).ClientID})
		if err := s.aud.Record(actx, audit.Change{Type: audit.SigninSucceeded, Subject: audit.UserRef(userID), SubjectID: userID,
			Comment: "login succeeded"}); err != nil {
			return fmt.Errorf("login: %w", err)
		}
		return nil
	})
}

// LastLogin returns when user userID last signed in (browser form or IdP
// API), nil when never since ward began recording it.
func (s *Service) LastLogin(ctx context.Context, userID int64) (*time.Time, error) {
	return s.st.LastLogin(ctx, userID)
}

// Unlock clears the lockout of user userID's email, audited (context
// login) as the actor in ctx. The system may unlock anyone; others as the
// UnlockAuthorizer decides (admins, and staff admins who may edit the user).
func (s *Service) Unlock(ctx context.Context, userID int64) error {
	u, err := s.authorizeUnlock(ctx, userID)
	if err != nil {
		return fmt.Errorf("unlock user %d: %w", userID, err)
	}
	if u.Email == "" {
		return apperr.New(apperr.Invalid, "user %d has no email, so no password sign-in to unlock", userID)
	}
	return s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.st.ClearCounter(ctx, s.accountKey(u.Email)); err != nil {
			return fmt.Errorf("unlock user %d: %w", userID, err)
		}
		if err := s.aud.Record(ctx, audit.Change{Type: audit.SigninUnlocked, Subject: audit.UserRef(userID), SubjectID: userID,
			Comment: fmt.Sprintf("sign-in lockout of user %d cleared", userID)}); err != nil {
			return fmt.Errorf("unlock user %d: %w", userID, err)
		}
		return nil
	})
}

// authorizeUnlock decides whether the actor in ctx may unlock user userID
// (and so see whether they are locked), returning the user.
func (s *Service) authorizeUnlock(ctx context.Context, userID int64) (*directory.User, error) {
	if userID <= 0 {
		return nil, apperr.New(apperr.Invalid, "user id must be a positive integer")
	}
	switch {
	case actor.From(ctx).System:
		return s.users.GetUser(ctx, userID)
	case s.authz != nil:
		return s.authz.AuthorizeUnlock(ctx, userID)
	case actor.From(ctx).Anonymous():
		return nil, apperr.New(apperr.Unauthenticated, "sign in first")
	default:
		return nil, apperr.New(apperr.Forbidden, "only an admin may unlock an account")
	}
}

// SignInLockout returns when the sign-in lockout of user userID ends, or the
// zero time when they are not locked (or have no email, so no password
// sign-in to lock). Whether someone is being guessed at is for those who
// may end it: the same callers as Unlock, everyone else is refused alike.
func (s *Service) SignInLockout(ctx context.Context, userID int64) (time.Time, error) {
	u, err := s.authorizeUnlock(ctx, userID)
	if err != nil {
		return time.Time{}, fmt.Errorf("lockout of user %d: %w", userID, err)
	}
	if u.Email == "" || s.cfg.MaxFailures <= 0 {
		return time.Time{}, nil
	}
	c, err := s.st.GetCounter(ctx, s.accountKey(u.Email))
	if err != nil {
		return time.Time{}, fmt.Errorf("lockout of user %d: read counter: %w", userID, err)
	}
	until := c.Stamp.Add(s.cfg.LockoutPeriod)
	if c.Failures < s.cfg.MaxFailures || !s.now().Before(until) {
		return time.Time{}, nil
	}
	return until, nil
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
		if err := s.aud.Record(actx, audit.Change{Type: audit.Signout, Subject: audit.UserRef(sess.UserID), SubjectID: sess.UserID,
			Comment: "logout"}); err != nil {
			return fmt.Errorf("logout: %w", err)
		}
		return nil
	})
}

// PurgeExpired deletes every session past its idle timeout or absolute
// lifetime and returns how many (for the janitor job; Authenticate already
// removes dead sessions it meets), and the sign-in counters that no longer
// hold anything back.
func (s *Service) PurgeExpired(ctx context.Context) (int, error) {
	now := s.now()
	n, err := s.st.DeleteExpiredSessions(ctx, now.Add(-s.cfg.IdleTimeout), now.Add(-s.cfg.AbsoluteLifetime))
	if err != nil {
		return 0, fmt.Errorf("purge expired sessions: %w", err)
	}
	// A counter stamped before the lockout period is as good as none: an
	// account's window has passed, an address's bucket is full again.
	if _, err := s.st.DeleteCountersBefore(ctx, now.Add(-max(s.cfg.LockoutPeriod, time.Minute))); err != nil {
		return n, fmt.Errorf("purge old sign-in counters: %w", err)
	}
	return n, nil
}
