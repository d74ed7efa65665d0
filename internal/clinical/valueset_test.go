package clinical

import (
	"strconv"
	"testing"
)

// verhoeff reports whether s passes the Verhoeff check SNOMED CT
// identifiers carry in their last digit.
func verhoeff(s string) bool {
	d := [10][10]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5}, {2, 3, 4, 0, 1, 7, 8, 9, 5, 6},
		{3, 4, 0, 1, 2, 8, 9, 5, 6, 7}, {4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
		{6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3}, {8, 7, 6, 5, 9, 3, 2, 1, 0, 4},
		{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}}
	p := [8][10]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4}, {5, 8, 0, 3, 7, 9, 6, 1, 4, 2},
		{8, 9, 1, 6, 0, 4, 3, 5, 2, 7}, {9, 4, 5, 3, 1, 2, 6, 8, 7, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
		{2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8}}
	c := 0
	for i := range len(s) {
		n, err := strconv.Atoi(s[len(s)-1-i : len(s)-i])
		if err != nil {
			return false
		}
		c = d[c][p[i%8][n]]
	}
	return c == 0
}

// TestValueSets: every concept is a well-formed SNOMED CT identifier (6 to
// 18 digits, Verhoeff check digit; the reference's "26294005-nns" and
// "999999999" are not) with a display, and no concept is in both sets.
func TestValueSets(t *testing.T) {
	if !verhoeff("26294005") || verhoeff("26294006") || verhoeff("999999999") {
		t.Fatal("the check itself is wrong")
	}
	for _, vs := range ValueSets {
		if len(vs.Concepts) == 0 || vs.URL == "" || ValueSets[vs.ID] != vs {
			t.Errorf("value set %+v", vs)
		}
		for _, c := range vs.Concepts {
			if c.System != SNOMEDSystem || c.Display == "" || len(c.Code) < 6 || len(c.Code) > 18 || !verhoeff(c.Code) {
				t.Errorf("%s: %+v is not a SNOMED CT concept with a display", vs.ID, c)
			}
			if vs != TxStarted && TxStarted.Contains(c) {
				t.Errorf("%s is also treatment-started", c.Code)
			}
		}
	}
	if !TxStarted.Contains(Coding{System: SNOMEDSystem, Code: "26294005"}) || TxStarted.Contains(Coding{Code: "26294005"}) {
		t.Error("Contains compares system and code")
	}
}
