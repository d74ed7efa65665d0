-- A connector's profile identifier system (issue 16 item 4), PostgreSQL
-- dialect. Keep in step with ../sqlite/00024_connector_profile_system.sql.
--
-- The system of the directory identifier that holds a person's profile id
-- in the connector's remote system; '' means the default
-- urn:ward:connector:<name>:profile (connector.DefaultProfileSystem), so
-- existing connectors keep the system they used before.

-- +goose Up
ALTER TABLE connectors ADD COLUMN profile_system TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE connectors DROP COLUMN profile_system;
