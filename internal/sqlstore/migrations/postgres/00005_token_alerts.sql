-- The token janitor alerts a service account's sponsor once per token
-- about to expire, PostgreSQL dialect. Keep in step with
-- ../sqlite/00005_token_alerts.sql.

-- +goose Up
-- When the sponsor was alerted (unix microseconds); NULL until then. Set at
-- most once, by a conditional UPDATE, so replicas racing on the same token
-- alert once between them.
ALTER TABLE oauth_tokens ADD COLUMN alerted_at BIGINT;

-- +goose Down
ALTER TABLE oauth_tokens DROP COLUMN alerted_at;
