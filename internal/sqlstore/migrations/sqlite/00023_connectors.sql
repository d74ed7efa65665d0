-- Connectors (issue 16, seed 000): ward's OAuth links to external systems
-- (the medical information system), and the pending primings of them.
-- SQLite dialect; keep in step with ../postgres/00023_connectors.sql.
--
-- The client secret and both tokens are stored only as tink ciphertexts
-- (the keyset is sealed under the master key), each bound to the
-- connector's name and field: the database holds nothing usable without
-- the master key. lease_until is a replica's claim to refresh, taken by
-- compare-and-swap on version, so one replica spends a refresh token.
-- A pending priming stores the SHA-256 of its state and of the session it
-- is bound to, and the sealed PKCE verifier; it is deleted when used.
-- Times are microseconds since the epoch (0: none), as elsewhere.

-- +goose Up
CREATE TABLE connectors (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    name                 TEXT NOT NULL UNIQUE,
    base_url             TEXT NOT NULL,
    authorize_url        TEXT NOT NULL,
    token_url            TEXT NOT NULL,
    client_id            TEXT NOT NULL,
    redirect_uri         TEXT NOT NULL,
    scopes               TEXT NOT NULL DEFAULT '',
    status               TEXT NOT NULL CHECK (status IN ('unprimed', 'connected', 'disconnected')),
    client_secret_sealed BLOB,
    access_token_sealed  BLOB,
    refresh_token_sealed BLOB,
    expiry               INTEGER NOT NULL DEFAULT 0,
    last_refresh         INTEGER NOT NULL DEFAULT 0,
    last_error           TEXT NOT NULL DEFAULT '',
    lease_until          INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    version              INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE connector_states (
    hash         TEXT PRIMARY KEY,
    connector    TEXT NOT NULL REFERENCES connectors (name) ON DELETE CASCADE,
    session_hash TEXT NOT NULL,
    verifier     BLOB NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX connector_states_connector ON connector_states (connector);

-- +goose Down
DROP TABLE connector_states;
DROP TABLE connectors;
