package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"ward/internal/config"
	"ward/internal/testutil"
)

// FuzzLoginForm posts arbitrary bytes as the sign-in form's email and
// password (NUL, invalid UTF-8, huge values, and, when raw, unescaped so
// the form parser sees them) through the whole server and its Login path,
// on SQLite and, when WARD_TEST_POSTGRES_URL is set, PostgreSQL. The answer
// must never be a 500 (a panic is recovered into one) and never a session
// for a wrong password.
func FuzzLoginForm(f *testing.F) {
	for _, seed := range []struct {
		email, password string
		raw             bool
	}{
		{adminEmail, adminPassword, false},
		{adminEmail, "wrong", false},
		{"\x00", "x", false},
		{"a\xff@example.org", "\x00\x00", false},
		{"", "", false},
		{"nobody@example.org", strings.Repeat("p", 5000), false},
		{"%zz", "%", true},
		{"a@b\x00c", "pw&email=other", true},
		{"\xed\xa0\x80@example.org", "\xc0\xaf", false},
		{strings.Repeat("a", 300) + "@example.org", "x", false},
	} {
		f.Add(seed.email, seed.password, seed.raw)
	}
	clk := &frozenClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	noThrottle := func(c *config.Config) { c.SigninRatePerMinute = 0 }
	handlers := map[string]http.Handler{"sqlite": newClockedServer(f, testutil.SQLiteURL(f), clk, noThrottle)}
	if os.Getenv(testutil.EnvPostgres) != "" {
		handlers["postgres"] = newClockedServer(f, testutil.PostgresURL(f), clk, noThrottle)
	}
	f.Fuzz(func(t *testing.T, email, password string, raw bool) {
		body := "email=" + url.QueryEscape(email) + "&password=" + url.QueryEscape(password)
		if raw {
			body = "email=" + email + "&password=" + password
		}
		for name, h := range handlers {
			req := httptest.NewRequest("POST", "/login", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			switch rec.Code {
			case http.StatusSeeOther:
				if email != adminEmail || password != adminPassword {
					t.Fatalf("%s: %q / %q signed in", name, email, password)
				}
			case http.StatusBadRequest, http.StatusUnauthorized, http.StatusTooManyRequests, http.StatusRequestEntityTooLarge:
			default:
				t.Fatalf("%s: POST /login with email %q password %q (raw %v) = %d:\n%s", name, email, password, raw, rec.Code, rec.Body)
			}
		}
	})
}
