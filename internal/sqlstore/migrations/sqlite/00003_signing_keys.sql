-- Signing keys for the authorization server's JWTs (access and ID tokens).
-- Keep in step with ../postgres/00003_signing_keys.sql. Times are unix
-- microseconds. The private key is stored only as AEAD ciphertext whose
-- associated data names the kid and alg, so a row's key cannot be moved to
-- another row; the public key is derived from it, never stored apart.

-- +goose Up
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    alg          TEXT NOT NULL CHECK (alg <> ''),
    created_at   INTEGER NOT NULL,
    activated_at INTEGER NOT NULL,
    -- NULL while the key is the current signer of its alg; set on rotation
    -- to the time after which no token it signed can still be valid.
    retire_after INTEGER,
    private_key  BLOB NOT NULL CHECK (length(private_key) > 0)
) STRICT;
-- At most one current key per algorithm: two replicas creating the first
-- keys at once, or two rotations racing, cannot both win.
CREATE UNIQUE INDEX signing_keys_current ON signing_keys (alg) WHERE retire_after IS NULL;
CREATE INDEX signing_keys_retire_after ON signing_keys (retire_after);

-- One row; bumped by every change to signing_keys so every replica's cached
-- key set knows it is stale.
CREATE TABLE signing_keys_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
) STRICT;
INSERT INTO signing_keys_version (id, version) VALUES (1, 0);

-- +goose Down
DROP TABLE signing_keys_version;
DROP TABLE signing_keys;
