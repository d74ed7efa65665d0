package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ward/internal/testutil"
)

// runIn runs ward with exactly args and env (no --data-dir added).
func runIn(env []string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, env, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func mustNotExist(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("%s was created (stat: %v)", path, err)
	}
}

// wantRefusal checks a command refused a missing data directory, naming
// where it looked and how to fix it, and created nothing.
func wantRefusal(t *testing.T, code int, errs, dir string) {
	t.Helper()
	if code != 1 {
		t.Errorf("exit %d, want 1; stderr %q", code, errs)
	}
	for _, want := range []string{dir + " does not exist", "--data-dir", "WARD_DATABASE_URL", "ward migrate"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr %q does not mention %q", errs, want)
		}
	}
	mustNotExist(t, dir)
}

// A command run where no instance lives refuses instead of creating a new
// database and master key; migrate (which starts instances) still creates.
func TestMissingDataDirIsRefused(t *testing.T) {
	t.Run("default directory", func(t *testing.T) {
		cwd := t.TempDir()
		t.Chdir(cwd)
		env := []string{"HOME=/nonexistent"}
		for _, args := range [][]string{{"client", "list"}, {"add-user", "--email", "a@example.org", "--password", "violet-moth-1", "--role", "admin"}, {"audit", "verify"}, {"keys", "list"}} {
			code, _, errs := runIn(env, args...)
			wantRefusal(t, code, errs, filepath.Join(cwd, "ward-data"))
			if !strings.Contains(errs, "default ./ward-data") {
				t.Errorf("ward %v: stderr %q does not say the directory is the default", args, errs)
			}
		}
		if code, _, errs := runIn(env, "migrate"); code != 0 {
			t.Fatalf("migrate in a fresh directory = %d: %s", code, errs)
		}
		if code, _, errs := runIn(env, "client", "list"); code != 0 {
			t.Fatalf("client list after migrate = %d: %s", code, errs)
		}
	})
	t.Run("flag and WARD_DATA_DIR", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "elsewhere")
		code, _, errs := runIn([]string{"HOME=/nonexistent"}, "client", "list", "--data-dir", missing)
		wantRefusal(t, code, errs, missing)
		if !strings.Contains(errs, "from --data-dir") {
			t.Errorf("stderr %q does not name --data-dir as the source", errs)
		}
		code, _, errs = runIn([]string{"HOME=/nonexistent", "WARD_DATA_DIR=" + missing}, "token", "inspect", "ward_at_x")
		wantRefusal(t, code, errs, missing)
		if !strings.Contains(errs, "from WARD_DATA_DIR") {
			t.Errorf("stderr %q does not name WARD_DATA_DIR as the source", errs)
		}
	})
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		missing := filepath.Join(t.TempDir(), "no-key-here")
		env := []string{"HOME=/nonexistent", "WARD_DATABASE_URL=" + dbURL}
		code, _, errs := runIn(env, "client", "list", "--data-dir", missing)
		wantRefusal(t, code, errs, missing)
		if !strings.HasPrefix(dbURL, "postgres") {
			return
		}
		if !strings.Contains(errs, "master key") {
			t.Errorf("stderr %q does not say the master key is what would be lost", errs)
		}
		// With the key given, PostgreSQL needs nothing from the directory.
		key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
		if code, _, errs := runIn(append(env, "WARD_MASTER_KEY="+key), "client", "list", "--data-dir", missing); code != 0 {
			t.Errorf("client list on PostgreSQL with WARD_MASTER_KEY = %d: %s", code, errs)
		}
	})
}

// Every command validates the configuration as serve does: migrate used
// to accept log settings serve refuses.
func TestCommandsValidateConfig(t *testing.T) {
	c := newCLI(t, "sqlite://"+filepath.Join(t.TempDir(), "ward.db"))
	for _, bad := range []struct{ env, says string }{
		{"WARD_LOG_LEVEL=loud", "log level"},
		{"WARD_LOG_FORMAT=xml", "log format"},
	} {
		for _, args := range [][]string{{"migrate"}, {"client", "list"}} {
			bc := c
			bc.env = append(append([]string{}, c.env...), bad.env)
			code, _, errs := bc.run(args...)
			if code != 1 || !strings.Contains(errs, bad.says) {
				t.Errorf("%s ward %v = exit %d, stderr %q; want 1 naming the %s", bad.env, args, code, errs, bad.says)
			}
		}
	}
	c.must("migrate")
}
