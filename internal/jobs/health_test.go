package jobs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/jobs"
	"ward/internal/testutil"
)

type failArgs struct{}

func (failArgs) Kind() string { return "test.fail" }

type failWorker struct {
	river.WorkerDefaults[failArgs]
}

func (failWorker) Work(context.Context, *river.Job[failArgs]) error {
	return errors.New("always fails")
}

// roleTable is a directory.RoleReader over a fixed table.
type roleTable map[int64][]string

func (r roleTable) UserRoles(_ context.Context, id int64) ([]string, error) {
	if rs, ok := r[id]; ok {
		return rs, nil
	}
	return nil, apperr.New(apperr.NotFound, "no user %d", id)
}

// TestHealth: an administrator reads the queue's counts by state, a job
// River gave up on shows as discarded within the window and not before
// it, and a developer, a patient or a client is refused.
func TestHealth(t *testing.T) {
	t.Parallel()
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		t.Parallel()
		db := migratedStore(t, url)
		deps := fakeDeps(newRecorder())
		deps.Roles = roleTable{1: {directory.RoleAdmin}, 2: {directory.RoleApplicationDeveloper}, 3: {directory.RolePatient}}
		deps.Register = func(ws *river.Workers) error { return river.AddWorkerSafely(ws, failWorker{}) }
		r := newRunner(t, db, url, jobs.Default(), deps)
		ctx := context.Background()
		admin := actor.With(ctx, actor.Actor{UserID: 1})
		dayAgo := time.Now().Add(-24 * time.Hour)

		// Not started: the job waits, available.
		res, err := r.Insert(ctx, failArgs{}, &river.InsertOpts{MaxAttempts: 1})
		if err != nil {
			t.Fatalf("insert: %v", err)
		}
		h, err := r.Health(admin, dayAgo)
		if err != nil || h.Available < 1 || h.Discarded != 0 {
			t.Fatalf("before start: %+v, %v; want an available job and none discarded", h, err)
		}
		for name, who := range map[string]actor.Actor{"developer": {UserID: 2}, "patient": {UserID: 3}, "client": {ClientID: "c"}} {
			if _, err := r.Health(actor.With(ctx, who), dayAgo); !apperr.Is(err, apperr.Forbidden) {
				t.Errorf("%s: %v, want Forbidden", name, err)
			}
		}
		if _, err := r.Health(ctx, dayAgo); !apperr.Is(err, apperr.Unauthenticated) {
			t.Errorf("anonymous: %v, want Unauthenticated", err)
		}

		start(t, r)
		waitFor(t, "the failing job to be discarded", func() bool {
			j, err := jobs.GetJob(ctx, r, res.Job.ID)
			return err == nil && j.State == rivertype.JobStateDiscarded
		})
		h, err = r.Health(admin, dayAgo)
		if err != nil || h.Discarded != 1 {
			t.Errorf("after the job failed: %+v, %v; want 1 discarded", h, err)
		}
		// A window that starts after the discard does not count it.
		if h, err := r.Health(admin, time.Now().Add(time.Hour)); err != nil || h.Discarded != 0 {
			t.Errorf("window after the discard: %+v, %v; want none", h, err)
		}
		if h, err := r.Health(actor.System(ctx), dayAgo); err != nil || h.Discarded != 1 {
			t.Errorf("ward itself: %+v, %v", h, err)
		}
	})
}
