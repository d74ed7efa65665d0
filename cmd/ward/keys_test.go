package main

import (
	"regexp"
	"strings"
	"testing"

	"ward/internal/testutil"
)

func TestKeysCommands(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		c := newCLI(t, dbURL)

		// A database the server never started on has no keys yet.
		out := c.must("keys", "list")
		if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "KID") {
			t.Fatalf("keys list on a fresh database printed %q, want only the header", out)
		}

		for _, bad := range []string{"0", "-1h"} {
			code, _, errs := c.run("keys", "rotate", "--max-token-lifetime", bad)
			if code != 1 || !strings.Contains(errs, "max-token-lifetime") {
				t.Errorf("rotate --max-token-lifetime %s: exit %d stderr %q, want 1 naming the flag", bad, code, errs)
			}
		}
		if out := c.must("keys", "list"); strings.Count(out, "\n") != 1 {
			t.Fatalf("a refused rotation created keys:\n%s", out)
		}

		newKey := regexp.MustCompile(`(?m)^new current (ES256|RS256) key (\S+)$`)
		first := newKey.FindAllStringSubmatch(c.must("keys", "rotate"), -1)
		out = c.must("keys", "rotate", "--max-token-lifetime", "2h")
		second := newKey.FindAllStringSubmatch(out, -1)
		if len(first) != 2 || len(second) != 2 || !strings.Contains(out, "previous keys stay published until") {
			t.Fatalf("rotate printed %q, want a new ES256 and RS256 key and the retire time", out)
		}

		out = c.must("keys", "list")
		status := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			f := strings.Fields(line)
			status[f[0]] = strings.Join(f[2:len(f)-2], " ")
		}
		for _, m := range first {
			if got := status[m[2]]; got != "retired, published" {
				t.Errorf("first-rotation %s key %s is %q, want retired, published", m[1], m[2], got)
			}
		}
		for _, m := range second {
			if got := status[m[2]]; got != "current" {
				t.Errorf("second-rotation %s key %s is %q, want current", m[1], m[2], got)
			}
		}
		if len(status) != 4 {
			t.Errorf("keys list shows %d keys, want 4:\n%s", len(status), out)
		}
		for _, leak := range []string{"PRIVATE KEY", `"d"`} {
			if strings.Contains(out, leak) {
				t.Errorf("keys list printed %q", leak)
			}
		}

		// Nothing has retired yet, so nothing is pruned.
		if out := c.must("keys", "prune"); out != "deleted 0 retired signing keys\n" {
			t.Errorf("keys prune printed %q", out)
		}
		// Creation and rotation are audited, and the chain holds.
		if out := c.must("audit", "verify"); !strings.HasPrefix(out, "audit chain OK: 4 events") {
			t.Errorf("audit verify printed %q, want 4 events (two rotations of two keys)", out)
		}
	})
}
