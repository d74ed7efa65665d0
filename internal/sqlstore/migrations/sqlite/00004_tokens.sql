-- What the authorization server issued, SQLite dialect. Keep in step with
-- ../postgres/00004_tokens.sql. Times are unix microseconds; booleans are
-- 0/1; lists are JSON text.
--
-- No credential is stored: a token row is keyed by its signature (the HMAC
-- part of an opaque token, a JWT's signature, a service token's keyed hash),
-- so a copy of the database cannot be replayed.

-- +goose Up
CREATE TABLE oauth_tokens (
    -- id is the public handle administrators list and revoke tokens by,
    -- and orders them for paging; never reused, so a stale handle cannot
    -- revoke someone else's later token.
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    signature    TEXT NOT NULL CHECK (signature <> ''),
    kind         TEXT NOT NULL CHECK (kind IN ('code', 'access', 'refresh', 'pkce', 'oidc')),
    -- shared by every code, access and refresh token of one grant, so a
    -- replayed code or refresh token can revoke the whole family
    request_id   TEXT NOT NULL,
    -- Deleting a client or purging a person takes their tokens with them:
    -- a token must never outlive whom it was issued to.
    client_id    TEXT NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    -- NULL for client-only grants (client credentials)
    user_id      INTEGER REFERENCES users (id) ON DELETE CASCADE,
    scopes       TEXT NOT NULL DEFAULT '[]',
    requested_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    -- 0 once used, rotated or revoked; the row stays until it expires so a
    -- replay is recognised as one
    active       INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    service      INTEGER NOT NULL DEFAULT 0 CHECK (service IN (0, 1)),
    format       TEXT NOT NULL DEFAULT '' CHECK (format IN ('', 'opaque', 'jwt')),
    -- the serialised request and session, opaque to the database
    data         BLOB NOT NULL,
    -- GetToken, on every bearer request, is one lookup of this index.
    UNIQUE (kind, signature)
) STRICT;
-- Revoking a grant's family.
CREATE INDEX oauth_tokens_request ON oauth_tokens (request_id);
-- Revoking and listing a client's tokens for one person; also serves the
-- client_id foreign key.
CREATE INDEX oauth_tokens_client_user ON oauth_tokens (client_id, user_id);
-- Listing one person's tokens newest first, and the user_id foreign key
-- (a purge would otherwise scan every token).
CREATE INDEX oauth_tokens_user ON oauth_tokens (user_id, id);
-- The janitor deletes by expiry.
CREATE INDEX oauth_tokens_expires ON oauth_tokens (expires_at);
-- Warning about service-account tokens about to expire reads only the few
-- live service tokens. Queries must repeat "active AND service" literally
-- for SQLite to use it.
CREATE INDEX oauth_tokens_service_expires ON oauth_tokens (expires_at) WHERE active AND service;

-- Client-assertion ids (private_key_jwt "jti") seen and not yet expired:
-- an assertion is accepted once. Rows past expires_at are forgotten.
CREATE TABLE oauth_jtis (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;
-- Forgetting expired ids without a scan.
CREATE INDEX oauth_jtis_expires ON oauth_jtis (expires_at);

-- A person's remembered "allow" for a client and a set of scopes. Withdrawn
-- consents are kept (withdrawn_at set) as the person's history.
CREATE TABLE oauth_consents (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id    TEXT NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    -- sorted and duplicate-free JSON list
    scopes       TEXT NOT NULL DEFAULT '[]',
    granted_at   INTEGER NOT NULL,
    -- NULL while the consent is live
    withdrawn_at INTEGER
) STRICT;
-- The consent page's lookup, and a person's consent list.
CREATE INDEX oauth_consents_user_client ON oauth_consents (user_id, client_id);
-- Who authorized a client, and the client_id foreign key.
CREATE INDEX oauth_consents_client ON oauth_consents (client_id, user_id);

-- +goose Down
DROP TABLE oauth_consents;
DROP TABLE oauth_jtis;
DROP TABLE oauth_tokens;
