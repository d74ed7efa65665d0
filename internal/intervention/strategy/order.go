package strategy

import (
	"cmp"
	"slices"
	"strconv"
)

// Order sorts rules as the reference evaluates them: ranked rules first,
// by rank ascending, then the unranked in their given (creation) order.
// It refuses two rules with one rank (the rank is unique per intervention).
func Order(rules []*Rule) ([]*Rule, error) {
	out := slices.Clone(rules)
	slices.SortStableFunc(out, func(a, b *Rule) int {
		switch {
		case a.Rank != nil && b.Rank != nil:
			return cmp.Compare(*a.Rank, *b.Rank)
		case a.Rank != nil:
			return -1
		case b.Rank != nil:
			return 1
		}
		return 0
	})
	for i := 1; i < len(out); i++ {
		if out[i].Rank != nil && out[i-1].Rank != nil && *out[i].Rank == *out[i-1].Rank {
			return nil, &Error{Msg: "rank " + strconv.Itoa(*out[i].Rank) + " is taken by rule " + out[i-1].Name}
		}
	}
	return out, nil
}

// FirstGrant evaluates ordered rules until one grants (the reference's
// short-circuited or) and returns its index, or -1 when none grants.
func FirstGrant(ordered []*Rule, f *Facts, tr *Trace) int {
	for i, r := range ordered {
		if r.Eval(f, tr) {
			return i
		}
	}
	return -1
}
