-- The legacy IdP API (seed 003, docs/idp-api.md). A system client (a
-- national system such as "SHR @ DGHS MIS") is an OAuth client of a special
-- kind: idp_system marks it, and idp_organization_id is the organization it
-- registered as (optional; SET NULL when that organization goes). Its API
-- token is the client secret, hashed like every other (secret_hash).
-- user_last_login keeps when each person last signed in (form or IdP API),
-- for the IdP API's last_login. SQLite dialect; keep in step with
-- ../postgres/00019_idp_clients.sql.

-- +goose Up
ALTER TABLE oauth_clients ADD COLUMN idp_system INTEGER NOT NULL DEFAULT 0 CHECK (idp_system IN (0, 1));
ALTER TABLE oauth_clients ADD COLUMN idp_organization_id INTEGER REFERENCES organizations (id) ON DELETE SET NULL;
CREATE TABLE user_last_login (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    last_login INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE user_last_login;
ALTER TABLE oauth_clients DROP COLUMN idp_organization_id;
ALTER TABLE oauth_clients DROP COLUMN idp_system;
