package mistest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"ward/internal/connector/mistest"
)

const redirect = "https://ward.test/admin/connectors/campdoc/callback"

func config(s *mistest.Server) *oauth2.Config {
	return &oauth2.Config{ClientID: s.ClientID(), ClientSecret: s.ClientSecret(), RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: s.AuthorizeURL(), TokenURL: s.TokenURL(), AuthStyle: oauth2.AuthStyleInHeader}}
}

func ctxFor(s *mistest.Server) context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, s.Client())
}

func code(t *testing.T, s *mistest.Server, opts ...oauth2.AuthCodeOption) string {
	t.Helper()
	loc, err := s.Login(config(s).AuthCodeURL("st", opts...))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc.String(), redirect+"?") || loc.Query().Get("state") != "st" || loc.Query().Get("code") == "" {
		t.Fatalf("redirected to %s", loc)
	}
	return loc.Query().Get("code")
}

func wantGrantError(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), code) {
		t.Fatalf("err = %v; want %s", err, code)
	}
}

// TestPKCEAndOneUseCodes: the verifier must match the challenge, and a
// code is good once.
func TestPKCEAndOneUseCodes(t *testing.T) {
	s := mistest.New(t, mistest.Options{RedirectURI: redirect})
	cfg, ctx := config(s), ctxFor(s)
	v := oauth2.GenerateVerifier()
	c := code(t, s, oauth2.S256ChallengeOption(v))
	_, err := cfg.Exchange(ctx, c, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	wantGrantError(t, err, "invalid_grant")
	_, err = cfg.Exchange(ctx, c, oauth2.VerifierOption(v)) // spent by the failed try
	wantGrantError(t, err, "invalid_grant")

	c = code(t, s, oauth2.S256ChallengeOption(v))
	tok, err := cfg.Exchange(ctx, c, oauth2.VerifierOption(v))
	if err != nil || tok.AccessToken == "" || tok.RefreshToken == "" || tok.Expiry.IsZero() {
		t.Fatalf("Exchange = %+v, %v", tok, err)
	}
	_, err = cfg.Exchange(ctx, c, oauth2.VerifierOption(v))
	wantGrantError(t, err, "invalid_grant")

	bad := *cfg
	bad.ClientSecret = "wrong"
	_, err = bad.Exchange(ctx, code(t, s))
	wantGrantError(t, err, "invalid_client")
}

// TestRefreshRotates: each refresh token is good once; a spent one is
// refused and counted; a revoked grant refuses everything.
func TestRefreshRotates(t *testing.T) {
	s := mistest.New(t, mistest.Options{})
	cfg, ctx := config(s), ctxFor(s)
	tok, err := cfg.Exchange(ctx, code(t, s))
	if err != nil {
		t.Fatal(err)
	}
	refresh := func(rt string) (*oauth2.Token, error) {
		return cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Unix(1, 0)}).Token()
	}
	s.Inject(mistest.Fault{Token: true, Status: http.StatusServiceUnavailable})
	if _, err := refresh(tok.RefreshToken); err == nil || !strings.Contains(err.Error(), "injected_fault") {
		t.Fatalf("injected token-endpoint fault: %v", err)
	}
	t2, err := refresh(tok.RefreshToken) // the fault did not spend it
	if err != nil || t2.RefreshToken == tok.RefreshToken || t2.AccessToken == tok.AccessToken {
		t.Fatalf("refresh = %+v, %v; want new tokens", t2, err)
	}
	_, err = refresh(tok.RefreshToken)
	wantGrantError(t, err, "invalid_grant")
	if s.RefreshReuses() != 1 {
		t.Fatalf("RefreshReuses = %d", s.RefreshReuses())
	}
	if st := apiStatus(t, s, t2.AccessToken); st != http.StatusOK {
		t.Fatalf("fresh token: %d", st)
	}
	s.RevokeGrants()
	if st := apiStatus(t, s, t2.AccessToken); st != http.StatusUnauthorized {
		t.Fatalf("revoked grant's token: %d", st)
	}
	_, err = refresh(t2.RefreshToken)
	wantGrantError(t, err, "invalid_grant")
	for _, v := range []string{s.ClientSecret(), tok.AccessToken, tok.RefreshToken, t2.AccessToken, t2.RefreshToken} {
		if !contains(s.Issued(), v) {
			t.Errorf("Issued lacks %q", v)
		}
	}
}

func contains(ss []string, v string) bool {
	for _, s := range ss {
		if s == v {
			return true
		}
	}
	return false
}

func apiStatus(t *testing.T, s *mistest.Server, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.BaseURL()+"/groups", nil)
	req.Header.Set("Authorization", "bearer "+token)
	res, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestAccessTokensExpire on the server's clock.
func TestAccessTokensExpire(t *testing.T) {
	s := mistest.New(t, mistest.Options{AccessTTL: time.Minute})
	tok, err := config(s).Exchange(ctxFor(s), code(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if st := apiStatus(t, s, tok.AccessToken); st != http.StatusOK {
		t.Fatal(st)
	}
	s.Advance(2 * time.Minute)
	if st := apiStatus(t, s, tok.AccessToken); st != http.StatusUnauthorized {
		t.Fatalf("expired token: %d", st)
	}
}

// TestLoginRefusals: wrong password re-renders the form; deny redirects
// with access_denied; a foreign redirect URI is refused on the page.
func TestLoginRefusals(t *testing.T) {
	s := mistest.New(t, mistest.Options{RedirectURI: redirect})
	hc := s.Client()
	form := url.Values{"client_id": {s.ClientID()}, "response_type": {"code"}, "redirect_uri": {redirect},
		"state": {"st"}, "email": {mistest.DefaultUsername}, "password": {"nope"}}
	res, err := hc.PostForm(s.AuthorizeURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	form.Set("decision", "deny")
	res, err = hc.PostForm(s.AuthorizeURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := res.Location()
	if res.StatusCode != http.StatusFound || loc.Query().Get("error") != "access_denied" {
		t.Fatalf("deny: %d %v", res.StatusCode, loc)
	}
	res, err = hc.Get(s.AuthorizeURL() + "?client_id=" + s.ClientID() + "&response_type=code&redirect_uri=https://evil.test/cb")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("foreign redirect URI: %d", res.StatusCode)
	}
}

// TestTokenResponseShape: CampDoc's token answer (scope as an array).
func TestTokenResponseShape(t *testing.T) {
	s := mistest.New(t, mistest.Options{})
	c := code(t, s, oauth2.SetAuthURLParam("scope", "groups:read profiles:write"))
	req, _ := http.NewRequest(http.MethodPost, s.TokenURL(), strings.NewReader(url.Values{
		"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {redirect}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.ClientID(), s.ClientSecret())
	res, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		AccessToken, RefreshToken, TokenType string   `json:"-"`
		ExpiresIn                            int      `json:"expires_in"`
		Scope                                []string `json:"scope"`
		Type                                 string   `json:"token_type"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("%d %v", res.StatusCode, err)
	}
	if body.Type != "bearer" || body.ExpiresIn != int(mistest.DefaultAccessTTL/time.Second) ||
		strings.Join(body.Scope, " ") != "groups:read profiles:write" {
		t.Fatalf("token response %+v", body)
	}
}
