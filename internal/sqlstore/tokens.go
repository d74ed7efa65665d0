package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"ward/internal/apperr"
	"ward/internal/oauth/tokens"
	"ward/internal/store"
)

var _ tokens.Store = (*DB)(nil)

const tokenColumns = `id, signature, kind, request_id, client_id, user_id, scopes, requested_at,
	expires_at, active, service, format, data, alerted_at, patient_id`

// tokenColumnsJoined is tokenColumns of oauth_tokens t joined to its person
// u, and whether that person is deleted (scanTokenWithUser).
const tokenColumnsJoined = `t.id, t.signature, t.kind, t.request_id, t.client_id, t.user_id, t.scopes,
	t.requested_at, t.expires_at, t.active, t.service, t.format, t.data, t.alerted_at, t.patient_id,
	(u.deleted_at IS NOT NULL)`

// jtiSweep bounds how many expired client-assertion ids one UseJTI forgets.
// Each call records at most one id and forgets up to this many, so the
// backlog never grows and no single call does unbounded work.
const jtiSweep = 100

func scanToken(s scanner) (*tokens.Token, error) { return scanTokenRow(s, false) }

// scanTokenWithUser reads a row of tokenColumnsJoined.
func scanTokenWithUser(s scanner) (*tokens.Token, error) { return scanTokenRow(s, true) }

func scanTokenRow(s scanner, joined bool) (*tokens.Token, error) {
	var (
		t                 tokens.Token
		user, patient     sql.NullInt64
		scopes            string
		requested, expire int64
		alerted           sql.NullInt64
	)
	dest := []any{&t.ID, &t.Signature, &t.Kind, &t.RequestID, &t.ClientID, &user, &scopes,
		&requested, &expire, &t.Active, &t.Service, &t.Format, &t.Data, &alerted, &patient}
	if joined {
		dest = append(dest, &t.UserDeleted)
	}
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	t.PatientID = patient.Int64
	var err error
	if t.Scopes, err = fromJSON[string](scopes); err != nil {
		return nil, err
	}
	t.UserID = user.Int64
	t.RequestedAt, t.ExpiresAt = fromMicro(requested), fromMicro(expire)
	t.AlertedAt = fromNullMicro(alerted)
	if len(t.Data) == 0 {
		t.Data = nil
	}
	return &t, nil
}

// textList returns a condition "col IN <list>" taking the whole list as ONE
// argument, like int64List.
func (d *DB) textList(col string, vals []string) (string, any, error) {
	if d.dialect == Postgres {
		return col + " = ANY(?)", vals, nil
	}
	if vals == nil {
		vals = []string{}
	}
	b, err := json.Marshal(vals)
	if err != nil {
		return "", nil, fmt.Errorf("encode list: %w", err)
	}
	return col + " IN (SELECT value FROM json_each(?))", string(b), nil
}

func kindStrings(kinds []tokens.Kind) []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = string(k)
	}
	return out
}

func affected(res sql.Result, what string) (int, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return int(n), nil
}

// CreateToken inserts t and sets t.ID. A duplicate kind and signature is
// Conflict; an unknown client, user or kind is Invalid.
func (d *DB) CreateToken(ctx context.Context, t *tokens.Token) error {
	return d.CreateTokens(ctx, []*tokens.Token{t})
}

// tokenInsertChunk is how many rows one INSERT of CreateTokens carries: a
// bounded number of statement shapes for the statement cache, well under
// both databases' parameter limits.
const tokenInsertChunk = 64

// CreateTokens inserts ts with multi-row INSERTs, in ctx's transaction or
// one of its own, setting each ID.
func (d *DB) CreateTokens(ctx context.Context, ts []*tokens.Token) error {
	if len(ts) == 0 {
		return nil
	}
	return d.inTx(ctx, func(ctx context.Context, x q) error {
		for start := 0; start < len(ts); start += tokenInsertChunk {
			if err := d.insertTokens(ctx, x, ts[start:min(start+tokenInsertChunk, len(ts))]); err != nil {
				return err
			}
		}
		return nil
	})
}

func (d *DB) insertTokens(ctx context.Context, x q, ts []*tokens.Token) error {
	var b strings.Builder
	b.WriteString(`INSERT INTO oauth_tokens (signature, kind, request_id, client_id, user_id, scopes,
		requested_at, expires_at, active, service, format, data, alerted_at, patient_id) VALUES `)
	args := make([]any, 0, 14*len(ts))
	byKey := make(map[string]*tokens.Token, len(ts))
	for i, t := range ts {
		scopes, err := toJSON(t.Scopes)
		if err != nil {
			return err
		}
		data := t.Data
		if data == nil {
			// NOT NULL column: nil is stored as empty and read back as nil.
			data = []byte{}
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, t.Signature, string(t.Kind), t.RequestID, t.ClientID, nullID(t.UserID), scopes,
			toMicro(t.RequestedAt), toMicro(t.ExpiresAt), t.Active, t.Service, t.Format, data,
			nullMicro(t.AlertedAt), nullID(t.PatientID))
		key := string(t.Kind) + "\x00" + t.Signature
		if _, dup := byKey[key]; dup {
			return apperr.New(apperr.Conflict, "create tokens: the same %s signature twice", t.Kind)
		}
		byKey[key] = t
	}
	b.WriteString(" RETURNING id, kind, signature")
	rows, err := x.query(ctx, b.String(), args...)
	if err != nil {
		return classify(err, "create token")
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id int64
		var kind, sig string
		if err := rows.Scan(&id, &kind, &sig); err != nil {
			return classify(err, "create token")
		}
		if t := byKey[kind+"\x00"+sig]; t != nil {
			t.ID = id
			n++
		}
	}
	if err := rows.Err(); err != nil {
		return classify(err, "create token")
	}
	if n != len(ts) {
		return fmt.Errorf("create tokens: %d of %d rows came back", n, len(ts))
	}
	for _, t := range ts {
		t.RequestedAt, t.ExpiresAt = fromMicro(toMicro(t.RequestedAt)), fromMicro(toMicro(t.ExpiresAt))
		t.AlertedAt = fromNullMicro(nullMicro(t.AlertedAt))
		if len(t.Data) == 0 {
			t.Data = nil
		}
	}
	return nil
}

// GetToken is one read of the (kind, signature) unique index, joined to the
// person's row by primary key: whether they are still active costs no
// second round trip on the bearer path.
func (d *DB) GetToken(ctx context.Context, kind tokens.Kind, signature string) (*tokens.Token, error) {
	t, err := scanTokenWithUser(d.rd(ctx).row(ctx, `SELECT `+tokenColumnsJoined+` FROM oauth_tokens t
		LEFT JOIN users u ON u.id = t.user_id
		WHERE t.kind = ? AND t.signature = ?`, string(kind), signature))
	if errors.Is(err, sql.ErrNoRows) {
		// The signature is not echoed: it identifies a credential.
		return nil, apperr.New(apperr.NotFound, "%s token not found", kind)
	}
	if err != nil {
		return nil, fmt.Errorf("get token: %w", err)
	}
	return t, nil
}

// DeactivateToken is one conditional UPDATE: on PostgreSQL the second of two
// racing writers waits for the first, re-reads the row, finds it inactive
// and changes nothing; SQLite has one writer. A missing row was not active:
// false, no error.
func (d *DB) DeactivateToken(ctx context.Context, kind tokens.Kind, signature string) (bool, error) {
	res, err := d.wr(ctx).exec(ctx, `UPDATE oauth_tokens SET active = FALSE
		WHERE kind = ? AND signature = ? AND active`, string(kind), signature)
	if err != nil {
		return false, classify(err, "deactivate token")
	}
	n, err := affected(res, "deactivate token")
	return n == 1, err
}

// DeleteToken removes one row; a missing row is not an error.
func (d *DB) DeleteToken(ctx context.Context, kind tokens.Kind, signature string) error {
	if _, err := d.wr(ctx).exec(ctx, `DELETE FROM oauth_tokens WHERE kind = ? AND signature = ?`,
		string(kind), signature); err != nil {
		return classify(err, "delete token")
	}
	return nil
}

// DeactivateRequest counts only rows it changed (those still active).
func (d *DB) DeactivateRequest(ctx context.Context, requestID string, kinds ...tokens.Kind) (int, error) {
	query := `UPDATE oauth_tokens SET active = FALSE WHERE request_id = ? AND active`
	args := []any{requestID}
	if len(kinds) > 0 {
		cond, arg, err := d.textList("kind", kindStrings(kinds))
		if err != nil {
			return 0, err
		}
		query += ` AND ` + cond
		args = append(args, arg)
	}
	res, err := d.wr(ctx).exec(ctx, query, args...)
	if err != nil {
		return 0, classify(err, "deactivate request")
	}
	return affected(res, "deactivate request")
}

// DeactivateClientUser revokes the client's access and refresh tokens for
// the user. userID 0 means the client's own tokens (client-only grants),
// as Token.UserID does, never "every user".
func (d *DB) DeactivateClientUser(ctx context.Context, clientID string, userID int64) (int, error) {
	query := `UPDATE oauth_tokens SET active = FALSE
		WHERE client_id = ? AND user_id = ? AND kind IN ('access', 'refresh') AND active`
	args := []any{clientID, userID}
	if userID == 0 {
		query = `UPDATE oauth_tokens SET active = FALSE
			WHERE client_id = ? AND user_id IS NULL AND kind IN ('access', 'refresh') AND active`
		args = args[:1]
	}
	res, err := d.wr(ctx).exec(ctx, query, args...)
	if err != nil {
		return 0, classify(err, "deactivate client tokens")
	}
	return affected(res, "deactivate client tokens")
}

// revocableKinds are the rows that let someone obtain or use access: a code
// still to be redeemed, and access and refresh tokens.
const revocableKinds = `kind IN ('code', 'access', 'refresh')`

// RevokeUserTokens revokes every grant of the person, with every client.
func (d *DB) RevokeUserTokens(ctx context.Context, userID int64) (int, error) {
	res, err := d.wr(ctx).exec(ctx, `UPDATE oauth_tokens SET active = FALSE
		WHERE user_id = ? AND `+revocableKinds+` AND active`, userID)
	if err != nil {
		return 0, classify(err, "revoke user tokens")
	}
	return affected(res, "revoke user tokens")
}

// RevokePatientLaunchTokens revokes the grants others hold on the patient's
// launch context; the patient's own sign-in is left alone.
func (d *DB) RevokePatientLaunchTokens(ctx context.Context, patientID int64) (int, error) {
	res, err := d.wr(ctx).exec(ctx, `UPDATE oauth_tokens SET active = FALSE
		WHERE patient_id = ? AND (user_id IS NULL OR user_id <> patient_id) AND `+revocableKinds+` AND active`,
		patientID)
	if err != nil {
		return 0, classify(err, "revoke patient launch tokens")
	}
	return affected(res, "revoke patient launch tokens")
}

// RevokeClientTokens revokes every grant of the client, for good: the rows
// stay inactive whatever later happens to the client.
func (d *DB) RevokeClientTokens(ctx context.Context, clientID string) (int, error) {
	res, err := d.wr(ctx).exec(ctx, `UPDATE oauth_tokens SET active = FALSE
		WHERE client_id = ? AND `+revocableKinds+` AND active`, clientID)
	if err != nil {
		return 0, classify(err, "revoke client tokens")
	}
	return affected(res, "revoke client tokens")
}

// DeactivateByID revokes the token and its request family. A token with no
// request id (a service token) has no family: only it is revoked.
func (d *DB) DeactivateByID(ctx context.Context, id int64) (*tokens.Token, error) {
	var t *tokens.Token
	err := d.inTx(ctx, func(ctx context.Context, x q) error {
		var err error
		t, err = scanToken(x.row(ctx, `SELECT `+tokenColumns+` FROM oauth_tokens WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("token", id)
		}
		if err != nil {
			return fmt.Errorf("deactivate token %d: %w", id, err)
		}
		query := `UPDATE oauth_tokens SET active = FALSE WHERE id = ? AND active`
		args := []any{id}
		if t.RequestID != "" {
			query = `UPDATE oauth_tokens SET active = FALSE WHERE (id = ? OR request_id = ?) AND active`
			args = append(args, t.RequestID)
		}
		if _, err := x.exec(ctx, query, args...); err != nil {
			return classify(err, "deactivate token")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// ListTokens pages newest first: the cursor is the last id returned and the
// next page continues below it. Rows carry UserDeleted, as GetToken's do.
func (d *DB) ListTokens(ctx context.Context, f tokens.Filter, p store.Page) ([]*tokens.Token, string, error) {
	p = p.Normalize()
	after, err := store.DecodeCursor(p.After)
	if err != nil {
		return nil, "", err
	}
	var conds []string
	var args []any
	if after != 0 {
		conds = append(conds, "t.id < ?")
		args = append(args, after)
	}
	if f.ClientID != "" {
		conds = append(conds, "t.client_id = ?")
		args = append(args, f.ClientID)
	}
	if f.UserID != 0 {
		conds = append(conds, "t.user_id = ?")
		args = append(args, f.UserID)
	}
	if len(f.Kinds) > 0 {
		cond, arg, err := d.textList("t.kind", kindStrings(f.Kinds))
		if err != nil {
			return nil, "", err
		}
		conds = append(conds, cond)
		args = append(args, arg)
	}
	if !f.LiveAt.IsZero() {
		conds = append(conds, "t.active AND t.expires_at > ?")
		args = append(args, toMicro(f.LiveAt))
	}
	query := `SELECT ` + tokenColumnsJoined + ` FROM oauth_tokens t LEFT JOIN users u ON u.id = t.user_id`
	if len(conds) > 0 {
		query += ` WHERE ` + strings.Join(conds, " AND ")
	}
	query += ` ORDER BY t.id DESC LIMIT ?`
	args = append(args, p.Limit+1)
	out, err := queryList(ctx, d.rd(ctx), "list tokens", scanTokenWithUser, query, args...)
	if err != nil {
		return nil, "", err
	}
	if len(out) <= p.Limit {
		return out, "", nil
	}
	out = out[:p.Limit]
	return out, store.EncodeCursor(out[len(out)-1].ID), nil
}

// ClientUsers merges two reads: the client's access and refresh tokens
// grouped by user, and its live consents. LastIssued is taken over every
// access and refresh token still stored, live or not, so an administrator
// sees when a person last got a token even once it has lapsed.
func (d *DB) ClientUsers(ctx context.Context, clientID string, now time.Time) ([]tokens.ClientUser, error) {
	byUser := map[int64]*tokens.ClientUser{}
	rows, err := d.rd(ctx).query(ctx, `SELECT user_id,
			SUM(CASE WHEN active AND expires_at > ? THEN 1 ELSE 0 END), MAX(requested_at)
		FROM oauth_tokens
		WHERE client_id = ? AND user_id IS NOT NULL AND kind IN ('access', 'refresh')
		GROUP BY user_id`, toMicro(now), clientID)
	if err != nil {
		return nil, fmt.Errorf("client users: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			cu   tokens.ClientUser
			last int64
		)
		if err := rows.Scan(&cu.UserID, &cu.LiveTokens, &last); err != nil {
			return nil, fmt.Errorf("client users: %w", err)
		}
		cu.LastIssued = fromMicro(last)
		byUser[cu.UserID] = &cu
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("client users: %w", err)
	}
	consents, err := queryList(ctx, d.rd(ctx), "client users", scanOAuthConsent, `SELECT `+oauthConsentColumns+
		` FROM oauth_consents WHERE client_id = ? AND withdrawn_at IS NULL
		ORDER BY user_id, granted_at DESC, id DESC`, clientID)
	if err != nil {
		return nil, err
	}
	for _, c := range consents {
		cu := byUser[c.UserID]
		if cu == nil {
			cu = &tokens.ClientUser{UserID: c.UserID}
			byUser[c.UserID] = cu
		}
		if cu.Consent == nil { // the newest comes first
			cu.Consent = c
		}
	}
	var out []tokens.ClientUser
	for _, cu := range byUser {
		if cu.LiveTokens > 0 || cu.Consent != nil {
			out = append(out, *cu)
		}
	}
	slices.SortFunc(out, func(a, b tokens.ClientUser) int { return cmp.Compare(a.UserID, b.UserID) })
	return out, nil
}

// DeleteExpiredTokens deletes the longest-expired rows first, reading the
// expires_at index rather than walking ids past long-lived tokens. A limit below 1 is
// Invalid: "loop until fewer than limit" would never end.
func (d *DB) DeleteExpiredTokens(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit < 1 {
		return 0, apperr.New(apperr.Invalid, "delete expired tokens: limit %d must be at least 1", limit)
	}
	res, err := d.wr(ctx).exec(ctx, `DELETE FROM oauth_tokens WHERE id IN
		(SELECT id FROM oauth_tokens WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`, toMicro(before), limit)
	if err != nil {
		return 0, classify(err, "delete expired tokens")
	}
	return affected(res, "delete expired tokens")
}

// ServiceTokensExpiring reads the partial index oauth_tokens_service_expires;
// "active AND service" is repeated exactly as the index says it.
func (d *DB) ServiceTokensExpiring(ctx context.Context, f tokens.Expiring) ([]*tokens.Token, error) {
	query := `SELECT ` + tokenColumns + ` FROM oauth_tokens
		WHERE active AND service AND expires_at >= ? AND expires_at < ?`
	if f.Unalerted {
		query += ` AND alerted_at IS NULL`
	}
	return queryList(ctx, d.rd(ctx), "service tokens expiring", scanToken, query+` ORDER BY expires_at, id`,
		toMicro(f.From), toMicro(f.To))
}

// MarkServiceTokenAlerted is one conditional UPDATE, like DeactivateToken:
// of two racing writers the second finds alerted_at set and changes nothing.
func (d *DB) MarkServiceTokenAlerted(ctx context.Context, id int64, at time.Time) (bool, error) {
	res, err := d.wr(ctx).exec(ctx, `UPDATE oauth_tokens SET alerted_at = ?
		WHERE id = ? AND alerted_at IS NULL`, toMicro(at), id)
	if err != nil {
		return false, classify(err, "mark service token alerted")
	}
	n, err := affected(res, "mark service token alerted")
	return n == 1, err
}

// UseJTI forgets a bounded batch of expired ids, then records jti. The
// insert never raises a unique violation: an expired row of the same jti is
// overwritten, a live one is left alone and reported as Conflict, so a
// replayed assertion does not abort the caller's PostgreSQL transaction. A
// concurrent insert of the same jti waits for the other to commit, then
// sees it live.
func (d *DB) UseJTI(ctx context.Context, jti string, exp, now time.Time) error {
	return d.inTx(ctx, func(ctx context.Context, x q) error {
		sweep := `DELETE FROM oauth_jtis WHERE jti IN
			(SELECT jti FROM oauth_jtis WHERE expires_at <= ? LIMIT ?)`
		if d.dialect == Postgres {
			// Replicas sweeping at once skip each other's rows instead of
			// queueing behind the other's transaction.
			sweep = `DELETE FROM oauth_jtis WHERE jti IN
				(SELECT jti FROM oauth_jtis WHERE expires_at <= ? LIMIT ? FOR UPDATE SKIP LOCKED)`
		}
		if _, err := x.exec(ctx, sweep, toMicro(now), jtiSweep); err != nil {
			return classify(err, "forget expired client assertions")
		}
		res, err := x.exec(ctx, `INSERT INTO oauth_jtis (jti, expires_at) VALUES (?, ?)
			ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at
			WHERE oauth_jtis.expires_at <= ?`, jti, toMicro(exp), toMicro(now))
		if err != nil {
			return classify(err, "record client assertion")
		}
		n, err := affected(res, "record client assertion")
		if err != nil {
			return err
		}
		if n == 0 {
			return apperr.New(apperr.Conflict, "client assertion id was already used")
		}
		return nil
	})
}

// JTIKnown reports whether jti is recorded and unexpired at now.
func (d *DB) JTIKnown(ctx context.Context, jti string, now time.Time) (bool, error) {
	var one int
	err := d.rd(ctx).row(ctx, `SELECT 1 FROM oauth_jtis WHERE jti = ? AND expires_at > ?`,
		jti, toMicro(now)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up client assertion: %w", err)
	}
	return true, nil
}

const oauthConsentColumns = `id, user_id, client_id, scopes, granted_at, withdrawn_at`

func scanOAuthConsent(s scanner) (*tokens.Consent, error) {
	var (
		c         tokens.Consent
		scopes    string
		granted   int64
		withdrawn sql.NullInt64
	)
	if err := s.Scan(&c.ID, &c.UserID, &c.ClientID, &scopes, &granted, &withdrawn); err != nil {
		return nil, err
	}
	var err error
	if c.Scopes, err = fromJSON[string](scopes); err != nil {
		return nil, err
	}
	c.GrantedAt, c.WithdrawnAt = fromMicro(granted), fromNullMicro(withdrawn)
	return &c, nil
}

// normalScopes returns scopes sorted and duplicate-free (nil when empty).
func normalScopes(scopes []string) []string {
	if len(scopes) == 0 {
		return nil
	}
	s := slices.Clone(scopes)
	slices.Sort(s)
	return slices.Compact(s)
}

// SaveConsent inserts c, setting c.ID and leaving c.Scopes sorted and
// duplicate-free as stored. An unknown user or client is Invalid.
func (d *DB) SaveConsent(ctx context.Context, c *tokens.Consent) error {
	c.Scopes = normalScopes(c.Scopes)
	scopes, err := toJSON(c.Scopes)
	if err != nil {
		return err
	}
	if err := d.wr(ctx).row(ctx, `INSERT INTO oauth_consents (user_id, client_id, scopes, granted_at,
		withdrawn_at) VALUES (?, ?, ?, ?, ?) RETURNING id`, c.UserID, c.ClientID, scopes,
		toMicro(c.GrantedAt), nullMicro(c.WithdrawnAt)).Scan(&c.ID); err != nil {
		return classify(err, "save consent")
	}
	c.GrantedAt = fromMicro(toMicro(c.GrantedAt))
	c.WithdrawnAt = fromNullMicro(nullMicro(c.WithdrawnAt))
	return nil
}

// FindConsent tests the scope sets in Go: a person has few live consents for
// one client, and a JSON subset test in SQL would differ per dialect.
func (d *DB) FindConsent(ctx context.Context, userID int64, clientID string, scopes []string) (*tokens.Consent, error) {
	live, err := queryList(ctx, d.rd(ctx), "find consent", scanOAuthConsent, `SELECT `+oauthConsentColumns+
		` FROM oauth_consents WHERE user_id = ? AND client_id = ? AND withdrawn_at IS NULL
		ORDER BY granted_at DESC, id DESC`, userID, clientID)
	if err != nil {
		return nil, err
	}
	for _, c := range live {
		covered := true
		for _, s := range scopes {
			if _, ok := slices.BinarySearch(c.Scopes, s); !ok {
				covered = false
				break
			}
		}
		if covered {
			return c, nil
		}
	}
	return nil, apperr.New(apperr.NotFound, "no consent of user %d for client %s covers the requested scopes", userID, clientID)
}

// WithdrawConsents counts only consents that were live.
func (d *DB) WithdrawConsents(ctx context.Context, userID int64, clientID string, at time.Time) (int, error) {
	res, err := d.wr(ctx).exec(ctx, `UPDATE oauth_consents SET withdrawn_at = ?
		WHERE user_id = ? AND client_id = ? AND withdrawn_at IS NULL`, toMicro(at), userID, clientID)
	if err != nil {
		return 0, classify(err, "withdraw consents")
	}
	return affected(res, "withdraw consents")
}

// ListConsents returns every consent of the user, newest first.
func (d *DB) ListConsents(ctx context.Context, userID int64) ([]*tokens.Consent, error) {
	return queryList(ctx, d.rd(ctx), "list consents", scanOAuthConsent, `SELECT `+oauthConsentColumns+
		` FROM oauth_consents WHERE user_id = ? ORDER BY granted_at DESC, id DESC`, userID)
}

// CountLiveTokens counts the active, unexpired tokens of the given kinds
// (every kind when none) at now.
func (d *DB) CountLiveTokens(ctx context.Context, now time.Time, kinds ...tokens.Kind) (int, error) {
	query := `SELECT COUNT(*) FROM oauth_tokens t WHERE t.active AND t.expires_at > ?`
	args := []any{toMicro(now)}
	if len(kinds) > 0 {
		cond, arg, err := d.textList("t.kind", kindStrings(kinds))
		if err != nil {
			return 0, err
		}
		query += ` AND ` + cond
		args = append(args, arg)
	}
	var n int
	if err := d.rd(ctx).row(ctx, query, args...).Scan(&n); err != nil {
		return 0, classify(err, "count live tokens")
	}
	return n, nil
}
