package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/api"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/directory"
	"ward/internal/secrets"
	"ward/internal/sqlstore"
	"ward/internal/testutil"
)

// clientEnv is env with the client registry mounted, and the cast of the
// client scenarios.
type clientEnv struct {
	*env
	clients          *client.Service
	dev, dev2, staff int64
}

func newClientEnv(t testing.TB, url string) *clientEnv {
	t.Helper()
	now := func() time.Time { return testNow }
	st := testutil.NewStore(t, url, sqlstore.WithClock(now))
	aud := audit.NewLog(audit.Deps{Store: st, Tx: st}, audit.Config{Version: "test", Now: now})
	dir := directory.NewService(directory.Deps{Store: st, Audit: aud, Hasher: plainHasher{}}, directory.Config{Now: now})
	key, err := secrets.DeriveHMACKey(bytes.Repeat([]byte{9}, secrets.MasterKeySize), secrets.PurposeClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	clients, err := client.NewService(client.Deps{Store: st, Tx: st, Roles: dir, Audit: aud}, client.Config{SecretKey: key, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Mount(mux, api.Deps{
		Directory: dir, Audit: aud, Clients: clients, Base: "https://ward.test",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	sys := actor.System(context.Background())
	mk := func(email string, roles ...string) int64 {
		u, err := dir.CreateUser(sys, directory.NewUser{User: directory.User{Email: email}, Roles: roles})
		if err != nil {
			t.Fatalf("create %s: %v", email, err)
		}
		return u.ID
	}
	e := &clientEnv{env: &env{h: testActor(mux), dir: dir}, clients: clients}
	if tt, ok := t.(*testing.T); ok {
		e.t = tt
	}
	e.adminID = mk("admin@example.org", directory.RoleAdmin)
	e.dev = mk("dev@example.org", directory.RoleApplicationDeveloper)
	e.dev2 = mk("dev2@example.org", directory.RoleApplicationDeveloper)
	e.staff = mk("staff@example.org", directory.RoleStaff)
	return e
}

type clientDoc struct {
	ClientID       string   `json:"client_id"`
	Name           string   `json:"client_name"`
	Public         bool     `json:"public"`
	GrantTypes     []string `json:"grant_types"`
	RedirectURIs   []string `json:"redirect_uris"`
	Scope          string   `json:"scope"`
	AuthMethod     string   `json:"token_endpoint_auth_method"`
	JWKSURI        string   `json:"jwks_uri"`
	TokenFormat    string   `json:"access_token_format"`
	Disabled       bool     `json:"disabled"`
	OwnerID        int64    `json:"owner_id"`
	SecretIssuedAt *string  `json:"client_secret_issued_at"`
	Version        int64    `json:"version"`
	Secret         *string  `json:"client_secret"`
}

func clientBody(name string) map[string]any {
	return map[string]any{
		"client_name":   name,
		"grant_types":   []string{"authorization_code", "refresh_token"},
		"redirect_uris": []string{"https://app.example.org/cb"},
		"scope":         "openid fhirUser launch/patient patient/*.rs",
	}
}

func TestClientAPIScenario(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newClientEnv(t, url)

		// A developer registers a confidential client: the secret comes back once.
		res := e.do("POST", "/api/client", e.dev, clientBody("Decision support"))
		var c clientDoc
		e.must(res, http.StatusCreated, &c)
		if c.ClientID == "" || c.Secret == nil || len(*c.Secret) < 43 || c.OwnerID != e.dev ||
			c.AuthMethod != "client_secret_basic" || c.TokenFormat != "opaque" || c.SecretIssuedAt == nil || c.Version != 1 {
			t.Fatalf("created %s", res.body)
		}
		if loc := res.header.Get("Location"); loc != "https://ward.test/api/client/"+c.ClientID {
			t.Fatalf("Location %q", loc)
		}
		secret := *c.Secret
		path := "/api/client/" + c.ClientID

		var got clientDoc
		res = e.do("GET", path, e.dev, nil)
		e.must(res, http.StatusOK, &got)
		if got.Secret != nil || bytes.Contains(res.body, []byte(secret)) || got.Name != "Decision support" {
			t.Fatalf("GET shows %s", res.body)
		}

		// PUT replaces the settings; the owner is kept when not named.
		body := clientBody("Renamed")
		body["access_token_format"] = "jwt"
		body["token_endpoint_auth_method"] = "client_secret_post"
		res = e.do("PUT", path, e.dev, body)
		e.must(res, http.StatusOK, &got)
		if got.Name != "Renamed" || got.TokenFormat != "jwt" || got.AuthMethod != "client_secret_post" ||
			got.OwnerID != e.dev || got.Secret != nil || got.Version != 2 {
			t.Fatalf("PUT answered %s", res.body)
		}
		if _, err := e.clients.Authenticate(context.Background(), c.ClientID, secret); err != nil {
			t.Fatalf("secret after switching basic -> post: %v", err)
		}

		e.must(e.do("POST", path+"/disable", e.dev, nil), http.StatusOK, &got)
		if !got.Disabled {
			t.Fatal("disable did not disable")
		}
		e.must(e.do("POST", path+"/enable", e.dev, nil), http.StatusOK, &got)
		if got.Disabled {
			t.Fatal("enable did not enable")
		}

		e.must(e.do("POST", path+"/rotate-secret", e.dev, nil), http.StatusOK, &got)
		if got.Secret == nil || *got.Secret == secret {
			t.Fatalf("rotation answered secret %v", got.Secret)
		}
		if _, err := e.clients.Authenticate(context.Background(), c.ClientID, secret); err == nil {
			t.Fatal("the old secret still works after rotation")
		}
		if _, err := e.clients.Authenticate(context.Background(), c.ClientID, *got.Secret); err != nil {
			t.Fatalf("the new secret: %v", err)
		}

		// The admin registers a public client and lists everything; each
		// developer lists only their own.
		pub := clientBody("Native")
		pub["public"] = true
		pub["redirect_uris"] = []string{"http://127.0.0.1:7777/cb"}
		var p clientDoc
		e.must(e.do("POST", "/api/client", e.adminID, pub), http.StatusCreated, &p)
		if !p.Public || p.AuthMethod != "none" || p.Secret != nil || p.OwnerID != 0 {
			t.Fatalf("public client %+v", p)
		}
		var page struct {
			Clients []clientDoc `json:"clients"`
			Next    string      `json:"next"`
		}
		// Besides the two, ward's built-in service-account client (first).
		e.must(e.do("GET", "/api/client", e.adminID, nil), http.StatusOK, &page)
		if len(page.Clients) != 3 || page.Next != "" || page.Clients[0].ClientID != "ward-service-accounts" {
			t.Fatalf("admin lists %+v", page)
		}
		e.must(e.do("GET", "/api/client?limit=2", e.adminID, nil), http.StatusOK, &page)
		if len(page.Clients) != 2 || page.Next == "" {
			t.Fatalf("first page of two: %+v", page)
		}
		e.must(e.do("GET", "/api/client?limit=2&cursor="+page.Next, e.adminID, nil), http.StatusOK, &page)
		if len(page.Clients) != 1 || page.Clients[0].ClientID != p.ClientID {
			t.Fatalf("second page: %+v", page)
		}
		e.must(e.do("GET", "/api/client", e.dev, nil), http.StatusOK, &page)
		if len(page.Clients) != 1 || page.Clients[0].ClientID != c.ClientID {
			t.Fatalf("developer lists %+v", page)
		}
		e.must(e.do("GET", "/api/client", e.dev2, nil), http.StatusOK, &page)
		if len(page.Clients) != 0 {
			t.Fatalf("another developer lists %+v", page)
		}
	})
}

// Each route: allowed for the owner and an admin, refused to others.
func TestClientAPIPermissions(t *testing.T) {
	e := newClientEnv(t, testutil.SQLiteURL(t))
	var c clientDoc
	e.must(e.do("POST", "/api/client", e.dev, clientBody("Owned")), http.StatusCreated, &c)
	path := "/api/client/" + c.ClientID
	routes := []struct {
		method, path string
		body         any
		ok           int
	}{
		{"GET", path, nil, http.StatusOK},
		{"PUT", path, clientBody("Renamed"), http.StatusOK},
		{"POST", path + "/disable", nil, http.StatusOK},
		{"POST", path + "/enable", nil, http.StatusOK},
		{"POST", path + "/rotate-secret", nil, http.StatusOK},
	}
	callers := []struct {
		name string
		id   int64
		want int // 0: the route's success status
	}{
		{"owner", e.dev, 0},
		{"admin", e.adminID, 0},
		{"another developer", e.dev2, http.StatusForbidden},
		{"staff", e.staff, http.StatusForbidden},
		{"anonymous", 0, http.StatusUnauthorized},
	}
	for _, r := range routes {
		for _, who := range callers {
			t.Run(r.method+" "+strings.TrimPrefix(r.path, path)+" as "+who.name, func(t *testing.T) {
				res := e.do(r.method, r.path, who.id, r.body)
				if who.want == 0 {
					e.must(res, r.ok, nil)
					return
				}
				e.problem(res, who.want)
			})
		}
	}
	e.problem(e.do("POST", "/api/client", e.staff, clientBody("Nope")), http.StatusForbidden)
	e.problem(e.do("POST", "/api/client", 0, clientBody("Nope")), http.StatusUnauthorized)
	e.problem(e.do("GET", "/api/client", e.staff, nil), http.StatusForbidden)
	e.problem(e.do("GET", "/api/client?owner_id="+fmt.Sprint(e.dev2), e.dev, nil), http.StatusForbidden)
	owned := clientBody("Given away")
	owned["owner_id"] = e.dev2
	e.problem(e.do("POST", "/api/client", e.dev, owned), http.StatusForbidden)
	e.must(e.do("POST", "/api/client", e.adminID, owned), http.StatusCreated, nil)
}

func TestClientAPIBadInput(t *testing.T) {
	e := newClientEnv(t, testutil.SQLiteURL(t))
	var c clientDoc
	e.must(e.do("POST", "/api/client", e.adminID, clientBody("App")), http.StatusCreated, &c)
	with := func(k string, v any) map[string]any {
		b := clientBody("App")
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
		return b
	}
	cases := []struct {
		name   string
		body   any
		status int
		detail string
	}{
		{"not JSON", "{", http.StatusBadRequest, ""},
		{"http redirect", with("redirect_uris", []string{"http://app.example.org/cb"}), http.StatusBadRequest, "must use https"},
		{"fragment", with("redirect_uris", []string{"https://app.example.org/cb#f"}), http.StatusBadRequest, "fragment"},
		{"unknown grant", with("grant_types", []string{"password"}), http.StatusBadRequest, "password"},
		{"empty scope", with("scope", ""), http.StatusBadRequest, "scope"},
		{"malformed scope", with("scope", "openid  profile"), http.StatusBadRequest, "single spaces"},
		{"unknown auth method", with("token_endpoint_auth_method", "tls_client_auth"), http.StatusBadRequest, ""},
		{"private_key_jwt without keys", with("token_endpoint_auth_method", "private_key_jwt"), http.StatusBadRequest, "jwks"},
		{"jwks not a key set", with("jwks", map[string]any{"keys": "nope"}), http.StatusBadRequest, "JSON Web Key Set"},
		{"unknown token format", with("access_token_format", "paseto"), http.StatusBadRequest, ""},
		{"public with a secret method", func() map[string]any {
			b := with("public", true)
			b["token_endpoint_auth_method"] = "client_secret_basic"
			return b
		}(), http.StatusBadRequest, "auth method none"},
		{"unknown intervention", with("intervention", "ghost"), http.StatusBadRequest, "ghost"},
		{"oversized body", `{"client_name":"` + strings.Repeat("a", api.MaxBodyBytes) + `"}`, http.StatusRequestEntityTooLarge, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := e.problem(e.do("POST", "/api/client", e.adminID, c.body), c.status)
			if !strings.Contains(p.Detail, c.detail) {
				t.Fatalf("detail %q does not mention %q", p.Detail, c.detail)
			}
		})
	}
	e.problem(e.do("GET", "/api/client/no-such-client", e.adminID, nil), http.StatusNotFound)
	e.problem(e.do("PUT", "/api/client/"+c.ClientID, e.adminID, with("scope", " x")), http.StatusBadRequest)
	e.problem(e.do("GET", "/api/client?cursor=!!", e.adminID, nil), http.StatusBadRequest)
	var pub clientDoc
	b := clientBody("Public")
	b["public"] = true
	e.must(e.do("POST", "/api/client", e.adminID, b), http.StatusCreated, &pub)
	e.problem(e.do("POST", "/api/client/"+pub.ClientID+"/rotate-secret", e.adminID, nil), http.StatusBadRequest)
}

// An inline JWKS goes in and comes back as a JSON object, not a string.
func TestClientAPIInlineJWKS(t *testing.T) {
	e := newClientEnv(t, testutil.SQLiteURL(t))
	jwks := map[string]any{"keys": []map[string]string{{
		"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "use": "sig", "kid": "k1",
	}}}
	b := clientBody("Keys")
	b["jwks"] = jwks
	var out struct {
		AuthMethod string `json:"token_endpoint_auth_method"`
		JWKS       struct {
			Keys []map[string]string `json:"keys"`
		} `json:"jwks"`
		Secret *string `json:"client_secret"`
	}
	e.must(e.do("POST", "/api/client", e.dev, b), http.StatusCreated, &out)
	if out.AuthMethod != "private_key_jwt" || out.Secret != nil || len(out.JWKS.Keys) != 1 || out.JWKS.Keys[0]["kid"] != "k1" {
		t.Fatalf("created %+v", out)
	}
}
