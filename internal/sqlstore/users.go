package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/matching"
	"ward/internal/store"
)

const userColumns = `id, email, password_hash, given_name, family_name, birth_date, gender,
	phone, alt_phone, locale, timezone, deceased, deceased_at, image_url, races, ethnicities,
	indigenous, registered, confirmed_at, deleted_at, updated_at, version, general_practitioner_id`

// emailKey is the stored, compared form of an email: lower-cased in Go (so
// both dialects agree on non-ASCII letters), NULL when there is none.
func emailKey(email string) sql.NullString {
	e := strings.ToLower(strings.TrimSpace(email))
	return sql.NullString{String: e, Valid: e != ""}
}

type scanner interface{ Scan(dest ...any) error }

func scanUser(s scanner) (*directory.User, error) {
	var (
		u                                      directory.User
		races, ethnicities, indigenous         string
		deceasedAt, confirmedAt, deletedAt, gp sql.NullInt64
		registered, updatedAt                  int64
	)
	if err := s.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.GivenName, &u.FamilyName, &u.BirthDate,
		&u.Gender, &u.Phone, &u.AltPhone, &u.Locale, &u.Timezone, &u.Deceased, &deceasedAt,
		&u.ImageURL, &races, &ethnicities, &indigenous, &registered, &confirmedAt, &deletedAt,
		&updatedAt, &u.Version, &gp); err != nil {
		return nil, err
	}
	var err error
	if u.Races, err = fromJSON[directory.Coding](races); err != nil {
		return nil, err
	}
	if u.Ethnicities, err = fromJSON[directory.Coding](ethnicities); err != nil {
		return nil, err
	}
	if u.Indigenous, err = fromJSON[directory.Coding](indigenous); err != nil {
		return nil, err
	}
	u.DeceasedAt = fromNullMicro(deceasedAt)
	u.ConfirmedAt = fromNullMicro(confirmedAt)
	u.DeletedAt = fromNullMicro(deletedAt)
	u.Registered = fromMicro(registered)
	u.UpdatedAt = fromMicro(updatedAt)
	u.GeneralPractitionerID = gp.Int64
	return &u, nil
}

// userArgs returns the values of every column after id, in userColumns
// order, except version (which the statements set themselves), then the
// search keys given_key, family_key and birth_start (see dirsearch.go) and
// the match keys family_phon, given_phon, phone_key and alt_phone_key (see
// match.go).
func userArgs(u *directory.User) ([]any, error) {
	races, err := toJSON(u.Races)
	if err != nil {
		return nil, err
	}
	eth, err := toJSON(u.Ethnicities)
	if err != nil {
		return nil, err
	}
	ind, err := toJSON(u.Indigenous)
	if err != nil {
		return nil, err
	}
	return []any{u.Email, emailKey(u.Email), u.PasswordHash, u.GivenName, u.FamilyName, u.BirthDate,
		u.Gender, u.Phone, u.AltPhone, u.Locale, u.Timezone, u.Deceased, nullMicro(u.DeceasedAt),
		u.ImageURL, races, eth, ind, toMicro(u.Registered), nullMicro(u.ConfirmedAt),
		nullMicro(u.DeletedAt), toMicro(u.UpdatedAt), nullID(u.GeneralPractitionerID),
		nameKey(u.GivenName), nameKey(u.FamilyName), birthStart(u.BirthDate),
		matching.Phonetic(u.FamilyName), matching.Phonetic(u.GivenName),
		matching.PhoneKey(u.Phone), matching.PhoneKey(u.AltPhone)}, nil
}

// CreateUser inserts u, setting ID, Version=1, UpdatedAt (and Registered when
// zero) from the store's clock.
func (d *DB) CreateUser(ctx context.Context, u *directory.User) error {
	now := d.nowMicro()
	saved := *u
	u.UpdatedAt = now
	if u.Registered.IsZero() {
		u.Registered = now
	}
	args, err := userArgs(u)
	if err != nil {
		*u = saved
		return err
	}
	var id int64
	err = d.wr(ctx).row(ctx, `INSERT INTO users (email, email_lower, password_hash, given_name,
		family_name, birth_date, gender, phone, alt_phone, locale, timezone, deceased, deceased_at,
		image_url, races, ethnicities, indigenous, registered, confirmed_at, deleted_at, updated_at,
		general_practitioner_id, given_key, family_key, birth_start,
		family_phon, given_phon, phone_key, alt_phone_key, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id`,
		args...).Scan(&id)
	if err != nil {
		*u = saved
		return emailTaken(classify(err, "create user"))
	}
	u.ID, u.Version = id, 1
	u.UpdatedAt = now
	normalizeUserTimes(u)
	return nil
}

// normalizeUserTimes leaves u's times as a read would return them (UTC,
// microseconds), replacing rather than changing the caller's pointees.
func normalizeUserTimes(u *directory.User) {
	u.Registered = fromMicro(toMicro(u.Registered))
	u.DeceasedAt = fromNullMicro(nullMicro(u.DeceasedAt))
	u.ConfirmedAt = fromNullMicro(nullMicro(u.ConfirmedAt))
	u.DeletedAt = fromNullMicro(nullMicro(u.DeletedAt))
}

// GetUser returns the user, live or soft-deleted.
func (d *DB) GetUser(ctx context.Context, id int64) (*directory.User, error) {
	u, err := scanUser(d.rd(ctx).row(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("user", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get user %d: %w", id, err)
	}
	return u, nil
}

// GetUserByEmail returns the live user with that email, case-insensitively.
func (d *DB) GetUserByEmail(ctx context.Context, email string) (*directory.User, error) {
	// Checked before lowercasing, which would turn invalid bytes into U+FFFD.
	if err := storableText([]any{email}); err != nil {
		return nil, err
	}
	key := emailKey(email)
	if !key.Valid {
		return nil, apperr.New(apperr.NotFound, "user not found")
	}
	u, err := scanUser(d.rd(ctx).row(ctx,
		`SELECT `+userColumns+` FROM users WHERE email_lower = ? AND deleted_at IS NULL`, key.String))
	if errors.Is(err, sql.ErrNoRows) {
		// The email is not echoed: messages may reach the caller.
		return nil, apperr.New(apperr.NotFound, "user not found")
	}
	if err != nil {
		return nil, fmt.Errorf("get user by email: %w", err)
	}
	return u, nil
}

// UpdateUser writes every field of u when u.Version matches the stored
// version, then bumps Version and UpdatedAt.
func (d *DB) UpdateUser(ctx context.Context, u *directory.User) error {
	now := d.nowMicro()
	cp := *u
	cp.UpdatedAt = now
	args, err := userArgs(&cp)
	if err != nil {
		return err
	}
	args = append(args, u.ID, u.Version)
	res, err := d.wr(ctx).exec(ctx, `UPDATE users SET email = ?, email_lower = ?, password_hash = ?,
		given_name = ?, family_name = ?, birth_date = ?, gender = ?, phone = ?, alt_phone = ?,
		locale = ?, timezone = ?, deceased = ?, deceased_at = ?, image_url = ?, races = ?,
		ethnicities = ?, indigenous = ?, registered = ?, confirmed_at = ?, deleted_at = ?,
		updated_at = ?, general_practitioner_id = ?, given_key = ?, family_key = ?, birth_start = ?,
		family_phon = ?, given_phon = ?, phone_key = ?, alt_phone_key = ?,
		version = version + 1
		WHERE id = ? AND version = ?`, args...)
	if err != nil {
		return emailTaken(classify(err, "update user"))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update user: %w", err)
	} else if n == 0 {
		if _, err := d.GetUser(ctx, u.ID); err != nil {
			return err
		}
		return apperr.New(apperr.Conflict, "user %d was changed by someone else; reload and retry", u.ID)
	}
	u.Version++
	u.UpdatedAt = now
	normalizeUserTimes(u)
	return nil
}

// emailTaken words a unique violation on users (the live email is the
// table's only unique key) the same on both databases, without the
// driver's constraint text, which the CLI would otherwise print.
func emailTaken(err error) error {
	if apperr.Is(err, apperr.Conflict) {
		return apperr.New(apperr.Conflict, "a user with this email already exists")
	}
	return err
}

// SetUserDeleted soft-deletes (at != nil) or reactivates (at == nil) a user.
// Reactivating is a Conflict when a live user has taken the email meanwhile.
func (d *DB) SetUserDeleted(ctx context.Context, id int64, at *time.Time) error {
	res, err := d.wr(ctx).exec(ctx,
		`UPDATE users SET deleted_at = ?, updated_at = ?, version = version + 1 WHERE id = ?`,
		nullMicro(at), toMicro(d.nowMicro()), id)
	if err != nil {
		return emailTaken(classify(err, "user email"))
	}
	return mustAffect(res, "user", id)
}

// PurgeUser deletes the user; every row that belongs to them goes with it
// through ON DELETE CASCADE. Audit events keep the id as a plain number.
func (d *DB) PurgeUser(ctx context.Context, id int64) error {
	res, err := d.wr(ctx).exec(ctx, `DELETE FROM users WHERE id = ?`, id)
	if err != nil {
		return classify(err, "purge user")
	}
	return mustAffect(res, "user", id)
}

func mustAffect(res sql.Result, what string, id any) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s %v: %w", what, id, err)
	}
	if n == 0 {
		return notFound(what, id)
	}
	return nil
}

// userWhere builds the WHERE clause for f. The empty IDs slice (not nil)
// matches nobody.
func (d *DB) userWhere(f directory.UserFilter) (string, []any) {
	var conds []string
	var args []any
	if !f.IncludeDeleted {
		conds = append(conds, "u.deleted_at IS NULL")
	}
	if f.Email != "" {
		conds = append(conds, "u.email_lower = ?")
		args = append(args, emailKey(f.Email).String)
	}
	if f.Name != "" {
		conds = append(conds, `(LOWER(u.given_name) LIKE ? ESCAPE '\' OR LOWER(u.family_name) LIKE ? ESCAPE '\')`)
		pat := "%" + likeEscape(strings.ToLower(f.Name)) + "%"
		args = append(args, pat, pat)
	}
	if f.Identifier != nil {
		conds = append(conds, `EXISTS (SELECT 1 FROM user_identifiers i
			WHERE i.user_id = u.id AND i.system = ? AND i.value = ?)`)
		args = append(args, f.Identifier.System, f.Identifier.Value)
	}
	if f.OrganizationID != 0 {
		conds = append(conds, `EXISTS (SELECT 1 FROM user_organizations o
			WHERE o.user_id = u.id AND o.organization_id = ?)`)
		args = append(args, f.OrganizationID)
	}
	if f.Role != "" {
		conds = append(conds, `EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role_name = ?)`)
		args = append(args, f.Role)
	}
	if f.IDs != nil {
		c, a := d.int64List("u.id", f.IDs)
		conds = append(conds, c)
		args = append(args, a)
	}
	sc, sa := d.searchConds(f)
	conds = append(conds, sc...)
	args = append(args, sa...)
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// likeEscape escapes LIKE wildcards so a name search matches them literally.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// SearchUsers returns users matching f in id order after the cursor, and the
// cursor of the next page ("" when this is the last).
func (d *DB) SearchUsers(ctx context.Context, f directory.UserFilter, p store.Page) ([]*directory.User, string, error) {
	p = p.Normalize()
	after, err := store.DecodeCursor(p.After)
	if err != nil {
		return nil, "", err
	}
	where, args := d.userWhere(f)
	if where == "" {
		where = " WHERE u.id > ?"
	} else {
		where += " AND u.id > ?"
	}
	args = append(args, after, p.Limit+1)
	rows, err := d.rd(ctx).query(ctx, `SELECT `+prefixed("u.", userColumns)+` FROM users u`+where+
		` ORDER BY u.id LIMIT ?`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("search users: %w", err)
	}
	defer rows.Close()
	var out []*directory.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, "", fmt.Errorf("search users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("search users: %w", err)
	}
	return page(out, p.Limit, func(u *directory.User) int64 { return u.ID })
}

// page trims a limit+1 result to limit and returns the next cursor.
func page[T any](items []T, limit int, id func(T) int64) ([]T, string, error) {
	if len(items) <= limit {
		return items, "", nil
	}
	items = items[:limit]
	return items, store.EncodeCursor(id(items[limit-1])), nil
}

// prefixed qualifies each column of a comma-separated list with prefix.
func prefixed(prefix, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// CountUsers returns how many users match f.
func (d *DB) CountUsers(ctx context.Context, f directory.UserFilter) (int, error) {
	where, args := d.userWhere(f)
	var n int
	if err := d.rd(ctx).row(ctx, `SELECT COUNT(*) FROM users u`+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// MoveUserData reassigns what belongs to fromID to toID (a merge). Set-like
// rows the target already has are dropped from the source; consents and ToUs
// are moved as they are, keeping their history.
func (d *DB) MoveUserData(ctx context.Context, fromID, toID int64) error {
	if fromID == toID {
		return apperr.New(apperr.Invalid, "cannot merge a user into itself")
	}
	return d.inTx(ctx, func(ctx context.Context, x q) error {
		for _, id := range []int64{fromID, toID} {
			var one int
			if err := x.row(ctx, `SELECT 1 FROM users WHERE id = ?`, id).Scan(&one); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					return notFound("user", id)
				}
				return fmt.Errorf("merge users: %w", err)
			}
		}
		stmts := []string{
			`INSERT INTO user_roles (user_id, role_name)
				SELECT ?, role_name FROM user_roles WHERE user_id = ? ON CONFLICT DO NOTHING`,
			`DELETE FROM user_roles WHERE user_id = ?`,
			`INSERT INTO user_organizations (user_id, organization_id)
				SELECT ?, organization_id FROM user_organizations WHERE user_id = ? ON CONFLICT DO NOTHING`,
			`DELETE FROM user_organizations WHERE user_id = ?`,
			`INSERT INTO user_identifiers (user_id, system, value, use)
				SELECT ?, system, value, use FROM user_identifiers WHERE user_id = ? ORDER BY id ON CONFLICT DO NOTHING`,
			`DELETE FROM user_identifiers WHERE user_id = ?`,
			`INSERT INTO user_groups (user_id, group_id)
				SELECT ?, group_id FROM user_groups WHERE user_id = ? ON CONFLICT DO NOTHING`,
			`DELETE FROM user_groups WHERE user_id = ?`,
			`INSERT INTO user_profiles (user_id, type, profile_id, catchment)
				SELECT ?, type, profile_id, catchment FROM user_profiles WHERE user_id = ? ON CONFLICT DO NOTHING`,
			`DELETE FROM user_profiles WHERE user_id = ?`,
			`INSERT INTO user_interventions (user_id, intervention_name)
				SELECT ?, intervention_name FROM user_interventions WHERE user_id = ? ON CONFLICT DO NOTHING`,
			`DELETE FROM user_interventions WHERE user_id = ?`,
		}
		for i := 0; i < len(stmts); i += 2 {
			if _, err := x.exec(ctx, stmts[i], toID, fromID); err != nil {
				return classify(err, "merge users")
			}
			if _, err := x.exec(ctx, stmts[i+1], fromID); err != nil {
				return classify(err, "merge users")
			}
		}
		// Groups and profiles moved: both ID cards changed.
		if err := bumpCardVersion(ctx, x, fromID, toID); err != nil {
			return err
		}
		// Relationships: either side may be the source. A relationship
		// between the two merged users would become one with oneself and is
		// dropped.
		if _, err := x.exec(ctx, `INSERT INTO user_relationships (user_id, relationship, other_user_id)
			SELECT CASE WHEN user_id = ? THEN ? ELSE user_id END, relationship,
			       CASE WHEN other_user_id = ? THEN ? ELSE other_user_id END
			FROM user_relationships
			WHERE (user_id = ? OR other_user_id = ?)
			  AND NOT (user_id IN (?, ?) AND other_user_id IN (?, ?))
			ON CONFLICT DO NOTHING`,
			fromID, toID, fromID, toID, fromID, fromID, fromID, toID, fromID, toID); err != nil {
			return classify(err, "merge users")
		}
		if _, err := x.exec(ctx, `DELETE FROM user_relationships WHERE user_id = ? OR other_user_id = ?`,
			fromID, fromID); err != nil {
			return classify(err, "merge users")
		}
		for _, s := range []string{
			`UPDATE consents SET user_id = ? WHERE user_id = ?`,
			`UPDATE tous SET user_id = ? WHERE user_id = ?`,
		} {
			if _, err := x.exec(ctx, s, toID, fromID); err != nil {
				return classify(err, "merge users")
			}
		}
		return nil
	})
}
