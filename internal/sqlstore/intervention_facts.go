package sqlstore

import (
	"context"
	"fmt"

	"ward/internal/clinical"
	"ward/internal/intervention"
)

// factsMembership reads a person's roles ('r'), organizations ('o') and
// whether a treatment-started procedure exists ('t') in one statement. The
// statuses left out are those Facts.TxBegun does not count.
const factsMembership = `SELECT 'r', role_name, 0 FROM user_roles WHERE user_id = ?
	UNION ALL SELECT 'o', '', organization_id FROM user_organizations WHERE user_id = ?
	UNION ALL SELECT 't', '', 1 WHERE EXISTS (SELECT 1 FROM procedures p
		JOIN procedure_codes c ON c.procedure_id = p.id
		WHERE p.patient_id = ? AND p.deleted_at IS NULL
		AND p.status NOT IN ('` + clinical.ProcEnteredInError + `', '` + clinical.ProcNotDone + `')
		AND c.system = ? AND `

// factsObservations reads a person's observations that carry a TRUENTH
// clinical coding, newest first as Facts.AddObservation wants them; the
// statuses left out are those Facts.AddObservation must not be offered.
const factsObservations = `SELECT o.code, o.value FROM observations o
	WHERE o.patient_id = ? AND o.deleted_at IS NULL
	AND o.status NOT IN ('` + clinical.ObsEnteredInError + `', '` + clinical.ObsCancelled + `')
	AND EXISTS (SELECT 1 FROM observation_codes c WHERE c.observation_id = o.id AND c.system = ?)
	ORDER BY COALESCE(o.effective_at, o.effective_end, o.effective_start, o.issued) DESC, o.issued DESC, o.id DESC`

// LoadFacts reads what decisions need about one person in three
// statements, whatever the number of interventions.
func (d *DB) LoadFacts(ctx context.Context, userID int64) (*intervention.Facts, error) {
	f := intervention.NewFacts(userID)
	x := d.rd(ctx)
	codeCond, codes, err := d.textList("c.code", clinical.TxStarted.Codes())
	if err != nil {
		return nil, err
	}
	rows, err := x.query(ctx, factsMembership+codeCond+`)`, userID, userID, userID, clinical.SNOMEDSystem, codes)
	if err != nil {
		return nil, fmt.Errorf("facts: roles and organizations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			kind, role string
			n          int64
		)
		if err := rows.Scan(&kind, &role, &n); err != nil {
			return nil, fmt.Errorf("facts: roles and organizations: %w", err)
		}
		switch kind {
		case "r":
			f.Roles[role] = true
		case "o":
			f.Orgs[n] = true
		case "t":
			f.SetTxBegun()
		}
	}
	if err := rows.Err(); err != nil {
		return nil, x.d.unavailable(fmt.Errorf("facts: roles and organizations: %w", err))
	}
	rows.Close()

	seen := map[string]bool{}
	if _, err := queryList(ctx, x, "facts: observations", func(s scanner) (struct{}, error) {
		var code, value string
		if err := s.Scan(&code, &value); err != nil {
			return struct{}{}, err
		}
		codings, err := fromJSON[clinical.Coding](code)
		if err != nil {
			return struct{}{}, err
		}
		v, err := decodeValue(value)
		if err != nil {
			return struct{}{}, err
		}
		f.AddObservation(codings, v, seen)
		return struct{}{}, nil
	}, factsObservations, userID, intervention.ClinicalCodeSystem()); err != nil {
		return nil, err
	}

	if _, err := queryList(ctx, x, "facts: access rows", func(s scanner) (struct{}, error) {
		ui := intervention.UserIntervention{UserID: userID}
		var (
			access  string
			updated int64
		)
		if err := s.Scan(&ui.Intervention, &access, &ui.CardHTML, &ui.LinkLabel, &ui.LinkURL, &ui.StatusText,
			&ui.StaffHTML, &updated); err != nil {
			return struct{}{}, err
		}
		ui.Access, ui.UpdatedAt = intervention.Access(access), fromMicro(updated)
		f.Rows[ui.Intervention] = &ui
		return struct{}{}, nil
	}, `SELECT intervention_name, access, card_html, link_label, link_url, status_text, staff_html, updated_at
		FROM user_interventions WHERE user_id = ?`, userID); err != nil {
		return nil, err
	}
	return f, nil
}
