// Package httpauth is ward's one authentication middleware. It turns the
// credential a request carries (the browser session cookie, or an OAuth
// bearer token) into an actor.Actor in the request context, which every
// handler and access check downstream reads with actor.From.
//
// Credentials are tried by an ordered list of Extractors; the first that
// recognises its kind of credential decides. A request with no credential
// goes through as the anonymous actor: it is each handler's job to refuse
// anonymous callers, so that public pages (login, discovery, health) need no
// special casing here.
package httpauth

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"ward/internal/actor"
	"ward/internal/apperr"
)

// Extractor recognises one kind of credential.
//
// Extract returns found=false (and a nil error) when the request carries none
// of its kind, so the next extractor is tried. When it carries one, Extract
// returns found=true and either the actor it proves or an error: an apperr
// Unauthenticated error is answered with 401, anything else with 500. An
// extractor may instead decide that a stale credential is as good as none
// (an expired session cookie simply means "not signed in") and return
// found=false.
type Extractor interface {
	Extract(w http.ResponseWriter, r *http.Request) (a actor.Actor, found bool, err error)
}

// Middleware authenticates requests with extractors, in order.
type Middleware struct {
	extractors []Extractor
	log        *slog.Logger
	refused    func(r *http.Request, status int, reason string)
	write      func(w http.ResponseWriter, r *http.Request, status int, detail string)
}

// WriteErrorsWith makes the middleware answer its refusals with fn instead
// of a problem document, so that each API keeps its own error format (FHIR
// answers OperationOutcome). fn sees the request to choose by path. It is
// for wiring, before the Middleware is used.
func (m *Middleware) WriteErrorsWith(fn func(w http.ResponseWriter, r *http.Request, status int, detail string)) {
	m.write = fn
}

func (m *Middleware) writeError(w http.ResponseWriter, r *http.Request, status int, detail string) {
	if m.write != nil {
		m.write(w, r, status, detail)
		return
	}
	WriteProblem(w, status, detail)
}

// OnRefused registers fn to be told of every request refused for its
// credential (a malformed Authorization header, a dead or forged token, a
// token without the route's scope), so that the refusal is audited. It is
// for wiring, before the Middleware is used.
func (m *Middleware) OnRefused(fn func(r *http.Request, status int, reason string)) { m.refused = fn }

func (m *Middleware) refuse(w http.ResponseWriter, r *http.Request, status int, reason string) {
	if m.refused != nil {
		m.refused(r, status, reason)
	}
	m.writeError(w, r, status, reason)
}

// NewMiddleware returns the middleware trying extractors in order. logger
// receives unexpected failures (a database error while checking a session).
func NewMiddleware(logger *slog.Logger, extractors ...Extractor) *Middleware {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Middleware{extractors: extractors, log: logger}
}

// Wrap returns next with the acting party in the request context.
func (m *Middleware) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkAuthorizationSyntax(r.Header.Values("Authorization")); err != nil {
			m.refuse(w, r, http.StatusUnauthorized, err.Error())
			return
		}
		for _, x := range m.extractors {
			a, found, err := x.Extract(w, r)
			if err != nil {
				switch apperr.KindOf(err) {
				case apperr.Unauthenticated:
					if _, ok := x.(BearerExtractor); ok {
						w.Header().Set("WWW-Authenticate", `Bearer realm="ward", error="invalid_token"`)
					}
					m.refuse(w, r, http.StatusUnauthorized, apperr.Message(err))
					return
				case apperr.Forbidden:
					w.Header().Set("WWW-Authenticate", `Bearer realm="ward", error="insufficient_scope"`)
					m.refuse(w, r, http.StatusForbidden, apperr.Message(err))
					return
				}
				m.log.ErrorContext(r.Context(), "authenticate request", "err", err)
				m.writeError(w, r, http.StatusInternalServerError, "internal error")
				return
			}
			if found {
				next.ServeHTTP(w, r.WithContext(actor.With(r.Context(), a)))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// checkAuthorizationSyntax rejects an Authorization header that is not one
// "scheme credentials" pair (RFC 9110 section 11.4). Well-formed schemes that
// no extractor handles pass through: the OAuth token endpoint reads HTTP
// Basic client credentials itself.
func checkAuthorizationSyntax(values []string) error {
	switch len(values) {
	case 0:
		return nil
	case 1:
	default:
		return errors.New("more than one Authorization header")
	}
	scheme, cred, ok := strings.Cut(values[0], " ")
	if !ok || scheme == "" || strings.TrimSpace(cred) == "" {
		return errors.New("malformed Authorization header (want \"<scheme> <credentials>\")")
	}
	for _, c := range scheme {
		if !isTokenChar(c) {
			return errors.New("malformed Authorization header: bad scheme")
		}
	}
	return nil
}

// isTokenChar reports whether c may appear in an RFC 9110 token.
func isTokenChar(c rune) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.ContainsRune("!#$%&'*+-.^_`|~", c)
}
