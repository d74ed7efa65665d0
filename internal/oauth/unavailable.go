package oauth

import (
	"net/http"

	"github.com/ory/fosite"

	"ward/internal/apperr"
	"ward/internal/httpauth"
)

// unavailable maps a lost database connection anywhere in err's chain
// (apperr.Unavailable, also under fosite's server_error wrapping) to RFC
// 6749's temporarily_unavailable, which fosite answers with 503, and sets
// Retry-After; any other err is returned unchanged.
func unavailable(w http.ResponseWriter, err error) error {
	if !apperr.Is(err, apperr.Unavailable) {
		return err
	}
	w.Header().Set("Retry-After", httpauth.RetryAfterUnavailable)
	return fosite.ErrTemporarilyUnavailable.WithWrap(err)
}

// writeUnavailable answers temporarily_unavailable (503, Retry-After) when
// err is a lost database connection and reports whether it did. The
// introspection and revocation writers of fosite would turn any server
// error into "inactive" or a 200, hiding the outage from the caller.
func writeUnavailable(w http.ResponseWriter, err error) bool {
	if !apperr.Is(err, apperr.Unavailable) {
		return false
	}
	w.Header().Set("Retry-After", httpauth.RetryAfterUnavailable)
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{
		"error":             fosite.ErrTemporarilyUnavailable.ErrorField,
		"error_description": fosite.ErrTemporarilyUnavailable.DescriptionField,
	})
	return true
}
