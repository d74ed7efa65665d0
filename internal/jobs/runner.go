package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"ward/internal/directory"
)

// Config sets when the maintenance jobs run. Default gives production values.
type Config struct {
	// JanitorInterval is how often the token janitor purges expired tokens
	// and alerts the sponsors of expiring service tokens.
	JanitorInterval time.Duration
	// ExpiryAlertWindow is how long before a service token expires that its
	// sponsor is alerted.
	ExpiryAlertWindow time.Duration
	// KeyRotationCheck is how often the signing keys are checked for
	// rotation and the retired ones pruned.
	KeyRotationCheck time.Duration
	// KeyMaxAge rotates a signing key once it has been current this long.
	// Zero disables automatic rotation (ward keys rotate still works);
	// retired keys are pruned either way.
	KeyMaxAge time.Duration
	// MaxTokenLifetime is the lifetime of the longest-lived JWT a key may
	// have signed: a key retired by rotation stays published this long.
	MaxTokenLifetime time.Duration
	// SessionPurgeInterval is how often dead browser sessions are deleted.
	SessionPurgeInterval time.Duration
	// RescueAfter is how long a job may be running before River takes it
	// for abandoned (its process died) and runs it again. It must exceed
	// the longest run of any job: a bulk export runs in slices shorter
	// than it.
	RescueAfter time.Duration
	// AuditCheckpointInterval is how often the audit chain's head is
	// checkpointed (when Deps.Checkpoints is set).
	AuditCheckpointInterval time.Duration
}

// Default returns the production schedule: hourly maintenance, sponsors
// alerted six weeks before a service token expires, keys rotated every 90
// days with retired keys published for a day (keys.DefaultMaxTokenLifetime).
func Default() Config {
	return Config{
		JanitorInterval:         time.Hour,
		ExpiryAlertWindow:       6 * 7 * 24 * time.Hour,
		KeyRotationCheck:        time.Hour,
		KeyMaxAge:               90 * 24 * time.Hour,
		MaxTokenLifetime:        24 * time.Hour,
		SessionPurgeInterval:    time.Hour,
		RescueAfter:             time.Hour,
		AuditCheckpointInterval: 5 * time.Minute,
	}
}

// jobTimeout is the timeout of a job kind that sets none: River's minute,
// or less when jobs are rescued sooner (River requires the timeout not to
// exceed the rescue delay, or a slow live job would be run twice).
func jobTimeout(rescueAfter time.Duration) time.Duration {
	if rescueAfter > 0 && rescueAfter < time.Minute {
		return rescueAfter
	}
	return time.Minute
}

// minInterval is River's floor for a periodic schedule (and for a unique
// period, which is derived from it).
const minInterval = time.Second

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, iv := range []struct {
		name string
		d    time.Duration
	}{
		{"janitor interval", c.JanitorInterval},
		{"key rotation check interval", c.KeyRotationCheck},
		{"session purge interval", c.SessionPurgeInterval},
	} {
		if iv.d < minInterval {
			bad("jobs: %s must be at least %s, got %s", iv.name, minInterval, iv.d)
		}
	}
	if c.ExpiryAlertWindow <= 0 {
		bad("jobs: service token expiry alert window must be positive, got %s", c.ExpiryAlertWindow)
	}
	if c.KeyMaxAge < 0 {
		bad("jobs: signing key maximum age must be positive, or zero to disable rotation, got %s", c.KeyMaxAge)
	}
	if c.MaxTokenLifetime <= 0 {
		bad("jobs: maximum token lifetime must be positive, got %s", c.MaxTokenLifetime)
	}
	if c.AuditCheckpointInterval != 0 && c.AuditCheckpointInterval < minInterval {
		bad("jobs: audit checkpoint interval must be at least %s, got %s", minInterval, c.AuditCheckpointInterval)
	}
	if c.RescueAfter < 0 {
		bad("jobs: rescue-after must be positive, or zero for River's default, got %s", c.RescueAfter)
	}
	return errors.Join(errs...)
}

// Database is what the runner needs of ward's SQL store; *sqlstore.DB
// satisfies it.
type Database interface {
	// Dialect is SQLite or Postgres.
	Dialect() string
	// Writer is the pool that runs ward's transactions: on SQLite a single
	// connection.
	Writer() *sql.DB
	// Tx is the transaction carried in ctx by the store's InTx, or nil.
	Tx(ctx context.Context) *sql.Tx
}

// Deps are what New wires into the runner. Every field is required except
// Logger and Register.
type Deps struct {
	DB Database
	// DatabaseURL is the URL DB was opened with. On PostgreSQL River opens
	// one pgx connection with it to LISTEN for notifications, which a
	// database/sql pool cannot lend. Unused on SQLite.
	DatabaseURL string

	Tokens   TokenJanitor
	Keys     KeyRotator
	Sessions SessionPurger
	// Checkpoints, if set, takes a signed checkpoint of the audit chain
	// every Config.AuditCheckpointInterval (and when the runner starts).
	Checkpoints AuditCheckpointer
	// Roles, if set, lets administrators read the queue's health (Health);
	// without it only ward itself may.
	Roles directory.RoleReader

	// Logger receives the jobs' results and River's own messages; nil is
	// slog.Default().
	Logger *slog.Logger
	// Register, if set, adds the workers of job kinds defined by other
	// packages (webhook delivery, bulk export), which they then insert with
	// InsertTx. A kind must be registered on every replica before any
	// replica inserts it.
	Register func(*river.Workers) error
	// Periodic, if set, adds scheduled jobs of kinds defined by other
	// packages (the bulk-export cleanup); their workers come through
	// Register. They run like the maintenance jobs: enqueued by the leader,
	// unique per half interval, at most periodicMaxAttempts tries a run.
	Periodic []Periodic
}

// Periodic is a job another package runs every Every. Args is inserted as
// is on each run, so it carries no per-run state.
type Periodic struct {
	Args  river.JobArgs
	Every time.Duration
}

func (d Deps) validate() error {
	var errs []error
	if d.DB == nil {
		errs = append(errs, errors.New("jobs: no database"))
	} else {
		switch d.DB.Dialect() {
		case SQLite:
		case Postgres:
			if d.DatabaseURL == "" {
				errs = append(errs, errors.New("jobs: PostgreSQL needs the database URL (for River's LISTEN connection)"))
			}
		default:
			errs = append(errs, fmt.Errorf("jobs: unsupported database dialect %q", d.DB.Dialect()))
		}
	}
	if d.Tokens == nil {
		errs = append(errs, errors.New("jobs: no token janitor"))
	}
	if d.Keys == nil {
		errs = append(errs, errors.New("jobs: no key rotator"))
	}
	if d.Sessions == nil {
		errs = append(errs, errors.New("jobs: no session purger"))
	}
	seen := map[string]bool{KindAuditCheckpoint: true}
	for _, p := range periodicJobs(Default()) {
		seen[p.args.Kind()] = true
	}
	for i, p := range d.Periodic {
		switch {
		case p.Args == nil:
			errs = append(errs, fmt.Errorf("jobs: periodic job %d has no arguments", i))
		case seen[p.Args.Kind()]:
			errs = append(errs, fmt.Errorf("jobs: periodic job kind %q is scheduled twice", p.Args.Kind()))
		case p.Every < minInterval:
			errs = append(errs, fmt.Errorf("jobs: periodic job %q: interval must be at least %s, got %s", p.Args.Kind(), minInterval, p.Every))
		}
		if p.Args != nil {
			seen[p.Args.Kind()] = true
		}
	}
	return errors.Join(errs...)
}

// maxWorkers is how many jobs a replica works at once. The maintenance jobs
// are few and short; on SQLite the jobs queue for the one writer connection
// anyway.
const maxWorkers = 10

// hardStopWait bounds how long Stop waits, once its context is done, for
// running jobs to return after their contexts are cancelled.
const hardStopWait = 10 * time.Second

// ErrNoTransaction is returned by InsertTx when ctx carries no transaction.
var ErrNoTransaction = errors.New("jobs: InsertTx needs the transaction of the store's InTx in ctx")

// Runner works ward's jobs: the periodic maintenance jobs and any kinds added
// by Deps.Register. Build it with New, then Start it and Stop it once. Insert
// and InsertTx may be used before Start (the job waits in the database) and
// from processes that never Start one, such as the CLI.
type Runner struct {
	client *river.Client[*sql.Tx]
	db     Database
	// listen holds River's LISTEN connection on PostgreSQL; nil on SQLite.
	listen *pgxpool.Pool
	log    *slog.Logger
	roles  directory.RoleReader
}

// New builds the River client, its workers and its periodic jobs. It opens
// no connection on SQLite; on PostgreSQL it prepares (lazily) the listener
// pool, which Stop closes. The database must already be migrated (Migrate).
func New(ctx context.Context, cfg Config, deps Deps) (*Runner, error) {
	if err := errors.Join(cfg.Validate(), deps.validate()); err != nil {
		return nil, err
	}
	log := deps.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With(slog.String("component", "jobs"))

	workers := river.NewWorkers()
	if err := errors.Join(
		river.AddWorkerSafely(workers, &tokenJanitorWorker{tokens: deps.Tokens, window: cfg.ExpiryAlertWindow, log: log}),
		river.AddWorkerSafely(workers, &keyRotationWorker{keys: deps.Keys, maxAge: cfg.KeyMaxAge, maxTokenLifetime: cfg.MaxTokenLifetime, log: log}),
		river.AddWorkerSafely(workers, &sessionPurgeWorker{sessions: deps.Sessions, log: log}),
	); err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	if deps.Checkpoints != nil {
		if err := river.AddWorkerSafely(workers, &auditCheckpointWorker{checkpoints: deps.Checkpoints, log: log}); err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
	}
	if deps.Register != nil {
		if err := deps.Register(workers); err != nil {
			return nil, fmt.Errorf("jobs: register workers: %w", err)
		}
	}
	var periodics []*river.PeriodicJob
	for _, p := range periodicJobs(cfg) {
		periodics = append(periodics, p.riverJob())
	}
	for _, p := range deps.Periodic {
		periodics = append(periodics, periodic{args: p.Args, every: p.Every}.riverJob())
	}
	if deps.Checkpoints != nil {
		every := cfg.AuditCheckpointInterval
		if every == 0 {
			every = Default().AuditCheckpointInterval
		}
		periodics = append(periodics, periodic{args: auditCheckpointArgs{}, every: every}.riverJob())
	}

	r := &Runner{db: deps.DB, log: log, roles: deps.Roles}
	var driver riverdriver.Driver[*sql.Tx]
	switch deps.DB.Dialect() {
	case SQLite:
		// River shares ward's single writer connection rather than opening
		// a pool of its own on the file:
		//
		//  - Two writers in one process would contend through SQLite's file
		//    lock: a River fetch or completion would make ward's requests
		//    wait on busy_timeout (sleep-polling, up to 10s, then a
		//    SQLITE_BUSY failure) instead of queueing in Go for the one
		//    connection, and River's own transactions would need
		//    BEGIN IMMEDIATE to avoid failing mid-way on a lock upgrade.
		//    riversqlite itself asks for a one-connection pool.
		//  - It cannot deadlock ward: River takes the connection for one
		//    short statement or transaction at a time and holds none while
		//    a job works, so a job may run ward's InTx. The one way to wait
		//    on the connection while holding it is to use the pool inside
		//    ward's transaction, and InsertTx and Insert never do: they
		//    insert on the *sql.Tx in ctx (River's InsertTx stays on the
		//    transaction it is given).
		//
		// The cost is that River's polling (the notification outbox every
		// 50ms, fetches, leader election) takes turns with ward's writes on
		// that connection; each is one short statement.
		driver = riversqlite.New(deps.DB.Writer())
	case Postgres:
		// River works through ward's database/sql pool so that InsertTx can
		// join ward's *sql.Tx (riverpgxv5 takes only pgx.Tx), and listens on
		// a pgx connection of its own: LISTEN holds a connection for good,
		// which database/sql cannot hand over.
		pcfg, err := pgxpool.ParseConfig(deps.DatabaseURL)
		if err != nil {
			// pgx redacts the password from its parse errors.
			return nil, fmt.Errorf("jobs: parse database URL: %w", err)
		}
		// River hijacks one connection per client for LISTEN and returns
		// it only when the client stops.
		pcfg.MaxConns, pcfg.MinConns = 1, 0
		pool, err := pgxpool.NewWithConfig(ctx, pcfg)
		if err != nil {
			return nil, fmt.Errorf("jobs: open listener pool: %w", err)
		}
		r.listen = pool
		driver = riverdatabasesql.NewWithPgxListener(deps.DB.Writer(), pool)
	}

	client, err := river.NewClient(driver, &river.Config{
		Logger:       log.With(slog.String("subsystem", "river")),
		Queues:       map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: maxWorkers}},
		Workers:      workers,
		PeriodicJobs: periodics,
		// During a rolling upgrade a replica that does not know a new job
		// kind leaves it to the replicas that do, instead of failing it.
		FetchOnlyKnownKinds:  true,
		RescueStuckJobsAfter: cfg.RescueAfter,
		JobTimeout:           jobTimeout(cfg.RescueAfter),
	})
	if err != nil {
		r.closePool()
		return nil, fmt.Errorf("jobs: build River client: %w", err)
	}
	r.client = client
	return r, nil
}

// Start starts working jobs and returns once River runs. Only Stop stops it:
// cancelling ctx does not, so that a server whose root context is cancelled
// on SIGTERM still gets a graceful Stop rather than cancelled jobs.
func (r *Runner) Start(ctx context.Context) error {
	if err := r.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	return nil
}

// Stop stops fetching jobs and waits for the running ones to finish. If ctx
// is done first, it cancels their contexts, waits (at most hardStopWait) for
// them to return, and reports ctx's error. It then closes the listener pool.
// Stopping a Runner that never started is a no-op (but for the pool).
func (r *Runner) Stop(ctx context.Context) error {
	err := r.client.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		r.log.WarnContext(ctx, "jobs still running at the shutdown deadline; cancelling them")
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), hardStopWait)
		defer cancel()
		if herr := r.client.StopAndCancel(hctx); herr != nil {
			err = errors.Join(err, herr)
		}
	}
	r.closePool()
	if err != nil {
		return fmt.Errorf("jobs: stop: %w", err)
	}
	return nil
}

func (r *Runner) closePool() {
	if r.listen != nil {
		r.listen.Close()
	}
}

// InsertTx inserts a job in the transaction carried in ctx by the store's
// InTx, so the job exists if and only if that transaction commits; no
// replica can work it before. Without a transaction in ctx it returns
// ErrNoTransaction: a caller that means to insert on its own uses Insert.
// opts may be nil (River's defaults, or the args' InsertOpts).
func (r *Runner) InsertTx(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	tx := r.db.Tx(ctx)
	if tx == nil {
		return nil, ErrNoTransaction
	}
	res, err := r.client.InsertTx(ctx, tx, args, opts)
	if err != nil {
		return nil, fmt.Errorf("jobs: insert %s job: %w", args.Kind(), err)
	}
	return res, nil
}

// Insert inserts a job: in ctx's transaction when there is one (as
// InsertTx), else in a transaction of its own. Inside a transaction it must
// join it: on SQLite a second transaction would wait forever for the one
// writer connection that the caller's transaction holds.
func (r *Runner) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	if r.db.Tx(ctx) != nil {
		return r.InsertTx(ctx, args, opts)
	}
	res, err := r.client.Insert(ctx, args, opts)
	if err != nil {
		return nil, fmt.Errorf("jobs: insert %s job: %w", args.Kind(), err)
	}
	return res, nil
}
