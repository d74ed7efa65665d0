-- Pushed integration tokens (issue 15 part 2, docs/integrations.md): an
-- integration is a confidential system client plus a receiver URL; ward
-- mints that client a JWT access token and posts it, signed like a webhook,
-- on start and before each token expires.
-- SQLite dialect; keep in step with ../postgres/00028_integrations.sql.
--
-- The signing secret is stored only as a tink ciphertext bound to the
-- integration id. next_push_at is when the next push is due (0: now);
-- lease_until is how long a worker's claim to push holds (0: unclaimed).
-- last_status: never, pushed, failed or suspended (the client is disabled
-- or not approved). failures counts consecutive failed pushes.
-- integration_tokens lists the tokens pushed successfully and still live,
-- so deleting an integration can revoke them. Times are microseconds since
-- the epoch (0: none).

-- +goose Up
CREATE TABLE integrations (
    id                   TEXT PRIMARY KEY,
    client_id            TEXT NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    url                  TEXT NOT NULL,
    secret_sealed        BLOB NOT NULL,
    token_lifetime_s     BIGINT NOT NULL,
    last_status          TEXT NOT NULL CHECK (last_status IN ('never', 'pushed', 'failed', 'suspended')),
    last_http_status     INTEGER NOT NULL DEFAULT 0,
    last_error           TEXT NOT NULL DEFAULT '',
    failures             INTEGER NOT NULL DEFAULT 0,
    last_attempt_at      BIGINT NOT NULL DEFAULT 0,
    last_pushed_at       BIGINT NOT NULL DEFAULT 0,
    token_id             BIGINT NOT NULL DEFAULT 0,
    token_expires_at     BIGINT NOT NULL DEFAULT 0,
    next_push_at         BIGINT NOT NULL DEFAULT 0,
    lease_until          BIGINT NOT NULL DEFAULT 0,
    created_by           BIGINT NOT NULL DEFAULT 0,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    version              BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX integrations_client ON integrations (client_id);
CREATE INDEX integrations_due ON integrations (next_push_at);

CREATE TABLE integration_tokens (
    integration_id TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    token_id       BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    PRIMARY KEY (integration_id, token_id)
);

-- +goose Down
DROP TABLE integration_tokens;
DROP TABLE integrations;
