-- Interventions (issue 13): the display settings of an intervention, and
-- the per-user access row (UserIntervention) of the reference system.
-- PostgreSQL dialect; keep in step with ../sqlite/00020_interventions.sql.
--
-- The OAuth client that acts for an intervention is the one whose
-- oauth_clients.intervention names it (set through the client registry);
-- at most one client may name an intervention. Should an older database
-- hold several clients naming one intervention, the earliest registered
-- keeps it and the others are unlinked (CHANGELOG says so): two clients
-- acting for one intervention is exactly what the rule forbids.
--
-- Existing user_interventions rows are enrolments and become 'granted'.

-- +goose Up
ALTER TABLE interventions ADD COLUMN card_html TEXT NOT NULL DEFAULT '';
ALTER TABLE interventions ADD COLUMN link_label TEXT NOT NULL DEFAULT '';
ALTER TABLE interventions ADD COLUMN link_url TEXT NOT NULL DEFAULT '';
ALTER TABLE interventions ADD COLUMN status_text TEXT NOT NULL DEFAULT '';
ALTER TABLE interventions ADD COLUMN public_access BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE interventions ADD COLUMN display_rank INTEGER NOT NULL DEFAULT 0;
ALTER TABLE interventions ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE interventions ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE interventions ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

ALTER TABLE user_interventions ADD COLUMN access TEXT NOT NULL DEFAULT 'granted'
    CHECK (access IN ('forbidden', 'granted', 'subscribed'));
ALTER TABLE user_interventions ADD COLUMN card_html TEXT NOT NULL DEFAULT '';
ALTER TABLE user_interventions ADD COLUMN link_label TEXT NOT NULL DEFAULT '';
ALTER TABLE user_interventions ADD COLUMN link_url TEXT NOT NULL DEFAULT '';
ALTER TABLE user_interventions ADD COLUMN status_text TEXT NOT NULL DEFAULT '';
ALTER TABLE user_interventions ADD COLUMN staff_html TEXT NOT NULL DEFAULT '';
ALTER TABLE user_interventions ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;

UPDATE oauth_clients SET intervention = NULL
WHERE intervention IS NOT NULL AND id <> (
    SELECT min(c.id) FROM oauth_clients c WHERE c.intervention = oauth_clients.intervention);
CREATE UNIQUE INDEX oauth_clients_intervention ON oauth_clients (intervention)
    WHERE intervention IS NOT NULL;

-- +goose Down
DROP INDEX oauth_clients_intervention;
ALTER TABLE user_interventions DROP COLUMN updated_at;
ALTER TABLE user_interventions DROP COLUMN staff_html;
ALTER TABLE user_interventions DROP COLUMN status_text;
ALTER TABLE user_interventions DROP COLUMN link_url;
ALTER TABLE user_interventions DROP COLUMN link_label;
ALTER TABLE user_interventions DROP COLUMN card_html;
ALTER TABLE user_interventions DROP COLUMN access;
ALTER TABLE interventions DROP COLUMN version;
ALTER TABLE interventions DROP COLUMN updated_at;
ALTER TABLE interventions DROP COLUMN created_at;
ALTER TABLE interventions DROP COLUMN display_rank;
ALTER TABLE interventions DROP COLUMN public_access;
ALTER TABLE interventions DROP COLUMN status_text;
ALTER TABLE interventions DROP COLUMN link_url;
ALTER TABLE interventions DROP COLUMN link_label;
ALTER TABLE interventions DROP COLUMN card_html;
