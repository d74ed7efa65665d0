package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"ward/internal/testutil"
)

func TestAccess(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		w := e.world()
		tests := []struct {
			name   string
			as     int64
			method string
			path   string
			want   int
		}{
			{"anonymous me", 0, "GET", "/api/me", http.StatusUnauthorized},
			{"patient me", w.patient, "GET", "/api/me", http.StatusOK},
			{"anonymous roles", 0, "GET", "/api/roles", http.StatusUnauthorized},
			{"patient roles", w.patient, "GET", "/api/roles", http.StatusOK},
			{"anonymous user", 0, "GET", fmt.Sprintf("/api/user/%d", w.patient), http.StatusUnauthorized},
			{"staff consented patient", w.staff, "GET", fmt.Sprintf("/api/user/%d", w.patient), http.StatusOK},
			{"staff unconsented patient", w.staff, "GET", fmt.Sprintf("/api/user/%d", w.stranger), http.StatusForbidden},
			{"staff consented demographics", w.staff, "GET", fmt.Sprintf("/api/demographics/%d", w.patient), http.StatusOK},
			{"staff unconsented demographics", w.staff, "GET", fmt.Sprintf("/api/demographics/%d", w.stranger), http.StatusForbidden},
			{"staff consented consents", w.staff, "GET", fmt.Sprintf("/api/user/%d/consent", w.patient), http.StatusOK},
			{"staff unconsented consents", w.staff, "GET", fmt.Sprintf("/api/user/%d/consent", w.stranger), http.StatusForbidden},
			{"patient self", w.patient, "GET", fmt.Sprintf("/api/user/%d/roles", w.patient), http.StatusOK},
			{"patient other patient", w.patient, "GET", fmt.Sprintf("/api/user/%d/roles", w.stranger), http.StatusForbidden},
			{"admin anyone", e.adminID, "GET", fmt.Sprintf("/api/user/%d", w.stranger), http.StatusOK},
			{"missing user", e.adminID, "GET", "/api/user/999999", http.StatusNotFound},
			{"staff purge", w.staff, "POST", fmt.Sprintf("/api/user/%d/purge", w.patient), http.StatusForbidden},
			{"patient create org", w.patient, "POST", "/api/organization", http.StatusForbidden},
			{"staff user audit of consented", w.staff, "GET", fmt.Sprintf("/api/user/%d/audit", w.patient), http.StatusOK},
			{"staff user audit of self", w.staff, "GET", fmt.Sprintf("/api/user/%d/audit", w.staff), http.StatusOK},
			{"patient user audit of other", w.patient, "GET", fmt.Sprintf("/api/user/%d/audit", w.staff), http.StatusForbidden},
			// Last: it removes the stranger.
			{"admin purge", e.adminID, "POST", fmt.Sprintf("/api/user/%d/purge", w.stranger), http.StatusNoContent},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := *e
				e.t = t
				var body any
				if tt.method == "POST" && tt.path == "/api/organization" {
					body = map[string]any{"resourceType": "Organization", "name": "Sneaky"}
				}
				res := e.do(tt.method, tt.path, tt.as, body)
				if tt.want >= 400 {
					p := e.problem(res, tt.want)
					if tt.want == http.StatusUnauthorized && res.header.Get("WWW-Authenticate") == "" {
						t.Errorf("401 without a WWW-Authenticate challenge: %+v", p)
					}
					return
				}
				e.must(res, tt.want, nil)
			})
		}
	})
}

func TestScenario(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		w := e.world()

		// The staff member finds the consented patient, not the stranger.
		var page struct {
			Users []userJSON `json:"users"`
		}
		e.must(e.do("GET", "/api/user?role=patient", w.staff, nil), http.StatusOK, &page)
		var ids []int64
		for _, u := range page.Users {
			ids = append(ids, u.ID)
		}
		if !slices.Contains(ids, w.patient) || slices.Contains(ids, w.stranger) {
			t.Errorf("staff search found %v; want %d and not %d", ids, w.patient, w.stranger)
		}

		// unique_email (asked by staff who may view the holder): taken,
		// except by its holder; free when unused.
		for q, want := range map[string]bool{
			"email=PAT@example.org": false,
			fmt.Sprintf("email=pat@example.org&user_id=%d", w.patient): true,
			"email=nobody@example.org":                                 true,
		} {
			var u struct {
				Unique *bool `json:"unique"`
			}
			e.must(e.do("GET", "/api/unique_email?"+q, w.staff, nil), http.StatusOK, &u)
			if u.Unique == nil || *u.Unique != want {
				t.Errorf("unique_email?%s = %v, want %v", q, u.Unique, want)
			}
		}

		// Demographics: the Patient is valid FHIR and names the patient.
		res := e.do("GET", fmt.Sprintf("/api/demographics/%d", w.patient), w.staff, nil)
		var pat struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
			BirthDate    string `json:"birthDate"`
			Name         []struct {
				Family string   `json:"family"`
				Given  []string `json:"given"`
			} `json:"name"`
		}
		e.must(res, http.StatusOK, &pat)
		testutil.ValidateFHIR(t, res.body)
		if pat.ResourceType != "Patient" || pat.ID != fmt.Sprint(w.patient) || len(pat.Name) == 0 || pat.Name[0].Family != "Patient" {
			t.Fatalf("demographics %s", res.body)
		}

		// PUT with only birthDate changes the birth date and keeps the name.
		res = e.do("PUT", fmt.Sprintf("/api/demographics/%d", w.patient), w.staff,
			`{"resourceType":"Patient","id":"`+fmt.Sprint(w.patient)+`","birthDate":"1971-02-03"}`)
		e.must(res, http.StatusOK, &pat)
		testutil.ValidateFHIR(t, res.body)
		if pat.BirthDate != "1971-02-03" || len(pat.Name) == 0 || pat.Name[0].Family != "Patient" {
			t.Errorf("after PUT birthDate: %s", res.body)
		}
		// The patient sees the same through /api/demographics.
		e.must(e.do("GET", "/api/demographics", w.patient, nil), http.StatusOK, &pat)
		if pat.BirthDate != "1971-02-03" {
			t.Errorf("own demographics birthDate %q", pat.BirthDate)
		}

		// Roles: add, conflict on re-add, remove, conflict on re-remove.
		rolesPath := fmt.Sprintf("/api/user/%d/roles", w.patient)
		var roles struct {
			Roles []struct{ Name, Description string } `json:"roles"`
		}
		e.must(e.do("POST", rolesPath, e.adminID, `{"roles":[{"name":"test"}]}`), http.StatusOK, &roles)
		if len(roles.Roles) != 2 || roles.Roles[0].Description == "" {
			t.Errorf("roles after add: %+v", roles)
		}
		e.problem(e.do("POST", rolesPath, e.adminID, `{"roles":[{"name":"test"}]}`), http.StatusConflict)
		e.must(e.do("DELETE", rolesPath, e.adminID, `{"roles":[{"name":"test"}]}`), http.StatusOK, &roles)
		e.problem(e.do("DELETE", rolesPath, e.adminID, `{"roles":[{"name":"test"}]}`), http.StatusConflict)

		// Organizations: a bundle of three, each valid FHIR.
		res = e.do("GET", "/api/organization", e.adminID, nil)
		var bundle struct {
			ResourceType string `json:"resourceType"`
			Type         string `json:"type"`
			Entry        []struct {
				FullURL  string  `json:"fullUrl"`
				Resource fhirOrg `json:"resource"`
			} `json:"entry"`
		}
		e.must(res, http.StatusOK, &bundle)
		testutil.ValidateFHIR(t, res.body)
		if bundle.ResourceType != "Bundle" || bundle.Type != "searchset" || len(bundle.Entry) != 3 {
			t.Fatalf("organization bundle %s", res.body)
		}
		if got := bundle.Entry[1].Resource; got.PartOf == nil || got.PartOf.Reference != fmt.Sprintf("https://ward.test/fhir/Organization/%d", w.top) {
			t.Errorf("child partOf %+v", got.PartOf)
		}
		// application/json when the client asks for that alone, FHIR's own
		// type otherwise.
		for accept, want := range map[string]string{
			"application/json": "application/json", "": "application/fhir+json",
			"application/fhir+json, application/json;q=0.5": "application/fhir+json",
		} {
			req := httptest.NewRequest("GET", fmt.Sprintf("/api/organization/%d", w.child), nil)
			req.Header.Set(testUserHeader, fmt.Sprint(e.adminID))
			if accept != "" {
				req.Header.Set("Accept", accept)
			}
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != want {
				t.Errorf("Accept %q: %d %q, want 200 %q", accept, rec.Code, rec.Header().Get("Content-Type"), want)
			}
		}

		// Delete a consent: the staff member loses access.
		e.must(e.do("DELETE", fmt.Sprintf("/api/user/%d/consent?organization_id=%d", w.patient, w.child), e.adminID, nil), http.StatusNoContent, nil)
		e.problem(e.do("GET", fmt.Sprintf("/api/user/%d", w.patient), w.staff, nil), http.StatusForbidden)

		// The audit log: the admin sees the consent events about the
		// patient; the stranger sees only events that involve them.
		var events struct {
			Events []struct {
				ID        int64  `json:"id"`
				UserID    int64  `json:"user_id"`
				SubjectID int64  `json:"subject_id"`
				Context   string `json:"context"`
			} `json:"events"`
		}
		e.must(e.do("GET", fmt.Sprintf("/api/auditlog?subject=%d&context=consent", w.patient), e.adminID, nil), http.StatusOK, &events)
		if len(events.Events) < 2 {
			t.Errorf("admin sees %d consent events about the patient, want the add and the delete", len(events.Events))
		}
		for _, ev := range events.Events {
			if ev.SubjectID != w.patient || ev.Context != "consent" {
				t.Errorf("filtered event %+v", ev)
			}
		}
		// The typed view of the same events: type, subject and payload.
		var typed struct {
			Events []struct {
				SubjectID int64          `json:"subject_id"`
				Type      string         `json:"type"`
				Subject   string         `json:"subject"`
				Payload   map[string]any `json:"payload"`
			} `json:"events"`
		}
		e.must(e.do("GET", fmt.Sprintf("/api/auditlog?subject=%d&type=consent.created", w.patient), e.adminID, nil), http.StatusOK, &typed)
		if len(typed.Events) == 0 {
			t.Errorf("admin sees no consent.created event about the patient")
		}
		for _, ev := range typed.Events {
			if ev.Type != "consent.created" || ev.SubjectID != w.patient || len(ev.Subject) < 9 || ev.Subject[:8] != "Consent/" ||
				ev.Payload["organization"] == nil || ev.Payload["status"] == nil {
				t.Errorf("typed event %+v", ev)
			}
		}
		e.must(e.do("GET", "/api/auditlog?type=consent.created", w.stranger, nil), http.StatusOK, &typed)
		for _, ev := range typed.Events {
			t.Errorf("the stranger sees another's consent event %+v", ev)
		}
		e.must(e.do("GET", "/api/auditlog", w.stranger, nil), http.StatusOK, &events)
		if len(events.Events) == 0 {
			t.Errorf("the stranger sees no events, want their account creation")
		}
		for _, ev := range events.Events {
			if ev.UserID != w.stranger && ev.SubjectID != w.stranger {
				t.Errorf("stranger sees an event not about them: %+v", ev)
			}
		}
		// The admin's unfiltered view holds more than the stranger's.
		var all struct {
			Events []struct{ ID int64 } `json:"events"`
		}
		e.must(e.do("GET", "/api/auditlog?limit=1000", e.adminID, nil), http.StatusOK, &all)
		if len(all.Events) <= len(events.Events) {
			t.Errorf("admin sees %d events, stranger %d", len(all.Events), len(events.Events))
		}

		// The same page as FHIR: a Bundle of valid AuditEvents.
		res = e.do("GET", fmt.Sprintf("/api/user/%d/audit?format=fhir&limit=2", w.patient), e.adminID, nil)
		var ab struct {
			ResourceType string `json:"resourceType"`
			Link         []struct{ Relation, URL string }
			Entry        []struct {
				Resource struct {
					ResourceType string `json:"resourceType"`
				} `json:"resource"`
			} `json:"entry"`
		}
		e.must(res, http.StatusOK, &ab)
		testutil.ValidateFHIR(t, res.body)
		if ab.ResourceType != "Bundle" || len(ab.Entry) != 2 || ab.Entry[0].Resource.ResourceType != "AuditEvent" {
			t.Fatalf("audit bundle %s", res.body)
		}
		if ct := res.header.Get("Content-Type"); ct != "application/fhir+json" {
			t.Errorf("audit bundle Content-Type %q", ct)
		}
		hasNext := false
		for _, l := range ab.Link {
			hasNext = hasNext || l.Relation == "next"
		}
		if !hasNext {
			t.Errorf("a full page of audit events has no next link: %s", res.body)
		}
	})
}
