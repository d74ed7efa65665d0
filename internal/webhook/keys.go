package webhook

import (
	"ward/internal/secrets"
)

// KeyPurpose is the secrets.DeriveKey purpose of the sub-key that seals
// subscriptions' signing secrets.
const KeyPurpose = "webhook-secrets"

// Sealer encrypts and decrypts with associated data (the subscription id),
// so a ciphertext copied to another row does not open.
type Sealer interface {
	Encrypt(plaintext, associatedData []byte) ([]byte, error)
	Decrypt(ciphertext, associatedData []byte) ([]byte, error)
}

// NewSealer returns the Sealer for signing secrets, under a sub-key of the
// master key.
func NewSealer(masterKey []byte) (Sealer, error) {
	return secrets.PurposeAEAD(masterKey, KeyPurpose)
}
