package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"
)

// maxBody bounds how much of any answer is read.
const maxBody = 1 << 20

// failure is one failed operation: what was asked, and what came back.
type failure struct {
	Step   string
	Status int
	Body   string
	Err    error
}

func (f *failure) Error() string {
	var b strings.Builder
	b.WriteString(f.Step)
	if f.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", f.Status)
	}
	if f.Err != nil {
		fmt.Fprintf(&b, ": %v", f.Err)
	}
	if f.Body != "" {
		fmt.Fprintf(&b, ": %s", f.Body)
	}
	return b.String()
}

func (f *failure) Unwrap() error { return f.Err }

// snippet is the start of body on one line, for error reports.
func snippet(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

// discovery is the part of the OpenID Provider metadata the scenarios use.
type discovery struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
}

// target is what every scenario shares: the checked configuration, the
// HTTP plumbing and the discovered endpoints.
type target struct {
	cfg       *config
	base      *url.URL
	transport *countingTransport
	client    *http.Client // follows no redirects, keeps no cookies
	meta      discovery
}

func newTarget(cfg *config, base *url.URL) *target {
	ct := &countingTransport{base: newTransport(cfg.concurrency, cfg.timeout)}
	return &target{cfg: cfg, base: base, transport: ct, client: newClient(ct, nil, cfg.timeout)}
}

func newClient(rt http.RoundTripper, jar http.CookieJar, timeout time.Duration) *http.Client {
	return &http.Client{
		Transport: rt,
		Jar:       jar,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// do sends req and reads (a bounded part of) the answer.
func do(c *http.Client, req *http.Request) (*http.Response, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	// Drain what is left so the connection goes back to the pool.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4*maxBody))
	return resp, body, err
}

// waitReady polls /readyz until it answers 200 or the time is up. Each poll
// runs to its answer (bounded by the client's own timeout) even when the
// time runs out meanwhile, so on a busy machine the error still says what
// the server last answered rather than only that time ran out.
func (t *target) waitReady(ctx context.Context, within time.Duration) error {
	u := t.base.JoinPath("/readyz").String()
	pollCtx := ctx
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last string
	for {
		req, err := http.NewRequestWithContext(pollCtx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, body, err := do(t.client, req)
		switch {
		case err == nil && resp.StatusCode == http.StatusOK:
			return nil
		case err == nil:
			last = fmt.Sprintf("HTTP %d %s", resp.StatusCode, snippet(body))
		default:
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within %s (last: %s)", u, within, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// discover reads the OpenID configuration (or, failing that, the OAuth
// authorization server metadata) and checks the endpoints it names.
func (t *target) discover(ctx context.Context) error {
	var errs []error
	for _, p := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base.JoinPath(p).String(), nil)
		if err != nil {
			return err
		}
		resp, body, err := do(t.client, req)
		if err != nil {
			errs = append(errs, fmt.Errorf("GET %s: %w", p, err))
			continue
		}
		if resp.StatusCode != http.StatusOK {
			errs = append(errs, fmt.Errorf("GET %s: HTTP %d %s", p, resp.StatusCode, snippet(body)))
			continue
		}
		if err := json.Unmarshal(body, &t.meta); err != nil {
			return fmt.Errorf("GET %s: %w", p, err)
		}
		return t.checkEndpoints()
	}
	return fmt.Errorf("discovery: %w", errors.Join(errs...))
}

// checkEndpoints makes the endpoints the scenario needs absolute,
// optionally moves them onto the base URL's origin, and refuses any that
// is not on loopback.
func (t *target) checkEndpoints() error {
	need := map[string]*string{"token_endpoint": &t.meta.TokenEndpoint}
	switch t.cfg.scenario {
	case scenarioIntrospect:
		need["introspection_endpoint"] = &t.meta.IntrospectionEndpoint
	case scenarioAuthCode:
		need["authorization_endpoint"] = &t.meta.AuthorizationEndpoint
	}
	for name, ep := range need {
		if *ep == "" {
			return fmt.Errorf("discovery names no %s", name)
		}
		u, err := t.base.Parse(*ep)
		if err != nil {
			return fmt.Errorf("%s %q: %w", name, *ep, err)
		}
		if t.cfg.rebase {
			u.Scheme, u.Host = t.base.Scheme, t.base.Host
		}
		if _, err := checkLoopbackURL(u.String()); err != nil {
			return fmt.Errorf("%s: %w (use -rebase to send it to %s instead)", name, err, t.base.Host)
		}
		*ep = u.String()
	}
	return nil
}

// basicAuth sets client_secret_basic credentials, form-encoded first as
// RFC 6749 section 2.3.1 asks.
func basicAuth(req *http.Request, id, secret string) {
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
}

// postToken posts form to the token endpoint as the configured client and
// returns the decoded answer; anything but 200 with an access token fails.
func (t *target) postToken(ctx context.Context, c *http.Client, form url.Values) (map[string]any, error) {
	if t.cfg.clientSecret == "" {
		form.Set("client_id", t.cfg.clientID) // a public client
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.meta.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, &failure{Step: "token", Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if t.cfg.clientSecret != "" {
		basicAuth(req, t.cfg.clientID, t.cfg.clientSecret)
	}
	resp, body, err := do(c, req)
	if err != nil {
		return nil, &failure{Step: "token", Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &failure{Step: "token", Status: resp.StatusCode, Body: snippet(body)}
	}
	var tok map[string]any
	if err := json.Unmarshal(body, &tok); err != nil {
		return nil, &failure{Step: "token", Status: resp.StatusCode, Err: err, Body: snippet(body)}
	}
	if s, _ := tok["access_token"].(string); s == "" {
		return nil, &failure{Step: "token", Status: resp.StatusCode, Err: errors.New("no access_token"), Body: snippet(body)}
	}
	return tok, nil
}

// opFunc is one operation of a scenario, timed as a whole by the runner;
// it may time its steps into rec.
type opFunc func(ctx context.Context, rec *recorder) error

// clientCredentials is one client_credentials token request.
func (t *target) clientCredentials(ctx context.Context, _ *recorder) error {
	form := url.Values{"grant_type": {"client_credentials"}}
	if t.cfg.scope != "" {
		form.Set("scope", t.cfg.scope)
	}
	_, err := t.postToken(ctx, t.client, form)
	return err
}

// introspector returns an operation that introspects one access token,
// obtained now by client_credentials, over and over.
func (t *target) introspector(ctx context.Context) (opFunc, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if t.cfg.scope != "" {
		form.Set("scope", t.cfg.scope)
	}
	tok, err := t.postToken(ctx, t.client, form)
	if err != nil {
		return nil, fmt.Errorf("obtain a token to introspect: %w", err)
	}
	body := url.Values{"token": {tok["access_token"].(string)}, "token_type_hint": {"access_token"}}.Encode()
	return func(ctx context.Context, _ *recorder) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.meta.IntrospectionEndpoint, strings.NewReader(body))
		if err != nil {
			return &failure{Step: "introspect", Err: err}
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		basicAuth(req, t.cfg.clientID, t.cfg.clientSecret)
		resp, b, err := do(t.client, req)
		if err != nil {
			return &failure{Step: "introspect", Err: err}
		}
		if resp.StatusCode != http.StatusOK {
			return &failure{Step: "introspect", Status: resp.StatusCode, Body: snippet(b)}
		}
		var ans struct {
			Active bool `json:"active"`
		}
		if err := json.Unmarshal(b, &ans); err != nil {
			return &failure{Step: "introspect", Status: resp.StatusCode, Err: err, Body: snippet(b)}
		}
		if !ans.Active {
			return &failure{Step: "introspect", Status: resp.StatusCode, Err: errors.New("active=false"), Body: snippet(b)}
		}
		return nil
	}, nil
}

// randomToken is n random bytes as unpadded base64url.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// maxHops bounds the pages and redirects of one authorization round.
const maxHops = 12

// authCoder returns an operation that runs one whole authorization code
// round as a browser and the client would: authorize, sign in, consent,
// follow the redirect to the client, then exchange the code (PKCE S256).
// With -session fresh (the default) each round starts signed out; with
// reuse the worker keeps its cookies, so later rounds skip the sign-in.
func (t *target) authCoder() (opFunc, error) {
	redirect, err := url.Parse(t.cfg.redirectURI)
	if err != nil || !redirect.IsAbs() {
		return nil, fmt.Errorf("-redirect-uri %q is not an absolute URL", t.cfg.redirectURI)
	}
	authz, err := url.Parse(t.meta.AuthorizationEndpoint)
	if err != nil {
		return nil, err
	}
	var jar http.CookieJar
	if t.cfg.session == "reuse" {
		jar, _ = cookiejar.New(nil)
	}
	return func(ctx context.Context, rec *recorder) error {
		j := jar
		if j == nil {
			j, _ = cookiejar.New(nil)
		}
		return t.authCodeRound(ctx, rec, newClient(t.transport, j, t.cfg.timeout), authz, redirect)
	}, nil
}

func (t *target) authCodeRound(ctx context.Context, rec *recorder, c *http.Client, authz, redirect *url.URL) error {
	verifier := randomToken(32)
	sum := sha256.Sum256([]byte(verifier))
	state := randomToken(16)
	q := authz.Query()
	q.Set("response_type", "code")
	q.Set("client_id", t.cfg.clientID)
	q.Set("redirect_uri", t.cfg.redirectURI)
	q.Set("scope", t.cfg.scope)
	q.Set("state", state)
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
	q.Set("code_challenge_method", "S256")
	if hasScope(t.cfg.scope, "openid") {
		q.Set("nonce", randomToken(16))
	}
	if t.cfg.aud != "" {
		q.Set("aud", t.cfg.aud)
	}
	for _, kv := range t.cfg.params {
		k, v, _ := strings.Cut(kv, "=")
		q.Set(k, v)
	}
	start := *authz
	start.RawQuery = q.Encode()

	method, cur, step := http.MethodGet, &start, "authorize"
	var form url.Values
	signedIn, consented := false, false
	for hop := 0; ; hop++ {
		if hop == maxHops {
			return &failure{Step: step, Err: fmt.Errorf("no redirect to the client after %d requests", maxHops)}
		}
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, cur.String(), body)
		if err != nil {
			return &failure{Step: step, Err: err}
		}
		req.Header.Set("Accept", "text/html")
		if method == http.MethodPost {
			// What a browser sends with a same-origin form, for the
			// server's cross-origin protection.
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", cur.Scheme+"://"+cur.Host)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
		}
		t0 := time.Now()
		resp, b, err := do(c, req)
		rec.step(step, time.Since(t0))
		if err != nil {
			return &failure{Step: step, Err: err}
		}
		switch code := resp.StatusCode; {
		case code >= 300 && code < 400:
			loc := resp.Header.Get("Location")
			next, err := cur.Parse(loc)
			if loc == "" || err != nil {
				return &failure{Step: step, Status: code, Err: fmt.Errorf("bad Location %q", loc)}
			}
			if sameEndpoint(next, redirect) {
				return t.finishAuthCode(ctx, rec, c, next, state, verifier)
			}
			method, cur, form = http.MethodGet, next, nil
			step = "page"
			if sameEndpoint(next, authz) {
				step = "authorize"
			}
		case code >= 200 && code < 300:
			forms, err := parseForms(bytes.NewReader(b), cur)
			if err != nil {
				return &failure{Step: step, Status: code, Err: err}
			}
			f, submit, kind := pickForm(forms)
			switch {
			case kind == "login" && !signedIn:
				signedIn = true
				form = f.values(submit)
				fillLogin(f, form, t.cfg.user, t.cfg.password)
			case kind == "consent" && !consented:
				consented = true
				form = f.values(submit)
			default:
				what := "a page with neither a sign-in nor a consent form"
				if kind != "" {
					what = "the " + kind + " form a second time"
				}
				return &failure{Step: step, Status: code, Err: errors.New(what), Body: snippet(b)}
			}
			step = kind
			cur = f.Action
			method = f.Method
			if method == http.MethodGet {
				u := *cur
				u.RawQuery = form.Encode()
				cur, form = &u, nil
			}
		default:
			return &failure{Step: step, Status: code, Body: snippet(b)}
		}
	}
}

// pickForm finds the sign-in form (one with a password field) or the
// consent form (one with a decision=allow button) among forms.
func pickForm(forms []*htmlForm) (*htmlForm, *formButton, string) {
	for _, f := range forms {
		if b, ok := f.button("decision", "allow"); ok {
			return f, &b, "consent"
		}
	}
	for _, f := range forms {
		if f.hasPassword() {
			var b *formButton
			if len(f.Buttons) > 0 {
				b = &f.Buttons[0]
			}
			return f, b, "login"
		}
	}
	return nil, nil, ""
}

// fillLogin puts the user's credentials into the sign-in form's values:
// the password into its password field, the email into the field named
// email (or else the first email or text field).
func fillLogin(f *htmlForm, v url.Values, user, password string) {
	emailField := ""
	for _, in := range f.Inputs {
		switch {
		case in.Type == "password":
			v.Set(in.Name, password)
		case in.Name == "email":
			emailField = in.Name
		case emailField == "" && (in.Type == "email" || in.Type == "text"):
			emailField = in.Name
		}
	}
	if emailField == "" {
		emailField = "email"
	}
	v.Set(emailField, user)
}

// finishAuthCode checks the redirect to the client and exchanges its code.
func (t *target) finishAuthCode(ctx context.Context, rec *recorder, c *http.Client, back *url.URL, state, verifier string) error {
	q := back.Query()
	if e := q.Get("error"); e != "" {
		return &failure{Step: "redirect", Err: fmt.Errorf("authorization error %s: %s", e, q.Get("error_description"))}
	}
	if q.Get("state") != state {
		return &failure{Step: "redirect", Err: fmt.Errorf("state %q, want %q", q.Get("state"), state)}
	}
	code := q.Get("code")
	if code == "" {
		return &failure{Step: "redirect", Err: fmt.Errorf("no code in %s", back.Redacted())}
	}
	t0 := time.Now()
	_, err := t.postToken(ctx, c, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {t.cfg.redirectURI},
		"code_verifier": {verifier},
	})
	rec.step("token", time.Since(t0))
	return err
}

// sameEndpoint reports whether u is at endpoint (scheme, host and path;
// the query is not compared).
func sameEndpoint(u, endpoint *url.URL) bool {
	return strings.EqualFold(u.Scheme, endpoint.Scheme) && strings.EqualFold(u.Host, endpoint.Host) &&
		u.EscapedPath() == endpoint.EscapedPath()
}

func hasScope(scope, want string) bool {
	for _, s := range strings.Fields(scope) {
		if s == want {
			return true
		}
	}
	return false
}
