package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/tink-crypto/tink-go/v2/aead/subtle"

	"ward/internal/secrets"
)

// Signing algorithms (JWA names, RFC 7518).
const (
	// ES256 is ECDSA on P-256 with SHA-256: the algorithm of ward's JWT
	// access tokens (short signatures, fast to sign), and of the ID tokens
	// of clients that register it.
	ES256 = "ES256"
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256, which OpenID Connect requires
	// an OP to support for ID tokens, and the algorithm of a client's ID
	// tokens unless it registered another.
	RS256 = "RS256"
)

// DefaultAlg is the first of Algorithms, the algorithm of JWT access
// tokens. ID tokens default to RS256 instead, as OpenID Connect Core
// requires; a client may register ES256 (id_token_signed_response_alg).
const DefaultAlg = ES256

// RSABits is the size of generated RSA keys: the 2048-bit minimum that
// OpenID Connect and NIST SP 800-57 accept, which keeps first-run key
// generation quick; keys rotate, so their size need not last decades.
const RSABits = 2048

// Algorithms returns the algorithms a Manager keeps a current key for,
// default first.
func Algorithms() []string { return []string{ES256, RS256} }

func supported(alg string) bool { return alg == ES256 || alg == RS256 }

// Key is one signing key with its private half in memory. The private key is
// unexported and Key's String never shows it, so a Key printed or logged by
// mistake leaks nothing.
type Key struct {
	// KID is the key id: the RFC 7638 SHA-256 thumbprint of the public key,
	// base64url. It is derived from the key, so it is unique and checkable.
	KID string
	// Alg is ES256 or RS256.
	Alg string
	// CreatedAt is when the key was generated.
	CreatedAt time.Time
	// ActivatedAt is when the key became its algorithm's signer.
	ActivatedAt time.Time
	// RetireAfter is zero while the key is its algorithm's current signer.
	// A rotation sets it to the time after which no token the key signed
	// can still be valid; the key is published until then.
	RetireAfter time.Time

	signer crypto.Signer
}

// String names the key without its material.
func (k *Key) String() string {
	return fmt.Sprintf("signing key %s (%s)", k.KID, k.Alg)
}

// Signer returns the private key (*ecdsa.PrivateKey or *rsa.PrivateKey).
func (k *Key) Signer() crypto.Signer { return k.signer }

// Current reports whether k is its algorithm's signer (not yet retired).
func (k *Key) Current() bool { return k.RetireAfter.IsZero() }

// PublishedAt reports whether k belongs in the JWKS at t: it is current, or
// a token it signed may still be valid.
func (k *Key) PublishedAt(t time.Time) bool {
	return k.RetireAfter.IsZero() || k.RetireAfter.After(t)
}

// PrivateJWK returns k as a private JWK with its kid, alg and use, the form
// JOSE libraries (and fosite's signer) take to sign with the right kid
// header. Never serialize it.
func (k *Key) PrivateJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.signer, KeyID: k.KID, Algorithm: k.Alg, Use: "sig"}
}

// PublicJWK returns k's public half as a JWK with its kid, alg and use.
func (k *Key) PublicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.signer.Public(), KeyID: k.KID, Algorithm: k.Alg, Use: "sig"}
}

// Sign returns payload signed with k as a compact JWS whose header names
// k's kid and typ JWT.
func (k *Key) Sign(payload []byte) (string, error) {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Alg), Key: k.PrivateJWK()},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("sign with %s: %w", k, err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign with %s: %w", k, err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("sign with %s: %w", k, err)
	}
	return out, nil
}

// SealedKey is a Key as stored: the private key only as AEAD ciphertext.
type SealedKey struct {
	KID         string
	Alg         string
	CreatedAt   time.Time
	ActivatedAt time.Time
	RetireAfter time.Time // zero while current
	// PrivateKey is the PKCS #8 DER private key encrypted with the AEAD, the
	// associated data binding it to KID and Alg (see associatedData).
	PrivateKey []byte
}

// AEAD encrypts private keys at rest. *secrets.Keyset and tink.AEAD both
// satisfy it.
type AEAD interface {
	Encrypt(plaintext, associatedData []byte) ([]byte, error)
	Decrypt(ciphertext, associatedData []byte) ([]byte, error)
}

// KeyPurpose is the secrets.DeriveKey purpose of the sub-key that encrypts
// signing keys (see NewMasterKeyAEAD).
const KeyPurpose = "oauth-signing-keys"

// NewMasterKeyAEAD returns AES-256-GCM under a sub-key of the master key
// derived for KeyPurpose only, so no other use of the master key can decrypt
// (or forge) a stored signing key.
func NewMasterKeyAEAD(masterKey []byte) (AEAD, error) {
	k, err := secrets.DeriveKey(masterKey, KeyPurpose, 32)
	if err != nil {
		return nil, fmt.Errorf("signing key AEAD: %w", err)
	}
	a, err := subtle.NewAESGCM(k)
	if err != nil {
		return nil, fmt.Errorf("signing key AEAD: %w", err)
	}
	return a, nil
}

// associatedData binds a ciphertext to its row: a private key copied into
// another row (another kid, or relabelled with another alg) fails to decrypt.
func associatedData(kid, alg string) []byte {
	return []byte("ward signing key v1\x00" + alg + "\x00" + kid)
}

// generate creates a fresh key for alg, current from now.
func generate(alg string, now time.Time) (*Key, error) {
	var signer crypto.Signer
	var err error
	switch alg {
	case ES256:
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		signer, err = rsa.GenerateKey(rand.Reader, RSABits)
	default:
		return nil, fmt.Errorf("generate signing key: unsupported algorithm %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s signing key: %w", alg, err)
	}
	kid, err := thumbprint(signer)
	if err != nil {
		return nil, err
	}
	return &Key{KID: kid, Alg: alg, CreatedAt: now, ActivatedAt: now, signer: signer}, nil
}

func thumbprint(signer crypto.Signer) (string, error) {
	jwk := jose.JSONWebKey{Key: signer.Public()}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("signing key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// seal encrypts k's private key for storage.
func seal(k *Key, a AEAD) (*SealedKey, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.signer)
	if err != nil {
		return nil, fmt.Errorf("seal %s: %w", k, err)
	}
	ct, err := a.Encrypt(der, associatedData(k.KID, k.Alg))
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("seal %s: %w", k, err)
	}
	return &SealedKey{KID: k.KID, Alg: k.Alg, CreatedAt: k.CreatedAt, ActivatedAt: k.ActivatedAt,
		RetireAfter: k.RetireAfter, PrivateKey: ct}, nil
}

// errWrongKey is wrapped when a decrypted key does not match its row.
var errWrongKey = errors.New("stored private key does not match its kid or alg")

// open decrypts a stored key and checks that it is what its row says: the
// right key type for Alg, and a public key whose thumbprint is KID.
func open(s *SealedKey, a AEAD) (*Key, error) {
	der, err := a.Decrypt(s.PrivateKey, associatedData(s.KID, s.Alg))
	if err != nil {
		return nil, fmt.Errorf("decrypt signing key %s (wrong master key or tampered row): %w", s.KID, err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("parse signing key %s: %w", s.KID, err)
	}
	var signer crypto.Signer
	switch p := priv.(type) {
	case *ecdsa.PrivateKey:
		if s.Alg == ES256 && p.Curve == elliptic.P256() {
			signer = p
		}
	case *rsa.PrivateKey:
		if s.Alg == RS256 && p.N.BitLen() >= RSABits {
			signer = p
		}
	}
	if signer == nil {
		return nil, fmt.Errorf("signing key %s: %w", s.KID, errWrongKey)
	}
	kid, err := thumbprint(signer)
	if err != nil {
		return nil, err
	}
	if kid != s.KID {
		return nil, fmt.Errorf("signing key %s: %w", s.KID, errWrongKey)
	}
	return &Key{KID: s.KID, Alg: s.Alg, CreatedAt: s.CreatedAt, ActivatedAt: s.ActivatedAt,
		RetireAfter: s.RetireAfter, signer: signer}, nil
}
