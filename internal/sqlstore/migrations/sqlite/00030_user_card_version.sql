-- users.card_version (issue 14). SQLite dialect; keep in step
-- with ../postgres/00030_user_card_version.sql.
--
-- The legacy IdP token look-up (sqlstore.ReadIDPToken) keeps each
-- person's group names and profiles with catchments in an in-process
-- cache and reads this column with the token on every request: a cached
-- card is used only while its version equals the row's. Every write to a
-- person's user_groups or user_profiles rows adds one in the same
-- transaction (sqlstore: SetUserGroups, SetUserProfiles, MoveUserData;
-- groups are never renamed or deleted today, and a path that does must
-- add one to every member's), so a change made through any replica shows
-- on the very next look-up everywhere. Ids are never reused
-- (AUTOINCREMENT / identity), so (id, version) names one card for good.

-- +goose Up
ALTER TABLE users ADD COLUMN card_version INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE users DROP COLUMN card_version;
