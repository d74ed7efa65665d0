-- Access rules of interventions (issue 13, seed 001's AccessStrategy):
-- each row is one rule as its author gave it (name, description, optional
-- rank, function_details JSON kept byte for byte), compiled by
-- internal/intervention/strategy when it is stored and again whenever a
-- ruleset is built. The rank is optional and unique per intervention (a
-- unique index; NULLs never collide). A rule goes with its intervention.
--
-- ruleset_version is one counter that moves with every change a compiled
-- ruleset depends on besides the organization tree (which has its own
-- org_tree_version): access rules, interventions, the clients acting for
-- them, and organization names and identifiers. A replica reads the sum
-- of both counters and rebuilds its cached rules only when it moved.
-- SQLite dialect; keep in step with ../postgres/00021_access_rules.sql.

-- +goose Up
CREATE TABLE access_rules (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    intervention_name TEXT NOT NULL REFERENCES interventions (name) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    rank              INTEGER,
    function_details  TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    version           INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX access_rules_intervention ON access_rules (intervention_name, id);
CREATE UNIQUE INDEX access_rules_rank ON access_rules (intervention_name, rank);

CREATE TABLE ruleset_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
) STRICT;
INSERT INTO ruleset_version (id, version) VALUES (1, 0);

-- +goose Down
DROP TABLE ruleset_version;
DROP TABLE access_rules;
