package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"ward/internal/testutil"
)

// counts is how many organizations and users the admin can see; bad input
// must not change either.
func (e *env) counts() (orgs, users int) {
	e.t.Helper()
	var b struct {
		Entry []json.RawMessage `json:"entry"`
	}
	e.must(e.do("GET", "/api/organization?limit=1000", e.adminID, nil), http.StatusOK, &b)
	var p struct {
		Users []json.RawMessage `json:"users"`
	}
	e.must(e.do("GET", "/api/user?limit=1000", e.adminID, nil), http.StatusOK, &p)
	return len(b.Entry), len(p.Users)
}

func TestBadInput(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		w := e.world()
		pat := fmt.Sprint(w.patient)
		tests := []struct {
			name   string
			method string
			path   string
			body   any
			want   int
			// mention is a word the problem's detail must contain, so the
			// caller learns what was wrong.
			mention string
		}{
			{"malformed JSON account", "POST", "/api/account", `{"email":`, 400, "unexpected end of JSON"},
			{"unknown member in account", "POST", "/api/account", `{"email":"x@example.org","shoe_size":9}`, 400, "shoe_size"},
			{"invalid email", "POST", "/api/account", `{"email":"not an email"}`, 400, "email"},
			{"duplicate email", "POST", "/api/account", `{"email":"PAT@example.org"}`, 409, "already exists"},
			{"unknown role", "POST", "/api/account", `{"email":"new@example.org","roles":[{"name":"wizard"}]}`, 400, "wizard"},
			{"unknown role added", "POST", "/api/user/" + pat + "/roles", `{"roles":[{"name":"wizard"}]}`, 400, "wizard"},
			{"unknown organization for account", "POST", "/api/account", `{"email":"new2@example.org","organizations":[{"organization_id":987654}]}`, 400, "organization"},
			{"malformed id", "GET", "/api/user/abc", nil, 400, "id must be a positive integer"},
			{"zero id", "GET", "/api/user/0", nil, 400, "id must be a positive integer"},
			{"negative id", "DELETE", "/api/user/-4", nil, 400, "id must be a positive integer"},
			{"overflowing id", "GET", "/api/user/99999999999999999999", nil, 400, "id must be a positive integer"},
			{"malformed patient id", "GET", "/api/demographics/x1", nil, 400, "patient_id must be a positive integer"},
			{"malformed FHIR JSON", "POST", "/api/organization", `{"resourceType":`, 400, "JSON"},
			{"wrong resourceType", "POST", "/api/organization", `{"resourceType":"Patient","name":"X"}`, 400, "resourceType"},
			{"missing resourceType", "POST", "/api/organization", `{"name":"X"}`, 400, "resourceType"},
			{"unknown partOf", "POST", "/api/organization", `{"resourceType":"Organization","name":"X","partOf":{"reference":"Organization/987654"}}`, 400, "987654"},
			{"partOf on another server", "POST", "/api/organization", `{"resourceType":"Organization","name":"X","partOf":{"reference":"https://other-hospital.example/fhir/Organization/` + fmt.Sprint(w.top) + `"}}`, 400, "this server"},
			{"partOf as urn:uuid", "PUT", fmt.Sprintf("/api/organization/%d", w.child), `{"resourceType":"Organization","partOf":{"reference":"urn:uuid:2f1c3a52-7c1e-4b63-9a43-0c1e5d0b6a11"}}`, 400, "this server"},
			{"general practitioner on another server", "PUT", "/api/demographics/" + pat, `{"resourceType":"Patient","generalPractitioner":[{"reference":"https://other-hospital.example/fhir/Practitioner/` + pat + `"}]}`, 400, "this server"},
			{"managing organization on another server", "PUT", "/api/demographics/" + pat, `{"resourceType":"Patient","managingOrganization":{"reference":"https://other-hospital.example/fhir/Organization/` + fmt.Sprint(w.top) + `"}}`, 400, "this server"},
			{"unknown FHIR member", "POST", "/api/organization", `{"resourceType":"Organization","name":"X","colour":"red"}`, 400, "colour"},
			{"org id mismatch", "PUT", fmt.Sprintf("/api/organization/%d", w.child), fmt.Sprintf(`{"resourceType":"Organization","id":"%d","name":"X"}`, w.top), 400, "does not match"},
			{"unknown org alias", "GET", "/api/organization/no-such-alias", nil, 404, "organization"},
			{"demographics wrong resourceType", "PUT", "/api/demographics/" + pat, `{"resourceType":"Organization"}`, 400, "resourceType"},
			{"demographics id mismatch", "PUT", "/api/demographics/" + pat, `{"resourceType":"Patient","id":"12345"}`, 400, "does not match"},
			{"demographics malformed JSON", "PUT", "/api/demographics/" + pat, `{"resourceType":"Patient",`, 400, "JSON"},
			{"demographics bad birthDate", "PUT", "/api/demographics/" + pat, `{"resourceType":"Patient","birthDate":"yesterday"}`, 400, "birthDate"},
			{"consent without organization", "DELETE", "/api/user/" + pat + "/consent", nil, 400, "organization_id"},
			{"consent for unknown organization", "POST", "/api/user/" + pat + "/consent", `{"organization_id":987654,"agreement_url":"https://example.org/a"}`, 400, "organization"},
			{"unknown audit context", "GET", "/api/auditlog?context=gossip", nil, 400, "gossip"},
			{"unknown audit event type", "GET", "/api/auditlog?type=user.gossiped", nil, 400, "user.gossiped"},
			{"bad audit time", "GET", "/api/auditlog?from=last+week", nil, 400, "from"},
			{"bad cursor", "GET", "/api/user?cursor=!!!", nil, 400, "cursor"},
			{"merge into itself", "POST", "/api/user/" + pat + "/merge", `{"from":` + pat + `}`, 400, "itself"},
			{"body too large", "POST", "/api/account", `{"email":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "too large"},
			{"FHIR body too large", "POST", "/api/organization", `{"resourceType":"Organization","name":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "too large"},
		}
		orgsBefore, usersBefore := e.counts()
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := *e
				e.t = t
				p := e.problem(e.do(tt.method, tt.path, e.adminID, tt.body), tt.want)
				if !strings.Contains(strings.ToLower(p.Detail), strings.ToLower(tt.mention)) {
					t.Errorf("detail %q does not mention %q", p.Detail, tt.mention)
				}
			})
		}
		if orgs, users := e.counts(); orgs != orgsBefore || users != usersBefore {
			t.Errorf("bad input wrote something: %d organizations and %d users, were %d and %d", orgs, users, orgsBefore, usersBefore)
		}

		// A body cut off by the server's own limit (http.MaxBytesReader,
		// below the API's) is a 413 too, not a 500.
		limited := http.MaxBytesHandler(e.h, 64)
		p := e.problem(e.doWith(limited, "POST", "/api/account", e.adminID, `{"email":"`+strings.Repeat("b", 200)+`@example.org"}`), http.StatusRequestEntityTooLarge)
		if !strings.Contains(p.Detail, "too large") {
			t.Errorf("upstream limit detail %q", p.Detail)
		}
	})
}

func TestOpenAPI(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t))
	res := e.do("GET", "/api/openapi.json", 0, nil)
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			OperationID string `json:"operationId"`
			RequestBody *struct {
				Content map[string]json.RawMessage `json:"content"`
			} `json:"requestBody"`
			Responses map[string]struct {
				Content map[string]json.RawMessage `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	e.must(res, http.StatusOK, &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	want := map[string][]string{
		"/api/me":                         {"get"},
		"/api/roles":                      {"get"},
		"/api/relationships":              {"get"},
		"/api/account":                    {"post"},
		"/api/user":                       {"get"},
		"/api/user/{id}":                  {"get", "delete"},
		"/api/user/{id}/reactivate":       {"post"},
		"/api/user/{id}/purge":            {"post"},
		"/api/user/{id}/merge":            {"post"},
		"/api/user/{id}/roles":            {"get", "post", "put", "delete"},
		"/api/user/{id}/organization":     {"get", "post", "put"},
		"/api/user/{id}/relationships":    {"get", "put"},
		"/api/user/{id}/groups":           {"get", "put"},
		"/api/user/{id}/identifier":       {"get", "post"},
		"/api/user/{id}/profiles":         {"get", "put"},
		"/api/user/{id}/consent":          {"get", "post", "delete"},
		"/api/user/{id}/consent/withdraw": {"post"},
		"/api/user/{id}/tou":              {"get"},
		"/api/tou/accepted":               {"post"},
		"/api/unique_email":               {"get"},
		"/api/group":                      {"get", "post"},
		"/api/organization":               {"get", "post"},
		"/api/organization/{id_or_code}":  {"get", "put", "delete"},
		"/api/demographics":               {"get", "put"},
		"/api/demographics/{patient_id}":  {"get", "put"},
		"/api/auditlog":                   {"get"},
		"/api/user/{id}/audit":            {"get"},
	}
	for path, methods := range want {
		for _, m := range methods {
			op, ok := doc.Paths[path][m]
			if !ok {
				t.Errorf("%s %s missing from the OpenAPI document", m, path)
				continue
			}
			if _, ok := op.Responses["422"]; ok {
				t.Errorf("%s %s documents a 422, which the API never sends", m, path)
			}
		}
	}
	// FHIR resources are documented with their resourceType, which their
	// Go types only write in MarshalJSON.
	var schemas struct {
		Components struct {
			Schemas map[string]struct {
				Required   []string                   `json:"required"`
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	e.must(res, http.StatusOK, &schemas)
	for _, name := range []string{"FHIROrganization", "FHIRPatient", "FHIRBundle"} {
		s := schemas.Components.Schemas[name]
		if s.Properties["resourceType"] == nil || !slices.Contains(s.Required, "resourceType") {
			t.Errorf("schema %s lacks a required resourceType: %+v", name, s)
		}
	}
	// FHIR bodies are documented as FHIR, not as binary strings.
	post := doc.Paths["/api/organization"]["post"]
	if post.RequestBody == nil || post.RequestBody.Content["application/fhir+json"] == nil {
		t.Errorf("POST /api/organization request body: %+v", post.RequestBody)
	}
	if _, ok := post.Responses["201"].Content["application/fhir+json"]; !ok {
		t.Errorf("POST /api/organization 201 content: %v", post.Responses["201"].Content)
	}
}
