package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"ward/internal/actor"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/server"
	"ward/internal/store"
	"ward/internal/testutil"
	"ward/internal/testutil/browser"
	"ward/internal/webhook"
)

// newHookEnv is newEnv with outbound calls to loopback allowed, so a
// subscription may point at an httptest receiver.
func newHookEnv(t *testing.T, dbURL string) *env {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = dbURL
	cfg.Issuer = "http://ward.test"
	cfg.OutboundAllowPrivate = true
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return &env{t: t, srv: srv, h: srv.Handler()}
}

// receiver is a webhook receiver that takes organization.created and
// refuses everything else (503), so one delivery succeeds and one fails.
func receiver(t *testing.T) *httptest.Server {
	t.Helper()
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(string(b), `"type":"organization.created"`) {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(rcv.Close)
	return rcv
}

// hookClientID is the system client the test subscriptions deliver for.
const hookClientID = "hooks-app"

// seedWebhook registers the client and subscribes rcvURL, through the
// service, to organization events; then an organization is created and
// renamed. With deliver, the events are dispatched and sent (the receiver
// takes the first and refuses the second). It returns the subscription.
func seedWebhook(t *testing.T, e *env, rcvURL string, deliver bool) *webhook.Subscription {
	t.Helper()
	svc := e.srv.Services()
	ctx := actor.System(context.Background())
	now := time.Now()
	if err := svc.DB.CreateClient(ctx, &client.Client{ID: hookClientID, Settings: client.Settings{Name: "Hooks app",
		GrantTypes: []string{"client_credentials"}, Scope: "system/Patient.read", AuthMethod: "client_secret_basic",
		TokenFormat: "opaque"}, Status: client.StatusActive, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatalf("register the client: %v", err)
	}
	sub, _, err := svc.Webhooks.Create(ctx, webhook.NewSubscription{ClientID: hookClientID, URL: rcvURL,
		Events: []string{string(audit.OrganizationCreated), string(audit.OrganizationUpdated)}, Description: "clinic feed"})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	org, err := svc.Directory.CreateOrganization(ctx, &directory.Organization{Name: "Northside Clinic"})
	if err != nil {
		t.Fatalf("create an organization: %v", err)
	}
	org.Name = "Northside Health"
	if _, err := svc.Directory.UpdateOrganization(ctx, org); err != nil {
		t.Fatalf("rename the organization: %v", err)
	}
	if !deliver {
		return sub
	}
	if _, err := svc.WebhookOutbox.Dispatch(ctx); err != nil {
		t.Fatalf("dispatch: %v", err)
	}
	if err := svc.WebhookOutbox.Deliver(ctx, sub.ID); err != nil {
		t.Fatalf("deliver: %v", err)
	}
	return sub
}

// deliveries returns the subscription's delivery log, newest first.
func deliveries(t *testing.T, e *env, id string) []*webhook.Delivery {
	t.Helper()
	ds, _, err := e.srv.Services().Webhooks.Deliveries(actor.System(context.Background()), id, "", listAll)
	if err != nil {
		t.Fatalf("deliveries of %s: %v", id, err)
	}
	return ds
}

// TestWebhookPages: an administrator lists the subscriptions, opens one,
// sees its delivery log (filtered by status), a delivery with its
// payload, replays it, disables and enables the subscription, rotates its
// secret (shown once) and deletes it; a developer and a patient are
// refused each page and each action by the webhook service.
func TestWebhookPages(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newHookEnv(t, dbURL)
		rcv := receiver(t)
		e.person("admin@example.org", []string{directory.RoleAdmin})
		e.person("dev@example.org", []string{directory.RoleApplicationDeveloper})
		e.person("pat@example.org", []string{directory.RolePatient})
		admin, dev, pat := e.session("admin@example.org"), e.session("dev@example.org"), e.session("pat@example.org")
		sub := seedWebhook(t, e, rcv.URL, true)
		ds := deliveries(t, e, sub.ID)
		if len(ds) != 2 {
			t.Fatalf("%d deliveries after the seed, want 2", len(ds))
		}
		var ok, failed *webhook.Delivery
		for _, d := range ds {
			if d.Status == webhook.DeliverySucceeded {
				ok = d
			} else {
				failed = d
			}
		}
		if ok == nil || failed == nil {
			t.Fatalf("deliveries %+v; want one succeeded and one not", ds)
		}
		base := "/admin/webhooks/" + sub.ID
		okPath := base + "/deliveries/" + strconv.FormatInt(ok.ID, 10)
		before, err := e.srv.Services().Webhooks.Get(actor.System(context.Background()), sub.ID)
		if err != nil {
			t.Fatal(err)
		}

		// Refused: every page and every action, and nothing changes.
		for name, tok := range map[string]string{"developer": dev, "patient": pat} {
			for _, path := range []string{"/admin/webhooks", "/admin/webhooks/new", base, okPath} {
				if p := e.get(tok, path); p.Status != http.StatusForbidden || strings.Contains(p.Body, rcv.URL) {
					t.Errorf("%s GET %s = %d; want 403 showing nothing", name, path, p.Status)
				}
			}
			for path, form := range map[string]url.Values{
				"/admin/webhooks":  {"client_id": {hookClientID}, "url": {rcv.URL}, "events": {"user.created"}},
				base + "/status":   {"status": {"disabled"}},
				base + "/rotate":   nil,
				base + "/delete":   nil,
				okPath + "/replay": nil,
			} {
				if p := e.post(tok, path, form); p.Status != http.StatusForbidden || strings.Contains(p.Body, "whsec_") {
					t.Errorf("%s POST %s = %d; want 403", name, path, p.Status)
				}
			}
		}
		if got := deliveries(t, e, sub.ID); len(got) != 2 {
			t.Errorf("refused callers changed the delivery log: %d deliveries", len(got))
		}
		if w, err := e.srv.Services().Webhooks.Get(actor.System(context.Background()), sub.ID); err != nil ||
			w.Status != webhook.StatusEnabled || w.Version != before.Version {
			t.Errorf("refused callers changed the subscription: %+v, %v", w, err)
		}

		p := e.get(admin, "/admin/webhooks")
		for _, want := range []string{`href="` + base + `"`, hookClientID, rcv.URL, "organization.created", "enabled", "clinic feed"} {
			if p.Status != http.StatusOK || !strings.Contains(p.Body, want) {
				t.Errorf("admin /admin/webhooks = %d, lacks %s", p.Status, want)
			}
		}
		if p := e.get(admin, "/admin/webhooks?client=someone-else"); p.Status != http.StatusOK || !strings.Contains(p.Body, `id="no-webhooks"`) {
			t.Errorf("list for another client = %d; want none", p.Status)
		}

		p = e.get(admin, base)
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "Delivery "+strconv.FormatInt(ok.ID, 10)) ||
			!strings.Contains(p.Body, "Delivery "+strconv.FormatInt(failed.ID, 10)) || !strings.Contains(p.Body, "HTTP 503") {
			t.Fatalf("admin %s = %d; want both deliveries and the receiver's 503", base, p.Status)
		}
		p = e.get(admin, base+"?status=succeeded")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "Delivery "+strconv.FormatInt(ok.ID, 10)) ||
			strings.Contains(p.Body, "Delivery "+strconv.FormatInt(failed.ID, 10)) {
			t.Errorf("deliveries filtered by succeeded = %d; want only delivery %d", p.Status, ok.ID)
		}
		p = e.get(admin, okPath)
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "organization.created") ||
			!strings.Contains(p.Body, webhook.MessageID(ok.EventID)) || !strings.Contains(p.Body, "&#34;type&#34;:&#34;organization.created&#34;") {
			t.Errorf("admin delivery page = %d; want the event, its webhook-id and payload", p.Status)
		}

		// Replay: a new pending delivery of the same event, and a notice.
		p = e.post(admin, okPath+"/replay", nil)
		if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, base+"/deliveries/") || !strings.HasSuffix(p.Location, "?done=delivery-replayed") {
			t.Fatalf("admin replay = %d → %q; want 303 to the new delivery with a notice", p.Status, p.Location)
		}
		p = e.get(admin, p.Location)
		if p.Status != http.StatusOK || !strings.Contains(p.Body, `id="notice"`) || !strings.Contains(p.Body, "pending") {
			t.Errorf("the replayed delivery = %d; want it pending, with the notice", p.Status)
		}
		if got := deliveries(t, e, sub.ID); len(got) != 3 || got[0].EventID != ok.EventID || got[0].Status != webhook.DeliveryPending {
			t.Errorf("after the replay the log has %d deliveries, newest %+v; want a third, pending, of event %d", len(got), got[0], ok.EventID)
		}

		// Disable and enable.
		p = e.post(admin, base+"/status", url.Values{"status": {"disabled"}})
		if p.Status != http.StatusSeeOther || p.Location != base+"?done=webhook-disabled" {
			t.Fatalf("disable = %d → %q", p.Status, p.Location)
		}
		p = e.get(admin, p.Location)
		if !strings.Contains(p.Body, "disabled: disabled by user") || !strings.Contains(p.Body, `id="enable-webhook"`) {
			t.Errorf("after disabling, the page shows no reason or no enable button")
		}
		p = e.post(admin, base+"/status", url.Values{"status": {"enabled"}})
		if p.Status != http.StatusSeeOther || p.Location != base+"?done=webhook-enabled" {
			t.Errorf("enable = %d → %q", p.Status, p.Location)
		}
		if p := e.post(admin, base+"/status", url.Values{"status": {"paused"}}); p.Status != http.StatusBadRequest {
			t.Errorf("status paused = %d; want 400", p.Status)
		}

		// Rotate: the new secret on the answer, never again.
		p = e.post(admin, base+"/rotate", nil)
		secret := between(p.Body, `<p class="secret" id="webhook-secret">`, `</p>`)
		if p.Status != http.StatusOK || !strings.HasPrefix(secret, "whsec_") {
			t.Fatalf("rotate = %d, secret %q; want 200 showing a whsec_ secret", p.Status, secret)
		}
		if p := e.get(admin, base); strings.Contains(p.Body, secret) {
			t.Error("the subscription page shows the secret again")
		}

		// Delete: gone, with its log.
		if p := e.post(admin, base+"/delete", nil); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "tick the box") {
			t.Errorf("delete without the confirmation = %d; want 400", p.Status)
		}
		p = e.post(admin, base+"/delete", url.Values{"confirm": {"yes"}})
		if p.Status != http.StatusSeeOther || p.Location != "/admin/webhooks?done=webhook-deleted" {
			t.Fatalf("delete = %d → %q", p.Status, p.Location)
		}
		if p := e.get(admin, base); p.Status != http.StatusNotFound {
			t.Errorf("deleted subscription = %d; want 404", p.Status)
		}
	})
}

// listAll is a page long enough for every row a test makes.
var listAll = store.Page{Limit: 100}

// between returns the text of s between the first from and the next to.
func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, ok := strings.Cut(rest, to)
	if !ok {
		return ""
	}
	return v
}

// TestWebhookCreate: an administrator subscribes a URL for a client and
// sees the secret once, on the answer; the URL rules show as a 400 on the
// form with what was typed; the service refuses a developer.
func TestWebhookCreate(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL) // outbound rules as in production: https, public
		e.person("admin@example.org", []string{directory.RoleAdmin})
		e.person("dev@example.org", []string{directory.RoleApplicationDeveloper})
		admin, dev := e.session("admin@example.org"), e.session("dev@example.org")
		seedWebhook(t, e, "https://hooks.example.org/first", false)

		if p := e.get(admin, "/admin/webhooks/new"); p.Status != http.StatusOK || !strings.Contains(p.Body, `<label for="w-events">`) {
			t.Errorf("admin /admin/webhooks/new = %d", p.Status)
		}
		form := url.Values{"client_id": {hookClientID}, "url": {"https://hooks.example.org/ward"},
			"events": {"user.created", "user.updated"}, "description": {"people feed"}}
		p := e.post(admin, "/admin/webhooks", form)
		secret := between(p.Body, `<p class="secret" id="webhook-secret">`, `</p>`)
		if p.Status != http.StatusOK || !strings.HasPrefix(secret, "whsec_") || !strings.Contains(p.Body, "user.updated") {
			t.Fatalf("create = %d, secret %q; want 200 with the secret and the subscription", p.Status, secret)
		}
		id := between(p.Body, `<a href="/admin/webhooks/`, `" id="to-webhook"`)
		if q := e.get(admin, "/admin/webhooks/"+id); q.Status != http.StatusOK || strings.Contains(q.Body, secret) {
			t.Errorf("the new subscription's page = %d (shows the secret: %v)", q.Status, strings.Contains(q.Body, secret))
		}
		if q := e.get(admin, "/admin/webhooks"); strings.Contains(q.Body, secret) || !strings.Contains(q.Body, "people feed") {
			t.Errorf("the list shows the secret, or not the new subscription")
		}

		for _, c := range []struct {
			name, url, want string
		}{
			{"plain http", "http://hooks.example.org/ward", "url must use https"},
			{"loopback", "https://127.0.0.1/ward", "is not public"},
			{"localhost", "https://localhost/ward", "may not name localhost"},
			{"not a URL", "hooks", "url must"},
		} {
			f := url.Values{"client_id": {hookClientID}, "url": {c.url}, "events": {"user.created"}}
			p := e.post(admin, "/admin/webhooks", f)
			if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, c.want) || !strings.Contains(p.Body, `value="`+c.url+`"`) {
				t.Errorf("%s: create = %d; want 400 saying %q on the form keeping the URL", c.name, p.Status, c.want)
			}
		}
		if p := e.post(admin, "/admin/webhooks", url.Values{"client_id": {"no-such-client"}, "url": {"https://hooks.example.org/x"},
			"events": {"user.created"}}); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "no such client") {
			t.Errorf("an unknown client = %d; want 400", p.Status)
		}
		if p := e.post(admin, "/admin/webhooks", url.Values{"client_id": {hookClientID}, "url": {"https://hooks.example.org/x"}}); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "at least one event type") {
			t.Errorf("no events = %d; want 400", p.Status)
		}

		if p := e.post(dev, "/admin/webhooks", form); p.Status != http.StatusForbidden || strings.Contains(p.Body, "whsec_") {
			t.Errorf("developer create = %d; want 403", p.Status)
		}
		ws, _, err := e.srv.Services().Webhooks.List(actor.System(context.Background()), "", listAll)
		if err != nil || len(ws) != 2 {
			t.Errorf("%d subscriptions (%v); want the seed's and the admin's only", len(ws), err)
		}
	})
}

// TestWebhookBadInput: values no id, status or text can be get a 4xx
// page, never a 500, on both databases.
func TestWebhookBadInput(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		e.person("admin@example.org", []string{directory.RoleAdmin})
		admin := e.session("admin@example.org")
		sub := seedWebhook(t, e, "https://hooks.example.org/ward", false)
		base := "/admin/webhooks/" + sub.ID
		for _, path := range []string{
			"/admin/webhooks?client=%00", "/admin/webhooks?client=%FF", "/admin/webhooks?client=" + strings.Repeat("x", 300),
			"/admin/webhooks?after=!!", base + "?status=bogus", base + "?status=%00", base + "?after=%FF",
			"/admin/webhooks/nope", "/admin/webhooks/wh_%00", "/admin/webhooks/" + strings.Repeat("a", 500),
			base + "/deliveries/abc", base + "/deliveries/-1", base + "/deliveries/99999999999999999999", base + "/deliveries/12345",
		} {
			if p := e.get(admin, path); p.Status < 400 || p.Status >= 500 {
				t.Errorf("GET %s = %d; want a 4xx", path, p.Status)
			}
		}
		for _, c := range []struct {
			path string
			form url.Values
		}{
			{"/admin/webhooks", url.Values{"client_id": {"\x00"}, "url": {"https://hooks.example.org/x"}, "events": {"user.created"}}},
			{"/admin/webhooks", url.Values{"client_id": {hookClientID}, "url": {"https://hooks.example.org/\xff"}, "events": {"user.created"}}},
			{"/admin/webhooks", url.Values{"client_id": {hookClientID}, "url": {"https://hooks.example.org/x"}, "events": {"user.created\x00"}}},
			{"/admin/webhooks", url.Values{"client_id": {hookClientID}, "url": {"https://hooks.example.org/x"}, "events": {"user.created"},
				"description": {strings.Repeat("d", 600)}}},
			{"/admin/webhooks", url.Values{"client_id": {strings.Repeat("c", 5000)}, "url": {"https://hooks.example.org/x"}, "events": {"user.created"}}},
			{"/admin/webhooks", url.Values{"client_id": {hookClientID}, "url": {"https://hooks.example.org/" + strings.Repeat("u", 3000)}, "events": {"user.created"}}},
			{base + "/status", url.Values{"status": {"\xff"}}},
			{base + "/deliveries/abc/replay", nil},
			{base + "/deliveries/0/replay", nil},
			{"/admin/webhooks/nope/rotate", nil},
			{"/admin/webhooks/nope/delete", nil},
		} {
			if p := e.post(admin, c.path, c.form); p.Status < 400 || p.Status >= 500 {
				t.Errorf("POST %s %q = %d; want a 4xx", c.path, c.form.Encode(), p.Status)
			}
		}
		// A form over 1 MiB.
		big := url.Values{"client_id": {hookClientID}, "url": {"https://hooks.example.org/x"}, "events": {"user.created"},
			"description": {strings.Repeat("d", 2<<20)}}
		if p := e.post(admin, "/admin/webhooks", big); p.Status < 400 || p.Status >= 500 {
			t.Errorf("a 2 MiB form = %d; want a 4xx", p.Status)
		}
	})
}

// TestBrowserAuditWebhooksDocs: an administrator signs in, finds a change
// in the audit log by its event type, verifies the chain, opens a webhook
// subscription, sees its deliveries, replays the one that succeeded, and
// reads the API docs; every page visited passes the accessibility check.
func TestBrowserAuditWebhooksDocs(t *testing.T) {
	path := browser.Path(t)
	base, srv := browser.StartServer(t, "", func(c *config.Config) { c.OutboundAllowPrivate = true })
	e := &env{t: t, srv: srv, h: srv.Handler()}
	e.person("admin@example.org", []string{directory.RoleAdmin})
	rcv := receiver(t)
	sub := seedWebhook(t, e, rcv.URL, true)
	// The running ward's own dispatcher and worker may have taken the
	// deliveries first; wait (bounded) until both have been tried.
	var ok *webhook.Delivery
	deadline := time.Now().Add(60 * time.Second)
	for ok == nil {
		var tried int
		for _, d := range deliveries(t, e, sub.ID) {
			if d.Attempts > 0 {
				tried++
			}
			if d.Status == webhook.DeliverySucceeded {
				ok = d
			}
		}
		if tried < 2 {
			ok = nil
		}
		if ok == nil && time.Now().After(deadline) {
			t.Fatal("the deliveries were not tried within a minute")
		}
		if ok == nil {
			time.Sleep(50 * time.Millisecond) // polling for a state, not timing
		}
	}

	ctx := browser.New(t, path)
	type css = chromedp.CSS
	if err := browser.SignIn(ctx, base, "admin@example.org", testPassword, "/admin/audit"); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css("#audit-heading"))); err != nil {
		t.Fatalf("audit log: %v", err)
	}
	browser.Accessible(t, ctx)

	// Filter by event type.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(css("#f-type"), "organization.created"),
		chromedp.Click(css("#filter-go")),
		chromedp.WaitReady(css(`#f-type option[value="organization.created"][selected]`)),
		chromedp.WaitVisible(css("#events")),
	); err != nil {
		t.Fatalf("filter the audit log: %v", err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Text(css("#events tbody")))
	if err != nil || !strings.Contains(rows, "Northside Clinic") || strings.Contains(rows, "organization.updated") {
		t.Errorf("filtered events %q (%v); want the organization's creation only", rows, err)
	}
	browser.Accessible(t, ctx)

	// Verify the chain.
	if err := chromedp.Do(ctx, chromedp.Click(css("#verify-chain")), chromedp.WaitVisible(css("#chain-intact"))); err != nil {
		t.Fatalf("verify the chain: %v", err)
	}
	browser.Accessible(t, ctx)

	// Webhooks → the subscription → its deliveries.
	if err := chromedp.Do(ctx,
		chromedp.Click(css(`nav.sections a[href="/admin/webhooks"]`)),
		chromedp.WaitVisible(css("#webhooks")),
	); err != nil {
		t.Fatalf("webhooks: %v", err)
	}
	browser.Accessible(t, ctx)
	if err := chromedp.Do(ctx,
		chromedp.Click(css(`a.webhook-link[href="/admin/webhooks/`+sub.ID+`"]`)),
		chromedp.WaitVisible(css("#deliveries")),
	); err != nil {
		t.Fatalf("open the subscription: %v", err)
	}
	statuses, err := chromedp.Run(ctx, chromedp.Text(css("#deliveries tbody")))
	if err != nil || !strings.Contains(statuses, "succeeded") || !strings.Contains(statuses, "HTTP 503") {
		t.Errorf("deliveries %q (%v); want one succeeded and the receiver's 503", statuses, err)
	}
	browser.Accessible(t, ctx)

	// Replay the one that succeeded.
	row := "#delivery-" + strconv.FormatInt(ok.ID, 10)
	if err := chromedp.Do(ctx,
		chromedp.Click(css(row+" button.replay")),
		chromedp.WaitVisible(css("#notice")),
	); err != nil {
		t.Fatalf("replay: %v", err)
	}
	notice, err := chromedp.Run(ctx, chromedp.Text(css("#notice")))
	if err != nil || !strings.Contains(notice, "queued again") {
		t.Errorf("notice %q (%v); want the replay's", notice, err)
	}
	heading, err := chromedp.Run(ctx, chromedp.Text(css("#delivery-heading")))
	if err != nil || heading == "Delivery "+strconv.FormatInt(ok.ID, 10)+" of webhook "+sub.ID {
		t.Errorf("after the replay the page is %q (%v); want the new delivery", heading, err)
	}
	browser.Accessible(t, ctx)

	// The API docs.
	if err := chromedp.Do(ctx,
		chromedp.Click(css(`nav.sections a[href="/api/docs"]`)),
		chromedp.WaitVisible(css("#op-search-users")),
	); err != nil {
		t.Fatalf("API docs: %v", err)
	}
	op, err := chromedp.Run(ctx, chromedp.Text(css("#op-idp-signin")))
	if err != nil || !strings.Contains(op, "/api/1.0/sso/signin") {
		t.Errorf("the docs' sign-in operation %q (%v)", op, err)
	}
	browser.Accessible(t, ctx)
}
