package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"ward/internal/apperr"
)

// PostgreSQL SQLSTATEs meaning the server ended the session: class 08
// (connection exception) and the 57P0x shutdowns (admin_shutdown, which
// pg_terminate_backend and a fast restart send; crash_shutdown;
// cannot_connect_now while the server starts or recovers).
const (
	pgConnectionExceptionClass = "08"
	pgAdminShutdown            = "57P01"
	pgCrashShutdown            = "57P02"
	pgCannotConnectNow         = "57P03"
	// A deadlock victim or a serialization failure: the statement's
	// transaction (or savepoint) was rolled back, nothing of it committed,
	// and the same request sent again normally succeeds.
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
)

// connLost reports whether err means the database connection was lost or
// could not be made, classified by error type and SQLSTATE, never by
// message text. A cancelled or expired context is the caller's doing, not
// the database's, and is not a lost connection.
func connLost(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, pgConnectionExceptionClass) ||
			pe.Code == pgAdminShutdown || pe.Code == pgCrashShutdown || pe.Code == pgCannotConnectNow
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// transientConflict reports whether err is a PostgreSQL deadlock or
// serialization failure. Replicas group-commit unrelated requests in one
// transaction, so two replicas' batches can take user locks (LockUser)
// and the audit head in opposite orders; PostgreSQL then ends one
// statement, and its request, rolled back to its savepoint, can be sent
// again.
func transientConflict(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == pgDeadlockDetected || pe.Code == pgSerializationFailure)
}

// unavailable turns a lost-connection error (or a transient conflict, see
// transientConflict) into apperr Unavailable, which every edge answers
// with 503 and Retry-After, instead of a generic 500.
// Other errors, and errors already of a kind other than Internal, pass
// through. On PostgreSQL it also drops the pool's idle connections: a lost
// connection usually means the server restarted or ended every session, so
// the idle ones are dead too and the next request should dial afresh.
func (d *DB) unavailable(err error) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.Kind != apperr.Internal {
		return err
	}
	if transientConflict(err) {
		return apperr.Wrap(apperr.Unavailable, err, "the database is busy; retry shortly")
	}
	if !connLost(err) {
		return err
	}
	d.dropIdle()
	return apperr.Wrap(apperr.Unavailable, err, "the database is unavailable; retry shortly")
}

// dropIdle closes the idle connections of the PostgreSQL pool (SQLite has
// no connection to lose).
func (d *DB) dropIdle() {
	if d.dialect != Postgres || d.idle == 0 {
		return
	}
	d.writer.SetMaxIdleConns(0)
	d.writer.SetMaxIdleConns(d.idle)
}

// readPool is the reader pool as q sees it outside a transaction: every
// statement run on it only reads, so one that fails because its connection
// was lost is retried once on a fresh connection. Statements in a
// transaction, and writes, are never retried: a write whose connection
// broke may have committed.
type readPool struct{ *sql.DB }

// retry reports whether a statement of x that failed with err runs again.
func (x q) retry(err error) bool {
	if _, ok := x.db.(readPool); !ok || !connLost(err) {
		return false
	}
	x.d.dropIdle()
	return true
}

// row is a single-row result whose Scan retries a read once when the
// connection was lost (see readPool) and reports a lost connection as
// apperr Unavailable.
type row struct {
	ctx   context.Context
	x     q
	r     *sql.Row
	query string
	args  []any
	// err, when set, kept the query from running.
	err error
}

// Scan copies the row's columns into dest, like sql.Row.Scan.
func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	err := r.r.Scan(dest...)
	if err != nil && r.x.retry(err) {
		err = r.x.rowOnce(r.ctx, r.query, r.args...).Scan(dest...)
	}
	return r.x.d.unavailable(err)
}
