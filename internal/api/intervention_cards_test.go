package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"ward/internal/directory"
	"ward/internal/intervention"
	"ward/internal/testutil"
)

type cardDoc struct {
	Name       string                  `json:"name"`
	Access     bool                    `json:"access"`
	CardHTML   string                  `json:"card_html"`
	LinkLabel  string                  `json:"link_label"`
	LinkURL    string                  `json:"link_url"`
	StatusText string                  `json:"status_text"`
	UserAccess string                  `json:"user_access"`
	Trace      *intervention.CardTrace `json:"trace"`
}

type cardsDoc struct {
	UserID        int64     `json:"user_id"`
	Interventions []cardDoc `json:"interventions"`
}

// TestUserInterventions: a person's cards in display order, decided by
// their rows and public_access (rules are served by the access_rule API),
// with the row's display details and, with trace=true, why; the person,
// an administrator may ask; another patient, a developer and nobody may
// not; bad ids are 400 on both databases.
func TestUserInterventions(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newInterventionEnv(t, url)
		for _, iv := range []map[string]any{
			{"name": "care_plan", "display_rank": 3, "link_url": "https://cp.example.org/"},
			{"name": "decision_support_p3p", "display_rank": 1, "public_access": false, "card_html": "<p>P3P</p>",
				"link_label": "Open", "link_url": "https://p3p.example.org/", "status_text": "ready"},
			{"name": "sexual_recovery", "display_rank": 2, "public_access": false, "link_url": "https://sr.example.org/"},
			{"name": "assessment", "display_rank": 4, "link_url": "https://as.example.org/"},
		} {
			e.must(e.do("POST", "/api/intervention", e.adminID, iv), http.StatusCreated, nil)
		}
		ctx := context.Background()
		put := func(name string, a intervention.Access, html string) {
			if err := e.st.PutUserIntervention(ctx, &intervention.UserIntervention{Intervention: name, UserID: e.patient,
				Access: a, CardHTML: html, UpdatedAt: testNow}); err != nil {
				t.Fatal(err)
			}
		}
		put("decision_support_p3p", intervention.AccessGranted, "<p>yours</p>")
		put("sexual_recovery", intervention.AccessSubscribed, "")
		put("assessment", intervention.AccessForbidden, "")

		path := fmt.Sprintf("/api/user/%d/interventions", e.patient)
		var got cardsDoc
		e.must(e.do("GET", path, e.patient, nil), http.StatusOK, &got)
		want := []cardDoc{
			{Name: "decision_support_p3p", Access: true, CardHTML: "<p>yours</p>", LinkLabel: "Open",
				LinkURL: "https://p3p.example.org/", StatusText: "ready", UserAccess: "granted"},
			{Name: "sexual_recovery", UserAccess: "subscribed"},
			{Name: "care_plan", Access: true, LinkURL: "https://cp.example.org/"},
			{Name: "assessment", UserAccess: "forbidden"},
		}
		if got.UserID != e.patient || len(got.Interventions) != len(want) {
			t.Fatalf("cards %+v", got)
		}
		for i := range want {
			if got.Interventions[i] != want[i] {
				t.Errorf("card %d: %+v, want %+v", i, got.Interventions[i], want[i])
			}
		}

		e.must(e.do("GET", path+"?trace=true", e.adminID, nil), http.StatusOK, &got)
		stages := map[string]intervention.Stage{}
		for _, c := range got.Interventions {
			if c.Trace == nil || c.Trace.Intervention != c.Name || c.Trace.Access != c.Access || c.Trace.Why == "" {
				t.Fatalf("trace of %s: %+v", c.Name, c.Trace)
			}
			stages[c.Name] = c.Trace.Stage
		}
		wantStages := map[string]intervention.Stage{"decision_support_p3p": intervention.StageUserRow,
			"sexual_recovery": intervention.StagePublicAccess, "care_plan": intervention.StagePublicAccess,
			"assessment": intervention.StageUserRow}
		if fmt.Sprint(stages) != fmt.Sprint(wantStages) {
			t.Fatalf("stages %v, want %v", stages, wantStages)
		}

		// Who may ask.
		other := e.createUser("other@example.org", "O", "P", []string{directory.RolePatient}, nil)
		e.problem(e.do("GET", path, other, nil), http.StatusForbidden)
		e.problem(e.do("GET", path, e.dev, nil), http.StatusForbidden)
		e.problem(e.do("GET", path, 0, nil), http.StatusUnauthorized)
		e.must(e.do("GET", fmt.Sprintf("/api/user/%d/interventions", other), other, nil), http.StatusOK, &got)
		if len(got.Interventions) != 4 || !got.Interventions[2].Access || got.Interventions[0].Access {
			t.Fatalf("another patient's own cards %+v", got)
		}

		// Bad input.
		for _, bad := range []string{"abc", "0", "-1", "1%00", "%ff", "99999999999999999999"} {
			e.problem(e.do("GET", "/api/user/"+bad+"/interventions", e.adminID, nil), http.StatusBadRequest)
		}
		e.problem(e.do("GET", path+"?trace=maybe", e.adminID, nil), http.StatusBadRequest)
		e.problem(e.do("GET", path+"?trace=%00", e.adminID, nil), http.StatusBadRequest)
		e.problem(e.do("GET", "/api/user/999999/interventions", e.adminID, nil), http.StatusNotFound)
	})
}

// TestTreatmentValueSets: the value sets are public FHIR R4 ValueSets of
// SNOMED CT concepts, in FHIR's content type unless plain JSON is asked.
func TestTreatmentValueSets(t *testing.T) {
	e := newInterventionEnv(t, testutil.SQLiteURL(t))
	for _, c := range []struct {
		id    string
		codes []string
	}{
		{"tx-started", []string{"26294005", "33195004", "228748004", "707266006", "118877007"}},
		{"tx-not-started", []string{"373818007", "424313000"}},
	} {
		res := e.do("GET", "/api/procedure/valueset/"+c.id, 0, nil)
		var vs struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
			Status       string `json:"status"`
			Compose      struct {
				Include []struct {
					System  string `json:"system"`
					Concept []struct{ Code, Display string }
				} `json:"include"`
			} `json:"compose"`
		}
		e.must(res, http.StatusOK, &vs)
		if ct := res.header.Get("Content-Type"); ct != "application/fhir+json" {
			t.Errorf("%s: content type %q", c.id, ct)
		}
		testutil.ValidateFHIR(t, res.body)
		if vs.ResourceType != "ValueSet" || vs.ID != c.id || vs.Status != "active" || len(vs.Compose.Include) != 1 ||
			vs.Compose.Include[0].System != "http://snomed.info/sct" {
			t.Fatalf("%s: %s", c.id, res.body)
		}
		var codes []string
		for _, x := range vs.Compose.Include[0].Concept {
			if x.Display == "" {
				t.Errorf("%s: %s has no display", c.id, x.Code)
			}
			codes = append(codes, x.Code)
		}
		if fmt.Sprint(codes) != fmt.Sprint(c.codes) {
			t.Errorf("%s: codes %v, want %v", c.id, codes, c.codes)
		}
		req := httptest.NewRequest("GET", "/api/procedure/valueset/"+c.id, nil)
		req.Header.Set("Accept", "application/json")
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" || !json.Valid(rec.Body.Bytes()) {
			t.Errorf("%s as application/json: %d %q", c.id, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
}
