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

// ReadIDPToken is the legacy IdP API's token look-up: one statement
// reads the token's row (by the (kind, signature) unique index), its
// person's and, when a client other than callerID issued the token, that
// client's, all by primary or unique key, with the person's last sign-in
// and card_version. The calling client's row is not read here: the
// caller (oauth.Provider.ReadIDPToken) holds it from its client cache,
// under the freshness rule of every client authentication in ward
// (oauth.ClientCacheTTL). Inner join: a row is returned only when the
// token and the person exist (and the issuer, when it is not callerID),
// else NotFound and the caller falls back to the separate reads, which
// tell the cases apart. The token, issuer and person rows are never
// cached: each is the row as it is now, so a revoked or expired token, a
// revoked issuer or a deleted person shows at once.
//
// The person's group names and profiles with catchments, the costly part
// (three relations through two aggregates), come from d.cards when it
// holds the card at the version just read, else from a second statement
// (readCard) that stores them for the next look-up. The version is
// bumped in the transaction of every change to them (bumpCardVersion), in
// the database, so a change made through any replica is seen by the next
// look-up on every replica; nothing stale is ever answered.
//
// What keeps it cheap, measured with BenchmarkReadIDPToken and the
// handler-level BenchmarkIDPTokenLookup (docs/benchmarks.md):
//   - The issuer's row is read only when it is not callerID (the usual
//     case is a system looking up its own users' tokens): its columns
//     are then NULL and Issuer is nil, for the caller to fill in with
//     the row it holds.
//   - Only the columns tokens.IDPRead names are read, and none the query
//     already knows (the token's kind, the person's id): the SQLite
//     driver allocates per column and row, and the password hash and the
//     token's serialised session are never wanted here.
//   - The statement text is built once (idpReadSQL), not per
//     request.
func (d *DB) ReadIDPToken(ctx context.Context, callerID string, kind tokens.Kind, signature string) (*tokens.IDPRead, error) {
	// Every scan target lives in one struct, so the read allocates it
	// once instead of once per target (each escapes through Scan).
	r := new(idpRow)
	t, u := &r.token, &r.user
	err := d.rd(ctx).row(ctx, idpReadSQL, callerID, callerID, callerID, string(kind), signature).Scan(
		&t.ID, &t.ClientID, &t.UserID, &r.expires, &t.Active, &t.Format,
		&r.issuerDisabled, &r.issuerIDP, &r.issuerStatus,
		&u.Email, &u.GivenName, &u.FamilyName, &r.registered, &r.confirmed, &r.updated, &r.deleted,
		&r.version, &r.last)
	if errors.Is(err, sql.ErrNoRows) {
		// Neither id nor signature is echoed: the signature identifies a
		// credential.
		return nil, errNoIDPRead()
	}
	if err != nil {
		return nil, fmt.Errorf("read IdP token: %w", err)
	}
	t.Kind, t.Signature, u.ID = kind, signature, t.UserID
	var issuer *client.Client
	if t.ClientID != callerID {
		if !r.issuerStatus.Valid {
			return nil, errNoIDPRead()
		}
		r.issuer = client.Client{ID: t.ClientID, Disabled: r.issuerDisabled.Bool, Status: r.issuerStatus.String,
			Settings: client.Settings{IDPSystem: r.issuerIDP.Bool}}
		issuer = &r.issuer
	}
	t.ExpiresAt = fromMicro(r.expires)
	u.Registered, u.UpdatedAt = fromMicro(r.registered), fromMicro(r.updated)
	u.ConfirmedAt, u.DeletedAt = fromNullMicro(r.confirmed), fromNullMicro(r.deleted)
	t.UserDeleted = u.DeletedAt != nil
	// Inside a transaction the rows read may be its own uncommitted
	// writes, which a rollback would leave behind under a version another
	// transaction may commit with other rows: the cache is neither read
	// nor filled there.
	var cc cachedCard
	ok := false
	if d.Tx(ctx) == nil {
		cc, ok = d.cards.get(u.ID, r.version)
	}
	if !ok {
		if cc, err = d.readCard(ctx, u.ID); err != nil {
			return nil, err
		}
	}
	r.card = directory.IDCard{User: u, Groups: cc.groups, Profiles: cc.profiles, LastLogin: fromNullMicro(r.last)}
	r.read = tokens.IDPRead{Token: t, Issuer: issuer, Card: &r.card}
	return &r.read, nil
}

// readCard reads user id's group names and profiles with the card_version
// they belong to, in one statement (so one snapshot: the version is
// bumped in the transaction that changes them), and caches them when
// read outside a transaction. A
// version newer than the token's statement saw is fine: the card is then
// as fresh as the database.
func (d *DB) readCard(ctx context.Context, id int64) (cachedCard, error) {
	query := idpCardSQL[0]
	if d.dialect == Postgres {
		query = idpCardSQL[1]
	}
	var cc cachedCard
	var groups, profiles []byte
	err := d.rd(ctx).row(ctx, query, id).Scan(&cc.version, &groups, &profiles)
	if errors.Is(err, sql.ErrNoRows) {
		return cc, errNoIDPRead() // purged since the token's read
	}
	if err != nil {
		return cc, fmt.Errorf("read IdP card of user %d: %w", id, err)
	}
	if err := cc.decode(groups, profiles); err != nil {
		return cc, fmt.Errorf("read IdP card of user %d: %w", id, err)
	}
	if d.Tx(ctx) == nil { // committed rows only (see ReadIDPToken)
		d.cards.put(id, cc)
	}
	return cc, nil
}

func errNoIDPRead() error {
	return apperr.New(apperr.NotFound, "IdP token look-up: no such client, token or person")
}

// idpRow is ReadIDPToken's scan targets and its answer, in one allocation.
type idpRow struct {
	issuer                       client.Client
	token                        tokens.Token
	user                         directory.User
	card                         directory.IDCard
	read                         tokens.IDPRead
	expires, registered, updated int64
	version                      int64
	confirmed, deleted, last     sql.NullInt64
	issuerDisabled, issuerIDP    sql.NullBool
	issuerStatus                 sql.NullString
}

// decode decodes the group names and profiles, empty lists and
// catchments as nil, as IDCard reads them.
func (cc *cachedCard) decode(groups, profiles []byte) error {
	var names []string
	if err := json.Unmarshal(groups, &names); err != nil {
		return fmt.Errorf("groups: %w", err)
	}
	if len(names) > 0 {
		cc.groups = make([]directory.Group, len(names))
		for i, n := range names {
			cc.groups[i].Name = n
		}
	}
	if err := json.Unmarshal(profiles, &cc.profiles); err != nil {
		return fmt.Errorf("profiles: %w", err)
	}
	for i := range cc.profiles {
		if len(cc.profiles[i].Catchment) == 0 {
			cc.profiles[i].Catchment = nil
		}
	}
	if len(cc.profiles) == 0 {
		cc.profiles = nil
	}
	return nil
}

// idpReadSQL is ReadIDPToken's statement, the same for SQLite and
// PostgreSQL. Arguments: the caller's client_id three times, token kind,
// signature. The issuer's three columns are scalar subqueries under
// CASE, evaluated only when a client other than the caller issued the
// token: a LEFT JOIN of the issuer's row made PostgreSQL hash every
// client on every look-up. The caller's id is a parameter, not a join:
// its row comes from the provider's client cache.
var idpReadSQL = `SELECT t.id, t.client_id, t.user_id, t.expires_at, t.active, t.format,
		` + idpIssuerCol("disabled") + `, ` + idpIssuerCol("idp_system") + `, ` + idpIssuerCol("status") + `,
		u.email, u.given_name, u.family_name, u.registered, u.confirmed_at, u.updated_at, u.deleted_at,
		u.card_version, (SELECT last_login FROM user_last_login WHERE user_id = t.user_id)
		FROM oauth_tokens t
		JOIN users u ON u.id = t.user_id
		WHERE t.kind = ? AND t.signature = ?`

// idpCardSQL is readCard's statement for SQLite ([0]) and PostgreSQL
// ([1]). Argument: the user's id. Groups come back as a JSON array of
// names and profiles as one JSON array with each catchment embedded as an
// array, not as text: one decode, not one per profile.
var idpCardSQL = [2]string{idpCardStatement(
	`(SELECT COALESCE(json_group_array(name), '[]') FROM (SELECT g.name FROM groups g
		JOIN user_groups ug ON ug.group_id = g.id WHERE ug.user_id = u.id ORDER BY g.name))`,
	`(SELECT COALESCE(json_group_array(json_object('type', type, 'id', profile_id, 'catchment', json(catchment))), '[]')
		FROM (SELECT type, profile_id, catchment FROM user_profiles WHERE user_id = u.id ORDER BY type, profile_id))`),
	idpCardStatement(
		`(SELECT COALESCE(json_agg(g.name ORDER BY g.name), '[]')::text FROM groups g
		JOIN user_groups ug ON ug.group_id = g.id WHERE ug.user_id = u.id)`,
		`(SELECT COALESCE(json_agg(json_build_object('type', type, 'id', profile_id, 'catchment', catchment::json)
		ORDER BY type, profile_id), '[]')::text FROM user_profiles WHERE user_id = u.id)`)}

func idpCardStatement(groups, profiles string) string {
	return `SELECT u.card_version, ` + groups + `, ` + profiles + ` FROM users u WHERE u.id = ?`
}

// idpIssuerCol is the issuer's column col in idpReadSQL, read only when
// the token's client is not the caller (the CASE's parameter).
func idpIssuerCol(col string) string {
	return `CASE WHEN t.client_id <> ? THEN
			(SELECT ` + col + ` FROM oauth_clients WHERE client_id = t.client_id) END`
}
