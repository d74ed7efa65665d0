// Package keys owns the authorization server's JWT signing keys: it creates
// them on first run, keeps their private halves encrypted at rest, hands the
// current key of each algorithm to whoever signs (access tokens, ID tokens),
// publishes every public key a still-valid token may have been signed with as
// a JWKS, and rotates them.
//
// Two algorithms are kept, each with its own current key: ES256, the default
// for everything ward signs, and RS256, because OpenID Connect Core requires
// an OP to support RS256 ID tokens and many relying parties accept nothing
// else. A key's lifecycle is: created current (RetireAfter zero) -> retired by
// a rotation (RetireAfter = rotation time + the longest token lifetime +
// RetireMargin; it no longer signs but stays published) -> unpublished once
// RetireAfter has passed -> deleted by PruneRetired.
//
// Replicas share nothing but the database: each keeps a short in-memory copy
// of the key set, checked against a counter in the database at most every
// CacheTTL, so a rotation on one replica is seen by all within a second.
package keys
