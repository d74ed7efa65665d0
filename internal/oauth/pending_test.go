package oauth_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"ward/internal/actor"
	"ward/internal/client"
	"ward/internal/testutil"
)

// TestPendingClientServesItsOwnerOnly is the approval gate at the
// authorization server (issue 9): an application developer's client, until
// an administrator approves it, gets tokens for its owner's own sign-in
// only; nobody else is asked to consent, the client_credentials grant is
// refused, and when the developer widens an approved client its tokens for
// other people stop working at once.
func TestPendingClientServesItsOwnerOnly(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		dev := e.user("dev@example.org", patientPassword, "application_developer")
		pat := e.user("pat@example.org", patientPassword, "patient")
		admin := e.user("admin@example.org", patientPassword, "admin")
		asDev := actor.With(ctx, actor.Actor{UserID: dev.ID})
		asAdmin := actor.With(ctx, actor.Actor{UserID: admin.ID})

		c, _, err := e.svc.Clients.Create(asDev, client.Settings{Name: "Dev App", Public: true,
			GrantTypes:   []string{client.GrantAuthorizationCode, client.GrantRefreshToken},
			RedirectURIs: []string{appRedirect}, Scope: "openid offline_access user/*.rs"})
		if err != nil || c.Status != client.StatusPending {
			t.Fatalf("developer's client: %v %+v", err, c)
		}
		p, err := oidc.NewProvider(ctx, e.issuer)
		if err != nil {
			t.Fatal(err)
		}
		ep := p.Endpoint()
		ep.AuthStyle = oauth2.AuthStyleInParams
		a := &app{e: e, id: c.ID, provider: p, conf: &oauth2.Config{ClientID: c.ID, Endpoint: ep,
			RedirectURL: appRedirect, Scopes: []string{"openid", "offline_access", "user/*.rs"}}}

		// Someone else: refused with access_denied at the app's redirect
		// URI, without a consent page.
		verifier, _ := pkce("p")
		pg := a.authorize(e.browser(), pat.Email, patientPassword, "state-pat", verifier, "nonce-pat")
		if pg.location == nil || pg.location.Query().Get("error") != "access_denied" ||
			!strings.Contains(pg.location.Query().Get("error_description"), "approval") {
			t.Fatalf("a patient authorized a pending client: %d %v\n%.300s", pg.status, pg.location, pg.body)
		}
		if !e.hasAudit("authorization request refused", "access_denied", c.ID) {
			t.Error("the refusal is not audited")
		}

		// The owner tests their app with their own sign-in.
		verifier, _ = pkce("d")
		code := codeFrom(t, a.authorize(e.browser(), dev.Email, patientPassword, "state-dev", verifier, "nonce-dev"), "state-dev")
		devTok, err := a.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("the owner's exchange: %v", err)
		}
		if st, _, _ := e.bearerGet("/oauth/userinfo", devTok.AccessToken); st != http.StatusOK {
			t.Fatalf("the owner's token answers %d", st)
		}

		// Approved, it serves everyone.
		if _, err := e.svc.Clients.Approve(asAdmin, c.ID); err != nil {
			t.Fatal(err)
		}
		verifier, _ = pkce("q")
		code = codeFrom(t, a.authorize(e.browser(), pat.Email, patientPassword, "state-pat2", verifier, "nonce-pat2"), "state-pat2")
		patTok, err := a.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("the patient's exchange after approval: %v", err)
		}
		if st, _, _ := e.bearerGet("/oauth/userinfo", patTok.AccessToken); st != http.StatusOK {
			t.Fatalf("the patient's token answers %d", st)
		}

		// The developer points it somewhere new: pending again, and the
		// patient's tokens stop at once; the owner's keep working.
		got, _, err := e.svc.Clients.Update(asDev, c.ID, func(s *client.Settings) error {
			s.RedirectURIs = append(s.RedirectURIs, "https://elsewhere.example/cb")
			return nil
		})
		if err != nil || got.Status != client.StatusPending {
			t.Fatalf("widening update: %v %+v", err, got)
		}
		if st, _, _ := e.bearerGet("/oauth/userinfo", patTok.AccessToken); st != http.StatusUnauthorized {
			t.Fatalf("the patient's token of a pending client answers %d", st)
		}
		if st, _, _ := e.bearerGet("/oauth/userinfo", devTok.AccessToken); st != http.StatusOK {
			t.Fatalf("the owner's token of a pending client answers %d", st)
		}
		// The token tools say the same as the resource server.
		for tok, want := range map[string]bool{patTok.AccessToken: false, devTok.AccessToken: true} {
			in, err := e.svc.OAuth.InspectToken(asAdmin, tok)
			if err != nil || in.Active != want {
				t.Fatalf("inspect a token of the pending client: %+v %v, want active %v", in, err, want)
			}
		}
		st, _, out := e.postForm("/oauth/token", url.Values{"grant_type": {"refresh_token"},
			"refresh_token": {patTok.RefreshToken}, "client_id": {c.ID}}, "", "")
		if st != http.StatusBadRequest && st != http.StatusUnauthorized || out["error"] != "unauthorized_client" {
			t.Fatalf("the patient refreshed on a pending client: %d %v", st, out)
		}
		st, _, out = e.postForm("/oauth/token", url.Values{"grant_type": {"refresh_token"},
			"refresh_token": {devTok.RefreshToken}, "client_id": {c.ID}}, "", "")
		if st != http.StatusOK {
			t.Fatalf("the owner's refresh on a pending client: %d %v", st, out)
		}

		// A client_credentials client an administrator gave the developer,
		// sent back to pending by the developer, acts for nobody no more.
		cc, secret, err := e.svc.Clients.Create(asAdmin, client.Settings{Name: "Backend",
			GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/Patient.rs", OwnerID: dev.ID})
		if err != nil || cc.Status != client.StatusActive {
			t.Fatalf("admin's backend client: %v %+v", err, cc)
		}
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"system/Patient.rs"}}
		if st, _, out := e.postForm("/oauth/token", form, cc.ID, secret); st != http.StatusOK {
			t.Fatalf("active backend client: %d %v", st, out)
		}
		if _, _, err := e.svc.Clients.Update(asDev, cc.ID, func(s *client.Settings) error {
			s.Scope += " patient/Patient.rs"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		st, _, out = e.postForm("/oauth/token", form, cc.ID, secret)
		if st < 400 || out["error"] != "unauthorized_client" {
			t.Fatalf("client_credentials on a pending client: %d %v", st, out)
		}
	})
}
