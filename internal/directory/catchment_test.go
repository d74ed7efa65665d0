package directory_test

import (
	"testing"

	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/testutil"
)

// TestServiceCheckRoleCatchment is the catchment limit (seed 003) through
// the directory's one permission check, which every edge (management API,
// FHIR user/ scopes, documents, exports) calls: allowed and denied side by
// side, on both databases.
func TestServiceCheckRoleCatchment(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w := newWorld(t, url)
		ctx := w.system()
		profiles := func(id int64, ps ...directory.Profile) {
			t.Helper()
			if _, err := w.svc.SetUserProfiles(ctx, id, ps); err != nil {
				t.Fatalf("set profiles of %d: %v", id, err)
			}
		}
		// The consented patient lives in union 302618; another consented
		// patient in 302714; a third has no catchment at all.
		profiles(w.patient, directory.Profile{Type: directory.ProfilePatient, ID: "p1", Catchment: []string{"302618"}})
		elsewhere := w.user("elsewhere@example.org", []string{directory.RolePatient}, w.clinicA1)
		nowhere := w.user("nowhere@example.org", []string{directory.RolePatient}, w.clinicA1)
		for _, id := range []int64{elsewhere, nowhere} {
			if _, err := w.svc.AddConsent(ctx, &directory.Consent{UserID: id, OrganizationID: w.clinicA1,
				StaffEditable: true, AgreementURL: "https://example.org/consent/v1"}); err != nil {
				t.Fatalf("consent: %v", err)
			}
		}
		profiles(elsewhere, directory.Profile{Type: directory.ProfilePatient, ID: "p2", Catchment: []string{"302714"}})

		// A clinician of clinic A with a provider profile over district 3026.
		districtClinician := w.user("district@example.org", []string{directory.RoleClinician}, w.clinicA)
		profiles(districtClinician, directory.Profile{Type: directory.ProfileProvider, ID: "123", Catchment: []string{"3026"}})
		// An administrator whose admin profile covers union 302614 only.
		unionAdmin := w.user("union.admin@example.org", []string{directory.RoleAdmin})
		profiles(unionAdmin, directory.Profile{Type: directory.ProfileAdmin, ID: "2", Catchment: []string{"302614"}})
		// A facility profile is where someone works, not whom they serve:
		// it limits nothing.
		facilityOnly := w.user("facility@example.org", []string{directory.RoleClinician}, w.clinicA)
		profiles(facilityOnly, directory.Profile{Type: directory.ProfileFacility, ID: "10000069", Catchment: []string{"4000"}})

		tests := []struct {
			name   string
			actor  int64
			perm   directory.Permission
			target int64
			want   apperr.Kind
		}{
			{"provider 3026 over a patient in 302618 (hierarchical)", districtClinician, directory.Edit, w.patient, ok},
			{"provider 3026 over a patient in 302714", districtClinician, directory.View, elsewhere, apperr.Forbidden},
			{"provider 3026 over a patient with no catchment", districtClinician, directory.View, nowhere, apperr.Forbidden},
			{"provider 3026 over a non-patient", districtClinician, directory.View, districtClinician, ok},
			{"admin profile 302614 over a patient in 302618", unionAdmin, directory.View, w.patient, apperr.Forbidden},
			{"admin profile 302614 over staff (not a patient)", unionAdmin, directory.Edit, w.staffB, ok},
			{"plain admin, no catchment, over the same patient", w.admin, directory.View, w.patient, ok},
			{"plain clinician, no catchment, over a patient in 302714", w.clinicianA, directory.View, elsewhere, ok},
			{"facility profile only: no limit", facilityOnly, directory.View, elsewhere, ok},
			{"catchment grants nothing by itself (staff at sibling clinic)", w.staffB, directory.View, w.patient, apperr.Forbidden},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantKind(t, w.svc.CheckRole(w.as(tc.actor), tc.perm, tc.target), tc.want, "")
			})
		}
		// A patient with a catchment profile is never kept from themselves.
		profiles(w.patientNoConsent, directory.Profile{Type: directory.ProfileProvider, ID: "9", Catchment: []string{"99"}})
		wantKind(t, w.svc.CheckRole(w.as(w.patientNoConsent), directory.Edit, w.patientNoConsent), ok, "")
	})
}
