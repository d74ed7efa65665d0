-- Webhooks (issue 15, seed 002): subscriptions of a system client's URL to
-- typed event types, and one delivery row per (subscription, event).
-- SQLite dialect; keep in step with ../postgres/00025_webhooks.sql.
--
-- The outbox is the audit chain: every typed event is appended to
-- audit_events inside the transaction of the change it describes, so a
-- committed change always has its event and a rolled-back one never does.
-- The dispatcher tails audit_events from webhook_dispatch.last_event_id
-- (ids become visible in order: appends serialise on the audit head) and
-- writes a delivery per matching enabled subscription, with the payload as
-- it will be sent (already filtered by the subscriber's scopes).
--
-- Secrets are stored only as tink ciphertexts bound to the subscription id;
-- during a rotation's overlap the previous secret signs too.
-- failure_run counts consecutive failed attempts; at the configured limit
-- the subscription is disabled (re-enabled by hand). after_event_id is the
-- audit head when the subscription was made: it receives only later events.
-- Delivery status: pending (not yet tried), retrying (last try failed, next
-- at next_attempt_at), succeeded. Deliveries of one subscription and subject
-- go out in id order: a later one waits while an earlier one is not
-- succeeded. Times are microseconds since the epoch (0: none).

-- +goose Up
CREATE TABLE webhooks (
    id                     TEXT PRIMARY KEY,
    client_id              TEXT NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    url                    TEXT NOT NULL,
    events                 TEXT NOT NULL,
    description            TEXT NOT NULL DEFAULT '',
    secret_sealed          BLOB NOT NULL,
    previous_secret_sealed BLOB,
    previous_expires_at    BIGINT NOT NULL DEFAULT 0,
    status                 TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
    disabled_reason        TEXT NOT NULL DEFAULT '',
    failure_run            INTEGER NOT NULL DEFAULT 0,
    after_event_id         BIGINT NOT NULL DEFAULT 0,
    created_by             BIGINT NOT NULL DEFAULT 0,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    version                BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX webhooks_client ON webhooks (client_id);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        BIGINT NOT NULL,
    event_type      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'retrying', 'succeeded')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    last_attempt_at BIGINT NOT NULL DEFAULT 0,
    response_status INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    latency_us      BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (webhook_id, status, id);

CREATE TABLE webhook_dispatch (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    last_event_id BIGINT NOT NULL
);
INSERT INTO webhook_dispatch (id, last_event_id) SELECT 1, COALESCE(MAX(id), 0) FROM audit_events;

-- +goose Down
DROP TABLE webhook_dispatch;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
