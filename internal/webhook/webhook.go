package webhook

import (
	"context"
	"time"

	"ward/internal/audit"
	"ward/internal/store"
)

// Status is whether a subscription receives deliveries.
type Status string

// The statuses. A disabled subscription keeps its pending deliveries; they
// go out once it is enabled again.
const (
	StatusEnabled  Status = "enabled"
	StatusDisabled Status = "disabled"
)

// Sealed holds a subscription's signing secrets encrypted with ward's
// keyset, each bound to the subscription id. Previous is the secret being
// rotated out: it signs too until PreviousExpires.
type Sealed struct {
	Current         []byte
	Previous        []byte
	PreviousExpires time.Time
}

// Subscription is one receiver URL subscribed to event types on behalf of a
// system client (ClientID): what it receives is bounded by that client's
// registered scopes.
type Subscription struct {
	ID          string
	ClientID    string
	URL         string
	Events      []audit.EventType
	Description string
	Status      Status
	// DisabledReason says why ward disabled it (a run of failures), or that
	// a person did; "" while enabled.
	DisabledReason string
	// FailureRun counts consecutive failed attempts; a success resets it.
	FailureRun int
	// AfterEventID is the audit head when the subscription was made: only
	// later events are delivered to it.
	AfterEventID int64
	Secrets      Sealed
	CreatedBy    int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// Version increments with every write; updates compare it.
	Version int64
}

// DeliveryStatus is where one delivery stands.
type DeliveryStatus string

// The delivery statuses: pending (not tried yet), retrying (the last try
// failed; the next is at NextAttemptAt), succeeded (the receiver answered
// 2xx). Nothing is ever given up: a subscription is disabled instead.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryRetrying  DeliveryStatus = "retrying"
	DeliverySucceeded DeliveryStatus = "succeeded"
)

// Delivery is one event for one subscription, with the body as sent.
type Delivery struct {
	ID        int64
	WebhookID string
	// EventID is the audit event's id; the webhook-id header is derived
	// from it, so a retry or replay carries the same id and a receiver can
	// de-duplicate.
	EventID   int64
	EventType audit.EventType
	// Subject is the event's subject reference: deliveries of one
	// subscription and subject go out in id order.
	Subject        string
	Payload        []byte
	Status         DeliveryStatus
	Attempts       int
	NextAttemptAt  time.Time
	LastAttemptAt  time.Time
	ResponseStatus int
	LastError      string
	Latency        time.Duration
	CreatedAt      time.Time
	DeliveredAt    time.Time
}

// MessageID is the webhook-id of a delivery of event id: the same for every
// attempt and every subscription, as the convention asks.
func MessageID(eventID int64) string {
	return "msg_" + itoa(eventID)
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	if n == 0 {
		return "0"
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// SubscriptionStore keeps subscriptions. CreateWebhook sets AfterEventID to
// the audit head in the same transaction; UpdateWebhook compares Version.
type SubscriptionStore interface {
	CreateWebhook(ctx context.Context, s *Subscription) error
	GetWebhook(ctx context.Context, id string) (*Subscription, error)
	ListWebhooks(ctx context.Context, clientID string, p store.Page) ([]*Subscription, string, error)
	UpdateWebhook(ctx context.Context, s *Subscription) error
	DeleteWebhook(ctx context.Context, id string) error
	// CountWebhooks counts every subscription, and those disabled.
	CountWebhooks(ctx context.Context) (total, disabled int, err error)
}
