package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"ward/internal/apperr"
	"ward/internal/bulk"
	"ward/internal/store"
)

var _ bulk.Store = (*DB)(nil)

const exportColumns = `id, client_id, user_id, level, group_id, types, since, type_filters, patients,
	output_format, status, request_url, transaction_time, progress, output, errors, failure,
	created_at, completed_at, expires_at, version`

// exportLockPrefix namespaces the advisory locks CountActiveExports takes,
// so they never collide with another feature's locks on the same text.
const exportLockPrefix = "ward.exports|"

// nullTime stores a zero time as NULL.
func nullTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: toMicro(t), Valid: true}
}

func fromNullTime(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicro(v.Int64)
}

// encodePatients keeps nil (every patient) apart from empty (none): NULL
// versus '[]'.
func encodePatients(p []int64) (sql.NullString, error) {
	if p == nil {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return sql.NullString{}, fmt.Errorf("encode export patients: %w", err)
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

func decodePatients(s sql.NullString) ([]int64, error) {
	if !s.Valid {
		return nil, nil
	}
	out := []int64{}
	if err := json.Unmarshal([]byte(s.String), &out); err != nil {
		return nil, fmt.Errorf("decode export patients: %w", err)
	}
	return out, nil
}

// exportState is the JSON of the mutable list columns.
type exportState struct {
	progress, output, errs string
	patients               sql.NullString
}

func encodeExportState(e *bulk.Export) (exportState, error) {
	var s exportState
	var err error
	if s.progress, err = toJSON(e.Progress); err != nil {
		return s, err
	}
	if s.output, err = toJSON(e.Output); err != nil {
		return s, err
	}
	if s.errs, err = toJSON(e.Errors); err != nil {
		return s, err
	}
	s.patients, err = encodePatients(e.Patients)
	return s, err
}

func scanExport(s scanner) (*bulk.Export, error) {
	var (
		e                                     bulk.Export
		user                                  sql.NullInt64
		types, filters, progress, output, ers string
		patients                              sql.NullString
		since, txTime, completed, expires     sql.NullInt64
		created                               int64
	)
	if err := s.Scan(&e.ID, &e.ClientID, &user, &e.Level, &e.GroupID, &types, &since, &filters, &patients,
		&e.OutputFormat, &e.Status, &e.RequestURL, &txTime, &progress, &output, &ers, &e.Failure,
		&created, &completed, &expires, &e.Version); err != nil {
		return nil, err
	}
	var err error
	if e.Types, err = fromJSON[string](types); err != nil {
		return nil, err
	}
	if e.TypeFilters, err = fromJSON[string](filters); err != nil {
		return nil, err
	}
	if e.Patients, err = decodePatients(patients); err != nil {
		return nil, err
	}
	if e.Progress, err = fromJSON[bulk.TypeProgress](progress); err != nil {
		return nil, err
	}
	if e.Output, err = fromJSON[bulk.File](output); err != nil {
		return nil, err
	}
	if e.Errors, err = fromJSON[bulk.File](ers); err != nil {
		return nil, err
	}
	e.UserID = user.Int64
	e.Since, e.TransactionTime = fromNullTime(since), fromNullTime(txTime)
	e.CreatedAt = fromMicro(created)
	e.CompletedAt, e.ExpiresAt = fromNullTime(completed), fromNullTime(expires)
	return &e, nil
}

// CreateExport stores a new export with version 1.
func (d *DB) CreateExport(ctx context.Context, e *bulk.Export) error {
	if e.ID == "" || e.ClientID == "" {
		return apperr.New(apperr.Invalid, "an export needs an id and a client")
	}
	types, err := toJSON(e.Types)
	if err != nil {
		return err
	}
	filters, err := toJSON(e.TypeFilters)
	if err != nil {
		return err
	}
	st, err := encodeExportState(e)
	if err != nil {
		return err
	}
	if _, err := d.wr(ctx).exec(ctx, `INSERT INTO exports (`+exportColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
		e.ID, e.ClientID, nullID(e.UserID), string(e.Level), e.GroupID, types, nullTime(e.Since), filters, st.patients,
		e.OutputFormat, string(e.Status), e.RequestURL, nullTime(e.TransactionTime), st.progress, st.output, st.errs,
		e.Failure, toMicro(e.CreatedAt), nullTime(e.CompletedAt), nullTime(e.ExpiresAt)); err != nil {
		return classify(err, "create export")
	}
	e.Version = 1
	return nil
}

// GetExport returns the export id.
func (d *DB) GetExport(ctx context.Context, id string) (*bulk.Export, error) {
	e, err := scanExport(d.rd(ctx).row(ctx, `SELECT `+exportColumns+` FROM exports WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("export", id)
	}
	if err != nil {
		return nil, classify(err, "get export")
	}
	return e, nil
}

// UpdateExport writes e's mutable fields if e.Version is still the stored
// one, and bumps it.
func (d *DB) UpdateExport(ctx context.Context, e *bulk.Export) error {
	st, err := encodeExportState(e)
	if err != nil {
		return err
	}
	return d.inTx(ctx, func(ctx context.Context, x q) error {
		res, err := x.exec(ctx, `UPDATE exports SET patients = ?, status = ?, transaction_time = ?, progress = ?,
			output = ?, errors = ?, failure = ?, completed_at = ?, expires_at = ?, version = version + 1
			WHERE id = ? AND version = ?`,
			st.patients, string(e.Status), nullTime(e.TransactionTime), st.progress, st.output, st.errs, e.Failure,
			nullTime(e.CompletedAt), nullTime(e.ExpiresAt), e.ID, e.Version)
		if err != nil {
			return classify(err, "update export")
		}
		n, err := res.RowsAffected()
		if err != nil {
			return classify(err, "update export")
		}
		if n == 0 {
			var one int
			err := x.row(ctx, `SELECT 1 FROM exports WHERE id = ?`, e.ID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("export", e.ID)
			}
			if err != nil {
				return classify(err, "update export")
			}
			return apperr.New(apperr.Conflict, "export %s was changed meanwhile", e.ID)
		}
		e.Version++
		return nil
	})
}

// CountActiveExports counts clientID's accepted and in-progress exports.
// In a transaction on PostgreSQL it first takes an advisory lock on the
// client, held to the end of the transaction, so that two replicas cannot
// both pass the cap check; SQLite's single writer serialises already.
func (d *DB) CountActiveExports(ctx context.Context, clientID string) (int, error) {
	x := d.rd(ctx)
	if d.dialect == Postgres && d.Tx(ctx) != nil {
		if _, err := x.exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(CAST(? AS text), 0))`,
			exportLockPrefix+clientID); err != nil {
			return 0, fmt.Errorf("count active exports: %w", err)
		}
	}
	var n int
	if err := x.row(ctx, `SELECT COUNT(*) FROM exports WHERE client_id = ? AND status IN ('accepted', 'in-progress')`,
		clientID).Scan(&n); err != nil {
		return 0, classify(err, "count active exports")
	}
	return n, nil
}

// ExpiredExports lists up to limit exports expired at now, oldest first.
func (d *DB) ExpiredExports(ctx context.Context, now time.Time, limit int) ([]*bulk.Export, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := d.rd(ctx).query(ctx, `SELECT `+exportColumns+` FROM exports
		WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`, toMicro(now), limit)
	if err != nil {
		return nil, classify(err, "list expired exports")
	}
	defer rows.Close()
	var out []*bulk.Export
	for rows.Next() {
		e, err := scanExport(rows)
		if err != nil {
			return nil, classify(err, "list expired exports")
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err, "list expired exports")
	}
	return out, nil
}

// DeleteExport removes the export's row.
func (d *DB) DeleteExport(ctx context.Context, id string) error {
	if _, err := d.wr(ctx).exec(ctx, `DELETE FROM exports WHERE id = ?`, id); err != nil {
		return classify(err, "delete export")
	}
	return nil
}

// exportCursor is ListExports' keyset: the created_at (microseconds) and id
// of the last export of a page, "micro.id" in base64url.
func exportCursor(e *bulk.Export) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(toMicro(e.CreatedAt), 10) + "." + e.ID))
}

func decodeExportCursor(c string) (int64, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", apperr.Wrap(apperr.Invalid, err, "malformed page cursor")
	}
	at, id, ok := strings.Cut(string(raw), ".")
	micro, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || id == "" {
		return 0, "", apperr.New(apperr.Invalid, "malformed page cursor")
	}
	return micro, id, nil
}

// ListExports pages through every export, newest first (created_at, then
// id, descending): the cursor is the last row's pair.
func (d *DB) ListExports(ctx context.Context, p store.Page) ([]*bulk.Export, string, error) {
	p = p.Normalize()
	query := `SELECT ` + exportColumns + ` FROM exports`
	var args []any
	if p.After != "" {
		micro, id, err := decodeExportCursor(p.After)
		if err != nil {
			return nil, "", err
		}
		query += ` WHERE created_at < ? OR (created_at = ? AND id < ?)`
		args = append(args, micro, micro, id)
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, p.Limit+1)
	out, err := queryList(ctx, d.rd(ctx), "list exports", scanExport, query, args...)
	if err != nil {
		return nil, "", classify(err, "list exports")
	}
	if len(out) <= p.Limit {
		return out, "", nil
	}
	out = out[:p.Limit]
	return out, exportCursor(out[len(out)-1]), nil
}

// CountExports counts every stored export (expired ones are deleted by the
// cleanup job).
func (d *DB) CountExports(ctx context.Context) (int, error) {
	var n int
	if err := d.rd(ctx).row(ctx, `SELECT COUNT(*) FROM exports`).Scan(&n); err != nil {
		return 0, classify(err, "count exports")
	}
	return n, nil
}
