package server_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"ward/internal/testutil"
)

// An /api/ path no route serves answers in the API's error format, a
// problem document; FHIR keeps its OperationOutcome and pages their HTML.
func TestUnknownAPIPathIsProblem(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		h := newServer(t, dbURL, nil).Handler()
		for _, tc := range []struct {
			method, path string
			status       int
		}{
			{"GET", "/api/no-such-thing", 404},
			{"GET", "/api/", 404},
			{"POST", "/api/nothing/here", 404},
			{"DELETE", "/api/ping", 405},
		} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			res := rec.Result()
			if res.StatusCode != tc.status {
				t.Errorf("%s %s = %d, want %d", tc.method, tc.path, res.StatusCode, tc.status)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("%s %s: Content-Type %q, want application/problem+json; body %s", tc.method, tc.path, ct, rec.Body)
				continue
			}
			var p struct {
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != tc.status || p.Detail == "" {
				t.Errorf("%s %s: problem %s (%v)", tc.method, tc.path, rec.Body, err)
			}
			if tc.status == 405 && res.Header.Get("Allow") == "" {
				t.Errorf("%s %s: 405 without Allow", tc.method, tc.path)
			}
		}
		// The API's own routes still answer as before, other paths keep their formats.
		res, body := get(t, h, "/fhir/NoSuchType")
		if ct := res.Header.Get("Content-Type"); !strings.Contains(ct, "fhir+json") || !strings.Contains(body, "OperationOutcome") {
			t.Errorf("/fhir/NoSuchType = %d %q %s, want an OperationOutcome", res.StatusCode, ct, body)
		}
		res, _ = get(t, h, "/no/such/page")
		if res.StatusCode != 404 || strings.Contains(res.Header.Get("Content-Type"), "problem") {
			t.Errorf("/no/such/page = %d %q, want a non-API 404", res.StatusCode, res.Header.Get("Content-Type"))
		}
		res, _ = get(t, h, "/api/openapi.json")
		if res.StatusCode != 200 {
			t.Errorf("/api/openapi.json = %d, want 200", res.StatusCode)
		}
	})
}
