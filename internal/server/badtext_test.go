package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"ward/internal/actor"
	"ward/internal/client"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/httpauth"
	"ward/internal/oauth"
	"ward/internal/server"
	"ward/internal/testutil"
)

// badValues are the strings no database column may take: PostgreSQL refuses
// each one in a text parameter (SQLSTATE 22021), which used to surface as a
// 500. An overlong encoding of NUL is the classic filter bypass.
var badValues = []struct{ name, raw, json string }{
	{"NUL", "a\x00b", `a\u0000b`},
	{"invalid UTF-8", "a\xffb", "a\xffb"},
	{"overlong NUL", "\xc0\x80", "\xc0\x80"},
}

// badMark stands for the bad value in JSON templates; it is replaced in the
// encoded body, since encoding/json would escape or repair the value.
const badMark = "@@BAD@@"

// route is one operation the server mounts, with what it reads.
type route struct {
	method, path string   // path with {name} wildcards
	query        []string // query parameters it reads
	form         []string // form fields it reads (a form body)
	json         []string // JSON bodies to send, badMark in their strings
}

func (r route) String() string { return r.method + " " + r.path }

// probeCase is one request carrying bad input.
type probeCase struct {
	name   string
	method string
	target string
	body   []byte
	ctype  string
	header http.Header
	// chunked hides the body's length, so only a reader limit catches it.
	chunked bool
	// mayPass marks a request a route may answer as usual (a binary body
	// of unknown length that only a handler reading it can refuse, a
	// cookie net/http drops), but never with a 5xx.
	mayPass bool
}

// TestBadTextIsRefused walks every route the server mounts (the management
// API from its OpenAPI document, the FHIR API from its CapabilityStatement
// plus Bulk Data, the OAuth endpoints from discovery, and the pages) and
// sends NUL bytes, invalid and overlong UTF-8 and oversized bodies in the
// path, the query, data headers, form fields and JSON strings, as an admin
// and as nobody. Every answer is a 4xx, never a 500, and the 400s and 413s
// come in the format of the path's API.
func TestBadTextIsRefused(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		const limit = 32 << 10
		srv := newServer(t, dbURL, func(c *config.Config) { c.MaxBodyBytes = limit; c.DocumentMaxBytes = limit })
		h := srv.Handler()
		adminCookie, adminBearer := adminCredentials(t, srv.Services(), h)

		routes := mountedRoutes(t, h, adminBearer)
		if len(routes) < 60 {
			t.Fatalf("found only %d routes; the walk is broken", len(routes))
		}
		var cases []probeCase
		for _, rt := range routes {
			cases = append(cases, probesFor(rt, limit)...)
		}
		t.Logf("%d routes, %d requests per caller", len(routes), len(cases))

		callers := []struct {
			name string
			auth func(*http.Request)
		}{
			{"anonymous", func(*http.Request) {}},
			{"admin", func(r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/fhir") {
					r.Header.Set("Authorization", "Bearer "+adminBearer)
				} else {
					r.AddCookie(&http.Cookie{Name: httpauth.CookieName, Value: adminCookie})
				}
			}},
		}
		failures := 0
		for _, c := range callers {
			for _, pc := range cases {
				req := httptest.NewRequest(pc.method, pc.target, bytes.NewReader(pc.body))
				if pc.body == nil {
					req = httptest.NewRequest(pc.method, pc.target, nil)
				}
				if pc.chunked {
					req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(pc.body)))
					req.ContentLength = -1
				}
				if pc.ctype != "" {
					req.Header.Set("Content-Type", pc.ctype)
				}
				c.auth(req)
				for k, vs := range pc.header {
					req.Header[k] = vs
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if pc.mayPass && rec.Code < 500 {
					continue
				}
				if msg := judge(req, rec); msg != "" {
					failures++
					if failures <= 40 {
						t.Errorf("%s %s: %s %q: %s", c.name, pc.name, pc.method, pc.target, msg)
					}
				}
			}
		}
		if failures > 40 {
			t.Errorf("... and %d more", failures-40)
		}
		if failures > 0 {
			t.Errorf("%d of %d requests with bad input were not a proper 4xx", failures, len(cases)*len(callers))
		}
	})
}

// judge returns why an answer to bad input is wrong, or "".
func judge(req *http.Request, rec *httptest.ResponseRecorder) string {
	body := rec.Body.String()
	if len(body) > 200 {
		body = body[:200]
	}
	if rec.Code < 400 || rec.Code >= 500 {
		return fmt.Sprintf("status %d, want a 4xx: %s", rec.Code, body)
	}
	if rec.Code != http.StatusBadRequest && rec.Code != http.StatusRequestEntityTooLarge {
		return "" // refused for another reason first (sign-in, method, ...)
	}
	ct, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type"))
	path := req.URL.Path
	switch {
	case path == "/fhir" || strings.HasPrefix(path, "/fhir/"):
		var oo struct{ ResourceType string }
		if err := json.Unmarshal(rec.Body.Bytes(), &oo); err != nil || oo.ResourceType != "OperationOutcome" {
			return fmt.Sprintf("%d is not an OperationOutcome (%s): %s", rec.Code, ct, body)
		}
	case strings.HasPrefix(path, "/api/1.0/sso/"):
		// The legacy IdP API answers in seed 003's shape.
		var e struct {
			Error bool
			Code  int
		}
		if ct != "application/json" || json.Unmarshal(rec.Body.Bytes(), &e) != nil || !e.Error || e.Code != rec.Code {
			return fmt.Sprintf("%d is not the IdP API's error (%s): %s", rec.Code, ct, body)
		}
	case strings.HasPrefix(path, "/api/"):
		var p httpauth.Problem
		if ct != "application/problem+json" || json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Status != rec.Code {
			return fmt.Sprintf("%d is not a problem (%s): %s", rec.Code, ct, body)
		}
	case path == oauth.PathAuthorize || path == oauth.PathEndSession:
		if ct != "text/html" {
			return fmt.Sprintf("%d is not a page (%s): %s", rec.Code, ct, body)
		}
	case strings.HasPrefix(path, "/oauth/") || strings.HasPrefix(path, "/.well-known/"):
		var e struct{ Error string }
		if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == "" {
			return fmt.Sprintf("%d is not an RFC 6749 error (%s): %s", rec.Code, ct, body)
		}
	default:
		if ct != "text/html" {
			return fmt.Sprintf("%d is not a page (%s): %s", rec.Code, ct, body)
		}
		if path == "/login" && !strings.Contains(rec.Body.String(), `name="password"`) {
			return fmt.Sprintf("%d does not show the sign-in form again: %s", rec.Code, body)
		}
	}
	return ""
}

// adminCredentials signs an admin in (a session cookie, for the
// management API and the pages) and gets a system token for the FHIR API.
func adminCredentials(t *testing.T, svc *server.Services, h http.Handler) (cookie, bearer string) {
	t.Helper()
	ctx := context.Background()
	sys := actor.System(ctx)
	const pw = "correct horse battery staple 9"
	admin, err := svc.Directory.CreateUser(sys, directory.NewUser{User: directory.User{Email: "root@example.org"}, Roles: []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Directory.SetPassword(sys, admin.ID, pw); err != nil {
		t.Fatal(err)
	}
	cookie, _, err = svc.Sessions.Login(ctx, admin.Email, pw)
	if err != nil {
		t.Fatal(err)
	}
	cl, secret, err := svc.Clients.Create(sys, client.Settings{Name: "probe", GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/*.cruds"})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, oauth.PathToken, strings.NewReader("grant_type=client_credentials&scope=system%2F*.cruds"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(cl.ID), url.QueryEscape(secret))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &tok) != nil || tok.AccessToken == "" {
		t.Fatalf("system token: %d %s", rec.Code, rec.Body)
	}
	return cookie, tok.AccessToken
}

var wildcard = regexp.MustCompile(`\{[^}]+\}`)

// probesFor lists the bad requests for one route.
func probesFor(rt route, limit int) []probeCase {
	var out []probeCase
	// fill replaces every wildcard with "1" but the one at index bad.
	fill := func(bad int, value string) string {
		i := -1
		return wildcard.ReplaceAllStringFunc(rt.path, func(string) string {
			i++
			if i == bad {
				return url.PathEscape(value)
			}
			return "1"
		})
	}
	wildcards := len(wildcard.FindAllString(rt.path, -1))
	for _, bv := range badValues {
		for i := range wildcards {
			out = append(out, probeCase{name: fmt.Sprintf("%s in path wildcard %d", bv.name, i), method: rt.method, target: fill(i, bv.raw)})
		}
		plain := fill(-1, "")
		out = append(out, probeCase{name: bv.name + " as an extra path segment", method: rt.method, target: plain + "/" + url.PathEscape(bv.raw)})
		for _, q := range rt.query {
			out = append(out, probeCase{name: fmt.Sprintf("%s in query %s", bv.name, q), method: rt.method,
				target: plain + "?" + url.Values{q: {bv.raw}}.Encode()})
		}
		out = append(out, probeCase{name: bv.name + " as a query parameter name", method: rt.method,
			target: plain + "?" + url.QueryEscape(bv.raw) + "=1"})
		for _, hd := range []string{"Authorization", "If-Match", "If-None-Match", "X-Security-Context", "Prefer"} {
			v := bv.raw
			if hd == "Authorization" {
				v = "Bearer " + v
			}
			out = append(out, probeCase{name: fmt.Sprintf("%s in header %s", bv.name, hd), method: rt.method, target: plain,
				header: http.Header{hd: {v}}})
		}
		// net/http drops a cookie value holding such bytes: the request
		// goes on without it, and must not fail.
		out = append(out, probeCase{name: bv.name + " in the session cookie", method: rt.method, target: plain,
			header: http.Header{"Cookie": {httpauth.CookieName + "=" + bv.raw}}, mayPass: true})
		if rt.method == http.MethodPost || rt.method == http.MethodPut {
			out = append(out, probeCase{name: bv.name + " in a text/plain body", method: rt.method, target: plain,
				body: []byte(bv.raw), ctype: "text/plain"})
		}
		// A client_id inside HTTP Basic credentials (RFC 6749 §2.3.1).
		basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(bv.raw) + ":secret"))
		out = append(out, probeCase{name: bv.name + " in Basic credentials", method: rt.method, target: plain,
			header: http.Header{"Authorization": {"Basic " + basic}}})
		for _, f := range rt.form {
			form := url.Values{}
			for _, g := range rt.form {
				form.Set(g, "x")
			}
			form.Set(f, bv.raw)
			out = append(out, probeCase{name: fmt.Sprintf("%s in form field %s", bv.name, f), method: rt.method, target: plain,
				body: []byte(form.Encode()), ctype: "application/x-www-form-urlencoded"})
			mp, ct := multipartForm(form)
			out = append(out, probeCase{name: fmt.Sprintf("%s in multipart field %s", bv.name, f), method: rt.method, target: plain,
				body: mp, ctype: ct})
		}
		for i, j := range rt.json {
			body := strings.ReplaceAll(j, badMark, bv.json)
			for _, ct := range []string{"application/fhir+json", "application/json"} {
				out = append(out, probeCase{name: fmt.Sprintf("%s in JSON body %d (%s)", bv.name, i, ct), method: rt.method, target: plain,
					body: []byte(body), ctype: ct})
			}
		}
	}
	if rt.method == http.MethodPost || rt.method == http.MethodPut {
		plain := fill(-1, "")
		huge := bytes.Repeat([]byte("a"), 2*limit+4<<10)
		big := append(append([]byte(`{"resourceType":"Basic","text":"`), huge...), `"}`...)
		for _, ct := range []string{"application/fhir+json", "application/json", "application/x-www-form-urlencoded", "application/octet-stream"} {
			out = append(out,
				probeCase{name: "huge body " + ct, method: rt.method, target: plain, body: big, ctype: ct},
				probeCase{name: "huge chunked body " + ct, method: rt.method, target: plain, body: big, ctype: ct, chunked: true,
					mayPass: ct == "application/octet-stream"})
		}
	}
	return out
}

func multipartForm(form url.Values) ([]byte, string) {
	var buf bytes.Buffer
	boundary := "ward-probe-boundary"
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&buf, "--%s\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", boundary, k, form.Get(k))
	}
	fmt.Fprintf(&buf, "--%s--\r\n", boundary)
	return buf.Bytes(), "multipart/form-data; boundary=" + boundary
}

// getJSON fetches a JSON document the walk reads routes from.
func getJSON(t *testing.T, h http.Handler, path, bearer string, v any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s = %d %s", path, rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
}

// mountedRoutes lists the routes from the documents the server publishes
// about itself, plus what no document lists (Bulk Data's status and file
// endpoints, the pages).
func mountedRoutes(t *testing.T, h http.Handler, bearer string) []route {
	var routes []route
	routes = append(routes, apiRoutes(t, h)...)
	routes = append(routes, fhirRoutes(t, h, bearer)...)
	routes = append(routes, oauthRoutes(t, h)...)
	routes = append(routes,
		route{method: "GET", path: "/login", query: []string{"next", "reauth"}},
		route{method: "POST", path: "/login", form: []string{"email", "password", "next"}},
		route{method: "POST", path: "/logout"},
		route{method: "GET", path: "/"},
		route{method: "POST", path: "/authorizations/withdraw", form: []string{"client_id"}},
		route{method: "POST", path: "/api/ping"},
		route{method: "GET", path: "/healthz"},
		route{method: "GET", path: "/readyz"},
		route{method: "GET", path: "/metrics"},
		route{method: "GET", path: "/static/{file}"},
	)
	return routes
}

// apiRoutes reads the management API's operations from its OpenAPI
// document, with a JSON body per operation that takes one, built from the
// body's schema with every string set to the bad value.
func apiRoutes(t *testing.T, h http.Handler) []route {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct{ Name, In string } `json:"parameters"`
			Body       *struct {
				Content map[string]struct {
					Schema map[string]any `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	getJSON(t, h, "/api/openapi.json", "", &doc)
	var out []route
	for path, ops := range doc.Paths {
		for method, op := range ops {
			rt := route{method: strings.ToUpper(method), path: path}
			for _, p := range op.Parameters {
				if p.In == "query" {
					rt.query = append(rt.query, p.Name)
				}
			}
			if op.Body != nil {
				for _, c := range op.Body.Content {
					b, err := json.Marshal(sample(c.Schema, doc.Components.Schemas, 0))
					if err != nil {
						t.Fatal(err)
					}
					rt.json = append(rt.json, string(b))
				}
			}
			out = append(out, rt)
		}
	}
	return out
}

// sample builds a value for a JSON schema: every string is badMark (but a
// resourceType, which names its resource), numbers 1, one item per array.
func sample(s map[string]any, defs map[string]map[string]any, depth int) any {
	if ref, ok := s["$ref"].(string); ok {
		if depth > 6 {
			return nil
		}
		return sample(defs[strings.TrimPrefix(ref, "#/components/schemas/")], defs, depth+1)
	}
	typ, _ := s["type"].(string)
	if ts, ok := s["type"].([]any); ok && len(ts) > 0 {
		typ, _ = ts[0].(string)
	}
	switch typ {
	case "object":
		out := map[string]any{}
		props, _ := s["properties"].(map[string]any)
		for name, p := range props {
			ps, _ := p.(map[string]any)
			if name == "$schema" {
				continue
			}
			if name == "resourceType" {
				if e, ok := ps["enum"].([]any); ok && len(e) > 0 {
					out[name] = e[0]
					continue
				}
			}
			out[name] = sample(ps, defs, depth+1)
		}
		return out
	case "array":
		items, _ := s["items"].(map[string]any)
		return []any{sample(items, defs, depth+1)}
	case "integer", "number":
		return 1
	case "boolean":
		return true
	case "string":
		return badMark
	}
	return badMark
}

// fhirRoutes reads the FHIR interactions from the CapabilityStatement and
// adds Bulk Data's endpoints.
func fhirRoutes(t *testing.T, h http.Handler, bearer string) []route {
	var cs struct {
		Rest []struct {
			Resource []struct {
				Type        string
				Interaction []struct{ Code string }
				SearchParam []struct{ Name string }
			}
		}
	}
	getJSON(t, h, "/fhir/metadata", bearer, &cs)
	if len(cs.Rest) != 1 {
		t.Fatalf("CapabilityStatement has %d rest entries", len(cs.Rest))
	}
	out := []route{{method: "GET", path: "/fhir/metadata", query: []string{"_format", "mode"}}}
	for _, res := range cs.Rest[0].Resource {
		base := "/fhir/" + res.Type
		params := []string{"_id", "_count", "_sort", "_lastUpdated", "_include", "_revinclude", "_elements", "_summary", "_total", "_format"}
		for _, sp := range res.SearchParam {
			params = append(params, sp.Name, sp.Name+":exact", sp.Name+":missing")
		}
		bodies := fhirBodies(res.Type)
		for _, in := range res.Interaction {
			switch in.Code {
			case "read":
				out = append(out, route{method: "GET", path: base + "/{id}", query: []string{"_format", "_elements"}})
			case "search-type":
				out = append(out,
					route{method: "GET", path: base, query: params},
					route{method: "POST", path: base + "/_search", form: params})
			case "create":
				out = append(out, route{method: "POST", path: base, json: bodies})
			case "update":
				out = append(out, route{method: "PUT", path: base + "/{id}", json: bodies})
			}
		}
	}
	exportQuery := []string{"_type", "_since", "_until", "_outputFormat", "_typeFilter", "_elements", "patient", "includeAssociatedData"}
	parameters := []string{
		`{"resourceType":"Parameters","parameter":[{"name":"_type","valueString":"` + badMark + `"}]}`,
		`{"resourceType":"Parameters","parameter":[{"name":"patient","valueReference":{"reference":"Patient/` + badMark + `"}}]}`,
		`{"resourceType":"Parameters","parameter":[{"name":"` + badMark + `","valueString":"x"}]}`,
	}
	for _, p := range []string{"/fhir/$export", "/fhir/Patient/$export", "/fhir/Group/{id}/$export"} {
		out = append(out,
			route{method: "GET", path: p, query: exportQuery},
			route{method: "POST", path: p, json: parameters})
	}
	// Patient/$match: the bad value in the Patient it carries, and as a
	// parameter name.
	var match []string
	for _, b := range fhirBodies("Patient") {
		match = append(match, `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":`+b+`}]}`)
	}
	match = append(match, parameters[2])
	out = append(out, route{method: "POST", path: "/fhir/Patient/$match", json: match})
	out = append(out,
		route{method: "GET", path: "/fhir/$bulkdata-status/{id}"},
		route{method: "DELETE", path: "/fhir/$bulkdata-status/{id}"},
		route{method: "GET", path: "/fhir/$bulkdata-file/{id}/{name}"},
		route{method: "GET", path: "/fhir/.well-known/smart-configuration"},
	)
	return out
}

// fhirBodies are resources of type typ with the bad value in one kind of
// element each: the id, an identifier, a name, a reference, a code.
func fhirBodies(typ string) []string {
	rt := `{"resourceType":"` + typ + `",`
	return []string{
		rt + `"id":"` + badMark + `"}`,
		rt + `"identifier":[{"system":"urn:ward:test","value":"` + badMark + `"}]}`,
		rt + `"name":[{"family":"` + badMark + `","given":["` + badMark + `"]}]}`,
		rt + `"name":"` + badMark + `"}`,
		rt + `"status":"final","code":{"text":"` + badMark + `"},"subject":{"reference":"Patient/` + badMark + `"}}`,
		rt + `"meta":{"tag":[{"system":"` + badMark + `","code":"` + badMark + `"}]}}`,
		rt + `"telecom":[{"system":"email","value":"` + badMark + `"}]}`,
		rt + `"` + badMark + `":"x"}`,
	}
}

// oauthRoutes takes the OAuth endpoints from discovery.
func oauthRoutes(t *testing.T, h http.Handler) []route {
	var d map[string]any
	getJSON(t, h, oauth.PathOIDCConfig, "", &d)
	pathOf := func(key string) string {
		s, _ := d[key].(string)
		u, err := url.Parse(s)
		if err != nil || u.Path == "" {
			t.Fatalf("discovery %s = %q", key, s)
		}
		return u.Path
	}
	authz := []string{"response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
		"code_challenge_method", "aud", "launch", "prompt", "max_age", "id_token_hint", "login_hint"}
	token := []string{"grant_type", "client_id", "client_secret", "code", "redirect_uri", "code_verifier",
		"refresh_token", "scope", "client_assertion", "client_assertion_type"}
	tok := []string{"token", "token_type_hint", "client_id", "client_secret"}
	end := []string{"id_token_hint", "post_logout_redirect_uri", "state", "client_id"}
	out := []route{
		{method: "GET", path: pathOf("authorization_endpoint"), query: authz},
		{method: "POST", path: pathOf("authorization_endpoint"), form: append(slices.Clone(authz), "decision", "patient")},
		{method: "POST", path: pathOf("token_endpoint"), form: token},
		{method: "POST", path: pathOf("introspection_endpoint"), form: tok},
		{method: "POST", path: pathOf("revocation_endpoint"), form: tok},
		{method: "GET", path: pathOf("userinfo_endpoint")},
		{method: "POST", path: pathOf("userinfo_endpoint"), form: []string{"access_token"}},
		{method: "GET", path: pathOf("end_session_endpoint"), query: end},
		{method: "POST", path: pathOf("end_session_endpoint"), form: end},
		{method: "GET", path: pathOf("jwks_uri")},
		{method: "GET", path: oauth.PathTokenStatus, query: []string{"access_token", "token"}},
		{method: "GET", path: oauth.PathOIDCConfig},
		{method: "GET", path: oauth.PathSMARTConfig},
	}
	return out
}

// TestGoodTextPasses: the check refuses only what no database can store.
// Other Unicode, an escaped backslash before "u0000" in JSON, binary
// document content and other sites' cookies pass as before.
func TestGoodTextPasses(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		srv := newServer(t, dbURL, nil)
		h := srv.Handler()
		cookie, bearer := adminCredentials(t, srv.Services(), h)
		sys := actor.System(context.Background())
		pat, err := srv.Services().Directory.CreateUser(sys, directory.NewUser{User: directory.User{Email: "pat@example.org"}, Roles: []string{"patient"}})
		if err != nil {
			t.Fatal(err)
		}
		send := func(method, target, ctype string, body []byte, hdr ...string) *httptest.ResponseRecorder {
			t.Helper()
			req := httptest.NewRequest(method, target, bytes.NewReader(body))
			if ctype != "" {
				req.Header.Set("Content-Type", ctype)
			}
			for i := 0; i+1 < len(hdr); i += 2 {
				req.Header.Add(hdr[i], hdr[i+1])
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec
		}
		session := httpauth.CookieName + "=" + cookie

		name := `Zo\u00eb \\u0000 日本 🏥`
		rec := send("POST", "/api/organization", "application/fhir+json",
			[]byte(`{"resourceType":"Organization","name":"`+name+`"}`), "Cookie", session)
		var org struct{ Name string }
		if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &org) != nil || org.Name != "Zoë \\u0000 日本 🏥" {
			t.Errorf("organization with Unicode and an escaped backslash: %d %s", rec.Code, rec.Body)
		}

		pdf := []byte("%PDF-1.4\x00\xff\xfe binary \x00 content")
		rec = send("POST", "/fhir/Binary", "application/pdf", pdf,
			"Authorization", "Bearer "+bearer, "X-Security-Context", fmt.Sprintf("Patient/%d", pat.ID))
		if rec.Code != http.StatusCreated {
			t.Errorf("binary document upload: %d %s", rec.Code, rec.Body)
		}

		if rec := send("GET", "/healthz", "", nil, "Cookie", "legacy=caf\xe9; other=\x80"); rec.Code != http.StatusOK {
			t.Errorf("another site's cookie with Latin-1 bytes: %d %s", rec.Code, rec.Body)
		}
		rec = send("POST", "/login", "application/x-www-form-urlencoded", []byte("email=zo%C3%AB%40example.org&password=wrong"))
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("sign-in with a Unicode address: %d, want 401", rec.Code)
		}
	})
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestUploadsAreNotReadBeforeAccess: the text check does not read a raw
// document upload (up to the document limit, far above other bodies)
// ahead of the handler, which decides on access first: an anonymous upload
// is refused without ward buffering it. A JSON body that large, inline
// document content or a FHIR JSON Binary, is over the general limit and
// refused from its declared length, unread, too.
func TestUploadsAreNotReadBeforeAccess(t *testing.T) {
	srv := newServer(t, testutil.SQLiteURL(t), nil)
	raw := bytes.Repeat([]byte("%PDF\x00\xff"), 1<<20)
	doc := []byte(`{"resourceType":"DocumentReference","status":"current","content":[{"attachment":{"contentType":"text/plain","data":"` +
		strings.Repeat("QUJD", 2<<20) + `"}}]}`)
	for _, tt := range []struct {
		method, path, ctype string
		body                []byte
		want                int
	}{
		{"POST", "/fhir/Binary", "application/pdf", raw, http.StatusUnauthorized},
		{"POST", "/fhir/DocumentReference", "application/fhir+json", doc, http.StatusRequestEntityTooLarge},
		{"PUT", "/fhir/DocumentReference/1", "application/fhir+json", doc, http.StatusRequestEntityTooLarge},
		{"POST", "/fhir/Binary", "application/fhir+json", doc, http.StatusRequestEntityTooLarge},
	} {
		cr := &countingReader{r: bytes.NewReader(tt.body)}
		req := httptest.NewRequest(tt.method, tt.path, cr)
		req.ContentLength = int64(len(tt.body))
		req.Header.Set("Content-Type", tt.ctype)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("anonymous %s %s (%s): %d, want %d", tt.method, tt.path, tt.ctype, rec.Code, tt.want)
		}
		if cr.n > 64<<10 {
			t.Errorf("anonymous %s %s (%s): %d bytes of the body were read before refusing", tt.method, tt.path, tt.ctype, cr.n)
		}
	}
}
