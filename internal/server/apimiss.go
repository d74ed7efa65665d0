package server

import (
	"net/http"
	"strings"

	"ward/internal/httpauth"
)

// serveAPIMiss answers a request under /api/ that matched no route in the
// management API's error format (an RFC 9457 problem document), instead of
// the mux's plain-text 404 or 405: clients of the API parse one format.
// It reports false, writing nothing, when the mux has a route for r (or r
// is not an API path), so the mux serves it as usual.
func serveAPIMiss(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) bool {
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		return false
	}
	h, pattern := mux.Handler(r)
	if pattern != "" {
		return false
	}
	// The mux's own answer tells 404 from 405 and carries the Allow header;
	// only its status and headers are kept.
	rec := &statusRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	status := rec.status
	if status == 0 {
		status = http.StatusNotFound
	}
	detail := "no API operation at " + r.URL.Path
	if status == http.StatusMethodNotAllowed {
		detail = "method " + r.Method + " is not allowed at " + r.URL.Path
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
	}
	if loc := rec.header.Get("Location"); loc != "" && status >= 300 && status < 400 {
		// A path-cleaning redirect: pass it on unchanged.
		http.Redirect(w, r, loc, status)
		return true
	}
	httpauth.WriteProblem(w, status, detail)
	return true
}

// statusRecorder keeps a response's status and headers and drops its body.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header { return s.header }

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return len(b), nil
}
