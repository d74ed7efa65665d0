package oauth

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/directory"
	"ward/internal/oauth/tokens"
	"ward/internal/store"
)

// This file is the token tools: what administrators, application developers
// and people themselves use to see and withdraw what ward issued (seed 004's
// "revoking clients, users, access and refresh tokens" and "token tools").
// Every method reads the caller from ctx (internal/actor) and asks
// mayActOnGrants, the one permission rule of these tools. A token's signature
// and stored request (tokens.Token.Data) never leave this package: callers
// get TokenInfo, which holds neither.

// maxPastedToken bounds a pasted token before any work is done on it; ward's
// opaque tokens are under 100 bytes and its JWTs a few kilobytes.
const maxPastedToken = 16 << 10

// clientManager is the permission-checked half of the client registry: Get
// returns a client the caller may manage (ward itself, an administrator, or
// the application developer who owns it), NotFound for an unknown id and
// Forbidden otherwise. *client.Service provides it alongside Lookup; Deps
// declares only Lookup, which is all the protocol needs.
type clientManager interface {
	Get(ctx context.Context, id string) (*client.Client, error)
}

var _ clientManager = (*client.Service)(nil)

func (p *Provider) clientManagers() (clientManager, error) {
	r, ok := p.d.Clients.(clientManager)
	if !ok {
		return nil, fmt.Errorf("oauth: the client registry (%T) cannot check who may manage a client", p.d.Clients)
	}
	return r, nil
}

// Revocation counts what withdrawing a person's authorization of a client
// changed.
type Revocation struct {
	// Tokens is how many live access and refresh tokens were revoked.
	Tokens int
	// Consents is how many remembered consents were withdrawn.
	Consents int
}

// Authorization is one remembered consent of a person, with the name of
// the client it was given to.
type Authorization struct {
	tokens.Consent
	// ClientName is "" when the client no longer exists.
	ClientName string
}

// mayActOnGrants is the one permission rule of the token tools. The caller
// may act on the grants of client clientID to person userID (userID 0: to
// anyone, or to the client itself) when
//
//   - they may manage the client in the registry: ward itself, an
//     administrator, or the application developer who owns it (the
//     registry's own rule, asked of the registry, so the two cannot drift);
//   - or userID is the caller: a person may always see and withdraw their
//     own authorizations, for any client.
//
// With clientID "" (every client of userID) only ward itself, an
// administrator or the person themselves may. An unknown client is
// NotFound; anonymous callers are Unauthenticated.
func (p *Provider) mayActOnGrants(ctx context.Context, clientID string, userID int64) error {
	a := actor.From(ctx)
	if a.Anonymous() {
		return apperr.New(apperr.Unauthenticated, "sign in first")
	}
	self := !a.System && userID != 0 && a.UserID == userID
	if clientID == "" {
		if a.System || self {
			return nil
		}
		return p.requireAdminCaller(ctx, a)
	}
	if self {
		if _, err := p.clients.get(ctx, clientID); err != nil {
			return fmt.Errorf("look up client %s: %w", clientID, err)
		}
		return nil
	}
	r, err := p.clientManagers()
	if err != nil {
		return err
	}
	_, err = r.Get(ctx, clientID)
	return err
}

// requireAdminCaller is mayActOnGrants's answer for every client at once:
// the caller must hold the admin role.
func (p *Provider) requireAdminCaller(ctx context.Context, a actor.Actor) error {
	if a.UserID == 0 {
		return apperr.New(apperr.Forbidden, "a client acting for nobody may not see a person's authorizations")
	}
	roles, err := p.d.Directory.UserRoles(ctx, a.UserID)
	if err != nil {
		if k := apperr.KindOf(err); k == apperr.NotFound || k == apperr.Forbidden {
			return apperr.Wrap(apperr.Unauthenticated, err, "the signed-in account is no longer active")
		}
		return fmt.Errorf("read the caller's roles: %w", err)
	}
	if !slices.Contains(roles, directory.RoleAdmin) {
		return apperr.New(apperr.Forbidden, "only an administrator may see or withdraw another person's authorizations")
	}
	return nil
}

// pastedToken parses a pasted token and returns its stored row. Text that is
// not shaped like a ward access or refresh token is Invalid; one that is,
// but that ward did not issue (or forgot), is NotFound. Inactive and
// expired tokens are found: the tools show them as such.
func (p *Provider) pastedToken(ctx context.Context, token string) (*tokens.Token, error) {
	if actor.From(ctx).Anonymous() {
		return nil, apperr.New(apperr.Unauthenticated, "sign in first")
	}
	token = strings.TrimSpace(token)
	switch {
	case token == "":
		return nil, apperr.New(apperr.Invalid, "token is required")
	case len(token) > maxPastedToken:
		return nil, apperr.New(apperr.Invalid, "token is longer than %d bytes: not a ward token", maxPastedToken)
	case strings.HasPrefix(token, prefixCode):
		return nil, apperr.New(apperr.Invalid, "that is an authorization code, not an access or refresh token")
	case !isJWT(token) && !strings.HasPrefix(token, prefixAccess) && !strings.HasPrefix(token, prefixRefresh):
		return nil, apperr.New(apperr.Invalid, "not a ward token: expected %s…, %s… or a JWT", prefixAccess, prefixRefresh)
	}
	t, err := p.lookup(ctx, token)
	if apperr.Is(err, apperr.Unauthenticated) {
		// lookup's one answer to unknown and forged tokens alike.
		return nil, apperr.New(apperr.NotFound, "ward did not issue that token, or it has expired and been deleted")
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	return t, nil
}

// liveClient returns the token's client, nil when it is gone: a token of
// a missing client is not active.
func (p *Provider) liveClient(ctx context.Context, id string) (*client.Client, error) {
	c, err := p.clients.get(ctx, id)
	if notFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up client %s: %w", id, err)
	}
	return c.c, nil
}

// tokenView is t as callers see it. Active is what a resource server would
// decide now (see check): the row is active and unexpired, its client c
// exists, and holdersLive holds (its person is not deleted, its client is
// enabled and serves them).
func (p *Provider) tokenView(t *tokens.Token, now time.Time, c *client.Client) (*TokenInfo, error) {
	in, err := p.info(t)
	if err != nil {
		return nil, err
	}
	in.Active = t.Active && t.ExpiresAt.After(now) && c != nil && holdersLive(t, c)
	return in, nil
}

// InspectToken shows what a pasted token (ward_at_…, ward_rt_… or a JWT
// access token) stands for: its client, person, scopes, issue and expiry
// times and whether it is active now. Revoked and expired tokens are shown
// with Active false until the janitor deletes them; after that, and for
// tokens ward never issued, NotFound. The caller must be allowed to manage
// the token's client, or be the person it was issued for.
func (p *Provider) InspectToken(ctx context.Context, token string) (*TokenInfo, error) {
	t, err := p.pastedToken(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := p.mayActOnGrants(ctx, t.ClientID, t.UserID); err != nil {
		return nil, err
	}
	c, err := p.liveClient(ctx, t.ClientID)
	if err != nil {
		return nil, err
	}
	return p.tokenView(t, p.now(), c)
}

// RevokeToken revokes a pasted token together with its grant (every code,
// access and refresh token descended from the same authorization), as RFC
// 7009 allows, and returns it as it now stands. Revoking a revoked token
// changes nothing and succeeds. Permission as InspectToken.
func (p *Provider) RevokeToken(ctx context.Context, token string) (*TokenInfo, error) {
	t, err := p.pastedToken(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := p.mayActOnGrants(ctx, t.ClientID, t.UserID); err != nil {
		return nil, err
	}
	return p.revokeGrantOf(ctx, t.ClientID, t.ID, "pasted")
}

// revokeGrantOf revokes token id of clientID and its grant, with its audit
// event, in one transaction. A token of another client is NotFound.
func (p *Provider) revokeGrantOf(ctx context.Context, clientID string, id int64, how string) (*TokenInfo, error) {
	var was *tokens.Token
	err := p.d.Tx.InTx(ctx, func(ctx context.Context) error {
		t, err := p.d.Tokens.DeactivateByID(ctx, id)
		if err != nil {
			return err
		}
		if t.ClientID != clientID || (t.Kind != tokens.KindAccess && t.Kind != tokens.KindRefresh) {
			// Rolled back: the row was not this client's token to revoke.
			return apperr.New(apperr.NotFound, "client %s has no token %d", clientID, id)
		}
		was = t
		state := "revoked"
		if !t.Active {
			state = "revoked again (it was inactive)"
		}
		return p.auditTool(ctx, audit.Change{Type: audit.TokenRevoked, Subject: audit.Ref("Token", t.ID), SubjectID: t.UserID,
			Fields: map[string]any{"client": t.ClientID, "kind": t.Kind, "was_active": t.Active}}, "%s %s token %d of client %s %s, with its grant",
			how, t.Kind, t.ID, t.ClientID, state)
	})
	if err != nil {
		return nil, err
	}
	was.Active = false
	c, err := p.liveClient(ctx, clientID)
	if err != nil {
		return nil, err
	}
	return p.tokenView(was, p.now(), c)
}

// auditTool writes one typed audit event in the transaction carried by
// ctx; its comment is format and args.
func (p *Provider) auditTool(ctx context.Context, c audit.Change, format string, args ...any) error {
	c.Comment = fmt.Sprintf(format, args...)
	if err := p.d.Audit.Record(ctx, c); err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// ClientUsers lists the people who authorized a client: everyone with a
// live token or a remembered consent, ordered by user id. The caller must
// be allowed to manage the client.
func (p *Provider) ClientUsers(ctx context.Context, clientID string) ([]tokens.ClientUser, error) {
	if err := p.mayActOnGrants(ctx, clientID, 0); err != nil {
		return nil, err
	}
	us, err := p.d.Tokens.ClientUsers(ctx, clientID, p.now())
	if err != nil {
		return nil, fmt.Errorf("users of client %s: %w", clientID, err)
	}
	return us, nil
}

// RevokeClientUser withdraws one person's authorization of a client: every
// live access and refresh token the client holds for them, and their
// remembered consents (so the consent page asks again). NotFound when the
// person holds neither. The caller must be allowed to manage the client, or
// be that person.
func (p *Provider) RevokeClientUser(ctx context.Context, clientID string, userID int64) (*Revocation, error) {
	return p.withdrawGrants(ctx, clientID, userID, "revoked")
}

// WithdrawConsent is RevokeClientUser seen from the person: they (or an
// administrator, or the client's manager) withdraw their consent to a
// client, which revokes the client's tokens for them too.
func (p *Provider) WithdrawConsent(ctx context.Context, userID int64, clientID string) (*Revocation, error) {
	return p.withdrawGrants(ctx, clientID, userID, "withdrawn")
}

func (p *Provider) withdrawGrants(ctx context.Context, clientID string, userID int64, verb string) (*Revocation, error) {
	if userID <= 0 {
		return nil, apperr.New(apperr.Invalid, "user id must be a positive integer")
	}
	if err := p.mayActOnGrants(ctx, clientID, userID); err != nil {
		return nil, err
	}
	var out Revocation
	err := p.d.Tx.InTx(ctx, func(ctx context.Context) error {
		var err error
		if out.Tokens, err = p.d.Tokens.DeactivateClientUser(ctx, clientID, userID); err != nil {
			return fmt.Errorf("revoke tokens: %w", err)
		}
		if out.Consents, err = p.d.Tokens.WithdrawConsents(ctx, userID, clientID, p.now()); err != nil {
			return fmt.Errorf("withdraw consents: %w", err)
		}
		if out.Tokens == 0 && out.Consents == 0 {
			return apperr.New(apperr.NotFound, "user %d holds no live token or consent of client %s", userID, clientID)
		}
		return p.auditTool(ctx, audit.Change{Type: audit.AuthorizationRevoked, Subject: audit.Ref("Client", clientID), SubjectID: userID,
			Fields: map[string]any{"revoked": out.Tokens, "consents_withdrawn": out.Consents}},
			"authorization of client %s by user %d %s: %d token(s) revoked, %d consent(s) withdrawn",
			clientID, userID, verb, out.Tokens, out.Consents)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// credentialKinds are what the token tools list: the credentials a client holds.
var credentialKinds = []tokens.Kind{tokens.KindAccess, tokens.KindRefresh}

// ClientTokens lists a client's live access and refresh tokens, newest
// first, a page at a time (the returned cursor continues; "" on the last
// page). The caller must be allowed to manage the client.
func (p *Provider) ClientTokens(ctx context.Context, clientID string, page store.Page) ([]*TokenInfo, string, error) {
	if err := p.mayActOnGrants(ctx, clientID, 0); err != nil {
		return nil, "", err
	}
	now := p.now()
	ts, next, err := p.d.Tokens.ListTokens(ctx, tokens.Filter{ClientID: clientID, Kinds: credentialKinds, LiveAt: now}, page)
	if err != nil {
		return nil, "", fmt.Errorf("tokens of client %s: %w", clientID, err)
	}
	c, err := p.liveClient(ctx, clientID)
	if err != nil {
		return nil, "", err
	}
	out := make([]*TokenInfo, 0, len(ts))
	for _, t := range ts {
		in, err := p.tokenView(t, now, c)
		if err != nil {
			return nil, "", err
		}
		out = append(out, in)
	}
	return out, next, nil
}

// CountLiveTokens counts every live (active, unexpired) access and refresh
// token of every client: a number about everyone's grants, so only ward
// itself or an administrator may (mayActOnGrants for every client).
func (p *Provider) CountLiveTokens(ctx context.Context) (int, error) {
	if err := p.mayActOnGrants(ctx, "", 0); err != nil {
		return 0, err
	}
	n, err := p.d.Tokens.CountLiveTokens(ctx, p.now(), credentialKinds...)
	if err != nil {
		return 0, fmt.Errorf("count live tokens: %w", err)
	}
	return n, nil
}

// ExpiringServiceToken is a live service account token that expires soon:
// what the token janitor alerts sponsors about, without the secret.
type ExpiringServiceToken struct {
	ID int64
	// UserID is the service account.
	UserID    int64
	ExpiresAt time.Time
	// Alerted is when the sponsor was alerted (nil: not yet).
	Alerted *time.Time
}

// ExpiringServiceTokens lists the active service tokens that expire within
// window from now, soonest first, alerted or not (the query of
// AlertExpiringServiceTokens). Only ward itself or an administrator may.
func (p *Provider) ExpiringServiceTokens(ctx context.Context, window time.Duration) ([]ExpiringServiceToken, error) {
	if window <= 0 {
		return nil, apperr.New(apperr.Invalid, "service token expiry window %v must be positive", window)
	}
	if err := p.mayActOnGrants(ctx, "", 0); err != nil {
		return nil, err
	}
	now := p.now()
	ts, err := p.d.Tokens.ServiceTokensExpiring(ctx, tokens.Expiring{From: now, To: now.Add(window)})
	if err != nil {
		return nil, fmt.Errorf("service tokens expiring: %w", err)
	}
	out := make([]ExpiringServiceToken, 0, len(ts))
	for _, t := range ts {
		out = append(out, ExpiringServiceToken{ID: t.ID, UserID: t.UserID, ExpiresAt: t.ExpiresAt, Alerted: t.AlertedAt})
	}
	return out, nil
}

// RevokeTokenByID revokes the token with that id (as ClientTokens lists
// it) and its grant. The token must belong to clientID (else NotFound); the
// caller must be allowed to manage the client.
func (p *Provider) RevokeTokenByID(ctx context.Context, clientID string, id int64) (*TokenInfo, error) {
	if id <= 0 {
		return nil, apperr.New(apperr.Invalid, "token id must be a positive integer")
	}
	if err := p.mayActOnGrants(ctx, clientID, 0); err != nil {
		return nil, err
	}
	return p.revokeGrantOf(ctx, clientID, id, "listed")
}

// UserConsents lists a person's remembered consents to clients, live and
// withdrawn, newest first. Only the person, an administrator or ward itself
// may see them.
func (p *Provider) UserConsents(ctx context.Context, userID int64) ([]Authorization, error) {
	if userID <= 0 {
		return nil, apperr.New(apperr.Invalid, "user id must be a positive integer")
	}
	if err := p.mayActOnGrants(ctx, "", userID); err != nil {
		return nil, err
	}
	if _, err := p.d.Directory.GetUser(actor.System(ctx), userID); err != nil {
		return nil, err
	}
	cs, err := p.d.Tokens.ListConsents(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("consents of user %d: %w", userID, err)
	}
	out := make([]Authorization, len(cs))
	for i, c := range cs {
		out[i] = Authorization{Consent: *c}
		e, err := p.clients.get(ctx, c.ClientID)
		switch {
		case err == nil:
			out[i].ClientName = e.c.Name
		case notFound(err):
			// The client is gone; its consent stays as history.
		default:
			return nil, fmt.Errorf("look up client %s: %w", c.ClientID, err)
		}
	}
	return out, nil
}
