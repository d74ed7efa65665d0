package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/matching"
)

// Record matching (FHIR Patient/$match): candidates found by the blocking
// keys of migration 00027 and the existing birth date, email and
// identifier indexes, and the backfill of the keys of rows written before
// the migration.

// livePatientU is livePatient for the users row aliased u.
const livePatientU = `u.deleted_at IS NULL
	AND EXISTS (SELECT 1 FROM user_roles pr WHERE pr.user_id = u.id AND pr.role_name = 'patient')`

// MatchCandidates returns the live patients sharing a key with k: one
// index lookup per kind of key (identifier, email, phone, birth date,
// phonetic name), each bounded by perKey, united in one statement. The
// statement's shape depends on how many keys of each kind there are, so it
// bypasses the statement and rebind caches.
func (d *DB) MatchCandidates(ctx context.Context, k matching.Keys, perKey int) ([]*directory.User, error) {
	if perKey <= 0 {
		return nil, apperr.New(apperr.Invalid, "perKey must be positive")
	}
	query, args := d.matchQuery(k, perKey)
	if query == "" {
		return nil, nil
	}
	if err := storableText(args); err != nil {
		return nil, err
	}
	x := d.rd(ctx)
	rows, err := x.db.QueryContext(ctx, rebindUncached(d, query), args...)
	if err != nil {
		return nil, fmt.Errorf("match candidates: %w", d.unavailable(err))
	}
	defer rows.Close()
	var out []*directory.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("match candidates: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("match candidates: %w", err)
	}
	return out, nil
}

// matchQuery is MatchCandidates' statement ("" when k has no key).
func (d *DB) matchQuery(k matching.Keys, perKey int) (string, []any) {
	var passes []string
	var args []any
	pass := func(cond string, a ...any) {
		passes = append(passes, `SELECT u.id FROM users u WHERE `+cond+` AND `+livePatientU+` LIMIT ?`)
		args = append(append(args, a...), perKey)
	}
	if len(k.Identifiers) > 0 {
		var alts []string
		var a []any
		for _, id := range k.Identifiers {
			alts = append(alts, "(i.system = ? AND i.value = ?)")
			a = append(a, id.System, id.Value)
		}
		pass(`u.id IN (SELECT i.user_id FROM user_identifiers i WHERE `+strings.Join(alts, " OR ")+`)`, a...)
	}
	if len(k.Emails) > 0 {
		pass(`u.email_lower IN (`+placeholders(len(k.Emails))+`)`, appendStrings(nil, k.Emails)...)
	}
	if len(k.Phones) > 0 {
		ph := placeholders(len(k.Phones))
		a := appendStrings(nil, k.Phones)
		// The literal <> '' lets the partial indexes serve the lookups.
		pass(`u.phone_key IN (`+ph+`) AND u.phone_key <> ''`, a...)
		pass(`u.alt_phone_key IN (`+ph+`) AND u.alt_phone_key <> ''`, a...)
	}
	var starts []any
	for _, bd := range k.BirthDates {
		if s := birthStart(bd); s.Valid {
			starts = append(starts, s.Int64)
		}
	}
	if len(starts) > 0 {
		pass(`u.birth_start IN (`+placeholders(len(starts))+`)`, starts...)
	}
	for _, n := range k.Names {
		if n.Given == "" {
			pass(`u.family_phon = ?`, n.Family)
		} else {
			pass(`u.family_phon = ? AND u.given_phon = ?`, n.Family, n.Given)
		}
	}
	if len(passes) == 0 {
		return "", nil
	}
	for i, p := range passes {
		passes[i] = fmt.Sprintf("SELECT id FROM (%s) AS b%d", p, i)
	}
	return `SELECT ` + prefixed("u.", userColumns) + ` FROM users u WHERE u.id IN (` +
		strings.Join(passes, " UNION ") + `) ORDER BY u.id`, args
}

// matchBackfillBatch is how many rows one backfill transaction keys.
const matchBackfillBatch = 500

// backfillMatchKeys computes the match keys of rows that have none (written
// before migration 00027, or by hand), a batch at a time over the partial
// index users_match_unkeyed, so a database already keyed costs one index
// probe. An update only lands on a row still unkeyed, so it never
// overwrites keys a concurrent UpdateUser wrote; replicas running it at
// once do the same work twice, harmlessly.
func (d *DB) backfillMatchKeys(ctx context.Context) error {
	type row struct {
		id                        int64
		given, family, phone, alt string
	}
	for {
		var n int
		err := d.InTx(ctx, func(ctx context.Context) error {
			rows, err := queryList(ctx, d.wr(ctx), "unkeyed users", func(s scanner) (row, error) {
				var r row
				return r, s.Scan(&r.id, &r.given, &r.family, &r.phone, &r.alt)
			}, `SELECT id, given_name, family_name, phone, alt_phone FROM users
				WHERE family_phon IS NULL ORDER BY id LIMIT ?`, matchBackfillBatch)
			if err != nil {
				return err
			}
			n = len(rows)
			for _, r := range rows {
				if _, err := d.wr(ctx).exec(ctx, `UPDATE users SET family_phon = ?, given_phon = ?, phone_key = ?,
					alt_phone_key = ? WHERE id = ? AND family_phon IS NULL`,
					matching.Phonetic(r.family), matching.Phonetic(r.given), matching.PhoneKey(r.phone),
					matching.PhoneKey(r.alt), r.id); err != nil {
					return fmt.Errorf("key user %d for matching: %w", r.id, err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("backfill match keys: %w", err)
		}
		if n < matchBackfillBatch {
			return nil
		}
	}
}
