package server

import (
	"context"
	"time"

	"ward/internal/integration"
	"ward/internal/oauth"
)

// integrationMinter lets the integration service mint and revoke pushed
// tokens through the authorization server.
type integrationMinter struct{ p *oauth.Provider }

func (m integrationMinter) MayPushTokens(ctx context.Context, clientID string) error {
	return m.p.MayPushTokens(ctx, clientID)
}

func (m integrationMinter) Mint(ctx context.Context, clientID string, lifetime time.Duration, integrationID string) (*integration.Minted, error) {
	t, err := m.p.MintPushedToken(ctx, clientID, lifetime, integrationID)
	if err != nil {
		return nil, err
	}
	return &integration.Minted{Token: t.Token, ID: t.Info.ID, JTI: t.JTI, Scopes: t.Info.Scopes,
		IssuedAt: t.Info.IssuedAt, ExpiresAt: t.Info.ExpiresAt}, nil
}

func (m integrationMinter) Revoke(ctx context.Context, clientID string, tokenID int64) error {
	return m.p.RevokePushedToken(ctx, clientID, tokenID)
}
