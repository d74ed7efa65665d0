package sqlstore

import (
	"strings"
	"time"

	"ward/internal/timerange"
)

// dateWhere renders FHIR date-search bounds (all must hold; each is a
// disjunction, see timerange.Bound.Conditions) over a stored range whose
// ends are the column expressions lo and hi, both in unix microseconds.
// A NULL lo is minus infinity and a NULL hi plus infinity, as timerange
// defines. hi "" means the stored value is an instant: hi is lo + 1 µs.
// It returns "" when bounds is empty. The result is a boolean expression
// in ? placeholders, safe to AND into a WHERE clause.
func dateWhere(lo, hi string, bounds []timerange.Bound, now time.Time) (string, []any) {
	if len(bounds) == 0 {
		return "", nil
	}
	if hi == "" {
		hi = "(" + lo + " + 1)"
	}
	var b strings.Builder
	var args []any
	for i, bound := range bounds {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString("(")
		for j, conj := range bound.Conditions(now) {
			if j > 0 {
				b.WriteString(" OR ")
			}
			b.WriteString("(")
			for k, c := range conj {
				if k > 0 {
					b.WriteString(" AND ")
				}
				col := lo
				// A missing end satisfies "below" comparisons on lo and
				// "above" comparisons on hi.
				nullHolds := c.Side == timerange.Lo && (c.Op == timerange.Less || c.Op == timerange.LessEqual) ||
					c.Side == timerange.Hi && (c.Op == timerange.Greater || c.Op == timerange.GreaterEqual)
				if c.Side == timerange.Hi {
					col = hi
				}
				if nullHolds {
					b.WriteString("(" + col + " IS NULL OR " + col + " " + string(c.Op) + " ?)")
				} else {
					b.WriteString("(" + col + " IS NOT NULL AND " + col + " " + string(c.Op) + " ?)")
				}
				args = append(args, toMicro(c.At))
			}
			b.WriteString(")")
		}
		b.WriteString(")")
	}
	return b.String(), args
}
