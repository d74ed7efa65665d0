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

// ReserveAttempt counts one sign-in attempt against key, in one statement:
// concurrent reservations on any replica are serialised by the row, so no
// more than max are granted while the key is locked. A key whose last
// attempt is at or before resetAt starts again at 1. When the key is
// locked nothing changes and the counter as it stands is returned.
func (d *DB) ReserveAttempt(ctx context.Context, key string, max int, at, resetAt time.Time) (session.Counter, bool, error) {
	var c session.Counter
	var stamp int64
	err := d.wr(ctx).row(ctx, `INSERT INTO signin_limits (name, failures, stamp) VALUES (?, 1, ?)
		ON CONFLICT (name) DO UPDATE SET
			failures = CASE WHEN signin_limits.stamp <= ? THEN 1 ELSE signin_limits.failures + 1 END,
			stamp = excluded.stamp
		WHERE signin_limits.failures < ? OR signin_limits.stamp <= ?
		RETURNING failures, stamp`, key, toMicro(at), toMicro(resetAt), max, toMicro(resetAt)).
		Scan(&c.Failures, &stamp)
	if errors.Is(err, sql.ErrNoRows) {
		c, err := d.GetCounter(ctx, key)
		return c, false, err
	}
	if err != nil {
		return session.Counter{}, false, classify(err, "reserve sign-in attempt")
	}
	c.Stamp = fromMicro(stamp)
	return c, true, nil
}

// GetCounter returns key's counter; an unknown key is the zero Counter.
func (d *DB) GetCounter(ctx context.Context, key string) (session.Counter, error) {
	var c session.Counter
	var stamp int64
	err := d.rd(ctx).row(ctx, `SELECT failures, stamp FROM signin_limits WHERE name = ?`, key).Scan(&c.Failures, &stamp)
	if errors.Is(err, sql.ErrNoRows) {
		return session.Counter{}, nil
	}
	if err != nil {
		return session.Counter{}, fmt.Errorf("get sign-in counter: %w", err)
	}
	c.Stamp = fromMicro(stamp)
	return c, nil
}

// ClearCounter deletes key's counter; clearing an unknown key is no error.
func (d *DB) ClearCounter(ctx context.Context, key string) error {
	if _, err := d.wr(ctx).exec(ctx, `DELETE FROM signin_limits WHERE name = ?`, key); err != nil {
		return classify(err, "clear sign-in counter")
	}
	return nil
}

// TakeToken takes one token from key's bucket in one statement (GCRA: the
// stamp is the bucket's theoretical arrival time; a take moves it one
// interval past max(stamp, at) and is allowed while that stays within
// burst intervals of at). When the bucket is empty nothing changes.
func (d *DB) TakeToken(ctx context.Context, key string, at time.Time, interval time.Duration, burst int) (time.Time, bool, error) {
	now, step := toMicro(at), interval.Microseconds()
	var tat int64
	err := d.wr(ctx).row(ctx, `INSERT INTO signin_limits (name, failures, stamp) VALUES (?, 0, ?)
		ON CONFLICT (name) DO UPDATE SET
			stamp = CASE WHEN signin_limits.stamp > ? THEN signin_limits.stamp ELSE ? END + ?
		WHERE CASE WHEN signin_limits.stamp > ? THEN signin_limits.stamp ELSE ? END + ? <= ?
		RETURNING stamp`, key, now+step, now, now, step, now, now, step, now+int64(burst)*step).Scan(&tat)
	if errors.Is(err, sql.ErrNoRows) {
		c, err := d.GetCounter(ctx, key)
		return c.Stamp, false, err
	}
	if err != nil {
		return time.Time{}, false, classify(err, "take throttle token")
	}
	return fromMicro(tat), true, nil
}

// ReturnToken gives back one token taken from key's bucket.
func (d *DB) ReturnToken(ctx context.Context, key string, interval time.Duration) error {
	if _, err := d.wr(ctx).exec(ctx, `UPDATE signin_limits SET stamp = stamp - ? WHERE name = ?`,
		interval.Microseconds(), key); err != nil {
		return classify(err, "return throttle token")
	}
	return nil
}

// DeleteCountersBefore deletes the counters last stamped before before and
// returns how many.
func (d *DB) DeleteCountersBefore(ctx context.Context, before time.Time) (int, error) {
	res, err := d.wr(ctx).exec(ctx, `DELETE FROM signin_limits WHERE stamp < ?`, toMicro(before))
	if err != nil {
		return 0, classify(err, "delete old sign-in counters")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete old sign-in counters: %w", err)
	}
	return int(n), nil
}

// RecordLogin stores at as user userID's last sign-in, replacing the
// earlier one (one statement on both databases).
func (d *DB) RecordLogin(ctx context.Context, userID int64, at time.Time) error {
	if _, err := d.wr(ctx).exec(ctx, `INSERT INTO user_last_login (user_id, last_login) VALUES (?, ?)
		ON CONFLICT (user_id) DO UPDATE SET last_login = excluded.last_login`, userID, toMicro(at)); err != nil {
		return classify(err, "record last login")
	}
	return nil
}

// LastLogin returns user userID's last sign-in, nil when they never signed in.
func (d *DB) LastLogin(ctx context.Context, userID int64) (*time.Time, error) {
	var at int64
	err := d.rd(ctx).row(ctx, `SELECT last_login FROM user_last_login WHERE user_id = ?`, userID).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read last login: %w", err)
	}
	t := fromMicro(at)
	return &t, nil
}
