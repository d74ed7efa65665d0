package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"ward/internal/apperr"
	"ward/internal/intervention"
)

const accessRuleColumns = `id, intervention_name, name, description, rank, function_details, created_at,
	updated_at, version`

func scanAccessRule(s scanner) (*intervention.AccessRule, error) {
	var (
		r                intervention.AccessRule
		rank             sql.NullInt64
		details          string
		created, updated int64
	)
	if err := s.Scan(&r.ID, &r.Intervention, &r.Name, &r.Description, &rank, &details, &created, &updated,
		&r.Version); err != nil {
		return nil, err
	}
	if rank.Valid {
		v := int(rank.Int64)
		r.Rank = &v
	}
	r.Details = []byte(details)
	r.CreatedAt, r.UpdatedAt = fromMicro(created), fromMicro(updated)
	return &r, nil
}

func nullRank(rank *int) sql.NullInt64 {
	if rank == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*rank), Valid: true}
}

// bumpRuleset moves ruleset_version; in a transaction it also holds the
// row's lock until commit, which serialises rule writers. Writers that
// also lock an intervention (its row, or a foreign key to it) call it
// first, so two of them never wait on each other in opposite orders
// (a deadlock on PostgreSQL).
func bumpRuleset(ctx context.Context, x q) error {
	if _, err := x.exec(ctx, `UPDATE ruleset_version SET version = version + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("bump ruleset version: %w", err)
	}
	return nil
}

// rulesetTx runs fn in ctx's transaction (or a new one) after bumpRuleset,
// for the writes a compiled ruleset depends on.
func (d *DB) rulesetTx(ctx context.Context, fn func(ctx context.Context, x q) error) error {
	return d.inTx(ctx, func(ctx context.Context, x q) error {
		if err := bumpRuleset(ctx, x); err != nil {
			return err
		}
		return fn(ctx, x)
	})
}

// CreateAccessRule inserts r with Version 1 and bumps the ruleset version.
func (d *DB) CreateAccessRule(ctx context.Context, r *intervention.AccessRule) error {
	var id int64
	err := d.rulesetTx(ctx, func(ctx context.Context, x q) error {
		if err := x.row(ctx, `INSERT INTO access_rules (intervention_name, name, description, rank,
			function_details, created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, 1) RETURNING id`,
			r.Intervention, r.Name, r.Description, nullRank(r.Rank), string(r.Details), toMicro(r.CreatedAt),
			toMicro(r.UpdatedAt)).Scan(&id); err != nil {
			return classify(err, "create access rule")
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.ID, r.Version = id, 1
	r.CreatedAt, r.UpdatedAt = fromMicro(toMicro(r.CreatedAt)), fromMicro(toMicro(r.UpdatedAt))
	return nil
}

// GetAccessRule reads one rule by id.
func (d *DB) GetAccessRule(ctx context.Context, id int64) (*intervention.AccessRule, error) {
	r, err := scanAccessRule(d.rd(ctx).row(ctx, `SELECT `+accessRuleColumns+` FROM access_rules WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("access rule", id)
	}
	if err != nil {
		return nil, classify(err, "get access rule")
	}
	return r, nil
}

// ListAccessRules returns one intervention's rules, or all, by id.
func (d *DB) ListAccessRules(ctx context.Context, name string) ([]*intervention.AccessRule, error) {
	if name == "" {
		return queryList(ctx, d.rd(ctx), "list access rules", scanAccessRule,
			`SELECT `+accessRuleColumns+` FROM access_rules ORDER BY id`)
	}
	return queryList(ctx, d.rd(ctx), "list access rules", scanAccessRule,
		`SELECT `+accessRuleColumns+` FROM access_rules WHERE intervention_name = ? ORDER BY id`, name)
}

// UpdateAccessRule writes the rule's content under its version.
func (d *DB) UpdateAccessRule(ctx context.Context, r *intervention.AccessRule) error {
	err := d.rulesetTx(ctx, func(ctx context.Context, x q) error {
		res, err := x.exec(ctx, `UPDATE access_rules SET name = ?, description = ?, rank = ?,
			function_details = ?, updated_at = ?, version = version + 1 WHERE id = ? AND version = ?`,
			r.Name, r.Description, nullRank(r.Rank), string(r.Details), toMicro(r.UpdatedAt), r.ID, r.Version)
		if err != nil {
			return classify(err, "update access rule")
		}
		if err := versioned(res, "access rule", r.ID, func() error {
			_, err := d.GetAccessRule(ctx, r.ID)
			return err
		}); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.Version++
	r.UpdatedAt = fromMicro(toMicro(r.UpdatedAt))
	return nil
}

// DeleteAccessRule removes one rule and bumps the ruleset version.
func (d *DB) DeleteAccessRule(ctx context.Context, id int64) error {
	return d.rulesetTx(ctx, func(ctx context.Context, x q) error {
		res, err := x.exec(ctx, `DELETE FROM access_rules WHERE id = ?`, id)
		if err != nil {
			return classify(err, "delete access rule")
		}
		return mustAffect(res, "access rule", id)
	})
}

// LockAccessRules bumps ruleset_version in ctx's transaction: the row lock
// it takes (PostgreSQL) or the write transaction it needs (SQLite) orders
// every rule writer after this one.
func (d *DB) LockAccessRules(ctx context.Context) error {
	return bumpRuleset(ctx, d.wr(ctx))
}

// RulesetVersion is org_tree_version + ruleset_version: both only grow, so
// the sum moves exactly when either does, and one statement reads both.
func (d *DB) RulesetVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := d.rd(ctx).row(ctx, `SELECT (SELECT version FROM org_tree_version WHERE id = 1) +
		(SELECT version FROM ruleset_version WHERE id = 1)`).Scan(&v); err != nil {
		return 0, fmt.Errorf("ruleset version: %w", err)
	}
	return v, nil
}

// OrgRefs returns every organization's id and name, by id.
func (d *DB) OrgRefs(ctx context.Context) ([]intervention.OrgRef, error) {
	return queryList(ctx, d.rd(ctx), "organization names", func(s scanner) (intervention.OrgRef, error) {
		var o intervention.OrgRef
		return o, s.Scan(&o.ID, &o.Name)
	}, `SELECT id, name FROM organizations ORDER BY id`)
}

// OrgIdentifierRefs returns every organization identifier.
func (d *DB) OrgIdentifierRefs(ctx context.Context) ([]intervention.OrgIdentifierRef, error) {
	return queryList(ctx, d.rd(ctx), "organization identifiers", func(s scanner) (intervention.OrgIdentifierRef, error) {
		var o intervention.OrgIdentifierRef
		return o, s.Scan(&o.OrgID, &o.System, &o.Value)
	}, `SELECT organization_id, system, value FROM org_identifiers ORDER BY id`)
}

// versioned turns the result of an "UPDATE ... WHERE key AND version = ?"
// into the stores' contract: no row changed is get's NotFound when the row
// is gone, Conflict when its version moved.
func versioned(res sql.Result, what string, id any, get func() error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update %s %v: %w", what, id, err)
	}
	if n > 0 {
		return nil
	}
	if err := get(); err != nil {
		return err
	}
	return apperr.New(apperr.Conflict, "%s %v was changed by someone else; reload and retry", what, id)
}
