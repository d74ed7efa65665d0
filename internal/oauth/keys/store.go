package keys

import (
	"context"
	"time"
)

// Store persists signing keys. Contract (checked by internal/sqlstore/storetest
// on every backend):
//
//   - Times are stored at microsecond precision and returned in UTC; a zero
//     RetireAfter is stored as "current" and returned as zero.
//   - Each algorithm has at most one current key, enforced by the database
//     (not by the caller), so two replicas racing cannot both create one.
//   - Every method that changes a row bumps SigningKeysVersion in the same
//     transaction; methods join the transaction in ctx.
type Store interface {
	// CreateSigningKey inserts k as the current key of k.Alg (k.RetireAfter
	// must be zero). When k.Alg already has a current key it changes
	// nothing and returns false (another replica won the race); a duplicate
	// KID is Conflict.
	CreateSigningKey(ctx context.Context, k *SealedKey) (created bool, err error)
	// RetireSigningKey sets RetireAfter on the current key of alg, so it no
	// longer signs, and returns its kid ("" when alg had no current key).
	RetireSigningKey(ctx context.Context, alg string, retireAfter time.Time) (kid string, err error)
	// ListSigningKeys returns the keys that are current or whose RetireAfter
	// is after publishedAt (a zero publishedAt lists every stored key),
	// newest ActivatedAt first, ties by KID.
	ListSigningKeys(ctx context.Context, publishedAt time.Time) ([]SealedKey, error)
	// DeleteRetiredSigningKeys deletes the keys whose RetireAfter is at or
	// before t (never a current key) and returns their kids.
	DeleteRetiredSigningKeys(ctx context.Context, t time.Time) ([]string, error)
	// SigningKeysVersion returns a counter bumped by every change to the
	// stored keys, for caches.
	SigningKeysVersion(ctx context.Context) (int64, error)
}
