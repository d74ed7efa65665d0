package oauth

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/client"
	"ward/internal/oauth/tokens"
)

// ScopeAPI lets a token call ward's management API as the person it was
// issued for (with that person's permissions, never more). Service-account
// tokens carry it; other clients must be registered for it.
const ScopeAPI = "ward:api"

// TokenInfo is what a live access token stands for.
type TokenInfo struct {
	// ID is the token's row id, the handle the token tools use.
	ID        int64
	Kind      tokens.Kind
	ClientID  string
	UserID    int64
	Scopes    []string
	Patient   string
	FhirUser  string
	Service   bool
	Format    string
	Active    bool
	IssuedAt  time.Time
	ExpiresAt time.Time
	RequestID string
	// Audience is who the token is for (the FHIR base URL).
	Audience []string
}

// Subject is the token's sub: the person's id, or the client's for a
// client-only grant.
func (in *TokenInfo) Subject() string {
	if in.UserID != 0 {
		return strconv.FormatInt(in.UserID, 10)
	}
	return in.ClientID
}

// errInactive is the one answer to a token that is unknown, forged,
// expired, revoked or whose client is disabled: a caller learns nothing
// about which.
func errInactive() error { return apperr.New(apperr.Unauthenticated, "the access token is not active") }

// sessionOnly decodes just the session of a stored record.
type sessionOnly struct {
	Session *Session `json:"session"`
}

// lookup finds the stored row of an access or refresh token after checking
// the credential itself, without judging liveness: an opaque token's HMAC,
// or a JWT's signature, typ, iss, aud and exp (RFC 9068 section 4), before
// any database read; a JWT's row is then found by its verified jti.
func (p *Provider) lookup(ctx context.Context, token string) (*tokens.Token, error) {
	key, err := p.storedKey(ctx, token)
	if err != nil {
		return nil, err
	}
	t, err := p.d.Tokens.GetToken(ctx, key.kind, key.sig)
	if notFound(err) {
		return nil, errInactive()
	}
	if err != nil {
		return nil, err
	}
	if !key.matches(t) {
		return nil, errInactive()
	}
	return t, nil
}

// storedKey says where a presented token is stored: its kind and
// signature (a JWT's jti). A token that is not genuine (forged, or not
// ward's) is errInactive, before any read.
type storedKey struct {
	kind tokens.Kind
	sig  string
	// jwtClient is the client a JWT names; "" for an opaque token.
	jwtClient string
}

func (p *Provider) storedKey(ctx context.Context, token string) (storedKey, error) {
	k := storedKey{kind: tokens.KindAccess}
	switch {
	case isJWT(token):
		v, err := p.strategy.jwt.verify(ctx, token)
		if err != nil {
			return storedKey{}, err
		}
		k.sig, k.jwtClient = v.jti, v.clientID
	case p.strategy.genuine(ctx, prefixAccess, token):
		k.sig = p.strategy.AccessTokenSignature(ctx, token)
	case p.strategy.genuine(ctx, prefixRefresh, token):
		k.kind, k.sig = tokens.KindRefresh, p.strategy.RefreshTokenSignature(ctx, token)
	}
	if k.sig == "" {
		return storedKey{}, errInactive()
	}
	return k, nil
}

// matches reports whether the row read by k may be honoured: a JWT's row
// must be a JWT of the client it names. A jti is unique, so a mismatch is
// a corrupt row or a bug, never a token to honour.
func (k storedKey) matches(t *tokens.Token) bool {
	return k.jwtClient == "" || t.ClientID == k.jwtClient && t.Format == "jwt"
}

func (p *Provider) info(t *tokens.Token) (*TokenInfo, error) {
	in := &TokenInfo{ID: t.ID, Kind: t.Kind, ClientID: t.ClientID, UserID: t.UserID, Scopes: t.Scopes,
		Service: t.Service, Format: t.Format, Active: t.Active, IssuedAt: t.RequestedAt,
		ExpiresAt: t.ExpiresAt, RequestID: t.RequestID}
	c, err := p.contexts.get(t)
	if err != nil {
		return nil, err
	}
	in.Patient, in.FhirUser, in.Audience = c.patient, c.fhirUser, c.audience
	return in, nil
}

// grantContext is the part of a stored grant that never changes once the
// token is issued: its SMART context and audience.
type grantContext struct {
	patient, fhirUser string
	audience          []string
}

// maxCachedContexts bounds contextCache; past it the cache starts over.
const maxCachedContexts = 100_000

// contextCache remembers decoded grant contexts by token row, so that a
// bearer check decodes a token's stored request once rather than on every
// request. Only immutable data is cached: whether the token is active and
// unexpired is read from its row every time, so a revocation takes effect
// at once on every replica.
type contextCache struct {
	mu sync.Mutex
	m  map[int64]grantContext
}

func (c *contextCache) get(t *tokens.Token) (grantContext, error) {
	c.mu.Lock()
	g, ok := c.m[t.ID]
	c.mu.Unlock()
	if ok {
		return g, nil
	}
	var so sessionOnly
	if err := json.Unmarshal(t.Data, &so); err != nil {
		return grantContext{}, apperr.Wrap(apperr.Internal, err, "stored token %d is unreadable", t.ID)
	}
	if so.Session != nil {
		g = grantContext{patient: so.Session.Patient, fhirUser: so.Session.FhirUser, audience: so.Session.Audience}
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedContexts {
		c.m = make(map[int64]grantContext)
	}
	c.m[t.ID] = g
	c.mu.Unlock()
	return g, nil
}

// Check is in-process introspection of an access token, for ward's own
// resource endpoints: the token must be genuine, active, unexpired, and its
// client enabled. Revocation and a disabled client take effect at once on
// this replica and within ClientCacheTTL on others.
func (p *Provider) Check(ctx context.Context, token string) (*TokenInfo, error) {
	return p.check(ctx, token, false)
}

// checkAny is Check for access and refresh tokens alike (introspection).
func (p *Provider) checkAny(ctx context.Context, token string) (*TokenInfo, error) {
	return p.check(ctx, token, true)
}

func (p *Provider) check(ctx context.Context, token string, refreshToo bool) (*TokenInfo, error) {
	t, err := p.lookup(ctx, token)
	if err != nil {
		return nil, err
	}
	if (t.Kind != tokens.KindAccess && !(refreshToo && t.Kind == tokens.KindRefresh)) || !t.Active || !t.ExpiresAt.After(p.now()) {
		return nil, errInactive()
	}
	c, err := p.clients.get(ctx, t.ClientID)
	if notFound(err) {
		return nil, errInactive()
	}
	if err != nil {
		return nil, err
	}
	if !holdersLive(t, c.c) {
		return nil, errInactive()
	}
	return p.info(t)
}

// holdersLive is the one rule, on every use of a stored grant (bearer
// check, introspection, token tools, userinfo, refresh, code redemption),
// of whether those it was issued to may still use it: its person is not
// deleted (read with the token's row, no extra query), and its client is
// enabled and may serve that person. A client sent back to pending (its
// developer widened it) stops serving everyone but its owner at once,
// tokens already issued too. Deleting a person or disabling a client also
// revokes the rows (for good); this check holds the line for anything
// issued in a race with that change.
func holdersLive(t *tokens.Token, c *client.Client) bool {
	return !t.UserDeleted && !c.Disabled && mayUse(c, t.UserID, "").Allowed
}

// AuthenticateBearer checks a bearer token and returns who acts through it.
func (p *Provider) AuthenticateBearer(ctx context.Context, token string) (actor.Actor, error) {
	in, err := p.Check(ctx, token)
	if err != nil {
		return actor.Actor{}, err
	}
	a := actor.Actor{UserID: in.UserID, ClientID: in.ClientID, Scopes: in.Scopes}
	if in.Patient != "" {
		// The launch patient is a directory user id written by ward itself
		// at consent time; anything else would be a corrupt row.
		id, err := strconv.ParseInt(in.Patient, 10, 64)
		if err != nil || id <= 0 {
			return actor.Actor{}, errInactive()
		}
		a.Patient = id
	}
	return a, nil
}
