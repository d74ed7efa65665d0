package scope

import (
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that every scope it accepts has
// a canonical form that parses back to the same scope, and that the
// canonical form is stable and is what Describe and Covers agree on.
// Seed corpus: testdata/fuzz/FuzzParse plus the seeds added below.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"patient/Observation.rs", "user/*.cruds", "patient/Observation.read", "system/*.*",
		"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
		"user/Observation.s?code:text=blood+pressure&status=final",
		"system/*.$export", "system/Group.$export", "system/*.$bulkdata-status", "system/Document.read",
		"launch", "launch/patient", "openid", "fhirUser", "offline_access", "online_access",
		"patient/.rs", "patient/Obs.xyz", "patient/Observation.sr", "practitioner/Observation.rs", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := Parse(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("Parse(%q): empty error message", s)
			}
			return
		}
		if sc.Raw != s {
			t.Fatalf("Parse(%q).Raw = %q", s, sc.Raw)
		}
		canon := sc.String()
		if strings.ContainsAny(canon, " \"\\") {
			t.Fatalf("canonical form %q holds a character scopes may not", canon)
		}
		back, err := Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q) ok but Parse(String()=%q): %v", s, canon, err)
		}
		if !back.Equal(sc) {
			t.Fatalf("Parse(String()) = %+v, want %+v", back, sc)
		}
		if back.String() != canon {
			t.Fatalf("String not stable: %q then %q", canon, back.String())
		}
		if !Covers(sc, back) || !Covers(back, sc) {
			t.Fatalf("%q and its canonical form %q should cover each other", s, canon)
		}
		if Describe(sc) == "" {
			t.Fatalf("Describe(%q) is empty", s)
		}
		granted, rejected := Narrow([]Scope{sc}, []Scope{back})
		if len(rejected) != 0 || len(granted) != 1 || !granted[0].Equal(sc) {
			t.Fatalf("Narrow of %q against itself = %v, %v", s, granted, rejected)
		}
	})
}
