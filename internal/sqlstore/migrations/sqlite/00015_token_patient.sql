-- The SMART launch patient of a grant, as a column: withdrawing a patient's
-- consent revokes the tokens others (staff) hold on that patient's launch
-- context in the same transaction, which needs to find them by patient.
-- Purging the patient takes those tokens with them. SQLite dialect; keep in
-- step with ../postgres/00015_token_patient.sql.

-- +goose Up
ALTER TABLE oauth_tokens ADD COLUMN patient_id INTEGER REFERENCES users (id) ON DELETE CASCADE;
-- Grants issued before this column existed carry their launch patient only
-- in the stored session; copy it over (when that person still exists).
UPDATE oauth_tokens SET patient_id = CAST(json_extract(CAST(data AS TEXT), '$.session.patient') AS INTEGER)
WHERE json_valid(CAST(data AS TEXT))
  AND json_extract(CAST(data AS TEXT), '$.session.patient') IS NOT NULL
  AND EXISTS (SELECT 1 FROM users
              WHERE users.id = CAST(json_extract(CAST(oauth_tokens.data AS TEXT), '$.session.patient') AS INTEGER));
-- Revoking by patient, and the foreign key's cascade; most rows have none.
CREATE INDEX oauth_tokens_patient ON oauth_tokens (patient_id) WHERE patient_id IS NOT NULL;

-- +goose Down
DROP INDEX oauth_tokens_patient;
ALTER TABLE oauth_tokens DROP COLUMN patient_id;
