package matching

import (
	"math"
	"strings"
	"time"
)

// Grade is the match-grade code (http://hl7.org/fhir/StructureDefinition/
// match-grade, value set http://hl7.org/fhir/ValueSet/match-grade).
type Grade string

// The four grades of the R4 match-grade code system.
const (
	Certain      Grade = "certain"
	Probable     Grade = "probable"
	Possible     Grade = "possible"
	CertainlyNot Grade = "certainly-not"
)

// Thresholds on the score. Below PossibleAt a candidate is certainly-not
// and is not returned (the code system: "usually non-matching records are
// not returned").
const (
	CertainAt  = 0.95
	ProbableAt = 0.75
	PossibleAt = 0.55
)

// Weights of each field; they sum to 1. A field counts only when both the
// query and the candidate have it (see Score for the evidence floor).
const (
	WeightName       = 0.30
	WeightBirthDate  = 0.25
	WeightIdentifier = 0.20
	WeightTelecom    = 0.12
	WeightAddress    = 0.08
	WeightGender     = 0.05
)

// evidenceFloor is the least total weight a score is divided by: agreement
// on a name alone (0.30), or a name and a birth date (0.55), is not full
// evidence, so it cannot reach the grades that need more.
const evidenceFloor = 0.70

// identifierConflictFactor scales the score of a candidate holding a
// different identifier in a system the query also names: strong evidence
// of two people (an MRN is given once).
const identifierConflictFactor = 0.8

// nameFloor is the Jaro-Winkler similarity under which two names count as
// different: unrelated names of similar length often reach 0.6-0.7.
const nameFloor = 0.80

// Identifier is an identifier as matching compares it: exact system and
// value (value trimmed). System may be empty in a query.
type Identifier struct {
	System string
	Value  string
}

// Address is what matching reads of an address.
type Address struct {
	PostalCode string
	City       string
}

// Record is a person's demographics, on either side of a match.
type Record struct {
	Family      string
	Given       []string
	BirthDate   string // YYYY, YYYY-MM or YYYY-MM-DD
	Gender      string // FHIR administrative gender; "unknown" counts as absent
	Identifiers []Identifier
	Emails      []string
	Phones      []string
	Addresses   []Address
}

// Result is a candidate's score in 0..1 and grade, with the part each
// field contributed (for docs and tests; -1 when the field was not
// compared).
type Result struct {
	Score float64
	Grade Grade
	// Fields is each compared field's similarity in 0..1, by name (name,
	// birthDate, identifier, telecom, address, gender).
	Fields map[string]float64
	// IdentifierMatch says a (system, value) pair agreed; IdentifierConflict
	// that the two hold different values in a shared system.
	IdentifierMatch, IdentifierConflict bool
}

// Score compares a candidate with the query. Each field present on both
// sides gives a similarity s in 0..1; the score is Σ w·s / max(Σ w,
// evidenceFloor) over those fields, so it is in 0..1, a mismatch on a
// compared field lowers it, and thin evidence cannot score high. Then:
// an identifier conflict scales it down (identifierConflictFactor); an
// identifier agreement not contradicted by the name or birth date lifts it
// to at least CertainAt. The grade follows from the score and the kind of
// evidence (see grade).
func Score(q, c Record) Result {
	res := Result{Fields: map[string]float64{}}
	var sum, weight float64
	add := func(name string, w, s float64) {
		res.Fields[name] = s
		sum += w * s
		weight += w
	}
	if s, ok := nameSimilarity(q, c); ok {
		add("name", WeightName, s)
	}
	if s, ok := birthSimilarity(q.BirthDate, c.BirthDate); ok {
		add("birthDate", WeightBirthDate, s)
	}
	if s, ok, conflict := identifierSimilarity(q.Identifiers, c.Identifiers); ok {
		add("identifier", WeightIdentifier, s)
		res.IdentifierMatch = s == 1
		res.IdentifierConflict = conflict
	}
	if s, ok := telecomSimilarity(q, c); ok {
		add("telecom", WeightTelecom, s)
	}
	if s, ok := addressSimilarity(q.Addresses, c.Addresses); ok {
		add("address", WeightAddress, s)
	}
	if s, ok := genderSimilarity(q.Gender, c.Gender); ok {
		add("gender", WeightGender, s)
	}
	if weight == 0 {
		res.Grade = CertainlyNot
		return res
	}
	score := sum / math.Max(weight, evidenceFloor)
	if res.IdentifierConflict {
		score *= identifierConflictFactor
	}
	if res.IdentifierMatch && !res.IdentifierConflict && !contradicted(res.Fields) {
		score = math.Max(score, CertainAt)
	}
	res.Score = math.Round(math.Min(score, 1)*10000) / 10000
	res.Grade = grade(res)
	return res
}

// contradicted reports whether the name or the birth date, when compared,
// disagree outright: then an identifier match is more likely a data-entry
// error (someone else's number typed in) than the same person.
func contradicted(f map[string]float64) bool {
	if s, ok := f["name"]; ok && s < 0.5 {
		return true
	}
	if s, ok := f["birthDate"]; ok && s == 0 {
		return true
	}
	return false
}

// grade maps a scored candidate to its match grade. certain needs the
// score and decisive evidence: an identifier agreement, or a name, an
// exact birth date and one more independent field (telecom, address or an
// identifier) agreeing; a candidate with a conflicting identifier is at
// most possible.
func grade(r Result) Grade {
	switch {
	case r.Score < PossibleAt:
		return CertainlyNot
	case r.IdentifierConflict:
		return Possible
	case r.Score >= CertainAt && decisive(r):
		return Certain
	case r.Score >= ProbableAt:
		return Probable
	}
	return Possible
}

func decisive(r Result) bool {
	if r.IdentifierMatch {
		return true
	}
	f := r.Fields
	return f["name"] >= 0.9 && f["birthDate"] == 1 && (f["telecom"] == 1 || f["address"] >= 0.6)
}

// nameSimilarity compares family and given names, and the same swapped
// (a form that put the family name first), keeping the better.
func nameSimilarity(q, c Record) (float64, bool) {
	qf, cf := compact(q.Family), compact(c.Family)
	qg, cg := givenParts(q.Given), givenParts(c.Given)
	direct, ok := nameParts(qf, qg, cf, cg)
	if !ok {
		return 0, false
	}
	if len(qg) > 0 && len(cg) > 0 && qf != "" && cf != "" {
		if swapped, ok := nameParts(qg[0], []string{qf}, cf, cg); ok {
			direct = math.Max(direct, 0.9*swapped)
		}
	}
	return direct, true
}

// nameParts scores family (weight 0.55) and given (0.45) names, each part
// counted only when both sides have it.
func nameParts(qf string, qg []string, cf string, cg []string) (float64, bool) {
	var sum, w float64
	if qf != "" && cf != "" {
		sum += 0.55 * nameSim(qf, cf)
		w += 0.55
	}
	if len(qg) > 0 && len(cg) > 0 {
		sum += 0.45 * givenSim(qg, cg)
		w += 0.45
	}
	if w == 0 {
		return 0, false
	}
	return sum / w, true
}

// givenParts splits given names into compact words ("Mary-Anne" stays one
// word, "Mary Anne" is two).
func givenParts(given []string) []string {
	var out []string
	for _, g := range given {
		for _, w := range strings.Fields(g) {
			if k := compact(w); k != "" {
				out = append(out, k)
			}
		}
	}
	return out
}

// givenSim compares the first given name of each side with every given
// name of the other (a middle name used as the first is common), and an
// initial with a name it starts ("J" and "john": 0.8).
func givenSim(q, c []string) float64 {
	best := 0.0
	for i, a := range q {
		for j, b := range c {
			if i > 0 && j > 0 {
				continue
			}
			s := nameSim(a, b)
			if i > 0 || j > 0 {
				s *= 0.9
			}
			best = math.Max(best, s)
		}
	}
	return best
}

func nameSim(a, b string) float64 {
	if a == b {
		return 1
	}
	if (len([]rune(a)) == 1 && strings.HasPrefix(b, a)) || (len([]rune(b)) == 1 && strings.HasPrefix(a, b)) {
		return 0.8
	}
	// A compound name written in full on one side and in part on the
	// other ("garcialopez" and "garcia") agrees for its part.
	if len(a) >= 4 && len(b) >= 4 && (strings.HasPrefix(a, b) || strings.HasPrefix(b, a)) {
		return 0.9
	}
	s := JaroWinkler(a, b)
	if s < nameFloor {
		return 0
	}
	return s
}

// birthSimilarity: exact 1; day and month transposed 0.8; a year off by
// one (same day and month) 0.75; same year and month 0.4; same year 0.1;
// else 0. A partial date (YYYY or YYYY-MM) on either side compares at that
// precision: agreeing, 0.7 (less evidence than a full date).
func birthSimilarity(a, b string) (float64, bool) {
	if a == "" || b == "" {
		return 0, false
	}
	ta, errA := time.Parse(time.DateOnly, a)
	tb, errB := time.Parse(time.DateOnly, b)
	if errA != nil || errB != nil {
		n := min(len(a), len(b))
		if n < 4 {
			return 0, false
		}
		if a[:n] == b[:n] {
			return 0.7, true
		}
		return 0, true
	}
	switch {
	case ta.Equal(tb):
		return 1, true
	case ta.Year() == tb.Year() && ta.Day() == int(tb.Month()) && int(ta.Month()) == tb.Day():
		return 0.8, true
	case ta.Month() == tb.Month() && ta.Day() == tb.Day() && (ta.Year()-tb.Year() == 1 || tb.Year()-ta.Year() == 1):
		return 0.75, true
	case ta.Year() == tb.Year() && ta.Month() == tb.Month():
		return 0.4, true
	case ta.Year() == tb.Year():
		return 0.1, true
	}
	return 0, true
}

// identifierSimilarity: 1 when a (system, value) pair agrees (or, for a
// query identifier without a system, a value); 0 with conflict when the
// two share a system and no value in it; not compared otherwise (a
// candidate without the query's systems says nothing either way).
func identifierSimilarity(q, c []Identifier) (s float64, compared, conflict bool) {
	shared := false
	for _, a := range q {
		if a.Value == "" {
			continue
		}
		for _, b := range c {
			if a.System == "" {
				if a.Value == b.Value {
					return 1, true, false
				}
				continue
			}
			if a.System == b.System {
				if a.Value == b.Value {
					return 1, true, false
				}
				shared = true
			}
		}
	}
	if shared {
		return 0, true, true
	}
	return 0, false, false
}

// telecomSimilarity: 1 when an email or a phone agrees (EmailKey,
// PhoneKey), 0 when the two have emails or phones and none agree; not
// compared when they have no kind in common.
func telecomSimilarity(q, c Record) (float64, bool) {
	compared := false
	for _, a := range q.Emails {
		for _, b := range c.Emails {
			if ka, kb := EmailKey(a), EmailKey(b); ka != "" && kb != "" {
				compared = true
				if ka == kb {
					return 1, true
				}
			}
		}
	}
	for _, a := range q.Phones {
		for _, b := range c.Phones {
			if ka, kb := PhoneKey(a), PhoneKey(b); ka != "" && kb != "" {
				compared = true
				if ka == kb {
					return 1, true
				}
			}
		}
	}
	return 0, compared
}

// addressSimilarity: the best pair of addresses, a postal code agreeing
// 0.6 and a city 0.4 (Jaro-Winkler ≥ 0.9 on the folded name).
func addressSimilarity(q, c []Address) (float64, bool) {
	best, compared := 0.0, false
	for _, a := range q {
		for _, b := range c {
			s, w := 0.0, 0.0
			if pa, pb := postalKey(a.PostalCode), postalKey(b.PostalCode); pa != "" && pb != "" {
				w += 0.6
				if pa == pb {
					s += 0.6
				}
			}
			if ca, cb := compact(a.City), compact(b.City); ca != "" && cb != "" {
				w += 0.4
				if JaroWinkler(ca, cb) >= 0.9 {
					s += 0.4
				}
			}
			if w > 0 {
				compared = true
				best = math.Max(best, s)
			}
		}
	}
	return best, compared
}

// postalKey is a postal code upper-cased with spaces and dashes removed.
func postalKey(p string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(p) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func genderSimilarity(a, b string) (float64, bool) {
	if a == "" || b == "" || a == "unknown" || b == "unknown" {
		return 0, false
	}
	if a == b {
		return 1, true
	}
	return 0, true
}
