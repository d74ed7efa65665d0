package oauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"ward/internal/actor"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/server"
	"ward/internal/store"
	"ward/internal/testutil"
)

// env is a ward server on a loopback port, on one database.
type env struct {
	t      *testing.T
	issuer string
	srv    *server.Server
	svc    *server.Services
}

func newEnv(t *testing.T, dbURL string) *env {
	t.Helper()
	return newEnvWith(t, dbURL, nil)
}

// newEnvWith is newEnv with settings adjusted by mutate (when not nil).
func newEnvWith(t *testing.T, dbURL string, mutate func(*config.Config)) *env {
	t.Helper()
	ln := testutil.Listen(t)
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = dbURL
	cfg.Addr = ln.Addr().String()
	cfg.Issuer = "http://" + ln.Addr().String()
	cfg.OutboundAllowPrivate = true // key-set servers in tests are on loopback
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	testutil.Serve(t, srv, ln)
	return &env{t: t, issuer: cfg.Issuer, srv: srv, svc: srv.Services()}
}

func (e *env) sys() context.Context { return actor.System(context.Background()) }

// user creates a person with a password and roles.
func (e *env) user(email, password string, roles ...string) *directory.User {
	e.t.Helper()
	u, err := e.svc.Directory.CreateUser(e.sys(), directory.NewUser{
		User:     directory.User{Email: email, GivenName: "Given", FamilyName: strings.Split(email, "@")[0], BirthDate: "1980-02-03"},
		Password: password, Roles: roles,
	})
	if err != nil {
		e.t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// client registers a client as the system.
func (e *env) client(s client.Settings) (id, secret string) {
	e.t.Helper()
	c, sec, err := e.svc.Clients.Create(e.sys(), s)
	if err != nil {
		e.t.Fatalf("create client %q: %v", s.Name, err)
	}
	return c.ID, sec
}

// auditEvents returns every audit event, oldest first.
func (e *env) auditEvents() []audit.Event {
	e.t.Helper()
	var out []audit.Event
	p := store.Page{Limit: store.MaxLimit}
	for {
		evs, next, err := e.svc.Audit.List(e.sys(), audit.Filter{}, p)
		if err != nil {
			e.t.Fatalf("list audit: %v", err)
		}
		out = append(out, evs...)
		if next == "" {
			return out
		}
		p.After = next
	}
}

// auditComments returns every audit comment, oldest first.
func (e *env) auditComments() []string {
	var out []string
	for _, ev := range e.auditEvents() {
		out = append(out, ev.Comment)
	}
	return out
}

// hasAudit reports whether some audit comment contains every part.
func (e *env) hasAudit(parts ...string) bool {
	for _, c := range e.auditComments() {
		ok := true
		for _, p := range parts {
			if !strings.Contains(c, p) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// browser is a person's user agent: a cookie jar, and redirects followed
// on ward but stopped at the application's redirect URI.
type browser struct {
	e      *env
	c      *http.Client
	origin string
}

const appRedirect = "http://127.0.0.1:9/cb"

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{e: e, origin: e.issuer}
	b.c = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if !strings.HasPrefix(req.URL.String(), e.issuer) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

type page struct {
	status int
	url    *url.URL
	body   string
	// location is set when the chain stopped at a redirect off ward.
	location *url.URL
}

func (b *browser) read(res *http.Response, err error) page {
	b.e.t.Helper()
	if err != nil {
		b.e.t.Fatalf("browser: %v", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	p := page{status: res.StatusCode, url: res.Request.URL, body: string(body)}
	if loc := res.Header.Get("Location"); loc != "" && res.StatusCode >= 300 && res.StatusCode < 400 {
		p.location, _ = url.Parse(loc)
	}
	return p
}

func (b *browser) get(u string) page { return b.read(b.c.Get(u)) }

// post submits a form as the page on ward would: same origin.
func (b *browser) post(u string, form url.Values) page {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.origin)
	return b.read(b.c.Do(req))
}

var (
	inputRE  = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	optionRE = regexp.MustCompile(`<option value="([0-9]+)">`)
)

// hidden returns a page's hidden form fields.
func (p page) hidden() url.Values {
	v := url.Values{}
	for _, m := range inputRE.FindAllStringSubmatch(p.body, -1) {
		v.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

// signIn answers the sign-in page p.
func (b *browser) signIn(p page, email, password string) page {
	b.e.t.Helper()
	if p.status != http.StatusOK || !strings.Contains(p.body, `name="password"`) {
		b.e.t.Fatalf("expected the sign-in page, got %d at %s:\n%.400s", p.status, p.url, p.body)
	}
	f := p.hidden()
	f.Set("email", email)
	f.Set("password", password)
	return b.post(b.e.issuer+"/login", f)
}

// consent answers the consent page p with decision (allow or deny).
func (b *browser) consent(p page, decision string, extra url.Values) page {
	b.e.t.Helper()
	if p.status != http.StatusOK || !strings.Contains(p.body, `name="decision"`) {
		b.e.t.Fatalf("expected the consent page, got %d at %s:\n%.600s", p.status, p.url, p.body)
	}
	f := p.hidden()
	f.Set("decision", decision)
	for k, v := range extra {
		f[k] = v
	}
	return b.post(b.e.issuer+"/oauth/authorize", f)
}

// pkce returns a verifier and its S256 challenge.
func pkce(seed string) (verifier, challenge string) {
	verifier = base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat(seed, 43/len(seed)+1)))[:50]
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// postForm posts a form to ward and decodes the JSON answer.
func (e *env) postForm(path string, form url.Values, basicID, basicSecret string) (int, http.Header, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	var out map[string]any
	body, _ := io.ReadAll(res.Body)
	if len(body) > 0 {
		if err := json.Unmarshal(body, &out); err != nil {
			e.t.Fatalf("POST %s: %d, not JSON: %q", path, res.StatusCode, body)
		}
	}
	return res.StatusCode, res.Header, out
}

// getJSON makes a GET with a bearer token.
func (e *env) bearerGet(path, token string) (int, http.Header, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.issuer+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	var out map[string]any
	body, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(body, &out); err != nil && !errors.Is(err, io.EOF) {
		e.t.Fatalf("GET %s: %d, not JSON: %q", path, res.StatusCode, body)
	}
	return res.StatusCode, res.Header, out
}

// introspect asks whether token is active, as a resource server would.
func (e *env) introspect(token, id, secret string) map[string]any {
	e.t.Helper()
	st, _, out := e.postForm("/oauth/introspect", url.Values{"token": {token}}, id, secret)
	if st != http.StatusOK {
		e.t.Fatalf("introspect: %d %v", st, out)
	}
	return out
}
