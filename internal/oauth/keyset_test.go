package oauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"ward/internal/actor"
	"ward/internal/client"
	"ward/internal/config"
	"ward/internal/oauth"
	"ward/internal/server"
	"ward/internal/testutil"
)

// genericKeySetHint is all a client is told when its key set cannot be had.
const genericKeySetHint = "The client's key set could not be fetched."

// logBuffer collects the server's structured log.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// keySetEnv is a ward handler (no listener) with the outbound switch as
// given, its log and an injectable clock.
type keySetEnv struct {
	t      *testing.T
	h      http.Handler
	svc    *server.Services
	issuer string
	log    *logBuffer
	jti    atomic.Int64
	mu     sync.Mutex
	now    time.Time
}

func newKeySetEnv(t *testing.T, dbURL string, allowPrivate bool) *keySetEnv {
	t.Helper()
	e := &keySetEnv{t: t, log: &logBuffer{}, now: time.Now().UTC().Truncate(time.Second)}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = dbURL
	cfg.OutboundAllowPrivate = allowPrivate
	srv, err := server.New(context.Background(), cfg, server.WithClock(e.clock),
		server.WithLogger(slog.New(slog.NewJSONHandler(e.log, nil))))
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	e.h, e.svc, e.issuer = srv.Handler(), srv.Services(), cfg.PublicIssuer()
	return e
}

func (e *keySetEnv) clock() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }

func (e *keySetEnv) advance(d time.Duration) { e.mu.Lock(); e.now = e.now.Add(d); e.mu.Unlock() }

// backend registers a private_key_jwt backend client with jwksURI.
func (e *keySetEnv) backend(name, jwksURI string) string {
	e.t.Helper()
	c, _, err := e.svc.Clients.Create(actor.System(context.Background()), client.Settings{Name: name,
		GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/Patient.rs",
		AuthMethod: client.AuthPrivateKeyJWT, JWKSURI: jwksURI})
	if err != nil {
		e.t.Fatalf("create client %q: %v", name, err)
	}
	return c.ID
}

// token asks for a token with an assertion signed by k for id.
func (e *keySetEnv) token(k assertionKey, id string) (int, map[string]any) {
	e.t.Helper()
	a := k.assertion(e.t, id, e.issuer+oauth.PathToken, func(c map[string]any) {
		// exp by ward's clock, which the tests move ahead of the real one.
		c["exp"] = e.clock().Add(2 * time.Minute).Unix()
		c["jti"] = fmt.Sprintf("keyset-%d-%d", time.Now().UnixNano(), e.jti.Add(1))
	})
	req := httptest.NewRequest("POST", oauth.PathToken, strings.NewReader(backendForm(a, "system/Patient.rs").Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = "203.0.113.9:1000"
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return rec.Code, body
}

// refusedGenerically checks a 401 invalid_client whose description is the
// generic one and names nothing of the key-set server's answer.
func refusedGenerically(t *testing.T, what string, code int, body map[string]any, leaks ...string) {
	t.Helper()
	desc, _ := body["error_description"].(string)
	if code != http.StatusUnauthorized || body["error"] != "invalid_client" || body["access_token"] != nil {
		t.Fatalf("%s: %d %v, want 401 invalid_client", what, code, body)
	}
	if !strings.HasSuffix(desc, genericKeySetHint) {
		t.Errorf("%s: description %q, want the generic %q", what, desc, genericKeySetHint)
	}
	for _, l := range leaks {
		if strings.Contains(desc, l) {
			t.Errorf("%s: description %q reveals %q", what, desc, l)
		}
	}
}

// TestHostileKeySetServer: a jwks_uri that redirects, answers 401 or 500,
// streams without end or hangs costs a token request one bounded fetch and
// gets the client a generic 401 invalid_client; the detail is in ward's log.
func TestHostileKeySetServer(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newKeySetEnv(t, dbURL, true)
		key := newAssertionKey(t, jose.RS384)
		var redirected, streamed atomic.Int64
		release := make(chan struct{})
		mux := http.NewServeMux()
		mux.HandleFunc("/good", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(key.jwks())) })
		mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/redirected", http.StatusFound)
		})
		mux.HandleFunc("/redirected", func(w http.ResponseWriter, _ *http.Request) {
			redirected.Add(1)
			_, _ = w.Write([]byte(key.jwks()))
		})
		mux.HandleFunc("/unauthorized", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "internal admin console: sign in", http.StatusUnauthorized)
		})
		mux.HandleFunc("/error", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "database at 10.0.0.5 down", http.StatusInternalServerError)
		})
		mux.HandleFunc("/huge", func(w http.ResponseWriter, _ *http.Request) {
			chunk := []byte(`{"keys":[` + strings.Repeat(" ", 32<<10))
			for streamed.Load() < 4<<30 {
				n, err := w.Write(chunk)
				streamed.Add(int64(n))
				if err != nil {
					return
				}
			}
		})
		mux.HandleFunc("/hang", func(_ http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]

		if code, body := e.token(key, e.backend("good", srv.URL+"/good")); code != http.StatusOK {
			t.Fatalf("a well-behaved key-set server: %d %v", code, body)
		}
		for _, c := range []struct{ path, logged string }{
			{"/redirect", "redirect not followed"},
			{"/unauthorized", "remote answered 401"},
			{"/error", "remote answered 500"},
			{"/huge", "larger than the limit"},
			{"/hang", "timed out"},
		} {
			code, body := e.token(key, e.backend(c.path, srv.URL+c.path))
			refusedGenerically(t, c.path, code, body, port, "401", "500", "302", "admin console", "10.0.0.5", "redirect", "timeout")
			if !strings.Contains(e.log.String(), c.logged) || !strings.Contains(e.log.String(), c.path) {
				t.Errorf("%s: the log does not say %q for the URL:\n%s", c.path, c.logged, e.log.String())
			}
		}
		if redirected.Load() != 0 {
			t.Error("the redirect was followed")
		}
		if n := streamed.Load(); n >= 1<<30 {
			t.Errorf("the streaming server wrote %d bytes: the fetch did not stop at the cap", n)
		}
	})
}

// TestKeySetPrivateAddressRefused: with WARD_OUTBOUND_ALLOW_PRIVATE off, a
// jwks_uri on a loopback address, by IP or by a name that resolves to it,
// is never connected to; the client gets the generic 401.
func TestKeySetPrivateAddressRefused(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newKeySetEnv(t, dbURL, false)
		key := newAssertionKey(t, jose.RS384)
		var hits atomic.Int64
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			hits.Add(1)
			_, _ = w.Write([]byte(key.jwks()))
		}))
		t.Cleanup(srv.Close)
		u, _ := url.Parse(srv.URL)
		for _, jwksURI := range []string{srv.URL + "/keys", "https://localhost:" + u.Port() + "/keys"} {
			code, body := e.token(key, e.backend(jwksURI, jwksURI))
			refusedGenerically(t, jwksURI, code, body, u.Port(), "127.0.0.1")
		}
		if hits.Load() != 0 {
			t.Fatalf("the loopback key-set server was reached %d times", hits.Load())
		}
		if n := strings.Count(e.log.String(), "is not a public address"); n < 2 {
			t.Errorf("the log names %d refused addresses, want 2:\n%s", n, e.log.String())
		}
	})
}

// TestKeySetRefreshLimit: a fetched key set is reused for KeySetTTL; an
// assertion with an unknown kid refetches at most once per
// KeySetMinRefetch, and a failing server is asked at most once per
// KeySetMinRefetch however many requests come.
func TestKeySetRefreshLimit(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newKeySetEnv(t, dbURL, true)
		key := newAssertionKey(t, jose.RS384)
		rotated := key
		rotated.kid = "not-in-the-set"
		var good, bad atomic.Int64
		mux := http.NewServeMux()
		mux.HandleFunc("/good", func(w http.ResponseWriter, _ *http.Request) { good.Add(1); _, _ = w.Write([]byte(key.jwks())) })
		mux.HandleFunc("/bad", func(w http.ResponseWriter, _ *http.Request) { bad.Add(1); w.WriteHeader(http.StatusServiceUnavailable) })
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		id := e.backend("cached", srv.URL+"/good")

		want := func(what string, n int64) {
			t.Helper()
			if got := good.Load(); got != n {
				t.Fatalf("%s: the key-set server was asked %d times, want %d", what, got, n)
			}
		}
		for i := range 5 {
			if code, body := e.token(key, id); code != http.StatusOK {
				t.Fatalf("token %d: %d %v", i, code, body)
			}
		}
		want("five token requests", 1)
		for range 5 {
			if code, _ := e.token(rotated, id); code != http.StatusUnauthorized {
				t.Fatalf("unknown kid answered %d, want 401", code)
			}
		}
		want("five unknown kids within the refetch interval", 1)
		e.advance(oauth.KeySetMinRefetch + time.Second)
		for range 5 {
			_, _ = e.token(rotated, id)
		}
		want("five unknown kids after the refetch interval", 2)
		if code, _ := e.token(key, id); code != http.StatusOK {
			t.Fatalf("known kid after the refetch: %d", code)
		}
		e.advance(oauth.KeySetTTL)
		if code, _ := e.token(key, id); code != http.StatusOK {
			t.Fatalf("known kid after the TTL: %d", code)
		}
		want("a token request after the TTL", 3)

		// Concurrent first requests for one client share one fetch.
		var slow atomic.Int64
		release := make(chan struct{})
		mux.HandleFunc("/slow", func(w http.ResponseWriter, _ *http.Request) {
			if slow.Add(1) == 1 {
				<-release
			}
			_, _ = w.Write([]byte(key.jwks()))
		})
		crowd := e.backend("crowd", srv.URL+"/slow")
		var wg sync.WaitGroup
		codes := make(chan int, 10)
		for range 10 {
			wg.Go(func() {
				code, _ := e.token(key, crowd)
				codes <- code
			})
		}
		for deadline := time.Now().Add(time.Minute); slow.Load() == 0; {
			if time.Now().After(deadline) {
				t.Fatal("the key-set server was never asked")
			}
			time.Sleep(time.Millisecond)
		}
		close(release)
		wg.Wait()
		close(codes)
		for code := range codes {
			if code != http.StatusOK {
				t.Fatalf("a concurrent request answered %d", code)
			}
		}
		if got := slow.Load(); got != 1 {
			t.Fatalf("ten concurrent requests asked the key-set server %d times, want 1", got)
		}

		failing := e.backend("failing", srv.URL+"/bad")
		for range 10 {
			code, body := e.token(key, failing)
			refusedGenerically(t, "failing server", code, body, "503")
		}
		if got := bad.Load(); got != 1 {
			t.Fatalf("ten requests against a failing key-set server asked it %d times, want 1", got)
		}
		e.advance(oauth.KeySetMinRefetch + time.Second)
		_, _ = e.token(key, failing)
		if got := bad.Load(); got != 2 {
			t.Fatalf("after the refetch interval the failing server was asked %d times in all, want 2", got)
		}
	})
}
