package tokens

import (
	"context"

	"ward/internal/client"
	"ward/internal/directory"
)

// IDPRead is everything one token look-up of the legacy IdP API (seed 003,
// GET /api/1.0/sso/token/{token}) needs: the calling system client, the
// token, the client the token was issued to and the person's ID card. The
// token, the person and (when it is not the caller) the issuer are the
// database's current rows, read in one statement (IDPReader), so nothing
// in them can outlive a revoked or expired token, a revoked issuer or a
// deleted person. The calling client is not read by the store: the
// provider takes it from its client cache, with the rule of every client
// authentication in ward (oauth.ClientCacheTTL: a copy trusted for at most
// that long, dropped at once on the replica that changes the client), so a
// rotated X-Auth-Token or a revoked system stops at once on the replica
// that changed it and within ClientCacheTTL on the others. (The card's
// groups and profiles may come from a cache, served only at the version
// the statement reads, and then from a second statement on a miss.) The
// reader only reads; what the rows mean (is the secret right, is the
// token live) is decided by internal/client and internal/oauth.
//
// The look-up runs on every request of the systems that call it, so only
// the columns it decides and answers on are read (no password hash, no
// token data); the fields named below are set, the others are zero.
type IDPRead struct {
	// Caller is the system client named by the request's client_id, the
	// provider's cached copy (all its fields; shared, read-only). The
	// store leaves it nil.
	Caller *client.Client
	// Token is the stored token: ID, Signature, Kind, ClientID, UserID,
	// ExpiresAt, Active, Format, and UserDeleted from the person's row.
	Token *Token
	// Issuer is the client the token was issued to. When that is another
	// client than the caller, the store reads its ID, Disabled, IDPSystem
	// and Status; when it is the caller, the store leaves it nil and the
	// provider sets it to Caller.
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
// ReadIDPToken returns the token (kind, signature), that token's client
// when it is not callerID (else Issuer is nil), and its person's ID card;
// it does not read callerID's own row (Caller is nil). It is NotFound, with
// nothing read, when a row is missing (an unknown signature, a token
// without a person, an issuer other than callerID that does not exist):
// the caller then takes the step-by-step path, which tells those cases
// apart.
type IDPReader interface {
	ReadIDPToken(ctx context.Context, callerID string, kind Kind, signature string) (*IDPRead, error)
}
