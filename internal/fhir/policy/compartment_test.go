package policy

import (
	"encoding/json"
	"testing"

	"ward/internal/fhir/r4spec"
)

// PatientCompartment agrees with HL7's Patient CompartmentDefinition for
// every type ward serves: a type is in it when the definition names a
// parameter linking it to a patient (or it is Patient itself).
func TestPatientCompartmentMatchesR4(t *testing.T) {
	r, err := r4spec.Open(r4spec.PatientCompartmentFile)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var def struct {
		Code     string `json:"code"`
		Resource []struct {
			Code  string   `json:"code"`
			Param []string `json:"param"`
		} `json:"resource"`
	}
	if err := json.NewDecoder(r).Decode(&def); err != nil {
		t.Fatal(err)
	}
	if def.Code != "Patient" {
		t.Fatalf("compartment %q, want Patient", def.Code)
	}
	inR4 := map[string]bool{"Patient": true}
	for _, res := range def.Resource {
		if len(res.Param) > 0 {
			inR4[res.Code] = true
		}
	}
	served := []string{"Binary"}
	for typ := range PatientCompartment {
		served = append(served, typ)
	}
	for typ := range referenceTypes {
		served = append(served, typ)
	}
	for _, typ := range served {
		if PatientCompartment[typ] != inR4[typ] {
			t.Errorf("%s: in ward's Patient compartment = %v, in R4's = %v", typ, PatientCompartment[typ], inR4[typ])
		}
	}
}
