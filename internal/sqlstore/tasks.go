package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"ward/internal/apperr"
	"ward/internal/store"
	"ward/internal/workflow"
)

// The declarations' store (issue 15, seed 002: FHIR Task workflow records).

var _ workflow.Store = (*DB)(nil)

const taskColumns = `id, status, business_status, status_reason, resource, patient_id, requester, source,
	client_id, created_by, created_at, updated_at, version`

func scanTask(s scanner) (*workflow.Task, error) {
	var (
		t                  workflow.Task
		bstatus, resource  string
		patient, createdBy sql.NullInt64
		created, updated   int64
	)
	if err := s.Scan(&t.ID, &t.Status, &bstatus, &t.StatusReason, &resource, &patient, &t.Requester, &t.Source,
		&t.ClientID, &createdBy, &created, &updated, &t.Version); err != nil {
		return nil, err
	}
	t.BusinessStatus, t.Resource = workflow.BusinessStatus(bstatus), []byte(resource)
	t.PatientID, t.CreatedBy = patient.Int64, createdBy.Int64
	t.CreatedAt, t.UpdatedAt = fromMicro(created), fromMicro(updated)
	return &t, nil
}

// CreateTask inserts t, setting its ID and Version 1.
func (d *DB) CreateTask(ctx context.Context, t *workflow.Task) error {
	t.CreatedAt, t.UpdatedAt = fromMicro(toMicro(t.CreatedAt)), fromMicro(toMicro(t.UpdatedAt))
	err := d.wr(ctx).row(ctx, `INSERT INTO tasks (status, business_status, status_reason, resource, patient_id,
		requester, source, client_id, created_by, created_at, updated_at, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id`,
		t.Status, string(t.BusinessStatus), t.StatusReason, string(t.Resource), nullID(t.PatientID), t.Requester,
		t.Source, t.ClientID, nullID(t.CreatedBy), toMicro(t.CreatedAt), toMicro(t.UpdatedAt)).Scan(&t.ID)
	if err != nil {
		return classify(err, "create task")
	}
	t.Version = 1
	return nil
}

// GetTask reads one task.
func (d *DB) GetTask(ctx context.Context, id int64) (*workflow.Task, error) {
	t, err := scanTask(d.rd(ctx).row(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("Task", id)
	}
	if err != nil {
		return nil, classify(err, "get task")
	}
	return t, nil
}

// UpdateTaskStatus writes t's status, business status and reason when its
// Version is current, bumping the version.
func (d *DB) UpdateTaskStatus(ctx context.Context, t *workflow.Task) error {
	now := d.nowMicro()
	res, err := d.wr(ctx).exec(ctx, `UPDATE tasks SET status = ?, business_status = ?, status_reason = ?,
		updated_at = ?, version = version + 1 WHERE id = ? AND version = ?`,
		t.Status, string(t.BusinessStatus), t.StatusReason, toMicro(now), t.ID, t.Version)
	if err != nil {
		return classify(err, "update task status")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update task status: %w", err)
	}
	if n == 0 {
		if _, err := d.GetTask(ctx, t.ID); err != nil {
			return err
		}
		return apperr.New(apperr.Conflict, "Task/%d was changed by someone else (not at version %d); reload and retry", t.ID, t.Version)
	}
	t.Version++
	t.UpdatedAt = now
	return nil
}

// taskWhere renders f as a WHERE clause. Lists are one argument each (a
// JSON array on SQLite, an array on PostgreSQL), so the text depends only
// on which filters are present and the date bounds' prefixes.
func (d *DB) taskWhere(f workflow.Filter) (string, []any) {
	conds := []string{"1 = 1"}
	var args []any
	if f.IDs != nil {
		c, a := d.int64List("id", f.IDs)
		conds, args = append(conds, c), append(args, a)
	}
	if f.PatientIDs != nil {
		c, a := d.int64List("patient_id", f.PatientIDs)
		conds, args = append(conds, c), append(args, a)
	}
	if f.Statuses != nil {
		c, a := d.stringList("status", f.Statuses)
		conds, args = append(conds, c), append(args, a)
	}
	if f.BusinessStatuses != nil {
		ss := make([]string, len(f.BusinessStatuses))
		for i, s := range f.BusinessStatuses {
			ss[i] = string(s)
		}
		c, a := d.stringList("business_status", ss)
		conds, args = append(conds, c), append(args, a)
	}
	now := f.Now
	if now.IsZero() {
		now = d.now()
	}
	if s, a := dateWhere("updated_at", "", f.Updated, now); s != "" {
		conds, args = append(conds, s), append(args, a...)
	}
	return strings.Join(conds, " AND "), args
}

// SearchTasks returns a page of the tasks f keeps, in id order.
func (d *DB) SearchTasks(ctx context.Context, f workflow.Filter, p store.Page) ([]*workflow.Task, string, error) {
	p = p.Normalize()
	after, err := store.DecodeCursor(p.After)
	if err != nil {
		return nil, "", err
	}
	if f.NoneMatch() {
		return nil, "", nil
	}
	where, args := d.taskWhere(f)
	args = append(args, after, p.Limit+1)
	query := `SELECT ` + taskColumns + ` FROM tasks WHERE ` + where + ` AND id > ? ORDER BY id LIMIT ?`
	out, err := d.taskList(ctx, len(f.Updated) <= maxCachedBounds, query, args...)
	if err != nil {
		return nil, "", err
	}
	if len(out) <= p.Limit {
		return out, "", nil
	}
	return out[:p.Limit], store.EncodeCursor(out[p.Limit-1].ID), nil
}

// taskList runs a task query, through the statement caches only when its
// shape is one of the few that clients send (see maxCachedBounds).
func (d *DB) taskList(ctx context.Context, cached bool, query string, args ...any) ([]*workflow.Task, error) {
	x := d.rd(ctx)
	if cached {
		return queryList(ctx, x, "search tasks", scanTask, query, args...)
	}
	if err := storableText(args); err != nil {
		return nil, err
	}
	rows, err := x.db.QueryContext(ctx, rebindUncached(d, query), args...)
	if err != nil {
		return nil, fmt.Errorf("search tasks: %w", err)
	}
	defer rows.Close()
	var out []*workflow.Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("search tasks: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, d.unavailable(fmt.Errorf("search tasks: %w", err))
	}
	return out, nil
}

// CountTasks returns how many tasks f keeps.
func (d *DB) CountTasks(ctx context.Context, f workflow.Filter) (int, error) {
	if f.NoneMatch() {
		return 0, nil
	}
	where, args := d.taskWhere(f)
	if err := storableText(args); err != nil {
		return 0, err
	}
	query := `SELECT COUNT(*) FROM tasks WHERE ` + where
	var n int
	var err error
	if len(f.Updated) <= maxCachedBounds {
		err = d.rd(ctx).row(ctx, query, args...).Scan(&n)
	} else {
		err = d.rd(ctx).db.QueryRowContext(ctx, rebindUncached(d, query), args...).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("count tasks: %w", err)
	}
	return n, nil
}

// FindOrganization returns the id of the organization ref names: by id,
// by identifier (any system when ref.System is empty), else by name
// (case-insensitive, ignoring surrounding space); 0 when none.
func (d *DB) FindOrganization(ctx context.Context, ref workflow.OrgRef) (int64, error) {
	var (
		query string
		args  []any
	)
	switch {
	case ref.ID != 0:
		query, args = `SELECT id FROM organizations WHERE id = ?`, []any{ref.ID}
	case ref.Value != "" && ref.System != "":
		query, args = `SELECT organization_id FROM org_identifiers WHERE system = ? AND value = ? ORDER BY organization_id LIMIT 1`,
			[]any{ref.System, ref.Value}
	case ref.Value != "":
		query, args = `SELECT organization_id FROM org_identifiers WHERE value = ? ORDER BY organization_id LIMIT 1`, []any{ref.Value}
	case strings.TrimSpace(ref.Name) != "":
		query, args = `SELECT id FROM organizations WHERE LOWER(name) = LOWER(?) ORDER BY id LIMIT 1`,
			[]any{strings.TrimSpace(ref.Name)}
	default:
		return 0, nil
	}
	var id int64
	err := d.rd(ctx).row(ctx, query, args...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, classify(err, "find organization")
	}
	return id, nil
}
