package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"ward/internal/apperr"
	"ward/internal/connector"
)

// The connector store (issue 16). Sealed secrets are stored as given:
// this layer never sees a secret in clear.

const connectorSelect = `SELECT id, name, base_url, authorize_url, token_url, client_id, redirect_uri,
	scopes, status, client_secret_sealed, access_token_sealed, refresh_token_sealed, expiry, last_refresh,
	last_error, lease_until, created_at, updated_at, version, profile_system FROM connectors`

// microOrZero stores the zero time as 0, so "none" reads back as zero.
func microOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return toMicro(t)
}

func fromMicroOrZero(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromMicro(v)
}

// sealedOrNull stores an empty ciphertext as NULL.
func sealedOrNull(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func scanConnector(s scanner) (*connector.Connector, error) {
	var (
		c                                connector.Connector
		scopes, status                   string
		expiry, last, lease, created, up int64
	)
	if err := s.Scan(&c.ID, &c.Name, &c.BaseURL, &c.AuthorizeURL, &c.TokenURL, &c.ClientID, &c.RedirectURI,
		&scopes, &status, &c.Secrets.ClientSecret, &c.Secrets.AccessToken, &c.Secrets.RefreshToken, &expiry, &last,
		&c.LastError, &lease, &created, &up, &c.Version, &c.ProfileSystem); err != nil {
		return nil, err
	}
	c.Scopes = strings.Fields(scopes)
	c.Status = connector.Status(status)
	c.Expiry, c.LastRefresh, c.LeaseUntil = fromMicroOrZero(expiry), fromMicroOrZero(last), fromMicroOrZero(lease)
	c.CreatedAt, c.UpdatedAt = fromMicro(created), fromMicro(up)
	return &c, nil
}

// roundConnectorTimes leaves c's times as the database returns them.
func roundConnectorTimes(c *connector.Connector) {
	c.Expiry, c.LastRefresh = fromMicroOrZero(microOrZero(c.Expiry)), fromMicroOrZero(microOrZero(c.LastRefresh))
	c.LeaseUntil = fromMicroOrZero(microOrZero(c.LeaseUntil))
	c.CreatedAt, c.UpdatedAt = fromMicro(toMicro(c.CreatedAt)), fromMicro(toMicro(c.UpdatedAt))
}

// CreateConnector inserts c with Version 1; a taken name is Conflict.
func (d *DB) CreateConnector(ctx context.Context, c *connector.Connector) error {
	if err := d.wr(ctx).row(ctx, `INSERT INTO connectors (name, base_url, authorize_url, token_url, client_id,
		redirect_uri, scopes, status, client_secret_sealed, access_token_sealed, refresh_token_sealed, expiry,
		last_refresh, last_error, lease_until, created_at, updated_at, profile_system, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id`,
		c.Name, c.BaseURL, c.AuthorizeURL, c.TokenURL, c.ClientID, c.RedirectURI, strings.Join(c.Scopes, " "),
		string(c.Status), sealedOrNull(c.Secrets.ClientSecret), sealedOrNull(c.Secrets.AccessToken),
		sealedOrNull(c.Secrets.RefreshToken), microOrZero(c.Expiry), microOrZero(c.LastRefresh), c.LastError,
		microOrZero(c.LeaseUntil), toMicro(c.CreatedAt), toMicro(c.UpdatedAt), c.ProfileSystem).Scan(&c.ID); err != nil {
		return classify(err, "create connector")
	}
	c.Version = 1
	roundConnectorTimes(c)
	return nil
}

// GetConnector reads one connector by name.
func (d *DB) GetConnector(ctx context.Context, name string) (*connector.Connector, error) {
	c, err := scanConnector(d.rd(ctx).row(ctx, connectorSelect+` WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("connector", name)
	}
	if err != nil {
		return nil, classify(err, "get connector")
	}
	return c, nil
}

// ListConnectors returns every connector by name.
func (d *DB) ListConnectors(ctx context.Context) ([]*connector.Connector, error) {
	return queryList(ctx, d.rd(ctx), "list connectors", scanConnector, connectorSelect+` ORDER BY name`)
}

// UpdateConnector writes c when the stored version is c.Version (compare
// and swap), then increments c.Version.
func (d *DB) UpdateConnector(ctx context.Context, c *connector.Connector) error {
	res, err := d.wr(ctx).exec(ctx, `UPDATE connectors SET base_url = ?, authorize_url = ?, token_url = ?,
		client_id = ?, redirect_uri = ?, scopes = ?, status = ?, client_secret_sealed = ?, access_token_sealed = ?,
		refresh_token_sealed = ?, expiry = ?, last_refresh = ?, last_error = ?, lease_until = ?, updated_at = ?,
		profile_system = ?, version = version + 1
		WHERE name = ? AND version = ?`,
		c.BaseURL, c.AuthorizeURL, c.TokenURL, c.ClientID, c.RedirectURI, strings.Join(c.Scopes, " "),
		string(c.Status), sealedOrNull(c.Secrets.ClientSecret), sealedOrNull(c.Secrets.AccessToken),
		sealedOrNull(c.Secrets.RefreshToken), microOrZero(c.Expiry), microOrZero(c.LastRefresh), c.LastError,
		microOrZero(c.LeaseUntil), toMicro(c.UpdatedAt), c.ProfileSystem, c.Name, c.Version)
	if err != nil {
		return classify(err, "update connector")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return classify(err, "update connector")
	}
	if n == 0 {
		cur, err := d.GetConnector(ctx, c.Name)
		if err != nil {
			return err
		}
		return apperr.New(apperr.Conflict, "connector %s is at version %d, not %d", c.Name, cur.Version, c.Version)
	}
	c.Version++
	roundConnectorTimes(c)
	return nil
}

// DeleteConnector removes a connector with its pending primings.
func (d *DB) DeleteConnector(ctx context.Context, name string) error {
	res, err := d.wr(ctx).exec(ctx, `DELETE FROM connectors WHERE name = ?`, name)
	if err != nil {
		return classify(err, "delete connector")
	}
	if n, err := res.RowsAffected(); err != nil {
		return classify(err, "delete connector")
	} else if n == 0 {
		return notFound("connector", name)
	}
	return nil
}

// PutConnectState stores a pending priming.
func (d *DB) PutConnectState(ctx context.Context, st *connector.ConnectState) error {
	if _, err := d.wr(ctx).exec(ctx, `INSERT INTO connector_states (hash, connector, session_hash, verifier, expires_at)
		VALUES (?, ?, ?, ?, ?)`, st.Hash, st.Connector, st.SessionHash, st.Verifier, toMicro(st.ExpiresAt)); err != nil {
		return classify(err, "store connect state")
	}
	return nil
}

// TakeConnectState deletes and returns a pending priming (DELETE ...
// RETURNING: of two racing callers, one gets the row); expired ones go too.
func (d *DB) TakeConnectState(ctx context.Context, hash string, now time.Time) (*connector.ConnectState, error) {
	x := d.wr(ctx)
	if _, err := x.exec(ctx, `DELETE FROM connector_states WHERE expires_at < ?`, toMicro(now)); err != nil {
		return nil, classify(err, "expire connect states")
	}
	var (
		st  connector.ConnectState
		exp int64
	)
	err := x.row(ctx, `DELETE FROM connector_states WHERE hash = ?
		RETURNING hash, connector, session_hash, verifier, expires_at`, hash).
		Scan(&st.Hash, &st.Connector, &st.SessionHash, &st.Verifier, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("connect state", "")
	}
	if err != nil {
		return nil, classify(err, "take connect state")
	}
	st.ExpiresAt = fromMicro(exp)
	return &st, nil
}
