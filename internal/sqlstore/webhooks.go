package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"ward/internal/audit"
	"ward/internal/webhook"
)

// The webhook subscription store (issue 15). Sealed secrets are stored as
// given: this layer never sees a secret in clear.

const webhookSelect = `SELECT id, client_id, url, events, description, secret_sealed, previous_secret_sealed,
	previous_expires_at, status, disabled_reason, failure_run, after_event_id, created_by, created_at, updated_at,
	version FROM webhooks`

func scanWebhook(s scanner) (*webhook.Subscription, error) {
	var (
		w                     webhook.Subscription
		events, status        string
		prevExp, created, upd int64
	)
	if err := s.Scan(&w.ID, &w.ClientID, &w.URL, &events, &w.Description, &w.Secrets.Current, &w.Secrets.Previous,
		&prevExp, &status, &w.DisabledReason, &w.FailureRun, &w.AfterEventID, &w.CreatedBy, &created, &upd,
		&w.Version); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return nil, fmt.Errorf("webhook %s: events: %w", w.ID, err)
	}
	w.Status = webhook.Status(status)
	w.Secrets.PreviousExpires = fromMicroOrZero(prevExp)
	w.CreatedAt, w.UpdatedAt = fromMicro(created), fromMicro(upd)
	return &w, nil
}

func webhookEvents(ev []audit.EventType) (string, error) {
	if ev == nil {
		ev = []audit.EventType{}
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return "", fmt.Errorf("webhook events: %w", err)
	}
	return string(b), nil
}

// CreateWebhook inserts w with Version 1 and AfterEventID the audit head
// as this transaction sees it, so the subscription receives exactly the
// events committed after it.
func (d *DB) CreateWebhook(ctx context.Context, w *webhook.Subscription) error {
	events, err := webhookEvents(w.Events)
	if err != nil {
		return err
	}
	return d.inTx(ctx, func(ctx context.Context, x q) error {
		head, _, err := d.AuditHead(ctx)
		if err != nil {
			return err
		}
		if _, err := x.exec(ctx, `INSERT INTO webhooks (id, client_id, url, events, description, secret_sealed,
			previous_secret_sealed, previous_expires_at, status, disabled_reason, failure_run, after_event_id,
			created_by, created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
			w.ID, w.ClientID, w.URL, events, w.Description, w.Secrets.Current, sealedOrNull(w.Secrets.Previous),
			microOrZero(w.Secrets.PreviousExpires), string(w.Status), w.DisabledReason, w.FailureRun, head,
			w.CreatedBy, toMicro(w.CreatedAt), toMicro(w.UpdatedAt)); err != nil {
			return classify(err, "create webhook")
		}
		w.AfterEventID, w.Version = head, 1
		w.CreatedAt, w.UpdatedAt = fromMicro(toMicro(w.CreatedAt)), fromMicro(toMicro(w.UpdatedAt))
		w.Secrets.PreviousExpires = fromMicroOrZero(microOrZero(w.Secrets.PreviousExpires))
		return nil
	})
}

// GetWebhook reads one subscription.
func (d *DB) GetWebhook(ctx context.Context, id string) (*webhook.Subscription, error) {
	w, err := scanWebhook(d.rd(ctx).row(ctx, webhookSelect+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("webhook", id)
	}
	if err != nil {
		return nil, classify(err, "get webhook")
	}
	return w, nil
}

const deliverySelect = `SELECT id, webhook_id, event_id, event_type, subject, payload, status, attempts,
	next_attempt_at, last_attempt_at, response_status, last_error, latency_us, created_at, delivered_at
	FROM webhook_deliveries`

func scanDelivery(s scanner) (*webhook.Delivery, error) {
	var (
		dl                                 webhook.Delivery
		typ, payload, status               string
		next, last, latency, created, done int64
	)
	if err := s.Scan(&dl.ID, &dl.WebhookID, &dl.EventID, &typ, &dl.Subject, &payload, &status, &dl.Attempts,
		&next, &last, &dl.ResponseStatus, &dl.LastError, &latency, &created, &done); err != nil {
		return nil, err
	}
	dl.EventType, dl.Payload, dl.Status = audit.EventType(typ), []byte(payload), webhook.DeliveryStatus(status)
	dl.NextAttemptAt, dl.LastAttemptAt = fromMicroOrZero(next), fromMicroOrZero(last)
	dl.Latency = time.Duration(latency) * time.Microsecond
	dl.CreatedAt, dl.DeliveredAt = fromMicro(created), fromMicroOrZero(done)
	return &dl, nil
}
