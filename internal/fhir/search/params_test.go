package search

import (
	"encoding/json"
	"slices"
	"testing"

	"ward/internal/fhir/r4spec"
)

// r4Params loads the R4 search parameter definitions the repository carries
// (internal/fhir/r4spec) into base type -> code -> definition.
func r4Params(t *testing.T) map[string]map[string]r4Param {
	t.Helper()
	zr, err := r4spec.Open(r4spec.SearchParametersFile)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var bundle struct {
		Entry []struct {
			Resource struct {
				Code       string   `json:"code"`
				Type       string   `json:"type"`
				Base       []string `json:"base"`
				Target     []string `json:"target"`
				Comparator []string `json:"comparator"`
				Modifier   []string `json:"modifier"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.NewDecoder(zr).Decode(&bundle); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]r4Param{}
	for _, e := range bundle.Entry {
		r := e.Resource
		for _, b := range r.Base {
			if out[b] == nil {
				out[b] = map[string]r4Param{}
			}
			out[b][r.Code] = r4Param{Type: r.Type, Target: r.Target, Comparator: r.Comparator}
		}
	}
	if len(out) == 0 {
		t.Fatal("no search parameters in the bundle")
	}
	return out
}

type r4Param struct {
	Type       string
	Target     []string
	Comparator []string
}

// TestTableMatchesR4Definitions holds the hand-written table to the official
// definitions: same kind, reference targets a subset of R4's, date prefixes
// all allowed by R4; only parameters marked Ward may be missing from R4.
func TestTableMatchesR4Definitions(t *testing.T) {
	r4 := r4Params(t)
	check := func(base string, p Param) {
		def, ok := r4[base][p.Code]
		if p.Ward {
			if ok {
				t.Errorf("%s %s is marked as ward's own but R4 defines it (%s)", base, p.Code, def.Type)
			}
			return
		}
		if !ok {
			t.Errorf("%s %s is not an R4 search parameter; mark it Ward or remove it", base, p.Code)
			return
		}
		if def.Type != p.Kind.String() {
			t.Errorf("%s %s: table says %s, R4 says %s", base, p.Code, p.Kind, def.Type)
		}
		if (p.Kind == KindReference) != (len(p.Targets) > 0) {
			t.Errorf("%s %s: targets %v on a %s", base, p.Code, p.Targets, p.Kind)
		}
		for _, tg := range p.Targets {
			if !slices.Contains(def.Target, tg) {
				t.Errorf("%s %s: target %s is not among R4's %v", base, p.Code, tg, def.Target)
			}
		}
		if p.Kind == KindDate {
			for pre := range prefixes {
				if !slices.Contains(def.Comparator, pre) {
					t.Errorf("%s %s: prefix %s is not allowed by R4 (%v)", base, p.Code, pre, def.Comparator)
				}
			}
		}
	}
	for _, p := range commonParams {
		check("Resource", p)
	}
	for typ, ps := range typeParams {
		seen := map[string]bool{}
		for _, p := range ps {
			if seen[p.Code] || slices.ContainsFunc(commonParams, func(c Param) bool { return c.Code == p.Code }) {
				t.Errorf("%s %s listed twice", typ, p.Code)
			}
			seen[p.Code] = true
			check(typ, p)
		}
	}
}

// TestRequiredParams pins the parameter set the FHIR API issue asks for, so
// that a trimmed table is noticed; the negative half shows that R4
// parameters ward does not serve are refused, not silently ignored.
func TestRequiredParams(t *testing.T) {
	want := map[string][]string{
		"Patient":           {"identifier", "name", "birthdate", "organization", "gender"},
		"Organization":      {"identifier", "name", "partof"},
		"Observation":       {"patient", "subject", "code", "date"},
		"Procedure":         {"patient", "subject", "code", "date"},
		"Group":             {"type", "name"},
		"Practitioner":      {"identifier", "name"},
		"Consent":           {"patient"},
		"DocumentReference": {"patient", "subject", "type", "date"},
		"AuditEvent":        {"patient", "date", "subtype"},
		"Task":              {"patient", "status", "business-status"},
	}
	for typ, codes := range want {
		for _, c := range append([]string{"_id", "_lastUpdated"}, codes...) {
			if _, ok := lookup(typ, c); !ok {
				t.Errorf("%s lacks %s", typ, c)
			}
		}
		if got := len(Params(typ)); got != len(codes)+len(commonParams) {
			t.Errorf("%s has %d parameters, want %d", typ, got, len(codes)+len(commonParams))
		}
	}
	if got := ResourceTypes(); len(got) != len(want) {
		t.Errorf("ResourceTypes() = %v", got)
	}
	for typ, code := range map[string]string{"Patient": "address", "Observation": "status", "Organization": "type", "Consent": "status"} {
		if _, ok := lookup(typ, code); ok {
			t.Errorf("%s %s should not be supported yet", typ, code)
		}
	}
	if Params("Encounter") != nil {
		t.Error("Params(Encounter) should be nil")
	}
	// Params hands out copies: a caller cannot change the table.
	ps := Params("Patient")
	for i := range ps {
		if ps[i].Kind == KindReference {
			ps[i].Targets[0] = "Group"
		}
	}
	if p, _ := lookup("Patient", "organization"); p.Targets[0] != "Organization" {
		t.Error("Params shares its Targets with the table")
	}
}
