package fhir_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/clinical"
	"ward/internal/fhir"
)

// What a client sends either maps with an Invalid error or, once the
// record accepts it, renders and maps back to the same record.

func FuzzToClinicalObservation(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"1"}]},"subject":{"reference":"Patient/1"},"valueQuantity":{"value":1.50,"unit":"mg"},"effectivePeriod":{"start":"2024"}}`))
	f.Add([]byte(`{"resourceType":"Observation","status":"amended","code":{"coding":[{"system":"s","code":"c"}]},"subject":{"reference":"https://x/fhir/Patient/2/_history/1"},"valueCodeableConcept":{"coding":[{"system":"s","code":"y"}]},"performer":[{"reference":"Practitioner/3"}],"issued":"2024-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"resourceType":"Observation","status":"final","code":{},"subject":{"reference":"Patient/1"},"valueInteger":2147483648}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := fhir.DecodeObservation(data)
		if err != nil {
			return
		}
		o, err := fhir.ToClinicalObservation(r, testBase)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("mapping error is not Invalid: %v", err)
			}
			return
		}
		if o.Issued.IsZero() {
			o.Issued = time.Unix(0, 0).UTC()
		}
		if clinical.ValidateObservation(o) != nil {
			return
		}
		out, err := json.Marshal(fhir.ObservationFromClinical(o, ""))
		if err != nil {
			t.Fatal(err)
		}
		r2, err := fhir.DecodeObservation(out)
		if err != nil {
			t.Fatalf("rendered observation does not decode: %v\n%s", err, out)
		}
		back, err := fhir.ToClinicalObservation(r2, testBase)
		if err != nil {
			t.Fatalf("rendered observation does not map back: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(back, o) {
			t.Fatalf("round trip:\n got  %+v\n want %+v", back, o)
		}
	})
}

func FuzzToClinicalProcedure(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Procedure","status":"completed","code":{"coding":[{"system":"http://snomed.info/sct","code":"1"}]},"subject":{"reference":"Patient/1"},"performedDateTime":"2024-03-10"}`))
	f.Add([]byte(`{"resourceType":"Procedure","status":"in-progress","code":{"coding":[{"system":"http://snomed.info/sct","code":"1"}]},"subject":{"reference":"Patient/1"},"performedPeriod":{"start":"2024-03-10T10:00:00+01:00"},"performer":[{"actor":{"reference":"Practitioner/2"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := fhir.DecodeProcedure(data)
		if err != nil {
			return
		}
		p, err := fhir.ToClinicalProcedure(r, testBase)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("mapping error is not Invalid: %v", err)
			}
			return
		}
		if clinical.ValidateProcedure(p) != nil {
			return
		}
		out, err := json.Marshal(fhir.ProcedureFromClinical(p, ""))
		if err != nil {
			t.Fatal(err)
		}
		r2, err := fhir.DecodeProcedure(out)
		if err != nil {
			t.Fatalf("rendered procedure does not decode: %v\n%s", err, out)
		}
		back, err := fhir.ToClinicalProcedure(r2, testBase)
		if err != nil {
			t.Fatalf("rendered procedure does not map back: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(back, p) {
			t.Fatalf("round trip:\n got  %+v\n want %+v", back, p)
		}
	})
}
