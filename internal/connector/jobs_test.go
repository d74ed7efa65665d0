package connector_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"ward/internal/connector"
	"ward/internal/testutil"
)

// jobLog records the jobs the service inserts.
type jobLog struct {
	mu   sync.Mutex
	jobs []scheduled
}

type scheduled struct {
	kind, args string
	at         time.Time
	max        int
}

func (j *jobLog) InsertTx(_ context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	b, _ := json.Marshal(args)
	j.mu.Lock()
	defer j.mu.Unlock()
	j.jobs = append(j.jobs, scheduled{kind: args.Kind(), args: string(b), at: opts.ScheduledAt, max: opts.MaxAttempts})
	return &rivertype.JobInsertResult{}, nil
}

func (j *jobLog) last(t *testing.T) scheduled {
	t.Helper()
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.jobs) == 0 {
		t.Fatal("no job scheduled")
	}
	return j.jobs[len(j.jobs)-1]
}

// TestRefreshJobs: priming and each refresh schedule the next refresh
// ahead of expiry; the job refreshes when due, asks River to retry a
// temporary failure, and ends quietly on a disconnected connector.
func TestRefreshJobs(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		r := e.replica()
		jobs := &jobLog{}
		r.svc.UseJobs(jobs)
		e.prime(r)
		// An hour's token: refreshed a fifth of its life (12 minutes)
		// before it expires.
		j := jobs.last(t)
		if j.kind != connector.KindRefresh || j.args != `{"name":"campdoc"}` || j.max < 2 ||
			!j.at.Equal(e.clk.Now().Add(48*time.Minute)) {
			t.Fatalf("after priming, scheduled %+v (now %v)", j, e.clk.Now())
		}
		ctx := context.Background()
		if err := r.svc.RunRefreshJob(ctx, "campdoc"); err != nil || e.mis.spends != 0 {
			t.Fatalf("an early job: %v, %d spends; want nothing done", err, e.mis.spends)
		}
		e.clk.Add(48 * time.Minute)
		if err := r.svc.RunRefreshJob(ctx, "campdoc"); err != nil || e.mis.spends != 1 {
			t.Fatalf("the job when due: %v, %d spends", err, e.mis.spends)
		}
		if j := jobs.last(t); !j.at.Equal(e.clk.Now().Add(48 * time.Minute)) {
			t.Fatalf("after the refresh, scheduled %+v", j)
		}

		e.clk.Add(50 * time.Minute)
		e.mis.unhealthy = true
		if err := r.svc.RunRefreshJob(ctx, "campdoc"); err == nil {
			t.Fatal("the job on a 503 returned nil; River must retry it")
		}
		if err := r.svc.RunSweepJob(ctx); err == nil {
			t.Fatal("the sweep on a 503 returned nil")
		}
		e.mis.unhealthy = false
		if err := r.svc.RunSweepJob(ctx); err != nil || e.mis.spends != 2 {
			t.Fatalf("the sweep once the MIS is back: %v, %d spends", err, e.mis.spends)
		}

		e.clk.Add(50 * time.Minute)
		e.mis.revoked = true
		if err := r.svc.RunRefreshJob(ctx, "campdoc"); err != nil {
			t.Fatalf("the job on a revoked grant: %v; want nil (disconnected, nothing to retry)", err)
		}
		if c, _ := r.svc.Get(admin(), "campdoc"); c.Status != connector.StatusDisconnected {
			t.Fatalf("status %s, want disconnected", c.Status)
		}
		if err := r.svc.RunSweepJob(ctx); err != nil {
			t.Fatalf("the sweep with a disconnected connector: %v", err)
		}
	})
}
