package oauth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/ory/fosite"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/oauth/tokens"
)

// Pushed integration tokens (issue 15 part 2, docs/integrations.md): ward
// mints a JWT access token for a registered integration's system client
// and posts it to the integration's receiver, so nobody copies the
// client's secret by hand. The token is an ordinary access-token row of
// that client (format jwt, a grant of its own), issued as the token
// endpoint would issue a client-credentials token with every scope the
// client is registered for, so introspection, revocation, `ward token
// inspect|revoke`, the client's token list and the janitor treat it like
// any other.

// PushedToken is a token MintPushedToken issued.
type PushedToken struct {
	// Token is the JWT in clear; ward keeps only its JTI.
	Token string
	JTI   string
	Info  *TokenInfo
}

// GrantIntegrationPush names the grant of a pushed token in its audit
// event (token.issued, field grant): no endpoint accepts it.
const GrantIntegrationPush = "integration_push"

// MayPushTokens says whether clientID may receive pushed tokens: it exists,
// is enabled and approved, is confidential, is registered for
// client_credentials (a system client acting for nobody) and has at least
// one scope. The error says why not (NotFound, Conflict or Invalid).
func (p *Provider) MayPushTokens(ctx context.Context, clientID string) error {
	_, err := p.pushClient(ctx, clientID)
	return err
}

func (p *Provider) pushClient(ctx context.Context, clientID string) (*client.Client, error) {
	e, err := p.clients.get(ctx, clientID)
	if notFound(err) {
		return nil, apperr.New(apperr.NotFound, "no client %q", clientID)
	}
	if err != nil {
		return nil, fmt.Errorf("look up client %s: %w", clientID, err)
	}
	c := e.c
	switch {
	case c.ID == ServiceAccountClientID || c.IDPSystem:
		return nil, apperr.New(apperr.Invalid, "client %s is not an OAuth system client", clientID)
	case c.Public:
		return nil, apperr.New(apperr.Invalid, "client %s is public: only a confidential system client receives pushed tokens", clientID)
	case !c.HasGrant(client.GrantClientCredentials):
		return nil, apperr.New(apperr.Invalid, "client %s is not registered for client_credentials", clientID)
	case len(c.Scopes()) == 0:
		return nil, apperr.New(apperr.Invalid, "client %s has no registered scope", clientID)
	case c.Disabled:
		return nil, apperr.New(apperr.Conflict, "client %s is disabled", clientID)
	case !mayUse(c, 0, client.GrantClientCredentials).Allowed:
		return nil, apperr.New(apperr.Conflict, "client %s awaits an administrator's approval", clientID)
	}
	return c, nil
}

// MintPushedToken issues a JWT access token to clientID (see MayPushTokens)
// with every scope the client is registered for, expiring after lifetime,
// whatever token format the client uses at the token endpoint (a receiver
// can check a JWT offline). The token row and its token.issued event
// (grant integration_push, naming integration) commit together, in the
// transaction in ctx if there is one. It returns the token in clear (for
// the push, never stored) and its description. Only ward itself calls it:
// the caller is the integration service, which has checked its own
// caller's permission.
func (p *Provider) MintPushedToken(ctx context.Context, clientID string, lifetime time.Duration, integration string) (*PushedToken, error) {
	if lifetime <= 0 {
		return nil, apperr.New(apperr.Invalid, "token lifetime must be positive")
	}
	c, err := p.pushClient(ctx, clientID)
	if err != nil {
		return nil, err
	}
	fcl, err := p.storage.GetClient(ctx, clientID)
	if err != nil {
		return nil, fmt.Errorf("look up client %s: %w", clientID, err)
	}
	fc, ok := fcl.(*fositeClient)
	if !ok {
		return nil, fmt.Errorf("oauth: client %s is %T", clientID, fcl)
	}
	// A copy registered for JWTs: the strategy and the storage read the
	// format from the request's client, and a pushed token is always one.
	jc := *fc
	cc := *fc.c
	cc.TokenFormat = client.TokenJWT
	jc.c = &cc

	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("pushed token request id: %w", err)
	}
	now := p.now()
	scopes := c.Scopes()
	sess := newSession()
	sess.ClientID = clientID
	sess.Issuer, sess.Audience = p.cfg.Issuer, []string{p.cfg.FHIRBase()}
	sess.SetExpiresAt(fosite.AccessToken, now.Add(lifetime).Truncate(time.Second))
	r := fosite.NewRequest()
	r.ID, r.RequestedAt, r.Client = id.String(), now, &jc
	r.SetRequestedScopes(scopes)
	for _, s := range scopes {
		r.GrantScope(s)
	}
	r.SetRequestedAudience(fosite.Arguments{p.cfg.FHIRBase()})
	r.GrantAudience(p.cfg.FHIRBase())
	r.SetSession(sess)
	token, sig, err := p.strategy.GenerateAccessToken(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("generate pushed token: %w", err)
	}
	var info *TokenInfo
	actx := actor.With(ctx, actor.Actor{System: true, ClientID: clientID, Scopes: scopes})
	if a := actor.From(ctx); !a.Anonymous() {
		actx = ctx // keep the person who asked for a push now as the actor
	}
	err = p.d.Tx.InTx(actx, func(ctx context.Context) error {
		if err := p.storage.CreateAccessTokenSession(ctx, sig, r); err != nil {
			return fmt.Errorf("store pushed token: %w", err)
		}
		t, err := p.d.Tokens.GetToken(ctx, tokens.KindAccess, sig)
		if err != nil {
			return fmt.Errorf("read back the pushed token: %w", err)
		}
		if info, err = p.tokenView(t, now, c); err != nil {
			return err
		}
		return p.auditTool(ctx, audit.Change{Type: audit.TokenIssued, Subject: audit.Ref("Client", clientID),
			Fields: map[string]any{"grant": GrantIntegrationPush, "scope": strings.Join(scopes, " "), "refreshed": false,
				"row_id": info.ID, "integration": integration, "expires": info.ExpiresAt.UTC().Format(time.RFC3339)}},
			"token issued to client %s (grant %s for integration %s, scope %q)", clientID, GrantIntegrationPush,
			integration, strings.Join(scopes, " "))
	})
	if err != nil {
		return nil, err
	}
	return &PushedToken{Token: token, JTI: sig, Info: info}, nil
}

// RevokePushedToken revokes the pushed token with row id of clientID (and
// its grant), with its token.revoked event, in the transaction in ctx if
// there is one: a token whose push failed, or one pushed to an integration
// that is deleted. Revoking an inactive one changes nothing and succeeds.
// Only ward itself calls it (see MintPushedToken).
func (p *Provider) RevokePushedToken(ctx context.Context, clientID string, id int64) error {
	if actor.From(ctx).Anonymous() {
		ctx = actor.System(ctx)
	}
	_, err := p.revokeGrantOf(ctx, clientID, id, "pushed")
	return err
}
