-- A client an administrator marks as a resource server may introspect
-- tokens issued to any client (RFC 7662 section 4: the authorization server
-- decides which protected resources may learn about which tokens); every
-- other confidential client sees only its own. SQLite dialect; keep in step
-- with ../postgres/00014_client_resource_server.sql.

-- +goose Up
ALTER TABLE oauth_clients ADD COLUMN resource_server INTEGER NOT NULL DEFAULT 0 CHECK (resource_server IN (0, 1));

-- +goose Down
ALTER TABLE oauth_clients DROP COLUMN resource_server;
