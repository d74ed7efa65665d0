package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/bulk"
	"ward/internal/client"
	"ward/internal/config"
	"ward/internal/connector"
	"ward/internal/directory"
	"ward/internal/server"
	"ward/internal/store"
	"ward/internal/testutil"
	"ward/internal/webhook"
)

// newEnvConfig is newEnv with a change to the configuration first.
func newEnvConfig(t *testing.T, dbURL string, change func(*config.Config)) *env {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = dbURL
	cfg.Issuer = "http://ward.test"
	change(&cfg)
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return &env{t: t, srv: srv, h: srv.Handler()}
}

// ops is what the home, exports and connectors tests set up through the
// services: an administrator, a developer, a patient (each signed in), a
// backend client with one export kicked off, a disabled webhook and an
// unprimed connector.
type ops struct {
	admin, dev, pat *directory.User
	// sessions
	adminS, devS, patS string
	backend            *client.Client
	exportID           string
	webhookID          string
}

// allBulkScopes let a backend client export everything.
var allBulkScopes = []string{"system/*.$export", "system/*.read"}

func setupOps(e *env) ops {
	e.t.Helper()
	var o ops
	o.admin = e.person("admin@example.org", []string{directory.RoleAdmin})
	o.dev = e.person("dev@example.org", []string{directory.RoleApplicationDeveloper})
	o.pat = e.person("pat@example.org", []string{directory.RolePatient})
	o.adminS, o.devS, o.patS = e.session("admin@example.org"), e.session("dev@example.org"), e.session("pat@example.org")
	svc := e.srv.Services()
	sys := actor.System(context.Background())
	var err error
	if o.backend, _, err = svc.Clients.Create(sys, client.Settings{Name: "Backend",
		GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/*.cruds system/*.$export"}); err != nil {
		e.t.Fatalf("create a backend client: %v", err)
	}
	o.exportID = kickOff(e, o.backend.ID)
	w, _, err := svc.Webhooks.Create(sys, webhook.NewSubscription{ClientID: o.backend.ID,
		URL: "https://receiver.example.org/ward", Events: []string{string(audit.UserUpdated)}})
	if err != nil {
		e.t.Fatalf("create a webhook: %v", err)
	}
	disabled := webhook.StatusDisabled
	if _, err := svc.Webhooks.Update(sys, w.ID, webhook.Changes{Status: &disabled}); err != nil {
		e.t.Fatalf("disable the webhook: %v", err)
	}
	o.webhookID = w.ID
	if _, err := svc.Connectors.Create(sys, connector.Settings{Name: "campdoc",
		BaseURL: "https://mis.example.org/api/v2", AuthorizeURL: "https://mis.example.org/oauth/authorize",
		TokenURL: "https://mis.example.org/oauth/token", ClientID: "ward", ClientSecret: "connector secret 77",
		RedirectURI: "https://ward.example.org/admin/connectors/campdoc/callback"}); err != nil {
		e.t.Fatalf("create a connector: %v", err)
	}
	return o
}

// kickOff starts a system export as the backend client and returns its id.
func kickOff(e *env, clientID string) string {
	e.t.Helper()
	ctx := actor.With(context.Background(), actor.Actor{ClientID: clientID, Scopes: allBulkScopes})
	ex, _, err := e.srv.Exports().KickOff(ctx, bulk.KickOff{Level: bulk.LevelSystem, Values: url.Values{},
		RequestURL: "http://ward.test/fhir/$export"})
	if err != nil {
		e.t.Fatalf("kick off an export: %v", err)
	}
	return ex.ID
}

// TestHome: an administrator's home shows every count, the warnings (a
// disabled webhook, an unprimed connector, a service token expiring within
// six weeks), the recent audit events with the link to the log, job health
// and connector health; a developer's shows only their clients' count and
// their own activity; a patient's no count their services refuse.
func TestHome(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		// Service tokens live 30 days here, inside the six-week warning.
		e := newEnvConfig(t, dbURL, func(c *config.Config) {
			c.ServiceTokenLifetime = 30 * 24 * time.Hour
			c.ServiceTokenAlertWindow = 7 * 24 * time.Hour
		})
		o := setupOps(e)
		sa, err := e.srv.Services().OAuth.CreateServiceAccount(actor.System(context.Background()), o.dev.ID)
		if err != nil {
			t.Fatalf("create a service account: %v", err)
		}

		p := e.get(o.adminS, "/admin")
		if p.Status != http.StatusOK {
			t.Fatalf("admin home = %d", p.Status)
		}
		for _, want := range []string{
			`id="home-heading">Admin console`,
			`id="count-people"`, `id="count-organizations"`, `id="count-clients"`, `id="count-tokens"`,
			`id="count-exports"`, `id="count-webhooks"`,
			`<span class="count">4</span> <span class="count-label">People`, // three people and the service account
			`<span class="count">1</span> <span class="count-label">Bulk exports`,
			`<span class="count">1</span> <span class="count-label">Webhooks`,
			`<span class="count">1</span> <span class="count-label">Live tokens`,
			"1 webhook subscription(s) are disabled", `href="/admin/webhooks"`,
			"Connector campdoc is unprimed", `href="/admin/connectors/campdoc/connect"`,
			"The token of service account " + strconv.FormatInt(sa.User.ID, 10) + " expires",
			`id="recent-audit"`, "Recent audit events", `href="/admin/audit"`, "connector.created",
			`id="job-health"`, `id="connector-health"`,
		} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("admin home lacks %q", want)
			}
		}

		// A developer counts their own clients (none) and sees their own
		// activity; nothing an administrator alone may count or see.
		p = e.get(o.devS, "/admin")
		if p.Status != http.StatusOK {
			t.Fatalf("developer home = %d", p.Status)
		}
		if !strings.Contains(p.Body, `<span class="count">0</span> <span class="count-label">API clients`) ||
			!strings.Contains(p.Body, "Your recent activity") {
			t.Errorf("developer home lacks their client count or their activity")
		}
		for _, hidden := range []string{`id="count-people"`, `id="count-tokens"`, `id="count-exports"`, `id="count-webhooks"`,
			`id="job-health"`, `id="connector-health"`, "webhook subscription(s) are disabled", "campdoc", "service account",
			"Recent audit events", `href="/admin/audit"`} {
			if strings.Contains(p.Body, hidden) {
				t.Errorf("developer home shows %q", hidden)
			}
		}
		// A patient: no clients count either (refused, not shown as 0).
		p = e.get(o.patS, "/admin")
		if p.Status != http.StatusOK {
			t.Fatalf("patient home = %d", p.Status)
		}
		for _, hidden := range []string{`id="count-people"`, `id="count-clients"`, `id="count-tokens"`, `id="count-exports"`,
			`id="count-webhooks"`, `id="job-health"`, `id="connector-health"`, "campdoc"} {
			if strings.Contains(p.Body, hidden) {
				t.Errorf("patient home shows %q", hidden)
			}
		}
		// Anonymous: to sign in.
		if p := e.get("", "/admin"); p.Status != http.StatusSeeOther {
			t.Errorf("anonymous home = %d, want 303", p.Status)
		}
	})
}

// TestHomeCounts: the counting methods added for the home page answer an
// administrator with the right numbers and refuse everyone else, on both
// databases (client.Service.Count lets a developer count their own).
func TestHomeCounts(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		o := setupOps(e)
		svc := e.srv.Services()
		bg := context.Background()
		as := func(u *directory.User) context.Context { return actor.With(bg, actor.Actor{UserID: u.ID}) }
		admin, dev, pat := as(o.admin), as(o.dev), as(o.pat)
		if _, _, err := svc.Clients.Create(dev, client.Settings{Name: "Dev app", RedirectURIs: []string{"https://dev.example.org/cb"},
			GrantTypes: []string{client.GrantAuthorizationCode}, Scope: "openid"}); err != nil {
			t.Fatalf("developer creates a client: %v", err)
		}

		all, _, err := svc.Clients.List(admin, client.Filter{}, store.Page{Limit: 1000})
		if err != nil {
			t.Fatalf("list clients: %v", err)
		}
		if n, err := svc.Clients.Count(admin, client.Filter{}); err != nil || n != len(all) || n < 2 {
			t.Errorf("admin counts clients = %d, %v; want %d (the backend, the developer's and ward's own)", n, err, len(all))
		}
		if n, err := svc.Clients.Count(dev, client.Filter{}); err != nil || n != 1 {
			t.Errorf("developer counts clients = %d, %v; want their 1", n, err)
		}
		if _, err := svc.Clients.Count(dev, client.Filter{OwnerID: o.admin.ID}); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("developer counts another's clients: %v, want Forbidden", err)
		}
		if _, err := svc.Clients.Count(pat, client.Filter{}); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("patient counts clients: %v, want Forbidden", err)
		}

		if n, err := svc.OAuth.CountLiveTokens(admin); err != nil || n != 0 {
			t.Errorf("admin counts live tokens = %d, %v; want 0", n, err)
		}
		if _, err := svc.OAuth.CreateServiceAccount(admin, o.admin.ID); err != nil {
			t.Fatalf("create a service account: %v", err)
		}
		if n, err := svc.OAuth.CountLiveTokens(admin); err != nil || n != 1 {
			t.Errorf("admin counts live tokens = %d, %v; want the service token", n, err)
		}
		// The default service token lives a year: nothing within six weeks,
		// but within 400 days.
		if ts, err := svc.OAuth.ExpiringServiceTokens(admin, 6*7*24*time.Hour); err != nil || len(ts) != 0 {
			t.Errorf("expiring within six weeks = %v, %v; want none", ts, err)
		}
		if _, err := svc.OAuth.CreateServiceAccount(admin, o.dev.ID); err != nil {
			t.Fatalf("create a second service account: %v", err)
		}
		if ts, err := svc.OAuth.ExpiringServiceTokens(admin, 400*24*time.Hour); err != nil || len(ts) != 2 {
			t.Errorf("expiring within 400 days = %v, %v; want both service accounts' tokens", ts, err)
		}
		if _, err := svc.OAuth.ExpiringServiceTokens(admin, 0); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("zero window: %v, want Invalid", err)
		}

		if c, err := svc.Webhooks.Count(admin); err != nil || c.Total != 1 || c.Disabled != 1 {
			t.Errorf("admin counts webhooks = %+v, %v; want 1 disabled of 1", c, err)
		}
		for name, ctx := range map[string]context.Context{"developer": dev, "patient": pat} {
			if _, err := svc.OAuth.CountLiveTokens(ctx); !apperr.Is(err, apperr.Forbidden) {
				t.Errorf("%s counts live tokens: %v, want Forbidden", name, err)
			}
			if _, err := svc.OAuth.ExpiringServiceTokens(ctx, time.Hour); !apperr.Is(err, apperr.Forbidden) {
				t.Errorf("%s lists expiring service tokens: %v, want Forbidden", name, err)
			}
			if _, err := svc.Webhooks.Count(ctx); !apperr.Is(err, apperr.Forbidden) {
				t.Errorf("%s counts webhooks: %v, want Forbidden", name, err)
			}
			if _, err := e.srv.Exports().Count(ctx); !apperr.Is(err, apperr.Forbidden) {
				t.Errorf("%s counts exports: %v, want Forbidden", name, err)
			}
		}
		// A client acting for itself counts no one's webhooks but its own
		// (through List), not every subscription.
		if _, err := svc.Webhooks.Count(actor.With(bg, actor.Actor{ClientID: o.backend.ID})); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("a client counts every webhook: %v, want Forbidden", err)
		}
	})
}
