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

// CreateObservation inserts o with Version 1.
func (d *DB) CreateObservation(ctx context.Context, o *clinical.Observation) error {
	args, err := observationArgs(o)
	if err != nil {
		return err
	}
	now := d.nowMicro()
	args = append([]any{o.PatientID}, args...)
	args = append(args, nullID(o.CreatedBy), toMicro(now), nullMicro(o.DeletedAt))
	var id int64
	err = d.inTx(ctx, func(ctx context.Context, x q) error {
		if err := x.row(ctx, `INSERT INTO observations (patient_id, status, code, category, value,
		effective_at, effective_start, effective_end, issued, performer_id, created_by, updated_at,
		version, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) RETURNING id`,
			args...).Scan(&id); err != nil {
			return classify(err, "create observation")
		}
		return writeCodes(ctx, x, observationKind.codes, observationKind.codesKey, id, o.Code, false)
	})
	if err != nil {
		return err
	}
	o.ID, o.Version, o.UpdatedAt = id, 1, now
	normalizeObservation(o)
	return nil
}

// GetObservation returns the observation, deleted or not.
func (d *DB) GetObservation(ctx context.Context, id int64) (*clinical.Observation, error) {
	o, err := scanObservation(d.rd(ctx).row(ctx, `SELECT `+observationColumns+` FROM observations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("observation", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get observation: %w", err)
	}
	return o, nil
}

// UpdateObservation writes o when o.Version is the live row's version.
func (d *DB) UpdateObservation(ctx context.Context, o *clinical.Observation) error {
	args, err := observationArgs(o)
	if err != nil {
		return err
	}
	now := d.nowMicro()
	args = append(args, toMicro(now), o.ID, o.Version)
	err = d.inTx(ctx, func(ctx context.Context, x q) error {
		res, err := x.exec(ctx, `UPDATE observations SET status = ?, code = ?, category = ?,
		value = ?, effective_at = ?, effective_start = ?, effective_end = ?, issued = ?,
		performer_id = ?, updated_at = ?, version = version + 1
		WHERE id = ? AND version = ? AND deleted_at IS NULL`, args...)
		if err != nil {
			return classify(err, "update observation")
		}
		if err := d.versioned(res, "observation", o.ID, func() error { _, err := d.GetObservation(ctx, o.ID); return err }); err != nil {
			return err
		}
		return writeCodes(ctx, x, observationKind.codes, observationKind.codesKey, o.ID, o.Code, true)
	})
	if err != nil {
		return err
	}
	o.Version++
	o.UpdatedAt = now
	normalizeObservation(o)
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

// DeleteObservation soft-deletes the live observation id at version.
func (d *DB) DeleteObservation(ctx context.Context, id, version int64, at time.Time) error {
	res, err := d.wr(ctx).exec(ctx, `UPDATE observations SET deleted_at = ?, updated_at = ?,
		version = version + 1 WHERE id = ? AND version = ? AND deleted_at IS NULL`,
		toMicro(at), toMicro(d.nowMicro()), id, version)
	if err != nil {
		return classify(err, "delete observation")
	}
	return d.versioned(res, "observation", id, func() error { _, err := d.GetObservation(ctx, id); return err })
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

// ListObservations returns the patient's live observations newest first.
func (d *DB) ListObservations(ctx context.Context, patientID int64, p store.Page) ([]*clinical.Observation, string, error) {
	return newestFirst(ctx, d, "list observations", observationColumns, "observations",
		`patient_id = ? AND deleted_at IS NULL`, []any{patientID}, scanObservation, observationID, p)
}

// CountObservations counts live observations (of one patient, or all).
func (d *DB) CountObservations(ctx context.Context, patientID int64) (int, error) {
	return d.countLive(ctx, "count observations", "observations", patientID)
}

// ScanObservations visits live observations in id order, in batches.
func (d *DB) ScanObservations(ctx context.Context, afterID int64, since time.Time, fn func(*clinical.Observation) error) error {
	return scanAll(ctx, d, "scan observations", observationColumns, "observations", afterID, since,
		scanObservation, observationID, fn)
}

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

// CreateProcedure inserts p with Version 1.
func (d *DB) CreateProcedure(ctx context.Context, p *clinical.Procedure) error {
	args, err := procedureArgs(p)
	if err != nil {
		return err
	}
	now := d.nowMicro()
	args = append([]any{p.PatientID}, args...)
	args = append(args, nullID(p.CreatedBy), toMicro(now), nullMicro(p.DeletedAt))
	var id int64
	err = d.inTx(ctx, func(ctx context.Context, x q) error {
		if err := x.row(ctx, `INSERT INTO procedures (patient_id, status, code, performed_at,
		performed_start, performed_end, performer_id, created_by, updated_at, version, deleted_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) RETURNING id`, args...).Scan(&id); err != nil {
			return classify(err, "create procedure")
		}
		return writeCodes(ctx, x, procedureKind.codes, procedureKind.codesKey, id, p.Code, false)
	})
	if err != nil {
		return err
	}
	p.ID, p.Version, p.UpdatedAt = id, 1, now
	normalizeProcedure(p)
	return nil
}

// GetProcedure returns the procedure, deleted or not.
func (d *DB) GetProcedure(ctx context.Context, id int64) (*clinical.Procedure, error) {
	p, err := scanProcedure(d.rd(ctx).row(ctx, `SELECT `+procedureColumns+` FROM procedures WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("procedure", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get procedure: %w", err)
	}
	return p, nil
}

// UpdateProcedure writes p when p.Version is the live row's version.
func (d *DB) UpdateProcedure(ctx context.Context, p *clinical.Procedure) error {
	args, err := procedureArgs(p)
	if err != nil {
		return err
	}
	now := d.nowMicro()
	args = append(args, toMicro(now), p.ID, p.Version)
	err = d.inTx(ctx, func(ctx context.Context, x q) error {
		res, err := x.exec(ctx, `UPDATE procedures SET status = ?, code = ?, performed_at = ?,
		performed_start = ?, performed_end = ?, performer_id = ?, updated_at = ?, version = version + 1
		WHERE id = ? AND version = ? AND deleted_at IS NULL`, args...)
		if err != nil {
			return classify(err, "update procedure")
		}
		if err := d.versioned(res, "procedure", p.ID, func() error { _, err := d.GetProcedure(ctx, p.ID); return err }); err != nil {
			return err
		}
		return writeCodes(ctx, x, procedureKind.codes, procedureKind.codesKey, p.ID, p.Code, true)
	})
	if err != nil {
		return err
	}
	p.Version++
	p.UpdatedAt = now
	normalizeProcedure(p)
	return nil
}

// DeleteProcedure soft-deletes the live procedure id at version.
func (d *DB) DeleteProcedure(ctx context.Context, id, version int64, at time.Time) error {
	res, err := d.wr(ctx).exec(ctx, `UPDATE procedures SET deleted_at = ?, updated_at = ?,
		version = version + 1 WHERE id = ? AND version = ? AND deleted_at IS NULL`,
		toMicro(at), toMicro(d.nowMicro()), id, version)
	if err != nil {
		return classify(err, "delete procedure")
	}
	return d.versioned(res, "procedure", id, func() error { _, err := d.GetProcedure(ctx, id); return err })
}

// ListProcedures returns the patient's live procedures newest first.
func (d *DB) ListProcedures(ctx context.Context, patientID int64, p store.Page) ([]*clinical.Procedure, string, error) {
	return newestFirst(ctx, d, "list procedures", procedureColumns, "procedures",
		`patient_id = ? AND deleted_at IS NULL`, []any{patientID}, scanProcedure, procedureID, p)
}

// CountProcedures counts live procedures (of one patient, or all).
func (d *DB) CountProcedures(ctx context.Context, patientID int64) (int, error) {
	return d.countLive(ctx, "count procedures", "procedures", patientID)
}

// ScanProcedures visits live procedures in id order, in batches.
func (d *DB) ScanProcedures(ctx context.Context, afterID int64, since time.Time, fn func(*clinical.Procedure) error) error {
	return scanAll(ctx, d, "scan procedures", procedureColumns, "procedures", afterID, since,
		scanProcedure, procedureID, fn)
}
