package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/store"
	"ward/internal/webhook"
)

// WebhookBackend is a Backend with the webhook control-plane store (issue
// 15); its cases run through RunWebhookSubscriptions.
type WebhookBackend struct {
	Backend
	Webhooks webhook.ServiceStore
	// AddDelivery inserts a delivery row as the dispatcher would (that
	// store method belongs to the delivery side), setting d.ID.
	AddDelivery func(ctx context.Context, d *webhook.Delivery) error
}

// RunWebhookSubscriptions runs every subscription and delivery-log case,
// each on a backend from open.
func RunWebhookSubscriptions(t *testing.T, open func(t *testing.T) WebhookBackend) {
	for _, c := range []struct {
		name string
		fn   func(t *testing.T, b WebhookBackend)
	}{
		{"WebhookRoundTrip", testWebhookRoundTrip},
		{"WebhookList", testWebhookList},
		{"WebhookCompareAndSwap", testWebhookCAS},
		{"WebhookDeleteCascades", testWebhookDelete},
		{"WebhookDeliveries", testWebhookDeliveries},
		{"WebhookReplay", testWebhookReplay},
		{"WebhookRollback", testWebhookRollback},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

// webhookClient registers the confidential client subscriptions belong to.
func webhookClient(t *testing.T, b WebhookBackend, id string) {
	t.Helper()
	c := &client.Client{ID: id, Settings: client.Settings{Name: "Portal " + id,
		GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/Patient.rs",
		AuthMethod: client.AuthClientSecretBasic, TokenFormat: client.TokenOpaque},
		SecretHash: "ab", Status: client.StatusActive, CreatedAt: micro(base), UpdatedAt: micro(base)}
	must(t, b.Tx.InTx(t.Context(), func(ctx context.Context) error { return b.Clients.CreateClient(ctx, c) }),
		"create client")
}

// fullWebhook sets every field to a non-zero value.
func fullWebhook(id, clientID string) *webhook.Subscription {
	return &webhook.Subscription{ID: id, ClientID: clientID, URL: "https://receiver.example.org/hooks/" + id,
		Events: []audit.EventType{audit.UserCreated, audit.UserUpdated}, Description: "portal copy of " + id,
		Status: webhook.StatusDisabled, DisabledReason: "disabled by user 1", FailureRun: 3,
		Secrets: webhook.Sealed{Current: []byte{1, 0, 2, 3}, Previous: []byte{4, 5, 0},
			PreviousExpires: micro(base.Add(time.Hour))},
		CreatedBy: 7, CreatedAt: micro(base), UpdatedAt: micro(base.Add(time.Second))}
}

func createWebhook(t *testing.T, b WebhookBackend, w *webhook.Subscription) {
	t.Helper()
	must(t, b.Tx.InTx(t.Context(), func(ctx context.Context) error { return b.Webhooks.CreateWebhook(ctx, w) }),
		"create webhook")
}

func testWebhookRoundTrip(t *testing.T, b WebhookBackend) {
	ctx := t.Context()
	webhookClient(t, b, "portal")
	w := fullWebhook("wh_a", "portal")
	createWebhook(t, b, w)
	if w.Version != 1 {
		t.Fatalf("version after create: %d, want 1", w.Version)
	}
	got, err := b.Webhooks.GetWebhook(ctx, "wh_a")
	must(t, err, "get")
	mustEqual(t, got, w, "read back")
	_, err = b.Webhooks.GetWebhook(ctx, "wh_missing")
	wantKind(t, err, apperr.NotFound, "get a missing webhook")
	// A subscription needs an existing client.
	err = b.Tx.InTx(ctx, func(ctx context.Context) error {
		return b.Webhooks.CreateWebhook(ctx, fullWebhook("wh_b", "nobody"))
	})
	if err == nil {
		t.Fatal("a webhook of an unknown client was stored")
	}
}

func testWebhookList(t *testing.T, b WebhookBackend) {
	ctx := t.Context()
	webhookClient(t, b, "portal")
	webhookClient(t, b, "other")
	for i := range 5 {
		owner := "portal"
		if i%2 == 1 {
			owner = "other"
		}
		createWebhook(t, b, fullWebhook(fmt.Sprintf("wh_%02d", i), owner))
	}
	var ids []string
	p := store.Page{Limit: 2}
	for range 10 {
		ws, next, err := b.Webhooks.ListWebhooks(ctx, "", p)
		must(t, err, "list")
		for _, w := range ws {
			ids = append(ids, w.ID)
		}
		if next == "" {
			break
		}
		p.After = next
	}
	mustEqual(t, ids, []string{"wh_00", "wh_01", "wh_02", "wh_03", "wh_04"}, "all pages in id order")
	ws, next, err := b.Webhooks.ListWebhooks(ctx, "portal", store.Page{})
	must(t, err, "list one client's")
	if next != "" || len(ws) != 3 || ws[0].ID != "wh_00" || ws[1].ID != "wh_02" || ws[2].ID != "wh_04" {
		t.Fatalf("portal's webhooks: %d, next %q", len(ws), next)
	}
	_, _, err = b.Webhooks.ListWebhooks(ctx, "", store.Page{After: "!!"})
	wantKind(t, err, apperr.Invalid, "a forged cursor")
}

func testWebhookCAS(t *testing.T, b WebhookBackend) {
	ctx := t.Context()
	webhookClient(t, b, "portal")
	w := fullWebhook("wh_a", "portal")
	createWebhook(t, b, w)
	stale := *w
	w.URL, w.Events, w.Description = "https://elsewhere.example.org/x", []audit.EventType{audit.ConsentCreated}, ""
	w.Status, w.DisabledReason, w.FailureRun = webhook.StatusEnabled, "", 0
	w.Secrets = webhook.Sealed{Current: []byte{9, 9}}
	w.UpdatedAt = micro(base.Add(time.Minute))
	must(t, b.Tx.InTx(ctx, func(ctx context.Context) error { return b.Webhooks.UpdateWebhook(ctx, w) }), "update")
	if w.Version != 2 {
		t.Fatalf("version after update: %d, want 2", w.Version)
	}
	got, err := b.Webhooks.GetWebhook(ctx, "wh_a")
	must(t, err, "get")
	mustEqual(t, got, w, "updated read back")
	err = b.Tx.InTx(ctx, func(ctx context.Context) error { return b.Webhooks.UpdateWebhook(ctx, &stale) })
	wantKind(t, err, apperr.Conflict, "update with a stale version")
	missing := fullWebhook("wh_missing", "portal")
	missing.Version = 1
	err = b.Tx.InTx(ctx, func(ctx context.Context) error { return b.Webhooks.UpdateWebhook(ctx, missing) })
	wantKind(t, err, apperr.NotFound, "update a missing webhook")
}

// delivery is a full delivery row of event n for subscription id.
func delivery(id string, n int64, status webhook.DeliveryStatus) *webhook.Delivery {
	d := &webhook.Delivery{WebhookID: id, EventID: 100 + n, EventType: audit.UserUpdated,
		Subject: fmt.Sprintf("Patient/%d", n), Payload: []byte(fmt.Sprintf(`{"type":"user.updated","n":%d}`, n)),
		Status: status, Attempts: 2, NextAttemptAt: micro(base.Add(time.Hour)), LastAttemptAt: micro(base),
		ResponseStatus: 503, LastError: "503 Service Unavailable", Latency: 1500 * time.Microsecond,
		CreatedAt: micro(base)}
	if status == webhook.DeliverySucceeded {
		d.ResponseStatus, d.LastError, d.DeliveredAt, d.NextAttemptAt = 204, "", micro(base.Add(time.Minute)), time.Time{}
	}
	return d
}

func addDelivery(t *testing.T, b WebhookBackend, d *webhook.Delivery) {
	t.Helper()
	must(t, b.AddDelivery(t.Context(), d), "add delivery")
}

func testWebhookDelete(t *testing.T, b WebhookBackend) {
	ctx := t.Context()
	webhookClient(t, b, "portal")
	createWebhook(t, b, fullWebhook("wh_a", "portal"))
	createWebhook(t, b, fullWebhook("wh_b", "portal"))
	d := delivery("wh_a", 1, webhook.DeliveryPending)
	addDelivery(t, b, d)
	keep := delivery("wh_b", 1, webhook.DeliveryPending)
	addDelivery(t, b, keep)
	must(t, b.Tx.InTx(ctx, func(ctx context.Context) error { return b.Webhooks.DeleteWebhook(ctx, "wh_a") }), "delete")
	_, err := b.Webhooks.GetWebhook(ctx, "wh_a")
	wantKind(t, err, apperr.NotFound, "get a deleted webhook")
	_, err = b.Webhooks.GetDelivery(ctx, "wh_a", d.ID)
	wantKind(t, err, apperr.NotFound, "a deleted webhook's delivery")
	_, err = b.Webhooks.GetDelivery(ctx, "wh_b", keep.ID)
	must(t, err, "another webhook's delivery stays")
	err = b.Tx.InTx(ctx, func(ctx context.Context) error { return b.Webhooks.DeleteWebhook(ctx, "wh_a") })
	wantKind(t, err, apperr.NotFound, "delete twice")
}

func testWebhookDeliveries(t *testing.T, b WebhookBackend) {
	ctx := t.Context()
	webhookClient(t, b, "portal")
	createWebhook(t, b, fullWebhook("wh_a", "portal"))
	createWebhook(t, b, fullWebhook("wh_b", "portal"))
	var all []*webhook.Delivery
	for i := range int64(5) {
		st := webhook.DeliverySucceeded
		if i == 3 {
			st = webhook.DeliveryRetrying
		}
		d := delivery("wh_a", i, st)
		addDelivery(t, b, d)
		all = append(all, d)
	}
	addDelivery(t, b, delivery("wh_b", 9, webhook.DeliveryPending))

	got, err := b.Webhooks.GetDelivery(ctx, "wh_a", all[3].ID)
	must(t, err, "get delivery")
	mustEqual(t, got, all[3], "delivery read back")
	_, err = b.Webhooks.GetDelivery(ctx, "wh_b", all[3].ID)
	wantKind(t, err, apperr.NotFound, "another webhook's delivery")

	var ids []int64
	p := store.Page{Limit: 2}
	for range 10 {
		ds, next, err := b.Webhooks.ListDeliveries(ctx, "wh_a", "", p)
		must(t, err, "list deliveries")
		for _, d := range ds {
			ids = append(ids, d.ID)
		}
		if next == "" {
			break
		}
		p.After = next
	}
	mustEqual(t, ids, []int64{all[4].ID, all[3].ID, all[2].ID, all[1].ID, all[0].ID}, "newest first over pages")
	ds, _, err := b.Webhooks.ListDeliveries(ctx, "wh_a", webhook.DeliveryRetrying, store.Page{})
	must(t, err, "list retrying")
	if len(ds) != 1 || ds[0].ID != all[3].ID {
		t.Fatalf("retrying deliveries: %d", len(ds))
	}
	ds, _, err = b.Webhooks.ListDeliveries(ctx, "wh_a", webhook.DeliveryPending, store.Page{})
	must(t, err, "list pending")
	if len(ds) != 0 {
		t.Fatalf("pending deliveries of wh_a: %d, want 0", len(ds))
	}
}

func testWebhookReplay(t *testing.T, b WebhookBackend) {
	ctx := t.Context()
	webhookClient(t, b, "portal")
	createWebhook(t, b, fullWebhook("wh_a", "portal"))
	createWebhook(t, b, fullWebhook("wh_b", "portal"))
	src := delivery("wh_a", 1, webhook.DeliverySucceeded)
	addDelivery(t, b, src)
	now := micro(base.Add(2 * time.Hour))
	var got *webhook.Delivery
	must(t, b.Tx.InTx(ctx, func(ctx context.Context) error {
		var err error
		got, err = b.Webhooks.ReplayDelivery(ctx, "wh_a", src.ID, now)
		return err
	}), "replay")
	want := &webhook.Delivery{ID: got.ID, WebhookID: "wh_a", EventID: src.EventID, EventType: src.EventType,
		Subject: src.Subject, Payload: src.Payload, Status: webhook.DeliveryPending, NextAttemptAt: now, CreatedAt: now}
	mustEqual(t, got, want, "the replay")
	if got.ID <= src.ID {
		t.Fatalf("replay id %d not after %d", got.ID, src.ID)
	}
	again, err := b.Webhooks.GetDelivery(ctx, "wh_a", got.ID)
	must(t, err, "get the replay")
	mustEqual(t, again, want, "the replay read back")
	err = b.Tx.InTx(ctx, func(ctx context.Context) error {
		_, err := b.Webhooks.ReplayDelivery(ctx, "wh_b", src.ID, now)
		return err
	})
	wantKind(t, err, apperr.NotFound, "replay another webhook's delivery")
}

// testWebhookRollback: a create, update and delete rolled back leave
// nothing behind.
func testWebhookRollback(t *testing.T, b WebhookBackend) {
	ctx := t.Context()
	webhookClient(t, b, "portal")
	boom := fmt.Errorf("boom")
	err := b.Tx.InTx(ctx, func(ctx context.Context) error {
		if err := b.Webhooks.CreateWebhook(ctx, fullWebhook("wh_a", "portal")); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("rolled-back create: %v", err)
	}
	_, err = b.Webhooks.GetWebhook(ctx, "wh_a")
	wantKind(t, err, apperr.NotFound, "a rolled-back create")
	w := fullWebhook("wh_b", "portal")
	createWebhook(t, b, w)
	_ = b.Tx.InTx(ctx, func(ctx context.Context) error {
		c := *w
		c.URL = "https://changed.example.org/"
		if err := b.Webhooks.UpdateWebhook(ctx, &c); err != nil {
			return err
		}
		if err := b.Webhooks.DeleteWebhook(ctx, "wh_b"); err != nil {
			return err
		}
		return boom
	})
	got, err := b.Webhooks.GetWebhook(ctx, "wh_b")
	must(t, err, "get after rollback")
	mustEqual(t, got, w, "unchanged after rollback")
}
