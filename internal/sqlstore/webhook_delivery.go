package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"ward/internal/audit"
	"ward/internal/webhook"
)

// The webhook outbox (issue 15): the dispatch cursor over the audit chain,
// deliveries written by the dispatcher, and the delivery worker's claims
// and attempts. Subscriptions themselves are in webhooks.go.

// forUpdate is the row lock of a read that a write follows in the same
// transaction: PostgreSQL needs it, SQLite's BEGIN IMMEDIATE already
// serialises writers.
func (d *DB) forUpdate() string {
	if d.dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// LockDispatchCursor returns the id of the last dispatched audit event,
// locking the cursor row until the transaction ends. On PostgreSQL a
// cursor another dispatcher holds is skipped (ok false) rather than waited
// for: the transaction may share a group commit with requests, which must
// not queue behind another replica's dispatch.
func (d *DB) LockDispatchCursor(ctx context.Context) (int64, bool, error) {
	if d.Tx(ctx) == nil {
		return 0, false, errors.New("lock webhook dispatch cursor: needs a transaction")
	}
	lock := ""
	if d.dialect == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var id int64
	err := d.wr(ctx).row(ctx, `SELECT last_event_id FROM webhook_dispatch WHERE id = 1`+lock).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, classify(err, "lock webhook dispatch cursor")
	}
	return id, true, nil
}

// SetDispatchCursor moves the dispatch cursor.
func (d *DB) SetDispatchCursor(ctx context.Context, lastEventID int64) error {
	if _, err := d.wr(ctx).exec(ctx, `UPDATE webhook_dispatch SET last_event_id = ? WHERE id = 1`, lastEventID); err != nil {
		return classify(err, "move webhook dispatch cursor")
	}
	return nil
}

// AuditEventsAfter returns at most limit audit events after afterID, in
// id order.
func (d *DB) AuditEventsAfter(ctx context.Context, afterID int64, limit int) ([]audit.Event, error) {
	return queryList(ctx, d.rd(ctx), "read audit events to dispatch", scanEvent, `SELECT `+auditColumns+
		` FROM audit_events WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
}

// webhookColumnsW is webhookSelect's column list qualified by the alias w.
const webhookColumnsW = `w.id, w.client_id, w.url, w.events, w.description, w.secret_sealed, w.previous_secret_sealed,
	w.previous_expires_at, w.status, w.disabled_reason, w.failure_run, w.after_event_id, w.created_by, w.created_at,
	w.updated_at, w.version`

// extraScanner scans a row whose first columns are what the wrapped
// scanner function expects, and the rest into extra.
type extraScanner struct {
	s     scanner
	extra []any
}

func (e extraScanner) Scan(dest ...any) error { return e.s.Scan(append(dest, e.extra...)...) }

// DispatchTargets returns every subscription of a client that is not
// disabled, with the client's registered scope and intervention.
func (d *DB) DispatchTargets(ctx context.Context) ([]webhook.Target, error) {
	return queryList(ctx, d.rd(ctx), "read webhook targets", func(s scanner) (webhook.Target, error) {
		var t webhook.Target
		sub, err := scanWebhook(extraScanner{s: s, extra: []any{&t.Scope, &t.Intervention}})
		t.Sub = sub
		return t, err
	}, `SELECT `+webhookColumnsW+`, c.scope, COALESCE(c.intervention, '') FROM webhooks w
		JOIN oauth_clients c ON c.client_id = w.client_id WHERE NOT c.disabled ORDER BY w.id`)
}

// SubscribedPeople returns the "subscribed" intervention rows of userIDs.
func (d *DB) SubscribedPeople(ctx context.Context, userIDs []int64) ([]webhook.Subscribed, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	cond, arg := d.int64List("user_id", userIDs)
	return queryList(ctx, d.rd(ctx), "read subscribed people", func(s scanner) (webhook.Subscribed, error) {
		var r webhook.Subscribed
		return r, s.Scan(&r.UserID, &r.Intervention)
	}, `SELECT user_id, intervention_name FROM user_interventions WHERE access = 'subscribed' AND `+cond, arg)
}

// deliveryInsertChunk is how many deliveries one INSERT carries.
const deliveryInsertChunk = 100

// InsertDeliveries stores new deliveries, a few statements however many.
func (d *DB) InsertDeliveries(ctx context.Context, ds []*webhook.Delivery) error {
	return d.inTx(ctx, func(ctx context.Context, x q) error {
		for start := 0; start < len(ds); start += deliveryInsertChunk {
			part := ds[start:min(start+deliveryInsertChunk, len(ds))]
			var b strings.Builder
			b.WriteString(`INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, subject, payload, status,
				next_attempt_at, created_at) VALUES `)
			args := make([]any, 0, 8*len(part))
			for i, dl := range part {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
				args = append(args, dl.WebhookID, dl.EventID, string(dl.EventType), dl.Subject, string(dl.Payload),
					string(dl.Status), microOrZero(dl.NextAttemptAt), toMicro(dl.CreatedAt))
			}
			if _, err := x.exec(ctx, b.String(), args...); err != nil {
				return classify(err, "insert webhook deliveries")
			}
		}
		return nil
	})
}

// LockWebhook reads one subscription, locking its row until the
// transaction in ctx ends.
func (d *DB) LockWebhook(ctx context.Context, id string) (*webhook.Subscription, error) {
	w, err := scanWebhook(d.wr(ctx).row(ctx, webhookSelect+` WHERE id = ?`+d.forUpdate(), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("webhook", id)
	}
	if err != nil {
		return nil, classify(err, "lock webhook")
	}
	return w, nil
}

// SetWebhookFailureRun records a subscription's failure run and, with
// disable, disables it with reason. Only disabling bumps the version: a
// person's concurrent edit then conflicts, rather than silently undoing
// it; the run alone is ward's bookkeeping.
func (d *DB) SetWebhookFailureRun(ctx context.Context, id string, run int, disable bool, reason string, now time.Time) error {
	var (
		res sql.Result
		err error
	)
	if disable {
		res, err = d.wr(ctx).exec(ctx, `UPDATE webhooks SET failure_run = ?, status = 'disabled', disabled_reason = ?,
			updated_at = ?, version = version + 1 WHERE id = ?`, run, reason, toMicro(now), id)
	} else {
		res, err = d.wr(ctx).exec(ctx, `UPDATE webhooks SET failure_run = ? WHERE id = ?`, run, id)
	}
	if err != nil {
		return classify(err, "record webhook failure run")
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return notFound("webhook", id)
	}
	return nil
}

// deliveryColumnsD is deliverySelect's column list qualified by d.
const deliveryColumnsD = `d.id, d.webhook_id, d.event_id, d.event_type, d.subject, d.payload, d.status, d.attempts,
	d.next_attempt_at, d.last_attempt_at, d.response_status, d.last_error, d.latency_us, d.created_at, d.delivered_at`

// ClaimDeliveries takes at most heads due subject heads of webhookID in id
// order, moves their next attempt to until (the claim), and returns each
// with up to chain-1 of its subject's following unsucceeded deliveries.
// A head is an unsucceeded delivery with no earlier unsucceeded delivery
// of its subject (index webhook_deliveries_subject, migration 00029). On
// PostgreSQL concurrent claimers skip each other's locked heads.
func (d *DB) ClaimDeliveries(ctx context.Context, webhookID string, now, until time.Time, heads, chain int) ([][]*webhook.Delivery, error) {
	lock := ""
	if d.dialect == Postgres {
		lock = " FOR UPDATE OF d SKIP LOCKED"
	}
	var out [][]*webhook.Delivery
	err := d.inTx(ctx, func(ctx context.Context, x q) error {
		hs, err := queryList(ctx, x, "find due webhook deliveries", scanDelivery, `SELECT `+deliveryColumnsD+`
			FROM webhook_deliveries d WHERE d.webhook_id = ? AND d.status <> 'succeeded' AND d.next_attempt_at <= ?
			AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.webhook_id = d.webhook_id
				AND e.subject = d.subject AND e.status <> 'succeeded' AND e.id < d.id)
			ORDER BY d.id LIMIT ?`+lock, webhookID, toMicro(now), heads)
		if err != nil || len(hs) == 0 {
			return err
		}
		ids := make([]int64, len(hs))
		subjects := make([]string, len(hs))
		for i, h := range hs {
			ids[i], subjects[i] = h.ID, h.Subject
		}
		cond, arg := d.int64List("id", ids)
		if _, err := x.exec(ctx, `UPDATE webhook_deliveries SET next_attempt_at = ? WHERE `+cond, toMicro(until), arg); err != nil {
			return classify(err, "claim webhook deliveries")
		}
		byHead := make(map[string][]*webhook.Delivery, len(hs))
		for _, h := range hs {
			byHead[h.Subject] = []*webhook.Delivery{h}
		}
		if chain > 1 {
			scond, sarg := d.stringList("subject", subjects)
			fs, err := queryList(ctx, x, "read following webhook deliveries", scanDelivery, deliverySelect+`
				WHERE webhook_id = ? AND status <> 'succeeded' AND `+scond+` AND id > ? ORDER BY id LIMIT ?`,
				webhookID, sarg, ids[0], len(hs)*(chain-1))
			if err != nil {
				return err
			}
			for _, f := range fs {
				c := byHead[f.Subject]
				if len(c) > 0 && f.ID > c[0].ID && len(c) < chain {
					byHead[f.Subject] = append(c, f)
				}
			}
		}
		for _, h := range hs {
			out = append(out, byHead[h.Subject])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// attemptChunk is how many attempts one UPDATE records.
const attemptChunk = 100

// RecordAttempts writes each attempt's outcome (or a released claim's due
// time), a statement per hundred attempts. A succeeded delivery is never
// changed again, so a late worker whose claim lapsed cannot undo another's
// success.
func (d *DB) RecordAttempts(ctx context.Context, as []webhook.Attempt) error {
	return d.inTx(ctx, func(ctx context.Context, x q) error {
		var tried []webhook.Attempt
		for _, a := range as {
			if !a.Released {
				tried = append(tried, a)
				continue
			}
			if _, err := x.exec(ctx, `UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ? AND status <> 'succeeded'`,
				toMicro(a.NextAttemptAt), a.DeliveryID); err != nil {
				return classify(err, "release webhook delivery")
			}
		}
		for start := 0; start < len(tried); start += attemptChunk {
			part := tried[start:min(start+attemptChunk, len(tried))]
			// One UPDATE ... FROM a VALUES list (both databases have it);
			// the casts type PostgreSQL's parameters.
			var b strings.Builder
			b.WriteString(`WITH v (id, status, attempts, next_at, last_at, response_status, last_error, latency_us,
				delivered_at) AS (VALUES `)
			args := make([]any, 0, 9*len(part))
			for i, a := range part {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(`(CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS INTEGER), CAST(? AS BIGINT), CAST(? AS BIGINT),
					CAST(? AS INTEGER), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT))`)
				status, next, done := webhook.DeliveryRetrying, microOrZero(a.NextAttemptAt), int64(0)
				if a.Succeeded {
					status, next, done = webhook.DeliverySucceeded, 0, toMicro(a.At)
				}
				args = append(args, a.DeliveryID, string(status), a.Attempts, next, toMicro(a.At), a.ResponseStatus,
					a.Error, a.Latency.Microseconds(), done)
			}
			b.WriteString(`) UPDATE webhook_deliveries SET status = v.status, attempts = v.attempts,
				next_attempt_at = v.next_at, last_attempt_at = v.last_at, response_status = v.response_status,
				last_error = v.last_error, latency_us = v.latency_us, delivered_at = v.delivered_at
				FROM v WHERE webhook_deliveries.id = v.id AND webhook_deliveries.status <> 'succeeded'`)
			if _, err := x.exec(ctx, b.String(), args...); err != nil {
				return classify(err, "record webhook delivery attempts")
			}
		}
		return nil
	})
}

// DueWebhooks returns the enabled subscriptions with an unsucceeded
// delivery due at now, at most limit.
func (d *DB) DueWebhooks(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return queryList(ctx, d.rd(ctx), "find webhooks with due deliveries", func(s scanner) (string, error) {
		var id string
		return id, s.Scan(&id)
	}, `SELECT w.id FROM webhooks w WHERE w.status = 'enabled' AND EXISTS (SELECT 1 FROM webhook_deliveries d
		WHERE d.webhook_id = w.id AND d.status <> 'succeeded' AND d.next_attempt_at <= ?) ORDER BY w.id LIMIT ?`,
		toMicro(now), limit)
}

var _ webhook.OutboxStore = (*DB)(nil)
