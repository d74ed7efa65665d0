-- ward schema, SQLite dialect. Keep in step with ../postgres/00001_init.sql:
-- the same tables, columns, constraints and indexes, only the type names and
-- identity syntax differ. Times are unix MICROseconds (exact, portable);
-- booleans are 0/1; lists of codings are JSON text.

-- +goose Up
CREATE TABLE roles (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL
) STRICT;

CREATE TABLE relationships (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL
) STRICT;

CREATE TABLE users (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    email                   TEXT NOT NULL DEFAULT '',
    -- lower-cased email, NULL when there is none, unique among live users
    email_lower             TEXT,
    password_hash           TEXT NOT NULL DEFAULT '',
    given_name              TEXT NOT NULL DEFAULT '',
    family_name             TEXT NOT NULL DEFAULT '',
    birth_date              TEXT NOT NULL DEFAULT '',
    gender                  TEXT NOT NULL DEFAULT '',
    phone                   TEXT NOT NULL DEFAULT '',
    alt_phone               TEXT NOT NULL DEFAULT '',
    locale                  TEXT NOT NULL DEFAULT '',
    timezone                TEXT NOT NULL DEFAULT '',
    deceased                INTEGER NOT NULL DEFAULT 0,
    deceased_at             INTEGER,
    image_url               TEXT NOT NULL DEFAULT '',
    races                   TEXT NOT NULL DEFAULT '[]',
    ethnicities             TEXT NOT NULL DEFAULT '[]',
    indigenous              TEXT NOT NULL DEFAULT '[]',
    registered              INTEGER NOT NULL,
    confirmed_at            INTEGER,
    deleted_at              INTEGER,
    updated_at              INTEGER NOT NULL,
    version                 INTEGER NOT NULL DEFAULT 1,
    general_practitioner_id INTEGER REFERENCES users (id) ON DELETE SET NULL
) STRICT;
CREATE UNIQUE INDEX users_email_live ON users (email_lower) WHERE deleted_at IS NULL;
CREATE INDEX users_general_practitioner ON users (general_practitioner_id);

CREATE TABLE user_roles (
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_name TEXT NOT NULL REFERENCES roles (name),
    PRIMARY KEY (user_id, role_name)
) STRICT;
CREATE INDEX user_roles_role ON user_roles (role_name, user_id);

CREATE TABLE user_relationships (
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    relationship  TEXT NOT NULL REFERENCES relationships (name),
    other_user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, relationship, other_user_id)
) STRICT;
CREATE INDEX user_relationships_other ON user_relationships (other_user_id);

CREATE TABLE organizations (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    name                TEXT NOT NULL,
    part_of_id          INTEGER REFERENCES organizations (id),
    type_codings        TEXT NOT NULL DEFAULT '[]',
    telecom             TEXT NOT NULL DEFAULT '[]',
    addresses           TEXT NOT NULL DEFAULT '[]',
    timezone            TEXT NOT NULL DEFAULT '',
    default_locale      TEXT NOT NULL DEFAULT '',
    use_specific_codings INTEGER NOT NULL DEFAULT 0,
    race_codings        INTEGER NOT NULL DEFAULT 0,
    ethnicity_codings   INTEGER NOT NULL DEFAULT 0,
    indigenous_codings  INTEGER NOT NULL DEFAULT 0,
    updated_at          INTEGER NOT NULL,
    version             INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX organizations_part_of ON organizations (part_of_id);

CREATE TABLE org_identifiers (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    system          TEXT NOT NULL,
    value           TEXT NOT NULL,
    use             TEXT NOT NULL DEFAULT '',
    UNIQUE (system, value)
) STRICT;
CREATE INDEX org_identifiers_org ON org_identifiers (organization_id);

-- One row; bumped by every organization insert, parent change or delete so
-- that cached OrgTrees on every replica know they are stale.
CREATE TABLE org_tree_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
) STRICT;
INSERT INTO org_tree_version (id, version) VALUES (1, 0);

CREATE TABLE user_organizations (
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_id INTEGER NOT NULL REFERENCES organizations (id),
    PRIMARY KEY (user_id, organization_id)
) STRICT;
CREATE INDEX user_organizations_org ON user_organizations (organization_id, user_id);

-- Uniqueness of (system, value) among live users is enforced by the store,
-- because it depends on the identifier system and on users.deleted_at.
CREATE TABLE user_identifiers (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    system  TEXT NOT NULL,
    value   TEXT NOT NULL,
    use     TEXT NOT NULL DEFAULT '',
    UNIQUE (user_id, system, value)
) STRICT;
CREATE INDEX user_identifiers_system_value ON user_identifiers (system, value);

CREATE TABLE groups (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE user_groups (
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
) STRICT;
CREATE INDEX user_groups_group ON user_groups (group_id);

CREATE TABLE user_profiles (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type       TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    catchment  TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (user_id, type, profile_id)
) STRICT;

CREATE TABLE consents (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id            INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_id    INTEGER NOT NULL REFERENCES organizations (id),
    agreement_url      TEXT NOT NULL DEFAULT '',
    status             TEXT NOT NULL CHECK (status IN ('consented', 'suspended', 'deleted')),
    staff_editable     INTEGER NOT NULL DEFAULT 0,
    include_in_reports INTEGER NOT NULL DEFAULT 0,
    send_reminders     INTEGER NOT NULL DEFAULT 0,
    acceptance_date    INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    deleted_at         INTEGER,
    -- the user who deleted it; a plain number like audit ids, kept after a purge
    deleted_by         INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX consents_user ON consents (user_id);
-- Drive "which patients may this staff member see" over valid consents
-- only: by organization (one ordered range scan per organization, for staff
-- of a few organizations) and by user (one ordered scan filtered on the
-- organization list, for staff of many).
CREATE INDEX consents_visible ON consents (organization_id, user_id, expires_at)
    WHERE status = 'consented' AND deleted_at IS NULL;
CREATE INDEX consents_visible_user ON consents (user_id, organization_id, expires_at)
    WHERE status = 'consented' AND deleted_at IS NULL;

CREATE TABLE tous (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type            TEXT NOT NULL,
    url             TEXT NOT NULL DEFAULT '',
    accepted_at     INTEGER NOT NULL,
    active          INTEGER NOT NULL DEFAULT 1,
    organization_id INTEGER REFERENCES organizations (id) ON DELETE SET NULL
) STRICT;
CREATE INDEX tous_user ON tous (user_id, type);

CREATE TABLE interventions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE user_interventions (
    user_id           INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    intervention_name TEXT NOT NULL REFERENCES interventions (name) ON DELETE CASCADE,
    PRIMARY KEY (user_id, intervention_name)
) STRICT;
CREATE INDEX user_interventions_name ON user_interventions (intervention_name, user_id);

-- The audit chain. id is the position in the chain, assigned by the store
-- under the audit_head lock, never by the database. No foreign keys: events
-- outlive the users they name.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY,
    ts         INTEGER NOT NULL,
    user_id    INTEGER NOT NULL DEFAULT 0,
    subject_id INTEGER NOT NULL DEFAULT 0,
    client_id  TEXT NOT NULL DEFAULT '',
    context    TEXT NOT NULL,
    comment    TEXT NOT NULL DEFAULT '',
    version    TEXT NOT NULL DEFAULT '',
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
) STRICT;
CREATE INDEX audit_events_user ON audit_events (user_id, id);
CREATE INDEX audit_events_subject ON audit_events (subject_id, id);
CREATE INDEX audit_events_ts ON audit_events (ts);

CREATE TABLE audit_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    last_id   INTEGER NOT NULL,
    last_hash TEXT NOT NULL
) STRICT;
INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 0, '');

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    auth_time  INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_last_seen ON sessions (last_seen);
CREATE INDEX sessions_created_at ON sessions (created_at);

CREATE TABLE login_failures (
    user_id      INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    failures     INTEGER NOT NULL,
    last_failure INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE login_failures;
DROP TABLE sessions;
DROP TABLE audit_head;
DROP TABLE audit_events;
DROP TABLE user_interventions;
DROP TABLE interventions;
DROP TABLE tous;
DROP TABLE consents;
DROP TABLE user_profiles;
DROP TABLE user_groups;
DROP TABLE groups;
DROP TABLE user_identifiers;
DROP TABLE user_organizations;
DROP TABLE org_tree_version;
DROP TABLE org_identifiers;
DROP TABLE organizations;
DROP TABLE user_relationships;
DROP TABLE user_roles;
DROP TABLE users;
DROP TABLE relationships;
DROP TABLE roles;
