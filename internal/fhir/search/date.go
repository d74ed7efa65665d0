package search

import (
	"time"
)

// prefixes are the date prefixes, all of which the R4 definitions allow on
// every date parameter ward has.
var prefixes = map[string]Prefix{
	"eq": PrefixEq, "ne": PrefixNe, "gt": PrefixGt, "lt": PrefixLt, "ge": PrefixGe,
	"le": PrefixLe, "sa": PrefixSa, "eb": PrefixEb, "ap": PrefixAp,
}

// parseDate reads one date value with an optional prefix. It is hand-written
// rather than a list of time.Parse layouts because the grammar matters: the
// precision written sets the range, a time needs a zone, and time.Parse
// would accept forms (single-digit fields, "+0100") that FHIR does not.
func parseDate(v string) (Date, string) {
	d := Date{Prefix: PrefixEq}
	if len(v) >= 2 && isLower(v[0]) && isLower(v[1]) {
		p, ok := prefixes[v[:2]]
		if !ok {
			return Date{}, "has unknown prefix " + quote(v[:2]) + " (use eq, ne, gt, lt, ge, le, sa, eb or ap)"
		}
		d.Prefix = p
		v = v[2:]
	}
	const want = "must be YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss[.fff]] with Z or ±hh:mm"
	s := scanner{s: v}
	year, ok := s.digits(4)
	if !ok || year == 0 {
		return Date{}, want
	}
	month, day := 1, 1
	d.Precision = PrecisionYear
	if s.eat('-') {
		if month, ok = s.digits(2); !ok || month < 1 || month > 12 {
			return Date{}, want
		}
		d.Precision = PrecisionMonth
		if s.eat('-') {
			if day, ok = s.digits(2); !ok || day < 1 || day > daysIn(year, month) {
				return Date{}, want
			}
			d.Precision = PrecisionDay
		}
	}
	if s.done() {
		d.Start = time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
		switch d.Precision {
		case PrecisionYear:
			d.End = d.Start.AddDate(1, 0, 0)
		case PrecisionMonth:
			d.End = d.Start.AddDate(0, 1, 0)
		default:
			d.End = d.Start.AddDate(0, 0, 1)
		}
		return d, ""
	}
	if d.Precision != PrecisionDay || !s.eat('T') {
		return Date{}, want
	}
	hour, ok1 := s.digits(2)
	ok2 := s.eat(':')
	minute, ok3 := s.digits(2)
	if !ok1 || !ok2 || !ok3 || hour > 23 || minute > 59 {
		return Date{}, want
	}
	d.Precision = PrecisionMinute
	sec, nanos, unit := 0, 0, time.Minute
	if s.eat(':') {
		if sec, ok = s.digits(2); !ok || sec > 59 {
			// 60 (a leap second) is valid FHIR but Go time cannot hold it,
			// and no stored timestamp carries one.
			return Date{}, want
		}
		d.Precision, unit = PrecisionSecond, time.Second
		if s.eat('.') {
			n := 0
			for !s.done() && isDigit(s.peek()) {
				if n == 9 {
					return Date{}, want + " (at most 9 fraction digits)"
				}
				nanos = nanos*10 + int(s.next()-'0')
				n++
			}
			if n == 0 {
				return Date{}, want
			}
			unit = time.Second
			for range n {
				unit /= 10
			}
			for range 9 - n {
				nanos *= 10
			}
			d.Precision = PrecisionFraction
		}
	}
	var loc *time.Location
	switch {
	case s.eat('Z'):
		loc = time.UTC
	case s.peek() == '+' || s.peek() == '-':
		sign := 1
		if s.next() == '-' {
			sign = -1
		}
		zh, ok1 := s.digits(2)
		ok2 := s.eat(':')
		zm, ok3 := s.digits(2)
		if !ok1 || !ok2 || !ok3 || zm > 59 || zh > 14 || (zh == 14 && zm != 0) {
			return Date{}, want
		}
		loc = time.FixedZone("", sign*(zh*3600+zm*60))
	default:
		return Date{}, "has a time but no time zone; add Z or ±hh:mm"
	}
	if !s.done() {
		return Date{}, want
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nanos, loc)
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		// Ranges are kept in UTC; one that leaves the four-digit years
		// there could not be written back or compared with stored times.
		return Date{}, "is outside the years 0001 to 9999 once taken to UTC"
	}
	d.Start = t.UTC()
	d.End = t.Add(unit).UTC()
	return d, ""
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }

// scanner walks an ASCII grammar; peek returns 0 at the end.
type scanner struct {
	s string
	i int
}

func (s *scanner) done() bool { return s.i >= len(s.s) }

func (s *scanner) peek() byte {
	if s.done() {
		return 0
	}
	return s.s[s.i]
}

func (s *scanner) next() byte {
	c := s.peek()
	s.i++
	return c
}

func (s *scanner) eat(c byte) bool {
	if s.peek() == c && !s.done() {
		s.i++
		return true
	}
	return false
}

// digits reads exactly n decimal digits.
func (s *scanner) digits(n int) (int, bool) {
	if len(s.s)-s.i < n {
		return 0, false
	}
	v := 0
	for k := range n {
		c := s.s[s.i+k]
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	s.i += n
	return v, true
}
