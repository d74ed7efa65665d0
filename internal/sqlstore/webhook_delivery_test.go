package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/sqlstore"
	"ward/internal/testutil"
	"ward/internal/webhook"
)

// newWebhookRow stores a client with scope and a subscription of it.
func newWebhookRow(t *testing.T, db *sqlstore.DB, id, scope string) *webhook.Subscription {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	if err := db.CreateClient(ctx, &client.Client{ID: "client-" + id, Settings: client.Settings{Name: id,
		GrantTypes: []string{"client_credentials"}, Scope: scope, AuthMethod: "client_secret_basic", TokenFormat: "opaque"},
		Status: client.StatusActive, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	w := &webhook.Subscription{ID: id, ClientID: "client-" + id, URL: "https://example.org/hook",
		Events: []audit.EventType{audit.UserUpdated}, Status: webhook.StatusEnabled,
		Secrets: webhook.Sealed{Current: []byte("sealed")}, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestWebhookClaimsOrderPerSubject: a subject's deliveries go one at a
// time in id order, and a subject whose head waits out a backoff does not
// hold back the others (no starvation).
func TestWebhookClaimsOrderPerSubject(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		db := testutil.NewStore(t, url)
		ctx := context.Background()
		w := newWebhookRow(t, db, "wh1", "system/Patient.read")
		now := time.Now().UTC().Truncate(time.Microsecond)
		var ds []*webhook.Delivery
		for i, subj := range []string{"Patient/1", "Patient/2", "Patient/1", "Patient/1", "Patient/2"} {
			ds = append(ds, &webhook.Delivery{WebhookID: w.ID, EventID: int64(100 + i), EventType: audit.UserUpdated,
				Subject: subj, Payload: []byte(`{}`), Status: webhook.DeliveryPending, NextAttemptAt: now, CreatedAt: now})
		}
		if err := db.InsertDeliveries(ctx, ds); err != nil {
			t.Fatal(err)
		}
		due, err := db.DueWebhooks(ctx, now, 10)
		if err != nil || len(due) != 1 || due[0] != w.ID {
			t.Fatalf("due webhooks %v %v", due, err)
		}
		lease := now.Add(time.Minute)
		chains, err := db.ClaimDeliveries(ctx, w.ID, now, lease, 10, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got := chainEvents(chains); len(got) != 2 || !equal(got[0], []int64{100, 102, 103}) || !equal(got[1], []int64{101, 104}) {
			t.Fatalf("chains %v, want [[100 102 103] [101 104]]", got)
		}
		// Claimed: nothing more to take until the claim lapses.
		if again, err := db.ClaimDeliveries(ctx, w.ID, now, lease, 10, 10); err != nil || len(again) != 0 {
			t.Fatalf("claimed twice: %v %v", chainEvents(again), err)
		}
		// Patient/1's head fails and waits an hour; Patient/2's succeeds.
		p1, p2 := chains[0][0], chains[1][0]
		if err := db.RecordAttempts(ctx, []webhook.Attempt{
			{DeliveryID: p1.ID, Attempts: 1, At: now, NextAttemptAt: now.Add(time.Hour), ResponseStatus: 500, Error: "receiver answered 500"},
			{DeliveryID: p2.ID, Succeeded: true, Attempts: 1, At: now, ResponseStatus: 204, Latency: 3 * time.Millisecond},
		}); err != nil {
			t.Fatal(err)
		}
		chains, err = db.ClaimDeliveries(ctx, w.ID, now, lease, 10, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got := chainEvents(chains); len(got) != 1 || !equal(got[0], []int64{104}) {
			t.Fatalf("after the failure chains %v, want only Patient/2's next [[104]]", got)
		}
		// A late failure never undoes a success.
		if err := db.RecordAttempts(ctx, []webhook.Attempt{{DeliveryID: p2.ID, Attempts: 2, At: now,
			NextAttemptAt: now.Add(time.Hour), Error: "late"}}); err != nil {
			t.Fatal(err)
		}
		// A released claim is due again at once.
		if err := db.RecordAttempts(ctx, []webhook.Attempt{{DeliveryID: chains[0][0].ID, Released: true, NextAttemptAt: now}}); err != nil {
			t.Fatal(err)
		}
		if again, err := db.ClaimDeliveries(ctx, w.ID, now, lease, 10, 10); err != nil || len(again) != 1 || again[0][0].EventID != 104 {
			t.Fatalf("released claim not taken again: %v %v", chainEvents(again), err)
		}
		// An hour on, Patient/1's head comes due, with its chain behind it.
		later := now.Add(2 * time.Hour)
		chains, err = db.ClaimDeliveries(ctx, w.ID, later, later.Add(time.Minute), 10, 2)
		if err != nil {
			t.Fatal(err)
		}
		if got := chainEvents(chains); len(got) < 1 || !equal(got[0], []int64{100, 102}) || chains[0][0].Attempts != 1 ||
			chains[0][0].Status != webhook.DeliveryRetrying || chains[0][0].ResponseStatus != 500 {
			t.Fatalf("chains %v (%+v), want Patient/1's [100 102] first, tried once", got, chains[0][0])
		}
		// The failure run and disabling.
		if err := db.InTx(ctx, func(ctx context.Context) error {
			if _, err := db.LockWebhook(ctx, w.ID); err != nil {
				return err
			}
			return db.SetWebhookFailureRun(ctx, w.ID, 7, true, "7 consecutive failed deliveries", now)
		}); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetWebhook(ctx, w.ID)
		if err != nil || got.FailureRun != 7 || got.Status != webhook.StatusDisabled || got.Version != 2 ||
			got.DisabledReason != "7 consecutive failed deliveries" {
			t.Fatalf("after disabling %+v %v", got, err)
		}
		if due, err := db.DueWebhooks(ctx, later, 10); err != nil || len(due) != 0 {
			t.Fatalf("a disabled webhook is due: %v %v", due, err)
		}
	})
}

// TestWebhookDispatchCursor: the cursor starts at the audit head of the
// migration, needs a transaction to lock, and moves.
func TestWebhookDispatchCursor(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		db := testutil.NewStore(t, url)
		ctx := context.Background()
		if _, _, err := db.LockDispatchCursor(ctx); err == nil {
			t.Fatal("locked the cursor outside a transaction")
		}
		for i := range 3 {
			if err := db.AppendAudit(ctx, &audit.Event{Timestamp: time.Now(), SubjectID: int64(i + 1),
				Context: audit.User, Type: audit.UserUpdated, Subject: audit.UserRef(int64(i + 1))}); err != nil {
				t.Fatal(err)
			}
		}
		err := db.InTx(ctx, func(ctx context.Context) error {
			c, ok, err := db.LockDispatchCursor(ctx)
			if err != nil || !ok {
				return fmt.Errorf("lock: %v %v", ok, err)
			}
			evs, err := db.AuditEventsAfter(ctx, c, 2)
			if err != nil {
				return err
			}
			if len(evs) != 2 || evs[0].ID != c+1 || evs[1].Type != audit.UserUpdated {
				t.Errorf("events after %d: %+v", c, evs)
			}
			return db.SetDispatchCursor(ctx, evs[1].ID)
		})
		if err != nil {
			t.Fatal(err)
		}
		err = db.InTx(ctx, func(ctx context.Context) error {
			c, ok, err := db.LockDispatchCursor(ctx)
			if err != nil || !ok {
				return fmt.Errorf("lock: %v %v", ok, err)
			}
			evs, err := db.AuditEventsAfter(ctx, c, 10)
			if len(evs) != 1 || evs[0].SubjectID != 3 {
				t.Errorf("after the move: %+v", evs)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func chainEvents(chains [][]*webhook.Delivery) [][]int64 {
	out := make([][]int64, len(chains))
	for i, c := range chains {
		for _, d := range c {
			out[i] = append(out[i], d.EventID)
		}
	}
	return out
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestWebhookDispatchCursorSkippedWhileHeld: on PostgreSQL a second
// replica's dispatcher skips the cursor another holds instead of waiting
// (SQLite has one writer: the question does not arise).
func TestWebhookDispatchCursorSkippedWhileHeld(t *testing.T) {
	url := testutil.PostgresURL(t)
	one, two := testutil.NewStore(t, url), testutil.NewStore(t, url)
	ctx := context.Background()
	err := one.InTx(ctx, func(ctx context.Context) error {
		if _, ok, err := one.LockDispatchCursor(ctx); err != nil || !ok {
			return fmt.Errorf("first lock: %v %v", ok, err)
		}
		return two.InTx(context.Background(), func(ctx2 context.Context) error {
			_, ok, err := two.LockDispatchCursor(ctx2)
			if err != nil || ok {
				return fmt.Errorf("second replica: ok %v err %v, want a skip", ok, err)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}
