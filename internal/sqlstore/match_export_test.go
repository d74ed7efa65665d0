package sqlstore

import "ward/internal/matching"

// MatchQuery is MatchCandidates' statement and arguments, rebound for db's
// dialect, so tests can EXPLAIN it.
func MatchQuery(db *DB, k matching.Keys, perKey int) (string, []any) {
	q, args, _ := db.matchQuery(k, perKey)
	return rebindUncached(db, q), args
}
