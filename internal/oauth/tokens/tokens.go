// Package tokens is the authorization server's record of what it issued:
// authorization codes, access and refresh tokens, PKCE and OpenID Connect
// request state, used client-assertion ids, and the consents people gave
// to clients. It holds plain types and the Store contract; the protocol
// (fosite) lives in internal/oauth and the SQL in internal/sqlstore.
//
// A credential is never stored: only its signature (the HMAC part of an
// opaque token, the keyed hash of a service token) or, for a JWT access
// token, its jti (from which nobody can make the token without ward's
// signing key), so a copy of the database cannot be replayed.
package tokens

import (
	"context"
	"time"

	"ward/internal/store"
)

// Kind says what a stored row is.
type Kind string

// Kinds of stored rows. PKCE and OIDC rows are keyed by the signature of the
// authorization code they accompany.
const (
	KindCode    Kind = "code"
	KindAccess  Kind = "access"
	KindRefresh Kind = "refresh"
	KindPKCE    Kind = "pkce"
	KindOIDC    Kind = "oidc"
)

// Kinds lists every Kind.
var Kinds = []Kind{KindCode, KindAccess, KindRefresh, KindPKCE, KindOIDC}

// Token is one stored credential or request state.
type Token struct {
	// ID is the row id, the public handle by which administrators list
	// and revoke a token; assigned by CreateToken.
	ID        int64
	Signature string
	Kind      Kind
	// RequestID names the grant: every code, access and refresh token that
	// descends from one authorization shares it, so a reused refresh token
	// or code can revoke the whole family.
	RequestID string
	ClientID  string
	// UserID is the person the token acts for; 0 for client-only grants.
	UserID int64
	// PatientID is the SMART launch patient the token reaches through
	// patient/ scopes (a directory user id); 0 without one. Withdrawing that
	// patient's consent revokes the tokens others hold on them
	// (RevokePatientLaunchTokens), so it is a column, not only in Data.
	PatientID int64
	// UserDeleted is true when the person the token acts for is deleted.
	// GetToken and ListTokens read it from the person's row in the same
	// query; writes ignore it. A token of a deleted person is dead whatever Active says.
	UserDeleted bool
	// Scopes are the granted scopes.
	Scopes      []string
	RequestedAt time.Time
	ExpiresAt   time.Time
	// Active is false once a code is used, a refresh token rotated, or a
	// token revoked. Inactive rows are kept until they expire so that a
	// replay is recognised as one (and revokes its family).
	Active bool
	// Service marks a long-lived service-account token.
	Service bool
	// Format is "opaque" or "jwt" for access tokens; "" otherwise.
	Format string
	// Data is the serialised request and session, opaque to the store.
	Data []byte
	// AlertedAt is when the token janitor alerted the sponsor of this
	// service token that it is about to expire; nil until then. It is set
	// once (MarkServiceTokenAlerted), so each token is alerted about once.
	AlertedAt *time.Time
}

// ServiceClientID is ward's built-in client of service-account tokens
// (internal/oauth, service_account.go). Migrate registers it; it has no
// grant types and no credential, so it can never authenticate, and
// disabling it stops every service token at once.
const ServiceClientID = "ward-service-accounts"

// Filter selects tokens for ListTokens. Zero fields do not filter.
type Filter struct {
	ClientID string
	UserID   int64
	Kinds    []Kind
	// LiveAt, when set, keeps only active tokens expiring after it.
	LiveAt time.Time
}

// Expiring selects service tokens for ServiceTokensExpiring.
type Expiring struct {
	// From and To bound the expiry: From <= ExpiresAt < To.
	From, To time.Time
	// Unalerted keeps only tokens whose AlertedAt is unset.
	Unalerted bool
}

// ClientUser is one person who authorized a client.
type ClientUser struct {
	UserID int64
	// Consent is their remembered consent, if any.
	Consent *Consent
	// LiveTokens counts their active, unexpired access and refresh tokens.
	LiveTokens int
	// LastIssued is when their newest token was issued (zero with none).
	LastIssued time.Time
}

// Consent is a person's remembered "allow" for a client and a set of
// scopes, so the consent page is not shown again for the same request.
type Consent struct {
	ID       int64
	UserID   int64
	ClientID string
	// Scopes is sorted and duplicate-free; a consent covers a request whose
	// scopes are a subset.
	Scopes      []string
	GrantedAt   time.Time
	WithdrawnAt *time.Time
}

// Store persists tokens, client-assertion ids and consents. Contract
// (checked by internal/sqlstore/storetest on SQLite and PostgreSQL); every
// method joins the transaction carried in ctx:
//
//   - CreateToken inserts t (every field but ID, which it sets). A second
//     row with the same Kind and Signature is Conflict.
//   - CreateTokens inserts every token of ts as CreateToken would, all or
//     none, with few statements however many there are (the token
//     endpoint writes a whole batch of concurrent requests at once).
//   - GetToken returns the row of that kind and signature, active or not,
//     or NotFound, with UserDeleted set from the person's row. It is on the
//     hot path of every bearer request: one query (the token's unique index
//     and the person's primary key).
//   - DeactivateToken marks one row inactive and reports whether it was
//     active: exactly one of two racing callers gets true, which is how a
//     code is redeemed and a refresh token rotated at most once.
//   - DeleteToken removes one row; a missing row is not an error.
//   - DeactivateRequest marks inactive every row of requestID whose kind is
//     in kinds (all kinds when none) and returns how many changed.
//   - DeactivateClientUser marks inactive every access and refresh token of
//     the client for that user and returns how many changed.
//   - DeactivateByID marks the token with that row id inactive, together
//     with every token of its request, and returns the row as it was, or
//     NotFound.
//   - RevokeUserTokens marks inactive every code, access and refresh token
//     acting for the user, of every client, and returns how many changed.
//   - RevokePatientLaunchTokens marks inactive every code, access and
//     refresh token whose launch patient is patientID and that acts for
//     someone else (a staff member's launch), and returns how many changed.
//   - RevokeClientTokens marks inactive every code, access and refresh token
//     of the client and returns how many changed.
//   - ListTokens returns rows matching f newest first, at most p.Limit
//     after cursor p.After, and the next cursor ("" on the last page).
//   - ClientUsers returns, for a client, every user with a live token or a
//     live consent, ordered by user id.
//   - DeleteExpiredTokens removes up to limit rows that expired before t and
//     returns how many; callers loop until it returns fewer than limit.
//   - ServiceTokensExpiring returns active service tokens expiring in
//     [f.From, f.To), soonest first; with f.Unalerted only those whose
//     AlertedAt is unset.
//   - MarkServiceTokenAlerted sets AlertedAt of the token with that row id
//     to at when it is unset, and reports whether it did: exactly one of
//     two racing callers gets true, so a sponsor is alerted once per
//     token. An unknown id is false, no error.
//   - UseJTI records a client-assertion id until exp. A jti already
//     recorded and not yet expired is Conflict; expired ones are forgotten.
//   - JTIKnown reports whether jti is recorded and unexpired at now.
//   - SaveConsent inserts c (setting ID); FindConsent returns the newest
//     live consent of the user for the client whose scopes include every
//     one of scopes, or NotFound; WithdrawConsents marks every live
//     consent of the user for the client withdrawn at t and returns how
//     many; ListConsents returns a user's consents, live and withdrawn,
//     newest first.
type Store interface {
	IDPReader

	CreateToken(ctx context.Context, t *Token) error
	CreateTokens(ctx context.Context, ts []*Token) error
	GetToken(ctx context.Context, kind Kind, signature string) (*Token, error)
	DeactivateToken(ctx context.Context, kind Kind, signature string) (bool, error)
	DeleteToken(ctx context.Context, kind Kind, signature string) error
	DeactivateRequest(ctx context.Context, requestID string, kinds ...Kind) (int, error)
	DeactivateClientUser(ctx context.Context, clientID string, userID int64) (int, error)
	DeactivateByID(ctx context.Context, id int64) (*Token, error)
	RevokeUserTokens(ctx context.Context, userID int64) (int, error)
	RevokePatientLaunchTokens(ctx context.Context, patientID int64) (int, error)
	RevokeClientTokens(ctx context.Context, clientID string) (int, error)
	ListTokens(ctx context.Context, f Filter, p store.Page) ([]*Token, string, error)
	ClientUsers(ctx context.Context, clientID string, now time.Time) ([]ClientUser, error)
	DeleteExpiredTokens(ctx context.Context, before time.Time, limit int) (int, error)
	ServiceTokensExpiring(ctx context.Context, f Expiring) ([]*Token, error)
	// CountLiveTokens counts the active tokens of kinds (every kind when
	// none) that expire after now.
	CountLiveTokens(ctx context.Context, now time.Time, kinds ...Kind) (int, error)
	MarkServiceTokenAlerted(ctx context.Context, id int64, at time.Time) (bool, error)

	UseJTI(ctx context.Context, jti string, exp, now time.Time) error
	JTIKnown(ctx context.Context, jti string, now time.Time) (bool, error)

	SaveConsent(ctx context.Context, c *Consent) error
	FindConsent(ctx context.Context, userID int64, clientID string, scopes []string) (*Consent, error)
	WithdrawConsents(ctx context.Context, userID int64, clientID string, at time.Time) (int, error)
	ListConsents(ctx context.Context, userID int64) ([]*Consent, error)
}
