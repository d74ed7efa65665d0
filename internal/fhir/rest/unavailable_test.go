package rest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"ward/internal/apperr"
	"ward/internal/fhir/rest"
)

// A lost database connection is a 503 OperationOutcome with issue code
// transient and Retry-After, never a generic 500.
func TestWriteErrorUnavailable(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/fhir/Patient/1", nil)
	rest.WriteError(w, r, nil, apperr.Wrap(apperr.Unavailable, io.ErrUnexpectedEOF, "the database is unavailable; retry shortly"))
	var oo struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Code string `json:"code"`
		} `json:"issue"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &oo); err != nil {
		t.Fatalf("decode %s: %v", w.Body.Bytes(), err)
	}
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" ||
		oo.ResourceType != "OperationOutcome" || len(oo.Issue) != 1 || oo.Issue[0].Code != "transient" {
		t.Errorf("got %d Retry-After %q body %s", w.Code, w.Header().Get("Retry-After"), w.Body.Bytes())
	}
}
