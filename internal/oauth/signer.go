package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
	fjwt "github.com/ory/fosite/token/jwt"

	"ward/internal/oauth/keys"
)

// KeySource is what the signer needs from keys.Manager: the current key of
// an algorithm, and every published public key (for tokens signed before a
// rotation).
type KeySource interface {
	Active(ctx context.Context, alg string) (*keys.Key, error)
	PublicJWKS(ctx context.Context) (jose.JSONWebKeySet, error)
}

// signer implements fosite's jwt.Signer with ward's signing keys: a token
// is signed by the current key of alg (ES256 for JWT access tokens, the
// client's registered algorithm for ID tokens: see idTokenStrategy) and
// carries its kid, so verifiers find it in the JWKS; tokens are verified
// against every published key, so a rotation does not break tokens already
// out.
type signer struct {
	keys KeySource
	alg  string
}

// Generate signs claims with the header's extra fields. Unlike fosite's
// default signer it lets the header set typ (RFC 9068's at+jwt).
func (s *signer) Generate(ctx context.Context, claims fjwt.MapClaims, header fjwt.Mapper) (string, string, error) {
	k, err := s.keys.Active(ctx, s.alg)
	if err != nil {
		return "", "", err
	}
	payload, err := json.Marshal(map[string]any(claims))
	if err != nil {
		return "", "", fmt.Errorf("encode JWT claims: %w", err)
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if header != nil {
		for name, v := range header.ToMap() {
			switch name {
			case "alg", "kid":
				// Always the key's own.
			case "typ":
				if t, ok := v.(string); ok && t != "" {
					opts.WithType(jose.ContentType(t))
				}
			default:
				opts.WithHeader(jose.HeaderKey(name), v)
			}
		}
	}
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Alg), Key: k.PrivateJWK()}, opts)
	if err != nil {
		return "", "", fmt.Errorf("sign JWT with %s: %w", k, err)
	}
	jws, err := sg.Sign(payload)
	if err != nil {
		return "", "", fmt.Errorf("sign JWT with %s: %w", k, err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		return "", "", fmt.Errorf("sign JWT with %s: %w", k, err)
	}
	return raw, jwtSignature(raw), nil
}

// Validate verifies token and returns its signature.
func (s *signer) Validate(ctx context.Context, token string) (string, error) {
	if _, err := s.Decode(ctx, token); err != nil {
		return "", err
	}
	return jwtSignature(token), nil
}

// Decode parses and verifies token against the published keys; its kid
// must name one of them and its alg must be that key's.
func (s *signer) Decode(ctx context.Context, token string) (*fjwt.Token, error) {
	set, err := s.keys.PublicJWKS(ctx)
	if err != nil {
		return nil, err
	}
	return fjwt.ParseWithClaims(token, fjwt.MapClaims{}, func(t *fjwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		for _, k := range set.Key(kid) {
			if string(t.Method) == k.Algorithm {
				return k.Key, nil
			}
		}
		return nil, errors.New("the token is not signed by a published ward key")
	})
}

// GetSignature returns the signature segment of a compact JWS.
func (s *signer) GetSignature(_ context.Context, token string) (string, error) {
	sig := jwtSignature(token)
	if sig == "" {
		return "", errors.New("not a compact JWS")
	}
	return sig, nil
}

// Hash is SHA-256, the hash of both ES256 and RS256, for at_hash and c_hash.
func (s *signer) Hash(_ context.Context, in []byte) ([]byte, error) {
	h := sha256.Sum256(in)
	return h[:], nil
}

// GetSigningMethodLength is SHA-256's output size.
func (s *signer) GetSigningMethodLength(context.Context) int { return sha256.Size }

// jwtSignature returns the third segment of a compact JWS, or "".
func jwtSignature(token string) string {
	i := strings.IndexByte(token, '.')
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(token[i+1:], '.')
	if j < 0 {
		return ""
	}
	rest := token[i+1+j+1:]
	if strings.IndexByte(rest, '.') >= 0 {
		return ""
	}
	return rest
}
