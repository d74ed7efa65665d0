package connector

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"ward/internal/actor"
	"ward/internal/jobs"
)

// Job kinds, stored in river_job: never rename them.
const (
	// KindRefresh refreshes one connector's tokens, scheduled ahead of
	// their expiry by priming and by each refresh.
	KindRefresh = "connector_refresh"
	// KindSweep refreshes every connector that is due: the safety net
	// under the scheduled jobs (a job lost, a clock moved).
	KindSweep = "connector_refresh_sweep"
)

// SweepEvery is how often the sweep runs.
const SweepEvery = time.Minute

// refreshMaxAttempts bounds the retries of a refresh that fails for a
// while (5xx, network): River backs off between them; the sweep takes
// over after the last one.
const refreshMaxAttempts = 8

type refreshArgs struct {
	Name string `json:"name"`
}

func (refreshArgs) Kind() string { return KindRefresh }

type sweepArgs struct{}

func (sweepArgs) Kind() string { return KindSweep }

// JobInserter inserts a job in the caller's transaction; *jobs.Runner
// satisfies it.
type JobInserter interface {
	InsertTx(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// riverScheduler schedules refresh jobs with River.
type riverScheduler struct{ j JobInserter }

func (r riverScheduler) ScheduleRefresh(ctx context.Context, name string, at time.Time) error {
	if _, err := r.j.InsertTx(ctx, refreshArgs{Name: name},
		&river.InsertOpts{ScheduledAt: at, MaxAttempts: refreshMaxAttempts}); err != nil {
		return fmt.Errorf("insert refresh job: %w", err)
	}
	return nil
}

// UseJobs sets the runner that refresh jobs are scheduled with; call it
// at wiring, before serving.
func (s *Service) UseJobs(j JobInserter) { s.d.Scheduler = riverScheduler{j: j} }

// Register adds the refresh workers (jobs.Deps.Register).
func (s *Service) Register(w *river.Workers) error {
	if err := river.AddWorkerSafely(w, &refreshWorker{s: s}); err != nil {
		return err
	}
	return river.AddWorkerSafely(w, &sweepWorker{s: s})
}

// Periodic is the sweep (jobs.Deps.Periodic).
func (s *Service) Periodic() []jobs.Periodic {
	return []jobs.Periodic{{Args: sweepArgs{}, Every: SweepEvery}}
}

type refreshWorker struct {
	river.WorkerDefaults[refreshArgs]
	s *Service
}

// Work refreshes the connector if it is due, as ward itself. A temporary
// failure returns an error, which River retries with its backoff; a
// permanent one has disconnected the connector and returns nil.
func (w *refreshWorker) Work(ctx context.Context, job *river.Job[refreshArgs]) error {
	return w.s.Refresh(actor.System(ctx), job.Args.Name)
}

type sweepWorker struct {
	river.WorkerDefaults[sweepArgs]
	s *Service
}

func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[sweepArgs]) error {
	return w.s.RefreshDue(actor.System(ctx))
}
