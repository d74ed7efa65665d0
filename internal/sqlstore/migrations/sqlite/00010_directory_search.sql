-- FHIR Patient search over the directory, SQLite dialect. Keep in step with
-- ../postgres/00010_directory_search.sql.
--
-- given_key and family_key are the names as the store compares them
-- (case and Latin accents folded in Go on every write, so both dialects
-- fold alike); an index range on them serves FHIR's default "starts with" name
-- search. birth_start is birth_date as the unix microsecond its day starts
-- at (UTC), NULL when unknown, so birthdate prefixes compare integers.

-- +goose Up
ALTER TABLE users ADD COLUMN given_key TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN family_key TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN birth_start INTEGER;
-- Rows written before this migration get SQL lower() (ASCII only here, no
-- accents); the next write of each row stores Go's folding.
UPDATE users SET given_key = lower(given_name), family_key = lower(family_name),
    birth_start = CASE WHEN birth_date = '' THEN NULL ELSE unixepoch(birth_date) * 1000000 END;
CREATE INDEX users_given_key ON users (given_key);
CREATE INDEX users_family_key ON users (family_key);
CREATE INDEX users_birth_start ON users (birth_start);
-- _lastUpdated and the bulk export's _since.
CREATE INDEX users_updated_at ON users (updated_at);
-- A practitioner's patients in id order (the Group per practitioner).
DROP INDEX users_general_practitioner;
CREATE INDEX users_general_practitioner ON users (general_practitioner_id, id);

-- +goose Down
DROP INDEX users_general_practitioner;
CREATE INDEX users_general_practitioner ON users (general_practitioner_id);
DROP INDEX users_updated_at;
DROP INDEX users_birth_start;
DROP INDEX users_family_key;
DROP INDEX users_given_key;
ALTER TABLE users DROP COLUMN birth_start;
ALTER TABLE users DROP COLUMN family_key;
ALTER TABLE users DROP COLUMN given_key;
