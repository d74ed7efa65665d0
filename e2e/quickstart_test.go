package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"ward/internal/testutil"
)

// quickstartMarker precedes each README block the quickstart test runs.
const quickstartMarker = "<!-- quickstart -->"

// readmeBlocks returns the README's first fenced block and the ```sh
// blocks that directly follow a quickstart marker, in order.
func readmeBlocks(t *testing.T) (first string, quickstart []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatalf("read README.md: %v", err)
	}
	lines := strings.Split(string(data), "\n")
	block := func(i int) (string, int) { // i is the opening fence
		var b strings.Builder
		for j := i + 1; j < len(lines); j++ {
			if strings.TrimSpace(lines[j]) == "```" {
				return b.String(), j
			}
			b.WriteString(lines[j] + "\n")
		}
		t.Fatalf("README.md line %d: a fenced block that never closes", i+1)
		return "", 0
	}
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if first == "" && strings.HasPrefix(line, "```") {
			first, _ = block(i)
			continue
		}
		if line != quickstartMarker {
			continue
		}
		if i+1 >= len(lines) || strings.TrimSpace(lines[i+1]) != "```sh" {
			t.Fatalf("README.md line %d: %s is not followed by a ```sh block", i+1, quickstartMarker)
		}
		b, end := block(i + 1)
		quickstart = append(quickstart, b)
		i = end
	}
	return first, quickstart
}

// needTools skips the test when a tool the quickstart uses is missing,
// except in CI (CI=true), where that is a failure.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if testutil.InCI() {
				t.Fatalf("%s is not installed; the README quickstart test must run in CI", tool)
			}
			t.Skipf("%s is not installed; skipping the README quickstart", tool)
		}
	}
}

// TestReadmeQuickstart pastes the README's quickstart blocks into bash, in
// order, against `ward serve` on a fresh instance, as a new user would:
// each must succeed and print something, with the demo data in the
// searches and the export. `go run ./cmd/ward` in the blocks runs the
// binary built for the e2e tests (a stand-in `go` on PATH), so the test
// follows the README without compiling ward once per command.
func TestReadmeQuickstart(t *testing.T) {
	first, blocks := readmeBlocks(t)
	// The README starts with the two commands a fresh clone needs.
	if first != "go run ./cmd/ward serve\ngo test ./...\n" {
		t.Errorf("README.md's first block is %q, want go run ./cmd/ward serve and go test ./...", first)
	}
	if len(blocks) < 4 {
		t.Fatalf("README.md has %d quickstart blocks, want at least 4 (each after %s)", len(blocks), quickstartMarker)
	}
	needTools(t, "bash", "curl", "jq")

	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		dataDir := filepath.Join(t.TempDir(), "ward-data")
		work := t.TempDir() // the shell's directory: jar.txt, manifest.json
		bin := t.TempDir()
		shim := fmt.Sprintf(`#!/bin/sh
if [ "$1" = run ] && [ "$2" = ./cmd/ward ]; then shift 2; exec %s "$@"; fi
echo "quickstart test: the README runs 'go $*'; only 'go run ./cmd/ward' is stood in for" >&2
exit 2
`, shellQuote(wardBin))
		if err := os.WriteFile(filepath.Join(bin, "go"), []byte(shim), 0o755); err != nil {
			t.Fatal(err)
		}

		// In the README, serve runs in the first terminal.
		base := serve(t, dataDir, dbURL)

		var script strings.Builder
		script.WriteString("set -euo pipefail\n")
		// A plain shell variable, as the README says: exported, every ward
		// command would refuse it.
		fmt.Fprintf(&script, "WARD_URL=%s\n", shellQuote(base))
		for i, b := range blocks {
			fmt.Fprintf(&script, "echo '=== quickstart block %d'\n%s", i+1, b)
		}
		fmt.Fprintf(&script, "echo '=== quickstart done'\n")

		// Generous: the export and a dozen commands on a busy machine.
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
		cmd.Dir = work
		cmd.Env = append(withoutWard(os.Environ()), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
			"WARD_DATA_DIR="+dataDir, "WARD_DATABASE_URL="+dbURL)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		out := stdout.String()
		if err != nil {
			t.Fatalf("the quickstart failed (%v) in block %s\nstdout:\n%s\nstderr:\n%s", err, lastBlock(out), out, stderr.String())
		}
		t.Logf("the quickstart's output:\n%s", out)
		parts := regexp.MustCompile(`(?m)^=== quickstart (?:block \d+|done)\n`).Split(out, -1)
		if len(parts) != len(blocks)+2 {
			t.Fatalf("output has %d sections, want one per block:\n%s", len(parts)-2, out)
		}
		for i, p := range parts[1 : len(blocks)+1] {
			if strings.TrimSpace(p) == "" {
				t.Errorf("quickstart block %d printed nothing", i+1)
			}
		}
		for _, want := range []string{
			"303",                                 // signed in
			"audit chain OK",                      // verify
			`"active": true`,                      // introspection
			`"client_name": "Demo Patient Diary"`, // the app is listed
			"Okafor",                              // a demo patient found by search
			`"systolic": 118`,                     // her blood pressure
			`"resourceType":"Patient"`,            // a line of an export file
		} {
			if !strings.Contains(out, want) {
				t.Errorf("the quickstart's output lacks %q:\n%s", want, out)
			}
		}

		// The export the README polls for holds the demo data.
		data, err := os.ReadFile(filepath.Join(work, "manifest.json"))
		if err != nil {
			t.Fatalf("manifest.json: %v", err)
		}
		var m manifest
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("manifest.json: %v: %s", err, data)
		}
		counts := map[string]int{}
		for _, o := range m.Output {
			counts[o.Type] += o.Count
		}
		if counts["Patient"] != 10 || counts["Observation"] == 0 || counts["Procedure"] == 0 {
			t.Errorf("the quickstart's export holds %v, want the 10 demo patients, their observations and procedures", counts)
		}
	})
}

// lastBlock names the last block the output shows starting.
func lastBlock(out string) string {
	m := regexp.MustCompile(`(?m)^=== quickstart block (\d+)$`).FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return "(none started)"
	}
	return m[len(m)-1][1]
}

// withoutWard drops the WARD_ variables of the test's own environment
// (WARD_TEST_POSTGRES_URL and such), so the shell sees only the ones the
// test sets, as a user's would.
func withoutWard(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "WARD_") && !strings.HasPrefix(kv, "PATH=") {
			out = append(out, kv)
		}
	}
	return out
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
