-- The legacy IdP API (seed 003, docs/idp-api.md). A system client (a
-- national system such as "SHR @ DGHS MIS") is an OAuth client of a special
-- kind: idp_system marks it, and idp_organization_id is the organization it
-- registered as (optional; SET NULL when that organization goes). Its API
-- token is the client secret, hashed like every other (secret_hash).
-- user_last_login keeps when each person last signed in (form or IdP API),
-- for the IdP API's last_login. PostgreSQL dialect; keep in step with
-- ../sqlite/00019_idp_clients.sql.

-- +goose Up
ALTER TABLE oauth_clients ADD COLUMN idp_system BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE oauth_clients ADD COLUMN idp_organization_id BIGINT REFERENCES organizations (id) ON DELETE SET NULL;
CREATE TABLE user_last_login (
    user_id    BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    last_login BIGINT NOT NULL
);

-- +goose Down
DROP TABLE user_last_login;
ALTER TABLE oauth_clients DROP COLUMN idp_organization_id;
ALTER TABLE oauth_clients DROP COLUMN idp_system;
