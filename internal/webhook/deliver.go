package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/jobs"
)

// Attempt is the outcome of one try of a delivery, or the release of a
// claim that was not tried (the round ran out of time, or the worker was
// stopped), as RecordAttempts writes it.
type Attempt struct {
	DeliveryID int64
	// Released: not tried; the delivery is due again at NextAttemptAt.
	Released  bool
	Succeeded bool
	// Attempts is the delivery's attempt count after this one.
	Attempts       int
	At             time.Time
	NextAttemptAt  time.Time
	ResponseStatus int
	Error          string
	Latency        time.Duration
}

// Delivery outcomes, the metric labels.
const (
	OutcomeSucceeded = "succeeded"
	OutcomeFailed    = "failed"
)

// headsPerParallel: a round claims this many subjects' heads per parallel
// sender, so the senders stay busy while a few chains run long.
const headsPerParallel = 4

// deliverBudget bounds one Deliver call (one job run): a subscription
// with more work is picked up by the next job, which the dispatcher's
// sweep queues.
const deliverBudget = 30 * time.Second

// maxErrorLen bounds the stored last error (and the receiver's answer in
// it: a short snippet, never the whole body).
const maxErrorLen = 300

// snippetLen bounds the part of a receiver's answer quoted in last_error.
const snippetLen = 100

// lease is how long a round's claim on its heads lasts: two request
// timeouts and a margin. A round starts no send after roundBudget, so it
// records before the claim lapses; a worker that dies leaves its heads
// to be taken again when the claim lapses.
func (o *Outbox) lease() time.Duration { return 2*o.cfg.Timeout + 30*time.Second }

func (o *Outbox) roundBudget() time.Duration { return o.cfg.Timeout + 20*time.Second }

// backoff is the wait before the next try after the attempts-th failed
// one: uniform between BackoffBase/2 and min(BackoffCap,
// BackoffBase·2^(attempts-1)) (jitter, so that many subscriptions failing
// together do not retry in step).
func (o *Outbox) backoff(attempts int) time.Duration {
	hi := o.cfg.BackoffCap
	if attempts < 1 {
		attempts = 1
	}
	if attempts-1 < 32 {
		if d := o.cfg.BackoffBase << (attempts - 1); d > 0 && d < hi {
			hi = d
		}
	}
	lo := o.cfg.BackoffBase / 2
	r := rand.Float64
	if o.cfg.Rand != nil {
		r = o.cfg.Rand
	}
	return lo + time.Duration(r()*float64(hi-lo))
}

// Deliver sends the due deliveries of subscription id, round after round,
// until none is due, the subscription is disabled or gone, ctx ends or the
// run's budget is spent. Each round claims the due head of up to
// Parallel·4 subjects, sends the subjects in parallel (at most Parallel at
// once) and each subject's chain in order, stopping a chain at its first
// failure, then records every attempt in one transaction. Status is
// written after the send: a worker killed before recording sends again
// (with the same webhook-id) once its claim lapses, so delivery is at
// least once and nothing is lost.
func (o *Outbox) Deliver(ctx context.Context, id string) error {
	end := o.cfg.Now().Add(deliverBudget)
	for ctx.Err() == nil && o.cfg.Now().Before(end) {
		n, err := o.round(ctx, id)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
	return nil
}

// sent is one chain's attempts, in the order they finished.
type sent struct {
	mu       sync.Mutex
	attempts []Attempt
}

func (s *sent) add(a Attempt) {
	s.mu.Lock()
	s.attempts = append(s.attempts, a)
	s.mu.Unlock()
}

// round runs one round and returns how many deliveries it tried.
func (o *Outbox) round(ctx context.Context, id string) (int, error) {
	sub, err := o.d.Store.GetWebhook(ctx, id)
	if apperr.Is(err, apperr.NotFound) {
		return 0, nil // deleted, with its deliveries
	}
	if err != nil {
		return 0, fmt.Errorf("webhook deliver: %w", err)
	}
	if sub.Status != StatusEnabled {
		return 0, nil // a disabled subscription sends nothing; its deliveries wait
	}
	start := o.cfg.Now()
	secrets, err := openSecrets(o.d.Sealer, sub, start)
	if err != nil {
		return 0, err
	}
	chains, err := o.d.Store.ClaimDeliveries(ctx, id, start, start.Add(o.lease()), o.cfg.Parallel*headsPerParallel, o.cfg.Chain)
	if err != nil {
		return 0, fmt.Errorf("webhook deliver: claim: %w", err)
	}
	if len(chains) == 0 {
		return 0, nil
	}
	stopAt := start.Add(o.roundBudget())
	var (
		res  sent
		wg   sync.WaitGroup
		sem  = make(chan struct{}, o.cfg.Parallel)
		sub0 = sub
	)
	for _, chain := range chains {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			o.sendChain(ctx, sub0, secrets, chain, start, stopAt, &res)
		}()
	}
	wg.Wait()
	tried := 0
	for _, a := range res.attempts {
		if !a.Released {
			tried++
		}
	}
	// Record even when ctx was cancelled (the job is being stopped): what
	// was sent is recorded, and claims not tried are released, so a
	// restart resends only what may not have arrived.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := o.record(rctx, sub, res.attempts); err != nil {
		return 0, err
	}
	if ctx.Err() != nil {
		return 0, nil
	}
	return tried, nil
}

// sendChain sends one subject's chain in order: the claimed head, then
// its followers while they are due and the previous one succeeded. A head
// it does not try is released; an untried follower needs no release (it
// was never claimed: the unsucceeded head kept it back).
func (o *Outbox) sendChain(ctx context.Context, sub *Subscription, secrets []string, chain []*Delivery,
	roundStart, stopAt time.Time, res *sent) {
	for i, d := range chain {
		if i > 0 && d.NextAttemptAt.After(roundStart) {
			return // a follower not yet due (tried before, waiting out its backoff)
		}
		if ctx.Err() != nil || !o.cfg.Now().Before(stopAt) {
			if i == 0 {
				res.add(Attempt{DeliveryID: d.ID, Released: true, NextAttemptAt: o.cfg.Now()})
			}
			return
		}
		a := o.send(ctx, sub, secrets, d)
		if ctx.Err() != nil && !a.Succeeded {
			// Stopped mid-send: not the receiver's failure. Release the
			// head so that a restart sends it again at once; a follower
			// was never claimed.
			if i == 0 {
				res.add(Attempt{DeliveryID: d.ID, Released: true, NextAttemptAt: o.cfg.Now()})
			}
			return
		}
		res.add(a)
		if !a.Succeeded {
			return
		}
	}
}

// send makes one attempt of d.
func (o *Outbox) send(ctx context.Context, sub *Subscription, secrets []string, d *Delivery) Attempt {
	now := o.cfg.Now()
	a := Attempt{DeliveryID: d.ID, Attempts: d.Attempts + 1, At: now}
	headers, err := Sign(MessageID(d.EventID), now, d.Payload, secrets...)
	if err != nil {
		a.Error = cut(err.Error(), maxErrorLen)
	} else {
		headers["Content-Type"] = "application/json"
		t0 := time.Now()
		status, snippet, perr := o.d.Poster.Post(ctx, sub.URL, headers, d.Payload)
		a.Latency = time.Since(t0)
		a.ResponseStatus = status
		switch {
		case perr != nil:
			a.Error = cut(perr.Error(), maxErrorLen)
		case status >= 200 && status < 300:
			a.Succeeded = true
		default:
			a.Error = cut(fmt.Sprintf("receiver answered %d: %s", status, cut(string(snippet), snippetLen)), maxErrorLen)
		}
	}
	outcome := OutcomeSucceeded
	if !a.Succeeded {
		outcome = OutcomeFailed
		a.NextAttemptAt = now.Add(o.backoff(a.Attempts))
	}
	if o.d.Observer != nil && ctx.Err() == nil {
		o.d.Observer.ObserveDelivery(outcome, a.Latency)
	}
	return a
}

// record writes a round's attempts, and the subscription's failure run, in
// one transaction. The run counts consecutive failures since the last
// success (or the enabling that reset it), at most one per retry step: a
// failed attempt adds one only when its delivery has been tried more often
// than the run is long. Subjects failing together in one round so count
// once, and a receiver that is down fails its run at the pace of the
// backoff, whatever its traffic; one delivery that keeps failing while
// others succeed never builds a run. At MaxFailures the subscription is
// disabled, audited in the same transaction.
func (o *Outbox) record(ctx context.Context, sub *Subscription, as []Attempt) error {
	if len(as) == 0 {
		return nil
	}
	now := o.cfg.Now()
	err := o.d.Tx.InTx(ctx, func(ctx context.Context) error {
		if err := o.d.Store.RecordAttempts(ctx, as); err != nil {
			return err
		}
		cur, err := o.d.Store.LockWebhook(ctx, sub.ID)
		if apperr.Is(err, apperr.NotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		run, lastErr := cur.FailureRun, ""
		for _, a := range as {
			switch {
			case a.Released:
			case a.Succeeded:
				run = 0
			default:
				// One step per retry round of the longest-failing delivery:
				// subjects failing together count once, and a delivery
				// failing long (attempts far above the run, after a
				// success or an enabling reset it) starts a run afresh.
				if a.Attempts > run {
					run++
				}
				lastErr = a.Error
			}
		}
		disable := cur.Status == StatusEnabled && run >= o.cfg.MaxFailures
		if run == cur.FailureRun && !disable {
			return nil
		}
		reason := ""
		if disable {
			reason = fmt.Sprintf("%d consecutive failed deliveries; last: %s", run, lastErr)
		}
		if err := o.d.Store.SetWebhookFailureRun(ctx, sub.ID, run, disable, reason, now); err != nil {
			return err
		}
		if !disable {
			return nil
		}
		o.log.WarnContext(ctx, "webhook disabled after a run of failed deliveries",
			slog.String("webhook_id", sub.ID), slog.Int("failure_run", run), slog.String("last_error", lastErr))
		return o.d.Audit.Record(actor.System(ctx), audit.Change{
			Type: audit.WebhookDisabled, Subject: audit.Ref("Webhook", sub.ID),
			Fields: map[string]any{"reason": "failure_run", "failure_run": run, "max_failures": o.cfg.MaxFailures,
				"last_error": cut(lastErr, 200)},
			Comment: "disabled by ward: " + reason,
		})
	})
	if err != nil {
		return fmt.Errorf("webhook deliver: record attempts: %w", err)
	}
	return nil
}

// cut shortens s to at most n bytes on a rune boundary.
func cut(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Sweep queues a delivery job for every enabled subscription with a due
// delivery: the safety net under the jobs Dispatch queues (one lost, a
// retry come due, a subscription enabled again, a claim lapsed after a
// crash). It returns how many it queued.
func (o *Outbox) Sweep(ctx context.Context) (int, error) {
	if o.jobs == nil {
		return 0, nil
	}
	n := 0
	err := o.d.Tx.InTx(ctx, func(ctx context.Context) error {
		ids, err := o.d.Store.DueWebhooks(ctx, o.cfg.Now(), 10000)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := o.Kick(ctx, id); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("webhook sweep: %w", err)
	}
	return n, nil
}

// deliverArgs is the delivery job: which subscription to send for.
type deliverArgs struct {
	WebhookID string `json:"webhook_id"`
}

func (deliverArgs) Kind() string { return KindDeliver }

type dispatchArgs struct{}

func (dispatchArgs) Kind() string { return KindDispatch }

// deliverMaxAttempts: a job that fails (the database, not a receiver: a
// receiver's failure is recorded, not returned) is retried a few times;
// the sweep queues another after that.
const deliverMaxAttempts = 3

// Kick queues a delivery job for subscription id in the transaction in
// ctx (for the control side: a replay, an enabling). Jobs are unique per
// subscription and second while queued or running, so kicks do not pile
// up; one that finds the work already taken does nothing. Without a job
// runner it does nothing (the sweep of a serving replica picks it up).
func (o *Outbox) Kick(ctx context.Context, id string) error {
	if o.jobs == nil {
		return nil
	}
	_, err := o.jobs.InsertTx(ctx, deliverArgs{WebhookID: id}, &river.InsertOpts{
		MaxAttempts: deliverMaxAttempts,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: time.Second, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateScheduled, rivertype.JobStateRetryable,
		}},
	})
	if err != nil {
		return fmt.Errorf("queue webhook %s's delivery: %w", id, err)
	}
	return nil
}

// Register adds the dispatch and delivery workers (jobs.Deps.Register).
func (o *Outbox) Register(w *river.Workers) error {
	return errors.Join(river.AddWorkerSafely(w, &dispatchWorker{o: o}), river.AddWorkerSafely(w, &deliverWorker{o: o}))
}

// Periodic is the dispatcher (jobs.Deps.Periodic).
func (o *Outbox) Periodic() []jobs.Periodic {
	return []jobs.Periodic{{Args: dispatchArgs{}, Every: DispatchEvery}}
}

type dispatchWorker struct {
	river.WorkerDefaults[dispatchArgs]
	o *Outbox
}

// Work dispatches what is new, then sweeps, as ward itself.
func (w *dispatchWorker) Work(ctx context.Context, _ *river.Job[dispatchArgs]) error {
	ctx = actor.System(ctx)
	_, derr := w.o.Dispatch(ctx)
	_, serr := w.o.Sweep(ctx)
	return errors.Join(derr, serr)
}

type deliverWorker struct {
	river.WorkerDefaults[deliverArgs]
	o *Outbox
}

// Timeout covers a whole run: its budget and a last round's claim.
func (w *deliverWorker) Timeout(*river.Job[deliverArgs]) time.Duration {
	return deliverBudget + w.o.lease()
}

func (w *deliverWorker) Work(ctx context.Context, job *river.Job[deliverArgs]) error {
	return w.o.Deliver(actor.System(ctx), job.Args.WebhookID)
}
