-- Record matching (FHIR Patient/$match), SQLite dialect. Keep in step with
-- ../postgres/00027_match_keys.sql.
--
-- The blocking keys $match finds candidates by, computed in Go
-- (internal/matching) on every user write, so both dialects agree:
-- family_phon and given_phon are Soundex keys of the folded names (NULL
-- until computed: rows written before this migration are filled in by
-- sqlstore's backfill, run by Migrate), phone_key and alt_phone_key the
-- last nine digits of the two phone numbers ('' when none). Birth dates
-- (users_birth_start), emails (users_email_live) and identifiers
-- (user_identifiers_system_value) already have their indexes.

-- +goose Up
ALTER TABLE users ADD COLUMN family_phon TEXT;
ALTER TABLE users ADD COLUMN given_phon TEXT;
ALTER TABLE users ADD COLUMN phone_key TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN alt_phone_key TEXT NOT NULL DEFAULT '';
CREATE INDEX users_match_name ON users (family_phon, given_phon);
-- Partial: most rows may have no phone, and statistics over a column
-- mostly '' would make the planner prefer a scan.
CREATE INDEX users_phone_key ON users (phone_key) WHERE phone_key <> '';
CREATE INDEX users_alt_phone_key ON users (alt_phone_key) WHERE alt_phone_key <> '';
-- The rows the backfill has still to key: found without a scan.
CREATE INDEX users_match_unkeyed ON users (id) WHERE family_phon IS NULL;

-- +goose Down
DROP INDEX users_match_unkeyed;
DROP INDEX users_alt_phone_key;
DROP INDEX users_phone_key;
DROP INDEX users_match_name;
ALTER TABLE users DROP COLUMN alt_phone_key;
ALTER TABLE users DROP COLUMN phone_key;
ALTER TABLE users DROP COLUMN given_phon;
ALTER TABLE users DROP COLUMN family_phon;
