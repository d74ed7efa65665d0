package timerange

import (
	"testing"
	"time"
)

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestPrefixesOnDays checks every prefix against R4's worked meaning, with
// the search value "2024-03" (all of March) and stored whole days.
func TestPrefixesOnDays(t *testing.T) {
	march := Bound{Start: day("2024-03-01"), End: day("2024-04-01")}
	// "ap" widens by a tenth of the distance to now: 2 days here.
	now := day("2024-03-20")
	cases := []struct {
		prefix Prefix
		stored string
		want   bool
	}{
		{Eq, "2024-03-15", true}, {Eq, "2024-02-29", false}, {Eq, "2024-04-01", false},
		{Ne, "2024-03-15", false}, {Ne, "2024-04-01", true},
		{Gt, "2024-04-01", true}, {Gt, "2024-03-31", false},
		{Lt, "2024-02-29", true}, {Lt, "2024-03-01", false},
		{Ge, "2024-03-01", true}, {Ge, "2024-05-01", true}, {Ge, "2024-02-29", false},
		{Le, "2024-03-31", true}, {Le, "2023-01-01", true}, {Le, "2024-04-01", false},
		{Sa, "2024-04-01", true}, {Sa, "2024-03-31", false},
		{Eb, "2024-02-29", true}, {Eb, "2024-03-01", false},
		{Ap, "2024-03-15", true}, {Ap, "2024-05-20", false}, {Ap, "2024-01-01", false},
	}
	for _, c := range cases {
		b := march
		b.Prefix = c.prefix
		lo, hi := Day(day(c.stored))
		if got := b.Matches(lo, hi, now); got != c.want {
			t.Errorf("%s2024-03 vs %s: got %v, want %v", c.prefix, c.stored, got, c.want)
		}
	}
}

// TestOpenEnds: a period still going on (no end) is after everything; one
// with no start is before everything.
func TestOpenEnds(t *testing.T) {
	b := Bound{Prefix: Gt, Start: day("2030-01-01"), End: day("2030-01-02")}
	if !b.Matches(day("2020-01-01"), time.Time{}, day("2026-01-01")) {
		t.Error("an open-ended period should be gt any date")
	}
	b.Prefix = Lt
	if !b.Matches(time.Time{}, day("2020-01-01"), day("2026-01-01")) {
		t.Error("a period without a start should be lt any date")
	}
	b.Prefix = Eq
	if b.Matches(day("2030-01-01"), time.Time{}, day("2026-01-01")) {
		t.Error("an open-ended period is not within one day")
	}
}

func TestInstantIsWithinItsSecond(t *testing.T) {
	at := time.Date(2024, 3, 1, 10, 0, 0, 500_000_000, time.UTC)
	b := Bound{Prefix: Eq, Start: at.Truncate(time.Second), End: at.Truncate(time.Second).Add(time.Second)}
	lo, hi := Instant(at)
	if !b.Matches(lo, hi, at) {
		t.Error("an instant should match the second it falls in")
	}
	lo, hi = Instant(at.Add(time.Second))
	if b.Matches(lo, hi, at) {
		t.Error("an instant a second later should not match")
	}
}
