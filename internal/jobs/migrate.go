package jobs

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// Dialect names, as sqlstore.DB.Dialect returns them. They are repeated here
// rather than imported so that the store may call Migrate without a cycle.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// migrateLockID is the PostgreSQL advisory lock that serializes River's
// migrations across replicas starting at once ("wardrivr"; goose's lock for
// ward's own migrations is a different number).
const migrateLockID int64 = 0x7761_7264_7269_7672

// Migrate applies River's own migrations (its job, queue, leader and
// migration tables) to db, ward's writer pool, for dialect (SQLite or
// Postgres). It is idempotent: applied versions are recorded in
// river_migration and skipped. Call it after ward's own migrations.
//
// On PostgreSQL concurrent callers (replicas starting together) are
// serialized by an advisory lock, since River's migrator takes none and two
// replicas would otherwise race to create the same tables. On SQLite each
// version is applied in a BEGIN IMMEDIATE transaction on the single writer
// connection, which serializes callers inside one process.
func Migrate(ctx context.Context, dialect string, db *sql.DB) error {
	if db == nil {
		return errors.New("migrate River: no database")
	}
	switch dialect {
	case SQLite:
		return migrate(ctx, riversqlite.New(db))
	case Postgres:
		// The lock is a session lock held on a connection of its own while
		// the migrator works on others from the pool (a PostgreSQL pool has
		// more than one).
		conn, err := db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("migrate River: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrateLockID); err != nil {
			return fmt.Errorf("migrate River: take migration lock: %w", err)
		}
		defer func() {
			// Returning the connection to the pool would keep the lock held,
			// so unlock; if that fails, discard the connection, which ends
			// its session and so releases the lock.
			if _, err := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockID); err != nil {
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}()
		return migrate(ctx, riverdatabasesql.New(db))
	}
	return fmt.Errorf("migrate River: unsupported database dialect %q", dialect)
}

func migrate[TTx any](ctx context.Context, drv riverdriver.Driver[TTx]) error {
	// Each applied step is logged at info by River; ward's own migrations
	// are silent, and a test run applies them hundreds of times.
	m, err := rivermigrate.New(drv, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("migrate River: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate River: %w", err)
	}
	return nil
}
