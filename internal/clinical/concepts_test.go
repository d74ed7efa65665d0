package clinical

import "testing"

// TestConceptCatalog: the displays seed 001's P3P rule names are known,
// each concept is found by display and by code, and codes are unique.
func TestConceptCatalog(t *testing.T) {
	for _, d := range []string{"treatment begun", "PCa localized diagnosis", "biopsy", "PCa diagnosis"} {
		c, ok := ConceptByDisplay(d)
		if !ok || c.System != TrueNTHClinicalSystem {
			t.Fatalf("%q: %+v %t", d, c, ok)
		}
		if back, ok := ConceptByCode(c.System, c.Code); !ok || back != c {
			t.Fatalf("code %s finds %+v %t", c.Code, back, ok)
		}
	}
	if _, ok := ConceptByDisplay("Treatment Begun"); ok {
		t.Fatal("displays match exactly, as the reference compares them")
	}
	if _, ok := ConceptByCode("http://snomed.info/sct", ConceptBiopsy.Code); ok {
		t.Fatal("a code from another system matched")
	}
	seen := map[string]bool{}
	for _, c := range ClinicalConcepts() {
		if seen[c.Code] {
			t.Fatalf("code %s twice", c.Code)
		}
		seen[c.Code] = true
	}
}
