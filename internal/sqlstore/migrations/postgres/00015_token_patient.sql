-- The SMART launch patient of a grant, as a column: withdrawing a patient's
-- consent revokes the tokens others (staff) hold on that patient's launch
-- context in the same transaction, which needs to find them by patient.
-- Purging the patient takes those tokens with them. PostgreSQL dialect; keep
-- in step with ../sqlite/00015_token_patient.sql.

-- +goose Up
ALTER TABLE oauth_tokens ADD COLUMN patient_id BIGINT REFERENCES users (id) ON DELETE CASCADE;
-- Grants issued before this column existed carry their launch patient only
-- in the stored session; copy it over (when that person still exists).
-- encode(..., 'escape') reads bytes that are not UTF-8 without failing.
UPDATE oauth_tokens o SET patient_id = u.id
FROM users u
WHERE encode(o.data, 'escape') ~ '"patient":"[0-9]{1,18}"'
  AND u.id = (substring(encode(o.data, 'escape') FROM '"patient":"([0-9]{1,18})"'))::BIGINT;
-- Revoking by patient, and the foreign key's cascade; most rows have none.
CREATE INDEX oauth_tokens_patient ON oauth_tokens (patient_id) WHERE patient_id IS NOT NULL;

-- +goose Down
DROP INDEX oauth_tokens_patient;
ALTER TABLE oauth_tokens DROP COLUMN patient_id;
