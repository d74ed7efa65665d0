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
// phonetic name), each bounded by perKey, united in one statement.
func (d *DB) MatchCandidates(ctx context.Context, k matching.Keys, perKey int) ([]*directory.User, error) {
	if perKey <= 0 {
		return nil, apperr.New(apperr.Invalid, "perKey must be positive")
	}
	if k.Empty() {
		return nil, nil
	}
	query, args, fixed := d.matchQuery(k, perKey)
	if fixed {
		// One shape whatever the keys: prepared once (SQLite) and rebound
		// once (PostgreSQL); parsing the statement cost as much as running it.
		return queryList(ctx, d.rd(ctx), "match candidates", scanUser, query, args...)
	}
	if err := storableText(args); err != nil {
		return nil, err
	}
	rows, err := d.rd(ctx).db.QueryContext(ctx, rebindUncached(d, query), args...)
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

// The fixed shape of the candidate statement: how many values of each
// kind it takes. Unused places hold NULL, which matches nothing (an index
// probe that finds no row). Keys beyond them (more than KeysFor gives)
// get a statement of their own shape, run without the caches.
const (
	shapeIdentifiers = 8
	shapeEmails      = 8
	shapePhones      = 8
	shapeBirthDates  = 4
	shapeNames       = 2 // (family, given) pairs; plus one family-only key
)

// matchQuery is MatchCandidates' statement and whether it has the fixed
// shape.
func (d *DB) matchQuery(k matching.Keys, perKey int) (string, []any, bool) {
	var full, family []matching.NameKey
	for _, n := range k.Names {
		if n.Given == "" {
			family = append(family, n)
		} else {
			full = append(full, n)
		}
	}
	fixed := len(k.Identifiers) <= shapeIdentifiers && len(k.Emails) <= shapeEmails &&
		len(k.Phones) <= shapePhones && len(k.BirthDates) <= shapeBirthDates &&
		len(full) <= shapeNames && len(family) <= 1
	// width is how many places a list gets: the shape's, or its own length
	// when the statement is not of the fixed shape (then a kind without
	// keys has no pass at all).
	width := func(n, shape int) int {
		if fixed {
			return shape
		}
		return n
	}
	var passes []string
	var args []any
	// pass adds one lookup. On SQLite it names its index: SQLite's
	// statistics do not set NULLs apart, so where most rows have no email
	// or no key yet the planner would estimate an index probe at the
	// whole table and scan it instead. INDEXED BY makes a scan an error,
	// never a silent plan (PostgreSQL tracks null_frac and needs no hint).
	pass := func(index, cond string, a ...any) {
		from := `users u`
		if index != "" && d.dialect == SQLite {
			from += ` INDEXED BY ` + index
		}
		passes = append(passes, `SELECT u.id FROM `+from+` WHERE `+cond+` AND `+livePatientU+` LIMIT ?`)
		args = append(append(args, a...), perKey)
	}
	if n := width(len(k.Identifiers), shapeIdentifiers); n > 0 {
		alts := make([]string, n)
		var a []any
		for i := range n {
			alts[i] = "(i.system = ? AND i.value = ?)"
			if i < len(k.Identifiers) {
				a = append(a, k.Identifiers[i].System, k.Identifiers[i].Value)
			} else {
				a = append(a, nil, nil)
			}
		}
		pass("", `u.id IN (SELECT i.user_id FROM user_identifiers i WHERE `+strings.Join(alts, " OR ")+`)`, a...)
	}
	if n := width(len(k.Emails), shapeEmails); n > 0 {
		pass("users_email_live", `u.email_lower IN (`+placeholders(n)+`)`, padded(k.Emails, n)...)
	}
	if n := width(len(k.Phones), shapePhones); n > 0 {
		ph, a := placeholders(n), padded(k.Phones, n)
		// The literal <> '' lets the partial indexes serve the lookups.
		pass("users_phone_key", `u.phone_key IN (`+ph+`) AND u.phone_key <> ''`, a...)
		pass("users_alt_phone_key", `u.alt_phone_key IN (`+ph+`) AND u.alt_phone_key <> ''`, a...)
	}
	var starts []any
	for _, bd := range k.BirthDates {
		if s := birthStart(bd); s.Valid {
			starts = append(starts, s.Int64)
		}
	}
	if n := width(len(starts), shapeBirthDates); n > 0 {
		for len(starts) < n {
			starts = append(starts, nil)
		}
		pass("users_birth_start", `u.birth_start IN (`+placeholders(n)+`)`, starts...)
	}
	for i := range width(len(full), shapeNames) {
		var f, g any
		if i < len(full) {
			f, g = full[i].Family, full[i].Given
		}
		pass("users_match_name", `u.family_phon = ? AND u.given_phon = ?`, f, g)
	}
	for i := range width(len(family), 1) {
		var f any
		if i < len(family) {
			f = family[i].Family
		}
		pass("users_match_name", `u.family_phon = ?`, f)
	}
	for i, p := range passes {
		passes[i] = fmt.Sprintf("SELECT id FROM (%s) AS b%d", p, i)
	}
	return `SELECT ` + prefixed("u.", userColumns) + ` FROM users u WHERE u.id IN (` +
		strings.Join(passes, " UNION ") + `) ORDER BY u.id`, args, fixed
}

// padded returns vals as arguments, NULL-padded to n places.
func padded(vals []string, n int) []any {
	out := make([]any, n)
	for i, v := range vals {
		out[i] = v
	}
	return out
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
			if n == 0 {
				return nil
			}
			// One UPDATE for the batch, from a VALUES list (both dialects
			// name its columns column1..column5).
			var sb strings.Builder
			args := make([]any, 0, 5*n)
			for i, r := range rows {
				if i > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString("(CAST(? AS BIGINT), ?, ?, ?, ?)")
				args = append(args, r.id, matching.Phonetic(r.family), matching.Phonetic(r.given),
					matching.PhoneKey(r.phone), matching.PhoneKey(r.alt))
			}
			if _, err := d.wr(ctx).db.ExecContext(ctx, rebindUncached(d, `UPDATE users SET family_phon = v.column2,
				given_phon = v.column3, phone_key = v.column4, alt_phone_key = v.column5
				FROM (VALUES `+sb.String()+`) AS v
				WHERE users.id = v.column1 AND users.family_phon IS NULL`), args...); err != nil {
				return fmt.Errorf("key %d users for matching: %w", n, err)
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
