// Package sqlstore implements every domain Store (directory, audit, session)
// on SQLite (modernc.org/sqlite, the embedded default) and PostgreSQL (pgx
// through database/sql). SQL is written once with ? placeholders and rebound
// for PostgreSQL; dialect differences stay in this package.
//
// SQLite is run with discipline: busy_timeout is set before WAL, foreign keys
// are on, one writer connection whose transactions BEGIN IMMEDIATE (so a
// read-then-write transaction never fails half-way with SQLITE_BUSY), and a
// separate read-only pool for reads outside a transaction.
//
// On both databases the outermost transactions of one process are group
// committed (groupcommit.go): a single goroutine runs them a batch at a
// time in one database transaction, each inside its own SAVEPOINT.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/session"
	"ward/internal/store"
)

// Dialect names returned by DB.Dialect.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// cachePragmas give every SQLite connection a 64 MiB page cache and map
// the file into memory (256 MiB), so hot tables and indexes are read
// without a system call per page; temporary b-trees stay in memory.
const cachePragmas = "&_pragma=cache_size(-65536)&_pragma=mmap_size(268435456)&_pragma=temp_store(MEMORY)"

// busyTimeoutMS is how long a SQLite connection waits for another process's
// lock (the CLI next to a running server) before failing with SQLITE_BUSY.
const busyTimeoutMS = 10000

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// DB is ward's SQL database. It implements directory.Store, audit.Store,
// session.Store and store.Transactor. It is safe for concurrent use.
type DB struct {
	dialect string
	// writer runs every transaction and every write outside one. On SQLite
	// it holds exactly one connection: SQLite has one writer at a time and
	// queueing in Go is cheaper than spinning on SQLITE_BUSY.
	writer *sql.DB
	// reader serves reads outside a transaction. On PostgreSQL it is writer.
	reader *sql.DB
	now    func() time.Time

	// rebound caches ?-to-$n rewrites of query text (PostgreSQL only).
	rebound sync.Map
	// stmts caches prepared statements per pool and query text (SQLite
	// only; see q.prepared). nstmts bounds it.
	stmts  sync.Map
	nstmts atomic.Int64
	// wanted holds queries first run inside a transaction, to prepare on
	// the writer once it is free.
	wanted sync.Map
	// group batches the outermost transactions into shared commits, on
	// SQLite and PostgreSQL alike (see groupCommitter). Open always sets
	// it; InTx's own BEGIN/COMMIT path is for a DB without one.
	group *groupCommitter
	// ckpt checkpoints the SQLite WAL from its own connection, so the
	// writer never stops to copy pages back and fsync (nil on PostgreSQL).
	ckpt *checkpointer
	// idle is the PostgreSQL pool's idle-connection limit, restored after
	// dropIdle empties it (0 on SQLite).
	idle int
	// cards caches ID cards' groups and profiles for ReadIDPToken,
	// checked against users.card_version on every read.
	cards cardCache
}

// prepareWanted prepares, on the now free writer, the queries that missed
// the cache inside a transaction.
func (d *DB) prepareWanted(ctx context.Context) {
	d.wanted.Range(func(k, _ any) bool {
		d.wanted.Delete(k)
		query := k.(string)
		key := stmtKey{d.writer, query}
		if _, ok := d.stmts.Load(key); ok || d.nstmts.Load() >= maxCachedStmts {
			return true
		}
		st, err := d.writer.PrepareContext(context.WithoutCancel(ctx), query)
		if err != nil {
			return true
		}
		if _, loaded := d.stmts.LoadOrStore(key, st); loaded {
			_ = st.Close()
		} else {
			d.nstmts.Add(1)
		}
		return true
	})
}

// maxCachedStmts bounds the statement cache. Queries are written in the
// code with a bounded number of shapes, so this is never reached in
// practice; past it, queries are simply prepared per call.
const maxCachedStmts = 2000

type stmtKey struct {
	pool  *sql.DB
	query string
}

// Option configures Open.
type Option func(*DB)

// WithClock sets the clock used for UpdatedAt and default Registered times.
// The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(d *DB) {
		if now != nil {
			d.now = now
		}
	}
}

// Open connects to the database named by rawURL:
//
//	sqlite:///abs/path.db     an absolute SQLite file
//	sqlite://relative.db      a SQLite file relative to the working directory
//	postgres://... or postgresql://...
//	""                        <dataDir>/ward.db (dataDir is created 0700)
//
// It does not migrate; call Migrate.
func Open(ctx context.Context, rawURL, dataDir string, opts ...Option) (*DB, error) {
	d := &DB{now: time.Now}
	for _, o := range opts {
		o(d)
	}
	switch {
	case rawURL == "":
		if dataDir == "" {
			return nil, errors.New("open database: neither a database URL nor a data directory was given")
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		if err := d.openSQLite(ctx, filepath.Join(dataDir, "ward.db")); err != nil {
			return nil, err
		}
	case strings.HasPrefix(rawURL, "sqlite://"):
		path := strings.TrimPrefix(rawURL, "sqlite://")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		path, err := url.PathUnescape(path)
		if err != nil {
			return nil, fmt.Errorf("open database: malformed sqlite URL: %w", err)
		}
		if path == "" || path == "/" {
			return nil, errors.New("open database: sqlite URL names no file")
		}
		if err := d.openSQLite(ctx, path); err != nil {
			return nil, err
		}
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		if err := d.openPostgres(ctx, rawURL); err != nil {
			return nil, err
		}
	default:
		// Never echo the URL: it may carry a password.
		return nil, errors.New("open database: unsupported URL scheme (want sqlite:// or postgres://)")
	}
	return d, nil
}

func (d *DB) openSQLite(ctx context.Context, path string) error {
	if strings.ContainsAny(path, "?#") {
		return fmt.Errorf("open database: sqlite path %q must not contain '?' or '#'", path)
	}
	d.dialect = SQLite
	// The file holds patient data: readable by ward's user only. SQLite
	// gives its -wal and -shm files the database file's mode, so creating
	// the file 0600 up front covers all three.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// modernc applies busy_timeout before every other pragma, so a second
	// process waiting on the lock never fails the WAL switch.
	bt := "_pragma=busy_timeout(" + strconv.Itoa(busyTimeoutMS) + ")"
	writerDSN := path + "?" + bt +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)" + cachePragmas +
		"&_pragma=wal_autocheckpoint(0)&_txlock=immediate"
	ckptDSN := path + "?" + bt + "&_pragma=foreign_keys(ON)"
	readerDSN := path + "?" + bt + "&_pragma=foreign_keys(ON)&_pragma=query_only(ON)" + cachePragmas

	w, err := sql.Open("sqlite", writerDSN)
	if err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The writer connects first so WAL is on before any reader opens the file.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", readerDSN)
	if err != nil {
		w.Close()
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	n := max(4, runtime.NumCPU())
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	c, err := sql.Open("sqlite", ckptDSN)
	if err != nil {
		w.Close()
		r.Close()
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	c.SetMaxOpenConns(1)
	d.writer, d.reader = w, r
	d.group = newGroupCommitter(d)
	d.ckpt = newCheckpointer(c)
	return nil
}

func (d *DB) openPostgres(ctx context.Context, rawURL string) error {
	d.dialect = Postgres
	db, err := sql.Open("pgx", rawURL)
	if err != nil {
		return fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(25)
	d.idle = 25
	db.SetMaxIdleConns(d.idle)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return fmt.Errorf("open postgres: %w", err)
	}
	d.writer, d.reader = db, db
	d.group = newGroupCommitter(d)
	return nil
}

// Close closes every pool.
func (d *DB) Close() error {
	if d.group != nil {
		d.group.close()
	}
	if d.ckpt != nil {
		d.ckpt.close()
	}
	d.stmts.Range(func(_, v any) bool { _ = v.(*sql.Stmt).Close(); return true })
	err := d.writer.Close()
	if d.reader != d.writer {
		err = errors.Join(err, d.reader.Close())
	}
	return err
}

// Ping checks that the database answers (for /readyz).
func (d *DB) Ping(ctx context.Context) error {
	if err := d.writer.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Dialect returns SQLite or Postgres.
func (d *DB) Dialect() string { return d.dialect }

// Writer returns the pool that runs transactions (for River and other
// packages that need a *sql.DB). On SQLite it has a single connection: never
// use it while holding a transaction from InTx, or the caller deadlocks.
func (d *DB) Writer() *sql.DB { return d.writer }

// Tx returns the transaction carried in ctx by InTx, or nil, so that other
// packages (River's InsertTx, the webhook outbox) can join it.
func (d *DB) Tx(ctx context.Context) *sql.Tx {
	tx, _ := ctx.Value(txKey{d}).(*sql.Tx)
	return tx
}

// Migrate applies every pending migration, then inserts the static roles and
// relationships and ward's built-in OAuth clients. It is idempotent and safe
// to run from several replicas at once on PostgreSQL (goose takes an
// advisory session lock).
func (d *DB) Migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrationFiles, "migrations/"+d.dialect)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	dialect := goose.DialectSQLite3
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if d.dialect == Postgres {
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, d.writer, sub, opts...)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := d.backfillMatchKeys(ctx); err != nil {
		return err
	}
	if err := d.EnsureStaticData(ctx); err != nil {
		return err
	}
	return d.EnsureBuiltinClients(ctx)
}

// txState is what a transaction remembers besides its *sql.Tx: the audit
// head it has read and moved. Appending an audit event then costs one
// INSERT instead of three statements, and the head row is written once per
// transaction (per batch of group-committed transactions).
type txState struct {
	headKnown bool
	headDirty bool
	headID    int64
	headHash  string
}

type txStateKey struct{ db *DB }

// state returns the transaction state carried in ctx, or nil.
func (d *DB) state(ctx context.Context) *txState {
	st, _ := ctx.Value(txStateKey{d}).(*txState)
	return st
}

// withTx returns ctx carrying tx and its state.
func (d *DB) withTx(ctx context.Context, tx *sql.Tx, st *txState) context.Context {
	return context.WithValue(context.WithValue(ctx, txKey{d}, tx), txStateKey{d}, st)
}

// beforeCommit writes what the transaction deferred: the audit head.
func (d *DB) beforeCommit(ctx context.Context, tx *sql.Tx, st *txState) error {
	if !st.headDirty {
		return nil
	}
	return d.writeHead(ctx, q{d, tx}, st.headID, st.headHash)
}

// txKey carries the *sql.Tx of one DB in a context. Keying by the DB means a
// transaction of one database is never used for another.
type txKey struct{ db *DB }

// InTx runs fn in one transaction carried in the ctx given to fn; a nested
// InTx joins the outer transaction. fn's error or panic rolls back (the panic
// is re-raised after the rollback). On both databases concurrent
// transactions share commits (see groupCommitter): fn then runs on the
// committer's goroutine, and InTx returns once fn's batch has committed. A lost database
// connection is reported as apperr Unavailable; the transaction is not
// retried, since it may have committed.
func (d *DB) InTx(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	defer func() { err = d.unavailable(err) }()
	if d.Tx(ctx) != nil {
		return fn(ctx)
	}
	if d.group != nil {
		return d.group.do(ctx, fn)
	}
	tx, err := d.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			// The fn error (or panic) is what matters; a rollback failure
			// after it changes nothing the caller can act on.
			_ = tx.Rollback()
		}
		if d.dialect == SQLite {
			d.prepareWanted(ctx)
		}
	}()
	st := &txState{}
	if err := fn(d.withTx(ctx, tx, st)); err != nil {
		return err
	}
	if err := d.beforeCommit(ctx, tx, st); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return classify(err, "commit transaction")
	}
	committed = true
	return nil
}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// q runs statements on ctx's transaction, else the writer (write) or reader.
type q struct {
	d  *DB
	db querier
}

func (d *DB) rd(ctx context.Context) q {
	if tx := d.Tx(ctx); tx != nil {
		return q{d, tx}
	}
	return q{d, readPool{d.reader}}
}

func (d *DB) wr(ctx context.Context) q {
	if tx := d.Tx(ctx); tx != nil {
		return q{d, tx}
	}
	return q{d, d.writer}
}

func (x q) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := storableText(args); err != nil {
		return nil, err
	}
	res, err := x.execOnce(ctx, query, args...)
	return res, x.d.unavailable(err)
}

func (x q) execOnce(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := x.prepared(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return x.db.ExecContext(ctx, x.d.rebind(query), args...)
}

// query runs a query; on the reader pool a lost connection is retried once.
func (x q) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := storableText(args); err != nil {
		return nil, err
	}
	rows, err := x.queryOnce(ctx, query, args...)
	if err != nil && x.retry(err) {
		rows, err = x.queryOnce(ctx, query, args...)
	}
	return rows, x.d.unavailable(err)
}

func (x q) queryOnce(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := x.prepared(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return x.db.QueryContext(ctx, x.d.rebind(query), args...)
}

// row runs a single-row query; see row.Scan. Text the database cannot
// store is refused before the query runs, as its error.
func (x q) row(ctx context.Context, query string, args ...any) row {
	if err := storableText(args); err != nil {
		return row{err: err}
	}
	return row{ctx: ctx, x: x, r: x.rowOnce(ctx, query, args...), query: query, args: args}
}

func (x q) rowOnce(ctx context.Context, query string, args ...any) *sql.Row {
	if st := x.prepared(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return x.db.QueryRowContext(ctx, x.d.rebind(query), args...)
}

// prepared returns a cached prepared statement for query on SQLite, where
// compiling SQL text costs more than running a point query (profiles of the
// token endpoint showed a fifth of its time in the parser), or nil to run
// the text directly. PostgreSQL needs none: pgx caches prepared statements
// per connection itself. In a transaction the statement is bound to the
// transaction's connection; database/sql reuses the one already prepared
// there. Every cached query is a single statement.
func (x q) prepared(ctx context.Context, query string) *sql.Stmt {
	if x.d.dialect != SQLite {
		return nil
	}
	pool := x.d.reader
	tx, inTx := x.db.(*sql.Tx)
	if inTx || x.db == querier(x.d.writer) {
		pool = x.d.writer
	}
	key := stmtKey{pool, query}
	v, ok := x.d.stmts.Load(key)
	if !ok {
		if x.d.nstmts.Load() >= maxCachedStmts {
			return nil
		}
		if inTx {
			// Preparing on the pool now would wait for the connection
			// this transaction holds (SQLite's one writer): prepare it
			// once the transaction is over (see InTx).
			x.d.wanted.Store(query, true)
			return nil
		}
		st, err := pool.PrepareContext(context.WithoutCancel(ctx), query)
		if err != nil {
			// Let the plain path report the error in its usual form.
			return nil
		}
		if old, loaded := x.d.stmts.LoadOrStore(key, st); loaded {
			_ = st.Close()
			v = old
		} else {
			x.d.nstmts.Add(1)
			v = st
		}
	}
	st := v.(*sql.Stmt)
	if inTx {
		return tx.StmtContext(ctx, st)
	}
	return st
}

// rebind rewrites ? placeholders as $1, $2... for PostgreSQL. Question marks
// inside quoted literals are left alone. Results are cached per query text;
// queries built at run time with a variable number of placeholders have a
// bounded number of shapes (see inList), so the cache stays small.
func (d *DB) rebind(query string) string {
	if d.dialect != Postgres || !strings.Contains(query, "?") {
		return query
	}
	if v, ok := d.rebound.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	inQuote := false
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
	out := b.String()
	d.rebound.Store(query, out)
	return out
}

// inTx runs fn in ctx's transaction or a new one: for methods that write
// several rows and must be atomic even when the caller has no transaction.
func (d *DB) inTx(ctx context.Context, fn func(ctx context.Context, x q) error) error {
	return d.InTx(ctx, func(ctx context.Context) error { return fn(ctx, d.wr(ctx)) })
}

// int64List returns a condition "col IN <list>" taking a whole list as ONE
// argument, so the query text (and the rebind cache) does not grow with the
// list and no parameter limit is hit.
func (d *DB) int64List(col string, ids []int64) (string, any) {
	if d.dialect == Postgres {
		return col + " = ANY(?)", ids
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	b.WriteByte(']')
	return col + " IN (SELECT value FROM json_each(?))", b.String()
}

// nowMicro is the clock truncated to what the database stores.
func (d *DB) nowMicro() time.Time { return fromMicro(toMicro(d.now())) }

// Compile-time checks that DB implements every domain store.
var (
	_ directory.Store  = (*DB)(nil)
	_ audit.Store      = (*DB)(nil)
	_ session.Store    = (*DB)(nil)
	_ store.Transactor = (*DB)(nil)
)

// stringList is int64List for text values.
func (d *DB) stringList(col string, vs []string) (string, any) {
	if d.dialect == Postgres {
		return col + " = ANY(?)", vs
	}
	// Marshalling strings cannot fail.
	b, _ := json.Marshal(vs)
	return col + " IN (SELECT value FROM json_each(?))", string(b)
}
