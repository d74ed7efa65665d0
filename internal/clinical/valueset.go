package clinical

import "slices"

// ValueSet is a named, fixed list of SNOMED CT concepts that decisions
// read and the API serves as a FHIR R4 ValueSet. It is defined once, here:
// the tx_begun access rule (through the intervention store's facts loader)
// and GET /api/procedure/valueset/{id} read the same list.
type ValueSet struct {
	// ID is the last segment of its path (tx-started).
	ID string
	// URL is its canonical identifier.
	URL   string
	Name  string
	Title string
	// Description says what a procedure in it means.
	Description string
	// Concepts are SNOMED CT procedures or regimes, each with its display.
	Concepts []Coding
}

// Contains reports whether c is one of the set's concepts (by system and
// code; the display is not compared).
func (v *ValueSet) Contains(c Coding) bool {
	return slices.ContainsFunc(v.Concepts, func(x Coding) bool { return x.System == c.System && x.Code == c.Code })
}

// Codes returns the set's codes (every concept is SNOMED CT).
func (v *ValueSet) Codes() []string {
	out := make([]string, len(v.Concepts))
	for i, c := range v.Concepts {
		out[i] = c.Code
	}
	return out
}

func snomed(code, display string) Coding {
	return Coding{System: SNOMEDSystem, Code: code, Display: display}
}

// TxStarted is the treatment-started value set of seed 001's reference
// (its TxStartedConstants): a Procedure coded with one of these means the
// patient's prostate cancer treatment has begun, which is what the
// tx_begun access rule asks. Only real SNOMED CT concepts are listed: the
// reference also counted "26294005-nns" (non-nerve-sparing prostatectomy)
// and "999999999" (other primary treatment), which are not SNOMED CT codes,
// and two ablation codes ward could not verify; a radical prostatectomy of
// either kind is 26294005.
var TxStarted = &ValueSet{
	ID: "tx-started", URL: "http://us.truenth.org/fhir/ValueSet/tx-started", Name: "TxStarted",
	Title:       "Procedures that start treatment",
	Description: "A Procedure coded with one of these concepts means the patient's treatment has begun (the tx_begun access rule).",
	Concepts: []Coding{
		snomed("26294005", "Radical prostatectomy"),
		snomed("33195004", "External beam radiation therapy"),
		snomed("228748004", "Brachytherapy"),
		snomed("707266006", "Androgen deprivation therapy"),
		snomed("118877007", "Procedure on prostate"),
	},
}

// TxNotStarted is the reference's treatment-not-started value set
// (TxNotStartedConstants): a choice not to treat yet. A Procedure coded
// with one of these never makes tx_begun true. The reference's "None of
// the above" (999999999, not a SNOMED CT code) is left out.
var TxNotStarted = &ValueSet{
	ID: "tx-not-started", URL: "http://us.truenth.org/fhir/ValueSet/tx-not-started", Name: "TxNotStarted",
	Title:       "Choices that do not start treatment",
	Description: "A Procedure coded with one of these concepts records a decision not to start treatment yet.",
	Concepts: []Coding{
		snomed("373818007", "No anti-cancer treatment - watchful waiting"),
		snomed("424313000", "Active surveillance"),
	},
}

// ValueSets are the value sets ward serves, by ID.
var ValueSets = map[string]*ValueSet{TxStarted.ID: TxStarted, TxNotStarted.ID: TxNotStarted}
