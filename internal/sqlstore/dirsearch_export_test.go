package sqlstore

import (
	"context"
	"io/fs"

	"github.com/pressly/goose/v3"

	"ward/internal/directory"
)

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

// MigrateSchemaTo moves db's schema up or down to version (goose; the
// MigrateTo of clinical_export_test.go only goes up), so a test can take a
// fully migrated store back, write rows as an older schema held them and
// check a migration's backfill.
func MigrateSchemaTo(ctx context.Context, db *DB, version int64) error {
	sub, err := fs.Sub(migrationFiles, "migrations/"+db.dialect)
	if err != nil {
		return err
	}
	dialect := goose.DialectSQLite3
	if db.dialect == Postgres {
		dialect = goose.DialectPostgres
	}
	p, err := goose.NewProvider(dialect, db.writer, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return err
	}
	cur, err := p.GetDBVersion(ctx)
	if err != nil {
		return err
	}
	if cur > version {
		_, err = p.DownTo(ctx, version)
	} else {
		_, err = p.UpTo(ctx, version)
	}
	return err
}
