package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"ward/internal/clinical"
	"ward/internal/store"
)

// clinicalKind is what the search queries need to know about one of the two
// clinical tables. Both carry date_lo/date_hi (generated, migration 00009)
// and a side table of their codings.
type clinicalKind[T any] struct {
	what     string // "observations", for error messages
	one      string // "observation", for error messages about one row
	table    string
	columns  string
	codes    string // the codings side table
	codesKey string // its column referring to table.id
	scan     func(scanner) (T, error)
	id       func(T) int64
	// insert adds a row from patient_id, args' columns, created_by,
	// updated_at and deleted_at, returning its id; update sets args'
	// columns and updated_at where id and version match a live row.
	insert, update string
	// args returns the kind's own columns (status through performer_id),
	// in column order.
	args func(T) ([]any, error)
	// normalize rounds what the caller gave to what a read returns.
	normalize func(T)
}

var observationKind = clinicalKind[*clinical.Observation]{
	what: "observations", one: "observation", table: "observations", columns: observationColumns,
	codes: "observation_codes", codesKey: "observation_id", scan: scanObservation, id: observationID,
	insert: `INSERT INTO observations (patient_id, status, code, category, value,
		effective_at, effective_start, effective_end, issued, performer_id, created_by, updated_at,
		version, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) RETURNING id`,
	update: `UPDATE observations SET status = ?, code = ?, category = ?,
		value = ?, effective_at = ?, effective_start = ?, effective_end = ?, issued = ?,
		performer_id = ?, updated_at = ?, version = version + 1
		WHERE id = ? AND version = ? AND deleted_at IS NULL`,
	args: observationArgs, normalize: normalizeObservation,
}

var procedureKind = clinicalKind[*clinical.Procedure]{
	what: "procedures", one: "procedure", table: "procedures", columns: procedureColumns,
	codes: "procedure_codes", codesKey: "procedure_id", scan: scanProcedure, id: procedureID,
	insert: `INSERT INTO procedures (patient_id, status, code, performed_at,
		performed_start, performed_end, performer_id, created_by, updated_at, version, deleted_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) RETURNING id`,
	update: `UPDATE procedures SET status = ?, code = ?, performed_at = ?,
		performed_start = ?, performed_end = ?, performer_id = ?, updated_at = ?, version = version + 1
		WHERE id = ? AND version = ? AND deleted_at IS NULL`,
	args: procedureArgs, normalize: normalizeProcedure,
}

// writeCodes keeps a resource's row set in its codings side table equal to
// codes; replace says rows may exist already (an update). It must run in
// the transaction that writes the resource, so a search never sees the
// resource with another version's codes.
func writeCodes(ctx context.Context, x q, table, key string, id int64, codes []clinical.Coding, replace bool) error {
	if replace {
		if _, err := x.exec(ctx, `DELETE FROM `+table+` WHERE `+key+` = ?`, id); err != nil {
			return classify(err, "replace codes")
		}
	}
	for _, c := range codes {
		// A coding given twice is one row.
		if _, err := x.exec(ctx, `INSERT INTO `+table+` (`+key+`, system, code) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`, id, c.System, c.Code); err != nil {
			return classify(err, "write codes")
		}
	}
	return nil
}

// codeMatch is one CodeMatch as the query reads it: a NULL system or code
// is "any", and a system "" is "none" (a coding stored without one).
type codeMatch struct {
	System *string `json:"s"`
	Code   *string `json:"c"`
}

// codeMatches renders one OR list of code matches as an EXISTS over the
// codings side table (whose column key refers to parent.id), taking the
// list as one JSON argument. A match of an unknown form is left out, so it
// matches nothing (as CodeMatch.Matches).
func (d *DB) codeMatches(table, key, parent string, or []clinical.CodeMatch) (string, any) {
	ms := make([]codeMatch, 0, len(or))
	for _, m := range or {
		sys, code := m.System, m.Code
		switch m.Match {
		case clinical.CodeAnySystem:
			ms = append(ms, codeMatch{Code: &code})
		case clinical.CodeSystemAndCode:
			ms = append(ms, codeMatch{System: &sys, Code: &code})
		case clinical.CodeNoSystem:
			none := ""
			ms = append(ms, codeMatch{System: &none, Code: &code})
		case clinical.CodeSystemOnly:
			ms = append(ms, codeMatch{System: &sys})
		}
	}
	// Marshalling strings and nil pointers cannot fail.
	arg, _ := json.Marshal(ms)
	from, sysCol, codeCol := `json_each(?) m`, `json_extract(m.value, '$.s')`, `json_extract(m.value, '$.c')`
	if d.dialect == Postgres {
		from, sysCol, codeCol = `jsonb_to_recordset(?::jsonb) AS m(s text, c text)`, `m.s`, `m.c`
	}
	return `EXISTS (SELECT 1 FROM ` + table + ` cd, ` + from + ` WHERE cd.` + key + ` = ` + parent + `.id
		AND (` + sysCol + ` IS NULL OR cd.system = ` + sysCol + `)
		AND (` + codeCol + ` IS NULL OR cd.code = ` + codeCol + `))`, string(arg)
}

// where renders f (minus paging) as a WHERE clause over k.table with its
// arguments. The caller has already answered a Filter that matches nothing
// (Filter.NoneMatch), so every list here is non-empty.
func (k clinicalKind[T]) where(d *DB, f clinical.Filter) (string, []any) {
	conds := []string{k.table + `.deleted_at IS NULL`}
	var args []any
	if f.IDs != nil {
		c, a := d.int64List(k.table+`.id`, f.IDs)
		conds, args = append(conds, c), append(args, a)
	}
	if f.PatientIDs != nil {
		c, a := d.int64List(k.table+`.patient_id`, f.PatientIDs)
		conds, args = append(conds, c), append(args, a)
	}
	for _, or := range f.Codes {
		// The whole OR list is one JSON argument, so the query text does
		// not depend on how many alternatives there are or of which form.
		c, a := d.codeMatches(k.codes, k.codesKey, k.table, or)
		conds, args = append(conds, c), append(args, a)
	}
	now := f.Now
	if now.IsZero() {
		now = d.now()
	}
	if s, a := dateWhere(k.table+`.date_lo`, k.table+`.date_hi`, f.Dates, now); s != "" {
		conds, args = append(conds, s), append(args, a...)
	}
	if s, a := dateWhere(k.table+`.updated_at`, "", f.Updated, now); s != "" {
		conds, args = append(conds, s), append(args, a...)
	}
	return strings.Join(conds, ` AND `), args
}

// search returns a page of what f keeps in ascending id order.
func (k clinicalKind[T]) search(ctx context.Context, d *DB, f clinical.Filter, p store.Page) ([]T, string, error) {
	p = p.Normalize()
	after, err := store.DecodeCursor(p.After)
	if err != nil {
		return nil, "", err
	}
	if f.NoneMatch() {
		return nil, "", nil
	}
	where, args := k.where(d, f)
	args = append(args, after, p.Limit+1)
	out, err := k.list(ctx, d, shapeCached(f), "search "+k.what, `SELECT `+k.columns+` FROM `+k.table+
		` WHERE `+where+` AND `+k.table+`.id > ? ORDER BY `+k.table+`.id LIMIT ?`, args...)
	if err != nil {
		return nil, "", err
	}
	if len(out) <= p.Limit {
		return out, "", nil
	}
	return out[:p.Limit], store.EncodeCursor(k.id(out[p.Limit-1])), nil
}

// count returns how many rows f keeps.
func (k clinicalKind[T]) count(ctx context.Context, d *DB, f clinical.Filter) (int, error) {
	if f.NoneMatch() {
		return 0, nil
	}
	where, args := k.where(d, f)
	query := `SELECT COUNT(*) FROM ` + k.table + ` WHERE ` + where
	if err := storableText(args); err != nil {
		return 0, err
	}
	var row scanner
	if shapeCached(f) {
		row = d.rd(ctx).row(ctx, query, args...)
	} else {
		row = d.rd(ctx).db.QueryRowContext(ctx, rebindUncached(d, query), args...)
	}
	var n int
	if err := row.Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", k.what, err)
	}
	return n, nil
}

// scan calls fn for every row f keeps with id > afterID, in id order, one
// batch of clinicalScanBatch rows at a time (no statement stays open while
// fn runs, so fn may use the store).
func (k clinicalKind[T]) scanFiltered(ctx context.Context, d *DB, f clinical.Filter, afterID int64, fn func(T) error) error {
	if f.NoneMatch() {
		return nil
	}
	if f.Now.IsZero() {
		// One clock for every batch, so "ap" cannot shift mid-scan.
		f.Now = d.now()
	}
	where, args := k.where(d, f)
	query := `SELECT ` + k.columns + ` FROM ` + k.table + ` WHERE ` + where + ` AND ` + k.table +
		`.id > ? ORDER BY ` + k.table + `.id LIMIT ?`
	n := len(args)
	args = append(args, 0, clinicalScanBatch)
	for {
		args[n] = afterID
		batch, err := k.list(ctx, d, shapeCached(f), "scan "+k.what, query, args...)
		if err != nil {
			return err
		}
		for _, v := range batch {
			if err := fn(v); err != nil {
				return err
			}
			afterID = k.id(v)
		}
		if len(batch) < clinicalScanBatch {
			return nil
		}
	}
}

// Search queries are built from the filter, so their text varies with it.
// The statement cache (SQLite) and the rebind cache (PostgreSQL) keep one
// entry per text forever, so only filters of a few small shapes, which are
// the searches clients actually send, go through them: maxCachedBounds
// date bounds and maxCachedCodeLists code clauses at most. Larger filters,
// whose texts a client could vary without end, are rebound per call.
const (
	maxCachedBounds    = 2
	maxCachedCodeLists = 2
)

func shapeCached(f clinical.Filter) bool {
	return len(f.Dates)+len(f.Updated) <= maxCachedBounds && len(f.Codes) <= maxCachedCodeLists
}

// list runs a row query, through the caches when cached.
func (k clinicalKind[T]) list(ctx context.Context, d *DB, cached bool, what, query string, args ...any) ([]T, error) {
	x := d.rd(ctx)
	if cached {
		return queryList(ctx, x, what, k.scan, query, args...)
	}
	if err := storableText(args); err != nil {
		return nil, err
	}
	rows, err := x.db.QueryContext(ctx, rebindUncached(d, query), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := k.scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// rebindUncached is rebind without its cache: ? placeholders outside
// quoted literals become $1, $2... on PostgreSQL.
func rebindUncached(d *DB, query string) string {
	if d.dialect != Postgres {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n, inQuote := 0, false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			inQuote = !inQuote
			b.WriteByte(c)
		case c == '?' && !inQuote:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
