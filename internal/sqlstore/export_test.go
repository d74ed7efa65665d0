package sqlstore

// Hooks for the external tests and benchmarks in this directory.

// VisiblePatientsQuery is the statement PatientsConsentedTo runs for n
// organizations, rebound for db's dialect, so tests can EXPLAIN it.
func VisiblePatientsQuery(db *DB, n int) string { return db.rebind(visibleQuery(n)) }

// Rebind exposes the placeholder rewrite to tests that write raw SQL.
func Rebind(db *DB, query string) string { return db.rebind(query) }
