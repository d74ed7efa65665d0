package idpcompat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/idpcompat"
	"ward/internal/oauth"
	"ward/internal/server"
	"ward/internal/store"
	"ward/internal/testutil"
)

const password = "correct horse battery staple"

// fixture is a server with one person (groups and the seed's profiles) and
// one registered system client.
type fixture struct {
	cfg      config.Config
	srv      *server.Server
	h        http.Handler
	user     *directory.User
	clientID string
	token    string
}

func newFixture(t *testing.T, dbURL string, mutate func(*config.Config), opts ...server.Option) *fixture {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = dbURL
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := server.New(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	svc := srv.Services()
	ctx := actor.System(context.Background())
	u, err := svc.Directory.CreateUser(ctx, directory.NewUser{
		User:     directory.User{Email: "xyz@example.org", GivenName: "Dr. X Y", FamilyName: "Z"},
		Password: password, Roles: []string{directory.RoleClinician},
	})
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	for _, g := range []string{"MCI Admin", "API Consumer"} {
		if _, err := svc.Directory.CreateGroup(ctx, &directory.Group{Name: g, Description: g}); err != nil {
			t.Fatalf("create group: %v", err)
		}
	}
	if _, err := svc.Directory.SetUserGroups(ctx, u.ID, []string{"MCI Admin", "API Consumer"}); err != nil {
		t.Fatalf("set groups: %v", err)
	}
	if _, err := svc.Directory.SetUserProfiles(ctx, u.ID, seedProfiles()); err != nil {
		t.Fatalf("set profiles: %v", err)
	}
	c, token, err := svc.Clients.CreateSystem(ctx, "SHR @ DGHS MIS", 0)
	if err != nil {
		t.Fatalf("create system client: %v", err)
	}
	return &fixture{cfg: cfg, srv: srv, h: srv.Handler(), user: u, clientID: c.ID, token: token}
}

func seedProfiles() []directory.Profile {
	return []directory.Profile{
		{Type: "provider", ID: "123", Catchment: []string{"302618", "302614"}},
		{Type: "admin", ID: "2", Catchment: []string{"3026"}},
		{Type: "facility", ID: "10000069", Catchment: []string{"302618"}},
		{Type: "patient", ID: "10091232131", Catchment: []string{}},
	}
}

// call makes one request with the system headers id and token ("" leaves
// a header out) and returns the status and decoded JSON body.
func (f *fixture) call(t *testing.T, method, path, id, token string, form url.Values) (int, map[string]any) {
	t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	r := httptest.NewRequest(method, path, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if id != "" {
		r.Header.Set("client_id", id)
	}
	if token != "" {
		r.Header.Set("X-Auth-Token", token)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, r)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s %s = %d, body not JSON: %v: %q", method, path, rec.Code, err, rec.Body.String())
	}
	return rec.Code, out
}

func (f *fixture) signIn(t *testing.T, email, pw string) (int, map[string]any) {
	t.Helper()
	return f.call(t, "POST", idpcompat.PathSignIn, f.clientID, f.token, url.Values{"email": {email}, "password": {pw}})
}

func tokenPath(tok string) string   { return "/api/1.0/sso/token/" + tok }
func signOutPath(tok string) string { return "/api/1.0/sso/signout/" + tok }

// seed reads one of the seed's examples (testdata/README.md).
func seed(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

// kind is a JSON value's kind as encoding/json decodes it.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// sameShape reports every difference of keys and JSON kinds between got
// and the seed's want. A null in the seed stands for a timestamp that may
// be set (a string) or not (null).
func sameShape(t *testing.T, where string, got, want map[string]any) {
	t.Helper()
	for k, wv := range want {
		gv, ok := got[k]
		if !ok {
			t.Errorf("%s: key %q missing", where, k)
			continue
		}
		gk, wk := kind(gv), kind(wv)
		if gk != wk && !(wk == "null" && gk == "string") && !(wk == "string" && gk == "null" && strings.HasSuffix(k, "_at")) &&
			!(k == "last_login" && gk == "null") {
			t.Errorf("%s: key %q is %s, the seed's is %s", where, k, gk, wk)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: key %q is not in the seed", where, k)
		}
	}
}

var stampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`)

func TestDoneMeans(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		f := newFixture(t, dbURL, nil)

		status, body := f.signIn(t, "XYZ@example.org", password)
		if status != 200 {
			t.Fatalf("signin = %d %v", status, body)
		}
		sameShape(t, "signin", body, seed(t, "seed003_signin.json"))
		tok, _ := body["access_token"].(string)
		if tok == "" {
			t.Fatal("signin gave no access_token")
		}

		status, info := f.call(t, "GET", tokenPath(tok), f.clientID, f.token, nil)
		if status != 200 {
			t.Fatalf("token lookup = %d %v", status, info)
		}
		want := seed(t, "seed003_userinfo.json")
		sameShape(t, "token lookup", info, want)
		// The profiles' keys and kinds, one by one.
		for i, p := range info["profiles"].([]any) {
			sameShape(t, fmt.Sprintf("profile %d", i), p.(map[string]any), want["profiles"].([]any)[0].(map[string]any))
		}
		if info["id"] != float64(f.user.ID) || info["email"] != "xyz@example.org" || info["name"] != "Dr. X Y Z" ||
			info["access_token"] != tok || info["is_active"] != true || info["deleted_at"] != nil {
			t.Errorf("token lookup = %v", info)
		}
		for _, k := range []string{"last_login", "created_at", "updated_at"} {
			if s, _ := info[k].(string); !stampRE.MatchString(s) {
				t.Errorf("%s = %v, want YYYY-MM-DD hh:mm:ss", k, info[k])
			}
		}
		gotGroups := []string{}
		for _, g := range info["groups"].([]any) {
			gotGroups = append(gotGroups, g.(string))
		}
		slices.Sort(gotGroups)
		if !slices.Equal(gotGroups, []string{"API Consumer", "MCI Admin"}) {
			t.Errorf("groups = %v", gotGroups)
		}
		gotProfiles, _ := json.Marshal(info["profiles"])
		wantProfiles, _ := json.Marshal(want["profiles"])
		var g, w []map[string]any
		_ = json.Unmarshal(gotProfiles, &g)
		_ = json.Unmarshal(wantProfiles, &w)
		key := func(m map[string]any) string { return fmt.Sprint(m["type"], m["id"], m["catchment"]) }
		gk, wk := []string{}, []string{}
		for _, m := range g {
			gk = append(gk, key(m))
		}
		for _, m := range w {
			wk = append(wk, key(m))
		}
		slices.Sort(gk)
		slices.Sort(wk)
		if !slices.Equal(gk, wk) {
			t.Errorf("profiles = %v, want the seed's %v", gk, wk)
		}

		// An ordinary ward token: the token tools see it, with the system
		// client as its client.
		svc := f.srv.Services()
		ti, err := svc.OAuth.InspectToken(actor.System(context.Background()), tok)
		if err != nil || !ti.Active || ti.ClientID != f.clientID || ti.UserID != f.user.ID || !slices.Equal(ti.Scopes, []string{client.IDPScope}) {
			t.Fatalf("inspect = %+v, %v", ti, err)
		}

		status, body = f.call(t, "POST", signOutPath(tok), f.clientID, f.token, nil)
		if status != 200 || body["error"] != false {
			t.Fatalf("signout = %d %v", status, body)
		}
		status, body = f.call(t, "GET", tokenPath(tok), f.clientID, f.token, nil)
		if status != 404 || body["error"] != true || body["code"] != float64(404) || body["id"] != nil {
			t.Errorf("lookup after signout = %d %v, want 404 in the seed's error shape", status, body)
		}
		status, body = f.call(t, "POST", signOutPath(tok), f.clientID, f.token, nil)
		if status != 404 || body["error"] != true {
			t.Errorf("second signout = %d %v, want 404", status, body)
		}
		if ti, err := svc.OAuth.InspectToken(actor.System(context.Background()), tok); err != nil || ti.Active {
			t.Errorf("inspect after signout = %+v, %v; want inactive", ti, err)
		}

		// A wrong or missing header is 401 everywhere, in the seed's shape.
		status, tok2 := f.signIn(t, "xyz@example.org", password)
		if status != 200 {
			t.Fatalf("second signin = %d", status)
		}
		live := tok2["access_token"].(string)
		errWant := seed(t, "seed003_error.json")
		for _, c := range []struct{ id, token string }{
			{f.clientID, "wrong"}, {"unknown", f.token}, {"", f.token}, {f.clientID, ""}, {"", ""},
		} {
			for _, req := range []struct {
				method, path string
				form         url.Values
			}{
				{"POST", idpcompat.PathSignIn, url.Values{"email": {"xyz@example.org"}, "password": {password}}},
				{"GET", tokenPath(live), nil},
				{"POST", signOutPath(live), nil},
			} {
				status, body := f.call(t, req.method, req.path, c.id, c.token, req.form)
				if status != 401 || fmt.Sprint(body) != fmt.Sprint(errWant) {
					t.Errorf("%s %s with client_id %q token %q = %d %v, want 401 %v", req.method, req.path, c.id, c.token, status, body, errWant)
				}
			}
		}
		// The refused sign-out left the token alone.
		if status, _ := f.call(t, "GET", tokenPath(live), f.clientID, f.token, nil); status != 200 {
			t.Errorf("lookup after refused signouts = %d, want 200", status)
		}
	})
}

func TestSignInRefusals(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		f := newFixture(t, dbURL, func(c *config.Config) { c.SigninRatePerMinute = 0 })
		errWant := seed(t, "seed003_error.json")

		// A wrong password and an unknown email get the seed's body, 401.
		for _, email := range []string{"xyz@example.org", "nobody@example.org"} {
			status, body := f.signIn(t, email, "wrong password")
			if status != 401 || fmt.Sprint(body) != fmt.Sprint(errWant) {
				t.Errorf("signin %s with a wrong password = %d %v, want 401 %v", email, status, body, errWant)
			}
		}
		// The browser form's lockout applies: after 5 failures in all the
		// right password is refused too.
		for range 4 {
			if status, _ := f.signIn(t, "xyz@example.org", "wrong password"); status != 401 {
				t.Fatalf("signin = %d, want 401", status)
			}
		}
		status, body := f.signIn(t, "xyz@example.org", password)
		if status != 401 || fmt.Sprint(body) != fmt.Sprint(errWant) {
			t.Errorf("signin of a locked account = %d %v, want 401", status, body)
		}
		// The web form sees the same lock: one counter.
		if _, _, err := f.srv.Services().Sessions.Login(context.Background(), "xyz@example.org", password); !apperr.Is(err, apperr.Unauthenticated) {
			t.Errorf("form login while locked through the IdP API = %v, want refused", err)
		}
	})
}

func TestThrottle(t *testing.T) {
	f := newFixture(t, "", func(c *config.Config) { c.SigninRatePerMinute = 1 })
	// Burst failures from one address, then 429 in the seed's shape.
	saw429 := false
	for i := range 40 {
		status, body := f.signIn(t, fmt.Sprintf("u%d@example.org", i), "wrong")
		if status == 429 {
			saw429 = body["error"] == true && body["code"] == float64(429)
			break
		}
	}
	if !saw429 {
		t.Error("no 429 after a burst of failed sign-ins from one address")
	}
}

func TestRevokedSystemClient(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		f := newFixture(t, dbURL, nil)
		svc := f.srv.Services()
		ctx := actor.System(context.Background())
		other, otherToken, err := svc.Clients.CreateSystem(ctx, "MCI @ DGHS MIS", 0)
		if err != nil {
			t.Fatal(err)
		}
		_, body := f.signIn(t, "xyz@example.org", password)
		tok := body["access_token"].(string)
		// Another system may look a token up (audited with the caller).
		if status, info := f.call(t, "GET", tokenPath(tok), other.ID, otherToken, nil); status != 200 || info["id"] != float64(f.user.ID) {
			t.Errorf("cross-system lookup = %d %v, want 200", status, info)
		}
		evs, _, err := svc.Audit.List(ctx, audit.Filter{Type: audit.IDPTokenLookedUp}, store.Page{Limit: 10})
		if err != nil || len(evs) != 1 || !strings.Contains(evs[0].Comment, other.ID) || !strings.Contains(evs[0].Comment, f.clientID) {
			t.Errorf("cross-system lookup audit = %+v, %v; want one event naming both systems", evs, err)
		}
		// A system looking up its own token is not such an event.
		if status, _ := f.call(t, "GET", tokenPath(tok), f.clientID, f.token, nil); status != 200 {
			t.Errorf("own lookup = %d", status)
		}
		if evs, _, _ := svc.Audit.List(ctx, audit.Filter{Type: audit.IDPTokenLookedUp}, store.Page{Limit: 10}); len(evs) != 1 {
			t.Errorf("own lookup audited as a cross-system one: %d events", len(evs))
		}
		// Rotation: the old API token stops at once, the new one works,
		// the people signed in stay signed in.
		_, newToken, err := svc.Clients.RotateSystem(ctx, f.clientID)
		if err != nil {
			t.Fatal(err)
		}
		if status, _ := f.call(t, "GET", tokenPath(tok), f.clientID, f.token, nil); status != 401 {
			t.Errorf("lookup with the rotated-out API token = %d, want 401", status)
		}
		if status, _ := f.call(t, "GET", tokenPath(tok), f.clientID, newToken, nil); status != 200 {
			t.Errorf("lookup with the new API token = %d, want 200", status)
		}
		// Revoking the system: 401 for it, and its tokens are gone for all.
		if _, err := svc.Clients.RevokeSystem(ctx, f.clientID); err != nil {
			t.Fatal(err)
		}
		if status, _ := f.call(t, "GET", tokenPath(tok), f.clientID, newToken, nil); status != 401 {
			t.Errorf("lookup by a revoked system = %d, want 401", status)
		}
		if _, err := svc.Clients.Enable(ctx, f.clientID); !apperr.Is(err, apperr.Conflict) {
			t.Errorf("enable a revoked system client = %v, want Conflict (revocation is for good)", err)
		}
		if status, _ := f.call(t, "GET", tokenPath(tok), other.ID, otherToken, nil); status != 404 {
			t.Errorf("lookup of a revoked system's token = %d, want 404", status)
		}
		// Header values no database can store name no client: 401, not 500.
		for _, id := range []string{"a\x00b", "\xff\xfe", strings.Repeat("x", 5000)} {
			if status, _ := f.call(t, "GET", tokenPath(tok), id, "whatever", nil); status != 401 {
				t.Errorf("client_id %q = %d, want 401", id, status)
			}
		}
		// An ordinary OAuth client's credentials are not a system's.
		oc, secret, err := svc.Clients.Create(ctx, client.Settings{Name: "app", GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/*.rs"})
		if err != nil {
			t.Fatal(err)
		}
		if status, _ := f.call(t, "POST", idpcompat.PathSignIn, oc.ID, secret, url.Values{"email": {"xyz@example.org"}, "password": {password}}); status != 401 {
			t.Errorf("signin with an OAuth client's credentials = %d, want 401", status)
		}
	})
}

func TestBadInput(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		f := newFixture(t, dbURL, nil)
		raw := func(method, path, ctype, body string) (int, map[string]any) {
			r := httptest.NewRequest(method, path, strings.NewReader(body))
			if ctype != "" {
				r.Header.Set("Content-Type", ctype)
			}
			r.Header.Set("client_id", f.clientID)
			r.Header.Set("X-Auth-Token", f.token)
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, r)
			var out map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Errorf("%s %s: body not JSON: %q", method, path, rec.Body.String())
			}
			return rec.Code, out
		}
		form := "application/x-www-form-urlencoded"
		for _, c := range []struct {
			name, method, path, ctype, body string
			want                            int
		}{
			{"oversized form", "POST", idpcompat.PathSignIn, form, "email=a%40b.c&password=" + strings.Repeat("x", idpcompat.MaxFormBytes), 413},
			{"NUL in email", "POST", idpcompat.PathSignIn, form, "email=a%00b&password=x", 400},
			{"invalid UTF-8 in password", "POST", idpcompat.PathSignIn, form, "email=a%40b.c&password=%ff%fe", 400},
			{"missing password", "POST", idpcompat.PathSignIn, form, "email=a%40b.c", 400},
			{"not a form", "POST", idpcompat.PathSignIn, "application/json", `{"email":"a@b.c"}`, 400},
			{"token segment with a space", "GET", "/api/1.0/sso/token/a%20b", "", "", 400},
			{"token segment with NUL", "GET", "/api/1.0/sso/token/a%00b", "", "", 400},
			{"token segment of invalid UTF-8", "POST", "/api/1.0/sso/signout/%ff", "", "", 400},
			{"huge token segment", "GET", "/api/1.0/sso/token/" + strings.Repeat("a", 5000), "", "", 400},
			{"unknown token", "GET", "/api/1.0/sso/token/ward_at_nothing.here", "", "", 404},
			{"unknown path", "GET", "/api/1.0/sso/whoami", "", "", 404},
			{"wrong method", "GET", idpcompat.PathSignIn, "", "", 404},
		} {
			status, body := raw(c.method, c.path, c.ctype, c.body)
			if status != c.want || body["error"] != true {
				t.Errorf("%s: %d %v, want %d in the seed's error shape", c.name, status, body, c.want)
			}
		}
	})
}

// TestLookupRefusals: the look-up (answered from one database read when
// every row exists) refuses what the step-by-step path refuses: a wrong
// X-Auth-Token beside a live token, an expired token, a deleted person's
// token and an ordinary OAuth client's token; the same live token still
// resolves for its system beside each refusal.
func TestLookupRefusals(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		f := newFixture(t, dbURL, nil)
		svc := f.srv.Services()
		ctx := actor.System(context.Background())
		_, body := f.signIn(t, "xyz@example.org", password)
		tok := body["access_token"].(string)
		if status, info := f.call(t, "GET", tokenPath(tok), f.clientID, f.token, nil); status != 200 || info["id"] != float64(f.user.ID) {
			t.Fatalf("lookup = %d %v, want 200", status, info)
		}
		if status, info := f.call(t, "GET", tokenPath(tok), f.clientID, f.token+"x", nil); status != 401 || info["id"] != nil {
			t.Errorf("lookup with a wrong X-Auth-Token = %d %v, want 401 and no user data", status, info)
		}

		// An ordinary OAuth client's token is not an IdP token.
		oc, secret, err := svc.Clients.Create(ctx, client.Settings{Name: "app", GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/*.rs"})
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader("grant_type=client_credentials&scope=system%2FPatient.rs"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(oc.ID, secret)
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, r)
		var cc struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &cc); err != nil || cc.AccessToken == "" {
			t.Fatalf("client credentials token: %d %s", rec.Code, rec.Body)
		}
		if status, info := f.call(t, "GET", tokenPath(cc.AccessToken), f.clientID, f.token, nil); status != 404 || info["id"] != nil {
			t.Errorf("lookup of an OAuth client's token = %d %v, want 404", status, info)
		}

		// A deleted person's token stops at once.
		if err := svc.Directory.DeleteUser(ctx, f.user.ID); err != nil {
			t.Fatal(err)
		}
		if status, info := f.call(t, "GET", tokenPath(tok), f.clientID, f.token, nil); status != 404 || info["id"] != nil {
			t.Errorf("lookup of a deleted person's token = %d %v, want 404", status, info)
		}
	})
}

// TestLookupExpired: a token past its lifetime is refused.
func TestLookupExpired(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		f := newFixture(t, dbURL, func(c *config.Config) { c.IDPTokenLifetime = time.Millisecond })
		_, body := f.signIn(t, "xyz@example.org", password)
		tok, _ := body["access_token"].(string)
		if tok == "" {
			t.Fatalf("signin = %v", body)
		}
		time.Sleep(20 * time.Millisecond) // let the token expire; no timing is asserted
		if status, info := f.call(t, "GET", tokenPath(tok), f.clientID, f.token, nil); status != 404 || info["id"] != nil {
			t.Errorf("lookup of an expired token = %d %v, want 404", status, info)
		}
	})
}

// clock is a test clock shared by two replicas.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestSystemClientChangeOnAnotherReplica: the look-up takes the calling
// system client from the replica's client cache, under the rule of every
// client authentication in ward (oauth.ClientCacheTTL): a rotation or
// revocation is seen at once on the replica that made it and within
// ClientCacheTTL on another replica of the same database; a new system
// works at once everywhere (unknown ids are not cached); a signed-out
// token and a deleted person are refused at once on both (their rows are
// read on every request).
func TestSystemClientChangeOnAnotherReplica(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		clk := &clock{t: time.Now()}
		one := newFixture(t, dbURL, nil, server.WithClock(clk.now))
		srv, err := server.New(context.Background(), one.cfg, server.WithClock(clk.now))
		if err != nil {
			t.Fatalf("second replica: %v", err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		two := *one
		two.srv, two.h = srv, srv.Handler()
		svc := one.srv.Services()
		ctx := actor.System(context.Background())
		other, otherToken, err := svc.Clients.CreateSystem(ctx, "MCI @ DGHS MIS", 0)
		if err != nil {
			t.Fatal(err)
		}
		_, body := one.signIn(t, "xyz@example.org", password)
		tok := body["access_token"].(string)
		lookup := func(f *fixture, id, secret string) int {
			t.Helper()
			status, info := f.call(t, "GET", tokenPath(tok), id, secret, nil)
			if (status == 200) != (info["id"] == float64(one.user.ID)) {
				t.Fatalf("lookup = %d %v", status, info)
			}
			return status
		}
		want := func(what string, f *fixture, id, secret string, status int) {
			t.Helper()
			if got := lookup(f, id, secret); got != status {
				t.Errorf("%s = %d, want %d", what, got, status)
			}
		}
		// Both replicas hold both systems.
		for _, f := range []*fixture{one, &two} {
			want("own lookup", f, one.clientID, one.token, 200)
			want("cross-system lookup", f, other.ID, otherToken, 200)
		}

		// Rotation on replica one.
		_, rotated, err := svc.Clients.RotateSystem(ctx, one.clientID)
		if err != nil {
			t.Fatal(err)
		}
		want("replica one, rotated-out API token", one, one.clientID, one.token, 401)
		want("replica one, new API token", one, one.clientID, rotated, 200)
		// Replica two still answers from its copy (read before the
		// rotation): this is what the clock step below makes stale.
		want("replica two within ClientCacheTTL, old API token", &two, one.clientID, one.token, 200)
		clk.advance(oauth.ClientCacheTTL)
		want("replica two after ClientCacheTTL, rotated-out API token", &two, one.clientID, one.token, 401)
		want("replica two after ClientCacheTTL, new API token", &two, one.clientID, rotated, 200)
		want("replica two, the other system", &two, other.ID, otherToken, 200)

		// Revocation of the other system on replica one.
		if _, err := svc.Clients.RevokeSystem(ctx, other.ID); err != nil {
			t.Fatal(err)
		}
		want("replica one, revoked system", one, other.ID, otherToken, 401)
		want("replica two within ClientCacheTTL, revoked system", &two, other.ID, otherToken, 200)
		clk.advance(oauth.ClientCacheTTL)
		want("replica two after ClientCacheTTL, revoked system", &two, other.ID, otherToken, 401)

		// A new system works at once on both replicas.
		third, thirdToken, err := svc.Clients.CreateSystem(ctx, "CR @ DGHS MIS", 0)
		if err != nil {
			t.Fatal(err)
		}
		want("replica one, new system", one, third.ID, thirdToken, 200)
		want("replica two, new system", &two, third.ID, thirdToken, 200)

		// The token and the person are read on every request.
		if status, _ := one.call(t, "POST", signOutPath(tok), one.clientID, rotated, nil); status != 200 {
			t.Fatalf("signout = %d", status)
		}
		want("replica two, signed-out token", &two, third.ID, thirdToken, 404)
		want("replica two, signed-out token, own system", &two, one.clientID, rotated, 404)
		_, body = one.call(t, "POST", idpcompat.PathSignIn, one.clientID, rotated,
			url.Values{"email": {"xyz@example.org"}, "password": {password}})
		tok, _ = body["access_token"].(string)
		want("replica two, new token", &two, one.clientID, rotated, 200)
		if err := svc.Directory.DeleteUser(ctx, one.user.ID); err != nil {
			t.Fatal(err)
		}
		want("replica two, deleted person", &two, one.clientID, rotated, 404)
		want("replica two, deleted person, another system", &two, third.ID, thirdToken, 404)
	})
}
