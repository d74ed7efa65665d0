package connector

import (
	"context"
	"errors"
	"fmt"
	"net/url"
)

// TokenRequest is one call to a remote's token endpoint (RFC 6749 §4.1.3
// and §6): the client authenticates with its id and secret, Params carry
// the grant.
type TokenRequest struct {
	URL          string
	ClientID     string
	ClientSecret string
	Params       url.Values
}

// TokenResponse is what a token endpoint answered.
type TokenResponse struct {
	AccessToken string
	// RefreshToken is empty when the remote did not rotate it: the one
	// spent stays valid.
	RefreshToken string
	// ExpiresIn is the access token's lifetime in seconds; 0 when the
	// remote did not say.
	ExpiresIn int64
}

// TokenEndpoint posts token requests (./tokenclient implements it on
// ward's outbound policy). An answer of the remote that refuses the grant
// is a *GrantError; anything else (network, timeout, 5xx) is temporary.
type TokenEndpoint interface {
	Token(ctx context.Context, r TokenRequest) (*TokenResponse, error)
}

// GrantError is a token endpoint's refusal (an RFC 6749 §5.2 error
// response or another 4xx).
type GrantError struct {
	Status int
	// Code is the RFC 6749 error code (invalid_grant, ...) when given.
	Code string
}

func (e *GrantError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("token endpoint refused the grant: %d %s", e.Status, e.Code)
	}
	return fmt.Sprintf("token endpoint refused the grant: %d", e.Status)
}

// Permanent reports whether err means the grant is gone for good (a
// revoked or spent refresh token, a changed client secret): the token
// endpoint answered 400 or 401. Retrying would fail the same way, so the
// connector is disconnected instead.
func Permanent(err error) bool {
	var ge *GrantError
	return errors.As(err, &ge) && (ge.Status == 400 || ge.Status == 401)
}
