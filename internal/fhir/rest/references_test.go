package rest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"ward/internal/testutil"
)

// TestReferencesStayLocal: every resource that takes a reference reads it
// as this server's resource only when it is relative (Type/id) or under
// this server's FHIR base. A URL on another server, whatever its last two
// segments say, and a urn:uuid: (ward has no transactions to resolve one
// in) are refused with a 400 OperationOutcome, never stored as the local
// resource with the same id.
func TestReferencesStayLocal(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		writer := backend("system/*.cruds")
		p, staff, org := id(w.p1.ID), id(w.staff.ID), id(w.clinicA.ID)

		// forms turns a local reference "Type/id" into the ways a client
		// may write it, each with whether ward must accept it.
		forms := func(local string) []struct {
			name, ref string
			ok        bool
		} {
			typ, n, _ := strings.Cut(local, "/")
			return []struct {
				name, ref string
				ok        bool
			}{
				{"relative", local, true},
				{"own base", base + "/" + local, true},
				{"own base, versioned", base + "/" + local + "/_history/1", true},
				{"another server", "https://other-hospital.example/fhir/" + local, false},
				{"another server, versioned", "https://other-hospital.example/fhir/" + local + "/_history/1", false},
				{"this host, another path", "http://ward.test/other/" + local, false},
				{"another scheme", "https://ward.test/fhir/" + local, false},
				{"urn:uuid", "urn:uuid:2f1c3a52-7c1e-4b63-9a43-0c1e5d0b6a11", false},
				{"longer relative path", "x/" + typ + "/" + n, false},
			}
		}
		resources := []struct {
			name, method, path string
			local              string // the reference in its local form
			body               func(ref string) string
			// check reads back what was stored: it must be the local one.
			check string // a JSON substring of the answer that names the local resource
		}{
			{"Observation.subject", "POST", "/fhir/Observation", "Patient/" + p, func(ref string) string {
				return `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},
					"subject":{"reference":"` + ref + `"},"issued":"2025-01-02T03:04:05Z","valueString":"x"}`
			}, `"subject":{"reference":"` + base + `/Patient/` + p + `"}`},
			{"Observation.performer", "POST", "/fhir/Observation", "Practitioner/" + staff, func(ref string) string {
				return `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},
					"subject":{"reference":"Patient/` + p + `"},"performer":[{"reference":"` + ref + `"}],"issued":"2025-01-02T03:04:05Z","valueString":"x"}`
			}, base + `/Practitioner/` + staff},
			{"Procedure.subject", "POST", "/fhir/Procedure", "Patient/" + p, func(ref string) string {
				return `{"resourceType":"Procedure","status":"completed","code":{"coding":[{"system":"http://snomed.info/sct","code":"1"}]},
					"subject":{"reference":"` + ref + `"},"performedDateTime":"2024-03-10"}`
			}, `"subject":{"reference":"` + base + `/Patient/` + p + `"}`},
			{"Procedure.performer.actor", "POST", "/fhir/Procedure", "Practitioner/" + staff, func(ref string) string {
				return `{"resourceType":"Procedure","status":"completed","code":{"coding":[{"system":"http://snomed.info/sct","code":"1"}]},
					"subject":{"reference":"Patient/` + p + `"},"performedDateTime":"2024-03-10","performer":[{"actor":{"reference":"` + ref + `"}}]}`
			}, base + `/Practitioner/` + staff},
			{"DocumentReference.subject", "POST", "/fhir/DocumentReference", "Patient/" + p, func(ref string) string {
				return `{"resourceType":"DocumentReference","status":"current","subject":{"reference":"` + ref + `"},
					"content":[{"attachment":{"contentType":"text/plain","data":"aGVsbG8="}}]}`
			}, `"subject":{"reference":"` + base + `/Patient/` + p + `"}`},
			{"DocumentReference.author", "POST", "/fhir/DocumentReference", "Practitioner/" + staff, func(ref string) string {
				return `{"resourceType":"DocumentReference","status":"current","subject":{"reference":"Patient/` + p + `"},
					"author":[{"reference":"` + ref + `"}],"content":[{"attachment":{"contentType":"text/plain","data":"aGVsbG8="}}]}`
			}, base + `/Practitioner/` + staff},
			{"Organization.partOf", "POST", "/fhir/Organization", "Organization/" + org, func(ref string) string {
				return `{"resourceType":"Organization","name":"Ward 7","partOf":{"reference":"` + ref + `"}}`
			}, `"partOf":{"reference":"` + base + `/Organization/` + org + `"}`},
			{"Patient.generalPractitioner", "PUT", "/fhir/Patient/" + p, "Practitioner/" + staff, func(ref string) string {
				return `{"resourceType":"Patient","id":"` + p + `","generalPractitioner":[{"reference":"` + ref + `"}]}`
			}, base + `/Practitioner/` + staff},
			{"Patient.managingOrganization", "PUT", "/fhir/Patient/" + p, "Organization/" + org, func(ref string) string {
				return `{"resourceType":"Patient","id":"` + p + `","managingOrganization":{"reference":"` + ref + `"}}`
			}, base + `/Organization/` + org},
		}
		for _, res := range resources {
			for _, f := range forms(res.local) {
				t.Run(res.name+"/"+f.name, func(t *testing.T) {
					r := w.do(writer, res.method, res.path, []byte(res.body(f.ref)))
					if f.ok {
						if r.status != http.StatusCreated && r.status != http.StatusOK {
							t.Fatalf("%s %q: %d, want it accepted: %s", res.name, f.ref, r.status, r.body)
						}
						if !strings.Contains(compact(t, r.body), res.check) {
							t.Errorf("%s %q stored as %s, want it to name %s", res.name, f.ref, r.body, res.check)
						}
						return
					}
					if r.status != http.StatusBadRequest {
						t.Fatalf("%s %q: %d, want 400: %s", res.name, f.ref, r.status, r.body)
					}
					code, expr := outcomeCode(t, r.body)
					if code == "" || len(expr) == 0 || !strings.HasPrefix(expr[0], strings.Split(res.name, ".")[0]) {
						t.Errorf("%s %q: outcome code %q expression %v, want the element named", res.name, f.ref, code, expr)
					}
				})
			}
		}

		// A Patient-level export names its patients by reference too.
		for _, f := range forms("Patient/" + p) {
			body := `{"resourceType":"Parameters","parameter":[{"name":"patient","valueReference":{"reference":"` + f.ref + `"}}]}`
			r := w.do(backend("system/*.rs", "system/Patient.$export"), http.MethodPost, "/fhir/Patient/$export", []byte(body), "Prefer", "respond-async")
			if got := r.status == http.StatusBadRequest; got == f.ok {
				t.Errorf("$export patient %q (%s): %d: %s", f.ref, f.name, r.status, r.body)
			}
		}
	})
}

// compact re-encodes a JSON body without insignificant space, so it can be
// searched for a member.
func compact(t *testing.T, body []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
