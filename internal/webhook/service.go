package webhook

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/directory"
	"ward/internal/store"
)

// ServiceStore is what the Service keeps subscriptions and reads
// deliveries with (internal/sqlstore implements it). Every method joins the
// transaction in ctx.
type ServiceStore interface {
	SubscriptionStore
	// ListDeliveries returns a subscription's deliveries newest first,
	// only those in status unless it is "", and the next page's cursor.
	ListDeliveries(ctx context.Context, webhookID string, status DeliveryStatus, p store.Page) ([]*Delivery, string, error)
	// GetDelivery reads one delivery of the subscription (NotFound when it
	// is another subscription's).
	GetDelivery(ctx context.Context, webhookID string, deliveryID int64) (*Delivery, error)
	// ReplayDelivery inserts a new pending delivery, due at now, with the
	// event id, type, subject and payload of deliveryID, and returns it.
	ReplayDelivery(ctx context.Context, webhookID string, deliveryID int64, now time.Time) (*Delivery, error)
}

// ClientLookup reads a registered client without a permission check
// (client.Service.Lookup): the owner of a subscription.
type ClientLookup interface {
	Lookup(ctx context.Context, id string) (*client.Client, error)
}

// Deps is what the Service needs.
type Deps struct {
	Store   ServiceStore
	Clients ClientLookup
	// Roles tells an administrator (directory.RequireAdmin's rule).
	Roles  directory.RoleReader
	Audit  audit.Recorder
	Tx     store.Transactor
	Sealer Sealer
	// Wake, when set, is called in the transaction that makes a
	// subscription's deliveries due outside the dispatcher's own path (a
	// replay, or enabling it again), so the delivery side can schedule
	// its worker for webhookID with the change (River's InsertTx).
	Wake func(ctx context.Context, webhookID string) error
}

// Config tunes the Service. Zero fields take the defaults.
type Config struct {
	// AllowPrivate accepts plain http and private or loopback receivers
	// (WARD_OUTBOUND_ALLOW_PRIVATE=1).
	AllowPrivate bool
	// PublicAddr says whether an IP address is public: outbound.Public,
	// wired by the server (nil: PublicFallback).
	PublicAddr func(netip.Addr) bool
	// RotationOverlap is how long a rotated-out secret keeps signing when
	// the caller names no overlap; default 24h.
	RotationOverlap time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// MaxRotationOverlap bounds a rotation's overlap window.
const MaxRotationOverlap = 7 * 24 * time.Hour

// Service manages subscriptions: who may, what is valid, and an audit
// event for every change in the change's transaction. The delivery side
// (dispatch and worker) calls OpenSecrets.
type Service struct {
	d   Deps
	cfg Config
}

// NewService wires a Service.
func NewService(d Deps, cfg Config) (*Service, error) {
	if d.Store == nil || d.Clients == nil || d.Roles == nil || d.Audit == nil || d.Tx == nil || d.Sealer == nil {
		return nil, errors.New("webhook: the service needs a store, client lookup, roles, audit recorder, transactor and sealer")
	}
	if cfg.RotationOverlap <= 0 {
		cfg.RotationOverlap = 24 * time.Hour
	}
	if cfg.RotationOverlap > MaxRotationOverlap {
		return nil, fmt.Errorf("webhook: rotation overlap %s is over %s", cfg.RotationOverlap, MaxRotationOverlap)
	}
	if cfg.PublicAddr == nil {
		cfg.PublicAddr = PublicFallback
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{d: d, cfg: cfg}, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// caller is who asks: ward itself or an administrator (any client's
// subscriptions), or a client acting as itself (its own).
type caller struct {
	admin    bool
	clientID string
}

// who resolves the caller once per call. The rule: ward itself (the CLI)
// and an administrator (directory.RequireAdmin, acting in person or
// through a client for themselves) manage every subscription; a client
// acting for nobody (client credentials) manages its own; everyone else
// is refused, anonymous callers with 401.
func (s *Service) who(ctx context.Context) (caller, error) {
	a := actor.From(ctx)
	if !a.System && !a.Anonymous() && a.UserID == 0 && a.ClientID != "" {
		return caller{clientID: a.ClientID}, nil
	}
	if err := directory.RequireAdmin(ctx, s.d.Roles, "manage webhooks"); err != nil {
		return caller{}, err
	}
	return caller{admin: true}, nil
}

// may is the one authorization rule for an existing subscription.
func (c caller) may(w *Subscription) error {
	if c.admin || w.ClientID == c.clientID {
		return nil
	}
	return apperr.New(apperr.Forbidden, "a client manages only its own webhooks")
}

// owner checks the client a subscription is for: it exists, is enabled and
// is confidential (a public client has no identity to deliver to).
func (s *Service) owner(ctx context.Context, id string) error {
	if id == "" {
		return apperr.New(apperr.Invalid, "client_id is required")
	}
	if len(id) > 128 {
		return apperr.New(apperr.Invalid, "client_id: no such client")
	}
	c, err := s.d.Clients.Lookup(ctx, id)
	if apperr.Is(err, apperr.NotFound) || apperr.Is(err, apperr.Invalid) {
		return apperr.New(apperr.Invalid, "client_id: no such client")
	}
	if err != nil {
		return fmt.Errorf("look up the webhook's client: %w", err)
	}
	if c.Disabled {
		return apperr.New(apperr.Invalid, "client_id: the client is disabled")
	}
	if c.Public {
		return apperr.New(apperr.Invalid, "client_id: a public client may not own a webhook; use a confidential or system client")
	}
	return nil
}

// record writes one typed audit event about w in the transaction in ctx.
// The fields are its settings, never a secret.
func (s *Service) record(ctx context.Context, t audit.EventType, w *Subscription, comment string, extra map[string]any) error {
	fields := map[string]any{"id": w.ID, "client_id": w.ClientID, "url": w.URL, "events": w.Events,
		"status": string(w.Status)}
	if w.Description != "" {
		fields["description"] = w.Description
	}
	if w.DisabledReason != "" {
		fields["disabled_reason"] = w.DisabledReason
	}
	for k, v := range extra {
		fields[k] = v
	}
	if err := s.d.Audit.Record(ctx, audit.Change{Type: t, Subject: audit.Ref("Webhook", w.ID), Fields: fields,
		Comment: "webhook " + w.ID + ": " + comment}); err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// ad is the associated data a subscription's secrets are sealed with: its
// id, so a ciphertext copied to another row does not open.
func ad(id string) []byte { return []byte(id) }

func (s *Service) seal(id, secret string) ([]byte, error) {
	ct, err := s.d.Sealer.Encrypt([]byte(secret), ad(id))
	if err != nil {
		return nil, fmt.Errorf("seal webhook %s secret: %w", id, err)
	}
	return ct, nil
}

// OpenSecrets returns the secrets w's deliveries are signed with at now:
// the current one, then the previous one while now is before its expiry
// (a rotation's overlap). The delivery worker calls it; it checks no
// caller.
func (s *Service) OpenSecrets(w *Subscription, now time.Time) ([]string, error) {
	return openSecrets(s.d.Sealer, w, now)
}

// openSecrets is OpenSecrets for whoever holds the Sealer (the Service,
// the delivery worker).
func openSecrets(sealer Sealer, w *Subscription, now time.Time) ([]string, error) {
	cur, err := sealer.Decrypt(w.Secrets.Current, ad(w.ID))
	if err != nil {
		return nil, fmt.Errorf("open webhook %s secret (wrong master key?): %w", w.ID, err)
	}
	out := []string{string(cur)}
	if len(w.Secrets.Previous) > 0 && now.Before(w.Secrets.PreviousExpires) {
		prev, err := sealer.Decrypt(w.Secrets.Previous, ad(w.ID))
		if err != nil {
			return nil, fmt.Errorf("open webhook %s previous secret: %w", w.ID, err)
		}
		out = append(out, string(prev))
	}
	return out, nil
}

// idEncoding spells ids in lower-case base32: URL- and shell-safe, never
// starting with '-', and ordered alike by every database collation.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID draws a subscription id, "wh_" and 128 random bits.
func newID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook id: %w", err)
	}
	return "wh_" + idEncoding.EncodeToString(b), nil
}

// CheckID refuses what cannot be a subscription id before any query.
func CheckID(id string) error {
	if !strings.HasPrefix(id, "wh_") || len(id) > 64 {
		return apperr.New(apperr.NotFound, "webhook not found")
	}
	for _, r := range id[3:] {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return apperr.New(apperr.NotFound, "webhook not found")
		}
	}
	return nil
}

// NewSubscription is what Create takes.
type NewSubscription struct {
	// ClientID is the client the subscription delivers for; "" for a
	// client creating its own.
	ClientID    string
	URL         string
	Events      []string
	Description string
}

// Create subscribes a URL to event types for a client and returns the
// subscription with its signing secret in clear: the one time it is shown;
// it is stored only sealed. An administrator names the client; a client
// acting as itself subscribes for itself.
func (s *Service) Create(ctx context.Context, in NewSubscription) (*Subscription, string, error) {
	who, err := s.who(ctx)
	if err != nil {
		return nil, "", err
	}
	if !who.admin {
		if in.ClientID != "" && in.ClientID != who.clientID {
			return nil, "", apperr.New(apperr.Forbidden, "a client subscribes only for itself")
		}
		in.ClientID = who.clientID
	}
	events, err := s.validate(in.URL, in.Events, in.Description)
	if err != nil {
		return nil, "", err
	}
	if err := s.owner(ctx, in.ClientID); err != nil {
		return nil, "", err
	}
	id, err := newID()
	if err != nil {
		return nil, "", err
	}
	secret, err := NewSecret()
	if err != nil {
		return nil, "", err
	}
	sealed, err := s.seal(id, secret)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	w := &Subscription{ID: id, ClientID: in.ClientID, URL: in.URL, Events: events, Description: in.Description,
		Status: StatusEnabled, Secrets: Sealed{Current: sealed}, CreatedBy: actor.From(ctx).UserID,
		CreatedAt: now, UpdatedAt: now}
	err = s.d.Tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.d.Store.CreateWebhook(ctx, w); err != nil {
			return fmt.Errorf("create webhook: %w", err)
		}
		return s.record(ctx, audit.WebhookCreated, w, "created", nil)
	})
	if err != nil {
		return nil, "", err
	}
	return w, secret, nil
}

// validate checks the settings together and returns the events cleaned.
func (s *Service) validate(url string, events []string, description string) ([]audit.EventType, error) {
	if err := CheckURL(url, s.cfg.AllowPrivate, s.cfg.PublicAddr); err != nil {
		return nil, err
	}
	evs, err := CheckEvents(events)
	if err != nil {
		return nil, err
	}
	if err := CheckDescription(description); err != nil {
		return nil, err
	}
	return evs, nil
}

// get reads a subscription the caller may manage.
func (s *Service) get(ctx context.Context, who caller, id string) (*Subscription, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	w, err := s.d.Store.GetWebhook(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := who.may(w); err != nil {
		return nil, err
	}
	return w, nil
}

// Get returns one subscription (its secrets sealed; callers show none).
func (s *Service) Get(ctx context.Context, id string) (*Subscription, error) {
	who, err := s.who(ctx)
	if err != nil {
		return nil, err
	}
	return s.get(ctx, who, id)
}

// List returns subscriptions in id order: an administrator's all (or one
// client's, clientID), a client's its own.
func (s *Service) List(ctx context.Context, clientID string, p store.Page) ([]*Subscription, string, error) {
	who, err := s.who(ctx)
	if err != nil {
		return nil, "", err
	}
	if !who.admin {
		if clientID != "" && clientID != who.clientID {
			return nil, "", apperr.New(apperr.Forbidden, "a client lists only its own webhooks")
		}
		clientID = who.clientID
	}
	if len(clientID) > 128 {
		return nil, "", apperr.New(apperr.Invalid, "client_id is longer than 128 bytes")
	}
	return s.d.Store.ListWebhooks(ctx, clientID, p)
}

// Counts are how many subscriptions there are, and how many are disabled.
type Counts struct {
	Total, Disabled int
}

// Count counts every subscription, for ward itself or an administrator
// (a client counts its own with List).
func (s *Service) Count(ctx context.Context) (Counts, error) {
	who, err := s.who(ctx)
	if err != nil {
		return Counts{}, err
	}
	if !who.admin {
		return Counts{}, apperr.New(apperr.Forbidden, "only an administrator may count every webhook")
	}
	total, disabled, err := s.d.Store.CountWebhooks(ctx)
	if err != nil {
		return Counts{}, fmt.Errorf("count webhooks: %w", err)
	}
	return Counts{Total: total, Disabled: disabled}, nil
}

// Changes are a partial update: nil fields stay as they are.
type Changes struct {
	URL         *string
	Events      *[]string
	Description *string
	// Status enables (resetting the failure run) or disables by hand.
	Status *Status
}

// Update applies ch to a subscription: webhook.updated for settings,
// webhook.enabled or webhook.disabled for a status change, in one
// transaction. Enabling resets the failure run; disabling by hand records
// who did it.
func (s *Service) Update(ctx context.Context, id string, ch Changes) (*Subscription, error) {
	who, err := s.who(ctx)
	if err != nil {
		return nil, err
	}
	if ch.Status != nil && *ch.Status != StatusEnabled && *ch.Status != StatusDisabled {
		return nil, apperr.New(apperr.Invalid, "status must be enabled or disabled")
	}
	// Only what changes is checked: a subscription made under other rules
	// (WARD_OUTBOUND_ALLOW_PRIVATE since turned off) can still be disabled,
	// described or deleted. The delivery side refuses its address anyway.
	if ch.URL != nil {
		if err := CheckURL(*ch.URL, s.cfg.AllowPrivate, s.cfg.PublicAddr); err != nil {
			return nil, err
		}
	}
	var newEvents []audit.EventType
	if ch.Events != nil {
		if newEvents, err = CheckEvents(*ch.Events); err != nil {
			return nil, err
		}
	}
	if ch.Description != nil {
		if err := CheckDescription(*ch.Description); err != nil {
			return nil, err
		}
	}
	var out *Subscription
	err = s.writeRetrying(ctx, func(ctx context.Context) error {
		w, err := s.get(ctx, who, id)
		if err != nil {
			return err
		}
		url, events, desc := w.URL, w.Events, w.Description
		if ch.URL != nil {
			url = *ch.URL
		}
		if ch.Events != nil {
			events = newEvents
		}
		if ch.Description != nil {
			desc = *ch.Description
		}
		settings := url != w.URL || desc != w.Description || !slices.Equal(events, w.Events)
		w.URL, w.Events, w.Description = url, events, desc
		var statusEvent audit.EventType
		if ch.Status != nil && *ch.Status != w.Status {
			w.Status = *ch.Status
			if w.Status == StatusEnabled {
				w.FailureRun, w.DisabledReason, statusEvent = 0, "", audit.WebhookEnabled
			} else {
				w.DisabledReason, statusEvent = "disabled by "+describe(actor.From(ctx)), audit.WebhookDisabled
			}
		}
		if !settings && statusEvent == "" {
			out = w
			return nil
		}
		w.UpdatedAt = s.now()
		if err := s.d.Store.UpdateWebhook(ctx, w); err != nil {
			return fmt.Errorf("update webhook: %w", err)
		}
		if settings {
			if err := s.record(ctx, audit.WebhookUpdated, w, "settings changed", nil); err != nil {
				return err
			}
		}
		if statusEvent != "" {
			if err := s.record(ctx, statusEvent, w, string(w.Status)+" by hand", nil); err != nil {
				return err
			}
		}
		if statusEvent == audit.WebhookEnabled {
			if err := s.wake(ctx, w.ID); err != nil {
				return err
			}
		}
		out = w
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// casAttempts bounds how often a read-modify-write of a subscription is
// tried when another write (the delivery worker counting a failure, a
// second administrator) changed it between the read and the write.
const casAttempts = 3

// writeRetrying runs fn in a transaction, again from the read when its
// compare-and-swap lost to a concurrent write (apperr.Conflict), so a
// person's change is not refused because a delivery failed meanwhile.
func (s *Service) writeRetrying(ctx context.Context, fn func(ctx context.Context) error) error {
	var err error
	for range casAttempts {
		if err = s.d.Tx.InTx(ctx, fn); !apperr.Is(err, apperr.Conflict) {
			return err
		}
	}
	return err
}

// wake tells the delivery side, in the transaction in ctx, that webhookID
// has deliveries due now.
func (s *Service) wake(ctx context.Context, webhookID string) error {
	if s.d.Wake == nil {
		return nil
	}
	if err := s.d.Wake(ctx, webhookID); err != nil {
		return fmt.Errorf("schedule webhook %s deliveries: %w", webhookID, err)
	}
	return nil
}

// describe names an actor in a disabled reason.
func describe(a actor.Actor) string {
	switch {
	case a.System:
		return "ward (command line)"
	case a.UserID != 0:
		return fmt.Sprintf("user %d", a.UserID)
	case a.ClientID != "":
		return "client " + a.ClientID
	}
	return "an unknown caller"
}

// Delete removes a subscription and its delivery log.
func (s *Service) Delete(ctx context.Context, id string) error {
	who, err := s.who(ctx)
	if err != nil {
		return err
	}
	return s.d.Tx.InTx(ctx, func(ctx context.Context) error {
		w, err := s.get(ctx, who, id)
		if err != nil {
			return err
		}
		if err := s.d.Store.DeleteWebhook(ctx, id); err != nil {
			return fmt.Errorf("delete webhook: %w", err)
		}
		return s.record(ctx, audit.WebhookDeleted, w, "deleted", nil)
	})
}

// RotateSecret gives a subscription a new signing secret, returned in
// clear this once. The old one keeps signing beside it until now+overlap
// (nil: Config.RotationOverlap; 0 ends it at once), so a receiver can
// switch without missing a delivery. A rotation during an overlap drops
// the older previous secret.
func (s *Service) RotateSecret(ctx context.Context, id string, overlap *time.Duration) (*Subscription, string, error) {
	who, err := s.who(ctx)
	if err != nil {
		return nil, "", err
	}
	ov := s.cfg.RotationOverlap
	if overlap != nil {
		ov = *overlap
	}
	if ov < 0 || ov > MaxRotationOverlap {
		return nil, "", apperr.New(apperr.Invalid, "overlap must be between 0 and %s", MaxRotationOverlap)
	}
	secret, err := NewSecret()
	if err != nil {
		return nil, "", err
	}
	sealed, err := s.seal(id, secret)
	if err != nil {
		return nil, "", err
	}
	var out *Subscription
	err = s.writeRetrying(ctx, func(ctx context.Context) error {
		w, err := s.get(ctx, who, id)
		if err != nil {
			return err
		}
		now := s.now()
		w.Secrets.Previous, w.Secrets.PreviousExpires = nil, time.Time{}
		if ov > 0 {
			w.Secrets.Previous, w.Secrets.PreviousExpires = w.Secrets.Current, now.Add(ov)
		}
		w.Secrets.Current, w.UpdatedAt = sealed, now
		if err := s.d.Store.UpdateWebhook(ctx, w); err != nil {
			return fmt.Errorf("rotate webhook secret: %w", err)
		}
		extra := map[string]any{"overlap_seconds": int64(ov / time.Second)}
		if err := s.record(ctx, audit.WebhookSecretRotated, w, "signing secret rotated", extra); err != nil {
			return err
		}
		out = w
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, secret, nil
}

// Deliveries returns a subscription's delivery log newest first, only
// those in status unless it is "".
func (s *Service) Deliveries(ctx context.Context, id string, status DeliveryStatus, p store.Page) ([]*Delivery, string, error) {
	who, err := s.who(ctx)
	if err != nil {
		return nil, "", err
	}
	switch status {
	case "", DeliveryPending, DeliveryRetrying, DeliverySucceeded:
	default:
		return nil, "", apperr.New(apperr.Invalid, "status must be pending, retrying or succeeded")
	}
	if _, err := s.get(ctx, who, id); err != nil {
		return nil, "", err
	}
	return s.d.Store.ListDeliveries(ctx, id, status, p)
}

// Delivery returns one delivery of a subscription, with its payload.
func (s *Service) Delivery(ctx context.Context, id string, deliveryID int64) (*Delivery, error) {
	who, err := s.who(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.get(ctx, who, id); err != nil {
		return nil, err
	}
	if deliveryID <= 0 {
		return nil, apperr.New(apperr.NotFound, "webhook delivery not found")
	}
	return s.d.Store.GetDelivery(ctx, id, deliveryID)
}

// Replay queues a delivery again as a new pending delivery, due now, with
// the same event (so the same webhook-id header: a receiver that has it
// already can drop it) and returns the new one. A disabled subscription's
// replay waits, like its other deliveries, until it is enabled.
func (s *Service) Replay(ctx context.Context, id string, deliveryID int64) (*Delivery, error) {
	who, err := s.who(ctx)
	if err != nil {
		return nil, err
	}
	if deliveryID <= 0 {
		return nil, apperr.New(apperr.NotFound, "webhook delivery not found")
	}
	var out *Delivery
	err = s.d.Tx.InTx(ctx, func(ctx context.Context) error {
		w, err := s.get(ctx, who, id)
		if err != nil {
			return err
		}
		dl, err := s.d.Store.ReplayDelivery(ctx, id, deliveryID, s.now())
		if err != nil {
			return err
		}
		extra := map[string]any{"delivery_id": deliveryID, "replay_id": dl.ID, "event_id": dl.EventID,
			"event_type": string(dl.EventType)}
		if err := s.record(ctx, audit.WebhookDeliveryReplayed, w, fmt.Sprintf("delivery %d replayed as %d", deliveryID, dl.ID), extra); err != nil {
			return err
		}
		if err := s.wake(ctx, id); err != nil {
			return err
		}
		out = dl
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
