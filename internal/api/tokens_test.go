package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/api"
	"ward/internal/client"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/oauth"
	"ward/internal/oauth/tokens"
	"ward/internal/server"
	"ward/internal/testutil"
)

// tokenEnv is env on ward's full services (the authorization server
// included), with the cast of the token scenarios: an application developer
// who owns a client, another developer, and a patient who authorized it.
type tokenEnv struct {
	*env
	svc            *server.Services
	dev, dev2, pat int64
	app            string
}

func newTokenEnv(t *testing.T, url string) *tokenEnv {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = url
	svc, err := server.OpenServices(context.Background(), cfg, server.WithClock(func() time.Time { return testNow }))
	if err != nil {
		t.Fatalf("open services: %v", err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	if err := svc.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	mux := http.NewServeMux()
	api.Mount(mux, api.Deps{
		Directory: svc.Directory, Audit: svc.Audit, Clients: svc.Clients, OAuth: svc.OAuth,
		Base: "https://ward.test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	sys := actor.System(context.Background())
	mk := func(email string, roles ...string) int64 {
		u, err := svc.Directory.CreateUser(sys, directory.NewUser{User: directory.User{Email: email}, Roles: roles})
		if err != nil {
			t.Fatalf("create %s: %v", email, err)
		}
		return u.ID
	}
	e := &tokenEnv{env: &env{t: t, h: testActor(mux), dir: svc.Directory}, svc: svc}
	e.adminID = mk("admin@example.org", directory.RoleAdmin)
	e.dev = mk("dev@example.org", directory.RoleApplicationDeveloper)
	e.dev2 = mk("dev2@example.org", directory.RoleApplicationDeveloper)
	e.pat = mk("pat@example.org", directory.RolePatient)
	c, _, err := svc.Clients.Create(sys, client.Settings{Name: "Patient App", Public: true,
		GrantTypes:   []string{client.GrantAuthorizationCode, client.GrantRefreshToken},
		RedirectURIs: []string{"https://app.example.org/cb"}, Scope: "openid offline_access patient/*.rs",
		OwnerID: e.dev})
	if err != nil {
		t.Fatal(err)
	}
	e.app = c.ID
	return e
}

// grant stores what the authorization code flow leaves behind for the
// patient: an access and a refresh token of one grant, and a consent.
func (e *tokenEnv) grant(n int) {
	e.t.Helper()
	ctx := context.Background()
	for _, k := range []tokens.Kind{tokens.KindAccess, tokens.KindRefresh} {
		t := &tokens.Token{Signature: fmt.Sprintf("secret-signature-%d-%s", n, k), Kind: k,
			RequestID: fmt.Sprintf("grant-%d", n), ClientID: e.app, UserID: e.pat, Scopes: []string{"openid", "patient/*.rs"},
			RequestedAt: testNow, ExpiresAt: testNow.Add(time.Hour), Active: true,
			Data: []byte(fmt.Sprintf(`{"session":{"uid":%d,"cid":%q}}`, e.pat, e.app))}
		if k == tokens.KindAccess {
			t.Format = "opaque"
		}
		if err := e.svc.DB.CreateToken(ctx, t); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := e.svc.DB.SaveConsent(ctx, &tokens.Consent{UserID: e.pat, ClientID: e.app,
		Scopes: []string{"openid", "patient/*.rs"}, GrantedAt: testNow}); err != nil {
		e.t.Fatal(err)
	}
}

type tokenDoc struct {
	ID        int64    `json:"id"`
	Kind      string   `json:"kind"`
	ClientID  string   `json:"client_id"`
	UserID    int64    `json:"user_id"`
	Scopes    []string `json:"scopes"`
	Service   bool     `json:"service"`
	Active    bool     `json:"active"`
	IssuedAt  string   `json:"issued_at"`
	ExpiresAt string   `json:"expires_at"`
}

type revocationDoc struct {
	Tokens   *int `json:"tokens_revoked"`
	Consents *int `json:"consents_withdrawn"`
}

func TestTokenAPIScenario(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newTokenEnv(t, url)
		e.grant(1)
		base := "/api/client/" + e.app

		// Who authorized the client: the owner sees; others do not.
		var users struct {
			Users []struct {
				UserID     int64           `json:"user_id"`
				LiveTokens int             `json:"live_tokens"`
				LastIssued *time.Time      `json:"last_issued"`
				Consent    json.RawMessage `json:"consent"`
			} `json:"users"`
		}
		e.must(e.do("GET", base+"/users", e.dev, nil), http.StatusOK, &users)
		if len(users.Users) != 1 || users.Users[0].UserID != e.pat || users.Users[0].LiveTokens != 2 ||
			users.Users[0].LastIssued == nil || len(users.Users[0].Consent) == 0 {
			t.Fatalf("client users %+v", users)
		}
		e.problem(e.do("GET", base+"/users", e.dev2, nil), http.StatusForbidden)
		e.problem(e.do("GET", base+"/users", e.pat, nil), http.StatusForbidden)
		e.problem(e.do("GET", base+"/users", 0, nil), http.StatusUnauthorized)
		e.problem(e.do("GET", "/api/client/no-such-client/users", e.adminID, nil), http.StatusNotFound)

		// The live tokens, by id, without their signatures or stored request.
		var page struct {
			Tokens []tokenDoc `json:"tokens"`
			Next   string     `json:"next"`
		}
		res := e.do("GET", base+"/tokens", e.dev, nil)
		e.must(res, http.StatusOK, &page)
		if len(page.Tokens) != 2 || page.Next != "" || page.Tokens[0].UserID != e.pat || !page.Tokens[0].Active {
			t.Fatalf("client tokens %s", res.body)
		}
		if bytes.Contains(res.body, []byte("secret-signature")) || bytes.Contains(res.body, []byte(`"uid"`)) {
			t.Fatalf("the token list shows a signature or stored request: %s", res.body)
		}
		e.must(e.do("GET", base+"/tokens?limit=1", e.adminID, nil), http.StatusOK, &page)
		if len(page.Tokens) != 1 || page.Next == "" {
			t.Fatalf("first page of one %+v", page)
		}
		e.problem(e.do("GET", base+"/tokens", e.dev2, nil), http.StatusForbidden)
		e.problem(e.do("GET", base+"/tokens?limit=5000", e.dev, nil), http.StatusBadRequest)

		// Revoke one token by id: its grant goes with it.
		e.must(e.do("GET", base+"/tokens", e.dev, nil), http.StatusOK, &page)
		tid := page.Tokens[0].ID
		e.problem(e.do("DELETE", fmt.Sprintf("%s/tokens/%d", base, tid), e.dev2, nil), http.StatusForbidden)
		e.problem(e.do("DELETE", base+"/tokens/abc", e.dev, nil), http.StatusBadRequest)
		e.problem(e.do("DELETE", base+"/tokens/99999999", e.dev, nil), http.StatusNotFound)
		var revoked tokenDoc
		e.must(e.do("DELETE", fmt.Sprintf("%s/tokens/%d", base, tid), e.dev, nil), http.StatusOK, &revoked)
		if revoked.ID != tid || revoked.Active || revoked.ClientID != e.app {
			t.Fatalf("revoked token %+v", revoked)
		}
		e.must(e.do("GET", base+"/tokens", e.dev, nil), http.StatusOK, &page)
		if len(page.Tokens) != 0 {
			t.Fatalf("tokens after revoking the grant: %+v", page)
		}

		// Revoke the person: their consent is withdrawn too.
		e.grant(2)
		userPath := fmt.Sprintf("%s/users/%d", base, e.pat)
		e.problem(e.do("DELETE", userPath, e.dev2, nil), http.StatusForbidden)
		e.problem(e.do("DELETE", base+"/users/x", e.dev, nil), http.StatusBadRequest)
		var rev revocationDoc
		e.must(e.do("DELETE", userPath, e.dev, nil), http.StatusOK, &rev)
		if rev.Tokens == nil || *rev.Tokens != 2 || rev.Consents == nil || *rev.Consents != 2 {
			t.Fatalf("revoke user: %+v", rev)
		}
		e.problem(e.do("DELETE", userPath, e.dev, nil), http.StatusNotFound)

		// The person's own authorizations: theirs and the admin's to see.
		e.grant(3)
		authPath := fmt.Sprintf("/api/user/%d/authorizations", e.pat)
		var auths struct {
			Authorizations []struct {
				ClientID    string     `json:"client_id"`
				ClientName  string     `json:"client_name"`
				Scopes      []string   `json:"scopes"`
				WithdrawnAt *time.Time `json:"withdrawn_at"`
			} `json:"authorizations"`
		}
		e.must(e.do("GET", authPath, e.pat, nil), http.StatusOK, &auths)
		if len(auths.Authorizations) != 3 || auths.Authorizations[0].ClientName != "Patient App" {
			t.Fatalf("authorizations %+v", auths)
		}
		live := 0
		for _, a := range auths.Authorizations {
			if a.WithdrawnAt == nil {
				live++
			}
		}
		if live != 1 {
			t.Fatalf("%d live authorizations, want 1: %+v", live, auths)
		}
		e.must(e.do("GET", authPath, e.adminID, nil), http.StatusOK, nil)
		e.problem(e.do("GET", authPath, e.dev, nil), http.StatusForbidden)
		e.problem(e.do("GET", "/api/user/abc/authorizations", e.adminID, nil), http.StatusBadRequest)
		e.problem(e.do("GET", "/api/user/99999999/authorizations", e.adminID, nil), http.StatusNotFound)
		e.problem(e.do("DELETE", authPath+"/"+e.app, e.dev2, nil), http.StatusForbidden)
		e.must(e.do("DELETE", authPath+"/"+e.app, e.pat, nil), http.StatusOK, &rev)
		if *rev.Tokens != 2 || *rev.Consents != 1 {
			t.Fatalf("withdraw own authorization: %+v", rev)
		}
		e.problem(e.do("DELETE", authPath+"/"+e.app, e.pat, nil), http.StatusNotFound)
		e.problem(e.do("DELETE", authPath+"/no-such-client", e.pat, nil), http.StatusNotFound)

		// Every change was audited.
		var events struct {
			Events []struct {
				Comment string `json:"comment"`
			} `json:"events"`
		}
		e.must(e.do("GET", "/api/auditlog?limit=1000", e.adminID, nil), http.StatusOK, &events)
		var comments []string
		for _, ev := range events.Events {
			comments = append(comments, ev.Comment)
		}
		all := strings.Join(comments, "\n")
		for _, want := range []string{"listed refresh token", "2 token(s) revoked, 2 consent(s) withdrawn",
			"authorization of client " + e.app + " by user " + fmt.Sprint(e.pat) + " withdrawn"} {
			if !strings.Contains(all, want) {
				t.Errorf("no audit event mentions %q:\n%s", want, all)
			}
		}
	})
}

type serviceAccountDoc struct {
	ServiceUserID int64    `json:"service_user_id"`
	SponsorID     int64    `json:"sponsor_id"`
	Created       bool     `json:"created"`
	AccessToken   string   `json:"access_token"`
	TokenType     string   `json:"token_type"`
	Scope         string   `json:"scope"`
	ExpiresIn     int64    `json:"expires_in"`
	Token         tokenDoc `json:"token"`
	RevokedTokens int      `json:"revoked_tokens"`
}

func TestServiceAccountAndTokenToolsAPI(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newTokenEnv(t, url)
		path := fmt.Sprintf("/api/user/%d/service-account", e.dev)

		// Issue 9, finding 2: the developer may not sponsor their own
		// service account; an administrator creates it for them.
		e.problem(e.do("POST", path, e.dev, nil), http.StatusForbidden)
		var sa serviceAccountDoc
		res := e.do("POST", path, e.adminID, nil)
		e.must(res, http.StatusCreated, &sa)
		if !sa.Created || sa.SponsorID != e.dev || sa.ServiceUserID == 0 || !strings.HasPrefix(sa.AccessToken, "ward_at_") ||
			sa.TokenType != "Bearer" || sa.Scope != oauth.ScopeAPI || sa.ExpiresIn != int64((365*24*time.Hour).Seconds()) ||
			!sa.Token.Service || !sa.Token.Active || sa.Token.ClientID != oauth.ServiceAccountClientID {
			t.Fatalf("service account %s", res.body)
		}
		if cc := res.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q on an answer carrying a token", cc)
		}
		var again serviceAccountDoc
		e.must(e.do("POST", path, e.adminID, nil), http.StatusOK, &again)
		if again.Created || again.ServiceUserID != sa.ServiceUserID || again.AccessToken == sa.AccessToken || again.RevokedTokens != 1 {
			t.Fatalf("second service account %+v", again)
		}
		e.problem(e.do("POST", path, e.dev2, nil), http.StatusForbidden)
		e.problem(e.do("POST", fmt.Sprintf("/api/user/%d/service-account", e.pat), e.pat, nil), http.StatusForbidden)
		e.problem(e.do("POST", path, 0, nil), http.StatusUnauthorized)
		e.problem(e.do("POST", "/api/user/99999999/service-account", e.adminID, nil), http.StatusNotFound)
		e.problem(e.do("POST", "/api/user/0/service-account", e.adminID, nil), http.StatusBadRequest)

		// Token tools on a pasted token: the admin manages the built-in
		// client; the sponsor does not.
		var in tokenDoc
		e.must(e.do("POST", "/api/token/inspect", e.adminID, map[string]string{"token": again.AccessToken}), http.StatusOK, &in)
		if !in.Active || !in.Service || in.UserID != sa.ServiceUserID || in.ID != again.Token.ID {
			t.Fatalf("inspect %+v", in)
		}
		e.must(e.do("POST", "/api/token/inspect", e.adminID, map[string]string{"token": sa.AccessToken}), http.StatusOK, &in)
		if in.Active {
			t.Fatalf("the replaced service token is active: %+v", in)
		}
		e.problem(e.do("POST", "/api/token/inspect", e.dev, map[string]string{"token": again.AccessToken}), http.StatusForbidden)
		e.problem(e.do("POST", "/api/token/inspect", 0, map[string]string{"token": again.AccessToken}), http.StatusUnauthorized)
		for _, body := range []any{map[string]string{"token": ""}, map[string]string{"token": "garbage"},
			map[string]string{"token": strings.Repeat("a", 20000)}, `{}`, `{"token": 7}`, `not json`} {
			e.problem(e.do("POST", "/api/token/inspect", e.adminID, body), http.StatusBadRequest)
		}
		e.problem(e.do("POST", "/api/token/inspect", e.adminID, map[string]string{"token": "ward_at_forged.token"}), http.StatusNotFound)

		e.problem(e.do("POST", "/api/token/revoke", e.dev, map[string]string{"token": again.AccessToken}), http.StatusForbidden)
		e.must(e.do("POST", "/api/token/revoke", e.adminID, map[string]string{"token": again.AccessToken}), http.StatusOK, &in)
		if in.Active {
			t.Fatalf("revoked %+v", in)
		}
		e.must(e.do("POST", "/api/token/inspect", e.adminID, map[string]string{"token": again.AccessToken}), http.StatusOK, &in)
		if in.Active {
			t.Fatalf("inspect after revoke %+v", in)
		}

		// The built-in client's live tokens, for its administrators only.
		var fresh serviceAccountDoc
		e.must(e.do("POST", path, e.adminID, nil), http.StatusOK, &fresh)
		var page struct {
			Tokens []tokenDoc `json:"tokens"`
		}
		e.must(e.do("GET", "/api/client/"+oauth.ServiceAccountClientID+"/tokens", e.adminID, nil), http.StatusOK, &page)
		if len(page.Tokens) != 1 || page.Tokens[0].ID != fresh.Token.ID {
			t.Fatalf("service tokens %+v", page)
		}
		e.problem(e.do("GET", "/api/client/"+oauth.ServiceAccountClientID+"/tokens", e.dev, nil), http.StatusForbidden)

		// The routes are in the OpenAPI document.
		var doc struct {
			Paths map[string]any `json:"paths"`
		}
		e.must(e.do("GET", "/api/openapi.json", 0, nil), http.StatusOK, &doc)
		for _, p := range []string{"/api/client/{client_id}/users", "/api/client/{client_id}/users/{user_id}",
			"/api/client/{client_id}/tokens", "/api/client/{client_id}/tokens/{token_id}", "/api/token/inspect",
			"/api/token/revoke", "/api/user/{id}/service-account", "/api/user/{id}/authorizations",
			"/api/user/{id}/authorizations/{client_id}"} {
			if doc.Paths[p] == nil {
				t.Errorf("OpenAPI lacks %s", p)
			}
		}
	})
}
