package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"ward/internal/config"
)

// TestReadDeadlineSparesALongAnswer: the read deadline bounds how long a
// request takes to arrive, not how long its answer takes. A handler still
// working (a bulk file or a document streaming to a slow client) well past
// the deadline, after the body is in or for a request without one, keeps
// its context and answers: net/http clears the deadline before its
// background read of the connection, which would otherwise fail with the
// timeout and cancel the request. This guards ward's reliance on that
// (no WriteTimeout, no lifting of its own).
func TestReadDeadlineSparesALongAnswer(t *testing.T) {
	cfg := config.Default()
	cfg.RequestReadTimeout = 100 * time.Millisecond
	cfg.UploadReadTimeout = 100 * time.Millisecond
	s := &Server{cfg: cfg, o: options{logger: slog.New(slog.DiscardHandler)}}
	h := s.readDeadline(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
			return
		}
		// Five times the read deadline: the context must outlive it.
		select {
		case <-r.Context().Done():
			http.Error(w, "the request's context was cancelled", http.StatusInternalServerError)
		case <-time.After(5 * cfg.RequestReadTimeout):
			_, _ = io.WriteString(w, "done")
		}
	}))
	ts := httptest.NewUnstartedServer(h)
	ts.Config = s.httpServer(h)
	ts.Start()
	defer ts.Close()
	for _, tt := range []struct {
		method string
		body   io.Reader
	}{{http.MethodGet, nil}, {http.MethodPost, strings.NewReader("a small body")}} {
		req, _ := http.NewRequest(tt.method, ts.URL, tt.body)
		res, err := ts.Client().Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.method, err)
		}
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK || string(body) != "done" {
			t.Errorf("%s answered past the read deadline: %d %s", tt.method, res.StatusCode, body)
		}
	}
}
