package main

import (
	"context"
	"strings"
	"testing"

	"ward/internal/audit"
	"ward/internal/config"
	"ward/internal/server"
	"ward/internal/store"
	"ward/internal/testutil"
)

// TestUnlockAndPasswordReset: `ward user unlock EMAIL` and `ward
// password-reset` clear a lockout, audited; the CLI refuses common
// passwords and unknown emails.
func TestUnlockAndPasswordReset(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		const key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
		c := newCLI(t, dbURL)
		c.env = append(c.env, "WARD_MASTER_KEY="+key)
		c.must("add-user", "--email", "root@example.org", "--password", "first-password-1", "--role", "admin")
		c.must("add-user", "--email", "victim@example.org", "--password", "blue-heron-7", "--role", "patient")

		// The CLI and the server share the master key, so they share the
		// lockout counters.
		cfg := config.Default()
		cfg.DataDir, cfg.DatabaseURL, cfg.MasterKey = t.TempDir(), dbURL, key
		svc, err := server.OpenServices(context.Background(), cfg)
		if err != nil {
			t.Fatalf("open services: %v", err)
		}
		defer svc.Close()
		ctx := context.Background()
		canLogin := func(pw string) bool {
			_, _, err := svc.Sessions.Login(ctx, "victim@example.org", pw)
			return err == nil
		}
		lock := func() {
			t.Helper()
			for range 5 {
				_, _, _ = svc.Sessions.Login(ctx, "victim@example.org", "wrong-guess")
			}
			if canLogin("blue-heron-7") || canLogin("new-heron-8") {
				t.Fatal("not locked after 5 failures")
			}
		}

		lock()
		if out := c.must("user", "unlock", "victim@example.org"); !strings.Contains(out, "unlocked user") {
			t.Errorf("unlock printed %q", out)
		}
		if !canLogin("blue-heron-7") {
			t.Fatal("the right password is refused after `ward user unlock`")
		}

		lock()
		c.must("password-reset", "--email", "victim@example.org", "--password", "new-heron-8", "--actor", "root@example.org")
		if !canLogin("new-heron-8") {
			t.Fatal("the new password is refused after `ward password-reset` (lockout not cleared)")
		}

		if code, _, errs := c.run("user", "unlock", "ghost@example.org"); code != 1 || !strings.Contains(errs, "ghost@example.org") {
			t.Errorf("unlocking an unknown email: exit %d stderr %q, want 1 naming it", code, errs)
		}
		if code, _, errs := c.run("add-user", "--email", "weak@example.org", "--password", "sunshine1", "--role", "patient"); code != 1 || !strings.Contains(errs, "most commonly used") {
			t.Errorf("a common password: exit %d stderr %q, want refused", code, errs)
		}
		if code, _, errs := c.run("password-reset", "--email", "victim@example.org", "--password", "victim-2026", "--actor", "root@example.org"); code != 1 || !strings.Contains(errs, "name part") {
			t.Errorf("a password holding the email's name: exit %d stderr %q, want refused", code, errs)
		}

		evs, _, err := svc.Audit.List(ctx, audit.Filter{Context: audit.Login}, store.Page{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		// Two unlocks: by the system (`user unlock`), then by the admin
		// (password-reset), each about the victim.
		var actors []int64
		for _, e := range evs {
			if strings.HasPrefix(e.Comment, "sign-in lockout of user") {
				actors = append(actors, e.UserID)
			}
		}
		if len(actors) != 2 || actors[0] != 0 || actors[1] == 0 {
			t.Fatalf("unlocks audited with actors %v, want [0 (system), the admin]", actors)
		}
	})
}
