package oauth

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ory/fosite"

	"ward/internal/apperr"
)

// A lost database connection, even under fosite's server_error wrapping,
// is answered as RFC 6749 temporarily_unavailable with 503 and
// Retry-After; any other error is left to the usual writers.
func TestUnavailableIsTemporarilyUnavailable(t *testing.T) {
	lost := apperr.Wrap(apperr.Unavailable, io.ErrUnexpectedEOF, "the database is unavailable; retry shortly")
	wrapped := fosite.ErrServerError.WithWrap(lost)

	w := httptest.NewRecorder()
	if !writeUnavailable(w, wrapped) {
		t.Fatal("writeUnavailable did not answer a lost connection")
	}
	var body struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("decode %s: %v", w.Body.Bytes(), err)
	}
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" || body.Error != "temporarily_unavailable" {
		t.Errorf("got %d Retry-After %q error %q, want 503, 1, temporarily_unavailable",
			w.Code, w.Header().Get("Retry-After"), body.Error)
	}

	w = httptest.NewRecorder()
	rfc := fositeErr(unavailable(w, wrapped))
	if rfc.CodeField != http.StatusServiceUnavailable || rfc.ErrorField != "temporarily_unavailable" || w.Header().Get("Retry-After") != "1" {
		t.Errorf("unavailable gave %d %s, Retry-After %q", rfc.CodeField, rfc.ErrorField, w.Header().Get("Retry-After"))
	}

	// Not a lost connection: nothing written, the error unchanged.
	other := fosite.ErrServerError.WithWrap(errors.New("boom"))
	w = httptest.NewRecorder()
	if writeUnavailable(w, other) || w.Body.Len() != 0 {
		t.Error("writeUnavailable answered an ordinary server error")
	}
	if got := unavailable(w, other); got != other || w.Header().Get("Retry-After") != "" {
		t.Error("unavailable changed an ordinary server error")
	}
}
