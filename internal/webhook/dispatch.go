package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"ward/internal/audit"
	"ward/internal/oauth/scope"
	"ward/internal/store"
)

// Job kinds, stored in river_job: never rename them.
const (
	// KindDispatch turns new audit events into deliveries (periodic).
	KindDispatch = "webhook.dispatch"
	// KindDeliver sends one subscription's due deliveries.
	KindDeliver = "webhook.deliver"
)

// DispatchEvery is how often the dispatcher runs: the delay between a
// committed change and its delivery is about this plus a job fetch.
const DispatchEvery = time.Second

// dispatchBatch is how many audit events one dispatch transaction reads:
// the transaction stays short, and a long backlog is several of them.
const dispatchBatch = 1000

// dispatchMaxBatches bounds one Dispatch call (a backlog after downtime is
// drained over several runs rather than by one job that never ends).
const dispatchMaxBatches = 50

// Target is a subscription as the dispatcher sees it: with what its client
// may read.
type Target struct {
	Sub *Subscription
	// Scope is the client's registered scope, space-separated.
	Scope string
	// Intervention is the intervention the client acts for, "" for none.
	Intervention string
}

// Subscribed is one person's "subscribed" access row on an intervention:
// the person's events go to the client acting for it (issue 13).
type Subscribed struct {
	UserID       int64
	Intervention string
}

// OutboxStore is what the dispatcher and the delivery worker need of the
// database. Implemented by internal/sqlstore; every method joins the
// transaction in ctx when there is one.
type OutboxStore interface {
	// LockDispatchCursor returns the id of the last dispatched audit
	// event, locking the cursor until the transaction ends, so that two
	// dispatchers (replicas) never dispatch one event twice; ok is false
	// when another dispatcher holds it (this one then has nothing to do).
	LockDispatchCursor(ctx context.Context) (lastEventID int64, ok bool, err error)
	// SetDispatchCursor moves the cursor.
	SetDispatchCursor(ctx context.Context, lastEventID int64) error
	// AuditEventsAfter returns at most limit events after afterID in id
	// order. Ids become visible in order (appends serialise on the audit
	// head), so nothing below a seen id can still appear.
	AuditEventsAfter(ctx context.Context, afterID int64, limit int) ([]audit.Event, error)
	// DispatchTargets returns every subscription, enabled or disabled,
	// whose client is not disabled, with the client's scope and
	// intervention.
	DispatchTargets(ctx context.Context) ([]Target, error)
	// SubscribedPeople returns the "subscribed" rows of the given people.
	SubscribedPeople(ctx context.Context, userIDs []int64) ([]Subscribed, error)
	// InsertDeliveries stores new deliveries (status pending, due at
	// their CreatedAt) and sets their IDs.
	InsertDeliveries(ctx context.Context, ds []*Delivery) error

	// GetWebhook reads one subscription (apperr NotFound when gone).
	GetWebhook(ctx context.Context, id string) (*Subscription, error)
	// LockWebhook reads one subscription in the transaction in ctx,
	// locking its row until the transaction ends.
	LockWebhook(ctx context.Context, id string) (*Subscription, error)
	// SetWebhookFailureRun records the subscription's failure run and,
	// when disable is set, disables it with reason (bumping its version).
	SetWebhookFailureRun(ctx context.Context, id string, run int, disable bool, reason string, now time.Time) error
	// ClaimDeliveries takes, in one transaction of its own, at most heads
	// due heads of webhookID's subjects (a head: unsucceeded, due at or
	// before now, and no earlier unsucceeded delivery of its subject) in
	// id order, claims them until `until` (their next attempt is moved
	// there, so no other worker takes them meanwhile, and a worker that
	// dies leaves them to be taken again then), and returns one chain per
	// head: the head, then up to chain-1 of the subject's following
	// unsucceeded deliveries in id order.
	ClaimDeliveries(ctx context.Context, webhookID string, now, until time.Time, heads, chain int) ([][]*Delivery, error)
	// RecordAttempts writes the outcome of each attempt, and for a
	// released claim its new due time; a succeeded delivery is never
	// changed again.
	RecordAttempts(ctx context.Context, as []Attempt) error
	// DueWebhooks returns the enabled subscriptions with an unsucceeded
	// delivery due at now, at most limit.
	DueWebhooks(ctx context.Context, now time.Time, limit int) ([]string, error)
}

// JobInserter inserts a job in the caller's transaction; *jobs.Runner
// satisfies it.
type JobInserter interface {
	InsertTx(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Poster sends one webhook request and returns the receiver's status with
// the start of its answer; *outbound.Client satisfies it (SSRF guard,
// timeout, no redirects). An error means no answer (refused address,
// timeout, redirect, connection failure).
type Poster interface {
	Post(ctx context.Context, url string, headers map[string]string, body []byte) (status int, snippet []byte, err error)
}

// Observer receives each attempt's outcome ("succeeded", "failed") and
// latency, for metrics; optional.
type Observer interface {
	ObserveDelivery(outcome string, latency time.Duration)
}

// OutboxDeps are the Outbox's collaborators; all but Observer are required.
type OutboxDeps struct {
	Store  OutboxStore
	Tx     store.Transactor
	Audit  audit.Recorder
	Sealer Sealer
	Poster Poster
	// Observer, if set, is told of every attempt.
	Observer Observer
}

// OutboxConfig tunes delivery. Zero fields take the defaults below.
type OutboxConfig struct {
	// Timeout is the Poster's bound on one request (WARD_WEBHOOK_TIMEOUT);
	// claims are sized from it.
	Timeout time.Duration
	// MaxFailures disables a subscription when its failure run reaches it
	// (WARD_WEBHOOK_MAX_FAILURES).
	MaxFailures int
	// BackoffBase and BackoffCap shape the retry delays: attempt n waits
	// a uniformly random time between BackoffBase/2 and
	// min(BackoffCap, BackoffBase·2^(n-1)).
	BackoffBase, BackoffCap time.Duration
	// Parallel bounds the subjects sent to at once per subscription.
	Parallel int
	// Chain bounds the deliveries of one subject sent in one round.
	Chain  int
	Now    func() time.Time
	Logger *slog.Logger
	// Rand returns a float in [0, 1) for the jitter; nil is math/rand.
	Rand func() float64
}

// Defaults.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultMaxFailures = 20
	DefaultBackoffBase = time.Second
	DefaultBackoffCap  = 5 * time.Minute
	DefaultParallel    = 16
	DefaultChain       = 16
)

// Outbox turns audit events into deliveries (Dispatch) and sends them
// (Deliver). Build it with NewOutbox; give it the job runner with UseJobs.
type Outbox struct {
	d    OutboxDeps
	cfg  OutboxConfig
	jobs JobInserter
	log  *slog.Logger
}

// NewOutbox wires an Outbox.
func NewOutbox(d OutboxDeps, cfg OutboxConfig) (*Outbox, error) {
	var errs []error
	if d.Store == nil || d.Tx == nil || d.Audit == nil || d.Sealer == nil || d.Poster == nil {
		errs = append(errs, errors.New("webhook: the outbox needs a store, a transactor, an audit recorder, a sealer and a poster"))
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = DefaultMaxFailures
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = DefaultBackoffBase
	}
	if cfg.BackoffCap <= 0 {
		cfg.BackoffCap = DefaultBackoffCap
	}
	if cfg.BackoffCap < cfg.BackoffBase {
		errs = append(errs, fmt.Errorf("webhook: backoff cap %s is below its base %s", cfg.BackoffCap, cfg.BackoffBase))
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = DefaultParallel
	}
	if cfg.Chain <= 0 {
		cfg.Chain = DefaultChain
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Outbox{d: d, cfg: cfg, log: cfg.Logger.With(slog.String("component", "webhook"))}, nil
}

// UseJobs sets the runner that delivery jobs are inserted with (built
// after the services, hence not a constructor argument). Without one,
// Dispatch still writes deliveries; only the prompt kick is skipped.
func (o *Outbox) UseJobs(j JobInserter) { o.jobs = j }

// Observe sets the observer told of every attempt (the metrics, built
// with the server after the services).
func (o *Outbox) Observe(ob Observer) { o.d.Observer = ob }

// Dispatch turns the audit events committed since the last run into
// deliveries, a batch per transaction: in one transaction it locks the
// cursor, reads the next events, writes one delivery per (matching
// subscription, event) with the body as it will be sent, moves the cursor
// and queues a delivery job for each enabled subscription that got one.
// A rolled-back change has no event, so it is never dispatched; a
// dispatch that fails rolls back whole and the next run redoes it. It
// returns how many events it read.
//
// Disabled subscriptions keep receiving deliveries (queued, not sent), so
// enabling one again loses nothing that happened meanwhile.
func (o *Outbox) Dispatch(ctx context.Context) (int, error) {
	total := 0
	for range dispatchMaxBatches {
		n, err := o.dispatchBatch(ctx)
		total += n
		if err != nil {
			return total, err
		}
		if n < dispatchBatch || ctx.Err() != nil {
			break
		}
	}
	return total, nil
}

func (o *Outbox) dispatchBatch(ctx context.Context) (int, error) {
	n := 0
	err := o.d.Tx.InTx(ctx, func(ctx context.Context) error {
		st := o.d.Store
		cursor, ok, err := st.LockDispatchCursor(ctx)
		if err != nil || !ok {
			return err
		}
		evs, err := st.AuditEventsAfter(ctx, cursor, dispatchBatch)
		if err != nil {
			return err
		}
		n = len(evs)
		if n == 0 {
			return nil
		}
		targets, err := st.DispatchTargets(ctx)
		if err != nil {
			return err
		}
		ds, err := o.plan(ctx, evs, targets)
		if err != nil {
			return err
		}
		if len(ds) > 0 {
			if err := st.InsertDeliveries(ctx, ds); err != nil {
				return err
			}
		}
		if err := st.SetDispatchCursor(ctx, evs[n-1].ID); err != nil {
			return err
		}
		kick := map[string]bool{}
		for _, t := range targets {
			if t.Sub.Status == StatusEnabled {
				kick[t.Sub.ID] = false
			}
		}
		for _, d := range ds {
			if _, ok := kick[d.WebhookID]; ok {
				kick[d.WebhookID] = true
			}
		}
		for id, got := range kick {
			if got {
				if err := o.Kick(ctx, id); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("webhook dispatch: %w", err)
	}
	return n, nil
}

// target is a Target with its scopes parsed and its event types as a set.
type target struct {
	Target
	scopes []scope.Scope
	events map[audit.EventType]bool
}

// plan returns the deliveries of evs to targets.
func (o *Outbox) plan(ctx context.Context, evs []audit.Event, targets []Target) ([]*Delivery, error) {
	ts := make([]target, 0, len(targets))
	routes := false // does any target route subscribed people's events?
	for _, t := range targets {
		sc, err := scope.ParseList(t.Scope)
		if err != nil {
			// A scope registered before today's rules: read nothing from
			// it rather than stall every subscription's dispatch.
			o.log.WarnContext(ctx, "webhook client's registered scope does not parse; treating it as none",
				slog.String("webhook_id", t.Sub.ID), slog.String("client_id", t.Sub.ClientID), slog.Any("err", err))
			sc = nil
		}
		ev := make(map[audit.EventType]bool, len(t.Sub.Events))
		for _, e := range t.Sub.Events {
			ev[e] = true
		}
		ts = append(ts, target{Target: t, scopes: sc, events: ev})
		routes = routes || t.Intervention != ""
	}
	subscribed := map[Subscribed]bool{}
	if routes {
		var people []int64
		for _, e := range evs {
			if e.SubjectID != 0 && !slices.Contains(people, e.SubjectID) {
				people = append(people, e.SubjectID)
			}
		}
		if len(people) > 0 {
			rows, err := o.d.Store.SubscribedPeople(ctx, people)
			if err != nil {
				return nil, err
			}
			for _, r := range rows {
				subscribed[r] = true
			}
		}
	}
	now := o.cfg.Now().UTC()
	var out []*Delivery
	for _, e := range evs {
		if e.Type == "" {
			continue // written before typed events: no subscription names it
		}
		for i := range ts {
			t := &ts[i]
			if !t.events[e.Type] || e.ID <= t.Sub.AfterEventID {
				continue
			}
			ok, fields := t.sees(e, subscribed)
			if !ok {
				continue
			}
			body, subject, err := Body(e, fields)
			if err != nil {
				return nil, err
			}
			out = append(out, &Delivery{WebhookID: t.Sub.ID, EventID: e.ID, EventType: e.Type, Subject: subject,
				Payload: body, Status: DeliveryPending, NextAttemptAt: now, CreatedAt: now})
		}
	}
	return out, nil
}

// sees decides whether t receives e, and with its changed fields:
//
//   - An event about a person (SubjectID set) reaches the client only if
//     its scopes let it read the subject's resource type (the person's
//     Patient when the subject is not a FHIR resource), or the person is
//     "subscribed" to the intervention the client acts for. Subscribed
//     routes the event; it grants no reading, so the fields follow the
//     scopes alone.
//   - The changed fields go only with a FHIR subject whose type the
//     client may read (system/<Type>.read, system/*.read, or the v2
//     .r/.rs forms, unrestricted by a query): a client without
//     Patient.read gets no demographics.
//   - Anything else (Client/, Token/, Webhook/, Intervention/... subjects)
//     carries references only.
//
// Only system/ scopes count: a webhook is a backend push, with no user or
// patient in context.
func (t *target) sees(e audit.Event, subscribed map[Subscribed]bool) (deliver, fields bool) {
	kind := refKind(e.Subject)
	isFHIR := scope.IsResourceType(kind)
	fields = isFHIR && scope.Allows(t.scopes, scope.ContextSystem, kind, scope.PermRead)
	if e.SubjectID == 0 {
		return true, fields
	}
	personType := kind
	if !isFHIR {
		personType = "Patient"
	}
	if scope.Allows(t.scopes, scope.ContextSystem, personType, scope.PermRead) {
		return true, fields
	}
	if t.Intervention != "" && subscribed[Subscribed{UserID: e.SubjectID, Intervention: t.Intervention}] {
		return true, fields
	}
	return false, false
}

// refKind is the kind of a "<Kind>/<id>" reference ("" for none).
func refKind(ref string) string {
	kind, _, ok := strings.Cut(ref, "/")
	if !ok {
		return ""
	}
	return kind
}

// payload is the JSON body of a delivery.
type payload struct {
	Type      audit.EventType `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      payloadData     `json:"data"`
}

type payloadData struct {
	ID      string `json:"id"`
	Subject string `json:"subject,omitempty"`
	// Patient is the person the event is about, when the subject is
	// something else of theirs (an Observation, a Client they used).
	Patient string          `json:"patient,omitempty"`
	Action  audit.Action    `json:"action"`
	Fields  json.RawMessage `json:"fields,omitempty"`
}

// Body is the JSON body delivered for e, with its changed fields or
// without, and the subject reference deliveries of it are ordered by.
func Body(e audit.Event, withFields bool) ([]byte, string, error) {
	subject := e.Subject
	if subject == "" && e.SubjectID != 0 {
		subject = audit.UserRef(e.SubjectID)
	}
	p := payload{Type: e.Type, Timestamp: e.Timestamp.UTC().Format(time.RFC3339),
		Data: payloadData{ID: MessageID(e.ID), Subject: subject, Action: audit.ActionOf(e.Type)}}
	if e.SubjectID != 0 && subject != audit.UserRef(e.SubjectID) {
		p.Data.Patient = audit.UserRef(e.SubjectID)
	}
	if withFields && e.Payload != "" && json.Valid([]byte(e.Payload)) {
		p.Data.Fields = json.RawMessage(e.Payload)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, "", fmt.Errorf("webhook body of event %d: %w", e.ID, err)
	}
	return b, subject, nil
}
