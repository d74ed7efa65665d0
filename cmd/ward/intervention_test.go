package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ward/internal/testutil"
)

func TestInterventionCommands(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		c := newCLI(t, dbURL)
		card := filepath.Join(t.TempDir(), "card.html")
		if err := os.WriteFile(card, []byte("<p>P3P <b>card</b></p>"), 0o600); err != nil {
			t.Fatal(err)
		}
		out := c.must("intervention", "create", "decision_support_p3p", "--description", "P3P",
			"--card-html-file", card, "--link-url", "https://p3p.example.org/", "--display-rank", "2", "--json")
		var iv interventionOut
		if err := json.Unmarshal([]byte(out), &iv); err != nil {
			t.Fatalf("create --json printed %q: %v", out, err)
		}
		if iv.Name != "decision_support_p3p" || !iv.PublicAccess || iv.CardHTML != "<p>P3P <b>card</b></p>" || iv.DisplayRank != 2 {
			t.Fatalf("created %+v", iv)
		}
		c.must("intervention", "create", "care_plan")
		out = c.must("intervention", "update", "decision_support_p3p", "--public-access=false", "--status-text", "Closed", "--json")
		if err := json.Unmarshal([]byte(out), &iv); err != nil {
			t.Fatal(err)
		}
		if iv.PublicAccess || iv.StatusText != "Closed" || iv.LinkURL != "https://p3p.example.org/" || iv.Version != 2 {
			t.Fatalf("updated %+v", iv)
		}
		if out := c.must("intervention", "show", "decision_support_p3p"); !strings.Contains(out, "Closed") || !strings.Contains(out, "22 bytes") {
			t.Fatalf("show printed %q", out)
		}
		out = c.must("intervention", "list")
		if strings.Index(out, "care_plan") > strings.Index(out, "decision_support_p3p") || !strings.Contains(out, "false") {
			t.Fatalf("list printed %q", out)
		}
		c.must("intervention", "delete", "care_plan")
		for _, bad := range [][]string{
			{"intervention", "show", "care_plan"},
			{"intervention", "create", "decision_support_p3p"},
			{"intervention", "create", "Bad-Name"},
			{"intervention", "create", "x1", "--link-url", "javascript:alert(1)"},
			{"intervention", "create", "x2", "--status-text", "a\x00b"},
			{"intervention", "update", "decision_support_p3p", "--card-html", "x", "--card-html-file", card},
		} {
			if code, _, errs := c.run(bad...); code == 0 || errs == "" {
				t.Errorf("ward %s = exit %d stderr %q, want a refusal", strings.Join(bad, " "), code, errs)
			}
		}
	})
}
