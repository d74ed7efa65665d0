package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"ward/internal/testutil"
)

// TestAuthorizationServerScenario is the authorization-server issue's
// "done means", on the real binary: a new user registers a client with the
// CLI and completes the authorization-code + PKCE flow from golang.org/x/oauth2
// and go-oidc (which verifies the ID token), refreshes and revokes; a
// backend-services client gets a system/ token with a signed assertion; an
// admin finds that token with `ward token inspect` and revokes it with
// `ward token revoke`, and the next request with it is refused.
func TestAuthorizationServerScenario(t *testing.T) {
	for _, backend := range testutil.Backends() {
		t.Run(backend, func(t *testing.T) {
			dbURL := testutil.URLFor(t, backend)
			runOAuthScenario(t, t.TempDir(), dbURL)
		})
	}
}

const redirectURI = "http://127.0.0.1:9/callback"

func wardJSON(t *testing.T, dataDir, dbURL string, out any, args ...string) {
	t.Helper()
	got, code := ward(t, dataDir, dbURL, args...)
	if code != 0 {
		t.Fatalf("ward %s: exit %d: %s", strings.Join(args, " "), code, got)
	}
	if err := json.Unmarshal([]byte(got), out); err != nil {
		t.Fatalf("ward %s: not JSON: %q", strings.Join(args, " "), got)
	}
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

func hiddenFields(body string) url.Values {
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(body, -1) {
		v.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

func runOAuthScenario(t *testing.T, dataDir, dbURL string) {
	ctx := context.Background()
	if out, code := ward(t, dataDir, dbURL, "add-user", "--email", "pat@example.org",
		"--password", "sea otter lantern 1", "--role", "patient"); code != 0 {
		t.Fatalf("add patient: %d %s", code, out)
	}
	var app struct {
		ClientID string `json:"client_id"`
	}
	wardJSON(t, dataDir, dbURL, &app, "client", "create", "--name", "Patient App", "--public",
		"--grant", "authorization_code", "--grant", "refresh_token",
		"--scope", "openid fhirUser offline_access launch/patient patient/*.rs",
		"--redirect-uri", redirectURI, "--json")

	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "backend-1", Algorithm: "ES384", Use: "sig"}}})
	jwksFile := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwksFile, jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	var backend struct {
		ClientID string `json:"client_id"`
	}
	wardJSON(t, dataDir, dbURL, &backend, "client", "create", "--name", "Bulk exporter",
		"--grant", "client_credentials", "--scope", "system/*.rs system/*.$export", "--jwks", jwksFile, "--json")

	base := serve(t, dataDir, dbURL)

	// The app, as golang.org/x/oauth2 and go-oidc see it.
	provider, err := oidc.NewProvider(ctx, base)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	ep := provider.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInParams
	conf := &oauth2.Config{ClientID: app.ClientID, Endpoint: ep, RedirectURL: redirectURI,
		Scopes: []string{"openid", "fhirUser", "offline_access", "launch/patient", "patient/*.rs"}}
	verifier := oauth2.GenerateVerifier()

	authURL := conf.AuthCodeURL("e2e-state-1", oauth2.S256ChallengeOption(verifier),
		oidc.Nonce("e2e-nonce-1"), oauth2.SetAuthURLParam("aud", base+"/fhir"))
	loc := signInAndAllow(t, base, authURL, "pat@example.org", "sea otter lantern 1")
	if loc.Query().Get("state") != "e2e-state-1" {
		t.Fatalf("consent redirected with state %q", loc.Query().Get("state"))
	}

	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: app.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatalf("go-oidc rejects the ID token: %v", err)
	}
	if idt.Nonce != "e2e-nonce-1" || idt.VerifyAccessToken(tok.AccessToken) != nil {
		t.Fatalf("ID token nonce %q or at_hash wrong", idt.Nonce)
	}
	fresh, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil || fresh.AccessToken == tok.AccessToken {
		t.Fatalf("refresh: %v", err)
	}
	if st := bearerStatus(t, base+"/oauth/userinfo", fresh.AccessToken); st != http.StatusOK {
		t.Fatalf("userinfo with the refreshed token: %d", st)
	}
	res, _ := read(t)(http.PostForm(base+"/oauth/revoke", url.Values{"token": {fresh.AccessToken}, "client_id": {app.ClientID}}))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d", res.StatusCode)
	}
	if st := bearerStatus(t, base+"/oauth/userinfo", fresh.AccessToken); st != http.StatusUnauthorized {
		t.Fatalf("userinfo after revocation: %d, want 401", st)
	}

	// The backend service, with a signed assertion (SMART Backend Services).
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES384, Key: jose.JSONWebKey{Key: key, KeyID: "backend-1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	assertion, err := jwt.Signed(sg).Claims(map[string]any{"iss": backend.ClientID, "sub": backend.ClientID,
		"aud": base + "/oauth/token", "exp": time.Now().Add(4 * time.Minute).Unix(), "jti": fmt.Sprint(time.Now().UnixNano())}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	res, body := read(t)(http.PostForm(base+"/oauth/token", url.Values{"grant_type": {"client_credentials"},
		"scope": {"system/Patient.rs"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion": {assertion}}))
	var sys struct {
		AccessToken string `json:"access_token"`
		Scope       string `json:"scope"`
	}
	if err := json.Unmarshal([]byte(body), &sys); err != nil || res.StatusCode != http.StatusOK || sys.Scope != "system/Patient.rs" {
		t.Fatalf("backend token: %d %s", res.StatusCode, body)
	}
	if st := bearerStatus(t, base+"/oauth/token-status", sys.AccessToken); st != http.StatusOK {
		t.Fatalf("token-status with the system token: %d", st)
	}

	// The admin's token tools.
	var info struct {
		ClientID string   `json:"client_id"`
		Scopes   []string `json:"scopes"`
		Active   bool     `json:"active"`
	}
	wardJSON(t, dataDir, dbURL, &info, "token", "inspect", sys.AccessToken, "--json")
	if info.ClientID != backend.ClientID || !info.Active || strings.Join(info.Scopes, " ") != "system/Patient.rs" {
		t.Fatalf("ward token inspect: %+v", info)
	}
	if out, code := ward(t, dataDir, dbURL, "token", "revoke", sys.AccessToken); code != 0 {
		t.Fatalf("ward token revoke: %d %s", code, out)
	}
	if st := bearerStatus(t, base+"/oauth/token-status", sys.AccessToken); st != http.StatusUnauthorized {
		t.Fatalf("the revoked system token still works: %d", st)
	}
	wardJSON(t, dataDir, dbURL, &info, "token", "inspect", sys.AccessToken, "--json")
	if info.Active {
		t.Fatal("ward token inspect still calls the revoked token active")
	}
	if out, code := ward(t, dataDir, dbURL, "audit", "verify"); code != 0 {
		t.Fatalf("audit verify after the scenario: %d %s", code, out)
	}
}

// signInAndAllow is the person's browser: it follows authURL to ward's
// sign-in page, signs in, allows on the consent page, and returns the
// redirect to the app (which carries the code).
func signInAndAllow(t *testing.T, base, authURL, email, password string) *url.URL {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if !strings.HasPrefix(req.URL.String(), base) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	post := func(path string, form url.Values) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", base)
		return read(t)(browser.Do(req))
	}
	_, body := read(t)(browser.Get(authURL))
	if !strings.Contains(body, `name="password"`) {
		t.Fatalf("authorize did not lead to the sign-in page:\n%.500s", body)
	}
	f := hiddenFields(body)
	f.Set("email", email)
	f.Set("password", password)
	_, body = post("/login", f)
	if !strings.Contains(body, `name="decision"`) {
		t.Fatalf("sign-in did not lead to the consent page:\n%.500s", body)
	}
	f = hiddenFields(body)
	f.Set("decision", "allow")
	res, _ := post("/oauth/authorize", f)
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), redirectURI) || loc.Query().Get("code") == "" {
		t.Fatalf("consent did not redirect to the app with a code: %d %v", res.StatusCode, loc)
	}
	return loc
}

// read returns a function that reads a whole response.
func read(t *testing.T) func(*http.Response, error) (*http.Response, string) {
	return func(res *http.Response, err error) (*http.Response, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
}

func bearerStatus(t *testing.T, u, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
