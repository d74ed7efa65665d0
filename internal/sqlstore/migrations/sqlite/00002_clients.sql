-- OAuth2 client registry, SQLite dialect. Keep in step with
-- ../postgres/00002_clients.sql. Times are unix microseconds; lists are JSON
-- text; scope is the space-separated list exactly as validated by
-- internal/client.

-- +goose Up
CREATE TABLE oauth_clients (
    -- id orders clients by creation for paging; client_id is the public key.
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id        TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    public           INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1)),
    -- HMAC-SHA-256 (server-side key) of the secret; '' when the client has
    -- none (public and private_key_jwt clients). Never the secret itself.
    secret_hash      TEXT NOT NULL DEFAULT '',
    grant_types      TEXT NOT NULL DEFAULT '[]',
    redirect_uris    TEXT NOT NULL DEFAULT '[]',
    scope            TEXT NOT NULL DEFAULT '',
    auth_method      TEXT NOT NULL,
    jwks_uri         TEXT NOT NULL DEFAULT '',
    jwks             TEXT NOT NULL DEFAULT '',
    token_format     TEXT NOT NULL DEFAULT 'opaque' CHECK (token_format IN ('opaque', 'jwt')),
    disabled         INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    -- A purged owner leaves the client to the administrators.
    owner_id         INTEGER REFERENCES users (id) ON DELETE SET NULL,
    intervention     TEXT REFERENCES interventions (name) ON DELETE SET NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    secret_issued_at INTEGER,
    version          INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX oauth_clients_owner ON oauth_clients (owner_id, id);

-- +goose Down
DROP TABLE oauth_clients;
