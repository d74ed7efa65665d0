// Package integration pushes integration tokens (issue 15 part 2, seed
// 002): an integration is a confidential system client and a receiver URL;
// ward mints the client a short-lived JWT access token with its registered
// scopes and POSTs it to the receiver, signed like a webhook (Standard
// Webhooks headers, internal/webhook), when ward starts and again before
// the token expires, so nobody copies the client's secret by hand.
//
// A push is claimed through the database (a lease on the row, compare and
// swap on its version), so replicas never push one integration twice at
// once; pushes run as River jobs (jobs.go). A push the receiver does not
// accept (non-2xx, timeout, refused address) is recorded, its token
// revoked, and retried with capped exponential backoff and jitter. A
// successful push leaves earlier pushed tokens valid until they expire:
// the receiver may still be using them. Deleting an integration revokes
// every live token pushed to it; a disabled client's tokens are revoked by
// the client registry, and its integrations are suspended (not pushed)
// until it is enabled again. See docs/integrations.md.
//
// The package has no HTTP or SQL: the receiver is reached through a Poster
// (internal/outbound), tokens are minted through a Minter
// (internal/oauth), rows are kept through a Store (internal/sqlstore).
package integration

import (
	"context"
	"time"
)

// Status is how the last push went.
type Status string

// The statuses.
const (
	// StatusNever: not pushed yet.
	StatusNever Status = "never"
	// StatusPushed: the last push was accepted (2xx).
	StatusPushed Status = "pushed"
	// StatusFailed: the last push failed; the next try is at NextPushAt.
	StatusFailed Status = "failed"
	// StatusSuspended: the client may not receive tokens now (disabled,
	// or awaiting approval); looked at again at NextPushAt.
	StatusSuspended Status = "suspended"
)

// Lifetime bounds of a pushed token.
const (
	DefaultLifetime = time.Hour
	MinLifetime     = 5 * time.Minute
	MaxLifetime     = 24 * time.Hour
)

// Integration is one receiver of pushed tokens for a system client.
type Integration struct {
	// ID is "int_" and 24 hex digits, assigned by Create.
	ID       string
	ClientID string
	// URL is where tokens are POSTed.
	URL string
	// SecretSealed is the whsec_ signing secret, encrypted and bound to ID.
	SecretSealed []byte
	// TokenLifetime is how long each pushed token lives.
	TokenLifetime time.Duration

	LastStatus Status
	// LastHTTPStatus is the receiver's answer to the last push (0 when it
	// did not answer).
	LastHTTPStatus int
	// LastError says why the last push failed or was suspended; "" after
	// a success.
	LastError string
	// Failures counts consecutive failed pushes; a success resets it.
	Failures      int
	LastAttemptAt time.Time
	// LastPushedAt is when a token was last accepted.
	LastPushedAt time.Time
	// TokenID and TokenExpiresAt describe the last token accepted.
	TokenID        int64
	TokenExpiresAt time.Time
	// NextPushAt is when the next push is due: a third of the lifetime
	// before the last token expires, or after the backoff of a failure.
	NextPushAt time.Time
	// LeaseUntil is when a push's claim on the row lapses (zero: none).
	LeaseUntil time.Time

	CreatedBy int64
	CreatedAt time.Time
	UpdatedAt time.Time
	// Version increments with every write; updates compare it.
	Version int64
}

// Store keeps integrations. Every method joins the transaction in ctx.
// Times are stored to the microsecond.
type Store interface {
	// CreateIntegration inserts in with Version 1; a taken id is
	// Conflict, an unknown client Invalid.
	CreateIntegration(ctx context.Context, in *Integration) error
	// GetIntegration reads one (NotFound if none).
	GetIntegration(ctx context.Context, id string) (*Integration, error)
	// ListIntegrations returns every integration by creation.
	ListIntegrations(ctx context.Context) ([]*Integration, error)
	// DueIntegrations returns the integrations whose NextPushAt is at or
	// before now and whose lease has lapsed, soonest first, at most limit.
	DueIntegrations(ctx context.Context, now time.Time, limit int) ([]*Integration, error)
	// UpdateIntegration writes every mutable field of in when the stored
	// version is in.Version, then increments in.Version; another version
	// is Conflict, a missing row NotFound.
	UpdateIntegration(ctx context.Context, in *Integration) error
	// DeleteIntegration removes one with its token list (NotFound if none).
	DeleteIntegration(ctx context.Context, id string) error
	// AddPushedToken records a token pushed to an integration, forgetting
	// its tokens that expired before now.
	AddPushedToken(ctx context.Context, id string, tokenID int64, expiresAt, now time.Time) error
	// LivePushedTokens returns the ids of the tokens pushed to the
	// integration that expire after now.
	LivePushedTokens(ctx context.Context, id string, now time.Time) ([]int64, error)
}

// Minted is a token minted for a push.
type Minted struct {
	// Token is the access token in clear: posted, never stored.
	Token string
	// ID is the token's row id (as the token tools list it); JTI its jti.
	ID        int64
	JTI       string
	Scopes    []string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Minter mints and revokes pushed tokens: the authorization server.
type Minter interface {
	// MayPushTokens is nil when the client may receive pushed tokens;
	// NotFound, Conflict (disabled, pending) or Invalid otherwise.
	MayPushTokens(ctx context.Context, clientID string) error
	// Mint issues the client a JWT access token with its registered
	// scopes, for lifetime, audited (token.issued) in ctx's transaction.
	Mint(ctx context.Context, clientID string, lifetime time.Duration, integrationID string) (*Minted, error)
	// Revoke revokes a token of the client by row id, audited.
	Revoke(ctx context.Context, clientID string, tokenID int64) error
}

// Poster sends one POST and returns the receiver's status and the start of
// its answer: the SSRF-guarded outbound client, which refuses private
// addresses at dial time.
type Poster interface {
	Post(ctx context.Context, url string, headers map[string]string, body []byte) (int, []byte, error)
}

// Sealer encrypts and decrypts with associated data
// (secrets.PurposeAEAD).
type Sealer interface {
	Encrypt(plaintext, associatedData []byte) ([]byte, error)
	Decrypt(ciphertext, associatedData []byte) ([]byte, error)
}

// Scheduler enqueues a push of one integration at a time, in the
// transaction in ctx (River, jobs.go); force pushes even when not due.
type Scheduler interface {
	SchedulePush(ctx context.Context, id string, force bool, at time.Time) error
}

// Payload is the JSON body of a push.
type Payload struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	// ExpiresIn is the token's remaining lifetime in seconds.
	ExpiresIn int64  `json:"expires_in"`
	Scope     string `json:"scope"`
	// IssuedAt is when the token was issued, Unix seconds.
	IssuedAt int64  `json:"issued_at"`
	ClientID string `json:"client_id"`
}
