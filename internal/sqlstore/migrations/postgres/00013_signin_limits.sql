-- Keyed counters behind sign-in's per-account lockout and per-address
-- throttle, PostgreSQL dialect. Keep in step with ../sqlite/00013_signin_limits.sql.
--
-- One row per key, each changed by a single conditional statement so that
-- replicas sharing the database count together and parallel attempts cannot
-- overrun a limit. Keys are "account:" + the HMAC of a normalised email
-- (known and unknown emails alike, so a lockout says nothing about who has
-- an account) and "addr:" + a client address. For accounts, failures is the
-- attempts reserved in the current window and stamp the last one (unix
-- microseconds); for addresses, stamp is the token bucket's theoretical
-- arrival time (GCRA) and failures is unused.

-- +goose Up
CREATE TABLE signin_limits (
    name     TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    stamp    BIGINT NOT NULL
);
CREATE INDEX signin_limits_stamp ON signin_limits (stamp);
-- The lockout was keyed by user id; it is now keyed by email in
-- signin_limits. Counts in flight are dropped (they last 30 minutes).
DROP TABLE login_failures;

-- +goose Down
CREATE TABLE login_failures (
    user_id      BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    failures     BIGINT NOT NULL,
    last_failure BIGINT NOT NULL
);
DROP TABLE signin_limits;
