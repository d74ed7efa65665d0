package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"ward/internal/intervention"
)

// interventionSelect reads every column of intervention plus the client
// that acts for it (the one oauth_clients row naming it: a unique index
// keeps it to one).
const interventionSelect = `SELECT i.id, i.name, i.description, i.card_html, i.link_label, i.link_url,
	i.status_text, i.public_access, i.display_rank, COALESCE(c.client_id, ''), i.created_at, i.updated_at,
	i.version
	FROM interventions i LEFT JOIN oauth_clients c ON c.intervention = i.name`

func scanIntervention(s scanner) (*intervention.Intervention, error) {
	var (
		iv               intervention.Intervention
		created, updated int64
	)
	if err := s.Scan(&iv.ID, &iv.Name, &iv.Description, &iv.CardHTML, &iv.LinkLabel, &iv.LinkURL,
		&iv.StatusText, &iv.PublicAccess, &iv.DisplayRank, &iv.ClientID, &created, &updated, &iv.Version); err != nil {
		return nil, err
	}
	iv.CreatedAt, iv.UpdatedAt = fromMicro(created), fromMicro(updated)
	return &iv, nil
}

// CreateIntervention inserts iv with Version 1; a taken name is Conflict.
func (d *DB) CreateIntervention(ctx context.Context, iv *intervention.Intervention) error {
	var id int64
	err := d.rulesetTx(ctx, func(ctx context.Context, x q) error {
		if err := x.row(ctx, `INSERT INTO interventions (name, description, card_html, link_label,
		link_url, status_text, public_access, display_rank, created_at, updated_at, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id`,
			iv.Name, iv.Description, iv.CardHTML, iv.LinkLabel, iv.LinkURL, iv.StatusText, iv.PublicAccess,
			iv.DisplayRank, toMicro(iv.CreatedAt), toMicro(iv.UpdatedAt)).Scan(&id); err != nil {
			return classify(err, "create intervention")
		}
		return nil
	})
	if err != nil {
		return err
	}
	iv.ID, iv.Version = id, 1
	iv.CreatedAt, iv.UpdatedAt = fromMicro(toMicro(iv.CreatedAt)), fromMicro(toMicro(iv.UpdatedAt))
	return nil
}

// GetIntervention reads one intervention by name.
func (d *DB) GetIntervention(ctx context.Context, name string) (*intervention.Intervention, error) {
	iv, err := scanIntervention(d.rd(ctx).row(ctx, interventionSelect+` WHERE i.name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("intervention", name)
	}
	if err != nil {
		return nil, classify(err, "get intervention")
	}
	return iv, nil
}

// ListInterventions returns every intervention by display rank, then name.
func (d *DB) ListInterventions(ctx context.Context) ([]*intervention.Intervention, error) {
	return queryList(ctx, d.rd(ctx), "list interventions", scanIntervention,
		interventionSelect+` ORDER BY i.display_rank, i.name`)
}

// UpdateIntervention writes every field but the name when the stored
// version is iv.Version, then increments iv.Version.
func (d *DB) UpdateIntervention(ctx context.Context, iv *intervention.Intervention) error {
	err := d.rulesetTx(ctx, func(ctx context.Context, x q) error {
		res, err := x.exec(ctx, `UPDATE interventions SET description = ?, card_html = ?,
		link_label = ?, link_url = ?, status_text = ?, public_access = ?, display_rank = ?,
		created_at = ?, updated_at = ?, version = version + 1
		WHERE name = ? AND version = ?`,
			iv.Description, iv.CardHTML, iv.LinkLabel, iv.LinkURL, iv.StatusText, iv.PublicAccess,
			iv.DisplayRank, toMicro(iv.CreatedAt), toMicro(iv.UpdatedAt), iv.Name, iv.Version)
		if err != nil {
			return classify(err, "update intervention")
		}
		if err := versioned(res, "intervention", iv.Name, func() error {
			_, err := d.GetIntervention(ctx, iv.Name)
			return err
		}); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	iv.Version++
	iv.CreatedAt, iv.UpdatedAt = fromMicro(toMicro(iv.CreatedAt)), fromMicro(toMicro(iv.UpdatedAt))
	return nil
}

// DeleteIntervention removes the intervention; its user_interventions rows
// and access rules go with it and a client naming it names none (the
// foreign keys). Like every intervention write it moves ruleset_version.
func (d *DB) DeleteIntervention(ctx context.Context, name string) error {
	return d.rulesetTx(ctx, func(ctx context.Context, x q) error {
		res, err := x.exec(ctx, `DELETE FROM interventions WHERE name = ?`, name)
		if err != nil {
			return classify(err, "delete intervention")
		}
		return mustAffect(res, "intervention", name)
	})
}

// GetUserIntervention reads person userID's row for intervention name.
func (d *DB) GetUserIntervention(ctx context.Context, name string, userID int64) (*intervention.UserIntervention, error) {
	ui := intervention.UserIntervention{Intervention: name, UserID: userID}
	var access string
	var updated int64
	err := d.rd(ctx).row(ctx, `SELECT access, card_html, link_label, link_url, status_text, staff_html, updated_at
		FROM user_interventions WHERE intervention_name = ? AND user_id = ?`, name, userID).
		Scan(&access, &ui.CardHTML, &ui.LinkLabel, &ui.LinkURL, &ui.StatusText, &ui.StaffHTML, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("access row of user", userID)
	}
	if err != nil {
		return nil, classify(err, "get user intervention")
	}
	ui.Access, ui.UpdatedAt = intervention.Access(access), fromMicro(updated)
	return &ui, nil
}

// PutUserIntervention inserts or replaces a person's row; an unknown
// person or intervention is Invalid, an access outside the three values
// too (a CHECK constraint).
func (d *DB) PutUserIntervention(ctx context.Context, ui *intervention.UserIntervention) error {
	if _, err := d.wr(ctx).exec(ctx, `INSERT INTO user_interventions (user_id, intervention_name, access,
		card_html, link_label, link_url, status_text, staff_html, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, intervention_name) DO UPDATE SET access = excluded.access,
		card_html = excluded.card_html, link_label = excluded.link_label, link_url = excluded.link_url,
		status_text = excluded.status_text, staff_html = excluded.staff_html, updated_at = excluded.updated_at`,
		ui.UserID, ui.Intervention, string(ui.Access), ui.CardHTML, ui.LinkLabel, ui.LinkURL, ui.StatusText,
		ui.StaffHTML, toMicro(ui.UpdatedAt)); err != nil {
		return classify(err, "store user intervention")
	}
	ui.UpdatedAt = fromMicro(toMicro(ui.UpdatedAt))
	return nil
}

// DB implements the intervention store.
var _ intervention.Store = (*DB)(nil)
