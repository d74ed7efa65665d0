package api_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/api"
	"ward/internal/audit"
	"ward/internal/connector"
	"ward/internal/directory"
	"ward/internal/secrets"
	"ward/internal/sqlstore"
	"ward/internal/testutil"
)

// noTokens is a token endpoint the management API never reaches.
type noTokens struct{}

func (noTokens) Token(context.Context, connector.TokenRequest) (*connector.TokenResponse, error) {
	return nil, errors.New("not in this test")
}

const connSecret = "api-test-client-secret-31d9"

func newConnectorEnv(t *testing.T, url string) (*env, int64) {
	t.Helper()
	now := func() time.Time { return testNow }
	st := testutil.NewStore(t, url, sqlstore.WithClock(now))
	aud := audit.NewLog(audit.Deps{Store: st, Tx: st}, audit.Config{Version: "test", Now: now})
	dir := directory.NewService(directory.Deps{Store: st, Audit: aud, Hasher: plainHasher{}}, directory.Config{Now: now})
	aead, err := connector.NewMasterKeyAEAD(bytes.Repeat([]byte{7}, secrets.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	conns, err := connector.NewService(connector.Deps{Store: st, Tx: st, Directory: dir, Audit: aud, Keyset: aead,
		Tokens: noTokens{}}, connector.Config{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Mount(mux, api.Deps{Directory: dir, Audit: aud, Connectors: conns, Base: "https://ward.test",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	sys := actor.System(context.Background())
	mk := func(email string, roles ...string) int64 {
		u, err := dir.CreateUser(sys, directory.NewUser{User: directory.User{Email: email}, Roles: roles})
		if err != nil {
			t.Fatalf("create %s: %v", email, err)
		}
		return u.ID
	}
	e := &env{t: t, h: testActor(mux), dir: dir}
	e.adminID = mk("admin@example.org", directory.RoleAdmin)
	return e, mk("staff@example.org", directory.RoleStaff)
}

func connectorBody() map[string]any {
	return map[string]any{"name": "campdoc", "base_url": "https://mis.example.org/api/v2",
		"authorize_url": "https://mis.example.org/oauth/authorize", "token_url": "https://mis.example.org/oauth/token",
		"client_id": "ward", "client_secret": connSecret,
		"redirect_uri": "https://ward.test/admin/connectors/campdoc/callback", "scopes": []string{"profiles"}}
}

type connectorDoc struct {
	Name        string   `json:"name"`
	Status      string   `json:"status"`
	Scopes      []string `json:"scopes"`
	ConnectPath string   `json:"connect_path"`
	TokenExpiry *string  `json:"token_expiry"`
	// ProfileSystem is the effective profile identifier system.
	ProfileSystem string `json:"profile_system"`
}

func TestConnectorAPI(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e, staff := newConnectorEnv(t, url)
		noSecret := func(res response) {
			t.Helper()
			if bytes.Contains(res.body, []byte(connSecret)) {
				t.Fatalf("a response shows the client secret: %s", res.body)
			}
		}

		// Refused callers beside the allowed one.
		for _, as := range []int64{staff, 0} {
			want := http.StatusForbidden
			if as == 0 {
				want = http.StatusUnauthorized
			}
			e.problem(e.do("POST", "/api/connector", as, connectorBody()), want)
			e.problem(e.do("GET", "/api/connector", as, nil), want)
		}
		var c connectorDoc
		res := e.do("POST", "/api/connector", e.adminID, connectorBody())
		noSecret(res)
		e.must(res, http.StatusCreated, &c)
		if c.Name != "campdoc" || c.Status != "unprimed" || c.ConnectPath != "/admin/connectors/campdoc/connect" ||
			c.TokenExpiry != nil || len(c.Scopes) != 1 || c.ProfileSystem != "urn:ward:connector:campdoc:profile" {
			t.Fatalf("created: %+v", c)
		}
		if loc := res.header.Get("Location"); loc != "https://ward.test/api/connector/campdoc" {
			t.Fatalf("Location %q", loc)
		}
		e.problem(e.do("POST", "/api/connector", e.adminID, connectorBody()), http.StatusConflict)
		for _, as := range []int64{staff, 0} {
			res := e.do("GET", "/api/connector/campdoc", as, nil)
			if res.status != http.StatusForbidden && res.status != http.StatusUnauthorized {
				t.Fatalf("GET as %d: %d", as, res.status)
			}
			res = e.do("DELETE", "/api/connector/campdoc", as, nil)
			if res.status != http.StatusForbidden && res.status != http.StatusUnauthorized {
				t.Fatalf("DELETE as %d: %d", as, res.status)
			}
		}
		res = e.do("GET", "/api/connector/campdoc", e.adminID, nil)
		noSecret(res)
		e.must(res, http.StatusOK, &c)
		var list struct{ Connectors []connectorDoc }
		res = e.do("GET", "/api/connector", e.adminID, nil)
		noSecret(res)
		e.must(res, http.StatusOK, &list)
		if len(list.Connectors) != 1 {
			t.Fatalf("list: %+v", list)
		}

		// Bad input is a 4xx, never a 500.
		bad := func(field string, v any) map[string]any {
			b := connectorBody()
			b["name"] = "other"
			b[field] = v
			return b
		}
		for _, body := range []any{
			bad("name", "a\x00b"), bad("name", "Upper"), bad("client_id", "a\x00b"), bad("client_secret", ""),
			bad("token_url", "http://mis.example.org/token"), bad("base_url", "ftp://mis.example.org"),
			bad("authorize_url", "https://user:pw@mis.example.org/a"), bad("redirect_uri", "not a url"),
			bad("scopes", []string{"a b"}), bad("client_id", strings.Repeat("x", 600)),
			`{"name":"other","client_id":"` + "\xff\xfe" + `"}`, strings.Repeat(`{"a":`, 100000),
			`{"name":"other","client_secret":"` + strings.Repeat("s", 4<<20) + `"}`,
		} {
			res := e.do("POST", "/api/connector", e.adminID, body)
			if res.status < 400 || res.status >= 500 {
				t.Fatalf("bad body: status %d, want 4xx; %.200s", res.status, res.body)
			}
		}
		for _, path := range []string{"/api/connector/nope", "/api/connector/a%00b", "/api/connector/%ff"} {
			res := e.do("GET", path, e.adminID, nil)
			if res.status < 400 || res.status >= 500 {
				t.Fatalf("GET %s: %d, want 4xx", path, res.status)
			}
		}
		e.must(e.do("DELETE", "/api/connector/campdoc", e.adminID, nil), http.StatusNoContent, nil)
		e.problem(e.do("GET", "/api/connector/campdoc", e.adminID, nil), http.StatusNotFound)
	})
}

// TestConnectorProfileSystemAPI: a connector's own profile identifier
// system is stored and shown; a bad one is a 400 naming the field, on
// both databases.
func TestConnectorProfileSystemAPI(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e, staff := newConnectorEnv(t, url)
		body := connectorBody()
		body["profile_system"] = "https://mis.example.org/fhir/profile-id"
		e.problem(e.do("POST", "/api/connector", staff, body), http.StatusForbidden)
		var c connectorDoc
		e.must(e.do("POST", "/api/connector", e.adminID, body), http.StatusCreated, &c)
		if c.ProfileSystem != "https://mis.example.org/fhir/profile-id" {
			t.Fatalf("created: %+v", c)
		}
		c = connectorDoc{}
		e.must(e.do("GET", "/api/connector/campdoc", e.adminID, nil), http.StatusOK, &c)
		if c.ProfileSystem != "https://mis.example.org/fhir/profile-id" {
			t.Fatalf("read back: %+v", c)
		}
		for _, v := range []string{"profile", "urn:", "ftp://x.example.org/p", "https://", "urn:a b",
			"urn:a\x00b", "urn:a\tb", "urn:" + strings.Repeat("x", 252), "http:/relative"} {
			b := connectorBody()
			b["name"] = "other"
			b["profile_system"] = v
			if p := e.problem(e.do("POST", "/api/connector", e.adminID, b), http.StatusBadRequest); !strings.Contains(p.Detail, "profile_system") {
				t.Fatalf("profile_system %q: detail %q does not name the field", v, p.Detail)
			}
		}
		raw := `{"name":"other","base_url":"https://mis.example.org","authorize_url":"https://mis.example.org/a",` +
			`"token_url":"https://mis.example.org/t","client_id":"c","client_secret":"s",` +
			`"redirect_uri":"https://ward.test/cb","profile_system":"urn:` + "\xff" + `"}`
		// The JSON decoder turns an invalid byte into U+FFFD (valid text);
		// the service refuses raw invalid UTF-8 (TestProfileSystemCheck).
		if res := e.do("POST", "/api/connector", e.adminID, raw); res.status >= 500 {
			t.Fatalf("invalid UTF-8 profile_system: %d, want no 5xx", res.status)
		}
	})
}
