package oauth_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2/clientcredentials"

	"ward/internal/client"
	"ward/internal/testutil"
)

// TestAssertionTimingIsInvalidClient is an issue 10 low finding: a
// correctly signed client assertion whose iat or nbf lies in the future,
// or whose exp has just passed (inside ward's own skew allowance, so that
// fosite's JWT library was the one to refuse it), answered 500
// {"error":"error"}. It is 401 invalid_client with a challenge.
func TestAssertionTimingIsInvalidClient(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		tokenURL := e.issuer + "/oauth/token"
		es := newAssertionKey(t, jose.ES384)
		id, _ := e.client(client.Settings{Name: "backend", GrantTypes: []string{client.GrantClientCredentials},
			Scope: "system/*.rs", AuthMethod: client.AuthPrivateKeyJWT, JWKS: es.jwks()})

		// The same assertion, on time, is accepted: the refusals below are
		// about time alone.
		if st, _, out := e.postForm("/oauth/token", backendForm(es.assertion(t, id, tokenURL, nil), "system/Patient.rs"), "", ""); st != http.StatusOK {
			t.Fatalf("an assertion on time: %d %v", st, out)
		}
		future := time.Now().Add(2 * time.Minute).Unix()
		for name, mutate := range map[string]func(map[string]any){
			"iat in the future":       func(c map[string]any) { c["iat"] = future },
			"nbf in the future":       func(c map[string]any) { c["nbf"] = future },
			"exp two seconds past":    func(c map[string]any) { c["exp"] = time.Now().Add(-2 * time.Second).Unix() },
			"exp twenty seconds past": func(c map[string]any) { c["exp"] = time.Now().Add(-20 * time.Second).Unix() },
		} {
			st, hdr, out := e.postForm("/oauth/token", backendForm(es.assertion(t, id, tokenURL, mutate), "system/Patient.rs"), "", "")
			if st != http.StatusUnauthorized || out["error"] != "invalid_client" || hdr.Get("WWW-Authenticate") == "" || out["access_token"] != nil {
				t.Errorf("%s: %d %v (challenge %q), want 401 invalid_client", name, st, out, hdr.Get("WWW-Authenticate"))
			}
		}
	})
}

// TestOneClientAuthMethod is an issue 10 low finding: a wrong or unknown
// Basic credential sent beside a valid client assertion was ignored and a
// token issued. A request that authenticates its client in two ways is
// invalid_request (RFC 6749 section 2.3) at the token, introspection and
// revocation endpoints, whichever credential is the good one.
func TestOneClientAuthMethod(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		tokenURL := e.issuer + "/oauth/token"
		es := newAssertionKey(t, jose.ES384)
		jwtID, _ := e.client(client.Settings{Name: "backend", GrantTypes: []string{client.GrantClientCredentials},
			Scope: "system/*.rs", AuthMethod: client.AuthPrivateKeyJWT, JWKS: es.jwks()})
		secID, secret := e.client(client.Settings{Name: "confidential", GrantTypes: []string{client.GrantClientCredentials},
			Scope: "system/*.rs"})
		cc := clientcredentials.Config{ClientID: secID, ClientSecret: secret, TokenURL: tokenURL, Scopes: []string{"system/Patient.rs"}}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("token: %v", err)
		}

		type basic struct{ id, secret string }
		cases := []struct {
			name  string
			basic basic
			form  url.Values
		}{
			{"assertion + unknown Basic", basic{"nobody", "guess"}, nil},
			{"assertion + wrong Basic for another client", basic{secID, "wrong"}, nil},
			{"assertion + right Basic of another client", basic{secID, secret}, nil},
			{"assertion + client_secret in the body", basic{}, url.Values{"client_id": {jwtID}, "client_secret": {"guess"}}},
			{"Basic + client_secret in the body", basic{secID, secret}, url.Values{"client_secret": {"guess"}}},
		}
		for _, c := range cases {
			endpoints := map[string]url.Values{
				"/oauth/token":      backendForm(es.assertion(t, jwtID, tokenURL, nil), "system/Patient.rs"),
				"/oauth/introspect": {"token": {tok.AccessToken}},
				"/oauth/revoke":     {"token": {tok.AccessToken}},
			}
			for path, form := range endpoints {
				if path != "/oauth/token" && c.name != "Basic + client_secret in the body" {
					// An assertion for the token endpoint's audience, fresh.
					form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
					form.Set("client_assertion", es.assertion(t, jwtID, tokenURL, nil))
				}
				if c.name == "Basic + client_secret in the body" && path == "/oauth/token" {
					form = url.Values{"grant_type": {"client_credentials"}, "scope": {"system/Patient.rs"}}
				}
				for k, v := range c.form {
					form[k] = v
				}
				st, _, out := e.postForm(path, form, c.basic.id, c.basic.secret)
				if st != http.StatusBadRequest || out["error"] != "invalid_request" || out["access_token"] != nil || out["active"] != nil {
					t.Errorf("%s at %s: %d %v, want 400 invalid_request", c.name, path, st, out)
				}
			}
		}
		// The token survived every refused revocation.
		if in := e.introspect(tok.AccessToken, secID, secret); in["active"] != true {
			t.Errorf("token after refused revocations: %v", in)
		}
		// One method at a time still works.
		if st, _, out := e.postForm("/oauth/token", backendForm(es.assertion(t, jwtID, tokenURL, nil), "system/Patient.rs"), "", ""); st != http.StatusOK {
			t.Errorf("assertion alone: %d %v", st, out)
		}
	})
}

// TestIntrospectionSecrets is an issue 10 low finding: introspection with
// a wrong, empty or rotated-out secret answered 200 {"active":false}; RFC
// 7662 section 2.1 makes it 401. The current secret still works.
func TestIntrospectionSecrets(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		ctx := context.Background()
		id, old := e.client(client.Settings{Name: "resource server", GrantTypes: []string{client.GrantClientCredentials},
			Scope: "system/*.rs", ResourceServer: true})
		postID, postSecret := e.client(client.Settings{Name: "post client", GrantTypes: []string{client.GrantClientCredentials},
			Scope: "system/*.rs", AuthMethod: client.AuthClientSecretPost})
		cc := clientcredentials.Config{ClientID: id, ClientSecret: old, TokenURL: e.issuer + "/oauth/token", Scopes: []string{"system/Patient.rs"}}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("token: %v", err)
		}
		if in := e.introspect(tok.AccessToken, id, old); in["active"] != true {
			t.Fatalf("the right secret: %v", in)
		}
		_, fresh, err := e.svc.Clients.RotateSecret(e.sys(), id)
		if err != nil {
			t.Fatal(err)
		}
		refused := []struct {
			name       string
			basic      [2]string
			form       url.Values
			wantStatus int
		}{
			{"wrong secret (Basic)", [2]string{id, "wrong"}, nil, http.StatusUnauthorized},
			{"empty secret (Basic)", [2]string{id, ""}, nil, http.StatusUnauthorized},
			{"rotated-out secret (Basic)", [2]string{id, old}, nil, http.StatusUnauthorized},
			{"wrong secret (post)", [2]string{}, url.Values{"client_id": {postID}, "client_secret": {"wrong"}}, http.StatusUnauthorized},
			{"empty secret (post)", [2]string{}, url.Values{"client_id": {postID}, "client_secret": {""}}, http.StatusUnauthorized},
			{"unknown client", [2]string{"nobody", "guess"}, nil, http.StatusUnauthorized},
		}
		for _, c := range refused {
			form := url.Values{"token": {tok.AccessToken}}
			for k, v := range c.form {
				form[k] = v
			}
			st, hdr, out := e.postForm("/oauth/introspect", form, c.basic[0], c.basic[1])
			if st != c.wantStatus || out["error"] != "invalid_client" || hdr.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: %d %v, want 401 invalid_client with a challenge", c.name, st, out)
			}
			if _, leaked := out["active"]; leaked {
				t.Errorf("%s: the answer says whether the token is active: %v", c.name, out)
			}
		}
		if in := e.introspect(tok.AccessToken, id, fresh); in["active"] != true {
			t.Errorf("the new secret: %v", in)
		}
		st, _, out := e.postForm("/oauth/introspect", url.Values{"token": {tok.AccessToken}, "client_id": {postID}, "client_secret": {postSecret}}, "", "")
		if st != http.StatusOK || out["active"] != false {
			t.Errorf("client_secret_post, right secret, another client's token: %d %v, want 200 inactive", st, out)
		}
	})
}
