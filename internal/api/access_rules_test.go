package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"ward/internal/actor"
	"ward/internal/api"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/intervention/strategy"
	"ward/internal/store"
	"ward/internal/testutil"
)

// The seed's rules with only their JSON slips repaired
// (internal/intervention/strategy/testdata/README.md).
const seedRules = "../intervention/strategy/testdata/"

func seedRule(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(seedRules + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type accessRuleDoc struct {
	ID              int64           `json:"id"`
	Intervention    string          `json:"intervention"`
	Name            string          `json:"name"`
	Description     string          `json:"description"`
	Rank            *int            `json:"rank"`
	FunctionDetails json.RawMessage `json:"function_details"`
	Version         int64           `json:"version"`
	CreatedAt       string          `json:"created_at"`
	UpdatedAt       string          `json:"updated_at"`
	Error           string          `json:"error"`
}

type accessRuleListDoc struct {
	Rules []accessRuleDoc `json:"rules"`
}

// rulesEnv is ivEnv with the organizations and interventions the seed's
// rules name: UCSF > UCSF Medical Center (identifier p3p in the decision-
// support system), UW Medicine; decision_support_p3p (client owned by dev,
// with its service account svc), care_plan and sexual_recovery (client
// owned by dev2, service account svc2).
type rulesEnv struct {
	*ivEnv
	svc, svc2, dev2 int64
	// orgs are the organizations' ids by name.
	orgs map[string]int64
}

func newRulesEnv(t *testing.T, url string) *rulesEnv {
	t.Helper()
	e := &rulesEnv{ivEnv: newInterventionEnv(t, url), orgs: map[string]int64{}}
	sys := actor.System(context.Background())
	org := func(name string, parent int64, ids ...directory.Identifier) int64 {
		o, err := e.dir.CreateOrganization(sys, &directory.Organization{Name: name, PartOfID: parent, Identifiers: ids})
		if err != nil {
			t.Fatalf("organization %s: %v", name, err)
		}
		e.orgs[name] = o.ID
		return o.ID
	}
	ucsf := org("UCSF", 0)
	org("UCSF Medical Center", ucsf, directory.Identifier{System: strategy.DecisionSupportGroup, Value: "p3p"})
	org("UW Medicine (University of Washington)", 0)
	dev2, err := e.dir.CreateUser(sys, directory.NewUser{User: directory.User{Email: "dev2@example.org"},
		Roles: []string{directory.RoleApplicationDeveloper}})
	if err != nil {
		t.Fatal(err)
	}
	e.dev2 = dev2.ID
	e.interventionWithClient("decision_support_p3p", e.dev)
	e.interventionWithClient("sexual_recovery", e.dev2)
	e.must(e.do("POST", "/api/intervention", e.adminID, map[string]any{"name": "care_plan"}), http.StatusCreated, nil)
	e.svc = e.serviceAccount("svc@example.org", e.dev)
	e.svc2 = e.serviceAccount("svc2@example.org", e.dev2)
	return e
}

func (e *rulesEnv) rules(name string) []accessRuleDoc {
	e.t.Helper()
	var l accessRuleListDoc
	e.must(e.do("GET", "/api/intervention/"+name+"/access_rule", e.adminID, nil), http.StatusOK, &l)
	return l.Rules
}

func compact(t *testing.T, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestAccessRuleAPI: an administrator loads the seed's P3P, UCSF and
// combined rules as the seed writes them (JSON slips repaired), reads,
// lists, replaces and deletes them; the intervention's own service account
// may do the same; every change is in the audit chain.
func TestAccessRuleAPI(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newRulesEnv(t, url)
		p3p := seedRule(t, "seed_p3p.fixed.json")
		var r accessRuleDoc
		res := e.do("POST", "/api/intervention/decision_support_p3p/access_rule", e.adminID, p3p)
		e.must(res, http.StatusCreated, &r)
		if loc := res.header.Get("Location"); loc != "https://ward.test/api/intervention/decision_support_p3p/access_rule/"+strconv.FormatInt(r.ID, 10) {
			t.Fatalf("Location %q", loc)
		}
		var src struct {
			FunctionDetails json.RawMessage `json:"function_details"`
		}
		if err := json.Unmarshal(p3p, &src); err != nil {
			t.Fatal(err)
		}
		if r.Name != "P3P Access Conditions" || r.Intervention != "decision_support_p3p" || r.Rank != nil || r.Version != 1 ||
			compact(t, r.FunctionDetails) != compact(t, src.FunctionDetails) || r.Error != "" || r.CreatedAt == "" {
			t.Fatalf("created %+v", r)
		}
		var ucsf, combined accessRuleDoc
		e.must(e.do("POST", "/api/intervention/care_plan/access_rule", e.adminID, seedRule(t, "seed_ucsf.fixed.json")), http.StatusCreated, &ucsf)
		e.must(e.do("POST", "/api/intervention/care_plan/access_rule", e.adminID, seedRule(t, "seed_not_in_sr_and_uw.fixed.json")), http.StatusCreated, &combined)
		if got := e.rules("care_plan"); len(got) != 2 || got[0].ID != ucsf.ID || got[1].ID != combined.ID {
			t.Fatalf("care_plan rules %+v", got)
		}

		// The intervention's own service account manages its rules too.
		var mine accessRuleDoc
		path := "/api/intervention/decision_support_p3p/access_rule"
		e.must(e.do("POST", path, e.svc, map[string]any{"name": "staff", "rank": 1,
			"function_details": map[string]any{"function": "in_role_list", "kwargs": []any{
				map[string]any{"name": "role_list", "value": []string{"staff"}}}}}), http.StatusCreated, &mine)
		one := path + "/" + strconv.FormatInt(mine.ID, 10)
		e.must(e.do("GET", one, e.svc, nil), http.StatusOK, &mine)
		if mine.Rank == nil || *mine.Rank != 1 || mine.Name != "staff" {
			t.Fatalf("read back %+v", mine)
		}
		// PUT replaces the whole rule; a stale version is refused.
		e.must(e.doHeader("PUT", one, e.svc, map[string]any{"name": "clinicians", "description": "d",
			"function_details": map[string]any{"function": "in_role_list", "kwargs": []any{
				map[string]any{"name": "role_list", "value": []string{"clinician"}}}}}, "If-Match-Version", "1"), http.StatusOK, &mine)
		if mine.Rank != nil || mine.Name != "clinicians" || mine.Description != "d" || mine.Version != 2 {
			t.Fatalf("replaced %+v", mine)
		}
		e.problem(e.doHeader("PUT", one, e.adminID, map[string]any{"name": "x",
			"function_details": map[string]any{"function": "tx_begun", "kwargs": []any{
				map[string]any{"name": "boolean_value", "value": "true"}}}}, "If-Match-Version", "1"), http.StatusConflict)
		// A rule is addressed through its own intervention only.
		e.problem(e.do("GET", "/api/intervention/care_plan/access_rule/"+strconv.FormatInt(mine.ID, 10), e.adminID, nil), http.StatusNotFound)
		e.problem(e.do("GET", path+"/99999", e.adminID, nil), http.StatusNotFound)
		e.problem(e.do("GET", "/api/intervention/ghost/access_rule", e.adminID, nil), http.StatusNotFound)
		e.must(e.do("DELETE", one, e.svc, nil), http.StatusNoContent, nil)
		e.problem(e.do("DELETE", one, e.adminID, nil), http.StatusNotFound)
		if got := e.rules("decision_support_p3p"); len(got) != 1 || got[0].ID != r.ID {
			t.Fatalf("after delete %+v", got)
		}

		evs, _, err := e.aud.List(actor.System(context.Background()), audit.Filter{}, store.Page{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[audit.EventType]int{}
		for _, ev := range evs {
			if strings.HasPrefix(ev.Subject, "AccessRule/") {
				seen[ev.Type]++
			}
		}
		if seen[audit.AccessRuleCreated] != 4 || seen[audit.AccessRuleUpdated] != 1 || seen[audit.AccessRuleDeleted] != 1 {
			t.Fatalf("access rule events %v", seen)
		}
	})
}

// TestAccessRuleAPIRefused: a developer (even the client's owner), another
// intervention's service account, staff and patients are refused every
// operation, anonymous callers too, and nothing changes.
func TestAccessRuleAPIRefused(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newRulesEnv(t, url)
		var r accessRuleDoc
		path := "/api/intervention/decision_support_p3p/access_rule"
		e.must(e.do("POST", path, e.adminID, seedRule(t, "seed_ucsf.fixed.json")), http.StatusCreated, &r)
		one := path + "/" + strconv.FormatInt(r.ID, 10)
		body := seedRule(t, "seed_not_in_sr_and_uw.fixed.json")
		ops := []struct {
			method, path string
			body         any
		}{
			{"GET", path, nil}, {"POST", path, body}, {"GET", one, nil}, {"PUT", one, body}, {"DELETE", one, nil},
		}
		for _, op := range ops {
			for _, who := range []int64{e.dev, e.svc2, e.staff, e.patient} {
				e.problem(e.do(op.method, op.path, who, op.body), http.StatusForbidden)
			}
			e.problem(e.do(op.method, op.path, 0, op.body), http.StatusUnauthorized)
		}
		if got := e.rules("decision_support_p3p"); len(got) != 1 || got[0].Version != 1 || got[0].Name != "UCSF Patients" {
			t.Fatalf("a refused call changed the rules: %+v", got)
		}
	})
}

// rule builds a rule body around one function_details.
func rule(name string, details any) map[string]any {
	return map[string]any{"name": name, "function_details": details}
}

func fn(function string, kwargs ...any) map[string]any {
	return map[string]any{"function": function, "kwargs": kwargs}
}

func kw(name string, value any) map[string]any { return map[string]any{"name": name, "value": value} }

// nested returns combine_strategies nested depth levels deep around tx_begun.
func nested(depth int) map[string]any {
	inner := fn("tx_begun", kw("boolean_value", "true"))
	for range depth {
		inner = fn("combine_strategies", kw("strategy_1", inner["function"]), kw("strategy_1_kwargs", inner["kwargs"]))
	}
	return inner
}

// TestAccessRuleAPIBadInput: every kind of bad rule is a 400 naming the
// problem (413 for a body over the API's limit) on both databases, on
// create and on replace, and nothing is stored or changed.
func TestAccessRuleAPIBadInput(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newRulesEnv(t, url)
		cp := "/api/intervention/care_plan/access_rule"
		sr := "/api/intervention/sexual_recovery/access_rule"
		var ranked, link accessRuleDoc
		e.must(e.do("POST", cp, e.adminID, map[string]any{"name": "first", "rank": 1,
			"function_details": fn("in_role_list", kw("role_list", []string{"patient"}))}), http.StatusCreated, &ranked)
		// care_plan → sexual_recovery is fine on its own.
		e.must(e.do("POST", cp, e.adminID, rule("not in sr", fn("allow_if_not_in_intervention",
			kw("intervention_name", "sexual_recovery")))), http.StatusCreated, &link)
		before := map[string][]accessRuleDoc{"care_plan": e.rules("care_plan"), "sexual_recovery": e.rules("sexual_recovery")}

		cases := []struct {
			name, path string
			body       any
			status     int
			detail     string
		}{
			{"not JSON", cp, "{", 400, "not valid JSON"},
			{"empty body", cp, "", 400, "body is required"},
			{"trailing data", cp, `{"name":"x","function_details":{"function":"tx_begun","kwargs":[{"name":"boolean_value","value":"true"}]}} {}`, 400, "trailing data"},
			{"unknown key", cp, map[string]any{"name": "x", "function_details": fn("tx_begun", kw("boolean_value", "true")), "code": "x()"}, 400, "unknown field"},
			{"unknown function", cp, rule("x", fn("launch_missiles")), 400, `unknown function "launch_missiles"`},
			{"kwarg of wrong type", cp, rule("x", fn("in_role_list", kw("role_list", "patient"))), 400, `"role_list" must be a list of strings`},
			{"boolean of wrong type", cp, rule("x", fn("tx_begun", kw("boolean_value", "maybe"))), 400, `"boolean_value" must be true or false`},
			{"kwarg of wrong name", cp, rule("x", fn("tx_begun", kw("boolean_value", "true"), kw("colour", "red"))), 400, `unknown kwarg "colour"`},
			{"kwargs without strategy", cp, rule("x", fn("combine_strategies", kw("strategy_1", "tx_begun"),
				kw("strategy_1_kwargs", []any{kw("boolean_value", "true")}), kw("strategy_2_kwargs", []any{}))), 400, "strategy_2_kwargs is given without strategy_2"},
			{"numbering gap", cp, rule("x", fn("combine_strategies", kw("strategy_1", "tx_begun"),
				kw("strategy_1_kwargs", []any{kw("boolean_value", "true")}), kw("strategy_3", "tx_begun"),
				kw("strategy_3_kwargs", []any{kw("boolean_value", "false")}))), 400, "strategy_2 is missing"},
			{"rank collision", cp, map[string]any{"name": "x", "rank": 1, "function_details": fn("tx_begun", kw("boolean_value", "true"))},
				400, "rank 1 is taken by access rule " + strconv.FormatInt(ranked.ID, 10) + ` ("first")`},
			{"negative rank", cp, map[string]any{"name": "x", "rank": -1, "function_details": fn("tx_begun", kw("boolean_value", "true"))}, 400, "rank must be"},
			{"unknown organization", cp, rule("x", fn("limit_by_clinic_list", kw("org_list", []string{"Nowhere Clinic"}))), 400, `no organization is named "Nowhere Clinic"`},
			{"unknown identifier", cp, rule("x", fn("limit_by_clinic_w_id", kw("identifier_value", "p4p"))), 400, "no organization has identifier " + strategy.DecisionSupportGroup + "|p4p"},
			{"unknown role", cp, rule("x", fn("in_role_list", kw("role_list", []string{"emperor"}))), 400, `no role is named "emperor"`},
			{"unknown concept", cp, rule("x", fn("observation_check", kw("display", "PCa cured"), kw("boolean_value", "true"))), 400, `no observation concept has display "PCa cured"`},
			{"unknown intervention", cp, rule("x", fn("allow_if_not_in_intervention", kw("intervention_name", "ghost"))), 400, `no intervention is named "ghost"`},
			{"nesting too deep", cp, rule("x", nested(6)), 400, "nests deeper than 5"},
			{"cycle A→B→A", sr, rule("x", fn("allow_if_not_in_intervention", kw("intervention_name", "care_plan"))), 400,
				"cycle: sexual_recovery → care_plan → sexual_recovery"},
			{"cycle A→A", cp, rule("x", fn("allow_if_not_in_intervention", kw("intervention_name", "care_plan"))), 400,
				"cycle: care_plan → care_plan"},
			{"cycle inside a combination", sr, rule("x", fn("combine_strategies", kw("combinator", "any"),
				kw("strategy_1", "tx_begun"), kw("strategy_1_kwargs", []any{kw("boolean_value", "true")}),
				kw("strategy_2", "allow_if_not_in_intervention"), kw("strategy_2_kwargs", []any{kw("intervention_name", "care_plan")}))), 400,
				"cycle: sexual_recovery → care_plan → sexual_recovery"},
			{"NUL escaped in name", cp, `{"name":"a\u0000b","function_details":{"function":"tx_begun","kwargs":[{"name":"boolean_value","value":"true"}]}}`, 400, "name is required"},
			{"NUL byte", cp, "{\"name\":\"a\x00b\",\"function_details\":{}}", 400, "NUL byte"},
			{"invalid UTF-8", cp, "{\"name\":\"a\xffb\",\"function_details\":{\"function\":\"tx_begun\",\"kwargs\":[{\"name\":\"boolean_value\",\"value\":\"true\"}]}}", 400, "not valid UTF-8"},
			{"invalid UTF-8 in a kwarg", cp, "{\"name\":\"x\",\"function_details\":{\"function\":\"in_role_list\",\"kwargs\":[{\"name\":\"role_list\",\"value\":[\"\xff\"]}]}}", 400, "not valid UTF-8"},
			{"rule over 64 KiB", cp, map[string]any{"name": "x", "description": strings.Repeat("a", 70<<10),
				"function_details": fn("tx_begun", kw("boolean_value", "true"))}, 400, "larger than"},
			{"body over the API limit", cp, `{"name":"` + strings.Repeat("a", api.MaxBodyBytes) + `"}`, 413, ""},
			{"replace with an unknown function", cp + "/" + strconv.FormatInt(ranked.ID, 10), rule("x", fn("launch_missiles")), 400, "unknown function"},
			{"replace closing a cycle", cp + "/" + strconv.FormatInt(ranked.ID, 10), rule("x", fn("allow_if_not_in_intervention", kw("intervention_name", "care_plan"))), 400, "cycle: care_plan → care_plan"},
			{"replace with bad text", cp + "/" + strconv.FormatInt(ranked.ID, 10), "{\"name\":\"\xff\"}", 400, "not valid UTF-8"},
			{"bad rule id", cp + "/abc", rule("x", fn("tx_begun", kw("boolean_value", "true"))), 400, "positive integer"},
		}
		for _, c := range cases {
			method := "POST"
			if strings.Count(c.path, "/") == 5 {
				method = "PUT"
			}
			p := e.problem(e.do(method, c.path, e.adminID, c.body), c.status)
			if !strings.Contains(p.Detail, c.detail) {
				t.Errorf("%s: detail %q, want it to name %q", c.name, p.Detail, c.detail)
			}
		}
		for name, want := range before {
			got := e.rules(name)
			if len(got) != len(want) {
				t.Fatalf("refused input changed %s's rules: %+v", name, got)
			}
			for i := range got {
				if got[i].ID != want[i].ID || got[i].Version != want[i].Version || got[i].Name != want[i].Name {
					t.Fatalf("refused input changed %s's rules: %+v", name, got)
				}
			}
		}
	})
}

// TestAccessRuleAPIBrokenRule: a stored rule whose organization is deleted
// no longer compiles; the listing says why (it grants nothing), and it
// compiles again once an organization of that name exists.
func TestAccessRuleAPIBrokenRule(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newRulesEnv(t, url)
		sys := actor.System(context.Background())
		tmp, err := e.dir.CreateOrganization(sys, &directory.Organization{Name: "Temp Clinic"})
		if err != nil {
			t.Fatal(err)
		}
		cp := "/api/intervention/care_plan/access_rule"
		var r accessRuleDoc
		e.must(e.do("POST", cp, e.adminID, rule("temp", fn("limit_by_clinic_list", kw("org_list", []string{"Temp Clinic"})))), http.StatusCreated, &r)
		if got := e.rules("care_plan"); len(got) != 1 || got[0].Error != "" {
			t.Fatalf("fresh rule %+v", got)
		}
		if err := e.dir.DeleteOrganization(sys, tmp.ID); err != nil {
			t.Fatal(err)
		}
		got := e.rules("care_plan")
		if len(got) != 1 || !strings.Contains(got[0].Error, `no organization is named "Temp Clinic"`) {
			t.Fatalf("after the organization went: %+v", got)
		}
		e.must(e.do("GET", cp+"/"+strconv.FormatInt(r.ID, 10), e.adminID, nil), http.StatusOK, &r)
		if r.Error == "" {
			t.Fatal("the single-rule answer hides the error")
		}
		if _, err := e.dir.CreateOrganization(sys, &directory.Organization{Name: "Temp Clinic"}); err != nil {
			t.Fatal(err)
		}
		if got := e.rules("care_plan"); got[0].Error != "" {
			t.Fatalf("after the organization returned: %+v", got)
		}
	})
}
