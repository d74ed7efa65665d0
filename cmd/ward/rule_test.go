package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"ward/internal/actor"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/server"
	"ward/internal/testutil"
)

// TestRuleCommands: the seed's UCSF rule is added from a file, another
// from stdin; list, show, update and delete work and print JSON with
// --json; bad rules and bad ids are refused with a message, storing
// nothing.
func TestRuleCommands(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		c := newCLI(t, dbURL)
		c.must("intervention", "create", "care_plan")
		c.must("intervention", "create", "sexual_recovery")
		// The UCSF rule names an organization; the CLI creates none.
		cfg := config.Default()
		cfg.DataDir, cfg.DatabaseURL = t.TempDir(), dbURL
		svc, err := server.OpenServices(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Directory.CreateOrganization(actor.System(context.Background()), &directory.Organization{Name: "UCSF"}); err != nil {
			t.Fatal(err)
		}
		svc.Close()

		out := c.must("intervention", "rule", "add", "care_plan", "--file", "../../internal/intervention/strategy/testdata/seed_ucsf.fixed.json", "--json")
		var r accessRuleOut
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("add --json printed %q: %v", out, err)
		}
		if r.Name != "UCSF Patients" || r.Intervention != "care_plan" || r.Version != 1 || r.ID == 0 || !strings.Contains(string(r.FunctionDetails), "limit_by_clinic_list") {
			t.Fatalf("added %+v", r)
		}
		code, out, errs := c.runStdin(`{"name":"staff","rank":2,"function_details":{"function":"in_role_list","kwargs":[{"name":"role_list","value":["staff"]}]}}`,
			"intervention", "rule", "add", "care_plan", "--file", "-")
		if code != 0 || !strings.Contains(out, "added access rule") || !strings.Contains(out, "rank 2") {
			t.Fatalf("add from stdin = exit %d, %q %q", code, out, errs)
		}
		id := strconv.FormatInt(r.ID, 10)

		if out := c.must("intervention", "rule", "list", "care_plan"); !strings.Contains(out, "UCSF Patients") || !strings.Contains(out, "staff") {
			t.Fatalf("list printed %q", out)
		}
		var list []accessRuleOut
		if err := json.Unmarshal([]byte(c.must("intervention", "rule", "list", "care_plan", "--json")), &list); err != nil || len(list) != 2 {
			t.Fatalf("list --json: %v %+v", err, list)
		}
		if out := c.must("intervention", "rule", "show", "care_plan", id); !strings.Contains(out, "UCSF Patients") || !strings.Contains(out, "org_list") {
			t.Fatalf("show printed %q", out)
		}

		upd := filepath.Join(t.TempDir(), "rule.json")
		if err := os.WriteFile(upd, []byte(`{"name":"not begun","function_details":{"function":"tx_begun","kwargs":[{"name":"boolean_value","value":"false"}]}}`), 0o600); err != nil {
			t.Fatal(err)
		}
		out = c.must("intervention", "rule", "update", "care_plan", id, "--file", upd, "--version", "1", "--json")
		if err := json.Unmarshal([]byte(out), &r); err != nil || r.Name != "not begun" || r.Version != 2 {
			t.Fatalf("update printed %q (%v)", out, err)
		}

		bad := filepath.Join(t.TempDir(), "bad.json")
		if err := os.WriteFile(bad, []byte(`{"name":"x","function_details":{"function":"launch_missiles","kwargs":[]}}`), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range []struct {
			argv []string
			want string
		}{
			{[]string{"intervention", "rule", "add", "care_plan", "--file", bad}, "unknown function"},
			{[]string{"intervention", "rule", "add", "care_plan"}, "--file is required"},
			{[]string{"intervention", "rule", "add", "ghost", "--file", upd}, "not found"},
			{[]string{"intervention", "rule", "update", "care_plan", id, "--file", upd, "--version", "1"}, "version"},
			{[]string{"intervention", "rule", "update", "care_plan", id, "--file", bad}, "unknown function"},
			{[]string{"intervention", "rule", "show", "care_plan", "x"}, "positive integer"},
			{[]string{"intervention", "rule", "show", "sexual_recovery", id}, "no access rule"},
		} {
			if code, _, errs := c.run(args.argv...); code == 0 || !strings.Contains(errs, args.want) {
				t.Errorf("ward %s = exit %d stderr %q, want a refusal naming %q", strings.Join(args.argv, " "), code, errs, args.want)
			}
		}
		if code, _, errs := c.runStdin(`{"name":"me","function_details":{"function":"allow_if_not_in_intervention","kwargs":[{"name":"intervention_name","value":"care_plan"}]}}`,
			"intervention", "rule", "add", "care_plan", "--file", "-"); code == 0 || !strings.Contains(errs, "cycle") {
			t.Errorf("a self-referencing rule = exit %d, stderr %q", code, errs)
		}

		c.must("intervention", "rule", "delete", "care_plan", id)
		if err := json.Unmarshal([]byte(c.must("intervention", "rule", "list", "care_plan", "--json")), &list); err != nil || len(list) != 1 || list[0].Name != "staff" {
			t.Fatalf("after delete: %v %+v", err, list)
		}
	})
}
