package secrets

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// maxTokenBytes bounds RandomToken; anything longer is a caller bug.
const maxTokenBytes = 1024

// RandomToken returns nbytes from the system's secure random source, as
// unpadded base64url (safe in cookies, URLs and headers). Use at least 32
// bytes for credentials.
func RandomToken(nbytes int) (string, error) {
	if nbytes < 1 || nbytes > maxTokenBytes {
		return "", fmt.Errorf("random token: length %d out of range [1, %d]", nbytes, maxTokenBytes)
	}
	b := make([]byte, nbytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// SHA256Hex returns the lowercase hex SHA-256 of s. It suits high-entropy
// random tokens (sessions), which need no key or salt to be unguessable from
// their hash; passwords need Argon2 instead.
func SHA256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// HMACKey signs strings with HMAC-SHA-256. Storing a token or client secret
// by its keyed signature (rather than a plain hash) means a stolen database
// alone is not enough to check guesses against it. Derive one key per purpose
// with DeriveKey.
type HMACKey []byte

// Sign returns the lowercase hex HMAC-SHA-256 of s under k.
func (k HMACKey) Sign(s string) string {
	m := hmac.New(sha256.New, k)
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))
}

// Verify reports, in constant time, whether sig is k's signature of s.
func (k HMACKey) Verify(s, sig string) bool {
	return hmac.Equal([]byte(k.Sign(s)), []byte(sig))
}
