package connector

import (
	"context"

	"github.com/riverqueue/river"
)

// RunRefreshJob runs the refresh worker once for name, as River would.
func (s *Service) RunRefreshJob(ctx context.Context, name string) error {
	return (&refreshWorker{s: s}).Work(ctx, &river.Job[refreshArgs]{Args: refreshArgs{Name: name}})
}

// RunSweepJob runs the sweep worker once.
func (s *Service) RunSweepJob(ctx context.Context) error {
	return (&sweepWorker{s: s}).Work(ctx, &river.Job[sweepArgs]{})
}
