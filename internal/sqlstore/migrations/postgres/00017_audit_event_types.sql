-- Typed change events (issue 12): every audit event written from now on
-- names a registered event type, the reference of what changed, a small
-- JSON payload of the safe changed fields and the request's source address.
-- Rows written before keep '' in all four and hash by the v1 formula (see
-- audit.ComputeHash), so the chain verifies across this migration.
-- PostgreSQL dialect; keep in step with ../sqlite/00017_audit_event_types.sql.

-- +goose Up
ALTER TABLE audit_events ADD COLUMN event_type TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN payload TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN source_ip TEXT NOT NULL DEFAULT '';
-- The activity feed and ?type= filter read by type in chain order.
CREATE INDEX audit_events_type ON audit_events (event_type, id);

-- +goose Down
DROP INDEX audit_events_type;
ALTER TABLE audit_events DROP COLUMN source_ip;
ALTER TABLE audit_events DROP COLUMN payload;
ALTER TABLE audit_events DROP COLUMN subject;
ALTER TABLE audit_events DROP COLUMN event_type;
