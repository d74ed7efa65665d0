package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"ward/internal/apperr"
	"ward/internal/client"
	"ward/internal/directory"
	"ward/internal/oauth/tokens"
)

// ReadIDPToken is the legacy IdP API's token look-up in one statement:
// the calling client's row, the token's (by the (kind, signature) unique
// index), its client's and its person's, all by primary or unique key,
// with the person's groups, profiles and last sign-in aggregated as
// IDCard does. Inner joins: a row is returned only when all four exist,
// else NotFound and the caller falls back to the separate reads, which
// tell the cases apart. Nothing is cached: each part is the row as it is
// now, so a revoked client or token, a rotated secret or a deleted person
// shows at once. Both clients are joined by their row id, found by a
// subquery on the unique client_id index: joined on client_id itself,
// SQLite's planner chose to scan oauth_clients (its statistics say the
// table is tiny), which made the statement three times slower even with
// one client (BenchmarkReadIDPToken). Only the columns tokens.IDPRead
// names are read: fewer allocations per look-up, and the password hash
// and the token's serialised session are never wanted here.
func (d *DB) ReadIDPToken(ctx context.Context, callerID string, kind tokens.Kind, signature string) (*tokens.IDPRead, error) {
	var (
		caller, issuer           client.Client
		t                        tokens.Token
		u                        directory.User
		expires                  int64
		registered, updated      int64
		confirmed, deleted, user sql.NullInt64
		agg                      cardAggregates
	)
	dest := []any{&caller.ID, &caller.SecretHash, &caller.AuthMethod, &caller.Disabled, &caller.IDPSystem, &caller.Status,
		&t.ID, &t.Kind, &t.ClientID, &user, &expires, &t.Active, &t.Format,
		&issuer.ID, &issuer.Disabled, &issuer.IDPSystem, &issuer.Status,
		&u.ID, &u.Email, &u.GivenName, &u.FamilyName, &registered, &confirmed, &updated, &deleted}
	err := d.rd(ctx).row(ctx, `SELECT c.client_id, c.secret_hash, c.auth_method, c.disabled, c.idp_system, c.status,
		t.id, t.kind, t.client_id, t.user_id, t.expires_at, t.active, t.format,
		ic.client_id, ic.disabled, ic.idp_system, ic.status,
		u.id, u.email, u.given_name, u.family_name, u.registered, u.confirmed_at, u.updated_at, u.deleted_at,
		`+d.cardAggregates("u.id")+`
		FROM oauth_tokens t
		JOIN users u ON u.id = t.user_id
		JOIN oauth_clients ic ON ic.id = (SELECT id FROM oauth_clients WHERE client_id = t.client_id)
		JOIN oauth_clients c ON c.id = (SELECT id FROM oauth_clients WHERE client_id = ?)
		WHERE t.kind = ? AND t.signature = ?`, callerID, string(kind), signature).Scan(append(dest, agg.dest()...)...)
	if errors.Is(err, sql.ErrNoRows) {
		// Neither id nor signature is echoed: the signature identifies a
		// credential.
		return nil, apperr.New(apperr.NotFound, "IdP token look-up: no such client, token or person")
	}
	if err != nil {
		return nil, fmt.Errorf("read IdP token: %w", err)
	}
	t.Signature, t.UserID, t.ExpiresAt = signature, user.Int64, fromMicro(expires)
	u.Registered, u.UpdatedAt = fromMicro(registered), fromMicro(updated)
	u.ConfirmedAt, u.DeletedAt = fromNullMicro(confirmed), fromNullMicro(deleted)
	t.UserDeleted = u.DeletedAt != nil
	card, err := agg.card(&u)
	if err != nil {
		return nil, err
	}
	return &tokens.IDPRead{Caller: &caller, Token: &t, Issuer: &issuer, Card: card}, nil
}
