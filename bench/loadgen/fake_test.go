package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeWard is a small stand-in for ward's authorization server that keeps
// to the contracts loadgen is written against: discovery, the sign-in
// page, a consent page, redirects with code and state, PKCE S256 at the
// token endpoint, client_secret_basic and introspection. It is strict, so
// the tests catch a client that skips a step.
type fakeWard struct {
	t   *testing.T
	srv *httptest.Server

	clientID, secret, redirectURI string
	user, password                string
	publicClient                  bool
	rememberConsent               bool
	issuer                        string      // the public URL, if not the server's own
	inactive                      atomic.Bool // introspection answers active=false

	mu        sync.Mutex
	sessions  map[string]bool
	consented map[string]bool       // by session
	pending   map[string]url.Values // consent challenge -> authorize query
	codes     map[string]url.Values // code -> authorize query
	tokens    map[string]bool       // access tokens
	counts    map[string]int        // requests by "METHOD path"
	logins    atomic.Int64
}

func newFakeWard(t *testing.T) *fakeWard {
	f := &fakeWard{t: t, clientID: "client-1", secret: "s3cr-et_", redirectURI: "http://127.0.0.1:9/cb",
		user: "pat@example.org", password: "correct horse battery",
		sessions: map[string]bool{}, consented: map[string]bool{}, pending: map[string]url.Values{},
		codes: map[string]url.Values{}, tokens: map[string]bool{}, counts: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", f.discovery)
	mux.HandleFunc("GET /oauth2/authorize", f.authorize)
	mux.HandleFunc("GET /login", f.loginForm)
	mux.HandleFunc("POST /login", f.sameOrigin(f.login))
	mux.HandleFunc("POST /oauth2/consent", f.sameOrigin(f.consent))
	mux.HandleFunc("POST /oauth2/token", f.token)
	mux.HandleFunc("POST /oauth2/introspect", f.introspect)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.counts[r.Method+" "+r.URL.Path]++
		f.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeWard) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[key]
}

func (f *fakeWard) discovery(w http.ResponseWriter, _ *http.Request) {
	u := f.srv.URL
	if f.issuer != "" {
		u = f.issuer
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"issuer":                 u,
		"authorization_endpoint": u + "/oauth2/authorize",
		"token_endpoint":         u + "/oauth2/token",
		"introspection_endpoint": u + "/oauth2/introspect",
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// sameOrigin is what http.CrossOriginProtection asks of a form POST.
func (f *fakeWard) sameOrigin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sfs := r.Header.Get("Sec-Fetch-Site")
		if sfs != "same-origin" && r.Header.Get("Origin") != f.srv.URL {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
		h(w, r)
	}
}

func (f *fakeWard) session(r *http.Request) string {
	c, err := r.Cookie("ward_session")
	if err != nil {
		return ""
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.sessions[c.Value] {
		return ""
	}
	return c.Value
}

var consentTmpl = template.Must(template.New("consent").Parse(`<!doctype html>
<html><body><h1>Allow access?</h1>
<form method="post" action="/oauth2/consent">
<input type="hidden" name="challenge" value="{{.}}">
<input type="hidden" name="csrf" value="csrf-{{.}}">
<button type="submit" name="decision" value="deny">Deny</button>
<button type="submit" name="decision" value="allow">Allow</button>
</form></body></html>`))

func (f *fakeWard) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("response_type") != "code", q.Get("client_id") != f.clientID,
		q.Get("redirect_uri") != f.redirectURI, q.Get("state") == "",
		q.Get("code_challenge_method") != "S256", len(q.Get("code_challenge")) != 43,
		q.Get("scope") == "":
		http.Error(w, "bad authorize request: "+r.URL.RawQuery, http.StatusBadRequest)
		return
	}
	sess := f.session(r)
	if sess == "" {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	f.mu.Lock()
	remembered := f.rememberConsent && f.consented[sess]
	f.mu.Unlock()
	if remembered {
		f.redirectWithCode(w, r, q)
		return
	}
	ch := randomToken(8)
	f.mu.Lock()
	f.pending[ch] = q
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = consentTmpl.Execute(w, ch)
}

func (f *fakeWard) redirectWithCode(w http.ResponseWriter, r *http.Request, q url.Values) {
	code := randomToken(12)
	f.mu.Lock()
	f.codes[code] = q
	f.mu.Unlock()
	back, _ := url.Parse(f.redirectURI)
	back.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html><body><form method="post" action="/login" novalidate>
<input type="hidden" name="next" value="{{.}}">
<input id="email" name="email" type="email" required value="">
<input id="password" name="password" type="password" required>
<button type="submit">Sign in</button>
</form></body></html>`))

func (f *fakeWard) loginForm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = loginTmpl.Execute(w, r.URL.Query().Get("next"))
}

func (f *fakeWard) login(w http.ResponseWriter, r *http.Request) {
	if r.PostFormValue("email") != f.user || r.PostFormValue("password") != f.password {
		http.Error(w, "The email address or password is incorrect.", http.StatusUnauthorized)
		return
	}
	next := r.PostFormValue("next")
	if !strings.HasPrefix(next, "/") {
		next = "/"
	}
	f.logins.Add(1)
	tok := randomToken(16)
	f.mu.Lock()
	f.sessions[tok] = true
	f.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "ward_session", Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (f *fakeWard) consent(w http.ResponseWriter, r *http.Request) {
	sess := f.session(r)
	ch := r.PostFormValue("challenge")
	f.mu.Lock()
	q, ok := f.pending[ch]
	delete(f.pending, ch)
	f.mu.Unlock()
	switch {
	case sess == "":
		http.Error(w, "not signed in", http.StatusUnauthorized)
		return
	case !ok || r.PostFormValue("csrf") != "csrf-"+ch:
		http.Error(w, "bad consent form", http.StatusBadRequest)
		return
	case r.PostFormValue("decision") != "allow":
		http.Error(w, "denied", http.StatusForbidden)
		return
	}
	f.mu.Lock()
	f.consented[sess] = true
	f.mu.Unlock()
	f.redirectWithCode(w, r, q)
}

// clientAuth checks client_secret_basic, or a public client's client_id.
func (f *fakeWard) clientAuth(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if !ok {
		return f.publicClient && r.PostFormValue("client_id") == f.clientID
	}
	id, err1 := url.QueryUnescape(id)
	secret, err2 := url.QueryUnescape(secret)
	return !f.publicClient && err1 == nil && err2 == nil && id == f.clientID && secret == f.secret
}

func (f *fakeWard) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	if !f.clientAuth(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "client_credentials":
		if f.publicClient {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unauthorized_client"})
			return
		}
	case "authorization_code":
		code := r.PostForm.Get("code")
		f.mu.Lock()
		q, ok := f.codes[code]
		delete(f.codes, code) // single use
		f.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		switch {
		case !ok:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "unknown code"})
			return
		case r.PostForm.Get("redirect_uri") != q.Get("redirect_uri"):
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "redirect_uri"})
			return
		case base64.RawURLEncoding.EncodeToString(sum[:]) != q.Get("code_challenge"):
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "PKCE"})
			return
		}
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	tok := randomToken(24)
	f.mu.Lock()
	f.tokens[tok] = true
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
}

func (f *fakeWard) introspect(w http.ResponseWriter, r *http.Request) {
	if !f.clientAuth(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	f.mu.Lock()
	active := f.tokens[r.PostFormValue("token")] && !f.inactive.Load()
	f.mu.Unlock()
	if !active {
		writeJSON(w, http.StatusOK, map[string]bool{"active": false})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"active": true, "client_id": f.clientID, "scope": "system/*.rs"})
}

// args returns the loadgen flags for scenario against f, then extra.
func (f *fakeWard) args(scenario string, extra ...string) []string {
	a := []string{"-url", f.srv.URL, "-scenario", scenario, "-client-id", f.clientID, "-duration", "10s"}
	if !f.publicClient {
		a = append(a, "-client-secret", f.secret)
	}
	if scenario == scenarioAuthCode {
		a = append(a, "-user", f.user, "-password", f.password, "-redirect-uri", f.redirectURI)
	}
	return append(a, extra...)
}

func (f *fakeWard) String() string { return fmt.Sprintf("fakeWard(%s)", f.srv.URL) }
