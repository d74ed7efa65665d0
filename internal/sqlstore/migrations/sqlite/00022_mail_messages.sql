-- The mail outbox (issue 13, "Communicate"): one row per recipient of a
-- message sent for an intervention, stored in the transaction that audits
-- the send and inserts the delivery job.
-- SQLite dialect; keep in step with ../postgres/00022_mail_messages.sql.
--
-- A message goes with its recipient when the recipient is purged (it
-- holds their address and may hold health information); the sender is
-- forgotten (NULL) when the sender is purged. intervention is a name, not
-- a reference: the record of what was sent outlives the intervention.
-- Times are microseconds since the epoch, as elsewhere.

-- +goose Up
CREATE TABLE mail_messages (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    intervention      TEXT NOT NULL,
    sender_id         INTEGER REFERENCES users (id) ON DELETE SET NULL,
    recipient_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    recipient_address TEXT NOT NULL,
    subject           TEXT NOT NULL,
    body              TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'not_sent', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    sent_at           INTEGER
);
CREATE INDEX mail_messages_intervention ON mail_messages (intervention, id);
CREATE INDEX mail_messages_recipient ON mail_messages (recipient_id);
CREATE INDEX mail_messages_sender ON mail_messages (sender_id);

-- +goose Down
DROP TABLE mail_messages;
