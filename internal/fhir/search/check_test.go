package search

import (
	"reflect"
	"testing"
)

// checkRoundTrip asserts that the canonical form of q parses back to q, and
// that it is a fixed point.
func checkRoundTrip(t *testing.T, q Query) {
	t.Helper()
	v := q.Values()
	back, err := Parse(q.ResourceType, v)
	if err != nil {
		t.Fatalf("Parse(Values()=%q) of %+v: %v", v.Encode(), q, err)
	}
	if !reflect.DeepEqual(back, q) {
		t.Fatalf("Parse(Values()=%q)\n got %+v\nwant %+v", v.Encode(), back, q)
	}
	if again := back.Values().Encode(); again != v.Encode() {
		t.Fatalf("canonical form not stable: %q then %q", v.Encode(), again)
	}
}

// checkQuery asserts what every accepted Query promises its store: each
// clause is a known parameter with values of its own kind only, in bounds,
// and dates are non-empty ranges.
func checkQuery(t *testing.T, q Query) {
	t.Helper()
	if q.Count < 0 || q.Count > MaxCount {
		t.Fatalf("Count %d", q.Count)
	}
	if len(q.Cursor) > MaxCursorLen {
		t.Fatalf("Cursor of %d bytes", len(q.Cursor))
	}
	if len(q.Clauses) > MaxParams {
		t.Fatalf("%d clauses", len(q.Clauses))
	}
	for i, c := range q.Clauses {
		if i > 0 && q.Clauses[i-1].Param > c.Param {
			t.Fatalf("clauses not sorted: %q before %q", q.Clauses[i-1].Param, c.Param)
		}
		def, ok := lookup(q.ResourceType, c.Param)
		if !ok || def.Kind != c.Kind {
			t.Fatalf("clause %+v: not a %s parameter of %s", c, c.Kind, q.ResourceType)
		}
		if c.Modifier != ModifierNone && c.Kind != KindString {
			t.Fatalf("clause %+v: modifier on a %s", c, c.Kind)
		}
		lens := map[Kind]int{KindString: len(c.Strings), KindToken: len(c.Tokens), KindReference: len(c.References), KindDate: len(c.Dates)}
		for k, n := range lens {
			if k == c.Kind && (n == 0 || n > MaxOrValues) {
				t.Fatalf("clause %+v: %d values", c, n)
			}
			if k != c.Kind && n != 0 {
				t.Fatalf("clause %+v: %s values in a %s clause", c, k, c.Kind)
			}
		}
		for _, s := range c.Strings {
			if s == "" {
				t.Fatalf("clause %+v: empty string", c)
			}
		}
		for _, tk := range c.Tokens {
			switch tk.Match {
			case TokenCode, TokenNoSystem:
				if tk.Code == "" || tk.System != "" {
					t.Fatalf("token %+v", tk)
				}
			case TokenSystemAndCode:
				if tk.Code == "" || tk.System == "" {
					t.Fatalf("token %+v", tk)
				}
			case TokenSystemOnly:
				if tk.Code != "" || tk.System == "" {
					t.Fatalf("token %+v", tk)
				}
			default:
				t.Fatalf("token %+v", tk)
			}
			if c.Param == "_id" && (tk.Match != TokenCode || !validID(tk.Code)) {
				t.Fatalf("_id token %+v", tk)
			}
		}
		for _, r := range c.References {
			if !validID(r.ID) || r.Type == "" {
				t.Fatalf("reference %+v", r)
			}
		}
		for _, d := range c.Dates {
			if !d.Start.Before(d.End) || d.Precision < PrecisionYear || d.Precision > PrecisionFraction {
				t.Fatalf("date %+v", d)
			}
			if _, ok := prefixes[string(d.Prefix)]; !ok {
				t.Fatalf("date prefix %q", d.Prefix)
			}
			if d.Start.Location().String() != "UTC" {
				t.Fatalf("date %+v not in UTC", d)
			}
		}
	}
	for _, k := range q.Sort {
		if k.Param != "_id" && k.Param != "_lastUpdated" {
			t.Fatalf("sort %+v", k)
		}
	}
}
