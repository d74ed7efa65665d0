package matching

import (
	"slices"
	"testing"
)

func TestFoldAndKeys(t *testing.T) {
	for _, tc := range []struct{ in, fold, phon string }{
		{"García", "garcia", "G620"},
		{"Garsia", "garsia", "G620"},
		{"José", "jose", "J200"},
		{"Jonh", "jonh", "J500"},
		{"John", "john", "J500"},
		{"Ashcraft", "ashcraft", "A261"},
		{"Tymczak", "tymczak", "T522"},
		{"Pfister", "pfister", "P236"},
		{"Ørsted", "orsted", "O623"},
		{"李", "李", ""},
		{"", "", ""},
	} {
		if got := Fold(tc.in); got != tc.fold {
			t.Errorf("Fold(%q) = %q, want %q", tc.in, got, tc.fold)
		}
		if got := Phonetic(tc.in); got != tc.phon {
			t.Errorf("Phonetic(%q) = %q, want %q", tc.in, got, tc.phon)
		}
	}
	for in, want := range map[string]string{
		"+1 (555) 012-3456": "550123456", "555-012-3456": "550123456", "0015550123456": "550123456",
		"12345": "", "": "", "call me": "",
	} {
		if got := PhoneKey(in); got != want {
			t.Errorf("PhoneKey(%q) = %q, want %q", in, got, want)
		}
	}
	if got := BirthVariants("1980-02-03"); !slices.Equal(got, []string{"1980-02-03", "1980-03-02", "1979-02-03", "1981-02-03"}) {
		t.Errorf("BirthVariants = %v", got)
	}
	if got := BirthVariants("1980-02-20"); !slices.Equal(got, []string{"1980-02-20", "1979-02-20", "1981-02-20"}) {
		t.Errorf("BirthVariants (day > 12) = %v", got)
	}
	if got := BirthVariants("2000-02-29"); !slices.Equal(got, []string{"2000-02-29"}) {
		t.Errorf("BirthVariants (29 Feb) = %v", got)
	}
	if got := BirthVariants("1980"); got != nil {
		t.Errorf("BirthVariants (partial) = %v", got)
	}
}

func TestJaroWinkler(t *testing.T) {
	for _, tc := range []struct {
		a, b   string
		lo, hi float64
	}{
		{"martha", "marhta", 0.96, 0.962},
		{"dwayne", "duane", 0.84, 0.841},
		{"dixon", "dicksonx", 0.813, 0.814},
		{"john", "john", 1, 1},
		{"", "john", 0, 0},
		{"abc", "xyz", 0, 0},
	} {
		if got := JaroWinkler(tc.a, tc.b); got < tc.lo || got > tc.hi {
			t.Errorf("JaroWinkler(%q, %q) = %v, want in [%v, %v]", tc.a, tc.b, got, tc.lo, tc.hi)
		}
	}
}

var stored = Record{
	Family: "García", Given: []string{"José"}, BirthDate: "1980-02-03", Gender: "male",
	Identifiers: []Identifier{{System: "urn:mrn", Value: "MRN-1"}},
	Emails:      []string{"jose@example.org"}, Phones: []string{"+1 555 012 3456"},
}

func TestScore(t *testing.T) {
	for _, tc := range []struct {
		name  string
		q     Record
		grade Grade
		min   float64
		max   float64
	}{
		{"accents and case", Record{Family: "GARCIA", Given: []string{"jose"}, BirthDate: "1980-02-03", Emails: []string{"JOSE@example.org"}}, Certain, 0.95, 1},
		{"name and birth date only", Record{Family: "Garcia", Given: []string{"Jose"}, BirthDate: "1980-02-03"}, Probable, 0.78, 0.8},
		{"name, birth date, gender", Record{Family: "Garcia", Given: []string{"Jose"}, BirthDate: "1980-02-03", Gender: "male"}, Probable, 0.85, 0.86},
		{"typo in given name", Record{Family: "Garcia", Given: []string{"Jsoe"}, BirthDate: "1980-02-03", Phones: []string{"555-012-3456"}, Gender: "male"}, Certain, 0.95, 1},
		{"transposed birth date", Record{Family: "Garcia", Given: []string{"Jose"}, BirthDate: "1980-03-02", Gender: "male"}, Probable, 0.78, 0.8},
		{"year off by one", Record{Family: "Garcia", Given: []string{"Jose"}, BirthDate: "1981-02-03"}, Possible, 0.55, 0.75},
		{"identifier alone", Record{Identifiers: []Identifier{{System: "urn:mrn", Value: "MRN-1"}}}, Certain, 0.95, 1},
		{"identifier, other person's name", Record{Family: "Smith", Given: []string{"Anna"}, Identifiers: []Identifier{{System: "urn:mrn", Value: "MRN-1"}}}, CertainlyNot, 0, 0.55},
		{"identifier conflict", Record{Family: "Garcia", Given: []string{"Jose"}, BirthDate: "1980-02-03", Gender: "male", Identifiers: []Identifier{{System: "urn:mrn", Value: "MRN-2"}}}, Possible, 0.55, 0.65},
		{"identifier conflict, full demographics", Record{Family: "Garcia", Given: []string{"Jose"}, BirthDate: "1980-02-03", Gender: "male", Emails: []string{"jose@example.org"}, Identifiers: []Identifier{{System: "urn:mrn", Value: "MRN-2"}}}, Possible, 0.6, 0.7},
		{"identifier conflict, other birth date", Record{Family: "Garcia", Given: []string{"Jose"}, BirthDate: "1990-07-08", Identifiers: []Identifier{{System: "urn:mrn", Value: "MRN-2"}}}, CertainlyNot, 0, 0.55},
		{"swapped names", Record{Family: "Jose", Given: []string{"Garcia"}, BirthDate: "1980-02-03", Gender: "male"}, Probable, 0.8, 0.85},
		{"name only", Record{Family: "Garcia", Given: []string{"Jose"}}, CertainlyNot, 0.4, 0.45},
		{"someone else", Record{Family: "Okafor", Given: []string{"Ngozi"}, BirthDate: "1955-11-30", Gender: "female"}, CertainlyNot, 0, 0.1},
		{"nothing in common to compare", Record{}, CertainlyNot, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Score(tc.q, stored)
			if r.Grade != tc.grade || r.Score < tc.min || r.Score > tc.max {
				t.Errorf("score %v grade %s (fields %v), want %s in [%v, %v]", r.Score, r.Grade, r.Fields, tc.grade, tc.min, tc.max)
			}
		})
	}
}

func TestScoreNames(t *testing.T) {
	c := Record{Family: "García", Given: []string{"José"}}
	for _, tc := range []struct {
		q   Record
		min float64
	}{
		{Record{Family: "Garcia", Given: []string{"Jose"}}, 1},
		{Record{Family: "garcía", Given: []string{"JOSÉ"}}, 1},
		{Record{Family: "Garcia", Given: []string{"J."}}, 0.9},
		{Record{Family: "Garcia-Lopez", Given: []string{"Jose"}}, 0.9},
		{Record{Family: "Garcai", Given: []string{"Jose"}}, 0.95},
	} {
		s, ok := nameSimilarity(tc.q, c)
		if !ok || s < tc.min {
			t.Errorf("%+v: name similarity %v, want ≥ %v", tc.q, s, tc.min)
		}
	}
	if s, _ := nameSimilarity(Record{Family: "Jonh"}, Record{Family: "John"}); s < 0.9 {
		t.Errorf("Jonh/John: %v", s)
	}
	if s, _ := nameSimilarity(Record{Family: "Smith"}, Record{Family: "Garcia"}); s != 0 {
		t.Errorf("Smith/Garcia: %v, want 0", s)
	}
}

func TestKeysFor(t *testing.T) {
	k := KeysFor(Record{Family: "García", Given: []string{"José Maria"}, BirthDate: "1980-02-03",
		Identifiers: []Identifier{{System: "urn:mrn", Value: " MRN-1 "}, {Value: "no-system"}},
		Emails:      []string{" Jose@Example.org", "jose@example.org"}, Phones: []string{"+1 555 012 3456", "12"}})
	if !slices.Equal(k.Identifiers, []Identifier{{System: "urn:mrn", Value: "MRN-1"}}) {
		t.Errorf("identifiers %v", k.Identifiers)
	}
	if !slices.Equal(k.Emails, []string{"jose@example.org"}) || !slices.Equal(k.Phones, []string{"550123456"}) {
		t.Errorf("telecom %v %v", k.Emails, k.Phones)
	}
	if !slices.Equal(k.Names, []NameKey{{"G620", "J200"}, {"J200", "G620"}}) {
		t.Errorf("names %v", k.Names)
	}
	if len(k.BirthDates) != 4 {
		t.Errorf("birth dates %v", k.BirthDates)
	}
	if !KeysFor(Record{Gender: "male"}).Empty() {
		t.Error("a gender alone has keys")
	}
}

// FuzzScore: any demographics score in 0..1 without panicking, and keys
// are computed for them.
func FuzzScore(f *testing.F) {
	f.Add("García", "José", "1980-02-03", "555 012 3456", "Garcia", "Jose", "1980-03-02", "5550123456")
	f.Add("", "", "", "", "李", "ż", "2024", "+")
	f.Fuzz(func(t *testing.T, f1, g1, b1, p1, f2, g2, b2, p2 string) {
		q := Record{Family: f1, Given: []string{g1}, BirthDate: b1, Phones: []string{p1}, Emails: []string{g1}}
		c := Record{Family: f2, Given: []string{g2}, BirthDate: b2, Phones: []string{p2}, Emails: []string{g2}}
		r := Score(q, c)
		if r.Score < 0 || r.Score > 1 {
			t.Fatalf("score %v", r.Score)
		}
		KeysFor(q)
	})
}

func TestScoreSelf(t *testing.T) {
	if r := Score(stored, stored); r.Grade != Certain || r.Score != 1 {
		t.Errorf("a record against itself: %+v", r)
	}
}
