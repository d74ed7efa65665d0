package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"ward/internal/testutil"
)

// TestCORS: a SMART app in a browser on another origin may call the FHIR
// API, the token endpoint and discovery; the management API, which the
// session cookie reaches, stays same-origin.
func TestCORS(t *testing.T) {
	srv := newServer(t, testutil.SQLiteURL(t), nil)
	h := srv.Handler()
	do := func(method, path string, hdr ...string) *http.Response {
		req := httptest.NewRequest(method, path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Result()
	}
	pre := do(http.MethodOptions, "/fhir/Patient", "Origin", "https://app.example", "Access-Control-Request-Method", "GET",
		"Access-Control-Request-Headers", "authorization")
	if pre.StatusCode != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("FHIR preflight: %d %v", pre.StatusCode, pre.Header)
	}
	if pre.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Error("CORS must not allow credentials (the session cookie)")
	}
	for _, path := range []string{"/fhir/metadata", "/.well-known/smart-configuration", "/fhir/.well-known/smart-configuration"} {
		res := do(http.MethodGet, path, "Origin", "https://app.example")
		if res.StatusCode != http.StatusOK || res.Header.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "Content-Location") {
			t.Errorf("GET %s from another origin: %d %q", path, res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	for _, path := range []string{"/api/me", "/login"} {
		if res := do(http.MethodGet, path, "Origin", "https://app.example"); res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s is readable from another origin", path)
		}
	}
	if res := do(http.MethodGet, "/fhir/metadata"); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS headers on a same-origin request")
	}
}
