-- FHIR Bulk Data exports (internal/bulk), PostgreSQL dialect. Keep in step with
-- ../sqlite/00008_exports.sql. Times are unix microseconds; lists are JSON
-- text.

-- +goose Up
CREATE TABLE exports (
    -- a random UUID: the status URL must not be guessable
    id               TEXT PRIMARY KEY,
    client_id        TEXT NOT NULL,
    -- A purged user's exports stay until they expire; they belong to the client.
    user_id          BIGINT REFERENCES users (id) ON DELETE SET NULL,
    level            TEXT NOT NULL CHECK (level IN ('system', 'patient', 'group')),
    group_id         TEXT NOT NULL DEFAULT '',
    types            TEXT NOT NULL DEFAULT '[]',
    since            BIGINT,
    type_filters     TEXT NOT NULL DEFAULT '[]',
    -- NULL: every patient; '[]': none (an empty group)
    patients         TEXT,
    output_format    TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('accepted', 'in-progress', 'completed', 'failed', 'cancelled')),
    request_url      TEXT NOT NULL,
    transaction_time BIGINT,
    progress         TEXT NOT NULL DEFAULT '[]',
    output           TEXT NOT NULL DEFAULT '[]',
    errors           TEXT NOT NULL DEFAULT '[]',
    failure          TEXT NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL,
    completed_at     BIGINT,
    expires_at       BIGINT,
    version          BIGINT NOT NULL DEFAULT 1
);
-- The per-client cap counts only the running exports.
CREATE INDEX exports_client_active ON exports (client_id) WHERE status IN ('accepted', 'in-progress');
-- The cleanup job's scan.
CREATE INDEX exports_expires ON exports (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX exports_user ON exports (user_id);

-- +goose Down
DROP TABLE exports;
