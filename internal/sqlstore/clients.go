package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"ward/internal/apperr"
	"ward/internal/client"
	"ward/internal/oauth/tokens"
	"ward/internal/store"
)

const clientColumns = `id, client_id, name, public, secret_hash, grant_types, redirect_uris, scope,
	auth_method, jwks_uri, jwks, token_format, disabled, owner_id, intervention, created_at,
	updated_at, secret_issued_at, version, status, resource_server, id_token_alg, idp_system, idp_organization_id`

// scanClient reads one row of clientColumns; seq is the row id used for
// paging, which the domain type does not carry.
func scanClient(s scanner) (c *client.Client, seq int64, err error) {
	var (
		cl                client.Client
		grants, redirects string
		owner             sql.NullInt64
		intervention      sql.NullString
		created, updated  int64
		issued            sql.NullInt64
		idpOrg            sql.NullInt64
	)
	if err := s.Scan(&seq, &cl.ID, &cl.Name, &cl.Public, &cl.SecretHash, &grants, &redirects, &cl.Scope,
		&cl.AuthMethod, &cl.JWKSURI, &cl.JWKS, &cl.TokenFormat, &cl.Disabled, &owner, &intervention,
		&created, &updated, &issued, &cl.Version, &cl.Status, &cl.ResourceServer, &cl.IDTokenAlg, &cl.IDPSystem, &idpOrg); err != nil {
		return nil, 0, err
	}
	if cl.GrantTypes, err = fromJSON[string](grants); err != nil {
		return nil, 0, err
	}
	if cl.RedirectURIs, err = fromJSON[string](redirects); err != nil {
		return nil, 0, err
	}
	cl.OwnerID = owner.Int64
	cl.OrganizationID = idpOrg.Int64
	cl.Intervention = intervention.String
	cl.CreatedAt, cl.UpdatedAt = fromMicro(created), fromMicro(updated)
	cl.SecretIssuedAt = fromNullMicro(issued)
	return &cl, seq, nil
}

// clientArgs returns the values of every column from name to
// secret_issued_at, in clientColumns order, then status, resource_server
// id_token_alg, idp_system and idp_organization_id. An empty status is stored (and left in c) as active,
// what every client was before approvals existed.
func clientArgs(c *client.Client) ([]any, error) {
	if c.Status == "" {
		c.Status = client.StatusActive
	}
	grants, err := toJSON(c.GrantTypes)
	if err != nil {
		return nil, err
	}
	redirects, err := toJSON(c.RedirectURIs)
	if err != nil {
		return nil, err
	}
	intervention := sql.NullString{String: c.Intervention, Valid: c.Intervention != ""}
	return []any{c.Name, c.Public, c.SecretHash, grants, redirects, c.Scope, c.AuthMethod, c.JWKSURI,
		c.JWKS, c.TokenFormat, c.Disabled, nullID(c.OwnerID), intervention, toMicro(c.CreatedAt),
		toMicro(c.UpdatedAt), nullMicro(c.SecretIssuedAt), c.Status, c.ResourceServer, c.IDTokenAlg, c.IDPSystem, nullID(c.OrganizationID)}, nil
}

// normalizeClientTimes leaves c's times as a read returns them.
func normalizeClientTimes(c *client.Client) {
	c.CreatedAt = fromMicro(toMicro(c.CreatedAt))
	c.UpdatedAt = fromMicro(toMicro(c.UpdatedAt))
	c.SecretIssuedAt = fromNullMicro(nullMicro(c.SecretIssuedAt))
}

// CreateClient inserts c with Version 1. A duplicate client_id is Conflict;
// an unknown owner or intervention is Invalid.
func (d *DB) CreateClient(ctx context.Context, c *client.Client) error {
	args, err := clientArgs(c)
	if err != nil {
		return err
	}
	args = append([]any{c.ID}, args...)
	err = d.inTx(ctx, func(ctx context.Context, x q) error {
		if c.Intervention != "" {
			// The intervention's client_id changes (the lock first: bumpRuleset).
			if err := bumpRuleset(ctx, x); err != nil {
				return err
			}
		}
		if _, err := x.exec(ctx, `INSERT INTO oauth_clients (client_id, name, public, secret_hash,
		grant_types, redirect_uris, scope, auth_method, jwks_uri, jwks, token_format, disabled,
		owner_id, intervention, created_at, updated_at, secret_issued_at, status, resource_server,
		id_token_alg, idp_system, idp_organization_id, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`, args...); err != nil {
			return classify(err, "create client")
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.Version = 1
	normalizeClientTimes(c)
	return nil
}

// GetClient returns the client with that client_id: one read by a unique
// index, cheap enough for the token endpoint to call per request.
func (d *DB) GetClient(ctx context.Context, clientID string) (*client.Client, error) {
	c, _, err := scanClient(d.rd(ctx).row(ctx,
		`SELECT `+clientColumns+` FROM oauth_clients WHERE client_id = ?`, clientID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "client %s not found", clientID)
	}
	if err != nil {
		return nil, fmt.Errorf("get client: %w", err)
	}
	return c, nil
}

// UpdateClient writes every field of c when c.Version matches the stored
// version, then increments c.Version.
func (d *DB) UpdateClient(ctx context.Context, c *client.Client) error {
	args, err := clientArgs(c)
	if err != nil {
		return err
	}
	args = append(args, c.ID, c.Version)
	err = d.inTx(ctx, func(ctx context.Context, x q) error {
		// A client that acts, or acted, for an intervention changes what
		// the compiled rulesets show as the intervention's client.
		if _, err := x.exec(ctx, `UPDATE ruleset_version SET version = version + 1 WHERE id = 1 AND (? OR
			EXISTS (SELECT 1 FROM oauth_clients WHERE client_id = ? AND intervention IS NOT NULL))`,
			c.Intervention != "", c.ID); err != nil {
			return fmt.Errorf("update client: bump ruleset version: %w", err)
		}
		res, err := x.exec(ctx, `UPDATE oauth_clients SET name = ?, public = ?, secret_hash = ?,
		grant_types = ?, redirect_uris = ?, scope = ?, auth_method = ?, jwks_uri = ?, jwks = ?,
		token_format = ?, disabled = ?, owner_id = ?, intervention = ?, created_at = ?,
		updated_at = ?, secret_issued_at = ?, status = ?, resource_server = ?,
		id_token_alg = ?, idp_system = ?, idp_organization_id = ?, version = version + 1
		WHERE client_id = ? AND version = ?`, args...)
		if err != nil {
			return classify(err, "update client")
		}
		return versioned(res, "client", c.ID, func() error {
			_, err := d.GetClient(ctx, c.ID)
			return err
		})
	})
	if err != nil {
		return err
	}
	c.Version++
	normalizeClientTimes(c)
	return nil
}

// ListClients returns clients matching f in creation order after the cursor.
func (d *DB) ListClients(ctx context.Context, f client.Filter, p store.Page) ([]*client.Client, string, error) {
	p = p.Normalize()
	after, err := store.DecodeCursor(p.After)
	if err != nil {
		return nil, "", err
	}
	where := ` WHERE id > ?`
	args := []any{after}
	if f.OwnerID != 0 {
		where += ` AND owner_id = ?`
		args = append(args, f.OwnerID)
	}
	if f.IDPSystem {
		where += ` AND idp_system = ?`
		args = append(args, true)
	}
	switch f.State {
	case client.StateDisabled:
		where += ` AND disabled = ?`
		args = append(args, true)
	case client.StatePending:
		where += ` AND disabled = ? AND status = ?`
		args = append(args, false, client.StatusPending)
	case client.StateActive:
		where += ` AND disabled = ? AND status = ?`
		args = append(args, false, client.StatusActive)
	}
	if f.Name != "" {
		where += ` AND LOWER(name) LIKE ? ESCAPE '\'`
		args = append(args, "%"+likeEscape(strings.ToLower(f.Name))+"%")
	}
	args = append(args, p.Limit+1)
	rows, err := d.rd(ctx).query(ctx, `SELECT `+clientColumns+` FROM oauth_clients`+where+` ORDER BY id LIMIT ?`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list clients: %w", err)
	}
	defer rows.Close()
	var out []*client.Client
	var seqs []int64
	for rows.Next() {
		c, seq, err := scanClient(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list clients: %w", err)
		}
		out = append(out, c)
		seqs = append(seqs, seq)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list clients: %w", err)
	}
	if len(out) <= p.Limit {
		return out, "", nil
	}
	return out[:p.Limit], store.EncodeCursor(seqs[p.Limit-1]), nil
}

// DB implements the client registry's store.
var _ client.Store = (*DB)(nil)

// serviceClient is ward's built-in client of service-account tokens
// (tokens.ServiceClientID; internal/oauth issues on it). It is registered
// confidential, for private_key_jwt, with no keys, no secret and no grant
// types: it can never authenticate or obtain a token through any endpoint,
// and the registry refuses to rotate a secret it does not use. Its one
// scope is oauth.ScopeAPI. No application developer owns it, so only
// administrators (and ward itself) manage it; disabling it stops every
// service token at once.
func serviceClient(now time.Time) *client.Client {
	return &client.Client{
		ID: tokens.ServiceClientID,
		Settings: client.Settings{
			Name:        "ward service accounts",
			GrantTypes:  []string{},
			Scope:       "ward:api",
			AuthMethod:  client.AuthPrivateKeyJWT,
			TokenFormat: client.TokenOpaque,
		},
		Status:    client.StatusActive,
		CreatedAt: now,
		UpdatedAt: now,
	}
}

// EnsureBuiltinClients registers ward's built-in clients that are missing
// (today the service-account client). An existing row is left alone, so an
// administrator's disable survives every later migrate; running it again
// changes nothing, and replicas running it at once insert one row.
func (d *DB) EnsureBuiltinClients(ctx context.Context) error {
	c := serviceClient(d.nowMicro())
	args, err := clientArgs(c)
	if err != nil {
		return err
	}
	args = append([]any{c.ID}, args...)
	if _, err := d.wr(ctx).exec(ctx, `INSERT INTO oauth_clients (client_id, name, public, secret_hash,
		grant_types, redirect_uris, scope, auth_method, jwks_uri, jwks, token_format, disabled,
		owner_id, intervention, created_at, updated_at, secret_issued_at, status, resource_server,
		id_token_alg, idp_system, idp_organization_id, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
		ON CONFLICT (client_id) DO NOTHING`, args...); err != nil {
		return classify(err, "register built-in client "+c.ID)
	}
	return nil
}

// CountClients counts the clients matching f.
func (d *DB) CountClients(ctx context.Context, f client.Filter) (int, error) {
	where, args := ` WHERE 1 = 1`, []any{}
	if f.OwnerID != 0 {
		where += ` AND owner_id = ?`
		args = append(args, f.OwnerID)
	}
	if f.IDPSystem {
		where += ` AND idp_system = ?`
		args = append(args, true)
	}
	var n int
	if err := d.rd(ctx).row(ctx, `SELECT COUNT(*) FROM oauth_clients`+where, args...).Scan(&n); err != nil {
		return 0, classify(err, "count clients")
	}
	return n, nil
}
