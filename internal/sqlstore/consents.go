package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"ward/internal/apperr"
	"ward/internal/directory"
)

const consentColumns = `id, user_id, organization_id, agreement_url, status, staff_editable,
	include_in_reports, send_reminders, acceptance_date, expires_at, deleted_at, deleted_by`

func scanConsent(s scanner) (directory.Consent, error) {
	var (
		c                 directory.Consent
		accepted, expires int64
		deletedAt         sql.NullInt64
	)
	if err := s.Scan(&c.ID, &c.UserID, &c.OrganizationID, &c.AgreementURL, &c.Status, &c.StaffEditable,
		&c.IncludeInReports, &c.SendReminders, &accepted, &expires, &deletedAt, &c.DeletedBy); err != nil {
		return c, err
	}
	c.AcceptanceDate, c.ExpiresAt = fromMicro(accepted), fromMicro(expires)
	c.DeletedAt = fromNullMicro(deletedAt)
	return c, nil
}

// Consents returns the user's consents, deleted ones included, newest first.
func (d *DB) Consents(ctx context.Context, userID int64) ([]directory.Consent, error) {
	return queryList(ctx, d.rd(ctx), "consents", scanConsent, `SELECT `+consentColumns+
		` FROM consents WHERE user_id = ? ORDER BY acceptance_date DESC, id DESC`, userID)
}

// CreateConsent inserts c, setting c.ID. An unknown user or organization, or
// an unknown status, is Invalid.
func (d *DB) CreateConsent(ctx context.Context, c *directory.Consent) error {
	if err := d.wr(ctx).row(ctx, `INSERT INTO consents (user_id, organization_id, agreement_url, status,
		staff_editable, include_in_reports, send_reminders, acceptance_date, expires_at, deleted_at, deleted_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		c.UserID, c.OrganizationID, c.AgreementURL, c.Status, c.StaffEditable, c.IncludeInReports,
		c.SendReminders, toMicro(c.AcceptanceDate), toMicro(c.ExpiresAt), nullMicro(c.DeletedAt),
		c.DeletedBy).Scan(&c.ID); err != nil {
		return classify(err, "create consent")
	}
	normalizeConsentTimes(c)
	return nil
}

// normalizeConsentTimes leaves c's times as a read would return them.
func normalizeConsentTimes(c *directory.Consent) {
	c.AcceptanceDate, c.ExpiresAt = fromMicro(toMicro(c.AcceptanceDate)), fromMicro(toMicro(c.ExpiresAt))
	c.DeletedAt = fromNullMicro(nullMicro(c.DeletedAt))
}

// UpdateConsent writes the status, options, expiry and deletion of c.
func (d *DB) UpdateConsent(ctx context.Context, c *directory.Consent) error {
	res, err := d.wr(ctx).exec(ctx, `UPDATE consents SET status = ?, staff_editable = ?,
		include_in_reports = ?, send_reminders = ?, expires_at = ?, deleted_at = ?, deleted_by = ?
		WHERE id = ?`, c.Status, c.StaffEditable, c.IncludeInReports, c.SendReminders,
		toMicro(c.ExpiresAt), nullMicro(c.DeletedAt), c.DeletedBy, c.ID)
	if err != nil {
		return classify(err, "update consent")
	}
	if err := mustAffect(res, "consent", c.ID); err != nil {
		return err
	}
	normalizeConsentTimes(c)
	return nil
}

// visibleArm is one organization's share of PatientsConsentedTo: an ordered
// range scan of consents_visible (organization_id, user_id > after) that
// stops after limit qualifying patients. The literal status and the IS NULL
// match the partial index's predicate, which is what lets both planners use
// it; the repeated "> afterID" bounds serve as in visibleByUser.
const visibleArm = `SELECT user_id FROM (SELECT DISTINCT c.user_id FROM consents c
	WHERE c.organization_id = ? AND c.status = 'consented' AND c.deleted_at IS NULL
	  AND c.expires_at > ? AND c.user_id > ?
	  AND EXISTS (SELECT 1 FROM users u WHERE u.id = c.user_id AND u.id > ? AND u.deleted_at IS NULL)
	  AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = c.user_id AND r.user_id > ? AND r.role_name = 'patient')
	ORDER BY c.user_id LIMIT ?) AS a%d`

// visibleArmsMax is the most organizations PatientsConsentedTo serves with
// per-organization arms (work ~ orgs x limit). Beyond it, one scan in user
// order filtered on the organization list (work ~ limit / share of consents
// in those organizations) is cheaper: staff of many organizations usually
// see a large share of all patients. It also keeps statements well under
// SQLite's limit of 500 compound SELECT arms.
const visibleArmsMax = 16

// visibleByUser is the many-organizations plan: walk consents_visible_user
// in user order from afterID and stop at limit matches. The repeated
// "> afterID" bounds on users and user_roles are redundant for the answer but
// let PostgreSQL start its merge joins at afterID instead of at the first id.
const visibleByUser = `SELECT DISTINCT c.user_id FROM consents c %s
	WHERE c.status = 'consented' AND c.deleted_at IS NULL AND c.user_id > ? AND %s
	  AND c.expires_at > ?
	  AND EXISTS (SELECT 1 FROM users u WHERE u.id = c.user_id AND u.id > ? AND u.deleted_at IS NULL)
	  AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = c.user_id AND r.user_id > ? AND r.role_name = 'patient')
	ORDER BY c.user_id LIMIT ?`

// PatientsConsentedTo returns the ids of live patients with a valid consent
// at now to any of orgIDs, in id order after afterID, at most limit.
//
// For a few organizations: every qualifying id in the answer is among the
// first limit qualifying ids of its own organization, so it is enough to take
// limit ids from each organization (an index range scan that stops early)
// and merge them. For many organizations: one ordered scan over valid
// consents by user id that stops at limit matches. Neither reads all users.
func (d *DB) PatientsConsentedTo(ctx context.Context, orgIDs []int64, now time.Time, afterID int64, limit int) ([]int64, error) {
	if limit <= 0 {
		return nil, apperr.New(apperr.Invalid, "limit must be positive")
	}
	orgs := dedupe(orgIDs)
	if len(orgs) == 0 {
		return nil, nil
	}
	if len(orgs) > visibleArmsMax {
		cond, list := d.int64List("c.organization_id", orgs)
		hint := ""
		if d.dialect == SQLite {
			// Without statistics on the list's size SQLite prefers the
			// organization index and sorts every match; the user order is
			// what lets the scan stop at limit.
			hint = "INDEXED BY consents_visible_user"
		}
		return queryList(ctx, d.rd(ctx), "patients consented to", scanInt64,
			fmt.Sprintf(visibleByUser, hint, cond), afterID, list, toMicro(now), afterID, afterID, limit)
	}
	args := make([]any, 0, 4*len(orgs)+1)
	for _, org := range orgs {
		args = append(args, org, toMicro(now), afterID, afterID, afterID, limit)
	}
	args = append(args, limit)
	return queryList(ctx, d.rd(ctx), "patients consented to", scanInt64, visibleQuery(len(orgs)), args...)
}

// visibleQuery merges n arms: its arguments are (org, now, after, after,
// after, limit) per
// arm, then limit.
func visibleQuery(n int) string {
	var b strings.Builder
	b.WriteString("SELECT DISTINCT user_id FROM (")
	for i := range n {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&b, visibleArm, i)
	}
	b.WriteString(") AS visible ORDER BY user_id LIMIT ?")
	return b.String()
}

func scanToU(s scanner) (directory.ToU, error) {
	var (
		t        directory.ToU
		accepted int64
		org      sql.NullInt64
	)
	if err := s.Scan(&t.ID, &t.UserID, &t.Type, &t.URL, &accepted, &t.Active, &org); err != nil {
		return t, err
	}
	t.AcceptedAt = fromMicro(accepted)
	t.OrganizationID = org.Int64
	return t, nil
}

// ToUs returns the user's terms-of-use agreements, newest first.
func (d *DB) ToUs(ctx context.Context, userID int64) ([]directory.ToU, error) {
	return queryList(ctx, d.rd(ctx), "terms of use", scanToU, `SELECT id, user_id, type, url, accepted_at,
		active, organization_id FROM tous WHERE user_id = ? ORDER BY accepted_at DESC, id DESC`, userID)
}

// AddToU records an accepted agreement as the active one of its type,
// deactivating the user's earlier ones of the same type. It sets t.ID and
// t.Active.
func (d *DB) AddToU(ctx context.Context, t *directory.ToU) error {
	var id int64
	err := d.inTx(ctx, func(ctx context.Context, x q) error {
		if _, err := x.exec(ctx, `UPDATE tous SET active = ? WHERE user_id = ? AND type = ?`,
			false, t.UserID, t.Type); err != nil {
			return classify(err, "accept terms of use")
		}
		if err := x.row(ctx, `INSERT INTO tous (user_id, type, url, accepted_at, active, organization_id)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, t.UserID, t.Type, t.URL, toMicro(t.AcceptedAt), true,
			nullID(t.OrganizationID)).Scan(&id); err != nil {
			return classify(err, "accept terms of use")
		}
		return nil
	})
	if err != nil {
		return err
	}
	t.ID, t.Active = id, true
	return nil
}

// SharedIntervention reports whether both users are enrolled in at least one
// common intervention: both have a row for it whose access is granted or
// subscribed. A forbidden row does not count (stricter than the reference,
// which counts any row): a person refused an intervention is not its
// patient, nor its staff.
func (d *DB) SharedIntervention(ctx context.Context, a, b int64) (bool, error) {
	var shared bool
	if err := d.rd(ctx).row(ctx, `SELECT EXISTS (SELECT 1 FROM user_interventions x
		JOIN user_interventions y ON y.intervention_name = x.intervention_name
		WHERE x.user_id = ? AND y.user_id = ? AND x.access <> 'forbidden' AND y.access <> 'forbidden')`,
		a, b).Scan(&shared); err != nil {
		return false, fmt.Errorf("shared intervention: %w", err)
	}
	return shared, nil
}
