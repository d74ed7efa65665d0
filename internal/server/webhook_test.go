package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/config"
	"ward/internal/testutil"
	"ward/internal/webhook"
)

// TestWebhookDeliveredThroughRiver: with the server running, a committed
// change reaches a subscribed receiver through the periodic dispatcher
// and the delivery job, signed with the subscription's secret.
func TestWebhookDeliveredThroughRiver(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		type msg struct {
			h    map[string]string
			body []byte
		}
		got := make(chan msg, 10)
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got <- msg{h: map[string]string{webhook.HeaderID: r.Header.Get(webhook.HeaderID),
				webhook.HeaderTimestamp: r.Header.Get(webhook.HeaderTimestamp),
				webhook.HeaderSignature: r.Header.Get(webhook.HeaderSignature)}, body: b}
		}))
		defer rcv.Close()
		srv := newServer(t, dbURL, func(c *config.Config) { c.OutboundAllowPrivate = true })
		testutil.Serve(t, srv, testutil.Listen(t))
		svc := srv.Services()
		ctx := actor.System(context.Background())
		now := time.Now()
		if err := svc.DB.CreateClient(ctx, &client.Client{ID: "crvs", Settings: client.Settings{Name: "crvs",
			GrantTypes: []string{"client_credentials"}, Scope: "system/Patient.read", AuthMethod: "client_secret_basic",
			TokenFormat: "opaque"}, Status: client.StatusActive, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		secret, _ := webhook.NewSecret()
		sealer, err := webhook.NewSealer(svc.MasterKey)
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := sealer.Encrypt([]byte(secret), []byte("wh1"))
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.DB.CreateWebhook(ctx, &webhook.Subscription{ID: "wh1", ClientID: "crvs", URL: rcv.URL,
			Events: []audit.EventType{audit.UserUpdated}, Status: webhook.StatusEnabled,
			Secrets: webhook.Sealed{Current: sealed}, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := svc.Audit.Record(ctx, audit.Change{Type: audit.UserUpdated, Subject: "Patient/5", SubjectID: 5,
			Fields: map[string]any{"name": "Ann"}}); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got:
			if err := webhook.Verify(secret, m.h, m.body, time.Now(), time.Minute); err != nil {
				t.Fatalf("signature: %v (%s)", err, m.body)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("no delivery within a minute")
		}
	})
}
