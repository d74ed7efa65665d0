package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"ward/internal/apperr"
	"ward/internal/integration"
)

// The integration store (issue 15 part 2: pushed integration tokens). The
// sealed signing secret is stored as given: this layer never sees it in
// clear.

var _ integration.Store = (*DB)(nil)

const integrationSelect = `SELECT id, client_id, url, secret_sealed, token_lifetime_s, last_status,
	last_http_status, last_error, failures, last_attempt_at, last_pushed_at, token_id, token_expires_at,
	next_push_at, lease_until, created_by, created_at, updated_at, version FROM integrations`

func scanIntegration(s scanner) (*integration.Integration, error) {
	var (
		it                                                integration.Integration
		status                                            string
		life, attempt, pushed, exp, next, lease, cre, upd int64
	)
	if err := s.Scan(&it.ID, &it.ClientID, &it.URL, &it.SecretSealed, &life, &status, &it.LastHTTPStatus,
		&it.LastError, &it.Failures, &attempt, &pushed, &it.TokenID, &exp, &next, &lease, &it.CreatedBy, &cre, &upd,
		&it.Version); err != nil {
		return nil, err
	}
	it.TokenLifetime = time.Duration(life) * time.Second
	it.LastStatus = integration.Status(status)
	it.LastAttemptAt, it.LastPushedAt = fromMicroOrZero(attempt), fromMicroOrZero(pushed)
	it.TokenExpiresAt, it.NextPushAt, it.LeaseUntil = fromMicroOrZero(exp), fromMicroOrZero(next), fromMicroOrZero(lease)
	it.CreatedAt, it.UpdatedAt = fromMicro(cre), fromMicro(upd)
	return &it, nil
}

// roundIntegrationTimes leaves it's times as the database returns them.
func roundIntegrationTimes(it *integration.Integration) {
	r := func(t time.Time) time.Time { return fromMicroOrZero(microOrZero(t)) }
	it.LastAttemptAt, it.LastPushedAt, it.TokenExpiresAt = r(it.LastAttemptAt), r(it.LastPushedAt), r(it.TokenExpiresAt)
	it.NextPushAt, it.LeaseUntil = r(it.NextPushAt), r(it.LeaseUntil)
	it.CreatedAt, it.UpdatedAt = fromMicro(toMicro(it.CreatedAt)), fromMicro(toMicro(it.UpdatedAt))
}

// CreateIntegration inserts it with Version 1.
func (d *DB) CreateIntegration(ctx context.Context, it *integration.Integration) error {
	if _, err := d.wr(ctx).exec(ctx, `INSERT INTO integrations (id, client_id, url, secret_sealed, token_lifetime_s,
		last_status, last_http_status, last_error, failures, last_attempt_at, last_pushed_at, token_id,
		token_expires_at, next_push_at, lease_until, created_by, created_at, updated_at, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
		it.ID, it.ClientID, it.URL, it.SecretSealed, int64(it.TokenLifetime/time.Second), string(it.LastStatus),
		it.LastHTTPStatus, it.LastError, it.Failures, microOrZero(it.LastAttemptAt), microOrZero(it.LastPushedAt),
		it.TokenID, microOrZero(it.TokenExpiresAt), microOrZero(it.NextPushAt), microOrZero(it.LeaseUntil),
		it.CreatedBy, toMicro(it.CreatedAt), toMicro(it.UpdatedAt)); err != nil {
		return classify(err, "create integration")
	}
	it.Version = 1
	roundIntegrationTimes(it)
	return nil
}

// GetIntegration reads one integration.
func (d *DB) GetIntegration(ctx context.Context, id string) (*integration.Integration, error) {
	it, err := scanIntegration(d.rd(ctx).row(ctx, integrationSelect+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("integration", id)
	}
	if err != nil {
		return nil, classify(err, "get integration")
	}
	return it, nil
}

// ListIntegrations returns every integration in creation order.
func (d *DB) ListIntegrations(ctx context.Context) ([]*integration.Integration, error) {
	return queryList(ctx, d.rd(ctx), "list integrations", scanIntegration, integrationSelect+` ORDER BY created_at, id`)
}

// DueIntegrations returns integrations due at now whose lease has lapsed.
func (d *DB) DueIntegrations(ctx context.Context, now time.Time, limit int) ([]*integration.Integration, error) {
	n := toMicro(now)
	return queryList(ctx, d.rd(ctx), "due integrations", scanIntegration,
		integrationSelect+` WHERE next_push_at <= ? AND lease_until <= ? ORDER BY next_push_at, id LIMIT ?`, n, n, limit)
}

// UpdateIntegration writes it when the stored version is it.Version.
func (d *DB) UpdateIntegration(ctx context.Context, it *integration.Integration) error {
	res, err := d.wr(ctx).exec(ctx, `UPDATE integrations SET url = ?, token_lifetime_s = ?, last_status = ?,
		last_http_status = ?, last_error = ?, failures = ?, last_attempt_at = ?, last_pushed_at = ?, token_id = ?,
		token_expires_at = ?, next_push_at = ?, lease_until = ?, updated_at = ?, version = version + 1
		WHERE id = ? AND version = ?`,
		it.URL, int64(it.TokenLifetime/time.Second), string(it.LastStatus), it.LastHTTPStatus, it.LastError,
		it.Failures, microOrZero(it.LastAttemptAt), microOrZero(it.LastPushedAt), it.TokenID,
		microOrZero(it.TokenExpiresAt), microOrZero(it.NextPushAt), microOrZero(it.LeaseUntil), toMicro(it.UpdatedAt),
		it.ID, it.Version)
	if err != nil {
		return classify(err, "update integration")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return classify(err, "update integration")
	}
	if n == 0 {
		cur, err := d.GetIntegration(ctx, it.ID)
		if err != nil {
			return err
		}
		return apperr.New(apperr.Conflict, "integration %s is at version %d, not %d", it.ID, cur.Version, it.Version)
	}
	it.Version++
	roundIntegrationTimes(it)
	return nil
}

// DeleteIntegration removes an integration and its token list.
func (d *DB) DeleteIntegration(ctx context.Context, id string) error {
	return d.inTx(ctx, func(ctx context.Context, x q) error {
		if _, err := x.exec(ctx, `DELETE FROM integration_tokens WHERE integration_id = ?`, id); err != nil {
			return classify(err, "delete integration tokens")
		}
		res, err := x.exec(ctx, `DELETE FROM integrations WHERE id = ?`, id)
		if err != nil {
			return classify(err, "delete integration")
		}
		if n, err := res.RowsAffected(); err != nil {
			return classify(err, "delete integration")
		} else if n == 0 {
			return notFound("integration", id)
		}
		return nil
	})
}

// AddPushedToken records a pushed token and forgets the integration's
// expired ones.
func (d *DB) AddPushedToken(ctx context.Context, id string, tokenID int64, expiresAt, now time.Time) error {
	return d.inTx(ctx, func(ctx context.Context, x q) error {
		if _, err := x.exec(ctx, `DELETE FROM integration_tokens WHERE integration_id = ? AND expires_at <= ?`,
			id, toMicro(now)); err != nil {
			return classify(err, "forget expired integration tokens")
		}
		if _, err := x.exec(ctx, `INSERT INTO integration_tokens (integration_id, token_id, expires_at) VALUES (?, ?, ?)`,
			id, tokenID, toMicro(expiresAt)); err != nil {
			return classify(err, "record integration token")
		}
		return nil
	})
}

// LivePushedTokens returns the integration's pushed tokens unexpired at now.
func (d *DB) LivePushedTokens(ctx context.Context, id string, now time.Time) ([]int64, error) {
	return queryList(ctx, d.rd(ctx), "integration tokens", func(s scanner) (int64, error) {
		var v int64
		err := s.Scan(&v)
		return v, err
	}, `SELECT token_id FROM integration_tokens WHERE integration_id = ? AND expires_at > ? ORDER BY token_id`, id, toMicro(now))
}
