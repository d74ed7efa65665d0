package clinical

// TrueNTHClinicalSystem is the code system of the clinical concepts seed
// 001's access rules test (the reference's TRUENTH_CLINICAL_CODE_SYSTEM):
// observation_check names a concept by its coding.display in this system.
const TrueNTHClinicalSystem = "http://us.truenth.org/clinical-codes"

// The clinical concepts ward knows in TrueNTHClinicalSystem. Seed 001 names
// the displays ("treatment begun" and "PCa localized diagnosis" in the P3P
// rule; biopsy and PCa diagnosis beside them in the reference's clinical
// constants) but gives no codes: the codes here are ward's own, fixed so
// that an Observation recorded through ward and a rule stored in ward agree.
// A system that sends these concepts must use them (docs/interventions.md).
var (
	ConceptBiopsy                = Coding{System: TrueNTHClinicalSystem, Code: "111", Display: "biopsy"}
	ConceptPCaDiagnosis          = Coding{System: TrueNTHClinicalSystem, Code: "121", Display: "PCa diagnosis"}
	ConceptPCaLocalizedDiagnosis = Coding{System: TrueNTHClinicalSystem, Code: "141", Display: "PCa localized diagnosis"}
	ConceptTreatmentBegun        = Coding{System: TrueNTHClinicalSystem, Code: "131", Display: "treatment begun"}
)

// ClinicalConcepts returns the catalog above, in code order; the slice is
// the caller's.
func ClinicalConcepts() []Coding {
	return []Coding{ConceptBiopsy, ConceptPCaDiagnosis, ConceptTreatmentBegun, ConceptPCaLocalizedDiagnosis}
}

// ConceptByDisplay returns the catalog's concept with that display (exact
// match, as the reference compares coding.display), and whether there is
// one. An access rule's observation_check may only name these.
func ConceptByDisplay(display string) (Coding, bool) {
	for _, c := range ClinicalConcepts() {
		if c.Display == display {
			return c, true
		}
	}
	return Coding{}, false
}

// ConceptByCode returns the catalog's concept with that code in
// TrueNTHClinicalSystem, and whether there is one: how an observation's
// coding is matched to the display a rule names.
func ConceptByCode(system, code string) (Coding, bool) {
	if system != TrueNTHClinicalSystem {
		return Coding{}, false
	}
	for _, c := range ClinicalConcepts() {
		if c.Code == code {
			return c, true
		}
	}
	return Coding{}, false
}
