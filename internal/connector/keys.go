package connector

import (
	"fmt"

	"github.com/tink-crypto/tink-go/v2/aead/subtle"

	"ward/internal/secrets"
)

// KeyPurpose is the secrets.DeriveKey purpose of the sub-key that seals
// connectors' secrets: no other use of the master key can open them.
const KeyPurpose = "connector-secrets"

// NewMasterKeyAEAD returns the Sealer for connectors' secrets: tink's
// AES-256-GCM under a sub-key of the master key (as internal/oauth/keys
// seals private signing keys). Without the master key the database holds
// nothing usable.
func NewMasterKeyAEAD(masterKey []byte) (Sealer, error) {
	k, err := secrets.DeriveKey(masterKey, KeyPurpose, 32)
	if err != nil {
		return nil, fmt.Errorf("connector AEAD: %w", err)
	}
	a, err := subtle.NewAESGCM(k)
	if err != nil {
		return nil, fmt.Errorf("connector AEAD: %w", err)
	}
	return a, nil
}
