package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"ward/internal/actor"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/httpauth"
	"ward/internal/server"
)

// env is a ward with the console, driven in-process (no browser): a
// person per role, each with a session, for the allowed-and-refused pairs
// every page is tested with.
type env struct {
	t   *testing.T
	srv *server.Server
	h   http.Handler
}

// newEnv builds a ward on dbURL.
func newEnv(t *testing.T, dbURL string) *env {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = dbURL
	cfg.Issuer = "http://ward.test"
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return &env{t: t, srv: srv, h: srv.Handler()}
}

// testPassword is every test person's password.
const testPassword = "correct horse battery staple"

// person creates a user with roles (and organizations) and returns them.
func (e *env) person(email string, roles []string, orgs ...int64) *directory.User {
	e.t.Helper()
	u, err := e.srv.Services().Directory.CreateUser(actor.System(context.Background()), directory.NewUser{
		User:     directory.User{Email: email, GivenName: "Test", FamilyName: strings.Split(email, "@")[0]},
		Password: testPassword,
		Roles:    roles,
		OrgIDs:   orgs,
	})
	if err != nil {
		e.t.Fatalf("create %s: %v", email, err)
	}
	return u
}

// session signs email in and returns its session token.
func (e *env) session(email string) string {
	e.t.Helper()
	tok, _, err := e.srv.Services().Sessions.Login(context.Background(), email, testPassword)
	if err != nil {
		e.t.Fatalf("sign %s in: %v", email, err)
	}
	return tok
}

// page is one answer of the console.
type page struct {
	Status   int
	Body     string
	Location string
	Header   http.Header
}

// get fetches path with session tok ("" for anonymous).
func (e *env) get(tok, path string) page {
	e.t.Helper()
	return e.do(tok, httptest.NewRequest(http.MethodGet, path, nil))
}

// post submits a form to path as a same-origin browser would.
func (e *env) post(tok, path string, form url.Values) page {
	e.t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	return e.do(tok, r)
}

func (e *env) do(tok string, r *http.Request) page {
	e.t.Helper()
	if tok != "" {
		r.AddCookie(&http.Cookie{Name: httpauth.CookieName, Value: tok})
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("read %s %s: %v", r.Method, r.URL, err)
	}
	return page{Status: res.StatusCode, Body: string(body), Location: res.Header.Get("Location"), Header: res.Header}
}
