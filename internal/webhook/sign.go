package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks header names (https://www.standardwebhooks.com).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// secretPrefix marks a Standard Webhooks secret: "whsec_" and the base64 of
// the key bytes, the form receivers' libraries accept as is.
const secretPrefix = "whsec_"

// secretBytes is the key length: 32 bytes, the HMAC-SHA256 block's worth
// of entropy.
const secretBytes = 32

// NewSecret returns a fresh signing secret in the whsec_ form.
func NewSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// secretKey decodes a whsec_ secret to its key bytes.
func secretKey(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return nil, errors.New("webhook secret: missing whsec_ prefix")
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(key) == 0 {
		return nil, errors.New("webhook secret: not base64")
	}
	return key, nil
}

// signature is one v1 signature of id.timestamp.body.
func signature(key []byte, id string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Sign returns the three Standard Webhooks headers for body sent as message
// id at t, signed with every secret given (the current one first, then,
// during a rotation's overlap, the previous one), space-separated as the
// convention asks, so a receiver that still holds the old secret verifies.
func Sign(id string, t time.Time, body []byte, secrets ...string) (map[string]string, error) {
	if len(secrets) == 0 {
		return nil, errors.New("webhook sign: no secret")
	}
	ts := t.Unix()
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		key, err := secretKey(s)
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, signature(key, id, ts, body))
	}
	return map[string]string{
		HeaderID:        id,
		HeaderTimestamp: strconv.FormatInt(ts, 10),
		HeaderSignature: strings.Join(sigs, " "),
	}, nil
}

// ErrBadSignature is Verify's answer to a message no given secret signed,
// or one whose timestamp is outside the tolerance.
var ErrBadSignature = errors.New("webhook: bad signature")

// Verify checks headers as a receiver would: the timestamp within
// tolerance of now and one v1 signature made with secret. Ward's tests and
// the docs' receiver use it; it is what a receiver's library does.
func Verify(secret string, headers map[string]string, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := secretKey(secret)
	if err != nil {
		return err
	}
	ts, err := strconv.ParseInt(headers[HeaderTimestamp], 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrBadSignature
	}
	want := signature(key, headers[HeaderID], ts, body)
	for _, s := range strings.Fields(headers[HeaderSignature]) {
		if subtle.ConstantTimeCompare([]byte(s), []byte(want)) == 1 {
			return nil
		}
	}
	return ErrBadSignature
}
