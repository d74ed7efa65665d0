package jobs_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"ward/internal/jobs"
	"ward/internal/testutil"
)

type tickArgs struct{}

func (tickArgs) Kind() string { return "test.tick" }

type tickWorker struct {
	river.WorkerDefaults[tickArgs]
	runs *atomic.Int32
}

func (w *tickWorker) Work(context.Context, *river.Job[tickArgs]) error {
	w.runs.Add(1)
	return nil
}

// A periodic job added through Deps runs on its schedule, with its worker
// from Register.
func TestDepsPeriodicJobRuns(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		db := migratedStore(t, url)
		var runs atomic.Int32
		deps := fakeDeps(newRecorder())
		deps.Register = func(w *river.Workers) error {
			return river.AddWorkerSafely(w, &tickWorker{runs: &runs})
		}
		deps.Periodic = []jobs.Periodic{{Args: tickArgs{}, Every: time.Second}}
		r := newRunner(t, db, url, jobs.Default(), deps)
		start(t, r)
		waitFor(t, "the periodic job to run", func() bool { return runs.Load() > 0 })
	})
}

func TestDepsPeriodicJobIsChecked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		p    []jobs.Periodic
		want string
	}{
		{"no args", []jobs.Periodic{{Every: time.Minute}}, "no arguments"},
		{"too often", []jobs.Periodic{{Args: tickArgs{}, Every: time.Millisecond}}, "at least"},
		{"twice", []jobs.Periodic{{Args: tickArgs{}, Every: time.Minute}, {Args: tickArgs{}, Every: time.Hour}}, "twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deps := fakeDeps(newRecorder())
			deps.DB = pgOnly{}
			deps.DatabaseURL = "postgres://unused"
			deps.Periodic = tc.p
			_, err := jobs.New(context.Background(), jobs.Default(), deps)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	// The allowed case beside the refused ones: a valid schedule passes
	// validation (New then fails only on the fake database).
	deps := fakeDeps(newRecorder())
	deps.DB = pgOnly{}
	deps.DatabaseURL = "postgres://127.0.0.1:1/unused"
	deps.Periodic = []jobs.Periodic{{Args: tickArgs{}, Every: time.Minute}}
	if _, err := jobs.New(context.Background(), jobs.Default(), deps); err != nil && strings.Contains(err.Error(), "periodic") {
		t.Fatalf("valid periodic job refused: %v", err)
	}
}
