package oauth_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/client"
	"ward/internal/directory"
	"ward/internal/oauth"
	"ward/internal/oauth/tokens"
	"ward/internal/store"
	"ward/internal/testutil"
)

// actingAs is ctx for a signed-in person (0: anonymous).
func actingAs(id int64) context.Context {
	if id == 0 {
		return context.Background()
	}
	return actor.With(context.Background(), actor.Actor{UserID: id})
}

// wantToolErr fails unless err carries kind k.
func wantToolErr(t *testing.T, err error, k apperr.Kind, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %v", what, k)
	}
	if got := apperr.KindOf(err); got != k {
		t.Fatalf("%s: %v (%v), want %v", what, got, err, k)
	}
}

// toolGrant runs the authorization code flow for email on a and returns
// the tokens; seed keeps state, nonce and verifier distinct per grant.
func toolGrant(t *testing.T, e *env, a *app, email, seed string) *oauth2.Token {
	t.Helper()
	v, _ := pkce(seed)
	state := "state-tools-" + seed
	code := codeFrom(t, a.authorize(e.browser(), email, patientPassword, state, v, "nonce-tools-"+seed), state)
	tok, err := a.conf.Exchange(context.Background(), code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	return tok
}

// consentAsked reports whether signing in to a shows the consent page.
func consentAsked(t *testing.T, e *env, a *app, email, seed string) bool {
	t.Helper()
	b := e.browser()
	_, challenge := pkce(seed)
	pg := b.get(a.conf.AuthCodeURL("state-tools-"+seed, oauth2.SetAuthURLParam("code_challenge", challenge),
		oauth2.SetAuthURLParam("code_challenge_method", "S256")))
	pg = b.signIn(pg, email, patientPassword)
	return strings.Contains(pg.body, `name="decision"`)
}

func TestTokenTools(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		p := e.svc.OAuth
		pat := e.user("pat@example.org", patientPassword, "patient")
		other := e.user("other@example.org", patientPassword, "patient")
		dev := e.user("dev@example.org", patientPassword, "application_developer")
		dev2 := e.user("dev2@example.org", patientPassword, "application_developer")
		admin := e.user("admin@example.org", patientPassword, "admin")
		a := newApp(t, e, "openid fhirUser profile offline_access launch/patient patient/*.rs")
		if _, _, err := e.svc.Clients.Update(e.sys(), a.id, func(s *client.Settings) error {
			s.OwnerID = dev.ID
			return nil
		}); err != nil {
			t.Fatalf("give the app an owner: %v", err)
		}
		tok := toolGrant(t, e, a, pat.Email, "t1")

		// Inspect: the owner, an admin, ward itself and the person see it;
		// another developer and another patient may not; anonymous callers
		// are told to sign in.
		for name, ctx := range map[string]context.Context{"owner": actingAs(dev.ID), "admin": actingAs(admin.ID),
			"system": e.sys(), "the person": actingAs(pat.ID)} {
			in, err := p.InspectToken(ctx, tok.AccessToken)
			if err != nil {
				t.Fatalf("inspect as %s: %v", name, err)
			}
			if in.Kind != tokens.KindAccess || in.ClientID != a.id || in.UserID != pat.ID || !in.Active ||
				in.Format != "opaque" || in.Service || !slices.Contains(in.Scopes, "patient/*.rs") ||
				in.IssuedAt.IsZero() || !in.ExpiresAt.After(in.IssuedAt) || in.ID == 0 {
				t.Fatalf("inspect as %s: %+v", name, in)
			}
		}
		_, err := p.InspectToken(actingAs(dev2.ID), tok.AccessToken)
		wantToolErr(t, err, apperr.Forbidden, "inspect as another developer")
		_, err = p.InspectToken(actingAs(other.ID), tok.AccessToken)
		wantToolErr(t, err, apperr.Forbidden, "inspect as another patient")
		_, err = p.InspectToken(actingAs(0), tok.AccessToken)
		wantToolErr(t, err, apperr.Unauthenticated, "inspect anonymously")
		rt, err := p.InspectToken(actingAs(dev.ID), tok.RefreshToken)
		if err != nil || rt.Kind != tokens.KindRefresh || !rt.Active || rt.UserID != pat.ID {
			t.Fatalf("inspect the refresh token: %+v %v", rt, err)
		}
		for in, k := range map[string]apperr.Kind{
			"":                         apperr.Invalid,
			"   ":                      apperr.Invalid,
			"garbage":                  apperr.Invalid,
			"ward_ac_abc.def":          apperr.Invalid,
			strings.Repeat("x", 20000): apperr.Invalid,
			"ward_at_forged.signature": apperr.NotFound,
			tok.AccessToken[:len(tok.AccessToken)-2] + "xx": apperr.NotFound,
			"eyJhbGciOiJFUzI1NiJ9.e30.c2lnbmF0dXJl":         apperr.NotFound,
		} {
			_, err := p.InspectToken(actingAs(admin.ID), in)
			wantToolErr(t, err, k, "inspect "+in[:min(len(in), 12)])
		}

		// The client's people and tokens: for the owner, not for others.
		us, err := p.ClientUsers(actingAs(dev.ID), a.id)
		if err != nil || len(us) != 1 || us[0].UserID != pat.ID || us[0].LiveTokens != 2 || us[0].Consent == nil {
			t.Fatalf("client users: %+v %v", us, err)
		}
		_, err = p.ClientUsers(actingAs(dev2.ID), a.id)
		wantToolErr(t, err, apperr.Forbidden, "client users as another developer")
		_, err = p.ClientUsers(actingAs(pat.ID), a.id)
		wantToolErr(t, err, apperr.Forbidden, "client users as one of them")
		_, err = p.ClientUsers(actingAs(admin.ID), "no-such-client")
		wantToolErr(t, err, apperr.NotFound, "users of an unknown client")

		ts, next, err := p.ClientTokens(actingAs(dev.ID), a.id, store.Page{})
		if err != nil || len(ts) != 2 || next != "" {
			t.Fatalf("client tokens: %+v %q %v", ts, next, err)
		}
		ts, next, err = p.ClientTokens(actingAs(admin.ID), a.id, store.Page{Limit: 1})
		if err != nil || len(ts) != 1 || next == "" {
			t.Fatalf("first page of one: %+v %q %v", ts, next, err)
		}
		_, _, err = p.ClientTokens(actingAs(dev2.ID), a.id, store.Page{})
		wantToolErr(t, err, apperr.Forbidden, "client tokens as another developer")

		// Revoke by id: the token must be the client's; the grant goes too.
		st, _, _ := e.bearerGet("/oauth/userinfo", tok.AccessToken)
		if st != http.StatusOK {
			t.Fatalf("userinfo before revocation: %d", st)
		}
		_, err = p.RevokeTokenByID(actingAs(dev2.ID), a.id, rt.ID)
		wantToolErr(t, err, apperr.Forbidden, "revoke by id as another developer")
		ccID, ccSecret := e.client(client.Settings{Name: "backend", GrantTypes: []string{client.GrantClientCredentials},
			Scope: "system/*.rs", TokenFormat: client.TokenJWT})
		_, err = p.RevokeTokenByID(actingAs(admin.ID), ccID, rt.ID)
		wantToolErr(t, err, apperr.NotFound, "revoke another client's token by id")
		_, err = p.RevokeTokenByID(actingAs(admin.ID), a.id, 0)
		wantToolErr(t, err, apperr.Invalid, "revoke token id 0")
		_, err = p.RevokeTokenByID(actingAs(admin.ID), a.id, 99999999)
		wantToolErr(t, err, apperr.NotFound, "revoke an unknown token id")
		if in, _ := p.InspectToken(e.sys(), tok.RefreshToken); !in.Active {
			t.Fatal("a refused revocation changed the token")
		}
		got, err := p.RevokeTokenByID(actingAs(dev.ID), a.id, rt.ID)
		if err != nil || got.Active || got.ID != rt.ID {
			t.Fatalf("revoke by id: %+v %v", got, err)
		}
		for _, raw := range []string{tok.AccessToken, tok.RefreshToken} {
			if in, err := p.InspectToken(e.sys(), raw); err != nil || in.Active {
				t.Fatalf("after revoking the grant: %+v %v", in, err)
			}
		}
		if st, _, _ := e.bearerGet("/oauth/userinfo", tok.AccessToken); st != http.StatusUnauthorized {
			t.Fatalf("userinfo after revocation: %d", st)
		}
		if !e.hasAudit("listed refresh token", "of client "+a.id, "revoked") {
			t.Error("revocation by id not audited")
		}

		// A pasted token: the person revokes their own; a JWT too.
		tok2 := toolGrant(t, e, a, pat.Email, "t2")
		_, err = p.RevokeToken(actingAs(dev2.ID), tok2.AccessToken)
		wantToolErr(t, err, apperr.Forbidden, "revoke a pasted token as another developer")
		got, err = p.RevokeToken(actingAs(pat.ID), tok2.AccessToken)
		if err != nil || got.Active {
			t.Fatalf("revoke own token: %+v %v", got, err)
		}
		if in, _ := p.InspectToken(e.sys(), tok2.RefreshToken); in.Active {
			t.Error("revoking the access token left its refresh token live")
		}
		if _, err := p.RevokeToken(actingAs(pat.ID), tok2.AccessToken); err != nil {
			t.Fatalf("revoking a revoked token: %v", err)
		}
		cc := clientcredentials.Config{ClientID: ccID, ClientSecret: ccSecret, TokenURL: e.issuer + "/oauth/token",
			Scopes: []string{"system/Patient.rs"}}
		jwtTok, err := cc.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		in, err := p.InspectToken(actingAs(admin.ID), jwtTok.AccessToken)
		if err != nil || in.Format != "jwt" || in.ClientID != ccID || in.UserID != 0 || !in.Active {
			t.Fatalf("inspect a JWT: %+v %v", in, err)
		}
		_, err = p.InspectToken(actingAs(dev.ID), jwtTok.AccessToken)
		wantToolErr(t, err, apperr.Forbidden, "inspect an admin-managed client's JWT as a developer")
		if _, err := p.RevokeToken(actingAs(admin.ID), jwtTok.AccessToken); err != nil {
			t.Fatal(err)
		}
		if in := e.introspect(jwtTok.AccessToken, ccID, ccSecret); in["active"] != false {
			t.Errorf("revoked JWT introspects as %v", in)
		}

		// Revoke a person: every token, and the consent (the page asks again).
		if consentAsked(t, e, a, pat.Email, "t3c") {
			t.Fatal("the remembered consent is asked again")
		}
		tok3 := toolGrant(t, e, a, pat.Email, "t3")
		_, err = p.RevokeClientUser(actingAs(dev2.ID), a.id, pat.ID)
		wantToolErr(t, err, apperr.Forbidden, "revoke a user as another developer")
		_, err = p.RevokeClientUser(actingAs(dev.ID), a.id, -1)
		wantToolErr(t, err, apperr.Invalid, "revoke user -1")
		r, err := p.RevokeClientUser(actingAs(dev.ID), a.id, pat.ID)
		if err != nil || r.Tokens != 2 || r.Consents != 1 {
			t.Fatalf("revoke user: %+v %v", r, err)
		}
		if in, _ := p.InspectToken(e.sys(), tok3.AccessToken); in.Active {
			t.Error("the user's token survived")
		}
		_, err = p.RevokeClientUser(actingAs(dev.ID), a.id, pat.ID)
		wantToolErr(t, err, apperr.NotFound, "revoke a user with nothing left")
		if us, err := p.ClientUsers(actingAs(dev.ID), a.id); err != nil || len(us) != 0 {
			t.Fatalf("client users after revocation: %+v %v", us, err)
		}
		if !consentAsked(t, e, a, pat.Email, "t4") {
			t.Error("after revocation the consent page is not shown again")
		}
		toolGrant(t, e, a, pat.Email, "t4b") // consents again
		if !e.hasAudit("authorization of client "+a.id, "revoked: 2 token(s) revoked, 1 consent(s) withdrawn") {
			t.Error("user revocation not audited")
		}

		// The person's own view: their consents, and withdrawing one.
		auths, err := p.UserConsents(actingAs(pat.ID), pat.ID)
		if err != nil || len(auths) != 2 || auths[0].ClientName != "Patient App" || auths[0].WithdrawnAt != nil ||
			auths[1].WithdrawnAt == nil {
			t.Fatalf("own consents: %+v %v", auths, err)
		}
		if _, err := p.UserConsents(actingAs(admin.ID), pat.ID); err != nil {
			t.Fatalf("consents as admin: %v", err)
		}
		_, err = p.UserConsents(actingAs(dev.ID), pat.ID)
		wantToolErr(t, err, apperr.Forbidden, "consents as the client's owner")
		_, err = p.UserConsents(actingAs(other.ID), pat.ID)
		wantToolErr(t, err, apperr.Forbidden, "consents as another patient")
		_, err = p.UserConsents(actingAs(admin.ID), 99999999)
		wantToolErr(t, err, apperr.NotFound, "consents of an unknown user")

		tok5 := toolGrant(t, e, a, pat.Email, "t5")
		_, err = p.WithdrawConsent(actingAs(other.ID), pat.ID, a.id)
		wantToolErr(t, err, apperr.Forbidden, "withdraw another's consent")
		_, err = p.WithdrawConsent(actingAs(pat.ID), pat.ID, "no-such-client")
		wantToolErr(t, err, apperr.NotFound, "withdraw consent to an unknown client")
		r, err = p.WithdrawConsent(actingAs(pat.ID), pat.ID, a.id)
		if err != nil || r.Consents != 1 || r.Tokens < 2 {
			t.Fatalf("withdraw own consent: %+v %v", r, err)
		}
		if in, _ := p.InspectToken(e.sys(), tok5.RefreshToken); in.Active {
			t.Error("withdrawing consent left a token live")
		}

		// Disabling the client: its tokens are shown inactive.
		tok6 := toolGrant(t, e, a, pat.Email, "t6")
		if _, err := e.svc.Clients.Disable(e.sys(), a.id); err != nil {
			t.Fatal(err)
		}
		if in, err := p.InspectToken(actingAs(dev.ID), tok6.AccessToken); err != nil || in.Active {
			t.Fatalf("token of a disabled client: %+v %v", in, err)
		}
	})
}

func TestServiceAccounts(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		p := e.svc.OAuth
		dev := e.user("dev@example.org", patientPassword, "application_developer")
		dev2 := e.user("dev2@example.org", patientPassword, "application_developer")
		admin := e.user("admin@example.org", patientPassword, "admin")
		pat := e.user("pat@example.org", patientPassword, "patient")

		// Issue 9, finding 2: a developer may not create their own service
		// account (it would act on anyone); an administrator creates it.
		_, err := p.CreateServiceAccount(actingAs(dev.ID), dev.ID)
		wantToolErr(t, err, apperr.Forbidden, "a developer sponsors themselves")
		if users, _, _ := e.svc.Directory.SearchUsers(e.sys(), directory.UserFilter{Role: "service"}, store.Page{}); len(users) != 0 {
			t.Fatalf("a refused request created service users %v", users)
		}
		sa, err := p.CreateServiceAccount(actingAs(admin.ID), dev.ID)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if !sa.Created || sa.SponsorID != dev.ID || sa.Revoked != 0 || !strings.HasPrefix(sa.Token, "ward_at_") ||
			!sa.Info.Service || !sa.Info.Active || sa.Info.ClientID != oauth.ServiceAccountClientID ||
			sa.Info.UserID != sa.User.ID || !slices.Equal(sa.Info.Scopes, []string{oauth.ScopeAPI}) ||
			sa.Info.ExpiresAt.Sub(sa.Info.IssuedAt) != p.Config().ServiceTokenLifetime {
			t.Fatalf("service account %+v, token %+v", sa, sa.Info)
		}
		roles, err := e.svc.Directory.UserRoles(e.sys(), sa.User.ID)
		if err != nil || !slices.Equal(roles, []string{"service"}) {
			t.Fatalf("service user roles %v %v", roles, err)
		}
		rels, err := e.svc.Directory.Relationships(e.sys(), sa.User.ID)
		if err != nil || len(rels) != 1 || rels[0].Relationship != "sponsor" || rels[0].OtherUserID != dev.ID {
			t.Fatalf("service user relationships %+v %v", rels, err)
		}
		// The token is an ordinary bearer token for the management API.
		st, _, me := e.bearerGet("/api/me", sa.Token)
		if st != http.StatusOK || me["id"] != float64(sa.User.ID) {
			t.Fatalf("/api/me with the service token: %d %v", st, me)
		}
		in, err := p.InspectToken(actingAs(admin.ID), sa.Token)
		if err != nil || !in.Service || in.ID != sa.Info.ID {
			t.Fatalf("inspect the service token: %+v %v", in, err)
		}
		// Only administrators manage the built-in client's tokens.
		_, err = p.InspectToken(actingAs(dev.ID), sa.Token)
		wantToolErr(t, err, apperr.Forbidden, "the sponsor inspects the service token")

		// Again: the same service user, a new token, the old one revoked.
		again, err := p.CreateServiceAccount(actingAs(admin.ID), dev.ID)
		if err != nil || again.Created || again.User.ID != sa.User.ID || again.Revoked != 1 || again.Token == sa.Token {
			t.Fatalf("second create: %+v %v", again, err)
		}
		if st, _, _ := e.bearerGet("/api/me", sa.Token); st != http.StatusUnauthorized {
			t.Fatalf("the replaced token answers %d", st)
		}
		if st, _, _ := e.bearerGet("/api/me", again.Token); st != http.StatusOK {
			t.Fatalf("the new token answers %d", st)
		}
		if !e.hasAudit("service token", "issued to service account", "1 earlier token(s) revoked") {
			t.Error("issue not audited")
		}

		// Who may: not another developer for dev, not a patient for
		// themselves, not anyone anonymously, not a service user for
		// anyone (it may act on anyone, but not multiply itself), never a
		// service user as sponsor.
		_, err = p.CreateServiceAccount(actingAs(dev2.ID), dev.ID)
		wantToolErr(t, err, apperr.Forbidden, "another developer sponsors dev")
		_, err = p.CreateServiceAccount(actingAs(pat.ID), pat.ID)
		wantToolErr(t, err, apperr.Forbidden, "a patient sponsors themselves")
		_, err = p.CreateServiceAccount(actingAs(admin.ID), pat.ID)
		wantToolErr(t, err, apperr.Forbidden, "an admin makes a patient a sponsor")
		_, err = p.CreateServiceAccount(actingAs(0), dev.ID)
		wantToolErr(t, err, apperr.Unauthenticated, "anonymous")
		_, err = p.CreateServiceAccount(actingAs(sa.User.ID), admin.ID)
		wantToolErr(t, err, apperr.Forbidden, "a service user creates one for an admin")
		_, err = p.CreateServiceAccount(actingAs(admin.ID), 99999999)
		wantToolErr(t, err, apperr.NotFound, "unknown sponsor")
		_, err = p.CreateServiceAccount(actingAs(admin.ID), 0)
		wantToolErr(t, err, apperr.Invalid, "sponsor 0")
		_, err = p.CreateServiceAccount(actingAs(admin.ID), sa.User.ID)
		wantToolErr(t, err, apperr.Forbidden, "a service user as sponsor")
		// The service user itself may act on anyone (rule 3) and revoke
		// its own token.
		if _, err := p.RevokeToken(actingAs(sa.User.ID), again.Token); err != nil {
			t.Fatalf("the service user revokes its token: %v", err)
		}

		// Disabling the built-in client stops every service token at once
		// and refuses new ones.
		fresh, err := p.CreateServiceAccount(actingAs(admin.ID), dev.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Clients.Disable(e.sys(), oauth.ServiceAccountClientID); err != nil {
			t.Fatalf("disable the built-in client: %v", err)
		}
		if st, _, _ := e.bearerGet("/api/me", fresh.Token); st != http.StatusUnauthorized {
			t.Fatalf("a service token of the disabled client answers %d", st)
		}
		_, err = p.CreateServiceAccount(actingAs(admin.ID), dev.ID)
		wantToolErr(t, err, apperr.Conflict, "create while the built-in client is disabled")
		if _, err := e.svc.Clients.Enable(e.sys(), oauth.ServiceAccountClientID); err != nil {
			t.Fatal(err)
		}
		// The built-in client can never get a token itself.
		if st, _, out := e.postForm("/oauth/token", map[string][]string{"grant_type": {"client_credentials"},
			"client_id": {oauth.ServiceAccountClientID}}, "", ""); st < 400 {
			t.Fatalf("the built-in client obtained a token: %d %v", st, out)
		}

		// A service user that gained another role may not hold a token.
		if _, err := e.svc.Directory.AddRoles(e.sys(), sa.User.ID, []string{"staff"}); err != nil {
			t.Fatal(err)
		}
		_, err = p.CreateServiceAccount(e.sys(), dev.ID)
		wantToolErr(t, err, apperr.Conflict, "a service user with two roles")
	})
}
