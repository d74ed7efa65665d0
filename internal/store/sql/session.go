package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"ward/internal/apperr"
	"ward/internal/session"
)

// CreateSession stores s; a duplicate token hash is Conflict, an unknown user
// Invalid.
func (d *DB) CreateSession(ctx context.Context, s *session.Session) error {
	if _, err := d.wr(ctx).exec(ctx, `INSERT INTO sessions (token_hash, user_id, created_at, last_seen, auth_time)
		VALUES (?, ?, ?, ?, ?)`, s.TokenHash, s.UserID, toMicro(s.CreatedAt), toMicro(s.LastSeen),
		toMicro(s.AuthTime)); err != nil {
		return classify(err, "create session")
	}
	return nil
}

// GetSession returns the session with that token hash, or NotFound.
func (d *DB) GetSession(ctx context.Context, tokenHash string) (*session.Session, error) {
	var s session.Session
	var created, seen, auth int64
	err := d.rd(ctx).row(ctx, `SELECT token_hash, user_id, created_at, last_seen, auth_time FROM sessions
		WHERE token_hash = ?`, tokenHash).Scan(&s.TokenHash, &s.UserID, &created, &seen, &auth)
	if errors.Is(err, sql.ErrNoRows) {
		// The hash is not echoed: it identifies a credential.
		return nil, apperr.New(apperr.NotFound, "session not found")
	}
	if err != nil {
		return nil, fmt.Errorf("get session: %w", err)
	}
	s.CreatedAt, s.LastSeen, s.AuthTime = fromMicro(created), fromMicro(seen), fromMicro(auth)
	return &s, nil
}

// TouchSession sets LastSeen; NotFound when the session is gone.
func (d *DB) TouchSession(ctx context.Context, tokenHash string, at time.Time) error {
	res, err := d.wr(ctx).exec(ctx, `UPDATE sessions SET last_seen = ? WHERE token_hash = ?`, toMicro(at), tokenHash)
	if err != nil {
		return classify(err, "touch session")
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("touch session: %w", err)
	} else if n == 0 {
		return apperr.New(apperr.NotFound, "session not found")
	}
	return nil
}

// DeleteSession removes the session; deleting one that is gone is not an
// error (signing out twice is harmless).
func (d *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	if _, err := d.wr(ctx).exec(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash); err != nil {
		return classify(err, "delete session")
	}
	return nil
}

// DeleteUserSessions signs the user out everywhere.
func (d *DB) DeleteUserSessions(ctx context.Context, userID int64) error {
	if _, err := d.wr(ctx).exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
		return classify(err, "delete user sessions")
	}
	return nil
}

// DeleteExpiredSessions removes sessions last seen before idleBefore or
// created before createdBefore, and returns how many.
func (d *DB) DeleteExpiredSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int, error) {
	res, err := d.wr(ctx).exec(ctx, `DELETE FROM sessions WHERE last_seen < ? OR created_at < ?`,
		toMicro(idleBefore), toMicro(createdBefore))
	if err != nil {
		return 0, classify(err, "delete expired sessions")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return int(n), nil
}

// GetLockout returns the user's failure counter; a user with no recorded
// failures gets a zero Lockout (not NotFound).
func (d *DB) GetLockout(ctx context.Context, userID int64) (*session.Lockout, error) {
	l := session.Lockout{UserID: userID}
	var last int64
	err := d.rd(ctx).row(ctx, `SELECT failures, last_failure FROM login_failures WHERE user_id = ?`, userID).
		Scan(&l.Failures, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return &l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get lockout: %w", err)
	}
	l.LastFailure = fromMicro(last)
	return &l, nil
}

// RecordFailure counts one failed password check at at, in one statement so
// concurrent failures are all counted. A previous failure older than
// resetBefore (the lockout period has passed) starts the count again at 1.
func (d *DB) RecordFailure(ctx context.Context, userID int64, at, resetBefore time.Time) (*session.Lockout, error) {
	l := session.Lockout{UserID: userID}
	var last int64
	err := d.wr(ctx).row(ctx, `INSERT INTO login_failures (user_id, failures, last_failure) VALUES (?, 1, ?)
		ON CONFLICT (user_id) DO UPDATE SET
			failures = CASE WHEN login_failures.last_failure < ? THEN 1 ELSE login_failures.failures + 1 END,
			last_failure = excluded.last_failure
		RETURNING failures, last_failure`, userID, toMicro(at), toMicro(resetBefore)).Scan(&l.Failures, &last)
	if err != nil {
		return nil, classify(err, "record login failure")
	}
	l.LastFailure = fromMicro(last)
	return &l, nil
}

// ResetFailures clears the user's failure counter.
func (d *DB) ResetFailures(ctx context.Context, userID int64) error {
	if _, err := d.wr(ctx).exec(ctx, `DELETE FROM login_failures WHERE user_id = ?`, userID); err != nil {
		return classify(err, "reset login failures")
	}
	return nil
}
