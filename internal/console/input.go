package console

import (
	"strings"
	"unicode/utf8"

	"ward/internal/apperr"
)

// validText reports whether s is text a person could have typed: UTF-8
// without a NUL. The server refuses both before the console sees them;
// the console's own check keeps each page safe without that middleware.
func validText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// checkText refuses a query or form value no person typed (see
// validText) or longer than max bytes, as the form's mistake (400).
func checkText(field, v string, max int) error {
	switch {
	case !utf8.ValidString(v):
		return apperr.New(apperr.Invalid, "%s is not valid text", field)
	case strings.ContainsRune(v, 0):
		return apperr.New(apperr.Invalid, "%s contains a NUL character", field)
	case len(v) > max:
		return apperr.New(apperr.Invalid, "%s is longer than %d characters", field, max)
	}
	return nil
}
