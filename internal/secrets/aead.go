package secrets

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/aead/subtle"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// keysetAD binds an encrypted keyset to its use, so a blob encrypted under
// the key-encryption key for another purpose cannot be passed off as one.
var keysetAD = []byte("ward keyset v1")

// NewAEAD returns the key-encryption AEAD: AES-256-GCM under a sub-key of the
// master key (PurposeKeysetKEK). It wraps Keysets; data itself is encrypted
// with a Keyset, whose keys can rotate while the master key stays put.
func NewAEAD(masterKey []byte) (tink.AEAD, error) {
	k, err := DeriveKey(masterKey, PurposeKeysetKEK, 32)
	if err != nil {
		return nil, err
	}
	a, err := subtle.NewAESGCM(k)
	if err != nil {
		return nil, fmt.Errorf("key-encryption AEAD: %w", err)
	}
	return a, nil
}

// Keyset is a tink AEAD keyset: one primary key that encrypts, and older keys
// that still decrypt what they encrypted, so rotation needs no downtime and
// no bulk re-encryption. Each ciphertext names its key (tink's prefix). A
// Keyset is immutable and safe for concurrent use; Rotate returns a new one.
type Keyset struct {
	h *keyset.Handle
	a tink.AEAD
}

// NewKeyset returns a keyset with one fresh AES-256-GCM key.
func NewKeyset() (*Keyset, error) {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return nil, fmt.Errorf("new keyset: %w", err)
	}
	return keysetFromHandle(h)
}

func keysetFromHandle(h *keyset.Handle) (*Keyset, error) {
	a, err := aead.New(h)
	if err != nil {
		return nil, fmt.Errorf("keyset primitive: %w", err)
	}
	return &Keyset{h: h, a: a}, nil
}

// OpenKeyset decrypts a keyset sealed by Seal with the same key-encryption
// AEAD (see NewAEAD). A wrong master key or an edited blob is an error.
func OpenKeyset(sealed []byte, kek tink.AEAD) (*Keyset, error) {
	if len(sealed) == 0 {
		return nil, errors.New("open keyset: empty")
	}
	h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(sealed)), kek, keysetAD)
	if err != nil {
		return nil, fmt.Errorf("open keyset (wrong master key or corrupted keyset): %w", err)
	}
	return keysetFromHandle(h)
}

// Seal returns the keyset encrypted under kek, safe to store anywhere.
func (k *Keyset) Seal(kek tink.AEAD) ([]byte, error) {
	var buf bytes.Buffer
	if err := k.h.WriteWithAssociatedData(keyset.NewBinaryWriter(&buf), kek, keysetAD); err != nil {
		return nil, fmt.Errorf("seal keyset: %w", err)
	}
	return buf.Bytes(), nil
}

// Rotate returns a copy of k with a fresh AES-256-GCM key as primary; every
// older key still decrypts. Store the sealed result before encrypting with it.
func (k *Keyset) Rotate() (*Keyset, error) {
	m := keyset.NewManagerFromHandle(k.h)
	id, err := m.Add(aead.AES256GCMKeyTemplate())
	if err != nil {
		return nil, fmt.Errorf("rotate keyset: %w", err)
	}
	if err := m.SetPrimary(id); err != nil {
		return nil, fmt.Errorf("rotate keyset: %w", err)
	}
	h, err := m.Handle()
	if err != nil {
		return nil, fmt.Errorf("rotate keyset: %w", err)
	}
	return keysetFromHandle(h)
}

// Len returns how many keys the keyset holds.
func (k *Keyset) Len() int { return k.h.Len() }

// Encrypt encrypts plaintext with the primary key. associatedData is
// authenticated, not encrypted: pass what the ciphertext belongs to (a table
// and row id) so it cannot be moved to another row.
func (k *Keyset) Encrypt(plaintext, associatedData []byte) ([]byte, error) {
	ct, err := k.a.Encrypt(plaintext, associatedData)
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	return ct, nil
}

// Decrypt decrypts ciphertext made by any key in the keyset; a tampered
// ciphertext or different associatedData is an error.
func (k *Keyset) Decrypt(ciphertext, associatedData []byte) ([]byte, error) {
	pt, err := k.a.Decrypt(ciphertext, associatedData)
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	return pt, nil
}

// PurposeAEAD returns tink's AES-256-GCM under the sub-key of masterKey
// derived for purpose: what one feature seals (connector tokens, webhook
// secrets) no other use of the master key can open, and without the master
// key the database holds nothing usable.
func PurposeAEAD(masterKey []byte, purpose string) (tink.AEAD, error) {
	k, err := DeriveKey(masterKey, purpose, 32)
	if err != nil {
		return nil, fmt.Errorf("%s AEAD: %w", purpose, err)
	}
	a, err := subtle.NewAESGCM(k)
	if err != nil {
		return nil, fmt.Errorf("%s AEAD: %w", purpose, err)
	}
	return a, nil
}
