package connector

import "ward/internal/secrets"

// KeyPurpose is the secrets.DeriveKey purpose of the sub-key that seals
// connectors' secrets: no other use of the master key can open them.
const KeyPurpose = "connector-secrets"

// NewMasterKeyAEAD returns the Sealer for connectors' secrets: tink's
// AES-256-GCM under a sub-key of the master key (as internal/oauth/keys
// seals private signing keys). Without the master key the database holds
// nothing usable.
func NewMasterKeyAEAD(masterKey []byte) (Sealer, error) {
	return secrets.PurposeAEAD(masterKey, KeyPurpose)
}
