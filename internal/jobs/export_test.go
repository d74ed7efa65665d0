package jobs

import (
	"context"
	"fmt"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// JobsOfKind lists (up to 100) jobs of kind in any state.
func JobsOfKind(ctx context.Context, r *Runner, kind string) ([]*rivertype.JobRow, error) {
	res, err := r.client.JobList(ctx, river.NewJobListParams().Kinds(kind))
	if err != nil {
		return nil, err
	}
	return res.Jobs, nil
}

// GetJob returns one job by id.
func GetJob(ctx context.Context, r *Runner, id int64) (*rivertype.JobRow, error) {
	return r.client.JobGet(ctx, id)
}

// InsertPeriodicRun inserts one run of the periodic job of kind with the
// options its schedule uses, as the leader's enqueuer would.
func InsertPeriodicRun(ctx context.Context, r *Runner, cfg Config, kind string) (*rivertype.JobInsertResult, error) {
	for _, p := range periodicJobs(cfg) {
		if p.args.Kind() == kind {
			return r.client.Insert(ctx, p.args, p.insertOpts())
		}
	}
	return nil, fmt.Errorf("no periodic job of kind %q", kind)
}
