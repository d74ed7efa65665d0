package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/store"
)

const orgColumns = `id, name, part_of_id, type_codings, telecom, addresses, timezone, default_locale,
	use_specific_codings, race_codings, ethnicity_codings, indigenous_codings, updated_at, version`

func scanOrg(s scanner) (*directory.Organization, error) {
	var (
		o                       directory.Organization
		parent                  sql.NullInt64
		typ, telecom, addresses string
		updatedAt               int64
	)
	if err := s.Scan(&o.ID, &o.Name, &parent, &typ, &telecom, &addresses, &o.Timezone, &o.DefaultLocale,
		&o.Coding.UseSpecificCodings, &o.Coding.RaceCodings, &o.Coding.EthnicityCodings,
		&o.Coding.IndigenousCodings, &updatedAt, &o.Version); err != nil {
		return nil, err
	}
	o.PartOfID = parent.Int64
	o.UpdatedAt = fromMicro(updatedAt)
	var err error
	if o.Type, err = fromJSON[directory.Coding](typ); err != nil {
		return nil, err
	}
	if o.Telecom, err = fromJSON[directory.ContactPoint](telecom); err != nil {
		return nil, err
	}
	if o.Addresses, err = fromJSON[directory.Address](addresses); err != nil {
		return nil, err
	}
	return &o, nil
}

// orgArgs returns name .. updated_at in orgColumns order.
func orgArgs(o *directory.Organization) ([]any, error) {
	typ, err := toJSON(o.Type)
	if err != nil {
		return nil, err
	}
	tel, err := toJSON(o.Telecom)
	if err != nil {
		return nil, err
	}
	addr, err := toJSON(o.Addresses)
	if err != nil {
		return nil, err
	}
	return []any{o.Name, nullID(o.PartOfID), typ, tel, addr, o.Timezone, o.DefaultLocale,
		o.Coding.UseSpecificCodings, o.Coding.RaceCodings, o.Coding.EthnicityCodings,
		o.Coding.IndigenousCodings, toMicro(o.UpdatedAt)}, nil
}

func bumpOrgTree(ctx context.Context, x q) error {
	if _, err := x.exec(ctx, `UPDATE org_tree_version SET version = version + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("bump organization tree version: %w", err)
	}
	return nil
}

func insertOrgIdentifiers(ctx context.Context, x q, orgID int64, ids []directory.Identifier) error {
	for _, id := range ids {
		if _, err := x.exec(ctx, `INSERT INTO org_identifiers (organization_id, system, value, use)
			VALUES (?, ?, ?, ?)`, orgID, id.System, id.Value, id.Use); err != nil {
			return classify(err, "organization identifier "+id.System+"|"+id.Value)
		}
	}
	return nil
}

// CreateOrganization inserts o with its identifiers, setting ID, Version=1
// and UpdatedAt, and bumps the tree version.
func (d *DB) CreateOrganization(ctx context.Context, o *directory.Organization) error {
	now := d.nowMicro()
	cp := *o
	cp.UpdatedAt = now
	args, err := orgArgs(&cp)
	if err != nil {
		return err
	}
	err = d.inTx(ctx, func(ctx context.Context, x q) error {
		if err := x.row(ctx, `INSERT INTO organizations (name, part_of_id, type_codings, telecom,
			addresses, timezone, default_locale, use_specific_codings, race_codings,
			ethnicity_codings, indigenous_codings, updated_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id`, args...).Scan(&cp.ID); err != nil {
			return classify(err, "create organization")
		}
		if err := insertOrgIdentifiers(ctx, x, cp.ID, cp.Identifiers); err != nil {
			return err
		}
		return bumpOrgTree(ctx, x)
	})
	if err != nil {
		return err
	}
	o.ID, o.Version, o.UpdatedAt = cp.ID, 1, now
	return nil
}

func (d *DB) orgIdentifiers(ctx context.Context, orgIDs []int64) (map[int64][]directory.Identifier, error) {
	out := make(map[int64][]directory.Identifier, len(orgIDs))
	if len(orgIDs) == 0 {
		return out, nil
	}
	cond, arg := d.int64List("organization_id", orgIDs)
	rows, err := d.rd(ctx).query(ctx, `SELECT organization_id, system, value, use FROM org_identifiers
		WHERE `+cond+` ORDER BY id`, arg)
	if err != nil {
		return nil, fmt.Errorf("organization identifiers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var org int64
		var id directory.Identifier
		if err := rows.Scan(&org, &id.System, &id.Value, &id.Use); err != nil {
			return nil, fmt.Errorf("organization identifiers: %w", err)
		}
		out[org] = append(out[org], id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("organization identifiers: %w", err)
	}
	return out, nil
}

func (d *DB) getOrg(ctx context.Context, query string, args ...any) (*directory.Organization, error) {
	o, err := scanOrg(d.rd(ctx).row(ctx, query, args...))
	if err != nil {
		return nil, err
	}
	ids, err := d.orgIdentifiers(ctx, []int64{o.ID})
	if err != nil {
		return nil, err
	}
	o.Identifiers = ids[o.ID]
	return o, nil
}

// GetOrganization returns the organization with its identifiers.
func (d *DB) GetOrganization(ctx context.Context, id int64) (*directory.Organization, error) {
	o, err := d.getOrg(ctx, `SELECT `+orgColumns+` FROM organizations WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("organization", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get organization %d: %w", id, err)
	}
	return o, nil
}

// GetOrganizationByIdentifier returns the organization holding (system, value).
func (d *DB) GetOrganizationByIdentifier(ctx context.Context, system, value string) (*directory.Organization, error) {
	o, err := d.getOrg(ctx, `SELECT `+prefixed("o.", orgColumns)+` FROM organizations o
		JOIN org_identifiers i ON i.organization_id = o.id WHERE i.system = ? AND i.value = ?`, system, value)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "organization %s|%s not found", system, value)
	}
	if err != nil {
		return nil, fmt.Errorf("get organization by identifier: %w", err)
	}
	return o, nil
}

// UpdateOrganization replaces every field and the identifiers of o, bumping
// Version, the ruleset version (rules resolve names and identifiers), and
// the tree version when the parent changed.
func (d *DB) UpdateOrganization(ctx context.Context, o *directory.Organization) error {
	now := d.nowMicro()
	cp := *o
	cp.UpdatedAt = now
	args, err := orgArgs(&cp)
	if err != nil {
		return err
	}
	var version int64
	err = d.inTx(ctx, func(ctx context.Context, x q) error {
		var oldParent sql.NullInt64
		if err := x.row(ctx, `SELECT part_of_id FROM organizations WHERE id = ?`, o.ID).Scan(&oldParent); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("organization", o.ID)
			}
			return fmt.Errorf("update organization %d: %w", o.ID, err)
		}
		if err := x.row(ctx, `UPDATE organizations SET name = ?, part_of_id = ?, type_codings = ?,
			telecom = ?, addresses = ?, timezone = ?, default_locale = ?, use_specific_codings = ?,
			race_codings = ?, ethnicity_codings = ?, indigenous_codings = ?, updated_at = ?,
			version = version + 1 WHERE id = ? RETURNING version`, append(args, o.ID)...).Scan(&version); err != nil {
			return classify(err, "update organization")
		}
		if _, err := x.exec(ctx, `DELETE FROM org_identifiers WHERE organization_id = ?`, o.ID); err != nil {
			return classify(err, "update organization")
		}
		if err := insertOrgIdentifiers(ctx, x, o.ID, o.Identifiers); err != nil {
			return err
		}
		// Access rules name organizations by name and identifier.
		if err := bumpRuleset(ctx, x); err != nil {
			return err
		}
		if oldParent.Int64 != o.PartOfID {
			return bumpOrgTree(ctx, x)
		}
		return nil
	})
	if err != nil {
		return err
	}
	o.Version, o.UpdatedAt = version, now
	return nil
}

// DeleteOrganization removes an organization that has no children, members,
// consents or (non-deleted) references; otherwise Conflict.
func (d *DB) DeleteOrganization(ctx context.Context, id int64) error {
	return d.inTx(ctx, func(ctx context.Context, x q) error {
		var inUse bool
		if err := x.row(ctx, `SELECT
			EXISTS (SELECT 1 FROM organizations WHERE part_of_id = ?) OR
			EXISTS (SELECT 1 FROM user_organizations WHERE organization_id = ?) OR
			EXISTS (SELECT 1 FROM consents WHERE organization_id = ?)`, id, id, id).Scan(&inUse); err != nil {
			return fmt.Errorf("delete organization %d: %w", id, err)
		}
		if inUse {
			return apperr.New(apperr.Conflict, "organization %d still has child organizations, members or consents", id)
		}
		res, err := x.exec(ctx, `DELETE FROM organizations WHERE id = ?`, id)
		if err != nil {
			return classify(err, "delete organization")
		}
		if err := mustAffect(res, "organization", id); err != nil {
			return err
		}
		return bumpOrgTree(ctx, x)
	})
}

// ListOrganizations returns organizations in id order after the cursor,
// restricted to ids when ids is non-nil.
func (d *DB) ListOrganizations(ctx context.Context, ids []int64, p store.Page) ([]*directory.Organization, string, error) {
	p = p.Normalize()
	after, err := store.DecodeCursor(p.After)
	if err != nil {
		return nil, "", err
	}
	where := ` WHERE id > ?`
	args := []any{after}
	if ids != nil {
		c, a := d.int64List("id", ids)
		where += " AND " + c
		args = append(args, a)
	}
	args = append(args, p.Limit+1)
	rows, err := d.rd(ctx).query(ctx, `SELECT `+orgColumns+` FROM organizations`+where+` ORDER BY id LIMIT ?`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list organizations: %w", err)
	}
	var out []*directory.Organization
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			rows.Close()
			return nil, "", fmt.Errorf("list organizations: %w", err)
		}
		out = append(out, o)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, "", fmt.Errorf("list organizations: %w", err)
	}
	out, next, _ := page(out, p.Limit, func(o *directory.Organization) int64 { return o.ID })
	orgIDs := make([]int64, len(out))
	for i, o := range out {
		orgIDs[i] = o.ID
	}
	idents, err := d.orgIdentifiers(ctx, orgIDs)
	if err != nil {
		return nil, "", err
	}
	for _, o := range out {
		o.Identifiers = idents[o.ID]
	}
	return out, next, nil
}

// OrgEdges returns every (id, parent) pair in id order.
func (d *DB) OrgEdges(ctx context.Context) ([]directory.OrgEdge, error) {
	rows, err := d.rd(ctx).query(ctx, `SELECT id, part_of_id FROM organizations ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("organization edges: %w", err)
	}
	defer rows.Close()
	var out []directory.OrgEdge
	for rows.Next() {
		var e directory.OrgEdge
		var parent sql.NullInt64
		if err := rows.Scan(&e.ID, &parent); err != nil {
			return nil, fmt.Errorf("organization edges: %w", err)
		}
		e.ParentID = parent.Int64
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("organization edges: %w", err)
	}
	return out, nil
}

// OrgTreeVersion returns the counter bumped by tree changes.
func (d *DB) OrgTreeVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := d.rd(ctx).row(ctx, `SELECT version FROM org_tree_version WHERE id = 1`).Scan(&v); err != nil {
		return 0, fmt.Errorf("organization tree version: %w", err)
	}
	return v, nil
}

// CountOrganizations returns how many organizations exist.
func (d *DB) CountOrganizations(ctx context.Context) (int, error) {
	var n int
	if err := d.rd(ctx).row(ctx, `SELECT COUNT(*) FROM organizations`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count organizations: %w", err)
	}
	return n, nil
}
