package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/directory"
	"ward/internal/testutil"
)

// field returns the text of the element with id in a page body, "" when
// there is none.
func field(body, id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `">([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// createClient registers a client through the console as tok and returns
// its id and secret; it fails the test unless the answer is 201.
func (e *env) createClient(tok string, form url.Values) (id, secret string, p page) {
	e.t.Helper()
	p = e.post(tok, "/admin/clients", form)
	if p.Status != http.StatusCreated {
		e.t.Fatalf("register client %v = %d: %s", form, p.Status, p.Body)
	}
	return field(p.Body, "client-id"), field(p.Body, "client-secret"), p
}

// ccToken gets an access token with the client-credentials grant at the
// token endpoint, in-process.
func (e *env) ccToken(id, secret, scope string) string {
	e.t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/oauth/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	p := e.do("", r)
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(p.Body), &out); err != nil || p.Status != http.StatusOK || out.AccessToken == "" {
		e.t.Fatalf("client-credentials grant = %d %s (%v)", p.Status, p.Body, err)
	}
	return out.AccessToken
}

// userToken gives person userID a live token of a client owned by
// ownerID: an IdP system client handed to the developer, the one way to
// issue a person's token without a browser's authorization-code flow.
func (e *env) userToken(ownerID, userID int64) (clientID, token string) {
	e.t.Helper()
	sys := actor.System(context.Background())
	svc := e.srv.Services()
	c, _, err := svc.Clients.CreateSystem(sys, "Shared record", 0)
	if err != nil {
		e.t.Fatalf("create a system client: %v", err)
	}
	// Straight into the store: the registry lets no system client have an
	// owner, and the test needs a person's token of a developer's client.
	sc, err := svc.DB.GetClient(sys, c.ID)
	if err != nil {
		e.t.Fatalf("read the system client: %v", err)
	}
	sc.OwnerID = ownerID
	if err := svc.DB.UpdateClient(sys, sc); err != nil {
		e.t.Fatalf("give the system client an owner: %v", err)
	}
	svc.OAuth.InvalidateClient(c.ID)
	token, err = svc.OAuth.IssueIDPToken(sys, c.ID, userID, time.Now())
	if err != nil {
		e.t.Fatalf("issue a token for user %d: %v", userID, err)
	}
	return c.ID, token
}

// people are the four callers every clients test compares.
type people struct {
	admin, dev, dev2, pat     string
	adminU, devU, dev2U, patU *directory.User
}

func (e *env) people() people {
	var p people
	p.adminU = e.person("admin@example.org", []string{directory.RoleAdmin})
	p.devU = e.person("dev@example.org", []string{directory.RoleApplicationDeveloper})
	p.dev2U = e.person("dev2@example.org", []string{directory.RoleApplicationDeveloper})
	p.patU = e.person("pat@example.org", []string{directory.RolePatient})
	p.admin, p.dev, p.dev2, p.pat = e.session("admin@example.org"), e.session("dev@example.org"),
		e.session("dev2@example.org"), e.session("pat@example.org")
	return p
}

func wantStatus(t *testing.T, what string, p page, want int) {
	t.Helper()
	if p.Status != want {
		t.Errorf("%s = %d, want %d", what, p.Status, want)
	}
}

// wantDone checks a 303 to path with the notice key.
func wantDone(t *testing.T, what string, p page, path, key string) {
	t.Helper()
	if p.Status != http.StatusSeeOther || p.Location != path+"?done="+key {
		t.Errorf("%s = %d → %q, want 303 → %s?done=%s", what, p.Status, p.Location, path, key)
	}
}

// TestClientsList: administrators see every client, a developer their
// own, a patient none; the owner filter is the service's to allow.
func TestClientsList(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		p := e.people()
		devID, _, _ := e.createClient(p.dev, url.Values{"name": {"Dev app"}, "kind": {"public"},
			"grant_types": {"authorization_code"}, "redirect_uris": {"https://app.example/cb"}, "scope": {"openid patient/*.rs"}})
		dev2ID, _, _ := e.createClient(p.dev2, url.Values{"name": {"Other app"}, "kind": {"public"},
			"grant_types": {"authorization_code"}, "redirect_uris": {"https://other.example/cb"}, "scope": {"openid"}})
		adminID, _, _ := e.createClient(p.admin, url.Values{"name": {"Batch job"}, "grant_types": {"client_credentials"},
			"scope": {"system/Patient.rs"}})

		pg := e.get(p.admin, "/admin/clients")
		wantStatus(t, "admin list", pg, http.StatusOK)
		for _, id := range []string{devID, dev2ID, adminID} {
			if !strings.Contains(pg.Body, id) {
				t.Errorf("admin's list lacks client %s", id)
			}
		}
		pg = e.get(p.dev, "/admin/clients")
		wantStatus(t, "developer list", pg, http.StatusOK)
		if !strings.Contains(pg.Body, devID) || strings.Contains(pg.Body, dev2ID) || strings.Contains(pg.Body, adminID) {
			t.Errorf("developer's list: own %v, other developer's %v, admin's %v; want only their own",
				strings.Contains(pg.Body, devID), strings.Contains(pg.Body, dev2ID), strings.Contains(pg.Body, adminID))
		}
		if !strings.Contains(pg.Body, "pending approval") {
			t.Error("developer's list does not show their client pending")
		}
		wantStatus(t, "patient list", e.get(p.pat, "/admin/clients"), http.StatusForbidden)

		// The owner filter: an administrator may use it on anyone; a
		// developer is refused another's clients.
		pg = e.get(p.admin, "/admin/clients?owner="+strconv.FormatInt(p.devU.ID, 10))
		if pg.Status != http.StatusOK || !strings.Contains(pg.Body, devID) || strings.Contains(pg.Body, adminID) {
			t.Errorf("admin filtered by owner = %d (dev's %v, admin's %v)", pg.Status, strings.Contains(pg.Body, devID), strings.Contains(pg.Body, adminID))
		}
		wantStatus(t, "developer filtering by another owner", e.get(p.dev, "/admin/clients?owner="+strconv.FormatInt(p.dev2U.ID, 10)), http.StatusForbidden)

		// Narrowed by state and name, for a developer within their own.
		pg = e.get(p.admin, "/admin/clients?state=pending")
		if pg.Status != http.StatusOK || !strings.Contains(pg.Body, devID) || !strings.Contains(pg.Body, dev2ID) || strings.Contains(pg.Body, adminID) {
			t.Errorf("admin's pending clients = %d (dev's %v, admin's %v)", pg.Status, strings.Contains(pg.Body, devID), strings.Contains(pg.Body, adminID))
		}
		pg = e.get(p.admin, "/admin/clients?name=batch&state=active")
		if pg.Status != http.StatusOK || !strings.Contains(pg.Body, adminID) || strings.Contains(pg.Body, devID) {
			t.Errorf("admin's active clients named batch = %d", pg.Status)
		}
		pg = e.get(p.dev, "/admin/clients?name=app")
		if pg.Status != http.StatusOK || !strings.Contains(pg.Body, devID) || strings.Contains(pg.Body, dev2ID) {
			t.Errorf("developer's clients named app = %d (another developer's listed: %v)", pg.Status, strings.Contains(pg.Body, dev2ID))
		}
		if pg := e.get(p.dev, "/admin/clients?state=disabled"); pg.Status != http.StatusOK || strings.Contains(pg.Body, devID) {
			t.Errorf("developer's disabled clients = %d", pg.Status)
		}

		// Pages of one: the pager leads through every client and back.
		seen, path := "", "/admin/clients?limit=1"
		for n := 0; path != ""; n++ {
			pg := e.get(p.admin, path)
			if pg.Status != http.StatusOK || strings.Count(pg.Body, "<tr>")-1 != 1 || (n > 0) != strings.Contains(pg.Body, `rel="first"`) {
				t.Fatalf("page %d of one (%s) = %d with %d rows", n, path, pg.Status, strings.Count(pg.Body, "<tr>")-1)
			}
			seen += pg.Body
			path = ""
			if next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(pg.Body); next != nil {
				path = html.UnescapeString(next[1])
			}
			if n > 10 {
				t.Fatal("the pager does not end")
			}
		}
		for _, id := range []string{devID, dev2ID, adminID} {
			if !strings.Contains(seen, id) {
				t.Errorf("paging by one never shows client %s", id)
			}
		}

		// The IdP system clients section is an administrator's.
		if !strings.Contains(e.get(p.admin, "/admin/clients").Body, `id="systems-heading"`) {
			t.Error("admin's clients page lacks the IdP system clients")
		}
		if strings.Contains(e.get(p.dev, "/admin/clients").Body, `id="systems-heading"`) {
			t.Error("developer's clients page shows the IdP system clients")
		}
	})
}

// TestClientCreate: the secret is shown once, in the answer to the
// registration; a developer's client is pending; what a developer may not
// give a client is refused with the service's reason; a patient may not
// register at all.
func TestClientCreate(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		p := e.people()
		wantStatus(t, "developer's form", e.get(p.dev, "/admin/clients/new"), http.StatusOK)

		id, secret, pg := e.createClient(p.dev, url.Values{"name": {"Dev server"}, "kind": {"confidential"},
			"grant_types": {"authorization_code", "refresh_token"}, "redirect_uris": {"https://app.example/cb\r\nhttps://app.example/cb2\r\n"},
			"scope": {"openid fhirUser patient/*.rs offline_access"}})
		if id == "" || len(secret) < 40 || !strings.Contains(pg.Body, `id="secret-warning"`) || !strings.Contains(pg.Body, `id="pending-note"`) {
			t.Fatalf("registration answer: id %q, secret %d chars, warning %v, pending %v", id, len(secret),
				strings.Contains(pg.Body, "secret-warning"), strings.Contains(pg.Body, "pending-note"))
		}
		if pg.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("the page with the secret has Cache-Control %q", pg.Header.Get("Cache-Control"))
		}
		c, err := e.srv.Services().Clients.Authenticate(context.Background(), id, secret)
		if err != nil || c.OwnerID != p.devU.ID || !c.Pending() || len(c.RedirectURIs) != 2 {
			t.Fatalf("the registered client: %+v %v", c, err)
		}
		// Never again.
		for _, path := range []string{"/admin/clients/" + id, "/admin/clients"} {
			if pg := e.get(p.dev, path); pg.Status != http.StatusOK || strings.Contains(pg.Body, secret) {
				t.Errorf("%s = %d, shows the secret: %v", path, pg.Status, strings.Contains(pg.Body, secret))
			}
		}

		// A developer asking for an administrator's powers.
		for what, form := range map[string]url.Values{
			"system scopes":      {"name": {"Bulk"}, "grant_types": {"authorization_code"}, "redirect_uris": {"https://a.example/cb"}, "scope": {"system/Patient.rs"}},
			"ward:api":           {"name": {"Manager"}, "grant_types": {"authorization_code"}, "redirect_uris": {"https://a.example/cb"}, "scope": {"openid ward:api"}},
			"client_credentials": {"name": {"Job"}, "grant_types": {"client_credentials"}, "scope": {"patient/*.rs"}},
		} {
			pg := e.post(p.dev, "/admin/clients", form)
			if pg.Status != http.StatusForbidden || !strings.Contains(pg.Body, `id="form-error"`) ||
				!strings.Contains(pg.Body, "only an administrator") || !strings.Contains(pg.Body, `id="client-form"`) {
				t.Errorf("developer registering %s = %d, want 403 with the reason above the form:\n%s", what, pg.Status, field(pg.Body, "form-error"))
			}
		}
		// The administrator may, and the client is active at once.
		_, secret, pg = e.createClient(p.admin, url.Values{"name": {"Bulk"}, "grant_types": {"client_credentials"}, "scope": {"system/Patient.rs"}})
		if secret == "" || strings.Contains(pg.Body, `id="pending-note"`) || field(pg.Body, "client-state") != "active" {
			t.Errorf("admin's client: secret %v, state %q", secret != "", field(pg.Body, "client-state"))
		}
		// A public client has no secret to show.
		_, secret, pg = e.createClient(p.dev, url.Values{"name": {"SPA"}, "kind": {"public"}, "grant_types": {"authorization_code"},
			"redirect_uris": {"https://spa.example/cb"}, "scope": {"openid"}})
		if secret != "" || !strings.Contains(pg.Body, `id="no-secret"`) {
			t.Errorf("public client shows a secret %q", secret)
		}
		// Invalid settings come back on the form with what was typed.
		pg = e.post(p.dev, "/admin/clients", url.Values{"name": {"No redirect"}, "grant_types": {"authorization_code"}, "scope": {"openid"}})
		if pg.Status != http.StatusBadRequest || !strings.Contains(pg.Body, `value="No redirect"`) || field(pg.Body, "form-error") == "" {
			t.Errorf("invalid registration = %d, error %q", pg.Status, field(pg.Body, "form-error"))
		}
		// A developer may not name another owner; a patient may not register.
		pg = e.post(p.dev, "/admin/clients", url.Values{"name": {"Theirs"}, "kind": {"public"}, "grant_types": {"authorization_code"},
			"redirect_uris": {"https://t.example/cb"}, "scope": {"openid"}, "owner_id": {strconv.FormatInt(p.dev2U.ID, 10)}})
		wantStatus(t, "developer registering for another owner", pg, http.StatusForbidden)
		pg = e.post(p.pat, "/admin/clients", url.Values{"name": {"Mine"}, "kind": {"public"}, "grant_types": {"authorization_code"},
			"redirect_uris": {"https://m.example/cb"}, "scope": {"openid"}})
		wantStatus(t, "patient registering", pg, http.StatusForbidden)
	})
}

// TestClientActions: the client page and its state changes, each with the
// caller allowed beside the one refused.
func TestClientActions(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		p := e.people()
		id, secret, _ := e.createClient(p.dev, url.Values{"name": {"Dev server"}, "grant_types": {"authorization_code"},
			"redirect_uris": {"https://app.example/cb"}, "scope": {"openid patient/*.rs"}})
		path := "/admin/clients/" + id

		pg := e.get(p.dev, path)
		if pg.Status != http.StatusOK || field(pg.Body, "client-state") != "pending approval" || strings.Contains(pg.Body, `id="approve"`) {
			t.Errorf("owner's page = %d, state %q, offers approval %v", pg.Status, field(pg.Body, "client-state"), strings.Contains(pg.Body, `id="approve"`))
		}
		if pg := e.get(p.admin, path); pg.Status != http.StatusOK || !strings.Contains(pg.Body, `id="approve"`) {
			t.Errorf("admin's page = %d, offers approval %v", pg.Status, strings.Contains(pg.Body, `id="approve"`))
		}
		wantStatus(t, "another developer's view", e.get(p.dev2, path), http.StatusForbidden)
		wantStatus(t, "patient's view", e.get(p.pat, path), http.StatusForbidden)
		wantStatus(t, "unknown client", e.get(p.admin, "/admin/clients/nosuchclient"), http.StatusNotFound)

		// Approval is an administrator's.
		wantStatus(t, "owner approving", e.post(p.dev, path+"/approve", nil), http.StatusForbidden)
		wantDone(t, "admin approving", e.post(p.admin, path+"/approve", nil), path, "client-approved")
		if pg := e.get(p.dev, path+"?done=client-approved"); field(pg.Body, "client-state") != "active" || field(pg.Body, "notice") == "" {
			t.Errorf("after approval: state %q, notice %q", field(pg.Body, "client-state"), field(pg.Body, "notice"))
		}

		// Disable and enable: the owner may, nobody else.
		for _, who := range []string{p.dev2, p.pat} {
			wantStatus(t, "stranger disabling", e.post(who, path+"/disable", nil), http.StatusForbidden)
		}
		wantDone(t, "owner disabling", e.post(p.dev, path+"/disable", nil), path, "client-disabled")
		if pg := e.get(p.dev, path); field(pg.Body, "client-state") != "disabled" || !strings.Contains(pg.Body, `id="enable"`) {
			t.Errorf("after disabling: state %q", field(pg.Body, "client-state"))
		}
		wantStatus(t, "stranger enabling", e.post(p.dev2, path+"/enable", nil), http.StatusForbidden)
		wantDone(t, "owner enabling", e.post(p.dev, path+"/enable", nil), path, "client-enabled")
		// The owner's enable sends it back for approval (grantpolicy).
		if st := field(e.get(p.dev, path).Body, "client-state"); st != "pending approval" {
			t.Errorf("after the owner enabled it: %q", st)
		}

		// Rotation shows the new secret once; the old one stops working.
		wantStatus(t, "stranger rotating", e.post(p.dev2, path+"/rotate-secret", nil), http.StatusForbidden)
		pg = e.post(p.dev, path+"/rotate-secret", nil)
		fresh := field(pg.Body, "client-secret")
		if pg.Status != http.StatusOK || fresh == "" || fresh == secret || !strings.Contains(pg.Body, `id="secret-warning"`) {
			t.Fatalf("rotate = %d, new secret %q", pg.Status, fresh)
		}
		cs := e.srv.Services().Clients
		if _, err := cs.Authenticate(context.Background(), id, secret); err == nil {
			t.Error("the old secret still works")
		}
		if _, err := cs.Authenticate(context.Background(), id, fresh); err != nil {
			t.Errorf("the new secret: %v", err)
		}
		if strings.Contains(e.get(p.dev, path).Body, fresh) {
			t.Error("the client page shows the rotated secret")
		}
		// A public client has no secret to rotate.
		pub, _, _ := e.createClient(p.dev, url.Values{"name": {"SPA"}, "kind": {"public"}, "grant_types": {"authorization_code"},
			"redirect_uris": {"https://spa.example/cb"}, "scope": {"openid"}})
		wantStatus(t, "rotating a public client", e.post(p.dev, "/admin/clients/"+pub+"/rotate-secret", nil), http.StatusBadRequest)
	})
}

// TestClientGrants: the people who authorized a client and its live
// tokens, listed and revoked by whoever manages the client.
func TestClientGrants(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		p := e.people()

		// A person's token of a client the developer owns.
		sysID, _ := e.userToken(p.devU.ID, p.patU.ID)
		path := "/admin/clients/" + sysID
		pg := e.get(p.dev, path)
		userRevoke := fmt.Sprintf(`action="%s/users/%d/revoke"`, path, p.patU.ID)
		if pg.Status != http.StatusOK || !strings.Contains(pg.Body, userRevoke) || !strings.Contains(pg.Body, `class="token-row"`) {
			t.Fatalf("owner's page = %d, lists the person: %v, a token: %v", pg.Status, strings.Contains(pg.Body, userRevoke),
				strings.Contains(pg.Body, `class="token-row"`))
		}
		wantStatus(t, "another developer's view", e.get(p.dev2, path), http.StatusForbidden)

		// A second person, listed before the first (user ids ascend); the
		// people list's cursor is the last user id shown.
		if _, err := e.srv.Services().OAuth.IssueIDPToken(actor.System(context.Background()), sysID, p.adminU.ID, time.Now()); err != nil {
			t.Fatalf("issue a second person's token: %v", err)
		}
		adminRevoke := fmt.Sprintf(`action="%s/users/%d/revoke"`, path, p.adminU.ID)
		if pg := e.get(p.dev, path); !strings.Contains(pg.Body, adminRevoke) || !strings.Contains(pg.Body, userRevoke) {
			t.Error("the client's page does not list both people")
		}
		pg = e.get(p.dev, fmt.Sprintf("%s?users_after=%d", path, p.adminU.ID))
		if pg.Status != http.StatusOK || strings.Contains(pg.Body, adminRevoke) || !strings.Contains(pg.Body, userRevoke) || !strings.Contains(pg.Body, `rel="first"`) {
			t.Errorf("people after user %d = %d (lists them: %v)", p.adminU.ID, pg.Status, strings.Contains(pg.Body, adminRevoke))
		}
		wantDone(t, "owner revoking the second person", e.post(p.dev, fmt.Sprintf("%s/users/%d/revoke", path, p.adminU.ID), nil), path, "client-user-revoked")

		userPath := fmt.Sprintf("%s/users/%d/revoke", path, p.patU.ID)
		wantStatus(t, "another developer revoking the person", e.post(p.dev2, userPath, nil), http.StatusForbidden)
		wantDone(t, "owner revoking the person", e.post(p.dev, userPath, nil), path, "client-user-revoked")
		pg = e.get(p.dev, path)
		if !strings.Contains(pg.Body, `id="no-users"`) || !strings.Contains(pg.Body, `id="no-tokens"`) {
			t.Error("after revoking the person the client still lists them or their token")
		}
		wantStatus(t, "revoking a person with nothing left", e.post(p.dev, userPath, nil), http.StatusNotFound)

		// The client's own tokens, a page at a time, each revocable.
		id, secret, _ := e.createClient(p.admin, url.Values{"name": {"Batch"}, "grant_types": {"client_credentials"}, "scope": {"system/Patient.rs"}})
		e.ccToken(id, secret, "system/Patient.rs")
		e.ccToken(id, secret, "system/Patient.rs")
		path = "/admin/clients/" + id
		pg = e.get(p.admin, path+"?limit=1")
		if pg.Status != http.StatusOK || strings.Count(pg.Body, `class="token-row"`) != 1 || !strings.Contains(pg.Body, `rel="next"`) {
			t.Fatalf("tokens page of one = %d, rows %d", pg.Status, strings.Count(pg.Body, `class="token-row"`))
		}
		wantStatus(t, "developer viewing the admin's client", e.get(p.dev, path), http.StatusForbidden)
		m := regexp.MustCompile(`action="(/admin/clients/[^"]+/tokens/(\d+)/revoke)"`).FindStringSubmatch(pg.Body)
		if m == nil {
			t.Fatal("no token revoke form")
		}
		wantStatus(t, "developer revoking the admin's token", e.post(p.dev, m[1], nil), http.StatusForbidden)
		wantDone(t, "admin revoking a token", e.post(p.admin, m[1], nil), path, "client-token-revoked")
		pg = e.get(p.admin, path)
		if strings.Count(pg.Body, `class="token-row"`) != 1 || strings.Contains(pg.Body, `/tokens/`+m[2]+`/revoke"`) {
			t.Errorf("after revoking token %s the page lists %d tokens", m[2], strings.Count(pg.Body, `class="token-row"`))
		}
		// A token of another client is not this client's to revoke.
		wantStatus(t, "revoking another client's token", e.post(p.dev, "/admin/clients/"+sysID+"/tokens/"+m[2]+"/revoke", nil), http.StatusNotFound)
	})
}

// TestSystemClients: the IdP system clients are an administrator's; the
// API token is shown once.
func TestSystemClients(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		p := e.people()
		wantStatus(t, "developer registering a system", e.post(p.dev, "/admin/clients/systems", url.Values{"name": {"SHR"}}), http.StatusForbidden)
		pg := e.post(p.admin, "/admin/clients/systems", url.Values{"name": {"SHR"}})
		id, tok := field(pg.Body, "client-id"), field(pg.Body, "system-token")
		if pg.Status != http.StatusCreated || id == "" || tok == "" {
			t.Fatalf("register a system = %d", pg.Status)
		}
		cs := e.srv.Services().Clients
		if _, err := cs.AuthenticateSystem(context.Background(), id, tok); err != nil {
			t.Fatalf("the shown token: %v", err)
		}
		if pg := e.get(p.admin, "/admin/clients"); !strings.Contains(pg.Body, id) || strings.Contains(pg.Body, tok) {
			t.Error("the list lacks the system client or shows its token")
		}
		base := "/admin/clients/systems/" + id
		wantStatus(t, "developer rotating", e.post(p.dev, base+"/rotate", nil), http.StatusForbidden)
		pg = e.post(p.admin, base+"/rotate", nil)
		if fresh := field(pg.Body, "system-token"); pg.Status != http.StatusOK || fresh == "" || fresh == tok {
			t.Fatalf("rotate = %d", pg.Status)
		}
		wantStatus(t, "developer revoking", e.post(p.dev, base+"/revoke", nil), http.StatusForbidden)
		wantDone(t, "admin revoking", e.post(p.admin, base+"/revoke", nil), "/admin/clients", "system-revoked")
		if c, err := cs.Get(actor.System(context.Background()), id); err != nil || !c.Disabled {
			t.Errorf("after revoking: %+v %v", c, err)
		}
		wantStatus(t, "bad organization", e.post(p.admin, "/admin/clients/systems", url.Values{"name": {"X"}, "organization_id": {"x"}}), http.StatusBadRequest)
	})
}

// TestClientsBadInput: NUL, invalid UTF-8, over-long fields and an
// over-large body in the forms and query strings get a 4xx page.
func TestClientsBadInput(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		p := e.people()
		id, _, _ := e.createClient(p.dev, url.Values{"name": {"App"}, "kind": {"public"}, "grant_types": {"authorization_code"},
			"redirect_uris": {"https://app.example/cb"}, "scope": {"openid"}})
		base := url.Values{"name": {"App"}, "kind": {"public"}, "grant_types": {"authorization_code"},
			"redirect_uris": {"https://app.example/cb"}, "scope": {"openid"}}
		with := func(k, v string) url.Values {
			f := url.Values{}
			for kk, vv := range base {
				f[kk] = vv
			}
			f.Set(k, v)
			return f
		}
		forms := map[string]url.Values{
			"NUL name":           with("name", "a\x00b"),
			"invalid UTF-8 name": with("name", "a\xffb"),
			"long name":          with("name", strings.Repeat("n", 300)),
			"huge name":          with("name", strings.Repeat("n", 100<<10)),
			"NUL scope":          with("scope", "openid\x00"),
			"invalid UTF-8 URI":  with("redirect_uris", "https://app.example/\xff"),
			"huge scope":         with("scope", strings.Repeat("openid ", 20000)),
			"many URIs":          with("redirect_uris", strings.Repeat("https://app.example/cb\n", 50)),
			"bad owner":          with("owner_id", "12abc"),
			"NUL owner":          with("owner_id", "\x00"),
			"bad kind":           with("kind", "both"),
			"bad grant":          with("grant_types", "password"),
			"bad token format":   with("token_format", "\xff"),
			"body over 1 MiB":    with("jwks", strings.Repeat("k", 2<<20)),
			"bad JWKS":           with("jwks", "{not json"),
			"name sent twice":    {"name": {"a", "b"}},
		}
		for what, form := range forms {
			pg := e.post(p.dev, "/admin/clients", form)
			if pg.Status < 400 || pg.Status >= 500 {
				t.Errorf("register with %s = %d, want 4xx", what, pg.Status)
			}
		}
		for _, path := range []string{
			"/admin/clients?owner=abc", "/admin/clients?owner=%00", "/admin/clients?owner=-1",
			"/admin/clients?after=%ff", "/admin/clients?systems_after=%00",
			"/admin/clients?state=gone", "/admin/clients?state=%00", "/admin/clients?name=" + strings.Repeat("n", 300),
			"/admin/clients?name=%ff", "/admin/clients?after=garbage",
			"/admin/clients/%ff", "/admin/clients/a%00b", "/admin/clients/" + strings.Repeat("x", 300),
			"/admin/clients/" + id + "?after=%ff", "/admin/clients/" + id + "?after=garbage",
			"/admin/clients/" + id + "?users_after=%00", "/admin/clients/" + id + "?users_after=x", "/admin/clients/" + id + "?users_after=-3",
		} {
			pg := e.get(p.admin, path)
			if pg.Status < 400 || pg.Status >= 500 {
				t.Errorf("GET %s = %d, want 4xx", path, pg.Status)
			}
		}
		for _, path := range []string{
			"/admin/clients/" + id + "/users/abc/revoke", "/admin/clients/" + id + "/users/-1/revoke",
			"/admin/clients/" + id + "/tokens/0/revoke", "/admin/clients/" + id + "/tokens/99999999999999999999/revoke",
			"/admin/clients/%ff/disable", "/admin/clients/" + strings.Repeat("x", 300) + "/enable",
		} {
			pg := e.post(p.dev, path, nil)
			if pg.Status < 400 || pg.Status >= 500 {
				t.Errorf("POST %s = %d, want 4xx", path, pg.Status)
			}
		}
		for what, form := range map[string]url.Values{
			"NUL system name": {"name": {"\x00"}}, "invalid UTF-8 system name": {"name": {"\xff"}},
			"long system name": {"name": {strings.Repeat("s", 300)}}, "huge system name": {"name": {strings.Repeat("s", 2<<20)}},
		} {
			pg := e.post(p.admin, "/admin/clients/systems", form)
			if pg.Status < 400 || pg.Status >= 500 {
				t.Errorf("register a system with %s = %d, want 4xx", what, pg.Status)
			}
		}
	})
}
