// Package session is sign-in for people: password checks with lockout, and
// server-side browser sessions with an idle timeout and an absolute lifetime.
// State lives in the database (never only in memory) so any replica can
// serve any request.
package session

import (
	"context"
	"time"
)

// Session is a signed-in browser. The cookie carries a random token; only
// its SHA-256 (TokenHash) is stored.
type Session struct {
	TokenHash string
	UserID    int64
	CreatedAt time.Time
	LastSeen  time.Time
	// AuthTime is when the password was checked (OIDC auth_time).
	AuthTime time.Time
}

// Counter is one key's sign-in counter (see Store). For an account key,
// Failures is the attempts reserved in the current lock window and Stamp the
// last of them; for an address key, Stamp is the token bucket's theoretical
// arrival time and Failures is unused.
type Counter struct {
	Failures int
	Stamp    time.Time
}

// Store persists sessions and the keyed sign-in counters. Contract:
// GetSession of an unknown hash is apperr NotFound; TouchSession updates
// LastSeen; DeleteExpiredSessions removes sessions idle since idleBefore or
// created before createdBefore and returns how many.
//
// The counters are shared by every replica, so each change is one statement:
// ReserveAttempt adds one attempt to key unless it already holds max whose
// last is after resetAt (then it changes nothing and reports granted false
// with the counter as it stands); a last attempt at or before resetAt starts
// the count again at 1. TakeToken takes one token from
// key's bucket (GCRA: Stamp moves one interval past max(Stamp, at), allowed
// while that stays within burst intervals of at), or changes nothing and
// reports false with the current Stamp; ReturnToken moves Stamp back one
// interval. GetCounter of an unknown key is the zero Counter; ClearCounter
// of one is no error. DeleteCountersBefore removes counters stamped before
// before.
type Store interface {
	CreateSession(ctx context.Context, s *Session) error
	GetSession(ctx context.Context, tokenHash string) (*Session, error)
	TouchSession(ctx context.Context, tokenHash string, at time.Time) error
	DeleteSession(ctx context.Context, tokenHash string) error
	DeleteUserSessions(ctx context.Context, userID int64) error
	DeleteExpiredSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int, error)

	ReserveAttempt(ctx context.Context, key string, max int, at, resetAt time.Time) (c Counter, granted bool, err error)
	GetCounter(ctx context.Context, key string) (Counter, error)
	ClearCounter(ctx context.Context, key string) error
	TakeToken(ctx context.Context, key string, at time.Time, interval time.Duration, burst int) (stamp time.Time, ok bool, err error)
	ReturnToken(ctx context.Context, key string, interval time.Duration) error
	DeleteCountersBefore(ctx context.Context, before time.Time) (int, error)

	// RecordLogin replaces user userID's last sign-in time; LastLogin
	// reads it (nil when none is recorded).
	RecordLogin(ctx context.Context, userID int64, at time.Time) error
	LastLogin(ctx context.Context, userID int64) (*time.Time, error)
}
