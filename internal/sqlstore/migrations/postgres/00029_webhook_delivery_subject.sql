-- Webhook delivery order per subject (issue 15). PostgreSQL dialect; keep in step
-- with ../sqlite/00029_webhook_delivery_subject.sql.
--
-- A delivery goes out only when no earlier delivery of the same
-- subscription and subject is still unsucceeded. The worker finds each
-- subject's head with NOT EXISTS on that condition, one index probe per
-- candidate with this index; without it each probe would scan every
-- earlier unsucceeded row of the subscription (quadratic in a backlog).
-- Partial: succeeded rows, the bulk of the log, never block anything.

-- +goose Up
CREATE INDEX webhook_deliveries_subject ON webhook_deliveries (webhook_id, subject, id)
    WHERE status <> 'succeeded';

-- +goose Down
DROP INDEX webhook_deliveries_subject;
