package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/directory"
)

// Health is how River's queue stands: the jobs waiting, running and
// waiting to retry now, and those River gave up on (discarded) since a
// point in time.
type Health struct {
	Available int
	Running   int
	Retryable int
	// Discarded counts jobs discarded at or after Since.
	Discarded int
	Since     time.Time
}

// queryer is what *sql.DB and *sql.Tx share for a read.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Health reads the queue's health from River's river_job table, one
// grouped count. Only ward itself or an administrator may
// (directory.RequireAdmin): job arguments are not shown, but the queue is
// the operator's view.
func (r *Runner) Health(ctx context.Context, since time.Time) (Health, error) {
	if r.roles == nil {
		if !actor.From(ctx).System {
			return Health{}, apperr.New(apperr.Forbidden, "only ward itself may read the job queue here")
		}
	} else if err := directory.RequireAdmin(ctx, r.roles, "read the job queue"); err != nil {
		return Health{}, err
	}
	since = since.UTC()
	// River's SQLite schema stores times as text; julianday reads each
	// format River writes, so the comparison does not depend on one.
	query := `SELECT state, COUNT(*) FROM river_job
		WHERE state IN ('available', 'running', 'retryable') OR (state = 'discarded' AND finalized_at >= $1)
		GROUP BY state`
	var arg any = since
	if r.db.Dialect() == SQLite {
		query = `SELECT state, COUNT(*) FROM river_job
		WHERE state IN ('available', 'running', 'retryable')
			OR (state = 'discarded' AND julianday(finalized_at) >= julianday(?))
		GROUP BY state`
		arg = since.Format("2006-01-02 15:04:05.000")
	}
	q := queryer(r.db.Writer())
	if tx := r.db.Tx(ctx); tx != nil {
		q = tx
	}
	rows, err := q.QueryContext(ctx, query, arg)
	if err != nil {
		return Health{}, fmt.Errorf("read the job queue's health: %w", err)
	}
	defer rows.Close()
	h := Health{Since: since}
	for rows.Next() {
		var (
			state string
			n     int
		)
		if err := rows.Scan(&state, &n); err != nil {
			return Health{}, fmt.Errorf("read the job queue's health: %w", err)
		}
		switch state {
		case "available":
			h.Available = n
		case "running":
			h.Running = n
		case "retryable":
			h.Retryable = n
		case "discarded":
			h.Discarded = n
		}
	}
	if err := rows.Err(); err != nil {
		return Health{}, fmt.Errorf("read the job queue's health: %w", err)
	}
	return h, nil
}
