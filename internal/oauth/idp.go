package oauth

import (
	"context"
	"fmt"
	"time"

	"github.com/ory/fosite"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/oauth/tokens"
	"ward/internal/secrets"
)

// The legacy IdP API (seed 003, internal/idpcompat) signs people in for a
// system client and hands the system an access token. That token is an
// ordinary opaque ward access token, stored like every other (only its
// HMAC signature), recorded against the system client, with scope
// client.IDPScope and lifetime Config.IDPTokenLifetime: introspection,
// revocation, `ward token inspect|revoke`, the janitor and the audit see
// it as they see any token.

// maxIDPToken bounds what the IdP API will try to parse as a token: a ward
// opaque token is under 100 bytes, a JWT a few hundred.
const maxIDPToken = 4096

// IssueIDPToken issues an access token of system client clientID for the
// person userID, in the transaction carried by ctx (the sign-in's), with its
// token.issued audit event. The client must be an enabled IdP system client.
func (p *Provider) IssueIDPToken(ctx context.Context, clientID string, userID int64, now time.Time) (string, error) {
	token, _, err := p.issueIDPToken(ctx, clientID, userID, now)
	return token, err
}

func (p *Provider) issueIDPToken(ctx context.Context, clientID string, userID int64, now time.Time) (string, *TokenInfo, error) {
	if p.cfg.IDPTokenLifetime <= 0 {
		return "", nil, fmt.Errorf("oauth: IdP token lifetime %v is not positive", p.cfg.IDPTokenLifetime)
	}
	e, err := p.clients.get(ctx, clientID)
	if err != nil {
		return "", nil, fmt.Errorf("look up client %s: %w", clientID, err)
	}
	if !e.c.IDPSystem || e.c.Disabled {
		return "", nil, apperr.New(apperr.Unauthenticated, "invalid client credentials")
	}
	fc, err := p.storage.GetClient(ctx, clientID)
	if err != nil {
		return "", nil, fmt.Errorf("look up client %s: %w", clientID, err)
	}
	reqID, err := secrets.RandomToken(16)
	if err != nil {
		return "", nil, fmt.Errorf("IdP token request id: %w", err)
	}
	sess := newSession()
	sess.UserID, sess.ClientID = userID, clientID
	sess.Issuer, sess.Audience = p.cfg.Issuer, []string{p.cfg.Issuer}
	sess.SetExpiresAt(fosite.AccessToken, now.Add(p.cfg.IDPTokenLifetime))
	r := fosite.NewRequest()
	r.ID, r.RequestedAt, r.Client = reqID, now, fc
	r.SetRequestedScopes(fosite.Arguments{client.IDPScope})
	r.GrantScope(client.IDPScope)
	r.SetSession(sess)
	token, sig, err := p.strategy.GenerateAccessToken(ctx, r)
	if err != nil {
		return "", nil, fmt.Errorf("generate IdP token: %w", err)
	}
	if err := p.storage.CreateAccessTokenSession(ctx, sig, r); err != nil {
		return "", nil, fmt.Errorf("store IdP token: %w", err)
	}
	t, err := p.d.Tokens.GetToken(ctx, tokens.KindAccess, sig)
	if err != nil {
		return "", nil, fmt.Errorf("read back the IdP token: %w", err)
	}
	info, err := p.tokenView(t, now, e.c)
	if err != nil {
		return "", nil, err
	}
	if err := p.auditTool(ctx, audit.Change{Type: audit.TokenIssued, Subject: audit.Ref("Token", t.ID), SubjectID: userID,
		Fields: map[string]any{"client": clientID, "grant": "idp_signin", "scope": client.IDPScope,
			"expires": t.ExpiresAt.UTC().Format(time.RFC3339)}},
		"IdP sign-in: access token %d of system client %s issued for user %d", t.ID, clientID, userID); err != nil {
		return "", nil, err
	}
	return token, info, nil
}

// idpToken finds the live IdP token behind text: an active, unexpired
// access token of an enabled IdP system client whose person is live.
// Anything else (not a token, forged, unknown, revoked, expired, another
// kind of client's token) is the one NotFound answer.
func (p *Provider) idpToken(ctx context.Context, text string) (*tokens.Token, error) {
	if text == "" || len(text) > maxIDPToken {
		return nil, errNoIDPToken()
	}
	t, err := p.lookup(ctx, text)
	if apperr.Is(err, apperr.Unauthenticated) {
		return nil, errNoIDPToken()
	}
	if err != nil {
		return nil, err
	}
	if !t.Active || t.UserID == 0 {
		// Refused before the issuer is looked up.
		return nil, errNoIDPToken()
	}
	e, err := p.clients.get(ctx, t.ClientID)
	if notFound(err) {
		return nil, errNoIDPToken()
	}
	if err != nil {
		return nil, err
	}
	if !liveIDPToken(t, e.c, p.now()) {
		return nil, errNoIDPToken()
	}
	return t, nil
}

func errNoIDPToken() error { return apperr.New(apperr.NotFound, "the access token is not active") }

// liveIDPToken is what makes t, issued to client issuer, a token the IdP
// API honours: an active, unexpired access token for a live person, of an
// enabled IdP system client.
func liveIDPToken(t *tokens.Token, issuer *client.Client, now time.Time) bool {
	return t.Kind == tokens.KindAccess && t.Active && t.ExpiresAt.After(now) && t.UserID != 0 &&
		issuer.ID == t.ClientID && issuer.IDPSystem && holdersLive(t, issuer)
}

// ResolveIDPToken returns the live IdP token behind text for the system
// client in ctx (actor.ClientID). A system may look up a token another
// system issued (the seed's callers look up the tokens their users bring);
// such a look-up is audited with the caller. Anything but a live IdP token
// is NotFound. It returns the id of the person the token is for.
func (p *Provider) ResolveIDPToken(ctx context.Context, text string) (int64, error) {
	t, err := p.idpToken(ctx, text)
	if err != nil {
		return 0, err
	}
	return p.idpLookedUp(ctx, t)
}

// idpLookedUp audits a look-up of another system's token t with the
// caller in ctx (a system's look-up of its own tokens is not audited: it
// is every request) and returns the token's person.
func (p *Provider) idpLookedUp(ctx context.Context, t *tokens.Token) (int64, error) {
	if caller := actor.From(ctx).ClientID; caller != t.ClientID {
		err := p.d.Tx.InTx(ctx, func(ctx context.Context) error {
			return p.auditTool(ctx, audit.Change{Type: audit.IDPTokenLookedUp, Subject: audit.Ref("Token", t.ID), SubjectID: t.UserID,
				Fields: map[string]any{"issuer_client": t.ClientID, "caller_client": caller}},
				"system client %s looked up token %d issued to system client %s", caller, t.ID, t.ClientID)
		})
		if err != nil {
			return 0, err
		}
	}
	return t.UserID, nil
}

// ReadIDPToken reads everything a token look-up of the IdP API needs
// (tokens.IDPRead) in one database round trip: the system client callerID
// comes from this replica's client cache, under the rule of every client
// authentication in ward (a copy trusted for at most ClientCacheTTL,
// dropped at once when the client changes on this replica through
// InvalidateClient; unknown ids are never cached), and the token behind
// text, its client (when not the caller) and its person's ID card from
// one statement of the store. It decides nothing: the caller checks the
// client's X-Auth-Token against Caller (client.Service.CheckSystem) and
// only then hands the read to ResolveIDPRead. NotFound when text is not a
// genuine ward token or a client or row is missing; the caller then takes
// the step-by-step path (AuthenticateSystem, ResolveIDPToken, IDCard),
// which tells those cases apart.
//
// Caller (and Issuer, for the caller's own tokens) is the cache's copy,
// shared with other requests: read-only.
func (p *Provider) ReadIDPToken(ctx context.Context, callerID, text string) (*tokens.IDPRead, error) {
	if text == "" || len(text) > maxIDPToken {
		return nil, errNoIDPToken()
	}
	key, err := p.storedKey(ctx, text)
	if apperr.Is(err, apperr.Unauthenticated) {
		return nil, errNoIDPToken()
	}
	if err != nil {
		return nil, err
	}
	caller, err := p.clients.get(ctx, callerID)
	if notFound(err) {
		return nil, errNoIDPToken()
	}
	if err != nil {
		return nil, err
	}
	read, err := p.d.Tokens.ReadIDPToken(ctx, callerID, key.kind, key.sig)
	if err != nil {
		return nil, err
	}
	if !key.matches(read.Token) {
		return nil, errNoIDPToken()
	}
	read.Caller = caller.c
	if read.Issuer == nil {
		if read.Token.ClientID != callerID {
			return nil, errNoIDPToken() // not reached: the store reads another issuer
		}
		read.Issuer = caller.c
	}
	return read, nil
}

// ResolveIDPRead decides a ReadIDPToken read for the system client in
// ctx (actor.ClientID, authenticated by the caller against read.Caller),
// as ResolveIDPToken decides a token: the person's id when read.Token is a
// live IdP token (judged on the issuer's row in the read: the cached
// caller's for its own tokens, as ResolveIDPToken judges on the cached
// issuer, else the database's), else NotFound. A look-up of another
// system's token is audited.
// The read's Issuer carries no grant policy, so the token of a pending
// issuer (a system client never is one) is refused: the fast path fails
// closed.
func (p *Provider) ResolveIDPRead(ctx context.Context, read *tokens.IDPRead) (int64, error) {
	if read == nil || read.Token == nil || read.Issuer == nil || !liveIDPToken(read.Token, read.Issuer, p.now()) {
		return 0, errNoIDPToken()
	}
	return p.idpLookedUp(ctx, read.Token)
}

// SignOutIDPToken revokes the live IdP token behind text (with its grant)
// for the system client in ctx, audited. A token already revoked, expired,
// unknown or not an IdP token is NotFound: signing out twice is an error,
// as the caller should know its user was already signed out.
func (p *Provider) SignOutIDPToken(ctx context.Context, text string) error {
	t, err := p.idpToken(ctx, text)
	if err != nil {
		return err
	}
	_, err = p.revokeGrantOf(ctx, t.ClientID, t.ID, "IdP sign-out:")
	return err
}
