package integration

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"ward/internal/jobs"
)

// Job kinds, stored in river_job: never rename them.
const (
	// KindPush pushes one integration (if due, or at once when forced).
	KindPush = "integration_push"
	// KindSweep enqueues a push of every due integration.
	KindSweep = "integration_push_sweep"
	// KindStart enqueues a forced push of every integration: inserted when
	// a server starts.
	KindStart = "integration_push_start"
)

// SweepEvery is how often the sweep runs.
const SweepEvery = time.Minute

// pushMaxAttempts bounds River's retries of a push job that errs (the
// database unreachable, not a receiver's failure, which push records and
// schedules itself); the sweep takes over after the last one.
const pushMaxAttempts = 5

type pushArgs struct {
	ID    string `json:"id"`
	Force bool   `json:"force,omitempty"`
}

func (pushArgs) Kind() string { return KindPush }

type sweepArgs struct{}

func (sweepArgs) Kind() string { return KindSweep }

type startArgs struct{}

func (startArgs) Kind() string { return KindStart }

// JobInserter inserts a job in the caller's transaction (InsertTx) or on
// its own (Insert); *jobs.Runner satisfies it.
type JobInserter interface {
	InsertTx(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

type riverScheduler struct{ j JobInserter }

func (r riverScheduler) SchedulePush(ctx context.Context, id string, force bool, at time.Time) error {
	if _, err := r.j.InsertTx(ctx, pushArgs{ID: id, Force: force},
		&river.InsertOpts{ScheduledAt: at, MaxAttempts: pushMaxAttempts}); err != nil {
		return fmt.Errorf("insert push job: %w", err)
	}
	return nil
}

// UseJobs sets the runner pushes are enqueued with; call it at wiring,
// before serving.
func (s *Service) UseJobs(j JobInserter) { s.d.Scheduler = riverScheduler{j: j}; s.jobs = j }

// EnqueueStartPush inserts the job that pushes every integration once,
// when a server starts. Replicas starting within the same minute insert
// it once (River's unique jobs), so a rolling restart does not push every
// integration once per replica.
func (s *Service) EnqueueStartPush(ctx context.Context) error {
	if s.jobs == nil {
		return fmt.Errorf("integration: no job runner (UseJobs)")
	}
	if _, err := s.jobs.Insert(ctx, startArgs{}, &river.InsertOpts{MaxAttempts: pushMaxAttempts,
		UniqueOpts: river.UniqueOpts{ByPeriod: time.Minute}}); err != nil {
		return fmt.Errorf("insert start push job: %w", err)
	}
	return nil
}

// Register adds the push workers (jobs.Deps.Register).
func (s *Service) Register(w *river.Workers) error {
	if err := river.AddWorkerSafely(w, &pushWorker{s: s}); err != nil {
		return err
	}
	if err := river.AddWorkerSafely(w, &sweepWorker{s: s}); err != nil {
		return err
	}
	return river.AddWorkerSafely(w, &startWorker{s: s})
}

// Periodic is the sweep (jobs.Deps.Periodic).
func (s *Service) Periodic() []jobs.Periodic {
	return []jobs.Periodic{{Args: sweepArgs{}, Every: SweepEvery}}
}

type pushWorker struct {
	river.WorkerDefaults[pushArgs]
	s *Service
}

func (w *pushWorker) Work(ctx context.Context, job *river.Job[pushArgs]) error {
	return w.s.Push(ctx, job.Args.ID, job.Args.Force)
}

type sweepWorker struct {
	river.WorkerDefaults[sweepArgs]
	s *Service
}

func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[sweepArgs]) error {
	return w.s.PushDue(ctx)
}

type startWorker struct {
	river.WorkerDefaults[startArgs]
	s *Service
}

func (w *startWorker) Work(ctx context.Context, _ *river.Job[startArgs]) error {
	return w.s.PushAll(ctx)
}
