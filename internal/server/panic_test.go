package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"ward/internal/config"
	"ward/internal/testutil"
)

func TestPanicBecomes500(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = testutil.SQLiteURL(t)
	var logs strings.Builder
	s, err := New(context.Background(), cfg, WithLogger(NewLogger(cfg, &logs)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })

	mux := http.NewServeMux()
	mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("kaboom: secret detail") })
	mux.HandleFunc("GET /fine", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("fine")) })
	h := s.chain(capturePattern(mux))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/boom", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("panicking handler = %d, want 500", rec.Code)
	}
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != 500 {
		t.Fatalf("body %q is not a 500 problem: %v", rec.Body, err)
	}
	if strings.Contains(rec.Body.String(), "secret detail") {
		t.Error("the panic value leaked to the client")
	}
	if !strings.Contains(logs.String(), "kaboom") || !strings.Contains(logs.String(), `"route":"GET /boom"`) {
		t.Errorf("the panic was not logged with its route: %s", logs.String())
	}

	// The process carries on.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/fine", nil))
	if rec.Code != 200 || rec.Body.String() != "fine" {
		t.Errorf("after a panic, GET /fine = %d %q, want 200 fine", rec.Code, rec.Body)
	}
}
