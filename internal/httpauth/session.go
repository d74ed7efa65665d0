package httpauth

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/session"
)

// CookieName is the browser session cookie. It carries only a random token;
// the server keeps the session (and only the token's hash).
const CookieName = "ward_session"

// Sessions is what this package needs from session.Service.
type Sessions interface {
	// Authenticate returns the live session for token (touching its last
	// use), or an apperr Unauthenticated/NotFound error when there is none.
	Authenticate(ctx context.Context, token string) (*session.Session, error)
	// Ping refreshes the session's idle timer, like Authenticate, explicitly.
	Ping(ctx context.Context, token string) (*session.Session, error)
}

// Cookies sets and clears the session cookie consistently.
type Cookies struct {
	// Secure marks the cookie HTTPS-only; set it whenever the public URL
	// is https, even behind a TLS-terminating proxy.
	Secure bool
}

// Set stores token in the session cookie. The cookie has no expiry: it dies
// with the browser, and the server ends the session on its own timers.
func (c Cookies) Set(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    token,
		Path:     "/",
		HttpOnly: true,
		Secure:   c.Secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// Clear removes the session cookie from the browser.
func (c Cookies) Clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   c.Secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// Token returns the session token the request carries, or "".
func Token(r *http.Request) string {
	ck, err := r.Cookie(CookieName)
	if err != nil {
		return ""
	}
	return ck.Value
}

// SessionExtractor authenticates the session cookie.
type SessionExtractor struct {
	Sessions Sessions
	Cookies  Cookies
}

// Extract implements Extractor. A cookie naming no live session (expired,
// signed out, from another deployment) counts as no credential: the browser
// is simply not signed in, and the stale cookie is cleared.
func (x SessionExtractor) Extract(w http.ResponseWriter, r *http.Request) (actor.Actor, bool, error) {
	tok := Token(r)
	if tok == "" {
		return actor.Actor{}, false, nil
	}
	s, err := x.Sessions.Authenticate(r.Context(), tok)
	switch {
	case err == nil:
		return actor.Actor{UserID: s.UserID}, true, nil
	case apperr.Is(err, apperr.Unauthenticated), apperr.Is(err, apperr.NotFound):
		x.Cookies.Clear(w)
		return actor.Actor{}, false, nil
	default:
		return actor.Actor{}, false, err
	}
}

// PingHandler serves POST /api/ping: it keeps the browser session alive and
// says until when.
type PingHandler struct {
	Sessions Sessions
	// Idle and Absolute are the session lifetimes, to compute expires_at.
	Idle, Absolute time.Duration
	Logger         *slog.Logger
}

// pingResponse is the body of a successful ping.
type pingResponse struct {
	OK        bool      `json:"ok"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ServeHTTP implements http.Handler.
func (h PingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok := Token(r)
	if tok == "" {
		WriteProblem(w, http.StatusUnauthorized, "not signed in")
		return
	}
	s, err := h.Sessions.Ping(r.Context(), tok)
	if err != nil {
		if apperr.Is(err, apperr.Unauthenticated) || apperr.Is(err, apperr.NotFound) {
			WriteProblem(w, http.StatusUnauthorized, "not signed in")
			return
		}
		if h.Logger != nil {
			h.Logger.ErrorContext(r.Context(), "ping session", "err", err)
		}
		WriteProblem(w, http.StatusInternalServerError, "internal error")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(pingResponse{OK: true, ExpiresAt: ExpiresAt(s, h.Idle, h.Absolute)})
}

// ExpiresAt is when s ends if left alone: idle after its last use, or at its
// absolute lifetime, whichever comes first.
func ExpiresAt(s *session.Session, idle, absolute time.Duration) time.Time {
	exp := s.LastSeen.Add(idle)
	if hard := s.CreatedAt.Add(absolute); hard.Before(exp) {
		exp = hard
	}
	return exp.UTC()
}
