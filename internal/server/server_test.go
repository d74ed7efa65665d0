package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"ward/internal/config"
	"ward/internal/httpauth"
	"ward/internal/server"
	"ward/internal/testutil"
)

func newServer(t *testing.T, dbURL string, mutate func(*config.Config)) *server.Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = dbURL
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() }) // a test may have closed it already
	return srv
}

func get(t *testing.T, h http.Handler, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Result(), rec.Body.String()
}

func TestProbesAndMetrics(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		srv := newServer(t, dbURL, nil)
		h := srv.Handler()

		res, body := get(t, h, "/healthz")
		if res.StatusCode != 200 || !strings.Contains(body, `"status":"ok"`) {
			t.Errorf("/healthz = %d %s, want 200 ok", res.StatusCode, body)
		}
		res, body = get(t, h, "/readyz")
		if res.StatusCode != 200 || !strings.Contains(body, `"status":"ready"`) {
			t.Errorf("/readyz = %d %s, want 200 ready", res.StatusCode, body)
		}
		get(t, h, "/no/such/page")

		res, body = get(t, h, "/metrics")
		if res.StatusCode != 200 {
			t.Fatalf("/metrics = %d", res.StatusCode)
		}
		for _, want := range []string{
			`ward_http_requests_total{method="GET",route="GET /healthz",status="200"} 1`,
			`ward_http_requests_total{method="GET",route="GET /readyz",status="200"} 1`,
			`ward_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
			`ward_http_request_duration_seconds_count{method="GET",route="GET /healthz",status="200"} 1`,
			`ward_build_info{version="dev"} 1`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		if strings.Contains(body, "/no/such/page") {
			t.Error("/metrics labels an unmatched raw path (unbounded cardinality)")
		}

		// With the database gone the process is up but not ready.
		if err := srv.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		res, body = get(t, h, "/readyz")
		var ready struct{ Status, Reason string }
		if err := json.Unmarshal([]byte(body), &ready); err != nil {
			t.Fatalf("decode /readyz %q: %v", body, err)
		}
		if res.StatusCode != http.StatusServiceUnavailable || ready.Status != "unavailable" || ready.Reason == "" {
			t.Errorf("/readyz with the database closed = %d %+v, want 503 with a reason", res.StatusCode, ready)
		}
		if res, _ := get(t, h, "/healthz"); res.StatusCode != 200 {
			t.Errorf("/healthz with the database closed = %d, want 200", res.StatusCode)
		}
	})
}

func TestBodyLimit(t *testing.T) {
	srv := newServer(t, testutil.SQLiteURL(t), func(c *config.Config) { c.MaxBodyBytes = 4096 })
	big := "email=a%40b.c&password=" + strings.Repeat("x", 5000)
	tests := []struct {
		name    string
		chunked bool // hide the length so only the reader limit can catch it
	}{
		{"declared length", false},
		{"chunked", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(big)
			if tt.chunked {
				body = io.MultiReader(body) // unknown length
			}
			req := httptest.NewRequest("POST", "/login", body)
			if tt.chunked {
				req.ContentLength = -1
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, req)
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Errorf("POST /login with %d bytes = %d, want 413", len(big), rec.Code)
			}
		})
	}
	// Just under the limit is read normally (and fails as a bad sign-in).
	small := "email=a%40b.c&password=wrong"
	req := httptest.NewRequest("POST", "/login", strings.NewReader(small))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("POST /login with a small body = %d, want 401", rec.Code)
	}
}

func TestHeaders(t *testing.T) {
	tests := []struct {
		name, issuer string
		wantHSTS     bool
	}{
		{"http issuer", "", false},
		{"https issuer", "https://id.example.org", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, testutil.SQLiteURL(t), func(c *config.Config) { c.Issuer = tt.issuer })
			req := httptest.NewRequest("GET", "/healthz", nil)
			req.Header.Set(server.RequestIDHeader, "trace-123")
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, req)
			h := rec.Result().Header
			if got := h.Get(server.RequestIDHeader); got != "trace-123" {
				t.Errorf("request id = %q, want the incoming trace-123", got)
			}
			for k, want := range map[string]string{
				"X-Content-Type-Options":  "nosniff",
				"X-Frame-Options":         "DENY",
				"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
			} {
				if got := h.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if got := h.Get("Strict-Transport-Security") != ""; got != tt.wantHSTS {
				t.Errorf("HSTS sent = %v, want %v", got, tt.wantHSTS)
			}
		})
	}

	// A hostile request id is replaced, not echoed into logs.
	srv := newServer(t, testutil.SQLiteURL(t), nil)
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set(server.RequestIDHeader, "evil\nlog line")
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if got := rec.Header().Get(server.RequestIDHeader); got == "" || strings.ContainsAny(got, "\n ") {
		t.Errorf("request id = %q, want a fresh plain id", got)
	}
}

func TestCookieRequestsAreCrossOriginChecked(t *testing.T) {
	srv := newServer(t, testutil.SQLiteURL(t), nil)
	tests := []struct {
		name       string
		cookie     bool
		site       string
		wantStatus int
	}{
		{"cookie, cross-site", true, "cross-site", http.StatusForbidden},
		{"cookie, same-origin", true, "same-origin", http.StatusUnauthorized}, // stale cookie: not signed in
		{"no cookie, cross-site (bearer clients)", false, "cross-site", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/api/ping", bytes.NewReader(nil))
			req.Header.Set("Sec-Fetch-Site", tt.site)
			if tt.cookie {
				req.AddCookie(&http.Cookie{Name: httpauth.CookieName, Value: "not-a-session"})
			}
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Errorf("POST /api/ping = %d, want %d", rec.Code, tt.wantStatus)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q, want application/problem+json", ct)
			}
		})
	}
}

func TestRunShutsDownOnCancel(t *testing.T) {
	srv := newServer(t, testutil.SQLiteURL(t), func(c *config.Config) { c.Addr = "127.0.0.1:0" })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel = %v, want nil (graceful shutdown)", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.LogFormat = "xml"
	cfg.LockoutFailures = 0
	_, err := server.New(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "log format") || !strings.Contains(err.Error(), "lockout failures") {
		t.Errorf("New with a bad config = %v, want every problem listed", err)
	}
}
