package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"ward/internal/apperr"
	"ward/internal/directory"
)

// UserRoles returns the role names the user holds, sorted.
func (d *DB) UserRoles(ctx context.Context, userID int64) ([]string, error) {
	return queryList(ctx, d.rd(ctx), "user roles", func(s scanner) (string, error) {
		var n string
		return n, s.Scan(&n)
	}, `SELECT role_name FROM user_roles WHERE user_id = ? ORDER BY role_name`, userID)
}

// SetUserRoles replaces the user's roles; an unknown role (or user) is
// Invalid. Only the difference is written: roles the user keeps are not
// deleted and inserted again, so a concurrent add of another role (which
// the caller serialises with LockUser) is never undone by this statement.
func (d *DB) SetUserRoles(ctx context.Context, userID int64, names []string) error {
	names = dedupe(names)
	cond, arg, err := d.textList("role_name", names)
	if err != nil {
		return err
	}
	return d.inTx(ctx, func(ctx context.Context, x q) error {
		if _, err := x.exec(ctx, `DELETE FROM user_roles WHERE user_id = ? AND NOT (`+cond+`)`, userID, arg); err != nil {
			return classify(err, "set user roles")
		}
		for _, n := range names {
			if _, err := x.exec(ctx, `INSERT INTO user_roles (user_id, role_name) VALUES (?, ?)
				ON CONFLICT DO NOTHING`, userID, n); err != nil {
				return classify(err, "role "+n)
			}
		}
		return nil
	})
}

// LockUser locks the user's row until the transaction in ctx ends. On
// PostgreSQL it is SELECT ... FOR NO KEY UPDATE: it excludes every other
// LockUser and UPDATE of the row, but not the key-share locks that
// inserting rows referring to the user (audit events, tokens) takes, so
// those never wait for it. On SQLite every write transaction already runs
// alone (BEGIN IMMEDIATE on the one writer connection, and the group
// committer runs batched transactions one after another), so only the
// existence check is left.
func (d *DB) LockUser(ctx context.Context, id int64) error {
	tx := d.Tx(ctx)
	if tx == nil {
		return errors.New("lock user: not in a transaction")
	}
	query := `SELECT id FROM users WHERE id = ?`
	if d.dialect == Postgres {
		query += ` FOR NO KEY UPDATE`
	}
	var got int64
	if err := (q{d, tx}).row(ctx, query, id).Scan(&got); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("user", id)
		}
		return classify(err, "lock user")
	}
	return nil
}

// EnsureStaticData inserts the static roles and relationships that are
// missing. Existing rows are left alone, so running it again changes nothing.
func (d *DB) EnsureStaticData(ctx context.Context) error {
	return d.inTx(ctx, func(ctx context.Context, x q) error {
		for _, r := range directory.StaticRoles {
			if _, err := x.exec(ctx, `INSERT INTO roles (name, description) VALUES (?, ?)
				ON CONFLICT (name) DO NOTHING`, r.Name, r.Description); err != nil {
				return fmt.Errorf("seed role %s: %w", r.Name, err)
			}
		}
		for _, r := range directory.StaticRelationships {
			if _, err := x.exec(ctx, `INSERT INTO relationships (name, description) VALUES (?, ?)
				ON CONFLICT (name) DO NOTHING`, r.Name, r.Description); err != nil {
				return fmt.Errorf("seed relationship %s: %w", r.Name, err)
			}
		}
		return nil
	})
}

// Roles returns every role sorted by name (not part of directory.Store; used
// by tests and tools to see what EnsureStaticData left).
func (d *DB) Roles(ctx context.Context) ([]directory.Role, error) {
	return queryList(ctx, d.rd(ctx), "roles", func(s scanner) (directory.Role, error) {
		var r directory.Role
		return r, s.Scan(&r.Name, &r.Description)
	}, `SELECT name, description FROM roles ORDER BY name`)
}

// UserOrganizations returns the ids of the user's organizations, sorted.
func (d *DB) UserOrganizations(ctx context.Context, userID int64) ([]int64, error) {
	return queryList(ctx, d.rd(ctx), "user organizations", scanInt64,
		`SELECT organization_id FROM user_organizations WHERE user_id = ? ORDER BY organization_id`, userID)
}

// SetUserOrganizations replaces the user's organizations; an unknown
// organization is Invalid. Like SetUserRoles it writes only the difference.
func (d *DB) SetUserOrganizations(ctx context.Context, userID int64, orgIDs []int64) error {
	ids := dedupe(orgIDs)
	cond, arg := d.int64List("organization_id", ids)
	return d.inTx(ctx, func(ctx context.Context, x q) error {
		if _, err := x.exec(ctx, `DELETE FROM user_organizations WHERE user_id = ? AND NOT (`+cond+`)`,
			userID, arg); err != nil {
			return classify(err, "set user organizations")
		}
		for _, id := range ids {
			if _, err := x.exec(ctx, `INSERT INTO user_organizations (user_id, organization_id) VALUES (?, ?)
				ON CONFLICT DO NOTHING`, userID, id); err != nil {
				return classify(err, fmt.Sprintf("organization %d", id))
			}
		}
		return nil
	})
}

// AddUserOrganizations adds orgIDs to the user's organizations, one
// INSERT ... ON CONFLICT DO NOTHING each, and returns those that were not
// already there, in the order given; an unknown organization is Invalid.
func (d *DB) AddUserOrganizations(ctx context.Context, userID int64, orgIDs []int64) ([]int64, error) {
	var added []int64
	err := d.inTx(ctx, func(ctx context.Context, x q) error {
		added = nil
		for _, id := range dedupe(orgIDs) {
			res, err := x.exec(ctx, `INSERT INTO user_organizations (user_id, organization_id) VALUES (?, ?)
				ON CONFLICT DO NOTHING`, userID, id)
			if err != nil {
				return classify(err, fmt.Sprintf("organization %d", id))
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("add user organizations: %w", err)
			}
			if n == 1 {
				added = append(added, id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return added, nil
}

// UserIdentifiers returns the user's identifiers in the order they were added.
func (d *DB) UserIdentifiers(ctx context.Context, userID int64) ([]directory.Identifier, error) {
	return queryList(ctx, d.rd(ctx), "user identifiers", func(s scanner) (directory.Identifier, error) {
		var i directory.Identifier
		return i, s.Scan(&i.System, &i.Value, &i.Use)
	}, `SELECT system, value, use FROM user_identifiers WHERE user_id = ? ORDER BY id`, userID)
}

// AddUserIdentifier attaches id to the user. With unique, a live other user
// holding (system, value) is a Conflict. Attaching one the user already holds
// updates its use. The check and the insert are serialised against other
// adders of the same identifier: on SQLite by BEGIN IMMEDIATE, on PostgreSQL
// by a transaction-scoped advisory lock on the identifier (READ COMMITTED
// would otherwise let two first-time holders both pass the check).
func (d *DB) AddUserIdentifier(ctx context.Context, userID int64, id directory.Identifier, unique bool) error {
	if id.System == "" || id.Value == "" {
		return apperr.New(apperr.Invalid, "an identifier needs a system and a value")
	}
	return d.inTx(ctx, func(ctx context.Context, x q) error {
		if unique {
			if d.dialect == Postgres {
				if _, err := x.exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(CAST(? AS text), 0))`,
					id.System+"|"+id.Value); err != nil {
					return fmt.Errorf("add user identifier: %w", err)
				}
			}
			if err := d.checkIdentifierFree(ctx, x, userID, id); err != nil {
				return err
			}
		}
		if _, err := x.exec(ctx, `INSERT INTO user_identifiers (user_id, system, value, use) VALUES (?, ?, ?, ?)
			ON CONFLICT (user_id, system, value) DO UPDATE SET use = excluded.use`,
			userID, id.System, id.Value, id.Use); err != nil {
			return classify(err, "add user identifier")
		}
		return nil
	})
}

func (d *DB) checkIdentifierFree(ctx context.Context, x q, userID int64, id directory.Identifier) error {
	var taken bool
	if err := x.row(ctx, `SELECT EXISTS (SELECT 1 FROM user_identifiers i JOIN users u ON u.id = i.user_id
		WHERE i.system = ? AND i.value = ? AND i.user_id <> ? AND u.deleted_at IS NULL)`,
		id.System, id.Value, userID).Scan(&taken); err != nil {
		return fmt.Errorf("add user identifier: %w", err)
	}
	if taken {
		return apperr.New(apperr.Conflict, "identifier %s|%s is held by another user", id.System, id.Value)
	}
	return nil
}

// RemoveUserIdentifier detaches id; NotFound when the user does not hold it.
func (d *DB) RemoveUserIdentifier(ctx context.Context, userID int64, id directory.Identifier) error {
	res, err := d.wr(ctx).exec(ctx, `DELETE FROM user_identifiers WHERE user_id = ? AND system = ? AND value = ?`,
		userID, id.System, id.Value)
	if err != nil {
		return classify(err, "remove user identifier")
	}
	return mustAffect(res, "identifier", id.System+"|"+id.Value)
}

// Relationships returns relationships where the user is either side, sorted
// by (user, relationship, other user).
func (d *DB) Relationships(ctx context.Context, userID int64) ([]directory.UserRelationship, error) {
	return queryList(ctx, d.rd(ctx), "relationships", func(s scanner) (directory.UserRelationship, error) {
		var r directory.UserRelationship
		return r, s.Scan(&r.UserID, &r.Relationship, &r.OtherUserID)
	}, `SELECT user_id, relationship, other_user_id FROM user_relationships
		WHERE user_id = ? OR other_user_id = ? ORDER BY user_id, relationship, other_user_id`, userID, userID)
}

// SetRelationships replaces the relationships where userID is the subject.
// Each rel's UserID must be 0 or userID.
func (d *DB) SetRelationships(ctx context.Context, userID int64, rels []directory.UserRelationship) error {
	for _, r := range rels {
		if r.UserID != 0 && r.UserID != userID {
			return apperr.New(apperr.Invalid, "relationship subject %d is not user %d", r.UserID, userID)
		}
	}
	return d.inTx(ctx, func(ctx context.Context, x q) error {
		if _, err := x.exec(ctx, `DELETE FROM user_relationships WHERE user_id = ?`, userID); err != nil {
			return classify(err, "set relationships")
		}
		for _, r := range rels {
			if _, err := x.exec(ctx, `INSERT INTO user_relationships (user_id, relationship, other_user_id)
				VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, userID, r.Relationship, r.OtherUserID); err != nil {
				return classify(err, "relationship "+r.Relationship)
			}
		}
		return nil
	})
}

func scanGroup(s scanner) (directory.Group, error) {
	var g directory.Group
	return g, s.Scan(&g.ID, &g.Name, &g.Description)
}

// Groups returns every group sorted by name.
func (d *DB) Groups(ctx context.Context) ([]directory.Group, error) {
	return queryList(ctx, d.rd(ctx), "groups", scanGroup,
		`SELECT id, name, description FROM groups ORDER BY name`)
}

// CreateGroup inserts g, setting g.ID; a duplicate name is Conflict.
func (d *DB) CreateGroup(ctx context.Context, g *directory.Group) error {
	if err := d.wr(ctx).row(ctx, `INSERT INTO groups (name, description) VALUES (?, ?) RETURNING id`,
		g.Name, g.Description).Scan(&g.ID); err != nil {
		return classify(err, "group "+g.Name)
	}
	return nil
}

// UserGroups returns the user's groups sorted by name.
func (d *DB) UserGroups(ctx context.Context, userID int64) ([]directory.Group, error) {
	return queryList(ctx, d.rd(ctx), "user groups", scanGroup,
		`SELECT g.id, g.name, g.description FROM groups g JOIN user_groups ug ON ug.group_id = g.id
		WHERE ug.user_id = ? ORDER BY g.name`, userID)
}

// SetUserGroups replaces the user's groups; an unknown group is Invalid.
// Like SetUserRoles it writes only the difference.
func (d *DB) SetUserGroups(ctx context.Context, userID int64, groupIDs []int64) error {
	ids := dedupe(groupIDs)
	cond, arg := d.int64List("group_id", ids)
	return d.inTx(ctx, func(ctx context.Context, x q) error {
		if _, err := x.exec(ctx, `DELETE FROM user_groups WHERE user_id = ? AND NOT (`+cond+`)`, userID, arg); err != nil {
			return classify(err, "set user groups")
		}
		for _, id := range ids {
			if _, err := x.exec(ctx, `INSERT INTO user_groups (user_id, group_id) VALUES (?, ?)
				ON CONFLICT DO NOTHING`, userID, id); err != nil {
				return classify(err, fmt.Sprintf("group %d", id))
			}
		}
		return bumpCardVersion(ctx, x, userID)
	})
}

// UserProfiles returns the user's profiles sorted by (type, id).
func (d *DB) UserProfiles(ctx context.Context, userID int64) ([]directory.Profile, error) {
	return queryList(ctx, d.rd(ctx), "user profiles", func(s scanner) (directory.Profile, error) {
		var p directory.Profile
		var catchment string
		if err := s.Scan(&p.Type, &p.ID, &catchment); err != nil {
			return p, err
		}
		var err error
		p.Catchment, err = fromJSON[string](catchment)
		return p, err
	}, `SELECT type, profile_id, catchment FROM user_profiles WHERE user_id = ? ORDER BY type, profile_id`, userID)
}

// SetUserProfiles replaces the user's profiles; two with the same (type, id)
// are a Conflict.
func (d *DB) SetUserProfiles(ctx context.Context, userID int64, ps []directory.Profile) error {
	return d.inTx(ctx, func(ctx context.Context, x q) error {
		if _, err := x.exec(ctx, `DELETE FROM user_profiles WHERE user_id = ?`, userID); err != nil {
			return classify(err, "set user profiles")
		}
		for _, p := range ps {
			c, err := toJSON(p.Catchment)
			if err != nil {
				return err
			}
			if _, err := x.exec(ctx, `INSERT INTO user_profiles (user_id, type, profile_id, catchment)
				VALUES (?, ?, ?, ?)`, userID, p.Type, p.ID, c); err != nil {
				return classify(err, "profile "+p.Type+"/"+p.ID)
			}
		}
		return bumpCardVersion(ctx, x, userID)
	})
}

// bumpCardVersion adds one to the users' card_version, in the transaction
// that changes their groups or profiles: ReadIDPToken's card cache serves a
// card only while the version it was read with is the row's (migration
// 00030). Every write to user_groups or user_profiles must call it.
func bumpCardVersion(ctx context.Context, x q, userIDs ...int64) error {
	for _, id := range userIDs {
		if _, err := x.exec(ctx, `UPDATE users SET card_version = card_version + 1 WHERE id = ?`, id); err != nil {
			return fmt.Errorf("bump card version of user %d: %w", id, err)
		}
	}
	return nil
}

// queryList runs a query and scans every row with scan.
func queryList[T any](ctx context.Context, x q, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := x.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		// A connection lost mid-result is past retrying here (rows were
		// consumed), but it is still Unavailable, not Internal.
		return nil, x.d.unavailable(fmt.Errorf("%s: %w", what, err))
	}
	return out, nil
}

func scanInt64(s scanner) (int64, error) {
	var v int64
	return v, s.Scan(&v)
}

// dedupe returns the distinct values of in, in first-seen order.
func dedupe[T comparable](in []T) []T {
	out := make([]T, 0, len(in))
	for _, v := range in {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// IDCard returns user id (live or soft-deleted) with their groups (sorted
// by name), profiles (sorted by type, id) and last sign-in in one
// statement: the legacy IdP API's token look-up reads them on every
// request, and one round trip instead of four is most of its cost on
// PostgreSQL (ReadIDPToken folds the same columns into the token's read).
func (d *DB) IDCard(ctx context.Context, id int64) (*directory.IDCard, error) {
	var agg cardAggregates
	u, err := scanUser(scanFunc(func(dest ...any) error {
		return d.rd(ctx).row(ctx, `SELECT `+userColumns+`, `+d.cardAggregates("users.id")+`
			FROM users WHERE id = ?`, id).Scan(append(dest, agg.dest()...)...)
	}))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("user", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read ID card of user %d: %w", id, err)
	}
	return agg.card(u)
}

// cardAggregates returns the select expressions of an ID card beside the
// user's row, userID naming the user's id column: groups and profiles as
// JSON arrays built by the database (json_group_array in SQLite, json_agg
// in PostgreSQL; a profile's catchment travels as its stored JSON text)
// and the last sign-in as a scalar subquery. cardAggregates.dest scans
// them.
func (d *DB) cardAggregates(userID string) string {
	groups := `(SELECT COALESCE(json_group_array(json_object('id', id, 'name', name, 'description', description)), '[]')
		FROM (SELECT g.id, g.name, g.description FROM groups g JOIN user_groups ug ON ug.group_id = g.id
			WHERE ug.user_id = ` + userID + ` ORDER BY g.name))`
	profiles := `(SELECT COALESCE(json_group_array(json_object('type', type, 'id', profile_id, 'catchment', catchment)), '[]')
		FROM (SELECT type, profile_id, catchment FROM user_profiles WHERE user_id = ` + userID + ` ORDER BY type, profile_id))`
	if d.dialect == Postgres {
		groups = `(SELECT COALESCE(json_agg(json_build_object('id', g.id, 'name', g.name, 'description', g.description)
			ORDER BY g.name), '[]')::text
			FROM groups g JOIN user_groups ug ON ug.group_id = g.id WHERE ug.user_id = ` + userID + `)`
		profiles = `(SELECT COALESCE(json_agg(json_build_object('type', type, 'id', profile_id, 'catchment', catchment)
			ORDER BY type, profile_id), '[]')::text
			FROM user_profiles WHERE user_id = ` + userID + `)`
	}
	return groups + `, ` + profiles + `,
		(SELECT last_login FROM user_last_login WHERE user_id = ` + userID + `)`
}

// cardAggregates holds the scanned columns of DB.cardAggregates.
type cardAggregates struct {
	groups, profiles string
	last             sql.NullInt64
}

func (a *cardAggregates) dest() []any { return []any{&a.groups, &a.profiles, &a.last} }

// card decodes the aggregates into u's ID card.
func (a *cardAggregates) card(u *directory.User) (*directory.IDCard, error) {
	card := directory.IDCard{User: u}
	if err := json.Unmarshal([]byte(a.groups), &card.Groups); err != nil {
		return nil, fmt.Errorf("read ID card of user %d: groups: %w", u.ID, err)
	}
	if len(card.Groups) == 0 {
		card.Groups = nil // as UserGroups answers for none
	}
	var ps []struct {
		Type      string `json:"type"`
		ID        string `json:"id"`
		Catchment string `json:"catchment"`
	}
	if err := json.Unmarshal([]byte(a.profiles), &ps); err != nil {
		return nil, fmt.Errorf("read ID card of user %d: profiles: %w", u.ID, err)
	}
	for _, p := range ps {
		cat, err := fromJSON[string](p.Catchment)
		if err != nil {
			return nil, fmt.Errorf("read ID card of user %d: catchment: %w", u.ID, err)
		}
		card.Profiles = append(card.Profiles, directory.Profile{Type: p.Type, ID: p.ID, Catchment: cat})
	}
	card.LastLogin = fromNullMicro(a.last)
	return &card, nil
}

// scanFunc adapts a function to scanner, so scanUser can read a row with
// columns after the user's.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }
