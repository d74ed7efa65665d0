package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"ward/internal/audit"
	"ward/internal/blob"
	"ward/internal/bulk"
	"ward/internal/bulk/bulksource"
	"ward/internal/client"
	"ward/internal/clinical"
	"ward/internal/config"
	"ward/internal/connector"
	"ward/internal/connector/tokenclient"
	"ward/internal/directory"
	"ward/internal/document"
	"ward/internal/httpauth"
	"ward/internal/integration"
	"ward/internal/intervention"
	"ward/internal/jobs"
	"ward/internal/mail"
	"ward/internal/oauth"
	"ward/internal/oauth/keys"
	"ward/internal/outbound"
	"ward/internal/secrets"
	"ward/internal/session"
	"ward/internal/sqlstore"
	"ward/internal/webhook"
	"ward/internal/workflow"
)

// Services are ward's domain services wired on one database: what the HTTP
// server serves, and what the CLI commands drive directly, so both share one
// construction and cannot drift apart.
type Services struct {
	DB        *sqlstore.DB
	Audit     *audit.Log
	Directory *directory.Service
	Sessions  *session.Service
	// Clients is the OAuth2 client registry.
	Clients *client.Service
	// Keys holds the JWT signing keys (created on first start by
	// server.New, rotated by `ward keys rotate`).
	Keys *keys.Manager
	// OAuth is the authorization server (its HTTP endpoints, bearer
	// checks, token tools and service accounts).
	OAuth *oauth.Provider
	// Clinical is the clinical record: observations and procedures.
	Clinical *clinical.Service
	// Documents is DocumentReference metadata with its content.
	Documents *document.Service
	// Blobs holds document content and export files.
	Blobs blob.Store
	// Export is the Bulk Data export engine and ExportSource what it reads.
	Export       *bulk.Engine
	ExportSource *bulksource.Source
	// SessionConfig is the session lifetimes and lockout rules in force.
	SessionConfig session.Config
	// Checkpoints signs the audit chain's head into the checkpoint file
	// (and the log), and holds the key `ward audit verify` checks them with.
	Checkpoints *audit.Checkpointer
	// Throttle limits failed credential checks per client address (nil
	// when WARD_SIGNIN_RATE_PER_MINUTE is 0), and ClientIP names a
	// request's address as the trusted proxies tell it.
	Throttle *session.Throttle
	ClientIP func(*http.Request) string
	// MasterKey is the 32-byte key for secrets at rest, loaded (or
	// created) eagerly so a bad key fails at start-up; the services that
	// encrypt or sign derive their own sub-keys from it.
	MasterKey []byte
	// Interventions manages seed 001's interventions (internal/intervention).
	Interventions *intervention.Service
	// Mail is the outbox of messages sent for interventions; its
	// delivery jobs are inserted with the runner server.New builds.
	Mail *mail.Outbox
	// Connectors keeps the OAuth links to external systems (seed 000's
	// MIS); its refresh jobs are scheduled with the runner server.New
	// builds.
	Connectors *connector.Service
	// MIS builds a connector's MIS client for the pass-through API.
	MIS *MISClients

	// Webhooks manages webhook subscriptions (issue 15, the control
	// plane).
	Webhooks *webhook.Service
	// WebhookOutbox is the webhook outbox's data plane (issue 15): the
	// dispatcher over the audit chain and the delivery worker; its jobs
	// are inserted with the runner server.New builds.
	WebhookOutbox *webhook.Outbox
	// Integrations pushes tokens to integrations (issue 15 part 2); its
	// push jobs are enqueued with the runner server.New builds.
	Integrations *integration.Service
	// Workflow holds seed 002's declarations (FHIR Task) and their steps.
	Workflow *workflow.Service
}

// Option adjusts how services and the server are built.
type Option func(*options)

type options struct {
	logger  *slog.Logger
	now     func() time.Time
	version string
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock sets the clock every service reads (default time.Now), so tests
// can move time instead of sleeping.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithVersion sets the ward version recorded in audit events and reported
// by the server.
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

func buildOptions(opts []Option) options {
	o := options{logger: slog.New(slog.DiscardHandler), now: time.Now, version: "dev"}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// OpenServices opens the database named by cfg and wires the services on it.
// It does not migrate (see Services.Migrate). Close releases the database.
func OpenServices(ctx context.Context, cfg config.Config, opts ...Option) (*Services, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	o := buildOptions(opts)
	db, err := sqlstore.Open(ctx, cfg.DatabaseURL, cfg.DataDir, sqlstore.WithClock(o.now))
	if err != nil {
		return nil, err
	}
	s, err := wire(db, cfg, o)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return s, nil
}

func wire(db *sqlstore.DB, cfg config.Config, o options) (*Services, error) {
	masterKey, err := secrets.LoadOrCreateMasterKey(cfg.DataDir, cfg.MasterKey)
	if err != nil {
		return nil, err
	}
	hasher := secrets.DefaultArgon2()
	auditLog := audit.NewLog(audit.Deps{Store: db, Tx: db}, audit.Config{Version: o.version, Now: o.now})
	seed, err := secrets.DeriveKey(masterKey, audit.CheckpointKeyPurpose, 32)
	if err != nil {
		return nil, fmt.Errorf("audit checkpoint key: %w", err)
	}
	cpKey, err := audit.NewCheckpointKey(seed)
	if err != nil {
		return nil, err
	}
	checkpoints := audit.NewCheckpointer(audit.CheckpointerDeps{Head: db, Key: cpKey},
		audit.CheckpointerConfig{Path: cfg.AuditCheckpointPath(), Logger: o.logger, Now: o.now})
	dir := directory.NewService(directory.Deps{Store: db, Audit: auditLog, Hasher: hasher}, directory.Config{Now: o.now})
	// Verifying the chain and reading the whole log are the
	// administrators' (and ward's own), by the directory's rule.
	auditLog.WithAuthorizer(func(ctx context.Context, what string) error {
		return directory.RequireAdmin(ctx, dir, what)
	})
	// Deleting a person, removing a role or withdrawing a consent revokes
	// the tokens and sessions that carried the access, in its transaction.
	dir.RevokeWith(db)
	accountKey, err := secrets.DeriveHMACKey(masterKey, secrets.PurposeSigninLimit)
	if err != nil {
		return nil, fmt.Errorf("sign-in limit key: %w", err)
	}
	scfg := session.Config{
		IdleTimeout:      cfg.SessionIdleTimeout,
		AbsoluteLifetime: cfg.SessionAbsoluteLifetime,
		MaxFailures:      cfg.LockoutFailures,
		LockoutPeriod:    cfg.LockoutPeriod,
		AccountKey:       accountKey,
		Now:              o.now,
	}
	sessions := session.NewService(session.Deps{Store: db, Users: db, Passwords: hasher, Audit: auditLog, Tx: db},
		scfg).WithUnlockAuthorizer(dir)
	throttle := session.NewThrottle(db, session.ThrottleConfig{PerMinute: cfg.SigninRatePerMinute, Now: o.now})
	proxies := cfg.Proxies()
	clientIP := func(r *http.Request) string { return httpauth.ClientIP(r, proxies) }
	secretKey, err := secrets.DeriveHMACKey(masterKey, secrets.PurposeClientSecret)
	if err != nil {
		return nil, fmt.Errorf("client secret key: %w", err)
	}
	clients, err := client.NewService(client.Deps{Store: db, Tx: db, Roles: dir, Audit: auditLog},
		client.Config{SecretKey: secretKey, Now: o.now})
	if err != nil {
		return nil, err
	}
	clients.RevokeWith(db) // disabling a client revokes its tokens for good
	keyAEAD, err := keys.NewMasterKeyAEAD(masterKey)
	if err != nil {
		return nil, err
	}
	signingKeys := keys.NewManager(keys.Deps{Store: db, Tx: db, AEAD: keyAEAD, Audit: auditLog}, keys.Config{Now: o.now})
	ocfg := oauth.DefaultConfig(cfg.PublicIssuer())
	ocfg.AccessTokenLifetime = cfg.AccessTokenLifetime
	ocfg.RefreshTokenLifetime = cfg.RefreshTokenLifetime
	ocfg.ServiceTokenLifetime = cfg.ServiceTokenLifetime
	ocfg.SystemTokenLifetime = cfg.SystemTokenLifetime
	ocfg.IDPTokenLifetime = cfg.IDPTokenLifetime
	ocfg.ServiceTokenAlertWindow = cfg.ServiceTokenAlertWindow
	ocfg.Now = o.now
	provider, err := oauth.New(ocfg, oauth.Deps{
		Tokens: db, Tx: db, Clients: clients, Keys: signingKeys, Audit: auditLog, Directory: dir,
		MasterKey: masterKey, SecretKey: secretKey, Logger: o.logger,
		Throttle: throttle, ClientIP: clientIP,
		Outbound: outbound.Policy{AllowPrivate: cfg.OutboundAllowPrivate},
	})
	if err != nil {
		return nil, err
	}
	clients.OnChange(provider.InvalidateClient)
	blobs, err := blob.NewDir(cfg.BlobRoot(), blob.WithClock(o.now))
	if err != nil {
		return nil, err
	}
	clin := clinical.NewService(clinical.Deps{Store: db, Tx: db, Perm: dir, Audit: auditLog}, clinical.Config{Now: o.now})
	docs, err := document.NewService(document.Deps{Store: db, Tx: db, Perm: dir, Audit: auditLog, Blobs: blobs},
		document.Config{MaxSize: cfg.DocumentMaxBytes, Now: o.now})
	if err != nil {
		return nil, err
	}
	dir.OnPurged(docs.RemovePurgedContent)
	src := bulksource.New(dir, db, db, ocfg.FHIRBase())
	engine, err := bulk.NewEngine(db, blobs, src, bulk.EngineConfig{
		LinesPerFile: cfg.ExportFileLines, Retention: cfg.ExportRetention, Slice: cfg.ExportSlice,
		Now: o.now, Logger: o.logger,
	})
	if err != nil {
		return nil, err
	}
	outbox, err := newOutbox(db, cfg.SMTP, o)
	if err != nil {
		return nil, err
	}
	ivs, err := intervention.NewService(intervention.Deps{Store: db, Tx: db, Directory: dir, Clients: db, Audit: auditLog,
		Mail: intervention.Mail{Recipients: db, Outbox: outbox, Messages: db}},
		intervention.Config{Now: o.now, Logger: o.logger})
	if err != nil {
		return nil, err
	}
	connAEAD, err := connector.NewMasterKeyAEAD(masterKey)
	if err != nil {
		return nil, err
	}
	conns, err := connector.NewService(connector.Deps{Store: db, Tx: db, Directory: dir, Audit: auditLog, Keyset: connAEAD,
		Alerts: connector.Alerts{Admins: db, Outbox: outbox},
		Tokens: tokenclient.New(outbound.New(outbound.Policy{AllowPrivate: cfg.OutboundAllowPrivate},
			outbound.Limits{Timeout: 10 * time.Second}))},
		connector.Config{AllowPrivate: cfg.OutboundAllowPrivate, Now: o.now, Logger: o.logger})
	if err != nil {
		return nil, err
	}
	intAEAD, err := secrets.PurposeAEAD(masterKey, integration.KeyPurpose)
	if err != nil {
		return nil, err
	}
	ints, err := integration.NewService(integration.Deps{Store: db, Tx: db, Directory: dir, Audit: auditLog,
		Sealer: intAEAD, Minter: integrationMinter{p: provider},
		Poster: outbound.New(outbound.Policy{AllowPrivate: cfg.OutboundAllowPrivate}, outbound.Limits{Timeout: 10 * time.Second})},
		integration.Config{AllowPrivate: cfg.OutboundAllowPrivate, PublicAddr: outbound.Public, Now: o.now, Logger: o.logger})
	if err != nil {
		return nil, err
	}
	hooks, whOutbox, err := newWebhooks(db, masterKey, clients, dir, auditLog, cfg, o)
	if err != nil {
		return nil, err
	}
	return &Services{DB: db, Audit: auditLog, Directory: dir, Sessions: sessions, Clients: clients,
		Keys: signingKeys, OAuth: provider, Clinical: clin, Documents: docs, Blobs: blobs,
		Workflow: workflow.NewService(workflow.Deps{Store: db, Tx: db, Audit: auditLog, Now: o.now}),
		Export:   engine, ExportSource: src, SessionConfig: scfg, MasterKey: masterKey,
		Checkpoints: checkpoints, Throttle: throttle, ClientIP: clientIP,
		Interventions: ivs, Mail: outbox, Connectors: conns,
		MIS:      newMISClients(conns, dir, cfg.OutboundAllowPrivate, o),
		Webhooks: hooks, WebhookOutbox: whOutbox, Integrations: ints}, nil
}

// newWebhooks builds the webhook control plane and the delivery side
// (issue 15), sharing one sealer: signing secrets are sealed under their
// own sub-key of the master key. The URL check at subscription time uses
// outbound's notion of a public address; the real guard is the outbound
// client's at delivery time (after DNS, no redirects). A replay or a
// re-enable wakes the delivery worker in its own transaction.
func newWebhooks(db *sqlstore.DB, masterKey []byte, clients *client.Service, dir *directory.Service,
	auditLog *audit.Log, cfg config.Config, o options) (*webhook.Service, *webhook.Outbox, error) {
	sealer, err := webhook.NewSealer(masterKey)
	if err != nil {
		return nil, nil, fmt.Errorf("webhook sealer: %w", err)
	}
	ob, err := webhook.NewOutbox(webhook.OutboxDeps{Store: db, Tx: db, Audit: auditLog, Sealer: sealer,
		Poster: outbound.New(outbound.Policy{AllowPrivate: cfg.OutboundAllowPrivate},
			outbound.Limits{Timeout: cfg.WebhookTimeout, IdlePerHost: webhook.DefaultParallel})},
		webhook.OutboxConfig{Timeout: cfg.WebhookTimeout, MaxFailures: cfg.WebhookMaxFailures, Now: o.now, Logger: o.logger})
	if err != nil {
		return nil, nil, err
	}
	svc, err := webhook.NewService(webhook.Deps{Store: db, Clients: clients, Roles: dir, Audit: auditLog, Tx: db,
		Sealer: sealer, Wake: ob.Kick},
		webhook.Config{AllowPrivate: cfg.OutboundAllowPrivate, PublicAddr: outbound.Public, Now: o.now})
	if err != nil {
		return nil, nil, err
	}
	return svc, ob, nil
}

// newOutbox builds the mail outbox, with the SMTP transport when a server
// is configured (otherwise messages are stored as not sent).
func newOutbox(db *sqlstore.DB, sc config.SMTP, o options) (*mail.Outbox, error) {
	var transport mail.Transport
	if sc.Enabled() {
		t, err := mail.NewSMTP(mail.SMTPConfig{Host: sc.Host, Port: sc.Port, Username: sc.Username,
			Password: sc.Password, TLS: mail.TLSMode(sc.TLS)})
		if err != nil {
			return nil, err
		}
		transport = t
	}
	return mail.NewOutbox(db, transport, mail.OutboxConfig{From: sc.From, Now: o.now, Logger: o.logger})
}

// Migrate brings the schema, the static data and River's job tables up to
// date; it is idempotent.
func (s *Services) Migrate(ctx context.Context) error {
	if err := s.DB.Migrate(ctx); err != nil {
		return err
	}
	if err := jobs.Migrate(ctx, s.DB.Dialect(), s.DB.Writer()); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Close stops the services' background work and releases the database.
func (s *Services) Close() error {
	s.OAuth.Close()
	if err := s.DB.Close(); err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	return nil
}
