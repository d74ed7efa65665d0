package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/server"
	"ward/internal/testutil"
)

// frozenClock is a clock the test moves by hand.
type frozenClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *frozenClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *frozenClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newClockedServer is newServer on a clock the test controls, with cfg
// adjusted by edit.
func newClockedServer(t testing.TB, dbURL string, clk *frozenClock, edit func(*config.Config)) http.Handler {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = dbURL
	if edit != nil {
		edit(&cfg)
	}
	srv, err := server.New(context.Background(), cfg, server.WithClock(clk.now))
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	_, err = srv.Services().Directory.CreateUser(actor.System(context.Background()), directory.NewUser{
		User:     directory.User{Email: adminEmail},
		Password: adminPassword,
		Roles:    []string{directory.RoleAdmin},
	})
	if err != nil {
		t.Fatalf("create admin: %v", err)
	}
	return srv.Handler()
}

// loginFrom posts the sign-in form from remote (host:port), with an
// X-Forwarded-For header when xff is set.
func loginFrom(t testing.TB, h http.Handler, remote, xff, email, password string) *http.Response {
	t.Helper()
	form := url.Values{"email": {email}, "password": {password}}
	req := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = remote
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// TestSigninThrottlePerAddress: 30 failures from one address are answered
// 401, the 31st 429 with Retry-After before any password check (even the
// right password), while another address is still answered 401; successes
// never count; the bucket refills at the configured rate.
func TestSigninThrottlePerAddress(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		clk := &frozenClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		h := newClockedServer(t, dbURL, clk, nil)
		const attacker, other = "203.0.113.5:40000", "198.51.100.9:40000"

		// Successes from one address never use up its budget.
		for i := range 35 {
			if res := loginFrom(t, h, attacker, "", adminEmail, adminPassword); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign-in %d = %d, want 303", i+1, res.StatusCode)
			}
		}
		// A spray: one guess for each of 30 addresses (unknown here).
		for i := range 30 {
			res := loginFrom(t, h, attacker, "", fmt.Sprintf("user%d@example.org", i), "Winter2026!")
			if res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("failure %d = %d, want 401", i+1, res.StatusCode)
			}
		}
		res := loginFrom(t, h, attacker, "", "user30@example.org", "Winter2026!")
		if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "1" {
			t.Fatalf("31st failure = %d, Retry-After %q; want 429 and 1 (60 a minute)", res.StatusCode, res.Header.Get("Retry-After"))
		}
		if body := readBody(t, res); !strings.Contains(body, "from your network") {
			t.Errorf("throttled page does not explain: %s", body)
		}
		// Refused before any check: the right password fares no better.
		if res := loginFrom(t, h, attacker, "", adminEmail, adminPassword); res.StatusCode != http.StatusTooManyRequests || sessionCookie(res) != nil {
			t.Fatalf("right password from the throttled address = %d, want 429", res.StatusCode)
		}
		if res := loginFrom(t, h, other, "", "user31@example.org", "Winter2026!"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("another address = %d, want 401", res.StatusCode)
		}
		// One token a second comes back.
		clk.advance(time.Second)
		if res := loginFrom(t, h, attacker, "", adminEmail, adminPassword); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("after a second = %d, want the right password let in", res.StatusCode)
		}
	})
}

// TestSigninThrottleTrustedProxy: X-Forwarded-For names the client only
// when the peer is a trusted proxy.
func TestSigninThrottleTrustedProxy(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		clk := &frozenClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		h := newClockedServer(t, dbURL, clk, func(c *config.Config) {
			c.SigninRatePerMinute = 1
			c.TrustedProxies = "10.0.0.0/8"
		})
		const proxy, untrusted = "10.0.0.2:5000", "192.0.2.50:5000"
		for i := range 30 {
			// Behind the proxy, client A; from an untrusted peer, a
			// header claiming to be a fresh client each time.
			if res := loginFrom(t, h, proxy, "203.0.113.1", "nobody@example.org", "guess"); res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("proxied failure %d = %d", i+1, res.StatusCode)
			}
			if res := loginFrom(t, h, untrusted, fmt.Sprintf("198.51.100.%d", i), "nobody2@example.org", "guess"); res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("direct failure %d = %d", i+1, res.StatusCode)
			}
		}
		if res := loginFrom(t, h, proxy, "203.0.113.1", "x@example.org", "guess"); res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("client A's 31st failure through the proxy = %d, want 429", res.StatusCode)
		}
		if res := loginFrom(t, h, untrusted, "198.51.100.200", "x@example.org", "guess"); res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("spoofed header from an untrusted peer = %d, want 429 (the header is ignored)", res.StatusCode)
		}
		// Another client behind the same proxy has its own bucket.
		if res := loginFrom(t, h, proxy, "203.0.113.2", "x@example.org", "guess"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("client B through the proxy = %d, want 401", res.StatusCode)
		}
	})
}
