-- FHIR search over the clinical record (code, date), SQLite dialect. Keep
-- in step with ../postgres/00009_clinical_search.sql.
--
-- date_lo/date_hi are the half-open range [lo, hi) in unix microseconds
-- that a date search reads (see clinical.ObservationRange): a dateTime is
-- one microsecond wide, a period runs from its start to one microsecond
-- past its (inclusive) end, NULL being an open end; an observation without
-- effective[x] falls back to its issued instant. They are generated, so
-- every existing and future row has them without the store writing them.
--
-- The codings are copied into side tables by the store on every create and
-- update, so that a code search is an index lookup instead of parsing JSON.

-- +goose Up
ALTER TABLE observations ADD COLUMN date_lo INTEGER GENERATED ALWAYS AS (
    CASE
        WHEN effective_at IS NOT NULL THEN effective_at
        WHEN effective_start IS NOT NULL OR effective_end IS NOT NULL THEN effective_start
        ELSE issued
    END) VIRTUAL;
ALTER TABLE observations ADD COLUMN date_hi INTEGER GENERATED ALWAYS AS (
    CASE
        WHEN effective_at IS NOT NULL THEN effective_at + 1
        WHEN effective_start IS NOT NULL OR effective_end IS NOT NULL THEN effective_end + 1
        ELSE issued + 1
    END) VIRTUAL;
ALTER TABLE procedures ADD COLUMN date_lo INTEGER GENERATED ALWAYS AS (
    CASE WHEN performed_at IS NOT NULL THEN performed_at ELSE performed_start END) VIRTUAL;
ALTER TABLE procedures ADD COLUMN date_hi INTEGER GENERATED ALWAYS AS (
    CASE WHEN performed_at IS NOT NULL THEN performed_at + 1 ELSE performed_end + 1 END) VIRTUAL;
-- Not indexed: a search is driven by the patient index (patient_id, id),
-- which also gives the id order pages follow; the date is checked on the
-- rows it finds.

-- One row per distinct (system, code) of a resource's code element.
CREATE TABLE observation_codes (
    observation_id INTEGER NOT NULL REFERENCES observations (id) ON DELETE CASCADE,
    system         TEXT NOT NULL,
    code           TEXT NOT NULL,
    PRIMARY KEY (observation_id, system, code)
) STRICT, WITHOUT ROWID;
-- No other index: a search reaches a resource's codings through the
-- primary key, after the patient index has found the patient's rows.

CREATE TABLE procedure_codes (
    procedure_id INTEGER NOT NULL REFERENCES procedures (id) ON DELETE CASCADE,
    system       TEXT NOT NULL,
    code         TEXT NOT NULL,
    PRIMARY KEY (procedure_id, system, code)
) STRICT, WITHOUT ROWID;

-- Backfill the codings of rows written before this migration.
INSERT OR IGNORE INTO observation_codes (observation_id, system, code)
    SELECT o.id, COALESCE(json_extract(j.value, '$.system'), ''), COALESCE(json_extract(j.value, '$.code'), '')
    FROM observations o, json_each(o.code) j;
INSERT OR IGNORE INTO procedure_codes (procedure_id, system, code)
    SELECT p.id, COALESCE(json_extract(j.value, '$.system'), ''), COALESCE(json_extract(j.value, '$.code'), '')
    FROM procedures p, json_each(p.code) j;

-- +goose Down
DROP TABLE procedure_codes;
DROP TABLE observation_codes;
ALTER TABLE procedures DROP COLUMN date_hi;
ALTER TABLE procedures DROP COLUMN date_lo;
ALTER TABLE observations DROP COLUMN date_hi;
ALTER TABLE observations DROP COLUMN date_lo;
