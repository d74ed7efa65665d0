package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"ward/internal/apperr"
	"ward/internal/clinical"
	"ward/internal/store"
)

var _ clinical.Store = (*DB)(nil)

// clinicalScanBatch is how many rows one query of a scan reads: the scan's
// memory bound, and short enough that no statement stays open while the
// caller's function runs.
const clinicalScanBatch = 500

const observationColumns = `id, patient_id, status, code, category, value, effective_at,
	effective_start, effective_end, issued, performer_id, created_by, updated_at, version, deleted_at`

const procedureColumns = `id, patient_id, status, code, performed_at, performed_start,
	performed_end, performer_id, created_by, updated_at, version, deleted_at`

// encodeValue stores an observation value as JSON, "{}" for none.
func encodeValue(v clinical.Value) (string, error) {
	if v.Kind == clinical.ValueNone {
		return "{}", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode observation value: %w", err)
	}
	return string(b), nil
}

func decodeValue(s string) (clinical.Value, error) {
	var v clinical.Value
	if s == "" || s == "{}" {
		return v, nil
	}
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return v, fmt.Errorf("decode observation value: %w", err)
	}
	if len(v.Concept) == 0 {
		v.Concept = nil
	}
	return v, nil
}

// occurrenceArgs are the three columns of an occurrence.
func occurrenceArgs(o clinical.Occurrence) []any {
	return []any{nullMicro(o.DateTime), nullMicro(o.Start), nullMicro(o.End)}
}

func normalizeOccurrence(o *clinical.Occurrence) {
	o.DateTime = fromNullMicro(nullMicro(o.DateTime))
	o.Start = fromNullMicro(nullMicro(o.Start))
	o.End = fromNullMicro(nullMicro(o.End))
}

func scanObservation(s scanner) (*clinical.Observation, error) {
	var (
		o                   clinical.Observation
		code, cat, value    string
		at, start, end      sql.NullInt64
		performer, createdB sql.NullInt64
		issued, updated     int64
		deleted             sql.NullInt64
	)
	if err := s.Scan(&o.ID, &o.PatientID, &o.Status, &code, &cat, &value, &at, &start, &end, &issued,
		&performer, &createdB, &updated, &o.Version, &deleted); err != nil {
		return nil, err
	}
	var err error
	if o.Code, err = fromJSON[clinical.Coding](code); err != nil {
		return nil, err
	}
	if o.Category, err = fromJSON[clinical.Coding](cat); err != nil {
		return nil, err
	}
	if o.Value, err = decodeValue(value); err != nil {
		return nil, err
	}
	o.Effective = clinical.Occurrence{DateTime: fromNullMicro(at), Start: fromNullMicro(start), End: fromNullMicro(end)}
	o.Issued, o.UpdatedAt = fromMicro(issued), fromMicro(updated)
	o.PerformerID, o.CreatedBy = performer.Int64, createdB.Int64
	o.DeletedAt = fromNullMicro(deleted)
	return &o, nil
}

// observationArgs returns status through performer_id, in column order.
func observationArgs(o *clinical.Observation) ([]any, error) {
	code, err := toJSON(o.Code)
	if err != nil {
		return nil, err
	}
	cat, err := toJSON(o.Category)
	if err != nil {
		return nil, err
	}
	value, err := encodeValue(o.Value)
	if err != nil {
		return nil, err
	}
	args := []any{o.Status, code, cat, value}
	args = append(args, occurrenceArgs(o.Effective)...)
	return append(args, toMicro(o.Issued), nullID(o.PerformerID)), nil
}

func normalizeObservation(o *clinical.Observation) {
	normalizeOccurrence(&o.Effective)
	o.Issued = fromMicro(toMicro(o.Issued))
	o.DeletedAt = fromNullMicro(nullMicro(o.DeletedAt))
}

// Observations are the observations' rows.
func (d *DB) Observations() clinical.Records[clinical.Observation] {
	return clinicalRecords[clinical.Observation, *clinical.Observation]{d, observationKind}
}

// Procedures are the procedures' rows.
func (d *DB) Procedures() clinical.Records[clinical.Procedure] {
	return clinicalRecords[clinical.Procedure, *clinical.Procedure]{d, procedureKind}
}

// clinicalRecords is clinical.Records of one kind of record, T, over its
// table as k describes it.
type clinicalRecords[T any, P clinical.Record[T]] struct {
	d *DB
	k clinicalKind[*T]
}

// Create inserts r with Version 1.
func (c clinicalRecords[T, P]) Create(ctx context.Context, r *T) error {
	d, k, h := c.d, c.k, P(r).Head()
	args, err := k.args(r)
	if err != nil {
		return err
	}
	now := d.nowMicro()
	args = append([]any{*h.PatientID}, args...)
	args = append(args, nullID(*h.CreatedBy), toMicro(now), nullMicro(*h.DeletedAt))
	var id int64
	err = d.inTx(ctx, func(ctx context.Context, x q) error {
		if err := x.row(ctx, k.insert, args...).Scan(&id); err != nil {
			return classify(err, "create "+k.one)
		}
		return writeCodes(ctx, x, k.codes, k.codesKey, id, *h.Code, false)
	})
	if err != nil {
		return err
	}
	*h.ID, *h.Version, *h.UpdatedAt = id, 1, now
	k.normalize(r)
	return nil
}

// Get returns the record, deleted or not.
func (c clinicalRecords[T, P]) Get(ctx context.Context, id int64) (*T, error) {
	r, err := c.k.scan(c.d.rd(ctx).row(ctx, `SELECT `+c.k.columns+` FROM `+c.k.table+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(c.k.one, id)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", c.k.one, err)
	}
	return r, nil
}

// Update writes r when its Version is the live row's version.
func (c clinicalRecords[T, P]) Update(ctx context.Context, r *T) error {
	d, k, h := c.d, c.k, P(r).Head()
	args, err := k.args(r)
	if err != nil {
		return err
	}
	now := d.nowMicro()
	id := *h.ID
	args = append(args, toMicro(now), id, *h.Version)
	err = d.inTx(ctx, func(ctx context.Context, x q) error {
		res, err := x.exec(ctx, k.update, args...)
		if err != nil {
			return classify(err, "update "+k.one)
		}
		if err := d.versioned(res, k.one, id, func() error { _, err := c.Get(ctx, id); return err }); err != nil {
			return err
		}
		return writeCodes(ctx, x, k.codes, k.codesKey, id, *h.Code, true)
	})
	if err != nil {
		return err
	}
	*h.Version++
	*h.UpdatedAt = now
	k.normalize(r)
	return nil
}

// versioned turns an optimistic write that touched no row into NotFound
// (no such row) or Conflict (stale version, or deleted).
func (d *DB) versioned(res sql.Result, what string, id int64, get func() error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s %d: %w", what, id, err)
	}
	if n > 0 {
		return nil
	}
	if err := get(); err != nil {
		return err
	}
	return apperr.New(apperr.Conflict, "%s %d was changed or deleted by someone else; reload and retry", what, id)
}

// Delete soft-deletes the live record id at version.
func (c clinicalRecords[T, P]) Delete(ctx context.Context, id, version int64, at time.Time) error {
	res, err := c.d.wr(ctx).exec(ctx, `UPDATE `+c.k.table+` SET deleted_at = ?, updated_at = ?,
		version = version + 1 WHERE id = ? AND version = ? AND deleted_at IS NULL`,
		toMicro(at), toMicro(c.d.nowMicro()), id, version)
	if err != nil {
		return classify(err, "delete "+c.k.one)
	}
	return c.d.versioned(res, c.k.one, id, func() error { _, err := c.Get(ctx, id); return err })
}

// List returns the patient's live records newest first.
func (c clinicalRecords[T, P]) List(ctx context.Context, patientID int64, p store.Page) ([]*T, string, error) {
	return newestFirst(ctx, c.d, "list "+c.k.what, c.k.columns, c.k.table,
		`patient_id = ? AND deleted_at IS NULL`, []any{patientID}, c.k.scan, c.k.id, p)
}

// Count counts live records (of one patient, or all).
func (c clinicalRecords[T, P]) Count(ctx context.Context, patientID int64) (int, error) {
	return c.d.countLive(ctx, "count "+c.k.what, c.k.table, patientID)
}

// Scan visits live records in id order, in batches.
func (c clinicalRecords[T, P]) Scan(ctx context.Context, afterID int64, since time.Time, fn func(*T) error) error {
	return scanAll(ctx, c.d, "scan "+c.k.what, c.k.columns, c.k.table, afterID, since, c.k.scan, c.k.id, fn)
}

// Search returns a page of the live records f keeps.
func (c clinicalRecords[T, P]) Search(ctx context.Context, f clinical.Filter, p store.Page) ([]*T, string, error) {
	return c.k.search(ctx, c.d, f, p)
}

// CountMatching counts the live records f keeps.
func (c clinicalRecords[T, P]) CountMatching(ctx context.Context, f clinical.Filter) (int, error) {
	return c.k.count(ctx, c.d, f)
}

// ScanFiltered visits the live records f keeps in id order.
func (c clinicalRecords[T, P]) ScanFiltered(ctx context.Context, f clinical.Filter, afterID int64, fn func(*T) error) error {
	return c.k.scanFiltered(ctx, c.d, f, afterID, fn)
}

// newestFirst runs a newest-first page query: where must hold the filter
// (with its args), to which the cursor bound is added.
func newestFirst[T any](ctx context.Context, d *DB, what, columns, table, where string, args []any,
	scan func(scanner) (T, error), id func(T) int64, p store.Page) ([]T, string, error) {
	return pageByID(ctx, d, what, columns, table, where, args, scan, id, p, true)
}

// oldestFirst is newestFirst in ascending id order, the order FHIR
// searches page in.
func oldestFirst[T any](ctx context.Context, d *DB, what, columns, table, where string, args []any,
	scan func(scanner) (T, error), id func(T) int64, p store.Page) ([]T, string, error) {
	return pageByID(ctx, d, what, columns, table, where, args, scan, id, p, false)
}

func pageByID[T any](ctx context.Context, d *DB, what, columns, table, where string, args []any,
	scan func(scanner) (T, error), id func(T) int64, p store.Page, desc bool) ([]T, string, error) {
	p = p.Normalize()
	after, err := store.DecodeCursor(p.After)
	if err != nil {
		return nil, "", err
	}
	cmp, order := ` AND id > ?`, ` ORDER BY id LIMIT ?`
	if desc {
		cmp, order = ` AND id < ?`, ` ORDER BY id DESC LIMIT ?`
	}
	if after > 0 {
		where += cmp
		args = append(args, after)
	}
	args = append(args, p.Limit+1)
	out, err := queryList(ctx, d.rd(ctx), what, scan,
		`SELECT `+columns+` FROM `+table+` WHERE `+where+order, args...)
	if err != nil {
		return nil, "", err
	}
	if len(out) <= p.Limit {
		return out, "", nil
	}
	return out[:p.Limit], store.EncodeCursor(id(out[p.Limit-1])), nil
}

// scanAll reads live rows with id > afterID and updated_at >= since in id
// order, a batch at a time, calling fn for each once its batch is read.
func scanAll[T any](ctx context.Context, d *DB, what, columns, table string, afterID int64, since time.Time,
	scan func(scanner) (T, error), id func(T) int64, fn func(T) error) error {
	var sinceMicro int64
	if !since.IsZero() {
		sinceMicro = toMicro(since)
	}
	for {
		batch, err := queryList(ctx, d.rd(ctx), what, scan, `SELECT `+columns+` FROM `+table+
			` WHERE id > ? AND deleted_at IS NULL AND updated_at >= ? ORDER BY id LIMIT ?`,
			afterID, sinceMicro, clinicalScanBatch)
		if err != nil {
			return err
		}
		for _, v := range batch {
			if err := fn(v); err != nil {
				return err
			}
			afterID = id(v)
		}
		if len(batch) < clinicalScanBatch {
			return nil
		}
	}
}

// countLive counts a table's live rows, of one patient when patientID != 0.
func (d *DB) countLive(ctx context.Context, what, table string, patientID int64) (int, error) {
	query := `SELECT COUNT(*) FROM ` + table + ` WHERE deleted_at IS NULL`
	var args []any
	if patientID != 0 {
		query += ` AND patient_id = ?`
		args = append(args, patientID)
	}
	var n int
	if err := d.rd(ctx).row(ctx, query, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return n, nil
}

func observationID(o *clinical.Observation) int64 { return o.ID }
func procedureID(p *clinical.Procedure) int64     { return p.ID }

func scanProcedure(s scanner) (*clinical.Procedure, error) {
	var (
		p                   clinical.Procedure
		code                string
		at, start, end      sql.NullInt64
		performer, createdB sql.NullInt64
		updated             int64
		deleted             sql.NullInt64
	)
	if err := s.Scan(&p.ID, &p.PatientID, &p.Status, &code, &at, &start, &end, &performer, &createdB,
		&updated, &p.Version, &deleted); err != nil {
		return nil, err
	}
	var err error
	if p.Code, err = fromJSON[clinical.Coding](code); err != nil {
		return nil, err
	}
	p.Performed = clinical.Occurrence{DateTime: fromNullMicro(at), Start: fromNullMicro(start), End: fromNullMicro(end)}
	p.PerformerID, p.CreatedBy = performer.Int64, createdB.Int64
	p.UpdatedAt = fromMicro(updated)
	p.DeletedAt = fromNullMicro(deleted)
	return &p, nil
}

// procedureArgs returns status through performer_id, in column order.
func procedureArgs(p *clinical.Procedure) ([]any, error) {
	code, err := toJSON(p.Code)
	if err != nil {
		return nil, err
	}
	args := []any{p.Status, code}
	args = append(args, occurrenceArgs(p.Performed)...)
	return append(args, nullID(p.PerformerID)), nil
}

func normalizeProcedure(p *clinical.Procedure) {
	normalizeOccurrence(&p.Performed)
	p.DeletedAt = fromNullMicro(nullMicro(p.DeletedAt))
}
