package oauth_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"ward/internal/testutil"
)

// TestAuthorizationResponseIss is an issue 10 info finding: authorization
// responses carried no iss (RFC 9207), so a client talking to several
// servers could not tell which one answered (mix-up attacks). Every
// redirect back to the client, success or error, now carries ward's
// issuer as discovery names it, and both discovery documents say so.
func TestAuthorizationResponseIss(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		pat := e.user("pat@example.org", patientPassword, "patient")
		a := newApp(t, e, "openid fhirUser launch/patient patient/*.rs")
		var disc struct {
			Issuer string `json:"issuer"`
		}
		if err := a.provider.Claims(&disc); err != nil || disc.Issuer != e.issuer {
			t.Fatalf("discovery issuer %q (%v), want %q", disc.Issuer, err, e.issuer)
		}
		for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/smart-configuration", "/fhir/.well-known/smart-configuration"} {
			st, _, doc := e.bearerGet(path, "")
			if st != http.StatusOK || doc["authorization_response_iss_parameter_supported"] != true {
				t.Errorf("%s: %d, authorization_response_iss_parameter_supported = %v, want true", path, st, doc["authorization_response_iss_parameter_supported"])
			}
		}
		redirected := func(name string, p page, state, wantError string) {
			t.Helper()
			if p.location == nil || !strings.HasPrefix(p.location.String(), appRedirect) {
				t.Fatalf("%s: expected a redirect to the app, got %d at %s", name, p.status, p.url)
			}
			q := p.location.Query()
			if q.Get("iss") != disc.Issuer || len(q["iss"]) != 1 {
				t.Errorf("%s: iss = %q, want %q", name, q["iss"], disc.Issuer)
			}
			if q.Get("state") != state || q.Get("error") != wantError {
				t.Errorf("%s: state %q error %q, want %q and %q", name, q.Get("state"), q.Get("error"), state, wantError)
			}
		}

		// Success: the code comes with iss, and the real client library
		// redeems it.
		b := e.browser()
		verifier, _ := pkce("s")
		p := a.authorize(b, pat.Email, patientPassword, "state-iss-1", verifier, "nonce-iss-1")
		redirected("success", p, "state-iss-1", "")
		if _, err := a.conf.Exchange(ctx, p.location.Query().Get("code"), oauth2.VerifierOption(verifier)); err != nil {
			t.Errorf("exchange: %v", err)
		}

		// Errors found before anyone signs in, after sign-in, and by the
		// person's refusal.
		verifier, _ = pkce("e")
		p = b.get(a.conf.AuthCodeURL("state-iss-2", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("scope", "system/Nonsense.rs")))
		redirected("invalid scope", p, "state-iss-2", "invalid_scope")

		p = e.browser().get(a.conf.AuthCodeURL("state-iss-3", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "none")))
		redirected("prompt=none, nobody signed in", p, "state-iss-3", "login_required")

		other := e.browser()
		pat2 := e.user("pat2@example.org", patientPassword, "patient")
		p = other.get(a.conf.AuthCodeURL("state-iss-4", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("scope", "openid patient/*.rs")))
		p = other.signIn(p, pat2.Email, patientPassword)
		p = other.consent(p, "deny", nil)
		redirected("refused consent", p, "state-iss-4", "access_denied")
	})
}
