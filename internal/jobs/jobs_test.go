package jobs_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"ward/internal/actor"
	"ward/internal/jobs"
	"ward/internal/oauth/keys"
	"ward/internal/sqlstore"
	"ward/internal/testutil"
)

// waitTimeout bounds every wait for a job: generous, since it only matters
// when something is broken.
const waitTimeout = 30 * time.Second

// recorder counts the calls the fakes receive, with the arguments that
// matter and whether each came as the system actor.
type recorder struct {
	mu        sync.Mutex
	calls     map[string]int
	args      map[string][]time.Duration
	notSystem []string
}

func newRecorder() *recorder {
	return &recorder{calls: map[string]int{}, args: map[string][]time.Duration{}}
}

func (r *recorder) record(ctx context.Context, name string, args ...time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[name]++
	r.args[name] = args
	if !actor.From(ctx).System {
		r.notSystem = append(r.notSystem, name)
	}
}

func (r *recorder) count(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[name]
}

func (r *recorder) lastArgs(name string) []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.args[name]
}

func (r *recorder) callsNotAsSystem() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.notSystem...)
}

type fakeTokens struct {
	rec      *recorder
	purgeErr error
}

func (f *fakeTokens) PurgeExpiredTokens(ctx context.Context) (int, error) {
	f.rec.record(ctx, "PurgeExpiredTokens")
	return 3, f.purgeErr
}

func (f *fakeTokens) AlertExpiringServiceTokens(ctx context.Context, window time.Duration) (int, error) {
	f.rec.record(ctx, "AlertExpiringServiceTokens", window)
	return 1, nil
}

type fakeKeys struct{ rec *recorder }

func (f *fakeKeys) RotateIfOlder(ctx context.Context, maxAge, maxTokenLifetime time.Duration) (bool, error) {
	f.rec.record(ctx, "RotateIfOlder", maxAge, maxTokenLifetime)
	return true, nil
}

func (f *fakeKeys) PruneRetired(ctx context.Context) (int, error) {
	f.rec.record(ctx, "PruneRetired")
	return 2, nil
}

type fakeSessions struct{ rec *recorder }

func (f *fakeSessions) PurgeExpired(ctx context.Context) (int, error) {
	f.rec.record(ctx, "PurgeExpired")
	return 5, nil
}

// blockingSessions blocks each purge until its context is cancelled.
type blockingSessions struct {
	enteredOnce, cancelledOnce sync.Once
	entered, cancelled         chan struct{}
}

func (b *blockingSessions) PurgeExpired(ctx context.Context) (int, error) {
	b.enteredOnce.Do(func() { close(b.entered) })
	<-ctx.Done()
	b.cancelledOnce.Do(func() { close(b.cancelled) })
	return 0, ctx.Err()
}

// testLogger sends warnings and errors to t.Log, and nothing once t is over
// (River may log from its goroutines until Stop returns).
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.done = true
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// fastConfig runs every periodic job each second, River's minimum.
func fastConfig() jobs.Config {
	cfg := jobs.Default()
	cfg.JanitorInterval = time.Second
	cfg.KeyRotationCheck = time.Second
	cfg.SessionPurgeInterval = time.Second
	return cfg
}

// fakeDeps returns dependencies that record into rec.
func fakeDeps(rec *recorder) jobs.Deps {
	return jobs.Deps{
		Tokens:   &fakeTokens{rec: rec},
		Keys:     &fakeKeys{rec: rec},
		Sessions: &fakeSessions{rec: rec},
	}
}

// migratedStore opens a ward store at url with ward's and River's tables.
func migratedStore(t *testing.T, url string) *sqlstore.DB {
	t.Helper()
	db := testutil.NewStore(t, url)
	if err := jobs.Migrate(context.Background(), db.Dialect(), db.Writer()); err != nil {
		t.Fatalf("migrate River: %v", err)
	}
	return db
}

// newRunner builds a Runner on db (filling in DB, URL and Logger) and stops
// it when t ends, before the store closes.
func newRunner(t *testing.T, db *sqlstore.DB, url string, cfg jobs.Config, deps jobs.Deps) *jobs.Runner {
	t.Helper()
	deps.DB, deps.DatabaseURL, deps.Logger = db, url, testLogger(t)
	r, err := jobs.New(context.Background(), cfg, deps)
	if err != nil {
		t.Fatalf("new runner: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := r.Stop(ctx); err != nil {
			t.Errorf("stop runner: %v", err)
		}
	})
	return r
}

func start(t *testing.T, r *jobs.Runner) {
	t.Helper()
	if err := r.Start(context.Background()); err != nil {
		t.Fatalf("start runner: %v", err)
	}
}

// waitFor polls cond until it holds, failing t at waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		t.Parallel()
		ctx := context.Background()
		db := testutil.NewStore(t, url)
		versions := func() int {
			var n int
			if err := db.Writer().QueryRowContext(ctx, "SELECT count(*) FROM river_migration").Scan(&n); err != nil {
				t.Fatalf("count River migrations: %v", err)
			}
			return n
		}
		if err := jobs.Migrate(ctx, db.Dialect(), db.Writer()); err != nil {
			t.Fatalf("first migrate: %v", err)
		}
		first := versions()
		if first == 0 {
			t.Fatal("no River migration recorded")
		}
		if err := jobs.Migrate(ctx, db.Dialect(), db.Writer()); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		if got := versions(); got != first {
			t.Errorf("second migrate changed the recorded versions: %d, then %d", first, got)
		}
	})
}

func TestMigrateRejectsBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if err := jobs.Migrate(ctx, jobs.SQLite, nil); err == nil {
		t.Error("Migrate with no database: no error")
	}
	db := testutil.NewStore(t, testutil.SQLiteURL(t))
	if err := jobs.Migrate(ctx, "mysql", db.Writer()); err == nil || !strings.Contains(err.Error(), "mysql") {
		t.Errorf("Migrate with an unknown dialect: got %v, want an error naming it", err)
	}
}

func TestPeriodicJobsCallTheirDependencies(t *testing.T) {
	t.Parallel()
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		t.Parallel()
		db := migratedStore(t, url)
		rec := newRecorder()
		cfg := fastConfig()
		r := newRunner(t, db, url, cfg, fakeDeps(rec))
		start(t, r)

		// Two calls each: the run on start, then at least one scheduled run.
		methods := []string{"PurgeExpiredTokens", "AlertExpiringServiceTokens", "RotateIfOlder", "PruneRetired", "PurgeExpired"}
		for _, m := range methods {
			waitFor(t, m+" to be called twice", func() bool { return rec.count(m) >= 2 })
		}
		if bad := rec.callsNotAsSystem(); len(bad) > 0 {
			t.Errorf("called without the system actor: %v", bad)
		}
		if got := rec.lastArgs("AlertExpiringServiceTokens"); len(got) != 1 || got[0] != cfg.ExpiryAlertWindow {
			t.Errorf("alert window = %v, want %v", got, cfg.ExpiryAlertWindow)
		}
		if got := rec.lastArgs("RotateIfOlder"); len(got) != 2 || got[0] != cfg.KeyMaxAge || got[1] != cfg.MaxTokenLifetime {
			t.Errorf("RotateIfOlder(maxAge, maxTokenLifetime) = %v, want [%v %v]", got, cfg.KeyMaxAge, cfg.MaxTokenLifetime)
		}

		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := r.Stop(ctx); err != nil {
			t.Fatalf("stop: %v", err)
		}
		// A stopped runner works nothing more: the counts stay put.
		before := rec.count("PurgeExpired")
		if err := r.Stop(ctx); err != nil {
			t.Errorf("second stop: %v", err)
		}
		if after := rec.count("PurgeExpired"); after != before {
			t.Errorf("PurgeExpired called after Stop returned (%d, then %d)", before, after)
		}
	})
}

func TestKeyRotationDisabledStillPrunes(t *testing.T) {
	t.Parallel()
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		t.Parallel()
		db := migratedStore(t, url)
		rec := newRecorder()
		cfg := jobs.Default() // hourly: only the run on start matters here
		cfg.KeyMaxAge = 0
		r := newRunner(t, db, url, cfg, fakeDeps(rec))
		start(t, r)

		// PruneRetired comes after the rotation in the same run, so once it
		// has been called a rotation would have been too.
		waitFor(t, "PruneRetired to be called", func() bool { return rec.count("PruneRetired") >= 1 })
		if n := rec.count("RotateIfOlder"); n != 0 {
			t.Errorf("RotateIfOlder called %d times with rotation disabled", n)
		}
	})
}

func TestJanitorFailureIsRetriedAndDoesNotSkipAlerts(t *testing.T) {
	t.Parallel()
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		t.Parallel()
		db := migratedStore(t, url)
		rec := newRecorder()
		deps := fakeDeps(rec)
		deps.Tokens = &fakeTokens{rec: rec, purgeErr: errors.New("disk on fire")}
		r := newRunner(t, db, url, jobs.Default(), deps)
		start(t, r)

		waitFor(t, "AlertExpiringServiceTokens despite the failed purge", func() bool {
			return rec.count("AlertExpiringServiceTokens") >= 1
		})
		ctx := context.Background()
		var job *rivertype.JobRow
		waitFor(t, "the failed janitor run to be recorded", func() bool {
			rows, err := jobs.JobsOfKind(ctx, r, jobs.KindTokenJanitor)
			if err != nil {
				t.Fatalf("list janitor jobs: %v", err)
			}
			for _, j := range rows {
				if len(j.Errors) > 0 {
					job = j
					return true
				}
			}
			return false
		})
		if job.State == rivertype.JobStateCompleted {
			t.Errorf("failed janitor run is %s", job.State)
		}
		if msg := job.Errors[0].Error; !strings.Contains(msg, "purge expired tokens") || !strings.Contains(msg, "disk on fire") {
			t.Errorf("recorded error = %q, want the purge failure", msg)
		}
		if job.MaxAttempts != 3 {
			t.Errorf("periodic job max attempts = %d, want 3", job.MaxAttempts)
		}
	})
}

func TestPeriodicRunIsUniquePerPeriod(t *testing.T) {
	t.Parallel()
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		t.Parallel()
		db := migratedStore(t, url)
		cfg := jobs.Default()
		r := newRunner(t, db, url, cfg, fakeDeps(newRecorder())) // never started
		ctx := context.Background()
		for _, kind := range []string{jobs.KindTokenJanitor, jobs.KindKeyRotation, jobs.KindSessionPurge} {
			first, err := jobs.InsertPeriodicRun(ctx, r, cfg, kind)
			if err != nil {
				t.Fatalf("insert %s: %v", kind, err)
			}
			if first.UniqueSkippedAsDuplicate {
				t.Fatalf("first %s run skipped as a duplicate", kind)
			}
			// What a second leader would insert in the same period.
			second, err := jobs.InsertPeriodicRun(ctx, r, cfg, kind)
			if err != nil {
				t.Fatalf("insert %s again: %v", kind, err)
			}
			if !second.UniqueSkippedAsDuplicate || second.Job.ID != first.Job.ID {
				t.Errorf("second %s run in the same period was inserted (job %d, first %d)", kind, second.Job.ID, first.Job.ID)
			}
		}
	})
}

// echoArgs is a job kind registered through Deps.Register, as webhook
// delivery will be.
type echoArgs struct {
	N int `json:"n"`
}

func (echoArgs) Kind() string { return "test.echo" }

type echoWorker struct {
	river.WorkerDefaults[echoArgs]
	got chan int
}

func (w *echoWorker) Work(_ context.Context, job *river.Job[echoArgs]) error {
	w.got <- job.Args.N
	return nil
}

var errRollback = errors.New("roll back")

func TestInsertTxCommitsOrRollsBackWithTheCallersTransaction(t *testing.T) {
	t.Parallel()
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		t.Parallel()
		db := migratedStore(t, url)
		w := &echoWorker{got: make(chan int, 16)}
		deps := fakeDeps(newRecorder())
		deps.Register = func(ws *river.Workers) error { return river.AddWorkerSafely(ws, w) }
		r := newRunner(t, db, url, jobs.Default(), deps)
		start(t, r) // the producer polls on the shared connection meanwhile

		// A deadlock on SQLite's one writer connection would show as this
		// deadline passing, not as a hung test.
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()

		err := db.InTx(ctx, func(ctx context.Context) error {
			if _, err := r.InsertTx(ctx, echoArgs{N: 1}, nil); err != nil {
				return err
			}
			// Insert inside a transaction joins it too.
			if _, err := r.Insert(ctx, echoArgs{N: 2}, nil); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("rolled-back transaction: %v", err)
		}
		if rows, err := jobs.JobsOfKind(ctx, r, echoArgs{}.Kind()); err != nil || len(rows) != 0 {
			t.Fatalf("after rollback: %d jobs (err %v), want none", len(rows), err)
		}

		var id int64
		err = db.InTx(ctx, func(ctx context.Context) error {
			res, err := r.InsertTx(ctx, echoArgs{N: 3}, nil)
			if err != nil {
				return err
			}
			id = res.Job.ID
			return nil
		})
		if err != nil {
			t.Fatalf("committed transaction: %v", err)
		}
		select {
		case n := <-w.got:
			if n != 3 {
				t.Fatalf("worked job %d, want the committed job 3", n)
			}
		case <-ctx.Done():
			t.Fatal("committed job was not worked")
		}
		waitFor(t, "the committed job to be completed", func() bool {
			j, err := jobs.GetJob(ctx, r, id)
			if err != nil {
				t.Fatalf("get job: %v", err)
			}
			return j.State == rivertype.JobStateCompleted
		})

		if _, err := r.InsertTx(ctx, echoArgs{N: 4}, nil); !errors.Is(err, jobs.ErrNoTransaction) {
			t.Errorf("InsertTx outside a transaction: got %v, want ErrNoTransaction", err)
		}
		if _, err := r.Insert(ctx, echoArgs{N: 5}, nil); err != nil {
			t.Fatalf("insert outside a transaction: %v", err)
		}
		select {
		case n := <-w.got:
			if n != 5 {
				t.Fatalf("worked job %d, want 5", n)
			}
		case <-ctx.Done():
			t.Fatal("job inserted outside a transaction was not worked")
		}
		if rows, err := jobs.JobsOfKind(ctx, r, echoArgs{}.Kind()); err != nil || len(rows) != 2 {
			t.Errorf("%d jobs in the end (err %v), want 2 (3 and 5)", len(rows), err)
		}
	})
}

func TestStopCancelsJobsStillRunningAtTheDeadline(t *testing.T) {
	t.Parallel()
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		t.Parallel()
		db := migratedStore(t, url)
		deps := fakeDeps(newRecorder())
		b := &blockingSessions{entered: make(chan struct{}), cancelled: make(chan struct{})}
		deps.Sessions = b
		r := newRunner(t, db, url, jobs.Default(), deps)
		start(t, r)

		select {
		case <-b.entered:
		case <-time.After(waitTimeout):
			t.Fatal("session purge never started")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := r.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("stop with a job still running: got %v, want the deadline error", err)
		}
		select {
		case <-b.cancelled:
		default:
			t.Fatal("Stop returned before the running job's context was cancelled and it returned")
		}
	})
}

func TestConfig(t *testing.T) {
	t.Parallel()
	d := jobs.Default()
	if err := d.Validate(); err != nil {
		t.Errorf("default config is invalid: %v", err)
	}
	want := jobs.Config{
		JanitorInterval:      time.Hour,
		ExpiryAlertWindow:    42 * 24 * time.Hour,
		KeyRotationCheck:     time.Hour,
		KeyMaxAge:            90 * 24 * time.Hour,
		MaxTokenLifetime:     keys.DefaultMaxTokenLifetime,
		SessionPurgeInterval: time.Hour,
		RescueAfter:          time.Hour,
		// The audit chain's head is signed every five minutes.
		AuditCheckpointInterval: 5 * time.Minute,
	}
	if d != want {
		t.Errorf("Default() = %+v, want %+v", d, want)
	}

	err := jobs.Config{KeyMaxAge: -time.Second, JanitorInterval: 500 * time.Millisecond, RescueAfter: -time.Second}.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, problem := range []string{"janitor interval", "key rotation check", "session purge", "alert window", "key maximum age", "token lifetime", "rescue-after"} {
		if !strings.Contains(err.Error(), problem) {
			t.Errorf("Validate error does not mention %q:\n%v", problem, err)
		}
	}
}

// pgOnly is a Database that names PostgreSQL and is never used.
type pgOnly struct{}

func (pgOnly) Dialect() string            { return jobs.Postgres }
func (pgOnly) Writer() *sql.DB            { return nil }
func (pgOnly) Tx(context.Context) *sql.Tx { return nil }

func TestNewReportsEveryMissingDependency(t *testing.T) {
	t.Parallel()
	_, err := jobs.New(context.Background(), jobs.Default(), jobs.Deps{})
	if err == nil {
		t.Fatal("New without dependencies: no error")
	}
	for _, missing := range []string{"database", "token janitor", "key rotator", "session purger"} {
		if !strings.Contains(err.Error(), missing) {
			t.Errorf("error does not mention the missing %s:\n%v", missing, err)
		}
	}

	deps := fakeDeps(newRecorder())
	deps.DB = pgOnly{}
	if _, err := jobs.New(context.Background(), jobs.Default(), deps); err == nil || !strings.Contains(err.Error(), "URL") {
		t.Errorf("PostgreSQL without a URL: got %v, want an error asking for it", err)
	}
}
