package search

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"ward/internal/apperr"
)

// Issue is one refused parameter, for one OperationOutcome issue each.
type Issue struct {
	// Param is the parameter as the client wrote it, modifier included
	// ("name:foo"), cut to a readable length if it was absurdly long.
	Param string
	// Reason says what is wrong, in words safe to show the client.
	Reason string
}

// IssueList is the cause carried by the apperr.Invalid error Parse returns.
// Its text is safe to show: it holds only the client's own parameter names
// and short, quoted excerpts of its values.
type IssueList []Issue

func (l IssueList) Error() string {
	var b strings.Builder
	for i, is := range l {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(quote(is.Param))
		b.WriteString(": ")
		b.WriteString(is.Reason)
	}
	return b.String()
}

// Issues returns the refused parameters behind an error from Parse, or nil
// when err did not come from Parse. Handlers use it to give each parameter
// its own OperationOutcome issue; apperr.Message(err) names them all in one
// sentence for callers that want only text.
func Issues(err error) []Issue {
	var l IssueList
	if errors.As(err, &l) {
		return l
	}
	return nil
}

// invalid builds Parse's error: apperr.Invalid, with every issue in the safe
// message (so OperationOutcome.diagnostics names each parameter) and the list
// as the cause (so a handler can split them up).
func invalid(l IssueList) error {
	return apperr.Wrap(apperr.Invalid, l, "invalid search: %s", l.Error())
}

// quote shows a client string in a message: quoted, with control and
// invalid bytes escaped, and cut short, so that an error can neither be
// huge nor carry markup or line breaks into logs and responses.
func quote(s string) string {
	const max = 48
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}
