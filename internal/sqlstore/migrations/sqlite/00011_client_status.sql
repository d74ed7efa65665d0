-- Client approval (issue 9), SQLite dialect. Keep in step with
-- ../postgres/00011_client_status.sql. An application developer's client
-- starts 'pending' and serves only its owner until an administrator makes
-- it 'active'; every client registered before approvals existed was
-- registered under the old rules and stays usable, so it migrates to
-- 'active'.

-- +goose Up
ALTER TABLE oauth_clients ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('pending', 'active'));

-- +goose Down
ALTER TABLE oauth_clients DROP COLUMN status;
