package httpauth

import (
	"encoding/json"
	"net/http"

	"ward/internal/apperr"
)

// Problem is an RFC 9457 problem document, the error format of ward's
// management API, used here for errors answered before a request reaches the
// API (authentication, body size, panics).
type Problem struct {
	Type   string `json:"type,omitempty"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// WriteProblem answers with status and an application/problem+json body.
// detail must be safe to show the caller.
func WriteProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		// RFC 9110 requires a challenge with every 401; Bearer is the
		// scheme API clients use (browsers sign in through /login).
		w.Header().Set("WWW-Authenticate", `Bearer realm="ward"`)
	}
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", RetryAfterUnavailable)
	}
	w.WriteHeader(status)
	// The body is small and fully in memory; a write error means the client
	// went away, which nobody can act on.
	_ = json.NewEncoder(w).Encode(Problem{Title: http.StatusText(status), Status: status, Detail: detail})
}

// RetryAfterUnavailable is the Retry-After (seconds) every edge sends with
// a 503 for apperr.Unavailable: a lost database connection is usually back
// within a second (the pool dials afresh).
const RetryAfterUnavailable = "1"

// StatusOf maps an apperr kind to its HTTP status, the one mapping every
// HTTP interface of ward (management API, FHIR) answers with.
func StatusOf(k apperr.Kind) int {
	switch k {
	case apperr.Invalid:
		return http.StatusBadRequest
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.Conflict:
		return http.StatusConflict
	case apperr.Unauthenticated:
		return http.StatusUnauthorized
	case apperr.Forbidden:
		return http.StatusForbidden
	case apperr.TooLarge:
		return http.StatusRequestEntityTooLarge
	case apperr.RateLimited:
		return http.StatusTooManyRequests
	case apperr.Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}
