package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/store"
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

// Webhook ids are text, so their page cursor is the last id itself,
// base64url-encoded to stay opaque like store.EncodeCursor's.
func encodeWebhookCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func decodeWebhookCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(raw) > 256 || !utf8.Valid(raw) || strings.ContainsRune(string(raw), 0) {
		return "", apperr.New(apperr.Invalid, "malformed page cursor")
	}
	return string(raw), nil
}

// ListWebhooks returns subscriptions in id order, those of clientID only
// unless it is "", at most p.Limit after the cursor, and the next cursor
// ("" on the last page).
func (d *DB) ListWebhooks(ctx context.Context, clientID string, p store.Page) ([]*webhook.Subscription, string, error) {
	p = p.Normalize()
	after, err := decodeWebhookCursor(p.After)
	if err != nil {
		return nil, "", err
	}
	where, args := ` WHERE id > ?`, []any{after}
	if clientID != "" {
		where += ` AND client_id = ?`
		args = append(args, clientID)
	}
	args = append(args, p.Limit+1)
	out, err := queryList(ctx, d.rd(ctx), "list webhooks", scanWebhook, webhookSelect+where+` ORDER BY id LIMIT ?`, args...)
	if err != nil {
		return nil, "", err
	}
	if len(out) <= p.Limit {
		return out, "", nil
	}
	return out[:p.Limit], encodeWebhookCursor(out[p.Limit-1].ID), nil
}

// UpdateWebhook writes every field of w but its id, client, creator,
// AfterEventID and CreatedAt when the stored version is w.Version (compare
// and swap), then increments w.Version: Conflict when another write came
// first, NotFound when the row is gone.
func (d *DB) UpdateWebhook(ctx context.Context, w *webhook.Subscription) error {
	events, err := webhookEvents(w.Events)
	if err != nil {
		return err
	}
	x := d.wr(ctx)
	res, err := x.exec(ctx, `UPDATE webhooks SET url = ?, events = ?, description = ?, secret_sealed = ?,
		previous_secret_sealed = ?, previous_expires_at = ?, status = ?, disabled_reason = ?, failure_run = ?,
		updated_at = ?, version = version + 1 WHERE id = ? AND version = ?`,
		w.URL, events, w.Description, w.Secrets.Current, sealedOrNull(w.Secrets.Previous),
		microOrZero(w.Secrets.PreviousExpires), string(w.Status), w.DisabledReason, w.FailureRun,
		toMicro(w.UpdatedAt), w.ID, w.Version)
	if err != nil {
		return classify(err, "update webhook")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return classify(err, "update webhook")
	}
	if n == 0 {
		cur, err := d.GetWebhook(ctx, w.ID)
		if err != nil {
			return err
		}
		return apperr.New(apperr.Conflict, "webhook %s is at version %d, not %d", w.ID, cur.Version, w.Version)
	}
	w.Version++
	w.UpdatedAt = fromMicro(toMicro(w.UpdatedAt))
	w.Secrets.PreviousExpires = fromMicroOrZero(microOrZero(w.Secrets.PreviousExpires))
	if len(w.Secrets.Previous) == 0 {
		w.Secrets.Previous = nil
	}
	return nil
}

// DeleteWebhook removes a subscription; its deliveries go with it (ON
// DELETE CASCADE).
func (d *DB) DeleteWebhook(ctx context.Context, id string) error {
	return d.inTx(ctx, func(ctx context.Context, x q) error {
		// The cascade is spelled out too: SQLite enforces it only with
		// foreign keys on, and the delete must not depend on a pragma.
		if _, err := x.exec(ctx, `DELETE FROM webhook_deliveries WHERE webhook_id = ?`, id); err != nil {
			return classify(err, "delete webhook deliveries")
		}
		res, err := x.exec(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
		if err != nil {
			return classify(err, "delete webhook")
		}
		if n, err := res.RowsAffected(); err != nil {
			return classify(err, "delete webhook")
		} else if n == 0 {
			return notFound("webhook", id)
		}
		return nil
	})
}

// ListDeliveries returns a subscription's deliveries newest first, only
// those in status unless it is "", at most p.Limit before the cursor, and
// the next cursor ("" on the last page).
func (d *DB) ListDeliveries(ctx context.Context, webhookID string, status webhook.DeliveryStatus, p store.Page) ([]*webhook.Delivery, string, error) {
	p = p.Normalize()
	before, err := store.DecodeCursor(p.After)
	if err != nil {
		return nil, "", err
	}
	where, args := ` WHERE webhook_id = ?`, []any{webhookID}
	if before > 0 {
		where += ` AND id < ?`
		args = append(args, before)
	}
	if status != "" {
		where += ` AND status = ?`
		args = append(args, string(status))
	}
	args = append(args, p.Limit+1)
	out, err := queryList(ctx, d.rd(ctx), "list webhook deliveries", scanDelivery,
		deliverySelect+where+` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, "", err
	}
	if len(out) <= p.Limit {
		return out, "", nil
	}
	return out[:p.Limit], store.EncodeCursor(out[p.Limit-1].ID), nil
}

// GetDelivery reads one delivery of a subscription: NotFound when it does
// not exist or belongs to another subscription.
func (d *DB) GetDelivery(ctx context.Context, webhookID string, deliveryID int64) (*webhook.Delivery, error) {
	dl, err := scanDelivery(d.rd(ctx).row(ctx, deliverySelect+` WHERE webhook_id = ? AND id = ?`, webhookID, deliveryID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("webhook delivery", deliveryID)
	}
	if err != nil {
		return nil, classify(err, "get webhook delivery")
	}
	return dl, nil
}

// ReplayDelivery inserts a new pending delivery copying the event,
// subject and payload of delivery deliveryID of the subscription, due at
// now, and returns it. The event id is copied, so the replay carries the
// same webhook-id header and a receiver can de-duplicate it.
func (d *DB) ReplayDelivery(ctx context.Context, webhookID string, deliveryID int64, now time.Time) (*webhook.Delivery, error) {
	var out *webhook.Delivery
	err := d.inTx(ctx, func(ctx context.Context, x q) error {
		src, err := d.GetDelivery(ctx, webhookID, deliveryID)
		if err != nil {
			return err
		}
		var id int64
		if err := x.row(ctx, `INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, subject, payload,
			status, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?) RETURNING id`,
			webhookID, src.EventID, string(src.EventType), src.Subject, string(src.Payload),
			string(webhook.DeliveryPending), toMicro(now), toMicro(now)).Scan(&id); err != nil {
			return classify(err, "replay webhook delivery")
		}
		out, err = d.GetDelivery(ctx, webhookID, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// The control plane's store (webhook.Service).
var _ webhook.ServiceStore = (*DB)(nil)

// CountWebhooks counts every subscription, and those disabled.
func (d *DB) CountWebhooks(ctx context.Context) (total, disabled int, err error) {
	if err := d.rd(ctx).row(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), 0)
		FROM webhooks`, string(webhook.StatusDisabled)).Scan(&total, &disabled); err != nil {
		return 0, 0, classify(err, "count webhooks")
	}
	return total, disabled, nil
}
