package oauth_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"ward/internal/client"
	"ward/internal/testutil"
)

// TestIntrospectionAccess is issue 9 finding 7: introspection answers only
// an authenticated confidential client (RFC 7662 section 2.1), and tells a
// client only about its own tokens unless an administrator marked it a
// resource server. Before the fix a public client_id with no secret learnt
// everything about anyone's token, a patient's included.
func TestIntrospectionAccess(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()

		// A patient's token, issued to a public SMART app.
		pat := e.user("pat@example.org", patientPassword, "patient")
		a := newApp(t, e, "openid fhirUser launch/patient patient/*.rs")
		verifier, _ := pkce("i")
		code := codeFrom(t, a.authorize(e.browser(), pat.Email, patientPassword, "state-intro", verifier, "nonce-intro"), "state-intro")
		patTok, err := a.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}

		confidential := func(name, auth string, rs bool) (id, secret, token string) {
			id, secret = e.client(client.Settings{Name: name, GrantTypes: []string{client.GrantClientCredentials},
				Scope: "system/*.rs", AuthMethod: auth, ResourceServer: rs})
			cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.issuer + "/oauth/token",
				Scopes: []string{"system/Patient.rs"}}
			tok, err := cc.Token(ctx)
			if err != nil {
				t.Fatalf("token for %s: %v", name, err)
			}
			return id, secret, tok.AccessToken
		}
		aID, aSecret, aTok := confidential("Client A", client.AuthClientSecretBasic, false)
		bID, bSecret, bTok := confidential("Client B", client.AuthClientSecretPost, false)
		rsID, rsSecret, _ := confidential("Resource server", "", true)

		// Refused callers: 401 invalid_client with a challenge, and nothing
		// about the token.
		refused := []struct {
			name string
			form url.Values
			id   string
			sec  string
		}{
			{"public client_id in the form, no secret", url.Values{"client_id": {a.id}}, "", ""},
			{"public client_id in Basic, empty secret", nil, a.id, ""},
			{"public client_id with a made-up secret", nil, a.id, "guess"},
			{"confidential client_id, no secret", url.Values{"client_id": {aID}}, "", ""},
			{"confidential client, wrong secret", nil, aID, "wrong"},
			{"no credentials at all", nil, "", ""},
		}
		for _, c := range refused {
			form := url.Values{"token": {patTok.AccessToken}}
			for k, v := range c.form {
				form[k] = v
			}
			st, h, out := e.postForm("/oauth/introspect", form, c.id, c.sec)
			if st != http.StatusUnauthorized || out["error"] != "invalid_client" || h.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: %d %v (challenge %q), want 401 invalid_client", c.name, st, out, h.Get("WWW-Authenticate"))
			}
			if _, leaked := out["active"]; leaked {
				t.Errorf("%s: answer says whether the token is active: %v", c.name, out)
			}
		}
		if !e.hasAudit("introspection refused: invalid_client", a.id) {
			t.Error("a refused public client's introspection is not audited")
		}

		// A confidential client sees its own token, and nothing of others'.
		if in := e.introspect(aTok, aID, aSecret); in["active"] != true || in["client_id"] != aID {
			t.Errorf("client A on its own token: %v", in)
		}
		for name, tok := range map[string]string{"client B's token": bTok, "the patient's token": patTok.AccessToken} {
			if in := e.introspect(tok, aID, aSecret); len(in) != 1 || in["active"] != false {
				t.Errorf("client A on %s: %v, want exactly {\"active\":false}", name, in)
			}
		}
		// client_secret_post authenticates as well as Basic.
		post := func(tok string) map[string]any {
			st, _, out := e.postForm("/oauth/introspect", url.Values{"token": {tok}, "client_id": {bID}, "client_secret": {bSecret}}, "", "")
			if st != http.StatusOK {
				t.Fatalf("client_secret_post: %d %v", st, out)
			}
			return out
		}
		if in := post(bTok); in["active"] != true || in["client_id"] != bID {
			t.Errorf("client B (client_secret_post) on its own token: %v", in)
		}
		if in := post(aTok); len(in) != 1 || in["active"] != false {
			t.Errorf("client B on client A's token: %v", in)
		}

		// A resource server sees every client's tokens.
		for name, c := range map[string]struct{ tok, client string }{
			"client A's": {aTok, aID}, "client B's": {bTok, bID}, "the patient's": {patTok.AccessToken, a.id},
		} {
			if in := e.introspect(c.tok, rsID, rsSecret); in["active"] != true || in["client_id"] != c.client {
				t.Errorf("resource server on %s token: %v", name, in)
			}
		}
		if in := e.introspect(patTok.AccessToken, rsID, rsSecret); in["sub"] != strconv.FormatInt(pat.ID, 10) || in["patient"] != strconv.FormatInt(pat.ID, 10) {
			t.Errorf("resource server on the patient's token lacks the SMART context: %v", in)
		}
	})
}
