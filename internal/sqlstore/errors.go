package sqlstore

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"ward/internal/apperr"
)

// PostgreSQL SQLSTATE codes we classify.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
	pgNotNullViolation    = "23502"
	pgCheckViolation      = "23514"
	pgDataExceptionClass  = "22"
)

// classify turns a driver error into an apperr by its code (never by its
// message text): unique violations are Conflict, foreign-key, not-null and
// check violations are Invalid, anything else Internal. what says what was
// being done; it becomes the safe message for Conflict and Invalid.
func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.Wrap(apperr.NotFound, err, "%s: not found", what)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return apperr.Wrap(apperr.Conflict, err, "%s: already exists", what)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return apperr.Wrap(apperr.Invalid, err, "%s: refers to something that does not exist", what)
		case sqlite3.SQLITE_CONSTRAINT_NOTNULL, sqlite3.SQLITE_CONSTRAINT_CHECK:
			return apperr.Wrap(apperr.Invalid, err, "%s: a value is missing or out of range", what)
		}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == pgUniqueViolation:
			return apperr.Wrap(apperr.Conflict, err, "%s: already exists", what)
		case pe.Code == pgForeignKeyViolation:
			return apperr.Wrap(apperr.Invalid, err, "%s: refers to something that does not exist", what)
		case pe.Code == pgNotNullViolation, pe.Code == pgCheckViolation,
			len(pe.Code) == 5 && pe.Code[:2] == pgDataExceptionClass:
			return apperr.Wrap(apperr.Invalid, err, "%s: a value is missing or out of range", what)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// storableText refuses text arguments holding a NUL byte or invalid UTF-8
// before they reach the database: PostgreSQL rejects both in a text
// parameter (SQLSTATE 22021), after a round trip and, in a transaction,
// aborting it, while SQLite stores them verbatim. Refusing them here makes
// both databases answer alike, as Invalid, for any caller (the HTTP edge
// already refuses such input; the CLI and jobs do not pass through it).
// Byte slices are binary content and pass.
func storableText(args []any) error {
	for _, a := range args {
		var s string
		switch v := a.(type) {
		case string:
			s = v
		case sql.NullString:
			s = v.String
		default:
			continue
		}
		if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
			return apperr.New(apperr.Invalid, "text holds a NUL byte or is not valid UTF-8")
		}
	}
	return nil
}

// notFound is the NotFound error for a missing row of kind what.
func notFound(what string, id any) error {
	return apperr.New(apperr.NotFound, "%s %v not found", what, id)
}

// toMicro and fromMicro convert between time.Time and the stored unix
// microseconds (UTC). Sub-microsecond precision is dropped on the way in.
func toMicro(t time.Time) int64 { return t.UnixMicro() }

func fromMicro(v int64) time.Time { return time.UnixMicro(v).UTC() }

// nullMicro stores an optional time as NULL when nil.
func nullMicro(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromNullMicro(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicro(v.Int64)
	return &t
}

// nullID stores a zero id as NULL (for optional foreign keys).
func nullID(id int64) sql.NullInt64 {
	return sql.NullInt64{Int64: id, Valid: id != 0}
}

// toJSON encodes a list for a JSON text column; nil is stored as [].
func toJSON[T any](v []T) (string, error) {
	if v == nil {
		return "[]", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode json column: %w", err)
	}
	return string(b), nil
}

// fromJSON decodes a JSON text column; an empty list decodes to nil.
func fromJSON[T any](s string) ([]T, error) {
	var v []T
	if s == "" {
		return nil, nil
	}
	if p, ok := any(&v).(*[]string); ok {
		// Lists of plain strings (scopes, grant types) are read on every
		// token check; most need no JSON decoder.
		if out, ok := plainStrings(s); ok {
			*p = out
			return v, nil
		}
	}
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("decode json column: %w", err)
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

// plainStrings decodes a JSON array of strings that contain no escapes,
// such as ["a","b"]; ok is false for anything else, which the caller then
// hands to encoding/json.
func plainStrings(s string) (out []string, ok bool) {
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, false
	}
	body := s[1 : len(s)-1]
	if body == "" {
		return nil, true
	}
	for len(body) > 0 {
		if body[0] != '"' {
			return nil, false
		}
		end := strings.IndexByte(body[1:], '"')
		if end < 0 {
			return nil, false
		}
		item := body[1 : 1+end]
		if strings.IndexByte(item, '\\') >= 0 {
			return nil, false
		}
		for i := 0; i < len(item); i++ {
			if item[i] < 0x20 {
				return nil, false
			}
		}
		if !utf8.ValidString(item) {
			return nil, false
		}
		out = append(out, item)
		body = body[end+2:]
		if body == "" {
			return out, true
		}
		if body[0] != ',' {
			return nil, false
		}
		body = body[1:]
	}
	return nil, false
}
