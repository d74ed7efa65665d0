package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/store"
	"ward/internal/webhook"
)

// KeyPurpose is the secrets.PurposeAEAD purpose of the sub-key that seals
// integrations' signing secrets.
const KeyPurpose = "integration-secrets"

// maxErrorBytes bounds a recorded failure.
const maxErrorBytes = 512

// Deps is what the Service needs.
type Deps struct {
	Store     Store
	Tx        store.Transactor
	Directory directory.RoleReader
	Audit     audit.Recorder
	Sealer    Sealer
	Minter    Minter
	Poster    Poster
	// Scheduler, when set, gets a push enqueued at creation and a retry at
	// each failure's backoff; without it (the CLI) the server's sweep
	// finds them due.
	Scheduler Scheduler
}

// Config tunes the Service; zero fields take the defaults.
type Config struct {
	// PublicAddr says whether a literal address in a receiver URL is
	// public (the server wires outbound.Public; nil means
	// webhook.PublicFallback): integrations share webhooks' URL rules.
	PublicAddr func(netip.Addr) bool
	// AllowPrivate accepts plain http and non-public literal addresses in
	// receiver URLs (WARD_OUTBOUND_ALLOW_PRIVATE=1). The outbound client
	// checks the address it connects to either way.
	AllowPrivate bool
	// BackoffBase is the wait after the first failure, doubled after
	// each further one up to BackoffMax; default 10s and 15m. Each wait
	// is jittered by up to a fifth either way.
	BackoffBase, BackoffMax time.Duration
	// Lease is how long a push's claim holds if its worker dies; default
	// 2m (longer than the outbound timeout).
	Lease time.Duration
	// SuspendRecheck is how often a suspended integration (its client
	// disabled) is looked at again; default 5m.
	SuspendRecheck time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Jitter returns a number in [0, 1); default math/rand/v2.
	Jitter func() float64
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Service registers integrations and pushes their tokens.
type Service struct {
	d    Deps
	cfg  Config
	jobs JobInserter // set by UseJobs
}

// NewService wires a Service.
func NewService(d Deps, cfg Config) (*Service, error) {
	if d.Store == nil || d.Tx == nil || d.Directory == nil || d.Audit == nil || d.Sealer == nil || d.Minter == nil || d.Poster == nil {
		return nil, errors.New("integration: the service needs a store, transactor, directory, audit recorder, sealer, minter and poster")
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = 10 * time.Second
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 15 * time.Minute
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.SuspendRecheck <= 0 {
		cfg.SuspendRecheck = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Jitter == nil {
		cfg.Jitter = mrand.Float64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{d: d, cfg: cfg}, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

func (s *Service) requireAdmin(ctx context.Context) error {
	return directory.RequireAdmin(ctx, s.d.Directory, "manage integrations")
}

// NewIntegration is what an administrator registers.
type NewIntegration struct {
	ClientID string
	URL      string
	// TokenLifetime is each pushed token's lifetime; zero means
	// DefaultLifetime.
	TokenLifetime time.Duration
}

// Created is a new integration and its signing secret, shown this once.
type Created struct {
	*Integration
	Secret string
}

func checkText(field, v string, max int) error {
	switch {
	case v == "":
		return apperr.New(apperr.Invalid, "%s is required", field)
	case len(v) > max:
		return apperr.New(apperr.Invalid, "%s is longer than %d bytes", field, max)
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		return apperr.New(apperr.Invalid, "%s is not valid text", field)
	}
	return nil
}

// Create registers an integration for a system client (administrators
// only) and enqueues its first push. The secret is returned once.
func (s *Service) Create(ctx context.Context, in NewIntegration) (*Created, error) {
	if err := s.requireAdmin(ctx); err != nil {
		return nil, err
	}
	var errs []error
	if err := checkText("client_id", in.ClientID, 255); err != nil {
		errs = append(errs, err)
	}
	if err := webhook.CheckURL(in.URL, s.cfg.AllowPrivate, s.cfg.PublicAddr); err != nil {
		errs = append(errs, err)
	}
	if in.TokenLifetime == 0 {
		in.TokenLifetime = DefaultLifetime
	}
	if in.TokenLifetime < MinLifetime || in.TokenLifetime > MaxLifetime || in.TokenLifetime%time.Second != 0 {
		errs = append(errs, apperr.New(apperr.Invalid, "token lifetime must be whole seconds between %s and %s", MinLifetime, MaxLifetime))
	}
	if len(errs) > 0 {
		return nil, apperr.Wrap(apperr.Invalid, errors.Join(errs...), "%s", errors.Join(errs...).Error())
	}
	if err := s.d.Minter.MayPushTokens(ctx, in.ClientID); err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return nil, apperr.Wrap(apperr.Invalid, err, "client_id: no client %q", in.ClientID)
		}
		return nil, err
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return nil, err
	}
	sealed, err := s.d.Sealer.Encrypt([]byte(secret), ad(id))
	if err != nil {
		return nil, fmt.Errorf("seal integration secret: %w", err)
	}
	now := s.now()
	it := &Integration{ID: id, ClientID: in.ClientID, URL: in.URL, SecretSealed: sealed, TokenLifetime: in.TokenLifetime,
		LastStatus: StatusNever, NextPushAt: now, CreatedBy: actor.From(ctx).UserID, CreatedAt: now, UpdatedAt: now}
	err = s.d.Tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.d.Store.CreateIntegration(ctx, it); err != nil {
			return fmt.Errorf("create integration: %w", err)
		}
		if err := s.record(ctx, audit.IntegrationCreated, it, nil, "created for client "+it.ClientID); err != nil {
			return err
		}
		if s.d.Scheduler != nil {
			return s.d.Scheduler.SchedulePush(ctx, it.ID, true, now)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Created{Integration: it, Secret: secret}, nil
}

// Get returns one integration (administrators only).
func (s *Service) Get(ctx context.Context, id string) (*Integration, error) {
	if err := s.requireAdmin(ctx); err != nil {
		return nil, err
	}
	if err := checkID(id); err != nil {
		return nil, err
	}
	return s.d.Store.GetIntegration(ctx, id)
}

// List returns every integration (administrators only).
func (s *Service) List(ctx context.Context) ([]*Integration, error) {
	if err := s.requireAdmin(ctx); err != nil {
		return nil, err
	}
	return s.d.Store.ListIntegrations(ctx)
}

// Delete removes an integration (administrators only) and revokes every
// live token pushed to it: the integration was the only way the receiver
// got them, and deleting it is how an administrator stops trusting it.
// It returns how many tokens were revoked.
func (s *Service) Delete(ctx context.Context, id string) (int, error) {
	if err := s.requireAdmin(ctx); err != nil {
		return 0, err
	}
	if err := checkID(id); err != nil {
		return 0, err
	}
	n := 0
	err := s.d.Tx.InTx(ctx, func(ctx context.Context) error {
		it, err := s.d.Store.GetIntegration(ctx, id)
		if err != nil {
			return err
		}
		live, err := s.d.Store.LivePushedTokens(ctx, id, s.now())
		if err != nil {
			return fmt.Errorf("tokens of integration %s: %w", id, err)
		}
		for _, t := range live {
			err := s.d.Minter.Revoke(ctx, it.ClientID, t)
			if err != nil && !apperr.Is(err, apperr.NotFound) { // NotFound: the janitor deleted it
				return fmt.Errorf("revoke token %d of integration %s: %w", t, id, err)
			}
			n++
		}
		if err := s.d.Store.DeleteIntegration(ctx, id); err != nil {
			return err
		}
		return s.record(ctx, audit.IntegrationDeleted, it, map[string]any{"revoked": n},
			fmt.Sprintf("deleted; %d live pushed token(s) revoked", n))
	})
	return n, err
}

// PushNow pushes a fresh token to the integration at once (administrators
// only), whether or not one is due, and returns the integration as it
// then stands: a failed push is not an error (its status says so). A push
// already in progress is Conflict.
func (s *Service) PushNow(ctx context.Context, id string) (*Integration, error) {
	if err := s.requireAdmin(ctx); err != nil {
		return nil, err
	}
	if err := checkID(id); err != nil {
		return nil, err
	}
	it, out, err := s.push(ctx, id, true)
	switch {
	case err != nil:
		return nil, err
	case out == busy:
		return nil, apperr.New(apperr.Conflict, "integration %s is being pushed by another worker; try again shortly", id)
	case out == suspended:
		return nil, apperr.New(apperr.Conflict, "integration %s is suspended: %s", id, it.LastError)
	}
	return it, nil
}

// Push pushes the integration if it is due (or at once with force), as
// ward itself: what the jobs call. A deleted integration, one not due, or
// one another worker is pushing is skipped without error.
func (s *Service) Push(ctx context.Context, id string, force bool) error {
	_, _, err := s.push(actor.System(ctx), id, force)
	if apperr.Is(err, apperr.NotFound) {
		return nil // deleted since the job was enqueued
	}
	return err
}

// outcome is what push did.
type outcome int

const (
	attempted outcome = iota // posted (or failed trying): recorded
	skipped                  // not due, or changed under us
	busy                     // another worker holds the lease
	suspended                // the client may not receive tokens now
)

// PushDue enqueues a push of every due integration (the periodic sweep).
func (s *Service) PushDue(ctx context.Context) error {
	ctx = actor.System(ctx)
	due, err := s.d.Store.DueIntegrations(ctx, s.now(), 1000)
	if err != nil {
		return fmt.Errorf("due integrations: %w", err)
	}
	return s.enqueueAll(ctx, due, false)
}

// PushAll enqueues a push of every integration whatever its schedule:
// what ward does when it starts.
func (s *Service) PushAll(ctx context.Context) error {
	ctx = actor.System(ctx)
	all, err := s.d.Store.ListIntegrations(ctx)
	if err != nil {
		return fmt.Errorf("list integrations: %w", err)
	}
	return s.enqueueAll(ctx, all, true)
}

func (s *Service) enqueueAll(ctx context.Context, its []*Integration, force bool) error {
	if len(its) == 0 {
		return nil
	}
	if s.d.Scheduler == nil {
		var errs []error
		for _, it := range its {
			errs = append(errs, s.Push(ctx, it.ID, force))
		}
		return errors.Join(errs...)
	}
	now := s.now()
	return s.d.Tx.InTx(ctx, func(ctx context.Context) error {
		for _, it := range its {
			if err := s.d.Scheduler.SchedulePush(ctx, it.ID, force, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// push claims, mints, posts and records one push, and says what it did.
func (s *Service) push(ctx context.Context, id string, force bool) (*Integration, outcome, error) {
	it, err := s.d.Store.GetIntegration(ctx, id)
	if err != nil {
		return nil, skipped, err
	}
	now := s.now()
	if it.LeaseUntil.After(now) {
		return it, busy, nil
	}
	if !force && it.NextPushAt.After(now) {
		return it, skipped, nil
	}
	// A client that may not receive tokens now is suspended, not failed:
	// nothing is minted, and it is looked at again later.
	if err := s.d.Minter.MayPushTokens(ctx, it.ClientID); err != nil {
		if k := apperr.KindOf(err); k != apperr.Conflict && k != apperr.Invalid && k != apperr.NotFound {
			return nil, skipped, err
		}
		it.LastStatus, it.LastError, it.NextPushAt, it.UpdatedAt = StatusSuspended, truncate(err.Error()), now.Add(s.cfg.SuspendRecheck), now
		if err := s.d.Store.UpdateIntegration(ctx, it); err != nil && !apperr.Is(err, apperr.Conflict) {
			return nil, skipped, err
		}
		return it, suspended, nil
	}
	// Claim: of two workers that read the same version, one wins.
	it.LeaseUntil, it.UpdatedAt = now.Add(s.cfg.Lease), now
	if err := s.d.Store.UpdateIntegration(ctx, it); err != nil {
		if k := apperr.KindOf(err); k == apperr.Conflict || k == apperr.NotFound {
			return it, busy, nil
		}
		return nil, skipped, err
	}
	secret, err := s.d.Sealer.Decrypt(it.SecretSealed, ad(it.ID))
	if err != nil {
		return nil, skipped, fmt.Errorf("open the secret of integration %s: %w", it.ID, err)
	}
	m, err := s.d.Minter.Mint(ctx, it.ClientID, it.TokenLifetime, it.ID)
	if err != nil {
		return s.failed(ctx, it, nil, 0, fmt.Errorf("mint token: %w", err))
	}
	body, err := json.Marshal(Payload{AccessToken: m.Token, TokenType: "Bearer",
		ExpiresIn: int64(m.ExpiresAt.Sub(now).Round(time.Second) / time.Second), Scope: strings.Join(m.Scopes, " "),
		IssuedAt: m.IssuedAt.Unix(), ClientID: it.ClientID})
	if err != nil {
		return s.failed(ctx, it, m, 0, fmt.Errorf("encode payload: %w", err))
	}
	msgID, err := newMessageID()
	if err != nil {
		return s.failed(ctx, it, m, 0, err)
	}
	headers, err := webhook.Sign(msgID, s.cfg.Now(), body, string(secret))
	if err != nil {
		return s.failed(ctx, it, m, 0, fmt.Errorf("sign: %w", err))
	}
	headers["Content-Type"] = "application/json"
	status, _, perr := s.d.Poster.Post(ctx, it.URL, headers, body)
	if perr == nil && (status < 200 || status > 299) {
		perr = fmt.Errorf("receiver answered %d", status)
	}
	if perr != nil {
		return s.failed(ctx, it, m, status, perr)
	}
	return s.succeeded(ctx, it, m, status, msgID)
}

// succeeded records an accepted push. If the row changed meanwhile (the
// integration was deleted), the token is revoked instead.
func (s *Service) succeeded(ctx context.Context, it *Integration, m *Minted, status int, msgID string) (*Integration, outcome, error) {
	now := s.now()
	it.LastStatus, it.LastHTTPStatus, it.LastError, it.Failures = StatusPushed, status, "", 0
	it.LastAttemptAt, it.LastPushedAt, it.TokenID, it.TokenExpiresAt = now, now, m.ID, m.ExpiresAt
	it.NextPushAt = m.ExpiresAt.Add(-it.TokenLifetime / 3)
	it.LeaseUntil, it.UpdatedAt = time.Time{}, now
	err := s.d.Tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.d.Store.UpdateIntegration(ctx, it); err != nil {
			return err
		}
		if err := s.d.Store.AddPushedToken(ctx, it.ID, m.ID, m.ExpiresAt, now); err != nil {
			return fmt.Errorf("record pushed token: %w", err)
		}
		return s.record(ctx, audit.IntegrationTokenPushed, it, map[string]any{"row_id": m.ID, "jti": m.JTI,
			"expires": m.ExpiresAt.UTC().Format(time.RFC3339), "status": status, "webhook_id": msgID},
			fmt.Sprintf("token %d pushed (expires %s)", m.ID, m.ExpiresAt.UTC().Format(time.RFC3339)))
	})
	if err != nil {
		if k := apperr.KindOf(err); k == apperr.Conflict || k == apperr.NotFound {
			// Deleted (or changed by hand) while we pushed: the token is
			// not recorded anywhere, so it must not stay live.
			if rerr := s.d.Minter.Revoke(ctx, it.ClientID, m.ID); rerr != nil {
				return nil, skipped, errors.Join(err, rerr)
			}
			return it, skipped, nil
		}
		return nil, skipped, err
	}
	return it, attempted, nil
}

// failed records a failed push, revokes its token (m, when one was
// minted), and schedules the retry after the backoff.
func (s *Service) failed(ctx context.Context, it *Integration, m *Minted, status int, cause error) (*Integration, outcome, error) {
	now := s.now()
	it.Failures++
	it.LastStatus, it.LastHTTPStatus, it.LastError = StatusFailed, status, truncate(cause.Error())
	it.LastAttemptAt, it.LeaseUntil, it.UpdatedAt = now, time.Time{}, now
	it.NextPushAt = now.Add(s.backoff(it.Failures))
	fields := map[string]any{"status": status, "error": it.LastError, "failures": it.Failures,
		"next_push_at": it.NextPushAt.Format(time.RFC3339)}
	if m != nil {
		fields["row_id"], fields["jti"] = m.ID, m.JTI
	}
	err := s.d.Tx.InTx(ctx, func(ctx context.Context) error {
		if m != nil {
			if err := s.d.Minter.Revoke(ctx, it.ClientID, m.ID); err != nil {
				return fmt.Errorf("revoke the unpushed token %d: %w", m.ID, err)
			}
		}
		if err := s.d.Store.UpdateIntegration(ctx, it); err != nil {
			return err
		}
		if err := s.record(ctx, audit.IntegrationPushFailed, it, fields,
			fmt.Sprintf("push failed (%d in a row): %s; next try at %s", it.Failures, it.LastError, it.NextPushAt.Format(time.RFC3339))); err != nil {
			return err
		}
		if s.d.Scheduler != nil {
			return s.d.Scheduler.SchedulePush(ctx, it.ID, false, it.NextPushAt)
		}
		return nil
	})
	if err != nil {
		if k := apperr.KindOf(err); (k == apperr.Conflict || k == apperr.NotFound) && m != nil {
			// Deleted meanwhile: still revoke the token, on its own.
			if rerr := s.d.Minter.Revoke(ctx, it.ClientID, m.ID); rerr != nil {
				return nil, skipped, errors.Join(err, rerr)
			}
			return it, skipped, nil
		}
		return nil, skipped, err
	}
	s.cfg.Logger.WarnContext(ctx, "integration push failed", "integration", it.ID, "failures", it.Failures, "err", it.LastError)
	return it, attempted, nil
}

// backoff is the wait after the n-th consecutive failure: BackoffBase
// doubled n-1 times, capped at BackoffMax, jittered by up to a fifth.
func (s *Service) backoff(n int) time.Duration {
	d := s.cfg.BackoffBase
	for i := 1; i < n && d < s.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, s.cfg.BackoffMax)
	j := (s.cfg.Jitter()*2 - 1) * 0.2 // [-0.2, 0.2)
	return d + time.Duration(float64(d)*j)
}

// record writes one typed audit event about it in ctx's transaction. The
// fields never hold a secret or a token.
func (s *Service) record(ctx context.Context, t audit.EventType, it *Integration, extra map[string]any, comment string) error {
	fields := map[string]any{"client": it.ClientID, "url": redact(it.URL), "lifetime_s": int64(it.TokenLifetime / time.Second)}
	for k, v := range extra {
		fields[k] = v
	}
	if err := s.d.Audit.Record(ctx, audit.Change{Type: t, Subject: audit.Ref("Integration", it.ID), Fields: fields,
		Comment: "integration " + it.ID + ": " + comment}); err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// redact drops a URL's query (it may carry a receiver's credential).
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

func truncate(s string) string {
	if len(s) <= maxErrorBytes {
		return s
	}
	s = s[:maxErrorBytes]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// ad is the associated data sealing an integration's secret.
func ad(id string) []byte { return []byte("ward integration " + id + " secret") }

func newID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("integration id: %w", err)
	}
	return "int_" + hex.EncodeToString(b), nil
}

// newMessageID is a fresh webhook-id per push (a receiver de-duplicates
// by it).
func newMessageID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook id: %w", err)
	}
	return "msg_" + hex.EncodeToString(b), nil
}

// checkID refuses what cannot be an integration id, before any lookup.
func checkID(id string) error {
	rest, ok := strings.CutPrefix(id, "int_")
	if !ok || len(rest) != 24 {
		return apperr.New(apperr.NotFound, "no integration %q", truncate(strings.ToValidUTF8(id, "")))
	}
	if _, err := hex.DecodeString(rest); err != nil {
		return apperr.New(apperr.NotFound, "no integration %q", truncate(strings.ToValidUTF8(id, "")))
	}
	return nil
}
