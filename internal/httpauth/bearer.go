package httpauth

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"ward/internal/actor"
	"ward/internal/apperr"
)

// Bearers checks bearer tokens (oauth.Provider, in process).
type Bearers interface {
	// AuthenticateBearer returns who acts through token, or an apperr
	// Unauthenticated error for any token that is not live.
	AuthenticateBearer(ctx context.Context, token string) (actor.Actor, error)
}

// RouteScope says which scope a bearer token needs for a path, and whether
// the path takes bearer tokens through this middleware at all. Paths that
// check tokens themselves (the OAuth endpoints, which answer in RFC 6750's
// format) return handled=false.
type RouteScope func(path string) (required string, handled bool)

// BearerExtractor authenticates "Authorization: Bearer" tokens. A token is
// checked on every request (there is no cache of token state), so a
// revoked token or a disabled client is refused at once; the actor is the
// person and the client behind the token, so audit records both.
type BearerExtractor struct {
	Tokens Bearers
	Scope  RouteScope
}

// Extract implements Extractor.
func (x BearerExtractor) Extract(_ http.ResponseWriter, r *http.Request) (actor.Actor, bool, error) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return actor.Actor{}, false, nil
	}
	need, handled := x.Scope(r.URL.Path)
	if !handled {
		return actor.Actor{}, false, nil
	}
	a, err := x.Tokens.AuthenticateBearer(r.Context(), strings.TrimSpace(h[7:]))
	if err != nil {
		return actor.Actor{}, true, err
	}
	if need != "" && !slices.Contains(a.Scopes, need) {
		return actor.Actor{}, true, apperr.New(apperr.Forbidden, "the access token lacks scope %q", need)
	}
	return a, true, nil
}
