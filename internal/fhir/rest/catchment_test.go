package rest_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"ward/internal/actor"
	"ward/internal/directory"
	"ward/internal/testutil"
)

// TestCatchmentThroughUserScopes: a clinician's provider catchment (seed
// 003) limits the patients a user/ token reaches through FHIR (a patient and
// their observation): allowed within, denied outside, side by side, on both
// databases. The clinician had access to p1 by consent before any
// catchment existed.
func TestCatchmentThroughUserScopes(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		sys := actor.System(context.Background())
		set := func(id int64, typ string, codes ...string) {
			t.Helper()
			if _, err := w.svc.Directory.SetUserProfiles(sys, id, []directory.Profile{{Type: typ, ID: fmt.Sprint(id), Catchment: codes}}); err != nil {
				t.Fatal(err)
			}
		}
		patient := fmt.Sprintf("/fhir/Patient/%d", w.p1.ID)
		obs := fmt.Sprintf("/fhir/Observation/%d", w.obs1.ID)
		app := w.staffApp("user/*.rs")

		// No catchment: today's rule (consent) grants.
		if r := w.do(app, "GET", patient, nil); r.status != http.StatusOK {
			t.Fatalf("before catchments: %d %s", r.status, r.body)
		}
		set(w.staff.ID, directory.ProfileProvider, "3026")
		set(w.p1.ID, directory.ProfilePatient, "302618")
		for _, path := range []string{patient, obs} {
			if r := w.do(app, "GET", path, nil); r.status != http.StatusOK {
				t.Errorf("within catchment 3026, GET %s = %d %s", path, r.status, r.body)
			}
		}
		set(w.p1.ID, directory.ProfilePatient, "302714")
		for _, path := range []string{patient, obs} {
			if r := w.do(app, "GET", path, nil); r.status != http.StatusForbidden && r.status != http.StatusNotFound {
				t.Errorf("outside catchment 3026, GET %s = %d %s, want refused", path, r.status, r.body)
			}
		}
	})
}
