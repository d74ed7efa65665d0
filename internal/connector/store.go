package connector

import (
	"context"
	"time"
)

// Store keeps connectors. Every method runs in the transaction in ctx when
// there is one. Times are stored to the microsecond.
type Store interface {
	// CreateConnector inserts c with Version 1 and sets c.ID; a taken name
	// is apperr.Conflict.
	CreateConnector(ctx context.Context, c *Connector) error
	// GetConnector reads one connector by name (apperr.NotFound if none).
	GetConnector(ctx context.Context, name string) (*Connector, error)
	// ListConnectors returns every connector by name.
	ListConnectors(ctx context.Context) ([]*Connector, error)
	// UpdateConnector writes every field of c but its name, ID and
	// CreatedAt when the stored version is c.Version, and then increments
	// c.Version. A different stored version is apperr.Conflict (another
	// replica wrote first: reread), a missing row apperr.NotFound. This
	// compare-and-swap is what lets replicas claim a refresh through the
	// database.
	UpdateConnector(ctx context.Context, c *Connector) error
	// DeleteConnector removes a connector (apperr.NotFound if none).
	DeleteConnector(ctx context.Context, name string) error
}

// ConnectState is one pending priming: the state an administrator's
// browser carries to the remote's login and back, bound to their session
// and used once. Only hashes and the sealed PKCE verifier are stored.
type ConnectState struct {
	// Hash is the SHA-256 of the state value, hex: the key.
	Hash      string
	Connector string
	// SessionHash is the SHA-256 of the administrator's session binding.
	SessionHash string
	// Verifier is the PKCE code verifier, sealed.
	Verifier  []byte
	ExpiresAt time.Time
}

// StateStore keeps pending primings (part of Store for the SQL backends).
type StateStore interface {
	// PutConnectState stores st; a taken hash is apperr.Conflict.
	PutConnectState(ctx context.Context, st *ConnectState) error
	// TakeConnectState removes and returns the state with this hash, so a
	// state serves once even when two requests race: the loser gets
	// apperr.NotFound. Expired states are also removed and NotFound.
	TakeConnectState(ctx context.Context, hash string, now time.Time) (*ConnectState, error)
}
