package client

import (
	"context"
	"strings"
	"time"

	"ward/internal/grantpolicy"
	"ward/internal/store"
)

// Grant types a client may be registered for.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// GrantTypes lists every grant type ward supports, in display order.
var GrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials}

// Token endpoint authentication methods (RFC 7591 token_endpoint_auth_method).
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthPrivateKeyJWT     = "private_key_jwt"
	AuthNone              = "none"
)

// AuthMethods lists every supported token endpoint authentication method.
var AuthMethods = []string{AuthClientSecretBasic, AuthClientSecretPost, AuthPrivateKeyJWT, AuthNone}

// Access-token formats: an opaque random handle (looked up by its HMAC), or
// a signed JWT as in RFC 9068.
const (
	TokenOpaque = "opaque"
	TokenJWT    = "jwt"
)

// ID token signing algorithms a client may register
// (id_token_signed_response_alg). RS256 is the default: OpenID Connect Core
// section 3.1.3.7 makes it the algorithm of a client that named none, and
// every relying-party library accepts it. ES256 is there for clients that
// prefer short signatures. "none" and the HMAC algorithms are never offered:
// an unsigned ID token proves nothing, and HS256 would need the client
// secret as the key, which ward keeps only as a hash.
const (
	IDTokenRS256 = "RS256"
	IDTokenES256 = "ES256"
)

// IDTokenAlgs lists the ID token signing algorithms, default first, as
// discovery advertises them.
var IDTokenAlgs = []string{IDTokenRS256, IDTokenES256}

// Client statuses. An application developer's client starts pending and
// serves only its owner's own sign-in until an administrator approves it;
// see internal/grantpolicy.
const (
	StatusPending = grantpolicy.StatusPending
	StatusActive  = grantpolicy.StatusActive
)

// Settings are the parts of a client its managers choose. Create and Update
// take them whole and validate them together, since the rules tie fields to
// one another (a public client may only use auth method none, and so on).
type Settings struct {
	Name string
	// Public clients (browser and native apps) cannot keep a secret: they
	// authenticate with nothing but PKCE and use auth method none.
	Public       bool
	GrantTypes   []string
	RedirectURIs []string // compared by exact string match
	// Scope is the space-separated list of scopes the client may ask for.
	Scope string
	// AuthMethod is the token endpoint authentication method. Left empty
	// it defaults to none for public clients, private_key_jwt when keys are
	// given, and client_secret_basic otherwise.
	AuthMethod string
	// JWKSURI or JWKS (inline JSON Web Key Set) hold the client's public
	// keys for private_key_jwt; exactly one is set for that method.
	JWKSURI string
	JWKS    string
	// TokenFormat is TokenOpaque (the default when empty) or TokenJWT.
	TokenFormat string
	// OwnerID is the application developer who manages the client; 0 for
	// a client only administrators manage.
	OwnerID int64
	// Intervention optionally names the intervention the client serves.
	Intervention string
	// ResourceServer lets the client introspect tokens issued to any
	// client (a protected resource checking the tokens it is sent); every
	// other client learns only about its own. Only an administrator (or
	// ward itself) sets or clears it, and only on a confidential client.
	ResourceServer bool
	// IDTokenAlg is the algorithm the client's ID tokens are signed with,
	// one of IDTokenAlgs; "" (what clients registered before the setting
	// existed hold) means RS256. See IDTokenSigningAlg.
	IDTokenAlg string
	// IDPSystem marks a system client of the legacy IdP API (seed 003,
	// docs/idp-api.md): a trusted system that authenticates with its
	// client_id and X-Auth-Token (its client secret) at /api/1.0/sso and
	// has no grant type, so it can never use the token endpoint. Only
	// CreateSystem sets it.
	IDPSystem bool
	// OrganizationID is the organization a system client registered as
	// (0 for none).
	OrganizationID int64
}

// IDTokenSigningAlg is the algorithm the client's ID tokens are signed
// with: its registered one, or RS256 when it registered none.
func (s *Settings) IDTokenSigningAlg() string {
	if s.IDTokenAlg == "" {
		return IDTokenRS256
	}
	return s.IDTokenAlg
}

// Client is a registered OAuth2 client.
type Client struct {
	// ID is the client_id: random and URL-safe, assigned by ward.
	ID string
	Settings
	// SecretHash is the hex HMAC-SHA-256 of the client secret under the
	// server's client-secret key; "" when the client has no secret.
	SecretHash string
	// SecretIssuedAt is when the current secret was issued; nil with no secret.
	SecretIssuedAt *time.Time
	Disabled       bool
	// Status is StatusPending or StatusActive: a pending client serves its
	// owner only (the authorization server asks grantpolicy). Disabled is
	// separate: an administrator's switch for any client.
	Status    string
	CreatedAt time.Time
	UpdatedAt time.Time
	// Version counts writes, for optimistic concurrency (see Store).
	Version int64
}

// Pending reports whether the client awaits an administrator's approval.
func (c *Client) Pending() bool { return c.Status == StatusPending }

// Policy is the client as internal/grantpolicy looks at it.
func (c *Client) Policy() grantpolicy.Client {
	return grantpolicy.Client{GrantTypes: c.GrantTypes, Scopes: c.Scopes(), RedirectURIs: c.RedirectURIs,
		OwnerID: c.OwnerID, Status: c.Status}
}

// Scopes returns the client's allowed scopes as a list.
func (c *Client) Scopes() []string { return strings.Fields(c.Scope) }

// HasGrant reports whether the client is registered for grant type g.
func (c *Client) HasGrant(g string) bool {
	for _, x := range c.GrantTypes {
		if x == g {
			return true
		}
	}
	return false
}

// HasRedirectURI reports whether uri is one of the client's redirect URIs,
// by exact string comparison (no normalisation: RFC 9700 §4.1.3).
func (c *Client) HasRedirectURI(uri string) bool {
	for _, x := range c.RedirectURIs {
		if x == uri {
			return true
		}
	}
	return false
}

// UsesSecret reports whether the client authenticates with a client secret.
func (c *Client) UsesSecret() bool { return usesSecret(c.AuthMethod) }

func usesSecret(method string) bool {
	return method == AuthClientSecretBasic || method == AuthClientSecretPost
}

// Filter selects clients for List. Zero fields do not filter.
type Filter struct {
	OwnerID int64
	// IDPSystem keeps only the IdP API's system clients.
	IDPSystem bool
	// State keeps only the clients in one of the States: what the admin
	// console's list offers to narrow by.
	State string
	// Name keeps only the clients whose name contains it, ignoring case
	// (ASCII case on SQLite, Unicode on PostgreSQL).
	Name string
}

// The states a client list may be narrowed to (Filter.State). A disabled
// client is disabled whatever its status; the others are not disabled.
const (
	StatePending  = "pending"
	StateActive   = "active"
	StateDisabled = "disabled"
)

// States lists the Filter states, in display order.
var States = []string{StatePending, StateActive, StateDisabled}

// Store persists clients. Contract (checked by internal/sqlstore/storetest):
//
//   - CreateClient inserts c with Version 1 and its CreatedAt/UpdatedAt as
//     given; a duplicate ID is Conflict, an unknown OwnerID or Intervention
//     is Invalid.
//   - GetClient returns the client with that client_id, or NotFound. It is
//     called by the token endpoint on every request: one indexed read.
//   - UpdateClient writes every field of c when c.Version matches the stored
//     version, then increments c.Version; a stale version is Conflict, an
//     unknown ID NotFound.
//   - ListClients returns clients matching f in creation order, at most
//     p.Limit after the cursor p.After, and the cursor of the next page
//     ("" on the last).
//
// Every method joins the transaction carried in ctx, if any.
type Store interface {
	CreateClient(ctx context.Context, c *Client) error
	GetClient(ctx context.Context, clientID string) (*Client, error)
	UpdateClient(ctx context.Context, c *Client) error
	ListClients(ctx context.Context, f Filter, p store.Page) ([]*Client, string, error)
	// CountClients counts the clients matching f.
	CountClients(ctx context.Context, f Filter) (int, error)
}
