package sqlstore

import "ward/internal/directory"

// UserSearchQuery is the statement and arguments SearchUsers runs for f
// (first page, limit 50), rebound for db's dialect, so tests can EXPLAIN it.
func UserSearchQuery(db *DB, f directory.UserFilter) (string, []any) {
	where, args := db.userWhere(f)
	if where == "" {
		where = " WHERE u.id > ?"
	} else {
		where += " AND u.id > ?"
	}
	args = append(args, int64(0), 51)
	return db.rebind(`SELECT ` + prefixed("u.", userColumns) + ` FROM users u` + where + ` ORDER BY u.id LIMIT ?`), args
}

// PatientsOfGPQuery is PatientsWithGeneralPractitioner's statement, rebound.
func PatientsOfGPQuery(db *DB) string {
	return db.rebind(`SELECT p.id FROM users p WHERE p.general_practitioner_id = ? AND p.id > ? AND ` + livePatient +
		` ORDER BY p.id LIMIT ?`)
}
