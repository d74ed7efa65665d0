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
// defines. hi "" means the stored value is an instant (one microsecond
// wide), rendered by fixedWidthWhere so that an index on lo serves it. It
// returns "" when bounds is empty. The result is a boolean expression in ?
// placeholders, safe to AND into a WHERE clause.
func dateWhere(lo, hi string, bounds []timerange.Bound, now time.Time) (string, []any) {
	if hi == "" {
		return fixedWidthWhere(lo, 1, bounds, now)
	}
	return renderBounds(bounds, now, func(c timerange.Cond) (string, int64) {
		col := lo
		if c.Side == timerange.Hi {
			col = hi
		}
		// A missing end satisfies "below" comparisons on lo and "above"
		// comparisons on hi.
		nullHolds := c.Side == timerange.Lo && (c.Op == timerange.Less || c.Op == timerange.LessEqual) ||
			c.Side == timerange.Hi && (c.Op == timerange.Greater || c.Op == timerange.GreaterEqual)
		if nullHolds {
			return "(" + col + " IS NULL OR " + col + " " + string(c.Op) + " ?)", toMicro(c.At)
		}
		return "(" + col + " IS NOT NULL AND " + col + " " + string(c.Op) + " ?)", toMicro(c.At)
	})
}

// fixedWidthWhere is dateWhere for a stored range of a fixed width: [col,
// col + width) in microseconds (an instant is one microsecond wide, a
// birth date one day). A comparison on the range's end is turned into one
// on col itself (end < t is col < t - width), so that every comparison is
// on the bare, indexed column and the planner can range-scan it. A NULL
// col matches no bound (a document without a date).
func fixedWidthWhere(col string, width int64, bounds []timerange.Bound, now time.Time) (string, []any) {
	return renderBounds(bounds, now, func(c timerange.Cond) (string, int64) {
		at := toMicro(c.At)
		if c.Side == timerange.Hi {
			at -= width
		}
		return col + " " + string(c.Op) + " ?", at
	})
}

// renderBounds writes bounds as (c AND c …) OR (…), ANDed across bounds,
// with cond rendering one comparison and its argument.
func renderBounds(bounds []timerange.Bound, now time.Time, cond func(timerange.Cond) (string, int64)) (string, []any) {
	if len(bounds) == 0 {
		return "", nil
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
				sql, arg := cond(c)
				b.WriteString(sql)
				args = append(args, arg)
			}
			b.WriteString(")")
		}
		b.WriteString(")")
	}
	return b.String(), args
}
