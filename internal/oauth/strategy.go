package oauth

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
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
	jwt  *accessJWTs
	now  func() time.Time
}

var _ foauth2.CoreStrategy = (*tokenStrategy)(nil)

func isJWT(token string) bool { return strings.Count(token, ".") == 2 }

func usesJWT(r fosite.Requester) bool {
	c, ok := r.GetClient().(*fositeClient)
	return ok && c.c.TokenFormat == client.TokenJWT
}

// handleLen is the length of the handle that starts every opaque ward
// credential after its prefix: a UUIDv7 in hex, so handles (and the stored
// keys they begin) sort by issue time. The stored key is the handle and the
// credential's HMAC; a new row's key then lands at the end of the index on
// signatures instead of on a random page, which on SQLite saves writing one
// random index page per token at every commit. The handle is not secret:
// the credential's secret half is the HMAC key, which is never stored.
const handleLen = 32

func newHandle() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("token handle: %w", err)
	}
	return hex.EncodeToString(id[:]), nil
}

// split parses prefix + handle + fosite's token.
func split(prefix, token string) (handle, rest string, ok bool) {
	if !strings.HasPrefix(token, prefix) {
		return "", "", false
	}
	t := token[len(prefix):]
	if len(t) <= handleLen {
		return "", "", false
	}
	for i := 0; i < handleLen; i++ {
		if c := t[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", "", false
		}
	}
	return t[:handleLen], t[handleLen:], true
}

// opaqueSignature is the stored key of an opaque credential: its handle
// and its HMAC, or "" when token is not one of prefix's kind.
func (s *tokenStrategy) opaqueSignature(ctx context.Context, prefix, token string) string {
	h, rest, ok := split(prefix, token)
	if !ok {
		return ""
	}
	return h + "." + s.hmac.Enigma.Signature(rest)
}

// generate makes an opaque credential of prefix's kind.
func (s *tokenStrategy) generate(ctx context.Context, prefix string) (string, string, error) {
	tok, sig, err := s.hmac.Enigma.Generate(ctx)
	if err != nil {
		return "", "", err
	}
	h, err := newHandle()
	if err != nil {
		return "", "", err
	}
	return prefix + h + tok, h + "." + sig, nil
}

// genuine reports whether an opaque credential's HMAC is right, without
// looking at the database.
func (s *tokenStrategy) genuine(ctx context.Context, prefix, token string) bool {
	_, rest, ok := split(prefix, token)
	return ok && s.hmac.Enigma.Validate(ctx, rest) == nil
}

// validate checks an opaque credential of prefix's kind with fosite's
// check (its HMAC and the stored expiry).
func validate(prefix, token string, check func(rest string) error) error {
	_, rest, ok := split(prefix, token)
	if !ok {
		return errorsx.WithStack(fosite.ErrInvalidTokenFormat)
	}
	return check(rest)
}

// AccessTokenSignature returns the stored key of an access token: for a
// JWT its jti once the token is verified, "" (found nowhere) for one that
// is not.
func (s *tokenStrategy) AccessTokenSignature(ctx context.Context, token string) string {
	if isJWT(token) {
		v, err := s.jwt.verify(ctx, token)
		if err != nil {
			return ""
		}
		return v.jti
	}
	return s.opaqueSignature(ctx, prefixAccess, token)
}

// GenerateAccessToken issues an opaque or a JWT access token, as the
// client is registered.
func (s *tokenStrategy) GenerateAccessToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	if usesJWT(r) {
		if sess, ok := r.GetSession().(*Session); ok && sess.AccessScopes != nil {
			r = narrowed{Requester: r, scopes: sess.AccessScopes}
		}
		return s.jwt.generate(ctx, r)
	}
	return s.generate(ctx, prefixAccess)
}

// ValidateAccessToken checks the token against its stored request r: a
// JWT is verified (signature, typ, iss, aud, exp) and its stored expiry
// checked too; an opaque token's HMAC and stored expiry are checked.
func (s *tokenStrategy) ValidateAccessToken(ctx context.Context, r fosite.Requester, token string) error {
	if isJWT(token) {
		if _, err := s.jwt.verify(ctx, token); err != nil {
			return errorsx.WithStack(fosite.ErrTokenSignatureMismatch.WithHint("The access token is not a valid JWT issued by this server."))
		}
		if exp := r.GetSession().GetExpiresAt(fosite.AccessToken); !exp.IsZero() && !exp.After(s.now()) {
			return errorsx.WithStack(fosite.ErrTokenExpired.WithHintf("Access token expired at '%s'.", exp))
		}
		return nil
	}
	return validate(prefixAccess, token, func(rest string) error { return s.hmac.ValidateAccessToken(ctx, r, rest) })
}

// narrowed is a request whose access token carries fewer scopes than its
// grant (a narrowing refresh, Session.AccessScopes): the JWT's scope claim
// is taken from GetGrantedScopes.
type narrowed struct {
	fosite.Requester
	scopes []string
}

func (n narrowed) GetGrantedScopes() fosite.Arguments { return fosite.Arguments(n.scopes) }

// RefreshTokenSignature returns the stored key of a refresh token.
func (s *tokenStrategy) RefreshTokenSignature(ctx context.Context, token string) string {
	return s.opaqueSignature(ctx, prefixRefresh, token)
}

// GenerateRefreshToken issues an opaque refresh token.
func (s *tokenStrategy) GenerateRefreshToken(ctx context.Context, _ fosite.Requester) (string, string, error) {
	return s.generate(ctx, prefixRefresh)
}

// ValidateRefreshToken checks a refresh token's HMAC and expiry.
func (s *tokenStrategy) ValidateRefreshToken(ctx context.Context, r fosite.Requester, token string) error {
	return validate(prefixRefresh, token, func(rest string) error { return s.hmac.ValidateRefreshToken(ctx, r, rest) })
}

// AuthorizeCodeSignature returns the stored key of an authorization code.
func (s *tokenStrategy) AuthorizeCodeSignature(ctx context.Context, token string) string {
	return s.opaqueSignature(ctx, prefixCode, token)
}

// GenerateAuthorizeCode issues an opaque authorization code.
func (s *tokenStrategy) GenerateAuthorizeCode(ctx context.Context, _ fosite.Requester) (string, string, error) {
	return s.generate(ctx, prefixCode)
}

// ValidateAuthorizeCode checks a code's HMAC and expiry.
func (s *tokenStrategy) ValidateAuthorizeCode(ctx context.Context, r fosite.Requester, token string) error {
	return validate(prefixCode, token, func(rest string) error { return s.hmac.ValidateAuthorizeCode(ctx, r, rest) })
}
