package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // to tamper with the audit table directly

	"ward/internal/config"
	"ward/internal/server"
	"ward/internal/testutil"
)

// cli runs ward in-process with env and returns the exit status and output.
type cli struct {
	t   *testing.T
	env []string
	dir string
}

func (c cli) run(args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	args = append(args, "--data-dir", c.dir)
	code = run(context.Background(), args, c.env, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// must runs args and fails the test unless they exit 0.
func (c cli) must(args ...string) string {
	c.t.Helper()
	code, out, errs := c.run(args...)
	if code != 0 {
		c.t.Fatalf("ward %s = exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func newCLI(t *testing.T, dbURL string) cli {
	return cli{t: t, env: []string{"WARD_DATABASE_URL=" + dbURL, "HOME=/nonexistent"}, dir: t.TempDir()}
}

// canLogin reports whether email/password signs in, checked through the
// same services the server uses.
func canLogin(t *testing.T, dbURL, email, password string) bool {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir, cfg.DatabaseURL = t.TempDir(), dbURL
	svc, err := server.OpenServices(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open services: %v", err)
	}
	defer svc.Close()
	_, _, err = svc.Sessions.Login(context.Background(), email, password)
	return err == nil
}

func TestCommands(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		c := newCLI(t, dbURL)

		// migrate is idempotent.
		for i := 0; i < 2; i++ {
			if out := c.must("migrate"); !strings.Contains(out, "up to date") {
				t.Errorf("migrate #%d printed %q", i+1, out)
			}
		}

		out := c.must("add-user", "--email", "root@example.org", "--password", "first-password-1", "--role", "admin")
		if !regexp.MustCompile(`created user \d+ \(root@example.org\)`).MatchString(out) {
			t.Errorf("add-user printed %q", out)
		}
		c.must("add-user", "--email", "nurse@example.org", "--password", "violet-moth-1", "--role", "staff", "--role", "clinician")
		if code, _, errs := c.run("add-user", "--email", "root@example.org", "--password", "x-password-2", "--role", "staff"); code == 0 {
			t.Errorf("adding a duplicate email succeeded; stderr %q", errs)
		} else if !strings.Contains(errs, "a user with this email already exists") || strings.Contains(errs, "constraint") {
			t.Errorf("a duplicate email says %q, want \"a user with this email already exists\" and no driver text", errs)
		}
		// Without --role the user would exist but be able to do nothing.
		if code, _, errs := c.run("add-user", "--email", "norole@example.org", "--password", "violet-moth-2"); code != 1 ||
			!strings.Contains(errs, "--role") || !strings.Contains(errs, "admin") || !strings.Contains(errs, "patient") {
			t.Errorf("add-user without --role = exit %d, stderr %q; want 1 naming --role and the roles", code, errs)
		}
		if canLogin(t, dbURL, "norole@example.org", "violet-moth-2") {
			t.Error("add-user without --role created the user anyway")
		}
		if code, _, _ := c.run("add-user", "--email", "x@example.org", "--password", "pw-pw-pw-pw", "--role", "emperor"); code == 0 {
			t.Error("adding a user with an unknown role succeeded")
		}
		if !canLogin(t, dbURL, "root@example.org", "first-password-1") {
			t.Fatal("the added admin cannot sign in")
		}

		t.Run("password-reset by a non-admin is refused", func(t *testing.T) {
			code, _, errs := c.run("password-reset", "--email", "root@example.org", "--password", "taken-over-1", "--actor", "nurse@example.org")
			if code != 1 || !strings.Contains(errs, "not an admin") {
				t.Errorf("exit %d stderr %q, want 1 and 'not an admin'", code, errs)
			}
			if canLogin(t, dbURL, "root@example.org", "taken-over-1") {
				t.Error("the refused reset changed the password anyway")
			}
		})
		t.Run("password-reset by an unknown actor is refused", func(t *testing.T) {
			code, _, errs := c.run("password-reset", "--email", "nurse@example.org", "--password", "pw-new-1234", "--actor", "ghost@example.org")
			if code != 1 || !strings.Contains(errs, "ghost@example.org") {
				t.Errorf("exit %d stderr %q, want 1 naming the unknown actor", code, errs)
			}
		})
		t.Run("password-reset by an admin", func(t *testing.T) {
			c.must("password-reset", "--email", "nurse@example.org", "--password", "violet-moth-2", "--actor", "root@example.org")
			if !canLogin(t, dbURL, "nurse@example.org", "violet-moth-2") || canLogin(t, dbURL, "nurse@example.org", "violet-moth-1") {
				t.Error("after the reset the new password must work and the old must not")
			}
		})

		out = c.must("audit", "verify")
		m := regexp.MustCompile(`^audit chain OK: (\d+) events\n$`).FindStringSubmatch(out)
		if m == nil || m[1] == "0" {
			t.Errorf("audit verify printed %q, want 'audit chain OK: N events' with N > 0", out)
		}

		if out := c.must("version"); !strings.HasPrefix(out, "ward ") {
			t.Errorf("version printed %q", out)
		}
	})
}

func TestUserPurge(t *testing.T) {
	dbURL := testutil.SQLiteURL(t)
	c := newCLI(t, dbURL)
	out := c.must("add-user", "--email", "gone@example.org", "--password", "amber-fern-1", "--role", "patient")
	id := regexp.MustCompile(`created user (\d+)`).FindStringSubmatch(out)[1]
	if out := c.must("user", "purge", "--id", id); !strings.Contains(out, "purged user "+id) {
		t.Errorf("purge printed %q", out)
	}
	if canLogin(t, dbURL, "gone@example.org", "amber-fern-1") {
		t.Error("a purged user can still sign in")
	}
	if code, _, _ := c.run("user", "purge", "--id", id); code == 0 {
		t.Error("purging a user twice succeeded")
	}
	if code, _, _ := c.run("user", "purge", "--id", "0"); code == 0 {
		t.Error("purge --id 0 succeeded")
	}
	// Purging leaves the audit chain intact.
	c.must("audit", "verify")
}

func TestAuditVerifyDetectsTampering(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ward.db")
	c := newCLI(t, "sqlite://"+path)
	c.must("add-user", "--email", "a@example.org", "--password", "a-password-1", "--role", "patient")
	c.must("add-user", "--email", "b@example.org", "--password", "b-password-1", "--role", "patient")

	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_events SET comment = 'nothing happened' WHERE id = 1`); err != nil {
		t.Fatalf("tamper: %v", err)
	}
	db.Close()

	code, out, _ := c.run("audit", "verify")
	if code != 1 {
		t.Errorf("audit verify of a tampered chain = exit %d, want 1", code)
	}
	if !strings.Contains(out, "BROKEN at event 1") || !strings.Contains(out, "nothing happened") {
		t.Errorf("audit verify printed %q, want the first bad event (1) and its stored fields", out)
	}
}

func TestStrictEnvironment(t *testing.T) {
	c := cli{t: t, env: []string{"WARD_DATABSE_URL=postgres://typo"}, dir: t.TempDir()}
	code, _, errs := c.run("migrate")
	if code != 1 || !strings.Contains(errs, "WARD_DATABSE_URL: unknown variable") {
		t.Errorf("migrate with a misspelt variable = exit %d stderr %q, want 1 naming it", code, errs)
	}
}

func TestPasswordFromStdin(t *testing.T) {
	tests := []struct {
		flag, stdin, want string
		wantErr           bool
	}{
		{"plain", "", "plain", false},
		{"-", "from-stdin\n", "from-stdin", false},
		{"-", "crlf\r\n", "crlf", false},
		{"-", "", "", true},
		{"", "", "", true},
	}
	for _, tt := range tests {
		got, err := readPassword(tt.flag, strings.NewReader(tt.stdin))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("readPassword(%q, %q) = %q, %v; want %q, error %v", tt.flag, tt.stdin, got, err, tt.want, tt.wantErr)
		}
	}
}
