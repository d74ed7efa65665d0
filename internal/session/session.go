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

// Lockout is a user's consecutive failed password checks.
type Lockout struct {
	UserID      int64
	Failures    int
	LastFailure time.Time
}

// Store persists sessions and lockout counters. Contract: GetSession of an
// unknown hash is apperr NotFound; TouchSession updates LastSeen;
// RecordFailure increments atomically and returns the new row;
// DeleteExpiredSessions removes sessions idle since idleBefore or created
// before createdBefore and returns how many.
type Store interface {
	CreateSession(ctx context.Context, s *Session) error
	GetSession(ctx context.Context, tokenHash string) (*Session, error)
	TouchSession(ctx context.Context, tokenHash string, at time.Time) error
	DeleteSession(ctx context.Context, tokenHash string) error
	DeleteUserSessions(ctx context.Context, userID int64) error
	DeleteExpiredSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int, error)

	GetLockout(ctx context.Context, userID int64) (*Lockout, error)
	RecordFailure(ctx context.Context, userID int64, at time.Time, resetBefore time.Time) (*Lockout, error)
	ResetFailures(ctx context.Context, userID int64) error
}
