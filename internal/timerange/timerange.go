// Package timerange is FHIR's date-search arithmetic without FHIR or SQL:
// a search value is a prefix and a half-open range, a stored value is a
// half-open range too (an instant is one microsecond wide, a birth date one
// day), and whether the two match is a disjunction of comparisons on the
// stored range's ends. Stores render those comparisons in their own query
// language and fakes evaluate them with Matches, so both agree by
// construction.
package timerange

import "time"

// Prefix is an R4 date comparison prefix (§3.1.1.4.2).
type Prefix string

// The R4 prefixes.
const (
	Eq Prefix = "eq"
	Ne Prefix = "ne"
	Gt Prefix = "gt"
	Lt Prefix = "lt"
	Ge Prefix = "ge"
	Le Prefix = "le"
	Sa Prefix = "sa"
	Eb Prefix = "eb"
	Ap Prefix = "ap"
)

// Bound is one search value: Prefix applied to the half-open range
// [Start, End) that the written value stands for.
type Bound struct {
	Prefix Prefix
	Start  time.Time
	End    time.Time
}

// Side is which end of the stored range a comparison reads.
type Side int

// The two ends of a stored range [Lo, Hi). A missing Lo is minus infinity
// (a period with no start); a missing Hi is plus infinity (still going on).
const (
	Lo Side = iota + 1
	Hi
)

// Op is a comparison operator.
type Op string

// The operators Conditions uses.
const (
	Less         Op = "<"
	LessEqual    Op = "<="
	Greater      Op = ">"
	GreaterEqual Op = ">="
)

// Cond is one comparison: the stored Side, Op, At. A store must treat a
// missing Lo as minus infinity and a missing Hi as plus infinity.
type Cond struct {
	Side Side
	Op   Op
	At   time.Time
}

// Conjunction is conditions that must all hold.
type Conjunction []Cond

// ApproxFraction is how far "ap" widens the search range: R4 suggests 10%
// of the distance between the value and now, at least MinApprox.
const ApproxFraction = 0.1

// MinApprox is the smallest widening "ap" applies, so that "ap" of a date
// near today still means "around that day".
const MinApprox = 24 * time.Hour

// Conditions returns the stored ranges that match b, as a disjunction of
// conjunctions. now is only read by "ap". An unknown prefix is treated as
// eq; the search parser refuses those before a store sees them.
func (b Bound) Conditions(now time.Time) []Conjunction {
	s, e := b.Start, b.End
	within := Conjunction{{Lo, GreaterEqual, s}, {Hi, LessEqual, e}}
	switch b.Prefix {
	case Ne:
		return []Conjunction{{{Lo, Less, s}}, {{Hi, Greater, e}}}
	case Gt:
		return []Conjunction{{{Hi, Greater, e}}}
	case Lt:
		return []Conjunction{{{Lo, Less, s}}}
	case Ge:
		return []Conjunction{{{Hi, Greater, e}}, within}
	case Le:
		return []Conjunction{{{Lo, Less, s}}, within}
	case Sa:
		return []Conjunction{{{Lo, GreaterEqual, e}}}
	case Eb:
		return []Conjunction{{{Hi, LessEqual, s}}}
	case Ap:
		gap := now.Sub(s)
		if gap < 0 {
			gap = -gap
		}
		m := max(time.Duration(float64(gap)*ApproxFraction), MinApprox)
		return []Conjunction{{{Lo, Less, e.Add(m)}, {Hi, Greater, s.Add(-m)}}}
	default:
		return []Conjunction{within}
	}
}

// Matches reports whether the stored range [lo, hi) matches b; a zero lo
// or hi is a missing end. It is the reference the stores are tested
// against, and what in-memory fakes use.
func (b Bound) Matches(lo, hi time.Time, now time.Time) bool {
	for _, conj := range b.Conditions(now) {
		if conj.holds(lo, hi) {
			return true
		}
	}
	return false
}

func (c Conjunction) holds(lo, hi time.Time) bool {
	for _, cond := range c {
		if !cond.holds(lo, hi) {
			return false
		}
	}
	return true
}

func (c Cond) holds(lo, hi time.Time) bool {
	v := lo
	if c.Side == Hi {
		v = hi
	}
	if v.IsZero() {
		// Lo missing is -inf: below everything. Hi missing is +inf.
		below := c.Side == Lo
		switch c.Op {
		case Less, LessEqual:
			return below
		default:
			return !below
		}
	}
	switch c.Op {
	case Less:
		return v.Before(c.At)
	case LessEqual:
		return !v.After(c.At)
	case Greater:
		return v.After(c.At)
	default:
		return !v.Before(c.At)
	}
}

// Instant is the stored range of an instant: one microsecond, the
// precision the stores keep.
func Instant(t time.Time) (lo, hi time.Time) { return t, t.Add(time.Microsecond) }

// Day is the stored range of a calendar date (a birth date): the whole day
// in UTC.
func Day(d time.Time) (lo, hi time.Time) {
	lo = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
	return lo, lo.AddDate(0, 0, 1)
}
