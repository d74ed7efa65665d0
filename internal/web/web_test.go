package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/client"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/httpauth"
	"ward/internal/oauth/tokens"
	"ward/internal/server"
	"ward/internal/testutil"
	"ward/internal/web"
)

const (
	adminEmail    = "admin@example.org"
	adminPassword = "correct horse battery staple"
)

// newServer starts the real server on the database at dbURL with one admin.
func newServer(t *testing.T, dbURL string) http.Handler {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = dbURL
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	_, err = srv.Services().Directory.CreateUser(actor.System(context.Background()), directory.NewUser{
		User:     directory.User{Email: adminEmail, GivenName: "Ada", FamilyName: "Admin"},
		Password: adminPassword,
		Roles:    []string{directory.RoleAdmin},
	})
	if err != nil {
		t.Fatalf("create admin: %v", err)
	}
	return srv.Handler()
}

// do sends one request to h; form, when non-nil, is posted url-encoded.
func do(t *testing.T, h http.Handler, method, target string, form url.Values, cookie *http.Cookie) *http.Response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func readBody(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}

func sessionCookie(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == httpauth.CookieName && c.MaxAge >= 0 && c.Value != "" {
			return c
		}
	}
	return nil
}

func login(t *testing.T, h http.Handler, email, password, next string) *http.Response {
	t.Helper()
	form := url.Values{"email": {email}, "password": {password}}
	if next != "" {
		form.Set("next", next)
	}
	return do(t, h, "POST", "/login", form, nil)
}

func TestLogin(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		h := newServer(t, dbURL)

		t.Run("form", func(t *testing.T) {
			res := do(t, h, "GET", "/login?next=%2Foauth%2Fauthorize%3Fclient_id%3Dx", nil, nil)
			body := readBody(t, res)
			if res.StatusCode != 200 {
				t.Fatalf("GET /login = %d, want 200", res.StatusCode)
			}
			for _, want := range []string{`name="email"`, `name="password"`, `type="submit"`, `name="next" value="/oauth/authorize?client_id=x"`} {
				if !strings.Contains(body, want) {
					t.Errorf("login page lacks %s", want)
				}
			}
			if n := strings.Count(body, "<button"); n != 1 {
				t.Errorf("login page has %d buttons, want exactly one", n)
			}
			if csp := res.Header.Get("Content-Security-Policy"); csp != web.CSP {
				t.Errorf("CSP = %q, want %q", csp, web.CSP)
			}
			if strings.Contains(body, "<script") || strings.Contains(body, "style=") {
				t.Error("login page has inline script or style, which the CSP forbids")
			}
		})

		t.Run("open redirect in the form is dropped", func(t *testing.T) {
			body := readBody(t, do(t, h, "GET", "/login?next=https%3A%2F%2Fevil.example%2F", nil, nil))
			if !strings.Contains(body, `name="next" value="/"`) || strings.Contains(body, "evil.example") {
				t.Errorf("login form kept an off-site next: %s", body)
			}
		})

		t.Run("success sets the cookie and redirects", func(t *testing.T) {
			res := login(t, h, adminEmail, adminPassword, "")
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
				t.Fatalf("POST /login = %d Location %q, want 303 to /", res.StatusCode, res.Header.Get("Location"))
			}
			c := sessionCookie(res)
			if c == nil {
				t.Fatal("no session cookie set")
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
				t.Errorf("cookie = %+v, want HttpOnly, SameSite=Lax, Path=/, not Secure on http", c)
			}
			home := do(t, h, "GET", "/", nil, c)
			body := readBody(t, home)
			if home.StatusCode != 200 || !strings.Contains(body, adminEmail) || !strings.Contains(body, "Ada Admin") {
				t.Errorf("GET / = %d, want 200 naming %s: %s", home.StatusCode, adminEmail, body)
			}
		})

		t.Run("next is followed when local, refused when not", func(t *testing.T) {
			for next, want := range map[string]string{
				"/admin/users?page=2":   "/admin/users?page=2",
				"//evil.example/steal":  "/",
				"https://evil.example/": "/",
				"/\\evil.example":       "/",
			} {
				res := login(t, h, adminEmail, adminPassword, next)
				if got := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || got != want {
					t.Errorf("next=%q: %d Location %q, want 303 to %q", next, res.StatusCode, got, want)
				}
			}
		})

		t.Run("missing fields", func(t *testing.T) {
			res := login(t, h, adminEmail, "", "")
			if res.StatusCode != http.StatusBadRequest || sessionCookie(res) != nil {
				t.Errorf("empty password = %d, want 400 without a cookie", res.StatusCode)
			}
		})

		t.Run("bad password reads exactly like an unknown email", func(t *testing.T) {
			bad := login(t, h, adminEmail, "wrong password", "")
			unknown := login(t, h, "nobody@example.org", "wrong password", "")
			for _, res := range []*http.Response{bad, unknown} {
				if res.StatusCode != http.StatusUnauthorized || sessionCookie(res) != nil {
					t.Fatalf("failed sign-in = %d, want 401 without a cookie", res.StatusCode)
				}
			}
			// The form echoes the typed email; apart from that the pages
			// must be identical.
			b1 := strings.ReplaceAll(readBody(t, bad), adminEmail, "EMAIL")
			b2 := strings.ReplaceAll(readBody(t, unknown), "nobody@example.org", "EMAIL")
			if b1 != b2 {
				t.Errorf("bad password and unknown email pages differ:\n%s\n---\n%s", b1, b2)
			}
			if !strings.Contains(b1, "incorrect") {
				t.Errorf("failure page does not say the credentials are incorrect: %s", b1)
			}
		})
	})
}

func TestLockout(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		h := newServer(t, dbURL)
		for i := 1; i <= 5; i++ {
			if res := login(t, h, adminEmail, "wrong", ""); res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("failure %d = %d, want 401", i, res.StatusCode)
			}
		}
		// Locked now: the right password is answered exactly as a wrong
		// one, so a guesser cannot tell it was right.
		right := login(t, h, adminEmail, adminPassword, "")
		wrong := login(t, h, adminEmail, "wrong again", "")
		rb, wb := readBody(t, right), readBody(t, wrong)
		if right.StatusCode != http.StatusUnauthorized || wrong.StatusCode != http.StatusUnauthorized || sessionCookie(right) != nil {
			t.Fatalf("sign-in while locked = %d (right) and %d (wrong), want both 401 without a cookie", right.StatusCode, wrong.StatusCode)
		}
		if rb != wb {
			t.Errorf("locked account: the right and wrong passwords' pages differ:\n%s\n---\n%s", rb, wb)
		}
		if !strings.Contains(rb, "locked for a while") {
			t.Errorf("the page does not mention that accounts lock: %s", rb)
		}
	})
}

func TestPingAndLogout(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		h := newServer(t, dbURL)
		c := sessionCookie(login(t, h, adminEmail, adminPassword, ""))
		if c == nil {
			t.Fatal("sign-in set no cookie")
		}

		res := do(t, h, "POST", "/api/ping", nil, c)
		if res.StatusCode != 200 {
			t.Fatalf("ping = %d, want 200", res.StatusCode)
		}
		var ping struct {
			OK        bool      `json:"ok"`
			ExpiresAt time.Time `json:"expires_at"`
		}
		if err := json.NewDecoder(res.Body).Decode(&ping); err != nil {
			t.Fatalf("decode ping: %v", err)
		}
		if !ping.OK || !ping.ExpiresAt.After(time.Now()) || ping.ExpiresAt.After(time.Now().Add(time.Hour+time.Minute)) {
			t.Errorf("ping = %+v, want ok and an expiry within the next hour", ping)
		}
		if res := do(t, h, "POST", "/api/ping", nil, nil); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("ping without a session = %d, want 401", res.StatusCode)
		}

		out := do(t, h, "POST", "/logout", url.Values{}, c)
		if out.StatusCode != http.StatusSeeOther || out.Header.Get("Location") != "/login" {
			t.Fatalf("logout = %d Location %q, want 303 to /login", out.StatusCode, out.Header.Get("Location"))
		}
		cleared := false
		for _, k := range out.Cookies() {
			if k.Name == httpauth.CookieName && k.MaxAge < 0 {
				cleared = true
			}
		}
		if !cleared {
			t.Error("logout did not clear the cookie")
		}
		// The old token is dead on the server, not only in the browser.
		if res := do(t, h, "POST", "/api/ping", nil, c); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("ping after logout = %d, want 401", res.StatusCode)
		}
		if res := do(t, h, "GET", "/", nil, c); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
			t.Errorf("home after logout = %d Location %q, want a redirect to /login", res.StatusCode, res.Header.Get("Location"))
		}
	})
}

func TestHomeRequiresSignIn(t *testing.T) {
	h := newServer(t, testutil.SQLiteURL(t))
	res := do(t, h, "GET", "/", nil, nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?next=%2F" {
		t.Errorf("anonymous GET / = %d Location %q, want 303 to /login?next=%%2F", res.StatusCode, res.Header.Get("Location"))
	}
	if res := do(t, h, "GET", "/static/ward.css", nil, nil); res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet = %d %q, want 200 text/css", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

func TestCrossSiteFormsRefused(t *testing.T) {
	h := newServer(t, testutil.SQLiteURL(t))
	for _, path := range []string{"/login", "/logout"} {
		form := url.Values{"email": {adminEmail}, "password": {adminPassword}}
		req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden || sessionCookie(rec.Result()) != nil {
			t.Errorf("cross-site POST %s = %d, want 403 without a cookie", path, rec.Code)
		}
		// The same form from the same origin is fine.
		req = httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusSeeOther {
			t.Errorf("same-origin POST %s = %d, want 303", path, rec.Code)
		}
	}
}

// TestSessionReachesAPI follows the README: sign in through the form, then
// call the management API with the cookie; the API sees the signed-in user.
func TestSessionReachesAPI(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		h := newServer(t, dbURL)
		if res := do(t, h, "GET", "/api/me", nil, nil); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous GET /api/me = %d, want 401", res.StatusCode)
		}
		c := sessionCookie(login(t, h, adminEmail, adminPassword, ""))
		if c == nil {
			t.Fatal("sign-in set no cookie")
		}
		res := do(t, h, "GET", "/api/me", nil, c)
		body := readBody(t, res)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, adminEmail) {
			t.Errorf("GET /api/me with the session = %d %s, want 200 naming %s", res.StatusCode, body, adminEmail)
		}
		if res := do(t, h, "GET", "/api/openapi.json", nil, nil); res.StatusCode != http.StatusOK {
			t.Errorf("GET /api/openapi.json = %d, want 200", res.StatusCode)
		}
	})
}

// TestHomeListsAndWithdrawsApps: the signed-in page lists the apps the
// person allowed, and withdrawing one there revokes its tokens.
func TestHomeListsAndWithdrawsApps(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.DatabaseURL = dbURL
		srv, err := server.New(context.Background(), cfg)
		if err != nil {
			t.Fatalf("server.New: %v", err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		svc := srv.Services()
		sys := actor.System(context.Background())
		u, err := svc.Directory.CreateUser(sys, directory.NewUser{User: directory.User{Email: "pat@example.org"},
			Password: adminPassword, Roles: []string{directory.RolePatient}})
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := svc.Clients.Create(sys, client.Settings{Name: "Diary App", Public: true,
			GrantTypes: []string{client.GrantAuthorizationCode}, RedirectURIs: []string{"https://diary.example/cb"},
			Scope: "openid patient/Observation.rs"})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.DB.SaveConsent(sys, &tokens.Consent{UserID: u.ID, ClientID: c.ID,
			Scopes: []string{"openid", "patient/Observation.rs"}, GrantedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		h := srv.Handler()
		cookie := sessionCookie(login(t, h, "pat@example.org", adminPassword, ""))
		if cookie == nil {
			t.Fatal("sign-in failed")
		}
		body := readBody(t, do(t, h, "GET", "/", nil, cookie))
		if !strings.Contains(body, "Diary App") || !strings.Contains(body, `value="`+c.ID+`"`) {
			t.Fatalf("the signed-in page does not list the app:\n%s", body)
		}
		res := do(t, h, "POST", "/authorizations/withdraw", url.Values{"client_id": {c.ID}}, cookie)
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("withdraw: %d %s", res.StatusCode, readBody(t, res))
		}
		body = readBody(t, do(t, h, "GET", "/", nil, cookie))
		if strings.Contains(body, "Diary App") || !strings.Contains(body, `id="no-apps"`) {
			t.Fatalf("the app is still listed after withdrawal:\n%s", body)
		}
		if _, err := svc.DB.FindConsent(sys, u.ID, c.ID, []string{"openid"}); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("the consent survives withdrawal: %v", err)
		}
		if res := do(t, h, "POST", "/authorizations/withdraw", url.Values{"client_id": {c.ID}}, nil); res.StatusCode != http.StatusSeeOther ||
			!strings.HasPrefix(res.Header.Get("Location"), "/login") {
			t.Fatalf("anonymous withdraw: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
	})
}
