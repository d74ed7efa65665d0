-- A patient's clinical record (seed 001 Observation and Procedure), SQLite
-- dialect. Keep in step with ../postgres/00006_clinical.sql. Times are unix
-- microseconds; codings and values are JSON text.
--
-- An occurrence (Observation.effective, Procedure.performed) is either the
-- *_at dateTime or the *_start/*_end period, never both.

-- +goose Up
CREATE TABLE observations (
    -- id orders rows for paging and for the bulk-export scan
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    -- A purged patient takes their record with them.
    patient_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status          TEXT NOT NULL CHECK (status IN ('registered', 'preliminary', 'final',
                        'amended', 'corrected', 'cancelled', 'entered-in-error')),
    code            TEXT NOT NULL DEFAULT '[]',
    category        TEXT NOT NULL DEFAULT '[]',
    -- clinical.Value as JSON, '{}' for none
    value           TEXT NOT NULL DEFAULT '{}',
    effective_at    INTEGER,
    effective_start INTEGER,
    effective_end   INTEGER,
    issued          INTEGER NOT NULL,
    -- Purging a performer or recorder keeps the observation.
    performer_id    INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_by      INTEGER REFERENCES users (id) ON DELETE SET NULL,
    updated_at      INTEGER NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,
    deleted_at      INTEGER,
    CHECK (effective_at IS NULL OR (effective_start IS NULL AND effective_end IS NULL))
) STRICT;
-- A patient's observations newest first; also serves the patient_id key.
CREATE INDEX observations_patient ON observations (patient_id, id);
-- Incremental ("_since") exports.
CREATE INDEX observations_updated ON observations (updated_at);
-- The SET NULL keys, so purging a user does not scan the table.
CREATE INDEX observations_performer ON observations (performer_id);
CREATE INDEX observations_created_by ON observations (created_by);

CREATE TABLE procedures (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    patient_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status          TEXT NOT NULL CHECK (status IN ('preparation', 'in-progress', 'not-done',
                        'on-hold', 'stopped', 'completed', 'entered-in-error', 'unknown')),
    -- SNOMED CT codings, JSON
    code            TEXT NOT NULL DEFAULT '[]',
    performed_at    INTEGER,
    performed_start INTEGER,
    performed_end   INTEGER,
    performer_id    INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_by      INTEGER REFERENCES users (id) ON DELETE SET NULL,
    updated_at      INTEGER NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,
    deleted_at      INTEGER,
    CHECK ((performed_at IS NOT NULL) <> (performed_start IS NOT NULL OR performed_end IS NOT NULL))
) STRICT;
CREATE INDEX procedures_patient ON procedures (patient_id, id);
CREATE INDEX procedures_updated ON procedures (updated_at);
CREATE INDEX procedures_performer ON procedures (performer_id);
CREATE INDEX procedures_created_by ON procedures (created_by);

-- +goose Down
DROP TABLE procedures;
DROP TABLE observations;
