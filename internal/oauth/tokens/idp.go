package tokens

import (
	"context"

	"ward/internal/client"
	"ward/internal/directory"
)

// IDPRead is everything one token look-up of the legacy IdP API (seed 003,
// GET /api/1.0/sso/token/{token}) needs, read in one statement: the
// calling system client, the token, the client the token was issued to
// and the person's ID card. Every part is the database's current row, read
// in the same statement, so nothing in it can outlive a revocation, a
// rotated X-Auth-Token or a deleted person. (The card's groups and
// profiles may come from a cache, served only at the version that
// statement reads, and then from a second statement on a miss.) The reader only reads; what
// the rows mean (is the secret right, is the token live) is decided by
// internal/client and internal/oauth.
//
// The look-up runs on every request of the systems that call it, so only
// the columns it decides and answers on are read (no password hash, no
// token data); the fields named below are set, the others are zero.
type IDPRead struct {
	// Caller is the system client named by the request's client_id: ID,
	// SecretHash, AuthMethod, Disabled, IDPSystem and Status.
	Caller *client.Client
	// Token is the stored token: ID, Signature, Kind, ClientID, UserID,
	// ExpiresAt, Active, Format, and UserDeleted from the person's row.
	Token *Token
	// Issuer is the client the token was issued to (often Caller): ID,
	// Disabled, IDPSystem and Status.
	Issuer *client.Client
	// Card is the person the token is for, with groups (their Name
	// only: the answer lists names), profiles and last sign-in as
	// directory.Store.IDCard reads them; of the user, ID, Email,
	// GivenName, FamilyName, Registered, ConfirmedAt, UpdatedAt and
	// DeletedAt. Its Groups and Profiles may be shared with other reads
	// (a store may cache them, checked against the database each time):
	// read-only.
	Card *directory.IDCard
}

// IDPReader reads a legacy IdP token look-up in one round trip (two when
// the person's groups and profiles are not cached at their current version).
//
// ReadIDPToken returns the client callerID, the token (kind, signature),
// that token's client and its person's ID card. It is NotFound, with
// nothing read, when any of the four rows is missing (an unknown client
// id, an unknown signature, a token without a person): the caller then
// takes the step-by-step path, which tells those cases apart.
type IDPReader interface {
	ReadIDPToken(ctx context.Context, callerID string, kind Kind, signature string) (*IDPRead, error)
}
