-- Workflow records (issue 15, seed 002): FHIR Task declarations moving
-- through a business status (submitted, validated, registered, certified,
-- issued, or rejected), sqlite dialect. Keep in step with
-- ../postgres/00026_tasks.sql. Times are unix microseconds.
--
-- resource is the Task as submitted (FHIR JSON) without the elements ward
-- manages (id, meta, status, businessStatus, statusReason, lastModified),
-- which are rendered from the columns: the workflow owns them, and an
-- action changes one row without rewriting the declaration. status is the
-- FHIR Task.status that the business status maps to. patient_id is the
-- Task.for patient when it names a ward patient (NULL otherwise: a person
-- not yet known). requester and source are the references the
-- declaration named, as text, for display and search.

-- +goose Up
CREATE TABLE tasks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    status          TEXT NOT NULL CHECK (status IN ('requested', 'in-progress', 'completed', 'rejected')),
    business_status TEXT NOT NULL CHECK (business_status IN ('submitted', 'validated', 'registered',
                        'certified', 'issued', 'rejected')),
    status_reason   TEXT NOT NULL DEFAULT '',
    resource        TEXT NOT NULL,
    -- A purged patient takes their declarations with them.
    patient_id      INTEGER REFERENCES users (id) ON DELETE CASCADE,
    requester       TEXT NOT NULL DEFAULT '',
    source          TEXT NOT NULL DEFAULT '',
    client_id       TEXT NOT NULL DEFAULT '',
    created_by      INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX tasks_patient ON tasks (patient_id, id);
CREATE INDEX tasks_business_status ON tasks (business_status, id);
CREATE INDEX tasks_updated ON tasks (updated_at);
CREATE INDEX tasks_created_by ON tasks (created_by);

-- +goose Down
DROP TABLE tasks;
