package mistest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// codeTTL is how long an authorization code may be exchanged.
const codeTTL = 10 * time.Minute

type grant struct {
	scope   []string
	revoked bool
}

type authCode struct {
	grant       *grant
	redirectURI string
	challenge   string
	expires     time.Time
}

type accessToken struct {
	grant   *grant
	expires time.Time
}

type refreshToken struct {
	grant *grant
	spent bool
}

// loginPage is the authorize page: the request's parameters carried as
// hidden fields, and the login (CampDoc has the user log in, then grant).
var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><title>mistest: sign in</title></head><body>
<h1>Sign in to the test MIS</h1>
{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">
{{range $k, $v := .Hidden}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<label>Email <input name="email" type="email"></label>
<label>Password <input name="password" type="password"></label>
<button type="submit" name="decision" value="allow">Sign in and allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form></body></html>`))

// authorizeParams are carried from the GET to the POST.
var authorizeParams = []string{"client_id", "response_type", "redirect_uri", "state", "scope", "code_challenge", "code_challenge_method"}

func (s *Server) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+AuthorizePath, s.authorizePage)
	mux.HandleFunc("POST "+AuthorizePath, s.authorizeSubmit)
	mux.HandleFunc("POST "+TokenPath, s.token)
	s.apiRoutes(mux)
}

// checkAuthorize validates the client and redirect URI; errors here are
// shown on the page, never redirected to an unverified URI.
func (s *Server) checkAuthorize(q url.Values) (*url.URL, string) {
	if q.Get("client_id") != s.opts.ClientID {
		return nil, "unknown client_id"
	}
	if q.Get("response_type") != "code" {
		return nil, "response_type must be code"
	}
	ru := q.Get("redirect_uri")
	if ru == "" {
		ru = s.opts.RedirectURI
	}
	if s.opts.RedirectURI != "" && ru != s.opts.RedirectURI {
		return nil, "redirect_uri is not the registered one"
	}
	u, err := url.Parse(ru)
	if err != nil || !u.IsAbs() {
		return nil, "redirect_uri must be an absolute URL"
	}
	if m := q.Get("code_challenge_method"); q.Get("code_challenge") != "" && m != "S256" {
		return nil, "code_challenge_method must be S256"
	}
	return u, ""
}

func (s *Server) renderLogin(w http.ResponseWriter, status int, q url.Values, msg string) {
	hidden := map[string]string{}
	for _, k := range authorizeParams {
		if v := q.Get(k); v != "" {
			hidden[k] = v
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = loginPage.Execute(w, map[string]any{"Action": AuthorizePath, "Hidden": hidden, "Error": msg})
}

func (s *Server) authorizePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if _, msg := s.checkAuthorize(q); msg != "" {
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	s.renderLogin(w, http.StatusOK, q, "")
}

func (s *Server) authorizeSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	q := r.PostForm
	redirect, msg := s.checkAuthorize(q)
	if msg != "" {
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	back := redirect.Query()
	if st := q.Get("state"); st != "" {
		back.Set("state", st)
	}
	if q.Get("decision") == "deny" {
		back.Set("error", "access_denied")
		redirect.RawQuery = back.Encode()
		http.Redirect(w, r, redirect.String(), http.StatusFound)
		return
	}
	if !equal(q.Get("email"), s.opts.Username) || !equal(q.Get("password"), s.opts.Password) {
		s.renderLogin(w, http.StatusUnauthorized, q, "Wrong email or password.")
		return
	}
	s.mu.Lock()
	code := s.newSecret("code")
	g := &grant{scope: strings.Fields(q.Get("scope"))}
	s.grants = append(s.grants, g)
	s.codes[code] = &authCode{grant: g, redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), expires: s.now().Add(codeTTL)}
	s.mu.Unlock()
	back.Set("code", code)
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// tokenError is RFC 6749's error answer.
func tokenError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// token is POST /public/v2/oauth/access_token. The client authenticates
// with HTTP Basic, as CampDoc requires (client_id and client_secret in the
// form are accepted too).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "unreadable form")
		return
	}
	id, secret, ok := r.BasicAuth()
	if ok {
		// RFC 6749 2.3.1: form-encoded inside the Basic header.
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if !equal(id, s.opts.ClientID) || !equal(secret, s.opts.ClientSecret) {
		w.Header().Set("WWW-Authenticate", `Basic realm="mistest"`)
		tokenError(w, http.StatusUnauthorized, "invalid_client", "wrong client credentials")
		return
	}
	f := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	var g *grant
	switch f.Get("grant_type") {
	case "authorization_code":
		c, ok := s.codes[f.Get("code")]
		delete(s.codes, f.Get("code")) // one use, even a failed one
		switch {
		case !ok || c.grant.revoked || s.now().After(c.expires):
			tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown, used or expired code")
			return
		case c.redirectURI != "" && f.Get("redirect_uri") != c.redirectURI:
			tokenError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorize request's")
			return
		case c.challenge != "" && !pkceOK(f.Get("code_verifier"), c.challenge):
			tokenError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
			return
		}
		g = c.grant
	case "refresh_token":
		rt, ok := s.refresh[f.Get("refresh_token")]
		switch {
		case !ok || rt.grant.revoked:
			tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown or revoked refresh token")
			return
		case rt.spent:
			s.reuses++
			tokenError(w, http.StatusBadRequest, "invalid_grant", "refresh token already used")
			return
		}
		rt.spent = true // rotation: each refresh token is good once
		g = rt.grant
	default:
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
		return
	}
	at, rt := s.newSecret("at"), s.newSecret("rt")
	s.access[at] = &accessToken{grant: g, expires: s.now().Add(s.opts.AccessTTL)}
	s.refresh[rt] = &refreshToken{grant: g}
	scope := g.scope
	if scope == nil {
		scope = []string{}
	}
	// CampDoc answers scope as an array, not RFC 6749's space-separated string.
	writeJSON(w, http.StatusOK, map[string]any{"access_token": at, "refresh_token": rt, "token_type": "bearer",
		"expires_in": int(s.opts.AccessTTL / time.Second), "scope": scope})
}

func pkceOK(verifier, challenge string) bool {
	if verifier == "" {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return equal(base64.RawURLEncoding.EncodeToString(sum[:]), challenge)
}

// authorized reports whether r carries a live access token.
func (s *Server) authorized(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.access[tok]
	return ok && !at.grant.revoked && s.now().Before(at.expires)
}

// Login completes the authorize page as the admin's browser would: it
// loads authorizeURL (what ward redirected the browser to), submits the
// test credentials and allows, and returns where the MIS redirects the
// browser (ward's callback, with code and state). The redirect is not
// followed.
func (s *Server) Login(authorizeURL string) (*url.URL, error) {
	return s.login(authorizeURL, s.opts.Username, s.opts.Password)
}

func (s *Server) login(authorizeURL, user, password string) (*url.URL, error) {
	u, err := url.Parse(authorizeURL)
	if err != nil {
		return nil, err
	}
	hc := s.Client()
	res, err := hc.Get(u.String())
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mistest: authorize page answered %d: %s", res.StatusCode, strings.TrimSpace(string(body)))
	}
	form := url.Values{}
	for _, k := range authorizeParams {
		if v := u.Query().Get(k); v != "" {
			form.Set(k, v)
		}
	}
	form.Set("email", user)
	form.Set("password", password)
	form.Set("decision", "allow")
	res, err = hc.PostForm(s.srv.URL+AuthorizePath, form)
	if err != nil {
		return nil, err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		return nil, fmt.Errorf("mistest: login answered %d", res.StatusCode)
	}
	return res.Location()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
