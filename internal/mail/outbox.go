package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"ward/internal/actor"
	"ward/internal/apperr"
)

// Status is where a stored message stands.
type Status string

// Statuses. A message is queued until a delivery job sends it (sent) or
// gives up (failed); not_sent means no transport was configured when it
// was stored, so it was kept and never handed to one.
const (
	StatusQueued  Status = "queued"
	StatusSent    Status = "sent"
	StatusNotSent Status = "not_sent"
	StatusFailed  Status = "failed"
)

// Outgoing is one stored message to one recipient.
type Outgoing struct {
	ID int64
	// Intervention is the name of the intervention it was sent for.
	Intervention string
	// SenderID is the user who sent it; 0 for ward itself.
	SenderID         int64
	RecipientID      int64
	RecipientAddress string
	Subject          string
	Body             string
	Status           Status
	// Attempts counts delivery attempts; LastError is the last failure
	// (the server's reply, never the message).
	Attempts  int
	LastError string
	CreatedAt time.Time
	SentAt    *time.Time
}

// Transport hands one message to the mail system. Send returns once the
// message is accepted; an error for which Permanent is true is not retried.
type Transport interface {
	Send(ctx context.Context, m Message) error
}

// Store keeps the outbox. Implemented by internal/sqlstore.
type Store interface {
	// InsertMailMessage stores m in the transaction in ctx and sets m.ID.
	InsertMailMessage(ctx context.Context, m *Outgoing) error
	// GetMailMessage reads one message; NotFound when there is none (its
	// recipient may have been purged).
	GetMailMessage(ctx context.Context, id int64) (*Outgoing, error)
	// ListMailMessages returns the messages sent for an intervention in
	// id order after afterID, at most limit.
	ListMailMessages(ctx context.Context, intervention string, afterID int64, limit int) ([]*Outgoing, error)
	// SetMailDelivery records a delivery attempt's outcome.
	SetMailDelivery(ctx context.Context, id int64, status Status, attempts int, lastError string, sentAt *time.Time) error
}

// JobInserter inserts a job in the caller's transaction; *jobs.Runner
// satisfies it.
type JobInserter interface {
	InsertTx(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// KindDeliver is the delivery job's kind. It is stored in river_job:
// never rename it.
const KindDeliver = "mail_deliver"

// DefaultMaxAttempts bounds the delivery attempts of one message.
const DefaultMaxAttempts = 5

// maxErrorLen bounds the stored last error.
const maxErrorLen = 500

// OutboxConfig tunes the Outbox.
type OutboxConfig struct {
	// From is the sender address of every message; required with a
	// transport.
	From string
	// MaxAttempts bounds delivery attempts; default DefaultMaxAttempts.
	MaxAttempts int
	Now         func() time.Time
	Logger      *slog.Logger
}

// Outbox stores messages and delivers them. Build it with NewOutbox; give
// it the job runner with UseJobs before it queues anything for delivery.
type Outbox struct {
	store     Store
	transport Transport
	jobs      JobInserter
	cfg       OutboxConfig
	log       *slog.Logger
}

// NewOutbox wires an Outbox. transport may be nil: messages are then
// stored as not_sent.
func NewOutbox(st Store, transport Transport, cfg OutboxConfig) (*Outbox, error) {
	if st == nil {
		return nil, errors.New("mail: the outbox needs a store")
	}
	if transport != nil {
		if err := CheckAddress(cfg.From); err != nil {
			return nil, fmt.Errorf("mail: the sender address: %w", err)
		}
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Outbox{store: st, transport: transport, cfg: cfg, log: cfg.Logger.With(slog.String("component", "mail"))}, nil
}

// UseJobs sets the runner that delivery jobs are inserted with. The
// runner is built after the services (it works their jobs), hence not a
// constructor argument.
func (o *Outbox) UseJobs(j JobInserter) { o.jobs = j }

// Configured reports whether a transport is set (messages will be sent).
func (o *Outbox) Configured() bool { return o.transport != nil }

// Queue stores each message, in the transaction in ctx, and inserts its
// delivery job in the same transaction: a message exists with its job or
// not at all. It sets each message's ID, Status and CreatedAt. Without a
// transport the messages are stored as not_sent and a log line says so.
func (o *Outbox) Queue(ctx context.Context, msgs []*Outgoing) error {
	status := StatusQueued
	if o.transport == nil {
		status = StatusNotSent
	} else if o.jobs == nil {
		return apperr.New(apperr.Unavailable, "mail delivery is not running in this process")
	}
	now := o.cfg.Now().UTC()
	ids := make([]int64, 0, len(msgs))
	for _, m := range msgs {
		if err := CheckAddress(m.RecipientAddress); err != nil {
			return apperr.Wrap(apperr.Invalid, err, "recipient %d's email address cannot be used", m.RecipientID)
		}
		if err := CheckHeaderText(m.Subject); err != nil {
			return apperr.Wrap(apperr.Invalid, err, "subject")
		}
		m.Status, m.CreatedAt, m.Attempts, m.LastError, m.SentAt = status, now, 0, "", nil
		if err := o.store.InsertMailMessage(ctx, m); err != nil {
			return fmt.Errorf("store message: %w", err)
		}
		ids = append(ids, m.ID)
		if status == StatusQueued {
			if _, err := o.jobs.InsertTx(ctx, deliverArgs{MessageID: m.ID}, &river.InsertOpts{MaxAttempts: o.cfg.MaxAttempts}); err != nil {
				return fmt.Errorf("queue delivery: %w", err)
			}
		}
	}
	if status == StatusNotSent && len(ids) > 0 {
		o.log.WarnContext(ctx, "no mail transport is configured (WARD_SMTP_HOST): messages stored, not sent",
			slog.Any("message_ids", ids))
	}
	return nil
}

// Deliver makes one delivery attempt of message id (attempt of
// maxAttempts): a message no longer queued is left alone, so running it
// twice does no harm. It returns an error when the attempt failed and
// another should follow; after a permanent failure or the last attempt
// the message is marked failed and Deliver returns nil.
func (o *Outbox) Deliver(ctx context.Context, id int64, attempt, maxAttempts int) error {
	m, err := o.store.GetMailMessage(ctx, id)
	if apperr.Is(err, apperr.NotFound) {
		return nil // the recipient was purged, and the message with them
	}
	if err != nil {
		return fmt.Errorf("read message %d: %w", id, err)
	}
	if m.Status != StatusQueued {
		return nil
	}
	if o.transport == nil {
		// Configuration removed since the message was queued.
		return o.store.SetMailDelivery(ctx, id, StatusNotSent, m.Attempts, "no mail transport is configured", nil)
	}
	msg := Message{From: o.cfg.From, To: m.RecipientAddress, Subject: m.Subject, Body: m.Body,
		MessageID: messageID(m.ID, o.cfg.From), Date: o.cfg.Now()}
	sendErr := o.transport.Send(ctx, msg)
	attempts := m.Attempts + 1
	log := o.log.With(slog.Int64("message_id", id), slog.Int64("recipient_id", m.RecipientID),
		slog.String("intervention", m.Intervention), slog.Int("attempt", attempt))
	if sendErr == nil {
		now := o.cfg.Now().UTC()
		if err := o.store.SetMailDelivery(ctx, id, StatusSent, attempts, "", &now); err != nil {
			return fmt.Errorf("record message %d sent: %w", id, err)
		}
		log.InfoContext(ctx, "mail sent")
		return nil
	}
	last := sendErr.Error()
	if len(last) > maxErrorLen {
		last = last[:maxErrorLen]
	}
	final := Permanent(sendErr) || attempt >= maxAttempts
	status := StatusQueued
	if final {
		status = StatusFailed
	}
	if err := o.store.SetMailDelivery(ctx, id, status, attempts, last, nil); err != nil {
		return errors.Join(sendErr, fmt.Errorf("record message %d's failure: %w", id, err))
	}
	log.WarnContext(ctx, "mail delivery failed", slog.Bool("final", final), slog.String("err", last))
	if final {
		return nil
	}
	return sendErr
}

// messageID is a Message-ID unique to the message and this send: the
// row id plus randomness, on the sender's domain.
func messageID(id int64, from string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("ward-%d.%s@%s", id, hex.EncodeToString(b[:]), domainOf(from))
}

// deliverArgs is the delivery job: which message to send.
type deliverArgs struct {
	MessageID int64 `json:"message_id"`
}

func (deliverArgs) Kind() string { return KindDeliver }

// Register adds the delivery worker (jobs.Deps.Register).
func (o *Outbox) Register(w *river.Workers) error {
	return river.AddWorkerSafely(w, &deliverWorker{o: o})
}

type deliverWorker struct {
	river.WorkerDefaults[deliverArgs]
	o *Outbox
}

// Work runs one attempt, as ward itself; River retries a returned error
// with its backoff, up to the job's MaxAttempts.
func (w *deliverWorker) Work(ctx context.Context, job *river.Job[deliverArgs]) error {
	return w.o.Deliver(actor.System(ctx), job.Args.MessageID, job.Attempt, job.MaxAttempts)
}
