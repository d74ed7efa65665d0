package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/grantpolicy"
	"ward/internal/secrets"
	"ward/internal/store"
)

// Entropy of what ward generates: 256-bit secrets (the brief's floor for a
// credential stored under a fast keyed hash) and 128-bit client ids, which
// are public but must not be guessable in sequence.
const (
	secretBytes   = 32
	clientIDBytes = 16
	// maxClientIDLen bounds ids accepted from callers before any query.
	maxClientIDLen = 128
)

// Roles reads a user's roles, subject to the caller's permission to view
// that user (as directory.Service.UserRoles does): the Service asks only
// about the acting user (always allowed) and, for an administrator, about a
// prospective owner.
type Roles interface {
	UserRoles(ctx context.Context, id int64) ([]string, error)
}

// Service is the client registry's use cases. Management methods read the
// acting user from ctx (internal/actor): ward itself and administrators may
// manage every client, an application developer the clients they own, and
// nobody else any. Each change and its audit event commit together.
type Service struct {
	store Store
	tx    store.Transactor
	roles Roles
	audit audit.Recorder
	key   secrets.HMACKey
	now   func() time.Time
	// changed is told the id of every client a write changed, after it
	// commits (the authorization server drops its cached copy).
	changed func(id string)
	// tokens revokes a disabled client's tokens; nil revokes nothing
	// (tests of the registry alone).
	tokens TokenRevoker
}

// TokenRevoker ends every grant (codes, access and refresh tokens) of a
// client in the caller's transaction and returns how many it ended.
// Implemented by the token store (internal/sqlstore).
type TokenRevoker interface {
	RevokeClientTokens(ctx context.Context, clientID string) (int, error)
}

// RevokeWith makes Disable revoke the client's tokens through r. It is for
// wiring, before the Service is used.
func (s *Service) RevokeWith(r TokenRevoker) { s.tokens = r }

// OnChange registers fn to be called with a client's id after each change
// to it commits. It is for wiring, before the Service is used.
func (s *Service) OnChange(fn func(id string)) { s.changed = fn }

func (s *Service) notify(id string) {
	if s.changed != nil {
		s.changed(id)
	}
}

// Deps are the collaborators a Service cannot work without.
type Deps struct {
	Store Store
	Tx    store.Transactor
	Roles Roles
	Audit audit.Recorder
}

// Config is how a Service behaves.
type Config struct {
	// SecretKey signs client secrets; derive it from the master key with
	// secrets.DeriveHMACKey(master, secrets.PurposeClientSecret). Required.
	SecretKey secrets.HMACKey
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// NewService wires a Service.
func NewService(d Deps, cfg Config) (*Service, error) {
	if d.Store == nil || d.Tx == nil || d.Roles == nil || d.Audit == nil {
		return nil, errors.New("client service: store, transactor, roles and auditor are required")
	}
	if len(cfg.SecretKey) < 32 {
		return nil, fmt.Errorf("client service: secret key is %d bytes, want at least 32", len(cfg.SecretKey))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{store: d.Store, tx: d.Tx, roles: d.Roles, audit: d.Audit, key: cfg.SecretKey, now: cfg.Now}, nil
}

// newClientID draws a random client id that starts with a letter or a
// digit: base64url's '-' and '_' may open it otherwise, and an id starting
// with '-' reads as a flag to every command line that is handed it
// (`ward client disable -JTE…`).
func newClientID() (string, error) {
	for {
		id, err := secrets.RandomToken(clientIDBytes)
		if err != nil {
			return "", err
		}
		if id[0] != '-' && id[0] != '_' {
			return id, nil
		}
	}
}

// caller is who is asking, resolved once per call.
type caller struct {
	userID    int64
	admin     bool // ward itself or an administrator
	developer bool
	// policy is the caller as internal/grantpolicy sees them.
	policy grantpolicy.Caller
}

func (s *Service) caller(ctx context.Context) (caller, error) {
	a := actor.From(ctx)
	switch {
	case a.System:
		return caller{admin: true, policy: grantpolicy.Caller{System: true}}, nil
	case a.Anonymous():
		return caller{}, apperr.New(apperr.Unauthenticated, "sign in first")
	case a.UserID == 0:
		return caller{}, apperr.New(apperr.Forbidden, "a client acting for nobody may not manage clients")
	}
	roles, err := s.roles.UserRoles(ctx, a.UserID)
	if err != nil {
		if k := apperr.KindOf(err); k == apperr.NotFound || k == apperr.Forbidden {
			return caller{}, apperr.Wrap(apperr.Unauthenticated, err, "the signed-in account is no longer active")
		}
		return caller{}, fmt.Errorf("read the caller's roles: %w", err)
	}
	return caller{
		userID:    a.UserID,
		admin:     slices.Contains(roles, directory.RoleAdmin),
		developer: slices.Contains(roles, directory.RoleApplicationDeveloper),
		policy:    grantpolicy.Caller{UserID: a.UserID, Roles: roles},
	}, nil
}

// mayManage is the one authorization rule for a client: administrators
// manage all; an application developer manages the clients they own.
func (c caller) mayManage(cl *Client) bool {
	return c.admin || (c.developer && c.userID != 0 && cl.OwnerID == c.userID)
}

func (c caller) mayRegister() bool { return c.admin || c.developer }

// record writes one typed audit event about client c (filed under its
// owner) in the transaction in ctx. Its payload is c's public settings:
// never the secret or its hash.
func (s *Service) record(ctx context.Context, t audit.EventType, c *Client, format string, args ...any) error {
	comment := fmt.Sprintf("client %s: ", c.ID) + fmt.Sprintf(format, args...)
	fields := map[string]any{"name": c.Name, "status": c.Status, "grant_types": c.GrantTypes,
		"auth_method": c.AuthMethod, "format": c.TokenFormat, "owner": c.OwnerID}
	if err := s.audit.Record(ctx, audit.Change{Type: t, Subject: audit.Ref("Client", c.ID), SubjectID: c.OwnerID,
		Fields: fields, Comment: comment}); err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// checkOwner validates a new owner: an existing user who holds the
// application_developer role.
func (s *Service) checkOwner(ctx context.Context, ownerID int64) error {
	if ownerID == 0 {
		return nil
	}
	roles, err := s.roles.UserRoles(ctx, ownerID)
	if apperr.Is(err, apperr.NotFound) {
		return apperr.New(apperr.Invalid, "owner: user %d not found", ownerID)
	}
	if err != nil {
		return fmt.Errorf("read the owner's roles: %w", err)
	}
	if !slices.Contains(roles, directory.RoleApplicationDeveloper) {
		return apperr.New(apperr.Invalid, "owner: user %d does not hold the %s role", ownerID, directory.RoleApplicationDeveloper)
	}
	return nil
}

// storeErr names the intervention when the store refuses a reference: the
// owner is checked beforehand, so an Invalid write means the intervention.
func storeErr(err error, s Settings) error {
	if apperr.Is(err, apperr.Invalid) && s.Intervention != "" {
		return apperr.Wrap(apperr.Invalid, err, "intervention %q does not exist", s.Intervention)
	}
	return err
}

// createErr is storeErr for a new client: client ids are random, so a
// Conflict on insert naming an intervention is the one-client-per-
// intervention index (migration 00020). (On update a Conflict may also be
// a stale version, so Update keeps the store's message.)
func createErr(err error, s Settings) error {
	if apperr.Is(err, apperr.Conflict) && s.Intervention != "" {
		return apperr.Wrap(apperr.Conflict, err, "intervention %q already has a client acting for it", s.Intervention)
	}
	return storeErr(err, s)
}

// Create registers a client and returns it with its secret in clear, the
// only time the secret is ever shown; the secret is "" for clients that do
// not authenticate with one. An application developer registers clients
// they own (OwnerID 0 means themselves), within what grantpolicy lets a
// developer give a client, and the client starts pending until an
// administrator approves it; an administrator may register any client
// (active at once) and name any application developer as the owner, or none.
func (s *Service) Create(ctx context.Context, in Settings) (*Client, string, error) {
	who, err := s.caller(ctx)
	if err != nil {
		return nil, "", err
	}
	if !who.mayRegister() {
		return nil, "", apperr.New(apperr.Forbidden, "only an administrator or an application developer may register clients")
	}
	if !who.admin && in.OwnerID == 0 {
		in.OwnerID = who.userID
		if in.ResourceServer {
			return nil, "", apperr.New(apperr.Forbidden, "only an administrator may register a resource server")
		}
	}
	set, err := normalize(in)
	if err != nil {
		return nil, "", err
	}
	draft := Client{Settings: set}
	d := grantpolicy.Decide(who.policy, grantpolicy.Request{Action: grantpolicy.RegisterClient, Client: draft.Policy()})
	if err := d.Err(); err != nil {
		return nil, "", err
	}
	id, err := newClientID()
	if err != nil {
		return nil, "", fmt.Errorf("create client: %w", err)
	}
	now := s.now()
	c := &Client{ID: id, Settings: set, Status: d.Status, CreatedAt: now, UpdatedAt: now}
	secret, err := s.issueSecret(c, now)
	if err != nil {
		return nil, "", err
	}
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.checkOwner(ctx, c.OwnerID); err != nil {
			return err
		}
		if err := s.store.CreateClient(ctx, c); err != nil {
			return createErr(err, c.Settings)
		}
		return s.record(ctx, audit.ClientCreated, c, "registered %q (%s, grants %v, auth %s, tokens %s)%s, %s",
			c.Name, kind(c), c.GrantTypes, c.AuthMethod, c.TokenFormat, resourceServerNote(c), c.Status)
	})
	if err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

// resourceServerNote marks a resource server in audit comments, since the
// flag widens what the client may learn at introspection.
func resourceServerNote(c *Client) string {
	if c.ResourceServer {
		return "; resource server"
	}
	return ""
}

func kind(c *Client) string {
	if c.Public {
		return "public"
	}
	return "confidential"
}

// issueSecret gives c a fresh secret when its auth method uses one (and
// clears the hash otherwise), returning the secret in clear.
func (s *Service) issueSecret(c *Client, now time.Time) (string, error) {
	if !c.UsesSecret() {
		c.SecretHash, c.SecretIssuedAt = "", nil
		return "", nil
	}
	secret, err := secrets.RandomToken(secretBytes)
	if err != nil {
		return "", fmt.Errorf("generate client secret: %w", err)
	}
	c.SecretHash = s.key.Sign(secret)
	c.SecretIssuedAt = &now
	return secret, nil
}

// get loads a client the caller may manage. Unknown ids are NotFound;
// known ones the caller may not manage are Forbidden (client ids are not
// secret: they travel in URLs).
func (s *Service) get(ctx context.Context, who caller, id string) (*Client, error) {
	c, err := s.lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	if !who.mayManage(c) {
		return nil, apperr.New(apperr.Forbidden, "you may not manage client %s", id)
	}
	return c, nil
}

// Get returns a client the caller may manage.
func (s *Service) Get(ctx context.Context, id string) (*Client, error) {
	who, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	return s.get(ctx, who, id)
}

// List returns the clients the caller may manage, matching f, in
// registration order. An application developer sees their own clients only.
func (s *Service) List(ctx context.Context, f Filter, p store.Page) ([]*Client, string, error) {
	who, err := s.caller(ctx)
	if err != nil {
		return nil, "", err
	}
	if f.State != "" && !slices.Contains(States, f.State) {
		return nil, "", apperr.New(apperr.Invalid, "state must be one of %v", States)
	}
	if utf8.RuneCountInString(f.Name) > maxNameLen || !utf8.ValidString(f.Name) || strings.ContainsRune(f.Name, 0) {
		return nil, "", apperr.New(apperr.Invalid, "a name to look for is valid text of at most %d characters", maxNameLen)
	}
	if !who.admin {
		if !who.developer {
			return nil, "", apperr.New(apperr.Forbidden, "only an administrator or an application developer may list clients")
		}
		if f.OwnerID != 0 && f.OwnerID != who.userID {
			return nil, "", apperr.New(apperr.Forbidden, "an application developer may only list their own clients")
		}
		f.OwnerID = who.userID
	}
	return s.store.ListClients(ctx, f, p)
}

// Count counts the clients the caller may manage, matching f: all of them
// for an administrator, an application developer's own (as List).
func (s *Service) Count(ctx context.Context, f Filter) (int, error) {
	who, err := s.caller(ctx)
	if err != nil {
		return 0, err
	}
	if !who.admin {
		if !who.developer {
			return 0, apperr.New(apperr.Forbidden, "only an administrator or an application developer may count clients")
		}
		if f.OwnerID != 0 && f.OwnerID != who.userID {
			return 0, apperr.New(apperr.Forbidden, "an application developer may only count their own clients")
		}
		f.OwnerID = who.userID
	}
	n, err := s.store.CountClients(ctx, f)
	if err != nil {
		return 0, fmt.Errorf("count clients: %w", err)
	}
	return n, nil
}

// Update changes a client's settings by read-modify-write in one
// transaction: fn edits a copy of the current settings, which are then
// validated whole. Only an administrator may change the owner. When the
// change moves the client onto a secret-based auth method it had no secret
// for, a new secret is issued and returned (shown once); otherwise the
// returned secret is "". Moving off such a method discards the secret.
// An application developer may add to the client only what grantpolicy
// lets a developer give one; a developer's change that widens the grants,
// scopes or redirect URIs of an active client returns it to pending.
func (s *Service) Update(ctx context.Context, id string, fn func(*Settings) error) (*Client, string, error) {
	who, err := s.caller(ctx)
	if err != nil {
		return nil, "", err
	}
	var out *Client
	var secret string
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		c, err := s.get(ctx, who, id)
		if err != nil {
			return err
		}
		note := ""
		set := c.Settings
		set.GrantTypes = slices.Clone(set.GrantTypes)
		set.RedirectURIs = slices.Clone(set.RedirectURIs)
		if err := fn(&set); err != nil {
			return err
		}
		// The IdP system kind is fixed at creation (CreateSystem).
		set.IDPSystem, set.OrganizationID = c.IDPSystem, c.OrganizationID
		if set.OwnerID != c.OwnerID {
			if !who.admin {
				return apperr.New(apperr.Forbidden, "only an administrator may change a client's owner")
			}
			if err := s.checkOwner(ctx, set.OwnerID); err != nil {
				return err
			}
		}
		if set.ResourceServer != c.ResourceServer && !who.admin {
			return apperr.New(apperr.Forbidden, "only an administrator may mark or unmark a resource server")
		}
		set, err = normalize(set)
		if err != nil {
			return err
		}
		before := c.Policy()
		next := Client{Settings: set}
		d := grantpolicy.Decide(who.policy, grantpolicy.Request{Action: grantpolicy.UpdateClient,
			Before: &before, Client: next.Policy()})
		if err := d.Err(); err != nil {
			return err
		}
		if d.Status != c.Status {
			note = "; " + d.Status + " again: " + d.Reason
		}
		c.Status = d.Status
		hadSecret := c.UsesSecret()
		c.Settings = set
		now := s.now()
		c.UpdatedAt = now
		if !hadSecret || !c.UsesSecret() {
			if secret, err = s.issueSecret(c, now); err != nil {
				return err
			}
		}
		if err := s.store.UpdateClient(ctx, c); err != nil {
			return storeErr(err, c.Settings)
		}
		out = c
		if secret != "" {
			note += "; new secret issued"
		}
		return s.record(ctx, audit.ClientUpdated, c, "settings changed (%s, grants %v, auth %s, tokens %s)%s%s",
			kind(c), c.GrantTypes, c.AuthMethod, c.TokenFormat, resourceServerNote(c), note)
	})
	if err != nil {
		return nil, "", err
	}
	s.notify(id)
	return out, secret, nil
}

// Approve makes a pending client active, so anyone may authorize it; only
// an administrator (or ward itself) may. Approving an active client
// changes nothing. The change and its audit event commit together.
func (s *Service) Approve(ctx context.Context, id string) (*Client, error) {
	who, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	d := grantpolicy.Decide(who.policy, grantpolicy.Request{Action: grantpolicy.ApproveClient})
	if err := d.Err(); err != nil {
		return nil, err
	}
	var out *Client
	changed := false
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		c, err := s.get(ctx, who, id)
		if err != nil {
			return err
		}
		out = c
		if c.Status == d.Status {
			return nil
		}
		prev := c.Status
		c.Status = d.Status
		c.UpdatedAt = s.now()
		if err := s.store.UpdateClient(ctx, c); err != nil {
			return err
		}
		changed = true
		return s.record(ctx, audit.ClientApproved, c, "approved (%s -> %s)", prev, c.Status)
	})
	if err != nil {
		return nil, err
	}
	if changed {
		s.notify(id)
	}
	return out, nil
}

// Disable stops a client from obtaining tokens and revokes those it holds,
// in the same transaction and for good: enabling it again lets it obtain
// new tokens, never brings the old ones back. It stays registered.
// Disabling a disabled client changes nothing.
func (s *Service) Disable(ctx context.Context, id string) (*Client, error) {
	return s.setDisabled(ctx, id, true)
}

// Enable lets a disabled client obtain tokens again. When its owning
// application developer enables it, it waits for an administrator's
// approval again (grantpolicy): an administrator's disable is not undone
// by the developer alone.
func (s *Service) Enable(ctx context.Context, id string) (*Client, error) {
	return s.setDisabled(ctx, id, false)
}

func (s *Service) setDisabled(ctx context.Context, id string, disabled bool) (*Client, error) {
	who, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	var out *Client
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		c, err := s.get(ctx, who, id)
		if err != nil {
			return err
		}
		out = c
		if c.Disabled == disabled {
			return nil
		}
		note := ""
		if !disabled && c.IDPSystem {
			// RevokeSystem is for good: a new system client gets a new
			// id and token (ward idp-client create).
			return apperr.New(apperr.Conflict, "client %s is a revoked IdP system client and stays revoked; register a new one", id)
		}
		if !disabled {
			d := grantpolicy.Decide(who.policy, grantpolicy.Request{Action: grantpolicy.EnableClient, Client: c.Policy()})
			if err := d.Err(); err != nil {
				return err
			}
			if d.Status != c.Status {
				note = "; " + d.Status + " again: " + d.Reason
			}
			c.Status = d.Status
		}
		c.Disabled = disabled
		c.UpdatedAt = s.now()
		if err := s.store.UpdateClient(ctx, c); err != nil {
			return err
		}
		if disabled {
			n := 0
			if s.tokens != nil {
				if n, err = s.tokens.RevokeClientTokens(ctx, c.ID); err != nil {
					return fmt.Errorf("revoke tokens of client %s: %w", c.ID, err)
				}
			}
			return s.record(ctx, audit.ClientDisabled, c, "disabled; %d tokens revoked", n)
		}
		return s.record(ctx, audit.ClientEnabled, c, "enabled%s", note)
	})
	if err != nil {
		return nil, err
	}
	s.notify(id)
	return out, nil
}

// RotateSecret replaces the client's secret and returns the new one in
// clear (shown once); the old secret stops working at once. Clients that do
// not authenticate with a secret have none to rotate (Invalid).
func (s *Service) RotateSecret(ctx context.Context, id string) (*Client, string, error) {
	who, err := s.caller(ctx)
	if err != nil {
		return nil, "", err
	}
	var out *Client
	var secret string
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		c, err := s.get(ctx, who, id)
		if err != nil {
			return err
		}
		if !c.UsesSecret() {
			return apperr.New(apperr.Invalid, "client %s authenticates with %s and has no secret to rotate", id, c.AuthMethod)
		}
		now := s.now()
		if secret, err = s.issueSecret(c, now); err != nil {
			return err
		}
		c.UpdatedAt = now
		if err := s.store.UpdateClient(ctx, c); err != nil {
			return err
		}
		out = c
		return s.record(ctx, audit.ClientSecretRotated, c, "secret rotated")
	})
	if err != nil {
		return nil, "", err
	}
	s.notify(id)
	return out, secret, nil
}

// Lookup returns the client with that client_id, disabled or not, without a
// permission check: it is for the authorization server, which decides from
// the client itself what it may do. Unknown ids are NotFound.
func (s *Service) Lookup(ctx context.Context, id string) (*Client, error) {
	return s.lookup(ctx, id)
}

func (s *Service) lookup(ctx context.Context, id string) (*Client, error) {
	if id == "" || len(id) > maxClientIDLen {
		return nil, apperr.New(apperr.NotFound, "client not found")
	}
	c, err := s.store.GetClient(ctx, id)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// errBadCredentials is the one answer to every failed client authentication,
// so a caller cannot tell an unknown client from a wrong secret.
func errBadCredentials() error {
	return apperr.New(apperr.Unauthenticated, "invalid client credentials")
}

// Authenticate checks a client secret (client_secret_basic or
// client_secret_post) and returns the client. Unknown, disabled or
// secretless clients and wrong secrets all get the same Unauthenticated
// error. Whether the secret arrived by the client's registered method is
// the caller's check.
func (s *Service) Authenticate(ctx context.Context, id, secret string) (*Client, error) {
	c, err := s.lookup(ctx, id)
	if apperr.Is(err, apperr.NotFound) {
		// Sign anyway so an unknown id costs what a known one does.
		_ = s.key.Verify(secret, "")
		return nil, errBadCredentials()
	}
	if err != nil {
		return nil, err
	}
	if !s.VerifySecret(c, secret) || c.Disabled {
		return nil, errBadCredentials()
	}
	return c, nil
}

// VerifySecret reports, in constant time, whether secret is c's current
// secret. A client without a secret matches nothing, not even "".
func (s *Service) VerifySecret(c *Client, secret string) bool {
	if c.SecretHash == "" || !c.UsesSecret() {
		return false
	}
	return s.key.Verify(secret, c.SecretHash)
}
