package search

import "strings"

// The spec (R4 §3.1.1.5.4 / "Escaping Search Parameters") gives '\' as the
// escape for the three characters that carry meaning in a value: ',' (OR),
// '|' (token system and code) and '$' (composite parts), and for itself.
// Any other '\' sequence is refused rather than guessed at, so that a value
// means one thing on every server that follows the spec.

// splitOr cuts v at its unescaped commas. The parts keep their escapes, so
// that a later split at '|' still sees which pipes were escaped. It reports
// the first bad escape as a reason.
func splitOr(v string) ([]string, string) {
	var parts []string
	start := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			if i+1 >= len(v) {
				return nil, `ends in a lone "\"; write "\\" for a backslash`
			}
			switch v[i+1] {
			case ',', '|', '$', '\\':
				i++
			default:
				return nil, `has "\" before a character that needs no escape (only \, \| \$ \\ are escapes)`
			}
		case ',':
			parts = append(parts, v[start:i])
			start = i + 1
		}
	}
	return append(parts, v[start:]), ""
}

// splitPipe cuts an escaped token value at its one unescaped '|'. More than
// one is ambiguous (which is the system?) and is reported.
func splitPipe(v string) (left, right string, pipe bool, reason string) {
	at := -1
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++ // splitOr has checked the escape
		case '|':
			if at >= 0 {
				return "", "", false, `has more than one unescaped "|"; escape a "|" that is part of the code as "\|"`
			}
			at = i
		}
	}
	if at < 0 {
		return v, "", false, ""
	}
	return v[:at], v[at+1:], true, ""
}

// unescape removes the escapes of a part that splitOr accepted.
func unescape(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}
