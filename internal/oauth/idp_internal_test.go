package oauth

import (
	"testing"
	"time"

	"ward/internal/client"
	"ward/internal/oauth/tokens"
)

// TestLiveIDPToken: the one rule both IdP look-up paths judge a token by
// (ResolveIDPRead on the one-statement read, idpToken on the separate
// reads): the live token beside each thing that makes it dead.
func TestLiveIDPToken(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	live := func() (*tokens.Token, *client.Client) {
		return &tokens.Token{ID: 1, Kind: tokens.KindAccess, ClientID: "shr", UserID: 7, Active: true, ExpiresAt: now.Add(time.Hour)},
			&client.Client{ID: "shr", Status: client.StatusActive, Settings: client.Settings{IDPSystem: true}}
	}
	if tok, issuer := live(); !liveIDPToken(tok, issuer, now) {
		t.Fatal("a live IdP token is refused")
	}
	for _, c := range []struct {
		what   string
		change func(*tokens.Token, *client.Client)
	}{
		{"revoked", func(t *tokens.Token, _ *client.Client) { t.Active = false }},
		{"expired", func(t *tokens.Token, _ *client.Client) { t.ExpiresAt = now }},
		{"refresh token", func(t *tokens.Token, _ *client.Client) { t.Kind = tokens.KindRefresh }},
		{"no person", func(t *tokens.Token, _ *client.Client) { t.UserID = 0 }},
		{"person deleted", func(t *tokens.Token, _ *client.Client) { t.UserDeleted = true }},
		{"issuer revoked", func(_ *tokens.Token, c *client.Client) { c.Disabled = true }},
		{"issuer not a system client", func(_ *tokens.Token, c *client.Client) { c.IDPSystem = false }},
		{"issuer pending", func(_ *tokens.Token, c *client.Client) { c.Status = client.StatusPending }},
		{"issuer is another client", func(_ *tokens.Token, c *client.Client) { c.ID = "mci" }},
	} {
		tok, issuer := live()
		c.change(tok, issuer)
		if liveIDPToken(tok, issuer, now) {
			t.Errorf("%s: token accepted", c.what)
		}
	}
}
