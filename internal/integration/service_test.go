package integration_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/directory"
	"ward/internal/integration"
	"ward/internal/secrets"
	"ward/internal/sqlstore"
	"ward/internal/store"
	"ward/internal/testutil"
	"ward/internal/webhook"
)

// fakeMinter mints numbered tokens and records revocations.
type fakeMinter struct {
	mu       sync.Mutex
	next     int64
	now      func() time.Time
	refuse   error // MayPushTokens's answer
	revoked  []int64
	minted   []int64
	lifetime time.Duration
}

func (m *fakeMinter) MayPushTokens(context.Context, string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.refuse
}

func (m *fakeMinter) Mint(_ context.Context, clientID string, lifetime time.Duration, _ string) (*integration.Minted, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next++
	m.minted = append(m.minted, m.next)
	m.lifetime = lifetime
	now := m.now()
	return &integration.Minted{Token: fmt.Sprintf("jwt-%d", m.next), ID: m.next, JTI: fmt.Sprintf("jti-%d", m.next),
		Scopes: []string{"system/Patient.rs"}, IssuedAt: now, ExpiresAt: now.Add(lifetime)}, nil
}

func (m *fakeMinter) Revoke(_ context.Context, _ string, id int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.revoked = append(m.revoked, id)
	return nil
}

func (m *fakeMinter) revokedIDs() []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.revoked)
}

type post struct {
	url     string
	headers map[string]string
	body    []byte
}

// fakePoster answers with status (or err) and records every post.
type fakePoster struct {
	mu     sync.Mutex
	status int
	err    error
	posts  []post
}

func (p *fakePoster) Post(_ context.Context, url string, headers map[string]string, body []byte) (int, []byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.posts = append(p.posts, post{url, headers, body})
	return p.status, nil, p.err
}

func (p *fakePoster) set(status int, err error) {
	p.mu.Lock()
	p.status, p.err = status, err
	p.mu.Unlock()
}

func (p *fakePoster) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.posts)
}

func (p *fakePoster) last() post {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.posts[len(p.posts)-1]
}

type roles map[int64][]string

func (r roles) UserRoles(_ context.Context, id int64) ([]string, error) {
	if rs, ok := r[id]; ok {
		return rs, nil
	}
	return nil, apperr.New(apperr.NotFound, "no user %d", id)
}

type env struct {
	svc    *integration.Service
	db     *sqlstore.DB
	aud    *audit.Log
	clock  *testutil.Clock
	minter *fakeMinter
	poster *fakePoster
}

func newEnv(t *testing.T, url string) *env {
	t.Helper()
	db := testutil.NewStore(t, url)
	start := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	clock := testutil.NewClock(start)
	now := clock.Now()
	if err := db.CreateClient(context.Background(), &client.Client{ID: "portal", Settings: client.Settings{Name: "Portal",
		GrantTypes: []string{client.GrantClientCredentials}, AuthMethod: client.AuthClientSecretBasic,
		Scope: "system/Patient.rs", TokenFormat: client.TokenJWT}, Status: client.StatusActive,
		CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	aead, err := secrets.PurposeAEAD(make([]byte, 32), integration.KeyPurpose)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, clock: clock, minter: &fakeMinter{now: clock.Now}, poster: &fakePoster{status: 204}}
	e.aud = audit.NewLog(audit.Deps{Store: db, Tx: db}, audit.Config{Version: "test"})
	e.svc, err = integration.NewService(integration.Deps{Store: db, Tx: db, Audit: e.aud, Directory: roles{1: {directory.RoleAdmin}, 2: {directory.RoleStaff}},
		Sealer: aead, Minter: e.minter, Poster: e.poster},
		integration.Config{Now: clock.Now, Jitter: func() float64 { return 0.5 }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) events(t *testing.T, typ audit.EventType) []map[string]any {
	t.Helper()
	evs, _, err := e.aud.List(actor.System(context.Background()), audit.Filter{Type: typ}, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, ev := range evs {
		m := map[string]any{}
		_ = json.Unmarshal([]byte(ev.Payload), &m)
		out = append(out, m)
	}
	return out
}

// TestReceiverURLRules: an integration's receiver URL follows the rules of
// webhook receivers (webhook.CheckURL, which Create calls).
func TestReceiverURLRules(t *testing.T) {
	for _, c := range []struct {
		url     string
		private bool
		ok      bool
	}{
		{"https://portal.example.org/ward/token", false, true},
		{"https://8.8.8.8/token", false, true},
		{"http://portal.example.org/token", false, false},
		{"http://portal.example.org/token", true, true},
		{"http://127.0.0.1:9000/token", true, true},
		{"https://127.0.0.1/token", false, false},
		{"https://[::1]/token", false, false},
		{"https://10.1.2.3/token", false, false},
		{"https://192.168.0.7/token", false, false},
		{"https://169.254.169.254/latest", false, false},
		{"https://100.64.0.1/", false, false},
		{"https://localhost/token", false, false},
		{"ftp://portal.example.org/token", true, false},
		{"https://user:pw@portal.example.org/", false, false},
		{"https://portal.example.org/#frag", false, false},
		{"/relative", true, false},
		{"https://portal.example.org/\x00", false, false},
		{"https://portal.example.org/\xff", false, false},
		{"https://portal.example.org/" + strings.Repeat("a", 3000), false, false},
		{"", false, false},
	} {
		err := webhook.CheckURL(c.url, c.private, nil)
		if (err == nil) != c.ok {
			t.Errorf("CheckURL(%.60q, private=%v) = %v, want ok=%v", c.url, c.private, err, c.ok)
		}
		if err != nil && !apperr.Is(err, apperr.Invalid) {
			t.Errorf("CheckURL(%.60q): %v is not Invalid", c.url, err)
		}
	}
}

// TestPushSchedule: a new integration is pushed at once, signed; again a
// third of the lifetime before expiry and not before; a failure revokes
// its token, is recorded and retried after a growing backoff; a recovery
// resets it; a suspended client gets nothing; deleting revokes the live
// pushed tokens.
func TestPushSchedule(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		ctx := actor.System(context.Background())
		admin := actor.With(context.Background(), actor.Actor{UserID: 1})
		staff := actor.With(context.Background(), actor.Actor{UserID: 2})

		for _, bad := range []integration.NewIntegration{
			{ClientID: "portal", URL: "https://portal.example.org/t", TokenLifetime: time.Minute},
			{ClientID: "portal", URL: "https://portal.example.org/t", TokenLifetime: 25 * time.Hour},
			{ClientID: "portal", URL: "https://portal.example.org/t", TokenLifetime: 90*time.Minute + time.Millisecond},
			{ClientID: "portal", URL: "ftp://portal.example.org/t"},
			{ClientID: "portal", URL: "https://10.0.0.1/t"},
			{ClientID: "port\x00al", URL: "https://portal.example.org/t"},
			{ClientID: "", URL: "https://portal.example.org/t"},
		} {
			if _, err := e.svc.Create(admin, bad); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("Create(%+v) = %v, want Invalid", bad, err)
			}
		}
		in := integration.NewIntegration{ClientID: "portal", URL: "https://portal.example.org/ward-token"}
		if _, err := e.svc.Create(staff, in); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("staff create: %v", err)
		}
		if _, err := e.svc.Create(context.Background(), in); !apperr.Is(err, apperr.Unauthenticated) {
			t.Fatalf("anonymous create: %v", err)
		}
		c, err := e.svc.Create(admin, in)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(c.Secret, "whsec_") || c.TokenLifetime != time.Hour || c.LastStatus != integration.StatusNever {
			t.Fatalf("created %+v", c)
		}
		if _, err := e.svc.List(staff); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("staff list: %v", err)
		}

		// Due at once.
		if err := e.svc.Push(ctx, c.ID, false); err != nil {
			t.Fatal(err)
		}
		if e.poster.count() != 1 {
			t.Fatalf("posts after the first push: %d", e.poster.count())
		}
		p := e.poster.last()
		if err := webhook.Verify(c.Secret, p.headers, p.body, e.clock.Now(), 5*time.Minute); err != nil {
			t.Fatalf("signature: %v (headers %v)", err, p.headers)
		}
		var pl integration.Payload
		if err := json.Unmarshal(p.body, &pl); err != nil || pl.AccessToken != "jwt-1" || pl.TokenType != "Bearer" ||
			pl.ExpiresIn != 3600 || pl.Scope != "system/Patient.rs" || pl.ClientID != "portal" || pl.IssuedAt != e.clock.Now().Unix() {
			t.Fatalf("payload %s: %v", p.body, err)
		}
		firstID := p.headers[webhook.HeaderID]
		it, err := e.svc.Get(admin, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if it.LastStatus != integration.StatusPushed || it.TokenID != 1 || it.Failures != 0 ||
			!it.NextPushAt.Equal(e.clock.Now().Add(40*time.Minute)) {
			t.Fatalf("after a push: %+v", it)
		}
		if ev := e.events(t, audit.IntegrationTokenPushed); len(ev) != 1 || ev[0]["jti"] != "jti-1" ||
			strings.Contains(fmt.Sprint(ev), "jwt-1") {
			t.Fatalf("token_pushed events: %v", ev)
		}

		// Not again before 2/3 of the lifetime.
		e.clock.Advance(39 * time.Minute)
		if err := e.svc.Push(ctx, c.ID, false); err != nil || e.poster.count() != 1 {
			t.Fatalf("early push: %v, posts %d", err, e.poster.count())
		}
		if due, _ := e.db.DueIntegrations(ctx, e.clock.Now(), 10); len(due) != 0 {
			t.Fatalf("due early: %d", len(due))
		}
		e.clock.Advance(time.Minute)
		if due, _ := e.db.DueIntegrations(ctx, e.clock.Now(), 10); len(due) != 1 {
			t.Fatalf("due at 40m: %d", len(due))
		}
		if err := e.svc.Push(ctx, c.ID, false); err != nil || e.poster.count() != 2 {
			t.Fatalf("renewal: %v, posts %d", err, e.poster.count())
		}
		if e.poster.last().headers[webhook.HeaderID] == firstID {
			t.Fatal("two pushes share a webhook-id")
		}
		if len(e.minter.revokedIDs()) != 0 {
			t.Fatalf("a successful push revoked %v: earlier tokens stay valid until they expire", e.minter.revokedIDs())
		}

		// The receiver fails: recorded, token revoked, retried after 10s, 20s...
		e.poster.set(500, nil)
		it, err = e.svc.PushNow(admin, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if it.LastStatus != integration.StatusFailed || it.Failures != 1 || it.LastHTTPStatus != 500 ||
			!strings.Contains(it.LastError, "500") || !it.NextPushAt.Equal(e.clock.Now().Add(10*time.Second)) {
			t.Fatalf("after a failure: %+v", it)
		}
		if !slices.Equal(e.minter.revokedIDs(), []int64{3}) {
			t.Fatalf("revoked %v, want the failed push's token 3", e.minter.revokedIDs())
		}
		if ev := e.events(t, audit.IntegrationPushFailed); len(ev) != 1 || ev[0]["jti"] != "jti-3" {
			t.Fatalf("push_failed events: %v", ev)
		}
		e.clock.Advance(9 * time.Second)
		if err := e.svc.Push(ctx, c.ID, false); err != nil || e.poster.count() != 3 {
			t.Fatalf("retry before the backoff: %v, posts %d", err, e.poster.count())
		}
		e.poster.set(0, errors.New("outbound: timed out"))
		e.clock.Advance(time.Second)
		if err := e.svc.Push(ctx, c.ID, false); err != nil || e.poster.count() != 4 {
			t.Fatalf("retry: %v, posts %d", err, e.poster.count())
		}
		it, _ = e.svc.Get(admin, c.ID)
		if it.Failures != 2 || it.LastHTTPStatus != 0 || !strings.Contains(it.LastError, "timed out") ||
			!it.NextPushAt.Equal(e.clock.Now().Add(20*time.Second)) {
			t.Fatalf("after a second failure: %+v", it)
		}
		e.poster.set(200, nil)
		e.clock.Advance(20 * time.Second)
		if err := e.svc.PushDue(ctx); err != nil { // no scheduler: the sweep pushes inline
			t.Fatal(err)
		}
		it, _ = e.svc.Get(admin, c.ID)
		if e.poster.count() != 5 || it.LastStatus != integration.StatusPushed || it.Failures != 0 || it.LastError != "" {
			t.Fatalf("after recovery: posts %d, %+v", e.poster.count(), it)
		}
		if !slices.Equal(e.minter.revokedIDs(), []int64{3, 4}) {
			t.Fatalf("revoked %v, want the two failed pushes' tokens", e.minter.revokedIDs())
		}

		// A client that may not receive tokens: suspended, nothing minted.
		minted := len(e.minter.minted)
		e.minter.refuse = apperr.New(apperr.Conflict, "client portal is disabled")
		if _, err := e.svc.PushNow(admin, c.ID); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("push to a disabled client: %v", err)
		}
		if err := e.svc.PushAll(ctx); err != nil {
			t.Fatal(err)
		}
		it, _ = e.svc.Get(admin, c.ID)
		if e.poster.count() != 5 || len(e.minter.minted) != minted || it.LastStatus != integration.StatusSuspended {
			t.Fatalf("suspended: posts %d, minted %d, %+v", e.poster.count(), len(e.minter.minted), it)
		}
		e.minter.refuse = nil

		// Delete: the live pushed tokens (1 expired by now? no: 2 and 5
		// live, 1 expired at 60m) are revoked; pushes stop.
		e.clock.Advance(25 * time.Minute) // token 1 (issued at 0) has expired
		if _, err := e.svc.Delete(staff, c.ID); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("staff delete: %v", err)
		}
		n, err := e.svc.Delete(admin, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := e.minter.revokedIDs()[2:]
		slices.Sort(got)
		if n != 2 || !slices.Equal(got, []int64{2, 5}) {
			t.Fatalf("delete revoked %d: %v, want tokens 2 and 5", n, got)
		}
		if err := e.svc.Push(ctx, c.ID, true); err != nil || e.poster.count() != 5 {
			t.Fatalf("push after delete: %v, posts %d", err, e.poster.count())
		}
		if _, err := e.svc.Get(admin, c.ID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("get after delete: %v", err)
		}
		for _, bad := range []string{"nope", "int_\x00", "int_zzzzzzzzzzzzzzzzzzzzzzzz", "\xff"} {
			if _, err := e.svc.Get(admin, bad); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("Get(%q) = %v, want NotFound", bad, err)
			}
		}
	})
}

// TestBackoffIsCapped: the wait grows to BackoffMax and no further.
func TestBackoffIsCapped(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t))
	admin := actor.With(context.Background(), actor.Actor{UserID: 1})
	c, err := e.svc.Create(admin, integration.NewIntegration{ClientID: "portal", URL: "https://portal.example.org/t"})
	if err != nil {
		t.Fatal(err)
	}
	e.poster.set(503, nil)
	var it *integration.Integration
	for range 12 {
		if it, err = e.svc.PushNow(admin, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	if it.Failures != 12 || !it.NextPushAt.Equal(e.clock.Now().Add(15*time.Minute)) {
		t.Fatalf("after 12 failures: %d, next in %s", it.Failures, it.NextPushAt.Sub(e.clock.Now()))
	}
}
