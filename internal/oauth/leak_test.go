package oauth_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"ward/internal/client"
	"ward/internal/testutil"
)

// TestNoCredentialInTheDatabase runs the flows, then reads the SQLite
// files byte by byte: no access token, refresh token, authorization code
// or client secret ward handed out may be found there, whole or by its
// secret half (what is stored is only an HMAC of it).
func TestNoCredentialInTheDatabase(t *testing.T) {
	dbURL := testutil.SQLiteURL(t)
	e := newEnv(t, dbURL)
	ctx := context.Background()
	pat := e.user("pat@example.org", patientPassword, "patient")
	a := newApp(t, e, "openid fhirUser offline_access launch/patient patient/*.rs")
	b := e.browser()
	verifier, _ := pkce("l")
	p := a.authorize(b, pat.Email, patientPassword, "state-leak-1", verifier, "nonce-leak-1")
	code := codeFrom(t, p, "state-leak-1")
	tok, err := a.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := a.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	id, secret := e.client(client.Settings{Name: "svc", GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/*.rs"})
	_, _, cc := e.postForm("/oauth/token", map[string][]string{"grant_type": {"client_credentials"}, "scope": {"system/Patient.rs"}}, id, secret)
	ccTok, _ := cc["access_token"].(string)
	if ccTok == "" {
		t.Fatalf("client credentials: %v", cc)
	}

	secrets := map[string]string{"client secret": secret}
	for name, v := range map[string]string{"code": code, "access token": tok.AccessToken, "refresh token": tok.RefreshToken,
		"refreshed access token": fresh.AccessToken, "rotated refresh token": fresh.RefreshToken, "cc token": ccTok} {
		secrets[name] = v
		// ward_xx_<handle><key>.<signature>: the key is the secret half
		// (the handle, 32 hex digits, is stored as part of the row's key).
		if i := strings.IndexByte(v, '.'); i > len("ward_xx_")+32 {
			secrets[name+" (key)"] = v[len("ward_xx_")+32 : i]
		}
	}
	path := strings.TrimPrefix(dbURL, "sqlite://")
	var raw []byte
	for _, f := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		raw = append(raw, data...)
	}
	if len(raw) < 4096 {
		t.Fatalf("read only %d bytes of %s", len(raw), filepath.Base(path))
	}
	// The scan sees what is stored: the HMAC half of a token is there.
	if sig := ccTok[len("ward_at_"):len("ward_at_")+32] + "." + ccTok[strings.IndexByte(ccTok, '.')+1:]; !bytes.Contains(raw, []byte(sig)) {
		t.Fatal("the stored signature of the client-credentials token is not in the files read; the scan proves nothing")
	}
	for name, v := range secrets {
		if len(v) < 16 {
			t.Fatalf("%s is suspiciously short: %q", name, v)
		}
		if bytes.Contains(raw, []byte(v)) {
			t.Errorf("the %s is stored in clear", name)
		}
	}
}
