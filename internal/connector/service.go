package connector

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/store"
)

// Sealer encrypts and decrypts with associated data: *secrets.Keyset.
type Sealer interface {
	Encrypt(plaintext, associatedData []byte) ([]byte, error)
	Decrypt(ciphertext, associatedData []byte) ([]byte, error)
}

// Scheduler schedules a refresh of a connector at a time, in the
// transaction in ctx (the River job of jobs.go); optional.
type Scheduler interface {
	ScheduleRefresh(ctx context.Context, name string, at time.Time) error
}

// Deps is what the Service needs.
type Deps struct {
	Store interface {
		Store
		StateStore
	}
	Tx        store.Transactor
	Directory directory.RoleReader
	Audit     audit.Recorder
	Keyset    Sealer
	Tokens    TokenEndpoint
	// Scheduler, when set, gets a refresh scheduled ahead of each expiry.
	Scheduler Scheduler
	// Alerts, when set, mails each active administrator when a refresh
	// fails for good and the connector is disconnected.
	Alerts Alerts
}

// Config tunes the Service. Zero fields take the defaults.
type Config struct {
	// AllowPrivate accepts plain http URLs to loopback
	// (WARD_OUTBOUND_ALLOW_PRIVATE=1).
	AllowPrivate bool
	// Margin: a token is refreshed once it expires within Margin or
	// within a fifth of its lifetime, whichever is longer; default 5m.
	Margin time.Duration
	// Lease is how long a replica's claim to refresh holds if it dies
	// mid-refresh; default 1m (longer than a token call may take).
	Lease time.Duration
	// Poll is how often a caller waiting on another replica's refresh
	// looks again; default 100ms.
	Poll time.Duration
	// StateTTL bounds a priming's browser round trip; default 10m.
	StateTTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Service manages connectors and their tokens.
type Service struct {
	d   Deps
	cfg Config
}

// NewService wires a Service.
func NewService(d Deps, cfg Config) (*Service, error) {
	if d.Store == nil || d.Tx == nil || d.Directory == nil || d.Audit == nil || d.Keyset == nil || d.Tokens == nil {
		return nil, errors.New("connector: the service needs a store, transactor, directory, audit recorder, keyset and token endpoint")
	}
	if cfg.Margin <= 0 {
		cfg.Margin = 5 * time.Minute
	}
	if cfg.Lease <= 0 {
		cfg.Lease = time.Minute
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 100 * time.Millisecond
	}
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{d: d, cfg: cfg}, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// requireAdmin is directory.RequireAdmin: ward itself or an administrator.
func (s *Service) requireAdmin(ctx context.Context) error {
	return directory.RequireAdmin(ctx, s.d.Directory, "manage connectors")
}

// record writes one typed audit event about c in the transaction in ctx.
// The fields name settings and status, never a secret or token.
func (s *Service) record(ctx context.Context, t audit.EventType, c *Connector, comment string) error {
	fields := map[string]any{"name": c.Name, "base_url": c.BaseURL, "client_id": c.ClientID, "status": string(c.Status)}
	if c.LastError != "" {
		fields["last_error"] = c.LastError
	}
	if err := s.d.Audit.Record(ctx, audit.Change{Type: t, Subject: audit.Ref("Connector", c.Name),
		Fields: fields, Comment: "connector " + c.Name + ": " + comment}); err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// Secret fields, bound into each ciphertext's associated data with the
// connector's name, so a sealed value moved to another row or field fails
// to open.
const (
	fieldClientSecret = "client_secret"
	fieldAccess       = "access_token"
	fieldRefresh      = "refresh_token"
	fieldVerifier     = "pkce_verifier"
)

func ad(name, field string) []byte { return []byte("ward connector " + name + " " + field) }

func (s *Service) seal(name, field, v string) ([]byte, error) {
	if v == "" {
		return nil, nil
	}
	ct, err := s.d.Keyset.Encrypt([]byte(v), ad(name, field))
	if err != nil {
		return nil, fmt.Errorf("seal connector %s %s: %w", name, field, err)
	}
	return ct, nil
}

func (s *Service) open(name, field string, ct []byte) (string, error) {
	if len(ct) == 0 {
		return "", nil
	}
	pt, err := s.d.Keyset.Decrypt(ct, ad(name, field))
	if err != nil {
		return "", fmt.Errorf("open connector %s %s (wrong keyset?): %w", name, field, err)
	}
	return string(pt), nil
}

// Create stores a new, unprimed connector.
func (s *Service) Create(ctx context.Context, in Settings) (*Connector, error) {
	if err := s.requireAdmin(ctx); err != nil {
		return nil, err
	}
	if err := in.Validate(s.cfg.AllowPrivate); err != nil {
		return nil, err
	}
	now := s.now()
	c := &Connector{Name: in.Name, BaseURL: in.BaseURL, AuthorizeURL: in.AuthorizeURL, TokenURL: in.TokenURL,
		ClientID: in.ClientID, RedirectURI: in.RedirectURI, Scopes: slices.Clone(in.Scopes), Status: StatusUnprimed,
		ProfileSystem: in.ProfileSystem,
		CreatedAt:     now, UpdatedAt: now}
	if c.Scopes == nil {
		c.Scopes = []string{}
	}
	var err error
	if c.Secrets.ClientSecret, err = s.seal(c.Name, fieldClientSecret, in.ClientSecret); err != nil {
		return nil, err
	}
	err = s.d.Tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.d.Store.CreateConnector(ctx, c); err != nil {
			if apperr.Is(err, apperr.Conflict) {
				return apperr.Wrap(apperr.Conflict, err, "connector %q already exists", c.Name)
			}
			return fmt.Errorf("create connector: %w", err)
		}
		return s.record(ctx, audit.ConnectorCreated, c, "created")
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Get returns one connector (its secrets sealed; callers show none).
func (s *Service) Get(ctx context.Context, name string) (*Connector, error) {
	if err := s.requireAdmin(ctx); err != nil {
		return nil, err
	}
	if err := CheckName(name); err != nil {
		return nil, err
	}
	return s.d.Store.GetConnector(ctx, name)
}

// List returns every connector by name.
func (s *Service) List(ctx context.Context) ([]*Connector, error) {
	if err := s.requireAdmin(ctx); err != nil {
		return nil, err
	}
	return s.d.Store.ListConnectors(ctx)
}

// Delete removes a connector and its tokens.
func (s *Service) Delete(ctx context.Context, name string) error {
	if err := s.requireAdmin(ctx); err != nil {
		return err
	}
	if err := CheckName(name); err != nil {
		return err
	}
	return s.d.Tx.InTx(ctx, func(ctx context.Context) error {
		c, err := s.d.Store.GetConnector(ctx, name)
		if err != nil {
			return err
		}
		if err := s.d.Store.DeleteConnector(ctx, name); err != nil {
			return fmt.Errorf("delete connector: %w", err)
		}
		return s.record(ctx, audit.ConnectorDeleted, c, "deleted")
	})
}

// Endpoint returns a connector's base URL and effective profile identifier
// system, for the MIS client, in one read. Like Token it is for ward's own
// code and checks no caller.
func (s *Service) Endpoint(ctx context.Context, name string) (base, profileSystem string, err error) {
	c, err := s.d.Store.GetConnector(ctx, name)
	if err != nil {
		return "", "", err
	}
	return c.BaseURL, c.EffectiveProfileSystem(), nil
}

// randomToken is n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func sha256Hex(v string) string {
	h := sha256.Sum256([]byte(v))
	return hex.EncodeToString(h[:])
}

// BeginConnect starts priming: it returns the remote's authorize URL to
// send the administrator's browser to, with a single-use state bound to
// session (an opaque value of the administrator's session) and a PKCE
// S256 challenge whose verifier stays here.
func (s *Service) BeginConnect(ctx context.Context, name, session string) (string, error) {
	if err := s.requireAdmin(ctx); err != nil {
		return "", err
	}
	if err := CheckName(name); err != nil {
		return "", err
	}
	if session == "" {
		return "", apperr.New(apperr.Unauthenticated, "priming needs a browser session")
	}
	c, err := s.d.Store.GetConnector(ctx, name)
	if err != nil {
		return "", err
	}
	state, verifier := randomToken(32), randomToken(32)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	sealed, err := s.seal(name, fieldVerifier, verifier)
	if err != nil {
		return "", err
	}
	st := &ConnectState{Hash: sha256Hex(state), Connector: name, SessionHash: sha256Hex(session),
		Verifier: sealed, ExpiresAt: s.now().Add(s.cfg.StateTTL)}
	if err := s.d.Tx.InTx(ctx, func(ctx context.Context) error { return s.d.Store.PutConnectState(ctx, st) }); err != nil {
		return "", fmt.Errorf("store connect state: %w", err)
	}
	u, err := url.Parse(c.AuthorizeURL)
	if err != nil {
		return "", fmt.Errorf("connector %s authorize URL: %w", name, err)
	}
	q := u.Query()
	q.Set("response_type", "code")
	q.Set("client_id", c.ClientID)
	q.Set("redirect_uri", c.RedirectURI)
	if len(c.Scopes) > 0 {
		q.Set("scope", strings.Join(c.Scopes, " "))
	}
	q.Set("state", state)
	q.Set("code_challenge", challenge)
	q.Set("code_challenge_method", "S256")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// errStale is the answer to a bad, used, expired or foreign state.
func errStale() error {
	return apperr.New(apperr.Invalid, "this connect link is stale, was used already or belongs to another session; start again from the connector page")
}

// CompleteConnect is the seed's store_access_information(code,
// redirect_uri): it checks state (single use, this session, this
// connector), exchanges code at the token endpoint with the PKCE verifier
// and the client secret, and stores the tokens sealed; the connector is
// then connected and a refresh is scheduled ahead of expiry.
func (s *Service) CompleteConnect(ctx context.Context, name, session, state, code string) (*Connector, error) {
	if err := s.requireAdmin(ctx); err != nil {
		return nil, err
	}
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if err := checkText("state", state, 256); err != nil {
		return nil, errStale()
	}
	if err := checkText("code", code, 4096); err != nil {
		return nil, err
	}
	var st *ConnectState
	// The state is spent in its own transaction, whatever follows: a
	// replayed callback finds nothing.
	err := s.d.Tx.InTx(ctx, func(ctx context.Context) error {
		var err error
		st, err = s.d.Store.TakeConnectState(ctx, sha256Hex(state), s.now())
		return err
	})
	if apperr.Is(err, apperr.NotFound) {
		return nil, errStale()
	}
	if err != nil {
		return nil, fmt.Errorf("take connect state: %w", err)
	}
	if st.Connector != name || subtle.ConstantTimeCompare([]byte(st.SessionHash), []byte(sha256Hex(session))) != 1 {
		return nil, errStale()
	}
	verifier, err := s.open(name, fieldVerifier, st.Verifier)
	if err != nil {
		return nil, err
	}
	c, err := s.d.Store.GetConnector(ctx, name)
	if err != nil {
		return nil, err
	}
	secret, err := s.open(name, fieldClientSecret, c.Secrets.ClientSecret)
	if err != nil {
		return nil, err
	}
	res, err := s.d.Tokens.Token(ctx, TokenRequest{URL: c.TokenURL, ClientID: c.ClientID, ClientSecret: secret,
		Params: url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.RedirectURI},
			"code_verifier": {verifier}}})
	if err != nil {
		s.cfg.Logger.WarnContext(ctx, "connector: code exchange failed", "connector", name, "err", err)
		if Permanent(err) {
			return nil, apperr.Wrap(apperr.Invalid, err, "%s refused the login's code; start again", name)
		}
		return nil, apperr.Wrap(apperr.Unavailable, err, "%s's token endpoint could not be reached; start again shortly", name)
	}
	if res.AccessToken == "" || res.RefreshToken == "" {
		return nil, apperr.New(apperr.Unavailable, "%s answered without an access and a refresh token", name)
	}
	var out *Connector
	err = s.d.Tx.InTx(ctx, func(ctx context.Context) error {
		c, err := s.d.Store.GetConnector(ctx, name)
		if err != nil {
			return err
		}
		if err := s.setTokens(c, res, ""); err != nil {
			return err
		}
		if err := s.d.Store.UpdateConnector(ctx, c); err != nil {
			return fmt.Errorf("store connector tokens: %w", err)
		}
		if err := s.record(ctx, audit.ConnectorPrimed, c, "primed"); err != nil {
			return err
		}
		out = c
		return s.schedule(ctx, c)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// setTokens stores res in c, sealed: connected, expiry from now, the
// refresh token rotated when res has one and kept otherwise (old is the
// one spent, "" on priming).
func (s *Service) setTokens(c *Connector, res *TokenResponse, old string) error {
	now := s.now()
	access, err := s.seal(c.Name, fieldAccess, res.AccessToken)
	if err != nil {
		return err
	}
	rt := res.RefreshToken
	if rt == "" {
		rt = old
	}
	refresh, err := s.seal(c.Name, fieldRefresh, rt)
	if err != nil {
		return err
	}
	c.Secrets.AccessToken, c.Secrets.RefreshToken = access, refresh
	c.Status, c.LastError, c.LastRefresh, c.LeaseUntil, c.UpdatedAt = StatusConnected, "", now, time.Time{}, now
	c.Expiry = time.Time{}
	if res.ExpiresIn > 0 {
		c.Expiry = now.Add(time.Duration(res.ExpiresIn) * time.Second)
	}
	return nil
}

// refreshAt is when c's access token should be refreshed: Margin or a
// fifth of its lifetime before expiry, whichever is earlier. Zero when the
// token has no known expiry (it is refreshed only after a 401).
func (s *Service) refreshAt(c *Connector) time.Time {
	if c.Expiry.IsZero() {
		return time.Time{}
	}
	ahead := max(s.cfg.Margin, c.Expiry.Sub(c.LastRefresh)/5)
	return c.Expiry.Add(-ahead)
}

func (s *Service) due(c *Connector) bool {
	at := s.refreshAt(c)
	return !at.IsZero() && !s.now().Before(at)
}

func (s *Service) schedule(ctx context.Context, c *Connector) error {
	at := s.refreshAt(c)
	if s.d.Scheduler == nil || at.IsZero() {
		return nil
	}
	if err := s.d.Scheduler.ScheduleRefresh(ctx, c.Name, at); err != nil {
		return fmt.Errorf("schedule connector refresh: %w", err)
	}
	return nil
}
