package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"ward/internal/sqlstore"
	"ward/internal/sqlstore/storetest"
	"ward/internal/testutil"
	"ward/internal/webhook"
)

// TestWebhookSubscriptionConformance runs the webhook control-plane cases
// on both backends, each on a fresh database.
func TestWebhookSubscriptionConformance(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		first := true
		storetest.RunWebhookSubscriptions(t, func(t *testing.T) storetest.WebhookBackend {
			u := url
			if !first {
				u = freshURL(t, url)
			}
			first = false
			db := testutil.NewStore(t, u)
			return storetest.WebhookBackend{
				Backend:     storetest.Backend{Directory: db, Audit: db, Clients: db, Tx: db, Roles: db.Roles},
				Webhooks:    db,
				AddDelivery: func(ctx context.Context, d *webhook.Delivery) error { return insertDelivery(ctx, db, d) },
			}
		})
	})
}

// insertDelivery writes a delivery row as the dispatcher does; the
// dispatcher's own store method is the delivery side's.
func insertDelivery(ctx context.Context, db *sqlstore.DB, d *webhook.Delivery) error {
	q := `INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, subject, payload, status, attempts,
		next_attempt_at, last_attempt_at, response_status, last_error, latency_us, created_at, delivered_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	if db.Dialect() == sqlstore.Postgres {
		n := 0
		var b strings.Builder
		for _, r := range q {
			if r == '?' {
				n++
				fmt.Fprintf(&b, "$%d", n)
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
	return db.Writer().QueryRowContext(ctx, q, d.WebhookID, d.EventID, string(d.EventType), d.Subject, string(d.Payload),
		string(d.Status), d.Attempts, micro(d.NextAttemptAt), micro(d.LastAttemptAt), d.ResponseStatus, d.LastError,
		d.Latency.Microseconds(), micro(d.CreatedAt), micro(d.DeliveredAt)).Scan(&d.ID)
}
