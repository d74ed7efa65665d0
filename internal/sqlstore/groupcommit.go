package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// maxBatch bounds how many transactions one shared commit carries.
const maxBatch = 128

// groupCommitter runs the outermost transactions of a DB, SQLite or
// PostgreSQL, one batch at a time on its own goroutine, several to a
// commit. On SQLite the batch runs on the one writer connection: SQLite
// admits one writer at a time anyway, and a commit (writing the WAL frames
// of every page touched) costs as much as the work of a small transaction.
// On PostgreSQL the batch is one transaction from the pool: every audited
// write serialises on the audit head row anyway, and batching pays for
// that row (written once per transaction, see txState) and for the
// commit's WAL flush once a batch rather than once a request; other
// replicas commit their own batches in parallel (see transientConflict for
// what that costs). On both, committing
// concurrent transactions together multiplies write throughput without
// giving up durability. Each transaction runs inside its own SAVEPOINT, so
// one that fails (or panics) is rolled back alone and the others commit;
// a transaction's result is reported only once its batch has committed.
type groupCommitter struct {
	d    *DB
	jobs chan *commitJob
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type commitJob struct {
	ctx    context.Context
	fn     func(ctx context.Context) error
	result chan jobResult
}

type jobResult struct {
	err      error
	panicked bool
	panicVal any
}

func newGroupCommitter(d *DB) *groupCommitter {
	g := &groupCommitter{d: d, jobs: make(chan *commitJob), stop: make(chan struct{}), done: make(chan struct{})}
	go g.run()
	return g
}

// close stops the committer after the batch in progress.
func (g *groupCommitter) close() {
	g.once.Do(func() { close(g.stop) })
	<-g.done
}

// do runs fn in a transaction of the next batch and returns its result; a
// panic in fn is re-raised here, in the caller's goroutine.
func (g *groupCommitter) do(ctx context.Context, fn func(ctx context.Context) error) error {
	j := &commitJob{ctx: ctx, fn: fn, result: make(chan jobResult, 1)}
	select {
	case g.jobs <- j:
	case <-g.stop:
		return fmt.Errorf("begin transaction: %w", sql.ErrConnDone)
	case <-ctx.Done():
		return fmt.Errorf("begin transaction: %w", ctx.Err())
	}
	r := <-j.result
	if r.panicked {
		panic(r.panicVal)
	}
	return r.err
}

func (g *groupCommitter) run() {
	defer close(g.done)
	for {
		var first *commitJob
		select {
		case first = <-g.jobs:
		case <-g.stop:
			return
		}
		batch := []*commitJob{first}
	drain:
		for len(batch) < maxBatch {
			select {
			case j := <-g.jobs:
				batch = append(batch, j)
			default:
				break drain
			}
		}
		g.commit(batch)
	}
}

// commit runs batch in one transaction and reports to each job.
func (g *groupCommitter) commit(batch []*commitJob) {
	results := make([]jobResult, len(batch))
	defer func() {
		g.d.prepareWanted(context.Background())
		for i, j := range batch {
			j.result <- results[i]
		}
	}()
	bg := context.Background()
	tx, err := g.d.writer.BeginTx(bg, nil)
	if err != nil {
		for i := range results {
			results[i].err = fmt.Errorf("begin transaction: %w", err)
		}
		return
	}
	ok := 0
	broken := false
	// cause is why the batch broke: a lost connection there makes every
	// job of the batch Unavailable (InTx classifies it), not Internal.
	var cause error = sql.ErrTxDone
	st := &txState{}
	for i, j := range batch {
		if broken {
			results[i].err = fmt.Errorf("transaction: batch aborted: %w", cause)
			continue
		}
		if err := j.ctx.Err(); err != nil {
			results[i].err = fmt.Errorf("begin transaction: %w", err)
			continue
		}
		if _, err := tx.ExecContext(bg, "SAVEPOINT ward_tx"); err != nil {
			results[i].err = classify(err, "begin transaction")
			broken, cause = true, err
			continue
		}
		snap := *st
		results[i] = runJob(g.d.withTx(j.ctx, tx, st), j.fn)
		if results[i].err != nil || results[i].panicked {
			*st = snap
			_, err1 := tx.ExecContext(bg, "ROLLBACK TO ward_tx")
			_, err2 := tx.ExecContext(bg, "RELEASE ward_tx")
			if err1 != nil || err2 != nil {
				// The savepoint is gone: the transaction can no longer
				// be trusted for the others.
				broken, cause = true, errors.Join(err1, err2)
			}
			continue
		}
		if _, err := tx.ExecContext(bg, "RELEASE ward_tx"); err != nil {
			results[i].err = classify(err, "commit transaction")
			broken, cause = true, err
			continue
		}
		ok++
	}
	if broken || ok == 0 {
		_ = tx.Rollback()
		if broken {
			for i := range results {
				if results[i].err == nil && !results[i].panicked {
					results[i].err = fmt.Errorf("commit transaction: batch rolled back: %w", cause)
				}
			}
		}
		return
	}
	err = g.d.beforeCommit(bg, tx, st)
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		cerr := classify(err, "commit transaction")
		for i := range results {
			if results[i].err == nil && !results[i].panicked {
				results[i].err = cerr
			}
		}
	}
}

// runJob runs fn, turning a panic into a result for its caller.
func runJob(ctx context.Context, fn func(ctx context.Context) error) (r jobResult) {
	defer func() {
		if v := recover(); v != nil {
			r = jobResult{panicked: true, panicVal: v}
		}
	}()
	return jobResult{err: fn(ctx)}
}

// checkpointInterval is how often the WAL is copied back into the
// database file. Between checkpoints the WAL grows by what was written
// meanwhile; readers find recent pages in it either way.
const checkpointInterval = 250 * time.Millisecond

// checkpointer runs SQLite WAL checkpoints on a connection of its own.
// SQLite's automatic checkpoint would run inside whichever commit crosses
// the threshold, on the single writer, and its fsync would stall every
// transaction queued behind it; a PASSIVE checkpoint here never blocks
// the writer or the readers.
type checkpointer struct {
	db   *sql.DB
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func newCheckpointer(db *sql.DB) *checkpointer {
	c := &checkpointer{db: db, stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

func (c *checkpointer) run() {
	defer close(c.done)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			// A busy database just means the next tick tries again.
			_, _ = c.db.Exec("PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

// close stops the ticker, checkpoints what is left, and closes the
// connection.
func (c *checkpointer) close() {
	c.once.Do(func() { close(c.stop) })
	<-c.done
	_, _ = c.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	_ = c.db.Close()
}
