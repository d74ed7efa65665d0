package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/api"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/directory"
	"ward/internal/outbound"
	"ward/internal/secrets"
	"ward/internal/sqlstore"
	"ward/internal/store"
	"ward/internal/testutil"
	"ward/internal/webhook"
)

// testClientHeader names a client acting as itself (a client credentials
// token) in these tests, beside testUserHeader.
const testClientHeader = "X-Test-Client"

// hookEnv is the API with the client registry and the webhook service, on
// a clock the test moves.
type hookEnv struct {
	*env
	st      *sqlstore.DB
	aud     *audit.Log
	hooks   *webhook.Service
	clients *client.Service
	mu      sync.Mutex
	clock   time.Time
	// patient and developer are signed-in people who may not manage
	// webhooks; portal and other are confidential clients, public a public one.
	patient, developer    int64
	portal, other, pubApp string
}

func (h *hookEnv) now() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.clock
}

func (h *hookEnv) advance(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clock = h.clock.Add(d)
}

func newHookEnv(t *testing.T, dbURL string, allowPrivate bool) *hookEnv {
	t.Helper()
	h := &hookEnv{clock: testNow}
	st := testutil.NewStore(t, dbURL, sqlstore.WithClock(h.now))
	aud := audit.NewLog(audit.Deps{Store: st, Tx: st}, audit.Config{Version: "test", Now: h.now})
	dir := directory.NewService(directory.Deps{Store: st, Audit: aud, Hasher: plainHasher{}}, directory.Config{Now: h.now})
	clients, err := client.NewService(client.Deps{Store: st, Tx: st, Roles: dir, Audit: aud},
		client.Config{SecretKey: bytes.Repeat([]byte{3}, 32), Now: h.now})
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := webhook.NewSealer(bytes.Repeat([]byte{7}, secrets.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := webhook.NewService(webhook.Deps{Store: st, Clients: clients, Roles: dir, Audit: aud, Tx: st, Sealer: sealer},
		webhook.Config{AllowPrivate: allowPrivate, PublicAddr: outbound.Public, Now: h.now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Mount(mux, api.Deps{Directory: dir, Audit: aud, Clients: clients, Webhooks: hooks, Base: "https://ward.test",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	// A client header stands for a client credentials token: the client
	// acting for nobody.
	withClient := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := r.Header.Get(testClientHeader); c != "" {
			r = r.WithContext(actor.With(r.Context(), actor.Actor{ClientID: c, Scopes: []string{"system/Patient.rs"}}))
		}
		mux.ServeHTTP(w, r)
	})
	sys := actor.System(context.Background())
	mk := func(email string, roles ...string) int64 {
		u, err := dir.CreateUser(sys, directory.NewUser{User: directory.User{Email: email}, Roles: roles})
		if err != nil {
			t.Fatalf("create %s: %v", email, err)
		}
		return u.ID
	}
	h.env = &env{t: t, h: testActor(withClient), dir: dir}
	h.adminID = mk("admin@example.org", directory.RoleAdmin)
	h.patient = mk("patient@example.org", directory.RolePatient)
	h.developer = mk("dev@example.org", directory.RoleApplicationDeveloper)
	mkClient := func(name string, public bool) string {
		set := client.Settings{Name: name, GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/Patient.rs"}
		if public {
			set = client.Settings{Name: name, Public: true, GrantTypes: []string{client.GrantAuthorizationCode},
				RedirectURIs: []string{"https://app.example.org/cb"}, Scope: "openid patient/*.rs"}
		}
		c, _, err := clients.Create(sys, set)
		if err != nil {
			t.Fatalf("create client %s: %v", name, err)
		}
		return c.ID
	}
	h.portal, h.other, h.pubApp = mkClient("Portal", false), mkClient("Other system", false), mkClient("Browser app", true)
	h.st, h.aud, h.hooks, h.clients = st, aud, hooks, clients
	return h
}

// asClient sends a request as client id acting as itself.
func (h *hookEnv) asClient(method, path, clientID string, body any) response {
	h.t.Helper()
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			h.t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set(testClientHeader, clientID)
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

type hookDoc struct {
	ID             string   `json:"id"`
	Secret         string   `json:"secret"`
	ClientID       string   `json:"client_id"`
	URL            string   `json:"url"`
	Events         []string `json:"events"`
	Description    string   `json:"description"`
	Status         string   `json:"status"`
	DisabledReason string   `json:"disabled_reason"`
	CreatedAt      string   `json:"created_at"`
}

type deliveryDoc struct {
	ID              int64          `json:"id"`
	EventID         int64          `json:"event_id"`
	WebhookIDHeader string         `json:"webhook_id_header"`
	EventType       string         `json:"event_type"`
	Subject         string         `json:"subject"`
	Status          string         `json:"status"`
	Attempts        int            `json:"attempts"`
	NextAttemptAt   *time.Time     `json:"next_attempt_at"`
	Payload         map[string]any `json:"payload"`
}

func hookBody(clientID string) map[string]any {
	b := map[string]any{"url": "https://portal.example.org/ward-events",
		"events": []string{"user.updated", "user.created", "user.updated"}, "description": "the portal's copy"}
	if clientID != "" {
		b["client_id"] = clientID
	}
	return b
}

func TestWebhookAPIAuthorization(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		h := newHookEnv(t, dbURL, false)
		// An administrator subscribes for a client; the events come back
		// sorted without duplicates, with the secret shown once.
		var made hookDoc
		res := h.do("POST", "/api/webhook", h.adminID, hookBody(h.portal))
		h.must(res, http.StatusCreated, &made)
		if !strings.HasPrefix(made.ID, "wh_") || !strings.HasPrefix(made.Secret, "whsec_") || made.ClientID != h.portal ||
			made.Status != "enabled" || strings.Join(made.Events, ",") != "user.created,user.updated" || made.CreatedAt == "" {
			t.Fatalf("created %+v", made)
		}
		if loc := res.header.Get("Location"); loc != "https://ward.test/api/webhook/"+made.ID {
			t.Fatalf("Location %q", loc)
		}
		// An administrator must name the client.
		h.problem(h.do("POST", "/api/webhook", h.adminID, hookBody("")), http.StatusBadRequest)

		// The client itself subscribes for itself, with or without naming itself.
		var own hookDoc
		h.must(h.asClient("POST", "/api/webhook", h.other, hookBody("")), http.StatusCreated, &own)
		if own.ClientID != h.other || own.Secret == "" {
			t.Fatalf("a client's own: %+v", own)
		}
		h.must(h.asClient("POST", "/api/webhook", h.other, hookBody(h.other)), http.StatusCreated, nil)

		// Everyone else is refused, beside the allowed callers above.
		paths := []struct{ method, path string }{
			{"GET", "/api/webhook/" + made.ID}, {"PATCH", "/api/webhook/" + made.ID},
			{"DELETE", "/api/webhook/" + made.ID}, {"POST", "/api/webhook/" + made.ID + "/rotate-secret"},
			{"GET", "/api/webhook/" + made.ID + "/deliveries"}, {"GET", "/api/webhook/" + made.ID + "/deliveries/1"},
			{"POST", "/api/webhook/" + made.ID + "/deliveries/1/replay"},
		}
		for _, as := range []struct {
			name   string
			user   int64
			client string
			want   int
		}{
			{"patient", h.patient, "", http.StatusForbidden},
			{"developer", h.developer, "", http.StatusForbidden},
			{"another client", 0, h.other, http.StatusForbidden},
			{"anonymous", 0, "", http.StatusUnauthorized},
		} {
			send := func(method, path string, body any) response {
				if as.client != "" {
					return h.asClient(method, path, as.client, body)
				}
				return h.do(method, path, as.user, body)
			}
			var body any = hookBody(h.portal)
			h.problem(send("POST", "/api/webhook", body), as.want)
			for _, p := range paths {
				var b any
				if p.method != "GET" && p.method != "DELETE" {
					b = map[string]any{}
				}
				if res := send(p.method, p.path, b); res.status != as.want {
					t.Errorf("%s %s as %s: %d, want %d: %s", p.method, p.path, as.name, res.status, as.want, res.body)
				}
			}
			if as.client == "" {
				h.problem(send("GET", "/api/webhook", nil), as.want)
			}
		}
		// A public client may not own a subscription; nor a disabled one.
		h.problem(h.do("POST", "/api/webhook", h.adminID, hookBody(h.pubApp)), http.StatusBadRequest)
		h.problem(h.do("POST", "/api/webhook", h.adminID, hookBody("no-such-client")), http.StatusBadRequest)
		if _, err := h.clients.Disable(actor.System(context.Background()), h.other); err != nil {
			t.Fatal(err)
		}
		h.problem(h.do("POST", "/api/webhook", h.adminID, hookBody(h.other)), http.StatusBadRequest)

		// Lists: an administrator sees all or one client's; a client its own.
		var page struct {
			Webhooks []hookDoc `json:"webhooks"`
			Next     string    `json:"next"`
		}
		h.must(h.do("GET", "/api/webhook", h.adminID, nil), http.StatusOK, &page)
		if len(page.Webhooks) != 3 {
			t.Fatalf("admin lists %d, want 3", len(page.Webhooks))
		}
		h.must(h.do("GET", "/api/webhook?client_id="+h.portal, h.adminID, nil), http.StatusOK, &page)
		if len(page.Webhooks) != 1 || page.Webhooks[0].ID != made.ID {
			t.Fatalf("admin lists portal's: %+v", page.Webhooks)
		}
		h.must(h.do("GET", "/api/webhook?limit=2", h.adminID, nil), http.StatusOK, &page)
		if len(page.Webhooks) != 2 || page.Next == "" {
			t.Fatalf("first page: %d, next %q", len(page.Webhooks), page.Next)
		}
		next := page.Next
		page.Next = ""
		h.must(h.do("GET", "/api/webhook?limit=2&cursor="+next, h.adminID, nil), http.StatusOK, &page)
		if len(page.Webhooks) != 1 || page.Next != "" {
			t.Fatalf("second page: %d, next %q", len(page.Webhooks), page.Next)
		}
		h.must(h.asClient("GET", "/api/webhook", h.portal, nil), http.StatusOK, &page)
		if len(page.Webhooks) != 1 || page.Webhooks[0].ID != made.ID {
			t.Fatalf("portal lists: %+v", page.Webhooks)
		}
		h.problem(h.asClient("GET", "/api/webhook?client_id="+h.other, h.portal, nil), http.StatusForbidden)

		// The owning client reads, changes, disables and enables its own.
		var got hookDoc
		h.must(h.asClient("GET", "/api/webhook/"+made.ID, h.portal, nil), http.StatusOK, &got)
		if got.ID != made.ID || got.Secret != "" {
			t.Fatalf("get: %+v", got)
		}
		h.must(h.asClient("PATCH", "/api/webhook/"+made.ID, h.portal, map[string]any{"status": "disabled"}), http.StatusOK, &got)
		if got.Status != "disabled" || got.DisabledReason != "disabled by client "+h.portal {
			t.Fatalf("disabled: %+v", got)
		}
		got = hookDoc{}
		h.must(h.do("PATCH", "/api/webhook/"+made.ID, h.adminID, map[string]any{"status": "enabled",
			"events": []string{"consent.created"}, "description": ""}), http.StatusOK, &got)
		if got.Status != "enabled" || got.DisabledReason != "" || strings.Join(got.Events, ",") != "consent.created" ||
			got.Description != "" || got.URL != made.URL {
			t.Fatalf("enabled: %+v", got)
		}
		h.problem(h.do("GET", "/api/webhook/wh_doesnotexist", h.adminID, nil), http.StatusNotFound)
		h.must(h.do("DELETE", "/api/webhook/"+own.ID, h.adminID, nil), http.StatusNoContent, nil)
		h.problem(h.do("DELETE", "/api/webhook/"+own.ID, h.adminID, nil), http.StatusNotFound)

		// Every change is in the audit trail, typed, never with a secret.
		evs, _, err := h.aud.List(actor.System(context.Background()), audit.Filter{}, store.Page{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[audit.EventType]int{}
		for _, e := range evs {
			seen[e.Type]++
			if strings.Contains(e.Payload+e.Comment, "whsec_") || strings.Contains(e.Payload+e.Comment, made.Secret[6:]) {
				t.Fatalf("an audit event holds a secret: %+v", e)
			}
		}
		if seen[audit.WebhookCreated] != 3 || seen[audit.WebhookDisabled] != 1 || seen[audit.WebhookEnabled] != 1 ||
			seen[audit.WebhookUpdated] != 1 || seen[audit.WebhookDeleted] != 1 {
			t.Fatalf("webhook audit events: %v", seen)
		}
	})
}

func TestWebhookAPIBadInput(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		h := newHookEnv(t, dbURL, false)
		with := func(k string, v any) map[string]any {
			b := hookBody(h.portal)
			b[k] = v
			return b
		}
		stored := 0
		for _, c := range []struct {
			name string
			body any
		}{
			{"ftp URL", with("url", "ftp://portal.example.org/x")},
			{"relative URL", with("url", "/ward-events")},
			{"no host", with("url", "https:///x")},
			{"user info", with("url", "https://u:p@portal.example.org/x")},
			{"fragment", with("url", "https://portal.example.org/x#frag")},
			{"plain http", with("url", "http://portal.example.org/x")},
			{"private address", with("url", "https://10.1.2.3/x")},
			{"loopback address", with("url", "https://127.0.0.1:8443/x")},
			{"IPv6 loopback", with("url", "https://[::1]/x")},
			{"metadata address", with("url", "https://169.254.169.254/latest")},
			{"localhost", with("url", "https://localhost/x")},
			{"sub.localhost", with("url", "https://a.localhost/x")},
			{"NUL in URL", with("url", "https://portal.example.org/\x00")},
			{"control in URL", with("url", "https://portal.example.org/\n")},
			{"long URL", with("url", "https://portal.example.org/"+strings.Repeat("a", 2100))},
			{"no events", with("events", []string{})},
			{"unknown event", with("events", []string{"user.created", "user.exploded"})},
			{"NUL event", with("events", []string{"user.created\x00"})},
			{"too many events", with("events", func() []string {
				var es []string
				for range 101 {
					es = append(es, "user.created")
				}
				return es
			}())},
			{"NUL description", with("description", "a\x00b")},
			{"long description", with("description", strings.Repeat("d", 501))},
			{"invalid UTF-8", `{"url":"https://portal.example.org/` + "\xff\xfe" + `","events":["user.created"],"client_id":"` + h.portal + `"}`},
			{"not JSON", `{"url":`},
			{"wrong type", `{"url":42,"events":"user.created"}`},
		} {
			res := h.do("POST", "/api/webhook", h.adminID, c.body)
			if c.name == "invalid UTF-8" && res.status == http.StatusCreated {
				// JSON decoding turns invalid bytes into U+FFFD: a valid,
				// odd URL; what matters is that nothing fails inside.
				stored++
				continue
			}
			if res.status != http.StatusBadRequest {
				t.Errorf("%s: %d, want 400: %s", c.name, res.status, res.body)
			}
		}
		// A huge body is refused before it is read whole.
		huge := `{"url":"https://portal.example.org/","events":["user.created"],"description":"` +
			strings.Repeat("x", api.MaxBodyBytes+10) + `"}`
		if res := h.do("POST", "/api/webhook", h.adminID, huge); res.status < 400 || res.status >= 500 {
			t.Errorf("huge body: %d", res.status)
		}
		var made hookDoc
		h.must(h.do("POST", "/api/webhook", h.adminID, hookBody(h.portal)), http.StatusCreated, &made)
		for _, c := range []struct {
			method, path string
			body         any
			want         int
		}{
			{"PATCH", "/api/webhook/" + made.ID, map[string]any{"url": "ftp://x.example.org/"}, 400},
			{"PATCH", "/api/webhook/" + made.ID, map[string]any{"events": []string{}}, 400},
			{"PATCH", "/api/webhook/" + made.ID, map[string]any{"status": "paused"}, 400},
			{"PATCH", "/api/webhook/" + made.ID, map[string]any{"description": "\x00"}, 400},
			{"POST", "/api/webhook/" + made.ID + "/rotate-secret", map[string]any{"overlap_seconds": -1}, 400},
			{"POST", "/api/webhook/" + made.ID + "/rotate-secret", map[string]any{"overlap_seconds": 8 * 86400}, 400},
			{"GET", "/api/webhook/" + made.ID + "/deliveries?status=lost", nil, 400},
			{"GET", "/api/webhook/" + made.ID + "/deliveries?cursor=%00%ff", nil, 400},
			{"GET", "/api/webhook/" + made.ID + "/deliveries/abc", nil, 400},
			{"GET", "/api/webhook/" + made.ID + "/deliveries/-1", nil, 400},
			{"GET", "/api/webhook/" + made.ID + "/deliveries/99", nil, 404},
			{"POST", "/api/webhook/" + made.ID + "/deliveries/99/replay", nil, 404},
			{"GET", "/api/webhook/%00", nil, 404},
			{"GET", "/api/webhook/wh_%FF", nil, 404},
			{"GET", "/api/webhook?cursor=" + url.QueryEscape("!!"), nil, 400},
			{"GET", "/api/webhook?client_id=%00", nil, 400},
		} {
			res := h.do(c.method, c.path, h.adminID, c.body)
			if res.status != c.want {
				t.Errorf("%s %s: %d, want %d: %s", c.method, c.path, res.status, c.want, res.body)
			}
		}
		// Nothing refused was stored.
		ws, _, err := h.hooks.List(actor.System(context.Background()), "", store.Page{})
		if err != nil || len(ws) != stored+1 {
			t.Fatalf("stored %d webhooks, want %d: %v", len(ws), stored+1, err)
		}
	})
}

// With WARD_OUTBOUND_ALLOW_PRIVATE=1, loopback and plain http are allowed.
func TestWebhookAPIAllowPrivate(t *testing.T) {
	h := newHookEnv(t, testutil.SQLiteURL(t), true)
	for _, u := range []string{"http://127.0.0.1:9999/hook", "http://localhost/x", "https://10.0.0.8/x"} {
		h.must(h.do("POST", "/api/webhook", h.adminID, map[string]any{"url": u, "events": []string{"user.created"},
			"client_id": h.portal}), http.StatusCreated, nil)
	}
	h.problem(h.do("POST", "/api/webhook", h.adminID, map[string]any{"url": "ftp://127.0.0.1/x",
		"events": []string{"user.created"}, "client_id": h.portal}), http.StatusBadRequest)
}

func TestWebhookAPIRotateAndReplay(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		h := newHookEnv(t, dbURL, false)
		var made hookDoc
		h.must(h.asClient("POST", "/api/webhook", h.portal, hookBody("")), http.StatusCreated, &made)
		sys := actor.System(context.Background())
		secretsAt := func() []string {
			t.Helper()
			w, err := h.hooks.Get(sys, made.ID)
			if err != nil {
				t.Fatal(err)
			}
			ss, err := h.hooks.OpenSecrets(w, h.now())
			if err != nil {
				t.Fatal(err)
			}
			return ss
		}
		if ss := secretsAt(); len(ss) != 1 || ss[0] != made.Secret {
			t.Fatalf("secrets before rotation: %d", len(ss))
		}
		var rot struct {
			Secret            string     `json:"secret"`
			PreviousExpiresAt *time.Time `json:"previous_expires_at"`
		}
		h.must(h.asClient("POST", "/api/webhook/"+made.ID+"/rotate-secret", h.portal,
			map[string]any{"overlap_seconds": 3600}), http.StatusOK, &rot)
		if rot.Secret == "" || rot.Secret == made.Secret || rot.PreviousExpiresAt == nil ||
			!rot.PreviousExpiresAt.Equal(h.now().Add(time.Hour)) {
			t.Fatalf("rotated: %+v", rot)
		}
		// During the overlap both sign: the receiver holding either verifies.
		ss := secretsAt()
		if len(ss) != 2 || ss[0] != rot.Secret || ss[1] != made.Secret {
			t.Fatalf("secrets during the overlap: %d", len(ss))
		}
		body := []byte(`{"type":"user.updated"}`)
		hdr, err := webhook.Sign(webhook.MessageID(1), h.now(), body, ss...)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{made.Secret, rot.Secret} {
			if err := webhook.Verify(s, hdr, body, h.now(), time.Minute); err != nil {
				t.Fatalf("verify during the overlap: %v", err)
			}
		}
		h.advance(time.Hour)
		if ss := secretsAt(); len(ss) != 1 || ss[0] != rot.Secret {
			t.Fatalf("secrets after the overlap: %d", len(ss))
		}
		// No body: the default overlap (24h); overlap 0 ends the old one now.
		h.must(h.do("POST", "/api/webhook/"+made.ID+"/rotate-secret", h.adminID, nil), http.StatusOK, &rot)
		if rot.PreviousExpiresAt == nil || !rot.PreviousExpiresAt.Equal(h.now().Add(24*time.Hour)) {
			t.Fatalf("default overlap: %+v", rot)
		}
		rot.PreviousExpiresAt = nil
		h.must(h.do("POST", "/api/webhook/"+made.ID+"/rotate-secret", h.adminID, map[string]any{"overlap_seconds": 0}),
			http.StatusOK, &rot)
		if ss := secretsAt(); rot.PreviousExpiresAt != nil || len(ss) != 1 || ss[0] != rot.Secret {
			t.Fatalf("no overlap: %+v, %d secrets", rot, len(ss))
		}

		// A delivery (written as the dispatcher writes one) is listed,
		// shown with its payload and replayed as a new pending delivery
		// with the same webhook-id.
		d := &webhook.Delivery{WebhookID: made.ID, EventID: 41, EventType: audit.UserUpdated, Subject: "Patient/9",
			Payload: []byte(`{"type":"user.updated","timestamp":"2025-03-14T15:09:26Z","data":{"subject":"Patient/9"}}`),
			Status:  webhook.DeliverySucceeded, Attempts: 1, ResponseStatus: 204, Latency: 2500 * time.Microsecond,
			LastAttemptAt: h.now(), DeliveredAt: h.now(), CreatedAt: h.now()}
		addTestDelivery(t, h.st, d)
		var page struct {
			Deliveries []deliveryDoc `json:"deliveries"`
		}
		h.must(h.asClient("GET", "/api/webhook/"+made.ID+"/deliveries", h.portal, nil), http.StatusOK, &page)
		if len(page.Deliveries) != 1 || page.Deliveries[0].WebhookIDHeader != "msg_41" ||
			page.Deliveries[0].Status != "succeeded" || page.Deliveries[0].Payload != nil {
			t.Fatalf("deliveries: %+v", page.Deliveries)
		}
		var one deliveryDoc
		h.must(h.asClient("GET", fmt.Sprintf("/api/webhook/%s/deliveries/%d", made.ID, d.ID), h.portal, nil), http.StatusOK, &one)
		if one.Payload["type"] != "user.updated" || one.Subject != "Patient/9" {
			t.Fatalf("one delivery: %+v", one)
		}
		h.advance(time.Minute)
		var replay deliveryDoc
		h.must(h.asClient("POST", fmt.Sprintf("/api/webhook/%s/deliveries/%d/replay", made.ID, d.ID), h.portal, nil),
			http.StatusAccepted, &replay)
		if replay.ID == d.ID || replay.Status != "pending" || replay.EventID != 41 || replay.WebhookIDHeader != "msg_41" ||
			replay.Attempts != 0 || replay.NextAttemptAt == nil || !replay.NextAttemptAt.Equal(h.now()) {
			t.Fatalf("replay: %+v", replay)
		}
		h.must(h.do("GET", "/api/webhook/"+made.ID+"/deliveries?status=pending", h.adminID, nil), http.StatusOK, &page)
		if len(page.Deliveries) != 1 || page.Deliveries[0].ID != replay.ID {
			t.Fatalf("pending deliveries: %+v", page.Deliveries)
		}
		// Another client may not see or replay them.
		h.problem(h.asClient("GET", fmt.Sprintf("/api/webhook/%s/deliveries/%d", made.ID, d.ID), h.other, nil), http.StatusForbidden)

		// No answer but the ones that issued them, and no audit event,
		// shows a secret.
		for _, p := range []string{"/api/webhook", "/api/webhook/" + made.ID} {
			res := h.do("GET", p, h.adminID, nil)
			if bytes.Contains(res.body, []byte("whsec_")) || bytes.Contains(res.body, []byte("secret")) {
				t.Fatalf("GET %s shows a secret: %s", p, res.body)
			}
		}
		evs, _, err := h.aud.List(sys, audit.Filter{}, store.Page{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var rotated, replayed int
		for _, e := range evs {
			if strings.Contains(e.Payload+e.Comment, "whsec_") {
				t.Fatalf("an audit event holds a secret: %+v", e)
			}
			switch e.Type {
			case audit.WebhookSecretRotated:
				rotated++
			case audit.WebhookDeliveryReplayed:
				replayed++
				if e.ClientID != h.portal || e.Subject != "Webhook/"+made.ID {
					t.Fatalf("replay event: %+v", e)
				}
			}
		}
		if rotated != 3 || replayed != 1 {
			t.Fatalf("rotated %d, replayed %d audit events", rotated, replayed)
		}
	})
}

// addTestDelivery writes a delivery row as the dispatcher does (its store
// method is the delivery side's).
func addTestDelivery(t *testing.T, db *sqlstore.DB, d *webhook.Delivery) {
	t.Helper()
	q := `INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, subject, payload, status, attempts,
		next_attempt_at, last_attempt_at, response_status, last_error, latency_us, created_at, delivered_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	if db.Dialect() == sqlstore.Postgres {
		var b strings.Builder
		n := 0
		for _, r := range q {
			if r == '?' {
				n++
				b.WriteString("$" + strconv.Itoa(n))
				continue
			}
			b.WriteRune(r)
		}
		q = b.String()
	}
	micro := func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return t.UnixMicro()
	}
	if err := db.Writer().QueryRowContext(context.Background(), q, d.WebhookID, d.EventID, string(d.EventType), d.Subject,
		string(d.Payload), string(d.Status), d.Attempts, micro(d.NextAttemptAt), micro(d.LastAttemptAt), d.ResponseStatus,
		d.LastError, d.Latency.Microseconds(), micro(d.CreatedAt), micro(d.DeliveredAt)).Scan(&d.ID); err != nil {
		t.Fatalf("add delivery: %v", err)
	}
}

// The whole server: a system client with a client credentials token
// manages its own subscription over HTTP; a patient's session may not.
func TestWebhookAPIClientCredentials(t *testing.T) {
	e := newEscEnv(t, testutil.SQLiteURL(t))
	sys := actor.System(context.Background())
	c, secret, err := e.svc.Clients.Create(sys, client.Settings{Name: "Portal",
		GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/Patient.rs ward:api"})
	if err != nil {
		t.Fatal(err)
	}
	// The management API takes a token with ward:api (docs/oauth.md).
	tok := e.clientCredentials(c.ID, secret, "system/Patient.rs ward:api")
	if tok == "" {
		t.Fatal("no client credentials token")
	}
	body := map[string]any{"url": "https://portal.example.org/ward", "events": []string{"user.created"}}
	a := e.do(principal{}, "POST", "/api/webhook", body, tok)
	if a.status != http.StatusCreated || !bytes.Contains(a.body, []byte(`"client_id":"`+c.ID+`"`)) {
		t.Fatalf("create with the client's own token: %d %s", a.status, a.body)
	}
	if a := e.do(principal{}, "GET", "/api/webhook", nil, tok); a.status != http.StatusOK {
		t.Fatalf("list with the client's own token: %d %s", a.status, a.body)
	}
	e.user("pat@example.org", escPassword, []string{directory.RolePatient})
	pat := principal{role: "patient", cookie: e.signIn("pat@example.org")}
	if a := e.do(pat, "POST", "/api/webhook", map[string]any{"url": "https://x.example.org/", "events": []string{"user.created"},
		"client_id": c.ID}, ""); a.status != http.StatusForbidden {
		t.Fatalf("a patient's session: %d %s", a.status, a.body)
	}
	if a := e.do(principal{}, "GET", "/api/webhook", nil, ""); a.status != http.StatusUnauthorized {
		t.Fatalf("anonymous: %d", a.status)
	}
}

// The webhook operations are in the OpenAPI document, without the 422
// this API never sends, and the create answer documents its secret.
func TestWebhookOpenAPI(t *testing.T) {
	h := newHookEnv(t, testutil.SQLiteURL(t), false)
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	h.must(h.do("GET", "/api/openapi.json", 0, nil), http.StatusOK, &doc)
	for path, methods := range map[string][]string{
		"/api/webhook":                                      {"get", "post"},
		"/api/webhook/{id}":                                 {"get", "patch", "delete"},
		"/api/webhook/{id}/rotate-secret":                   {"post"},
		"/api/webhook/{id}/deliveries":                      {"get"},
		"/api/webhook/{id}/deliveries/{delivery_id}":        {"get"},
		"/api/webhook/{id}/deliveries/{delivery_id}/replay": {"post"},
	} {
		for _, m := range methods {
			op, ok := doc.Paths[path][m]
			if !ok {
				t.Errorf("%s %s missing from the OpenAPI document", m, path)
				continue
			}
			if _, bad := op.Responses["422"]; bad {
				t.Errorf("%s %s documents a 422", m, path)
			}
		}
	}
	found := false
	for _, s := range doc.Components.Schemas {
		if s.Properties["secret"] != nil && s.Properties["client_id"] != nil && s.Properties["events"] != nil {
			found = true
		}
	}
	if !found {
		t.Error("no schema documents the create answer's secret beside the subscription's fields")
	}
}
