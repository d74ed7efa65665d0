package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"ward/internal/actor"
	"ward/internal/audit"
)

// TokenJanitor keeps the issued-token records tidy. Both methods are
// idempotent and safe to run on several replicas at once; each returns how
// many records it acted on.
type TokenJanitor interface {
	// PurgeExpiredTokens deletes the issued-token records past their expiry
	// (every batch, not just one) and returns how many.
	PurgeExpiredTokens(ctx context.Context) (int, error)
	// AlertExpiringServiceTokens alerts the sponsor of every active service
	// token expiring within window from now and returns how many it alerted.
	// The janitor calls it every JanitorInterval with the same window, so it
	// must alert a sponsor once per token expiry, not on every call.
	AlertExpiringServiceTokens(ctx context.Context, window time.Duration) (int, error)
}

// KeyRotator rotates and prunes the JWT signing keys; *keys.Manager
// satisfies it.
type KeyRotator interface {
	// RotateIfOlder rotates every algorithm's key when some current key was
	// activated more than maxAge ago (maxAge must be positive), keeping the
	// retired keys published for maxTokenLifetime, and reports whether it
	// did. Losing a race with another replica's rotation is (false, nil).
	RotateIfOlder(ctx context.Context, maxAge, maxTokenLifetime time.Duration) (bool, error)
	// PruneRetired deletes the keys no longer published and returns how many.
	PruneRetired(ctx context.Context) (int, error)
}

// SessionPurger deletes dead browser sessions; *session.Service satisfies it.
type SessionPurger interface {
	// PurgeExpired deletes every session past its idle timeout or absolute
	// lifetime and returns how many.
	PurgeExpired(ctx context.Context) (int, error)
}

// AuditCheckpointer signs the audit chain's head and writes it outside the
// database; *audit.Checkpointer satisfies it. Checkpoint returns nil when
// there was nothing new to record.
type AuditCheckpointer interface {
	Checkpoint(ctx context.Context) (*audit.Checkpoint, error)
}

// Job kinds of the maintenance jobs. They are stored in river_job and so are
// part of the database format: never rename one.
const (
	KindTokenJanitor    = "ward.token_janitor"
	KindKeyRotation     = "ward.key_rotation"
	KindSessionPurge    = "ward.session_purge"
	KindAuditCheckpoint = "ward.audit_checkpoint"
)

// maintenanceTimeout bounds one run of a maintenance job: a purge of a large
// backlog (after a long outage) may well take longer than River's one-minute
// default, and is simply picked up again by the next run if it does not.
const maintenanceTimeout = 10 * time.Minute

// periodicMaxAttempts is how often a failed periodic run is tried: a couple
// of retries cover a transient error; past that the next scheduled run is the
// retry, rather than River's 25 attempts spread over weeks.
const periodicMaxAttempts = 3

// The maintenance jobs take no arguments: what they need (windows, ages)
// comes from the Config of the replica that works them, so a configuration
// change applies to jobs already queued.
type (
	tokenJanitorArgs    struct{}
	keyRotationArgs     struct{}
	sessionPurgeArgs    struct{}
	auditCheckpointArgs struct{}
)

func (tokenJanitorArgs) Kind() string    { return KindTokenJanitor }
func (keyRotationArgs) Kind() string     { return KindKeyRotation }
func (sessionPurgeArgs) Kind() string    { return KindSessionPurge }
func (auditCheckpointArgs) Kind() string { return KindAuditCheckpoint }

// periodic is one periodic maintenance job.
type periodic struct {
	args  river.JobArgs
	every time.Duration
}

func periodicJobs(cfg Config) []periodic {
	return []periodic{
		{tokenJanitorArgs{}, cfg.JanitorInterval},
		{keyRotationArgs{}, cfg.KeyRotationCheck},
		{sessionPurgeArgs{}, cfg.SessionPurgeInterval},
	}
}

// insertOpts makes each run a unique job per half interval. River's
// periodic enqueuer runs on the leader only, but a new leader (after a
// failover or a restart) enqueues every job at once (RunOnStart, so that a
// process restarted more often than the interval still runs its jobs); the
// unique period bounds that to one extra run per interval. Half an interval
// rather than a whole one, because the enqueuer inserts up to 100ms early:
// with whole-interval periods a run inserted just after a period boundary
// would make the next scheduled run, inserted just before the next boundary,
// a duplicate and skip it.
func (p periodic) insertOpts() *river.InsertOpts {
	return &river.InsertOpts{
		MaxAttempts: periodicMaxAttempts,
		UniqueOpts:  river.UniqueOpts{ByPeriod: max(p.every/2, time.Second)},
	}
}

func (p periodic) riverJob() *river.PeriodicJob {
	opts := p.insertOpts()
	return river.NewPeriodicJob(
		river.PeriodicInterval(p.every),
		func() (river.JobArgs, *river.InsertOpts) { return p.args, opts },
		&river.PeriodicJobOpts{ID: p.args.Kind(), RunOnStart: true},
	)
}

type tokenJanitorWorker struct {
	river.WorkerDefaults[tokenJanitorArgs]
	tokens TokenJanitor
	window time.Duration
	log    *slog.Logger
}

func (w *tokenJanitorWorker) Timeout(*river.Job[tokenJanitorArgs]) time.Duration {
	return maintenanceTimeout
}

// Work purges, then alerts; a failure of one does not skip the other.
func (w *tokenJanitorWorker) Work(ctx context.Context, _ *river.Job[tokenJanitorArgs]) error {
	ctx = actor.System(ctx)
	purged, perr := w.tokens.PurgeExpiredTokens(ctx)
	if perr != nil {
		perr = fmt.Errorf("purge expired tokens: %w", perr)
	}
	alerted, aerr := w.tokens.AlertExpiringServiceTokens(ctx, w.window)
	if aerr != nil {
		aerr = fmt.Errorf("alert sponsors of expiring service tokens: %w", aerr)
	}
	if err := errors.Join(perr, aerr); err != nil {
		return err
	}
	w.log.InfoContext(ctx, "token janitor ran",
		slog.Int("expired_tokens_purged", purged),
		slog.Int("expiring_service_tokens_alerted", alerted),
		slog.Duration("alert_window", w.window))
	return nil
}

type keyRotationWorker struct {
	river.WorkerDefaults[keyRotationArgs]
	keys             KeyRotator
	maxAge           time.Duration // 0: never rotate, only prune
	maxTokenLifetime time.Duration
	log              *slog.Logger
}

func (w *keyRotationWorker) Timeout(*river.Job[keyRotationArgs]) time.Duration {
	return maintenanceTimeout
}

// Work rotates keys that are due, then prunes the retired keys no longer
// published; a failed rotation does not skip the pruning.
func (w *keyRotationWorker) Work(ctx context.Context, _ *river.Job[keyRotationArgs]) error {
	ctx = actor.System(ctx)
	var rotated bool
	var rerr error
	if w.maxAge > 0 {
		rotated, rerr = w.keys.RotateIfOlder(ctx, w.maxAge, w.maxTokenLifetime)
		if rerr != nil {
			rerr = fmt.Errorf("rotate signing keys: %w", rerr)
		}
	}
	pruned, perr := w.keys.PruneRetired(ctx)
	if perr != nil {
		perr = fmt.Errorf("prune retired signing keys: %w", perr)
	}
	if err := errors.Join(rerr, perr); err != nil {
		return err
	}
	w.log.InfoContext(ctx, "signing key check ran",
		slog.Bool("rotated", rotated),
		slog.Bool("rotation_enabled", w.maxAge > 0),
		slog.Int("retired_keys_pruned", pruned))
	return nil
}

type sessionPurgeWorker struct {
	river.WorkerDefaults[sessionPurgeArgs]
	sessions SessionPurger
	log      *slog.Logger
}

func (w *sessionPurgeWorker) Timeout(*river.Job[sessionPurgeArgs]) time.Duration {
	return maintenanceTimeout
}

func (w *sessionPurgeWorker) Work(ctx context.Context, _ *river.Job[sessionPurgeArgs]) error {
	ctx = actor.System(ctx)
	n, err := w.sessions.PurgeExpired(ctx)
	if err != nil {
		return fmt.Errorf("purge expired sessions: %w", err)
	}
	w.log.InfoContext(ctx, "session purge ran", slog.Int("expired_sessions_purged", n))
	return nil
}

// auditCheckpointWorker takes a signed checkpoint of the audit chain. The
// checkpoint lands in the data directory of the replica that works the job
// and in its log; the log is what reaches a central store from every
// replica.
type auditCheckpointWorker struct {
	river.WorkerDefaults[auditCheckpointArgs]
	checkpoints AuditCheckpointer
	log         *slog.Logger
}

func (w *auditCheckpointWorker) Work(ctx context.Context, _ *river.Job[auditCheckpointArgs]) error {
	cp, err := w.checkpoints.Checkpoint(actor.System(ctx))
	if err != nil {
		return fmt.Errorf("audit checkpoint: %w", err)
	}
	if cp == nil {
		w.log.DebugContext(ctx, "audit checkpoint skipped: the chain head has not moved")
	}
	return nil
}
