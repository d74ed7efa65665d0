package oauth

import (
	"context"
	"strings"
	"time"

	"github.com/ory/fosite"
	foauth2 "github.com/ory/fosite/handler/oauth2"
	"github.com/ory/x/errorsx"

	"ward/internal/client"
)

// Prefixes of ward's opaque credentials. They let a secret scanner (and the
// token tools) recognise a ward token and its kind at a glance.
const (
	prefixAccess  = "ward_at_"
	prefixRefresh = "ward_rt_"
	prefixCode    = "ward_ac_"
)

// tokenStrategy issues opaque HMAC tokens (fosite's enigma: a random key
// and its HMAC under the global secret; only the HMAC is stored) and, for
// clients registered with token format jwt, RFC 9068 JWT access tokens.
// Refresh tokens and codes are always opaque.
type tokenStrategy struct {
	hmac *foauth2.HMACSHAStrategyUnPrefixed
	jwt  *foauth2.DefaultJWTStrategy
	now  func() time.Time
}

var _ foauth2.CoreStrategy = (*tokenStrategy)(nil)

func isJWT(token string) bool { return strings.Count(token, ".") == 2 }

func usesJWT(r fosite.Requester) bool {
	c, ok := r.GetClient().(*fositeClient)
	return ok && c.c.TokenFormat == client.TokenJWT
}

// AccessTokenSignature returns the stored key of an access token.
func (s *tokenStrategy) AccessTokenSignature(ctx context.Context, token string) string {
	if isJWT(token) {
		return s.jwt.AccessTokenSignature(ctx, token)
	}
	if !strings.HasPrefix(token, prefixAccess) {
		return ""
	}
	return s.hmac.AccessTokenSignature(ctx, strings.TrimPrefix(token, prefixAccess))
}

// GenerateAccessToken issues an opaque or a JWT access token, as the
// client is registered.
func (s *tokenStrategy) GenerateAccessToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	if usesJWT(r) {
		return s.jwt.GenerateAccessToken(ctx, r)
	}
	tok, sig, err := s.hmac.GenerateAccessToken(ctx, r)
	if err != nil {
		return "", "", err
	}
	return prefixAccess + tok, sig, nil
}

// ValidateAccessToken checks the token against its stored request r. For
// a JWT the stored row (found by the JWT's signature) is authoritative:
// its expiry is checked, and the payload the client holds is never read,
// so verifying the signature again would cost a public-key operation per
// request and add nothing.
func (s *tokenStrategy) ValidateAccessToken(ctx context.Context, r fosite.Requester, token string) error {
	if isJWT(token) {
		if exp := r.GetSession().GetExpiresAt(fosite.AccessToken); !exp.IsZero() && exp.Before(s.now()) {
			return errorsx.WithStack(fosite.ErrTokenExpired.WithHintf("Access token expired at '%s'.", exp))
		}
		return nil
	}
	if !strings.HasPrefix(token, prefixAccess) {
		return errorsx.WithStack(fosite.ErrInvalidTokenFormat)
	}
	return s.hmac.ValidateAccessToken(ctx, r, strings.TrimPrefix(token, prefixAccess))
}

// RefreshTokenSignature returns the stored key of a refresh token.
func (s *tokenStrategy) RefreshTokenSignature(ctx context.Context, token string) string {
	if !strings.HasPrefix(token, prefixRefresh) {
		return ""
	}
	return s.hmac.RefreshTokenSignature(ctx, strings.TrimPrefix(token, prefixRefresh))
}

// GenerateRefreshToken issues an opaque refresh token.
func (s *tokenStrategy) GenerateRefreshToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	tok, sig, err := s.hmac.GenerateRefreshToken(ctx, r)
	if err != nil {
		return "", "", err
	}
	return prefixRefresh + tok, sig, nil
}

// ValidateRefreshToken checks a refresh token's HMAC and expiry.
func (s *tokenStrategy) ValidateRefreshToken(ctx context.Context, r fosite.Requester, token string) error {
	if !strings.HasPrefix(token, prefixRefresh) {
		return errorsx.WithStack(fosite.ErrInvalidTokenFormat)
	}
	return s.hmac.ValidateRefreshToken(ctx, r, strings.TrimPrefix(token, prefixRefresh))
}

// AuthorizeCodeSignature returns the stored key of an authorization code.
func (s *tokenStrategy) AuthorizeCodeSignature(ctx context.Context, token string) string {
	if !strings.HasPrefix(token, prefixCode) {
		return ""
	}
	return s.hmac.AuthorizeCodeSignature(ctx, strings.TrimPrefix(token, prefixCode))
}

// GenerateAuthorizeCode issues an opaque authorization code.
func (s *tokenStrategy) GenerateAuthorizeCode(ctx context.Context, r fosite.Requester) (string, string, error) {
	tok, sig, err := s.hmac.GenerateAuthorizeCode(ctx, r)
	if err != nil {
		return "", "", err
	}
	return prefixCode + tok, sig, nil
}

// ValidateAuthorizeCode checks a code's HMAC and expiry.
func (s *tokenStrategy) ValidateAuthorizeCode(ctx context.Context, r fosite.Requester, token string) error {
	if !strings.HasPrefix(token, prefixCode) {
		return errorsx.WithStack(fosite.ErrInvalidTokenFormat)
	}
	return s.hmac.ValidateAuthorizeCode(ctx, r, strings.TrimPrefix(token, prefixCode))
}
