package search

import (
	"net/url"
	"testing"
)

// TestValuesCanonical shows the canonical form next to what a client may
// write, and that a Query not from Parse still encodes as documented.
func TestValuesCanonical(t *testing.T) {
	tests := []struct{ typ, in, want string }{
		{"Patient", "birthdate=eq1970-01-01T10:00:00%2B02:00", "birthdate=1970-01-01T08%3A00%3A00Z"},
		{"Patient", "birthdate=ge1970-02,1971", "birthdate=ge1970-02%2C1971"},
		{"Observation", "date=2024-05-01T10:00:00.50Z", "date=2024-05-01T10%3A00%3A00.50Z"},
		{"Patient", `name=a\,b\$c\|d`, `name=a%5C%2Cb%24c%7Cd`},
		{"Patient", `identifier=s\$|a\|b`, `identifier=s%24%7Ca%5C%7Cb`},
		{"Patient", "identifier=|1&identifier=s|", "identifier=%7C1&identifier=s%7C"},
		{"Patient", "organization=1&_count=050&_sort=-_lastUpdated&_summary=count&_cursor=x&_format=json",
			"_count=50&_cursor=x&_sort=-_lastUpdated&_summary=count&organization=Organization%2F1"},
		{"Patient", "name:exact=Jo", "name%3Aexact=Jo"},
	}
	for _, tc := range tests {
		v, err := url.ParseQuery(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		q, err := Parse(tc.typ, v)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.in, err)
		}
		if got := q.Values().Encode(); got != tc.want {
			t.Errorf("Values(%q) = %q, want %q", tc.in, got, tc.want)
		}
		checkRoundTrip(t, q)
	}
	// A reference without a type (possible for a multi-target parameter)
	// is written as the bare id.
	q := Query{ResourceType: "Patient", Clauses: []Clause{{Param: "organization", Kind: KindReference, References: []Reference{{ID: "9"}}}}}
	if got := q.Values().Encode(); got != "organization=9" {
		t.Errorf("bare reference encodes as %q", got)
	}
}
