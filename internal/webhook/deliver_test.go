package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/intervention"
	"ward/internal/outbound"
	"ward/internal/server"
	"ward/internal/store"
	"ward/internal/testutil"
	"ward/internal/webhook"
)

// Receiver modes.
const (
	modeOK       = iota
	modeFail     // 500
	modeHang     // answers only when the client gives up
	modeRedirect // 302
	modeBlock    // holds the request until unblocked
)

// received is one request a receiver accepted (answered 2xx).
type received struct {
	id      string
	headers map[string]string
	body    []byte
}

// receiver is a loopback webhook receiver whose behaviour a test switches.
type receiver struct {
	t       *testing.T
	srv     *httptest.Server
	mode    atomic.Int32
	mu      sync.Mutex
	got     []received // answered 2xx, in arrival order
	calls   int
	arrived chan struct{} // a request arrived (modeBlock)
	unblock chan struct{}
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t, arrived: make(chan struct{}, 100), unblock: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() {
		select {
		case <-r.unblock:
		default:
			close(r.unblock)
		}
		r.srv.CloseClientConnections()
		r.srv.Close()
	})
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.calls++
	r.mu.Unlock()
	switch r.mode.Load() {
	case modeFail:
		http.Error(w, "down for maintenance", http.StatusInternalServerError)
		return
	case modeHang:
		<-req.Context().Done()
		return
	case modeRedirect:
		http.Redirect(w, req, "http://127.0.0.1:1/elsewhere", http.StatusFound)
		return
	case modeBlock:
		r.arrived <- struct{}{}
		select {
		case <-r.unblock:
		case <-req.Context().Done():
			return
		}
	}
	h := map[string]string{}
	for _, k := range []string{webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderSignature, "Content-Type"} {
		h[k] = req.Header.Get(k)
	}
	r.mu.Lock()
	r.got = append(r.got, received{id: h[webhook.HeaderID], headers: h, body: body})
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func (r *receiver) callCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// env is ward's services on one database, with an outbox under test.
type env struct {
	t      testing.TB
	svc    *server.Services
	clock  *testutil.Clock
	outbox *webhook.Outbox
	sealer webhook.Sealer
	ctx    context.Context
}

type envOpts struct {
	timeout      time.Duration
	maxFailures  int
	allowPrivate bool
}

func newEnv(t testing.TB, dbURL string, o envOpts) *env {
	t.Helper()
	if o.timeout == 0 {
		o.timeout = 300 * time.Millisecond
	}
	if o.maxFailures == 0 {
		o.maxFailures = 20
	}
	ctx := actor.System(context.Background())
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = dbURL
	clock := testutil.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	svc, err := server.OpenServices(ctx, cfg, server.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	if err := svc.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	sealer, err := webhook.NewSealer(svc.MasterKey)
	if err != nil {
		t.Fatal(err)
	}
	ob, err := webhook.NewOutbox(webhook.OutboxDeps{Store: svc.DB, Tx: svc.DB, Audit: svc.Audit, Sealer: sealer,
		Poster: outbound.New(outbound.Policy{AllowPrivate: o.allowPrivate}, outbound.Limits{Timeout: o.timeout, IdlePerHost: webhook.DefaultParallel})},
		webhook.OutboxConfig{Timeout: o.timeout, MaxFailures: o.maxFailures, Now: clock.Now, Rand: func() float64 { return 0.5 },
			Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, svc: svc, clock: clock, outbox: ob, sealer: sealer, ctx: ctx}
}

// client registers a system client with scope (acting for intervention
// when set).
func (e *env) client(id, scope, iv string) {
	e.t.Helper()
	now := e.clock.Now()
	if err := e.svc.DB.CreateClient(e.ctx, &client.Client{ID: id, Settings: client.Settings{Name: id,
		GrantTypes: []string{"client_credentials"}, Scope: scope, AuthMethod: "client_secret_basic",
		TokenFormat: "opaque", Intervention: iv}, Status: client.StatusActive, CreatedAt: now, UpdatedAt: now}); err != nil {
		e.t.Fatal(err)
	}
}

// subscribe subscribes url for clientID to events; it returns the
// subscription and its secret.
func (e *env) subscribe(id, clientID, url string, events ...audit.EventType) (*webhook.Subscription, string) {
	e.t.Helper()
	secret, err := webhook.NewSecret()
	if err != nil {
		e.t.Fatal(err)
	}
	sealed, err := e.sealer.Encrypt([]byte(secret), []byte(id))
	if err != nil {
		e.t.Fatal(err)
	}
	now := e.clock.Now()
	s := &webhook.Subscription{ID: id, ClientID: clientID, URL: url, Events: events, Status: webhook.StatusEnabled,
		Secrets: webhook.Sealed{Current: sealed}, CreatedAt: now, UpdatedAt: now}
	if err := e.svc.DB.CreateWebhook(e.ctx, s); err != nil {
		e.t.Fatal(err)
	}
	return s, secret
}

// person creates a patient; ward records user.created.
func (e *env) person(email string) int64 {
	e.t.Helper()
	u, err := e.svc.Directory.CreateUser(e.ctx, directory.NewUser{User: directory.User{Email: email},
		Roles: []string{directory.RolePatient}})
	if err != nil {
		e.t.Fatal(err)
	}
	return u.ID
}

// update records a user.updated event for person id with fields.
func (e *env) update(id int64, fields map[string]any) {
	e.t.Helper()
	if err := e.svc.Audit.Record(e.ctx, audit.Change{Type: audit.UserUpdated, Subject: audit.UserRef(id),
		SubjectID: id, Fields: fields}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) dispatch() {
	e.t.Helper()
	if _, err := e.outbox.Dispatch(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) deliver(id string) {
	e.t.Helper()
	if err := e.outbox.Deliver(e.ctx, id); err != nil {
		e.t.Fatal(err)
	}
}

// row is a delivery as the log keeps it.
type row struct {
	id, eventID       int64
	subject, status   string
	attempts, status2 int
	lastError         string
	payload           string
	latencyUS         int64
	deliveredAt       int64
}

func (e *env) rows(webhookID string) []row {
	e.t.Helper()
	rs, err := e.svc.DB.Writer().QueryContext(e.ctx, fmt.Sprintf(`SELECT id, event_id, subject, status, attempts,
		response_status, last_error, payload, latency_us, delivered_at FROM webhook_deliveries
		WHERE webhook_id = '%s' ORDER BY id`, webhookID))
	if err != nil {
		e.t.Fatal(err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.id, &r.eventID, &r.subject, &r.status, &r.attempts, &r.status2, &r.lastError,
			&r.payload, &r.latencyUS, &r.deliveredAt); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// body is a delivered payload, decoded.
type body struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      struct {
		ID      string          `json:"id"`
		Subject string          `json:"subject"`
		Action  string          `json:"action"`
		Fields  json.RawMessage `json:"fields"`
	} `json:"data"`
}

func decode(t *testing.T, b []byte) body {
	t.Helper()
	var v body
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("payload %s: %v", b, err)
	}
	return v
}

// checkReceived verifies every accepted request's signature, that every
// event of want arrived, and that each subject's events arrived in order
// (duplicates, de-duplicated by webhook-id, aside).
func checkReceived(t *testing.T, got []received, secret string, now time.Time, want int) {
	t.Helper()
	seen := map[string]bool{}
	last := map[string]string{}
	for _, g := range got {
		if err := webhook.Verify(secret, g.headers, g.body, now, 5*time.Minute); err != nil {
			t.Fatalf("signature of %s: %v", g.id, err)
		}
		if g.headers["Content-Type"] != "application/json" {
			t.Errorf("content type %q", g.headers["Content-Type"])
		}
		b := decode(t, g.body)
		if b.Data.ID != g.id {
			t.Errorf("body id %s, header %s", b.Data.ID, g.id)
		}
		if seen[g.id] {
			continue
		}
		seen[g.id] = true
		if prev, ok := last[b.Data.Subject]; ok && msgNum(prev) > msgNum(g.id) {
			t.Errorf("subject %s: %s arrived after %s", b.Data.Subject, g.id, prev)
		}
		last[b.Data.Subject] = g.id
	}
	if len(seen) != want {
		t.Errorf("%d distinct messages received, want %d", len(seen), want)
	}
}

func storePage() store.Page { return store.Page{Limit: 10} }

func msgNum(id string) int64 {
	var n int64
	_, _ = fmt.Sscanf(strings.TrimPrefix(id, "msg_"), "%d", &n)
	return n
}

// TestReceiverFailsHangsRecovers: a receiver answering 500, then hanging
// past the timeout, then recovering receives every event, in order per
// subject, each verified by its signature; the log shows the attempts.
func TestReceiverFailsHangsRecovers(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, envOpts{allowPrivate: true})
		rcv := newReceiver(t)
		e.client("crvs", "system/Patient.read", "")
		sub, secret := e.subscribe("wh-crvs", "crvs", rcv.srv.URL, audit.UserCreated, audit.UserUpdated)
		var people []int64
		for i := range 3 {
			people = append(people, e.person(fmt.Sprintf("p%d@example.org", i)))
		}
		for round := range 3 {
			for _, p := range people {
				e.update(p, map[string]any{"round": round})
			}
		}
		e.dispatch()
		if n := len(e.rows(sub.ID)); n != 12 {
			t.Fatalf("%d deliveries, want 12 (3 created, 9 updated)", n)
		}
		rcv.mode.Store(modeFail)
		e.deliver(sub.ID)
		rcv.mode.Store(modeHang)
		e.clock.Advance(10 * time.Minute)
		e.deliver(sub.ID)
		if got := rcv.received(); len(got) != 0 {
			t.Fatalf("accepted while down: %d", len(got))
		}
		for _, r := range e.rows(sub.ID) {
			if r.status == "succeeded" {
				t.Fatalf("succeeded while down: %+v", r)
			}
		}
		// A change while the receiver is down is kept too.
		e.update(people[0], map[string]any{"round": "late"})
		e.dispatch()
		rcv.mode.Store(modeOK)
		e.clock.Advance(10 * time.Minute)
		e.deliver(sub.ID)
		checkReceived(t, rcv.received(), secret, e.clock.Now(), 13)
		heads := 0
		for _, r := range e.rows(sub.ID) {
			if r.status != "succeeded" || r.status2 != 204 || r.deliveredAt == 0 || r.lastError != "" {
				t.Errorf("delivery %+v not recorded as succeeded", r)
			}
			if r.attempts == 3 {
				heads++
			}
		}
		if heads != 3 {
			t.Errorf("%d deliveries took 3 attempts (500, timeout, success), want one per person", heads)
		}
		got, err := e.svc.DB.GetWebhook(e.ctx, sub.ID)
		if err != nil || got.FailureRun != 0 || got.Status != webhook.StatusEnabled {
			t.Errorf("after recovery %+v %v", got, err)
		}
		// The fields went along: the client reads Patient.
		b := decode(t, rcv.received()[len(rcv.received())-1].body)
		if b.Type == string(audit.UserUpdated) && len(b.Data.Fields) == 0 {
			t.Errorf("no fields for a Patient.read client: %+v", b)
		}
	})
}

// TestRolledBackChangeEmitsNothing: an event recorded in a transaction
// that rolls back is never dispatched; the committed one next to it is.
func TestRolledBackChangeEmitsNothing(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, envOpts{allowPrivate: true})
		e.client("crvs", "system/Patient.read", "")
		sub, _ := e.subscribe("wh-crvs", "crvs", "http://127.0.0.1:1/", audit.UserUpdated)
		err := e.svc.DB.InTx(e.ctx, func(ctx context.Context) error {
			if err := e.svc.Audit.Record(ctx, audit.Change{Type: audit.UserUpdated, Subject: "Patient/1", SubjectID: 1,
				Fields: map[string]any{"name": "rolled back"}}); err != nil {
				return err
			}
			return errors.New("the change failed")
		})
		if err == nil {
			t.Fatal("the transaction committed")
		}
		e.dispatch()
		if rs := e.rows(sub.ID); len(rs) != 0 {
			t.Fatalf("a rolled-back change was dispatched: %+v", rs)
		}
		e.update(1, map[string]any{"name": "committed"})
		e.dispatch()
		rs := e.rows(sub.ID)
		if len(rs) != 1 || !strings.Contains(rs[0].payload, "committed") {
			t.Fatalf("deliveries %+v, want the committed change only", rs)
		}
		// Dispatching again adds nothing: the cursor moved.
		e.dispatch()
		if n := len(e.rows(sub.ID)); n != 1 {
			t.Fatalf("%d deliveries after a second dispatch", n)
		}
	})
}

// TestKilledWorkerResends: a worker stopped while the receiver holds its
// request records nothing as delivered; the next run sends again with the
// same webhook-id, and nothing is lost. A worker that dies after claiming
// (no chance to release) leaves its claim to lapse, then it is sent.
func TestKilledWorkerResends(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, envOpts{allowPrivate: true, timeout: 20 * time.Second})
		rcv := newReceiver(t)
		e.client("crvs", "system/Patient.read", "")
		sub, secret := e.subscribe("wh-crvs", "crvs", rcv.srv.URL, audit.UserUpdated)
		e.update(7, map[string]any{"n": 1})
		e.update(7, map[string]any{"n": 2})
		e.dispatch()

		rcv.mode.Store(modeBlock)
		ctx, cancel := context.WithCancel(e.ctx)
		done := make(chan error, 1)
		go func() { done <- e.outbox.Deliver(ctx, sub.ID) }()
		<-rcv.arrived
		cancel() // the worker is stopped mid-delivery
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		for _, r := range e.rows(sub.ID) {
			if r.status == "succeeded" {
				t.Fatalf("recorded as delivered: %+v", r)
			}
		}
		first := rcv.callCount()
		rcv.mode.Store(modeOK)
		e.deliver(sub.ID)
		got := rcv.received()
		if first != 1 || len(got) != 2 || got[0].id != "msg_"+fmt.Sprint(e.rows(sub.ID)[0].eventID) {
			t.Fatalf("first run made %d calls; then received %+v", first, got)
		}
		checkReceived(t, got, secret, e.clock.Now(), 2)

		// A worker that dies right after claiming: the claim holds, then
		// lapses, and the delivery goes out with the same id.
		e.update(8, map[string]any{"n": 3})
		e.dispatch()
		now := e.clock.Now()
		chains, err := e.svc.DB.ClaimDeliveries(e.ctx, sub.ID, now, now.Add(time.Minute), 10, 10)
		if err != nil || len(chains) != 1 {
			t.Fatalf("claim %v %v", chains, err)
		}
		e.deliver(sub.ID)
		if n := len(rcv.received()); n != 2 {
			t.Fatalf("sent while another worker's claim holds: %d", n)
		}
		e.clock.Advance(2 * time.Minute)
		e.deliver(sub.ID)
		got = rcv.received()
		if len(got) != 3 || got[2].id != webhook.MessageID(chains[0][0].EventID) {
			t.Fatalf("after the claim lapsed: %+v", got)
		}
	})
}

// TestDisabledAfterFailureRun: after the configured run of failures the
// subscription is disabled with an audited reason; nothing is sent while
// it is disabled, though deliveries keep queueing; enabled again, it
// receives everything.
func TestDisabledAfterFailureRun(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, envOpts{allowPrivate: true, maxFailures: 3})
		rcv := newReceiver(t)
		e.client("crvs", "system/Patient.read", "")
		sub, secret := e.subscribe("wh-crvs", "crvs", rcv.srv.URL, audit.UserUpdated)
		e.update(1, map[string]any{"n": 1})
		e.update(2, map[string]any{"n": 1})
		e.dispatch()
		rcv.mode.Store(modeFail)
		for range 3 {
			e.deliver(sub.ID)
			e.clock.Advance(10 * time.Minute)
		}
		got, err := e.svc.DB.GetWebhook(e.ctx, sub.ID)
		if err != nil || got.Status != webhook.StatusDisabled || got.FailureRun != 3 ||
			!strings.Contains(got.DisabledReason, "3 consecutive failed deliveries") {
			t.Fatalf("after 3 failed rounds: %+v %v", got, err)
		}
		evs, _, err := e.svc.Audit.List(e.ctx, audit.Filter{Type: audit.WebhookDisabled}, storePage())
		if err != nil || len(evs) != 1 || evs[0].Subject != "Webhook/"+sub.ID || !strings.Contains(evs[0].Payload, `"failure_run":3`) ||
			!strings.Contains(evs[0].Payload, `"reason":"failure_run"`) {
			t.Fatalf("disable events %+v %v", evs, err)
		}
		calls := rcv.callCount()
		rcv.mode.Store(modeOK)
		e.update(1, map[string]any{"n": 2})
		e.dispatch()
		e.clock.Advance(10 * time.Minute)
		e.deliver(sub.ID)
		if rcv.callCount() != calls {
			t.Fatal("a disabled subscription sent")
		}
		if n := len(e.rows(sub.ID)); n != 3 {
			t.Fatalf("%d deliveries queued, want 3 (the one made while disabled included)", n)
		}
		// Enabled again by hand (the control plane's UpdateWebhook; the
		// row directly here).
		if _, err := e.svc.DB.Writer().ExecContext(e.ctx, fmt.Sprintf(`UPDATE webhooks SET status = 'enabled',
			disabled_reason = '', failure_run = 0 WHERE id = '%s'`, sub.ID)); err != nil {
			t.Fatal(err)
		}
		e.deliver(sub.ID)
		checkReceived(t, rcv.received(), secret, e.clock.Now(), 3)
	})
}

// TestRedirectAndPrivateAddressFail: a receiver that redirects has failed
// (the redirect is not followed), and a receiver on a loopback address is
// refused at delivery when private addresses are not allowed.
func TestRedirectAndPrivateAddressFail(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		for _, c := range []struct {
			name         string
			allowPrivate bool
			mode         int32
			wantErr      string
			wantCalls    int
		}{
			{"redirect", true, modeRedirect, "redirect", 1},
			{"private address", false, modeOK, "not a public address", 0},
		} {
			t.Run(c.name, func(t *testing.T) {
				e := newEnv(t, dbURL, envOpts{allowPrivate: c.allowPrivate})
				rcv := newReceiver(t)
				rcv.mode.Store(c.mode)
				cid := "crvs-" + strings.ReplaceAll(c.name, " ", "-")
				e.client(cid, "system/Patient.read", "")
				// The https scheme is what a public receiver needs; the
				// dial-time check refuses the loopback address anyway.
				url := rcv.srv.URL
				if !c.allowPrivate {
					url = strings.Replace(url, "http://", "https://", 1)
				}
				sub, _ := e.subscribe("wh-"+cid, cid, url, audit.UserUpdated)
				e.update(1, map[string]any{"n": 1})
				e.dispatch()
				e.deliver(sub.ID)
				rs := e.rows(sub.ID)
				if len(rs) != 1 || rs[0].status != "retrying" || rs[0].attempts != 1 || !strings.Contains(rs[0].lastError, c.wantErr) {
					t.Fatalf("delivery %+v, want a failure mentioning %q", rs, c.wantErr)
				}
				if rcv.callCount() != c.wantCalls || len(rcv.received()) != 0 {
					t.Fatalf("receiver saw %d calls", rcv.callCount())
				}
			})
		}
	})
}

// TestScopeFiltering: the changed fields go only to a client that may
// read the subject's type; a person's event reaches a client without that
// scope only when the person is subscribed to the client's intervention
// (and then without fields); events about things other than people carry
// references only.
func TestScopeFiltering(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, envOpts{allowPrivate: true})
		if _, err := e.svc.Interventions.Create(e.ctx, intervention.Intervention{Name: "care_plan", PublicAccess: true}); err != nil {
			t.Fatal(err)
		}
		subscribed, other := e.person("sub@example.org"), e.person("other@example.org")
		if err := e.svc.DB.PutUserIntervention(e.ctx, &intervention.UserIntervention{Intervention: "care_plan",
			UserID: subscribed, Access: intervention.AccessSubscribed}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ id, scope, iv string }{
			{"v1", "system/Patient.read", ""},
			{"v2", "system/Patient.rs", ""},
			{"wild", "system/*.read", ""},
			{"obs", "system/Observation.read", ""},
			{"careplan", "system/Observation.read", "care_plan"},
			{"userctx", "user/Patient.read", ""},
		} {
			e.client(c.id, c.scope, c.iv)
			e.subscribe("wh-"+c.id, c.id, "http://127.0.0.1:1/", audit.UserUpdated, audit.ObservationCreated,
				audit.ClientCreated)
		}
		e.update(subscribed, map[string]any{"name": "Ann"})
		e.update(other, map[string]any{"name": "Bob"})
		if err := e.svc.Audit.Record(e.ctx, audit.Change{Type: audit.ObservationCreated, Subject: "Observation/9",
			SubjectID: other, Fields: map[string]any{"code": "8867-4"}}); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Audit.Record(e.ctx, audit.Change{Type: audit.ClientCreated, Subject: "Client/new",
			Fields: map[string]any{"name": "New app"}}); err != nil {
			t.Fatal(err)
		}
		e.dispatch()
		type seen struct {
			subject string
			fields  bool
		}
		want := map[string][]seen{
			"v1":   {{audit.UserRef(subscribed), true}, {audit.UserRef(other), true}, {"Client/new", false}},
			"v2":   {{audit.UserRef(subscribed), true}, {audit.UserRef(other), true}, {"Client/new", false}},
			"wild": {{audit.UserRef(subscribed), true}, {audit.UserRef(other), true}, {"Observation/9", true}, {"Client/new", false}},
			"obs":  {{"Observation/9", true}, {"Client/new", false}},
			// Subscribed routes the person's events without granting
			// their fields; the other person's stay away.
			"careplan": {{audit.UserRef(subscribed), false}, {"Observation/9", true}, {"Client/new", false}},
			// Only system/ scopes count for a push.
			"userctx": {{"Client/new", false}},
		}
		for id, w := range want {
			var got []seen
			for _, r := range e.rows("wh-" + id) {
				b := decode(t, []byte(r.payload))
				got = append(got, seen{b.Data.Subject, len(b.Data.Fields) > 0})
				if b.Data.Subject == "Client/new" && b.Data.Action != "C" {
					t.Errorf("%s: action %q", id, b.Data.Action)
				}
			}
			if !slices.Equal(got, w) {
				t.Errorf("%s received %+v, want %+v", id, got, w)
			}
		}
	})
}

// TestRotationOverlapSignsWithBoth: during a rotation's overlap a
// delivery verifies with the previous secret too; after it, only with
// the current one.
func TestRotationOverlapSignsWithBoth(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, envOpts{allowPrivate: true})
		rcv := newReceiver(t)
		e.client("crvs", "system/Patient.read", "")
		cur, _ := webhook.NewSecret()
		prev, _ := webhook.NewSecret()
		seal := func(s string) []byte {
			b, err := e.sealer.Encrypt([]byte(s), []byte("wh-rot"))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		now := e.clock.Now()
		if err := e.svc.DB.CreateWebhook(e.ctx, &webhook.Subscription{ID: "wh-rot", ClientID: "crvs", URL: rcv.srv.URL,
			Events: []audit.EventType{audit.UserUpdated}, Status: webhook.StatusEnabled,
			Secrets:   webhook.Sealed{Current: seal(cur), Previous: seal(prev), PreviousExpires: now.Add(time.Hour)},
			CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		e.update(1, map[string]any{"n": 1})
		e.dispatch()
		e.deliver("wh-rot")
		e.clock.Advance(2 * time.Hour)
		e.update(1, map[string]any{"n": 2})
		e.dispatch()
		e.deliver("wh-rot")
		got := rcv.received()
		if len(got) != 2 {
			t.Fatalf("received %d", len(got))
		}
		for i, g := range got {
			if err := webhook.Verify(cur, g.headers, g.body, time.Unix(mustInt(t, g.headers[webhook.HeaderTimestamp]), 0), time.Minute); err != nil {
				t.Errorf("message %d with the current secret: %v", i, err)
			}
		}
		ts0 := time.Unix(mustInt(t, got[0].headers[webhook.HeaderTimestamp]), 0)
		if err := webhook.Verify(prev, got[0].headers, got[0].body, ts0, time.Minute); err != nil {
			t.Errorf("during the overlap, the previous secret: %v", err)
		}
		ts1 := time.Unix(mustInt(t, got[1].headers[webhook.HeaderTimestamp]), 0)
		if err := webhook.Verify(prev, got[1].headers, got[1].body, ts1, time.Minute); err == nil {
			t.Error("after the overlap the previous secret still verifies")
		}
	})
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}
