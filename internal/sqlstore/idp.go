package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"ward/internal/apperr"
	"ward/internal/client"
	"ward/internal/directory"
	"ward/internal/oauth/tokens"
)

// ReadIDPToken is the legacy IdP API's token look-up in one statement:
// the calling client's row, the token's (by the (kind, signature) unique
// index), its person's and, when another client issued the token, that
// client's, all by primary or unique key, with the person's group names,
// profiles and last sign-in. Inner joins: a row is returned only when the
// caller, the token and the person exist (and the issuer, when it is not
// the caller), else NotFound and the caller falls back to the separate
// reads, which tell the cases apart. Nothing is cached: each part is the
// row as it is now, so a revoked client or token, a rotated secret or a
// deleted person shows at once.
//
// What keeps it cheap, measured with BenchmarkReadIDPToken and the
// handler-level BenchmarkIDPTokenLookup (docs/benchmarks.md):
//   - Clients are joined by their row id, found by a subquery on the
//     unique client_id index: joined on client_id itself, SQLite's
//     planner scanned oauth_clients (its statistics say the table is
//     tiny), three times slower even with one client.
//   - The issuer's row is joined only when it is not the caller (the
//     usual case is a system looking up its own users' tokens): its
//     columns are then NULL and the caller's row stands for both.
//   - Only the columns tokens.IDPRead names are read, and none the query
//     already knows (the caller's id, the token's kind, the person's id):
//     the SQLite driver allocates per column and row, and the password
//     hash and the token's serialised session are never wanted here.
//   - Groups come back as a JSON array of names and profiles as one JSON
//     array with each catchment embedded as an array, not as text: one
//     decode, not one per profile. The statement text is built once per
//     dialect (idpReadSQL), not per request.
func (d *DB) ReadIDPToken(ctx context.Context, callerID string, kind tokens.Kind, signature string) (*tokens.IDPRead, error) {
	// Every scan target lives in one struct, so the read allocates it
	// once instead of once per target (each escapes through Scan).
	r := new(idpRow)
	query := idpReadSQL[0]
	if d.dialect == Postgres {
		query = idpReadSQL[1]
	}
	c, t, u := &r.caller, &r.token, &r.user
	err := d.rd(ctx).row(ctx, query, callerID, string(kind), signature).Scan(
		&c.SecretHash, &c.AuthMethod, &c.Disabled, &c.IDPSystem, &c.Status,
		&t.ID, &t.ClientID, &t.UserID, &r.expires, &t.Active, &t.Format,
		&r.issuerDisabled, &r.issuerIDP, &r.issuerStatus,
		&u.Email, &u.GivenName, &u.FamilyName, &r.registered, &r.confirmed, &r.updated, &r.deleted,
		&r.groups, &r.profiles, &r.last)
	if errors.Is(err, sql.ErrNoRows) {
		// Neither id nor signature is echoed: the signature identifies a
		// credential.
		return nil, errNoIDPRead()
	}
	if err != nil {
		return nil, fmt.Errorf("read IdP token: %w", err)
	}
	c.ID, t.Kind, t.Signature, u.ID = callerID, kind, signature, t.UserID
	r.issuer = client.Client{ID: t.ClientID, Disabled: r.issuerDisabled.Bool, Status: r.issuerStatus.String,
		Settings: client.Settings{IDPSystem: r.issuerIDP.Bool}}
	if t.ClientID == callerID {
		r.issuer.Disabled, r.issuer.Status, r.issuer.IDPSystem = c.Disabled, c.Status, c.IDPSystem
	} else if !r.issuerStatus.Valid {
		return nil, errNoIDPRead()
	}
	t.ExpiresAt = fromMicro(r.expires)
	u.Registered, u.UpdatedAt = fromMicro(r.registered), fromMicro(r.updated)
	u.ConfirmedAt, u.DeletedAt = fromNullMicro(r.confirmed), fromNullMicro(r.deleted)
	t.UserDeleted = u.DeletedAt != nil
	r.card = directory.IDCard{User: u, LastLogin: fromNullMicro(r.last)}
	if err := r.decodeCard(); err != nil {
		return nil, fmt.Errorf("read IdP token of user %d: %w", u.ID, err)
	}
	r.read = tokens.IDPRead{Caller: c, Token: t, Issuer: &r.issuer, Card: &r.card}
	return &r.read, nil
}

func errNoIDPRead() error {
	return apperr.New(apperr.NotFound, "IdP token look-up: no such client, token or person")
}

// idpRow is ReadIDPToken's scan targets and its answer, in one allocation.
type idpRow struct {
	caller, issuer               client.Client
	token                        tokens.Token
	user                         directory.User
	card                         directory.IDCard
	read                         tokens.IDPRead
	expires, registered, updated int64
	confirmed, deleted, last     sql.NullInt64
	issuerDisabled, issuerIDP    sql.NullBool
	issuerStatus                 sql.NullString
	groups, profiles             []byte
}

// decodeCard decodes the group names and profiles into r.card, empty
// lists and catchments as nil, as IDCard reads them.
func (r *idpRow) decodeCard() error {
	var names []string
	if err := json.Unmarshal(r.groups, &names); err != nil {
		return fmt.Errorf("groups: %w", err)
	}
	if len(names) > 0 {
		r.card.Groups = make([]directory.Group, len(names))
		for i, n := range names {
			r.card.Groups[i].Name = n
		}
	}
	if err := json.Unmarshal(r.profiles, &r.card.Profiles); err != nil {
		return fmt.Errorf("profiles: %w", err)
	}
	for i := range r.card.Profiles {
		if len(r.card.Profiles[i].Catchment) == 0 {
			r.card.Profiles[i].Catchment = nil
		}
	}
	if len(r.card.Profiles) == 0 {
		r.card.Profiles = nil
	}
	return nil
}

// idpReadSQL is ReadIDPToken's statement for SQLite ([0]) and PostgreSQL
// ([1]), built once. Arguments: caller's client_id, token kind, signature.
var idpReadSQL = [2]string{idpReadStatement(
	`(SELECT COALESCE(json_group_array(name), '[]') FROM (SELECT g.name FROM groups g
		JOIN user_groups ug ON ug.group_id = g.id WHERE ug.user_id = t.user_id ORDER BY g.name))`,
	`(SELECT COALESCE(json_group_array(json_object('type', type, 'id', profile_id, 'catchment', json(catchment))), '[]')
		FROM (SELECT type, profile_id, catchment FROM user_profiles WHERE user_id = t.user_id ORDER BY type, profile_id))`),
	idpReadStatement(
		`(SELECT COALESCE(json_agg(g.name ORDER BY g.name), '[]')::text FROM groups g
		JOIN user_groups ug ON ug.group_id = g.id WHERE ug.user_id = t.user_id)`,
		`(SELECT COALESCE(json_agg(json_build_object('type', type, 'id', profile_id, 'catchment', catchment::json)
		ORDER BY type, profile_id), '[]')::text FROM user_profiles WHERE user_id = t.user_id)`)}

func idpReadStatement(groups, profiles string) string {
	return `SELECT c.secret_hash, c.auth_method, c.disabled, c.idp_system, c.status,
		t.id, t.client_id, t.user_id, t.expires_at, t.active, t.format,
		ic.disabled, ic.idp_system, ic.status,
		u.email, u.given_name, u.family_name, u.registered, u.confirmed_at, u.updated_at, u.deleted_at,
		` + groups + `, ` + profiles + `,
		(SELECT last_login FROM user_last_login WHERE user_id = t.user_id)
		FROM oauth_tokens t
		JOIN users u ON u.id = t.user_id
		JOIN oauth_clients c ON c.id = (SELECT id FROM oauth_clients WHERE client_id = ?)
		LEFT JOIN oauth_clients ic ON t.client_id <> c.client_id
			AND ic.id = (SELECT id FROM oauth_clients WHERE client_id = t.client_id)
		WHERE t.kind = ? AND t.signature = ?`
}
