package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/api"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/secrets"
	"ward/internal/session"
	"ward/internal/sqlstore"
	"ward/internal/store"
	"ward/internal/testutil"
)

// TestUnlockUser: POST /api/user/{id}/unlock ends a lockout for admins and
// for staff admins who may edit the user; anyone else is refused and the
// lock stays.
func TestUnlockUser(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		ctx := context.Background()
		now := func() time.Time { return testNow }
		st := testutil.NewStore(t, url, sqlstore.WithClock(now))
		aud := audit.NewLog(audit.Deps{Store: st, Tx: st}, audit.Config{Version: "test", Now: now})
		pw := secrets.Argon2{Time: 1, MemoryKiB: 64, Threads: 1}
		dir := directory.NewService(directory.Deps{Store: st, Audit: aud, Hasher: pw}, directory.Config{Now: now})
		scfg := session.DefaultConfig()
		scfg.Now = now
		sess := session.NewService(session.Deps{Store: st, Users: st, Passwords: pw, Audit: aud, Tx: st}, scfg).WithUnlockAuthorizer(dir)
		mux := http.NewServeMux()
		api.Mount(mux, api.Deps{Directory: dir, Audit: aud, Sessions: sess, Base: "https://ward.test",
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		sys := actor.System(ctx)
		org := func(name string, parent int64) int64 {
			o, err := dir.CreateOrganization(sys, &directory.Organization{Name: name, PartOfID: parent})
			if err != nil {
				t.Fatal(err)
			}
			return o.ID
		}
		top := org("Top", 0)
		child := org("Child", top)
		other := org("Other", 0)
		user := func(email string, role string, orgID int64) int64 {
			u, err := dir.CreateUser(sys, directory.NewUser{User: directory.User{Email: email}, Password: "long enough secret 1",
				Roles: []string{role}, OrgIDs: []int64{orgID}})
			if err != nil {
				t.Fatalf("create %s: %v", email, err)
			}
			return u.ID
		}
		admin := user("root@example.org", directory.RoleAdmin, top)
		staffAdmin := user("sa@example.org", directory.RoleStaffAdmin, top)
		farAdmin := user("far@example.org", directory.RoleStaffAdmin, other)
		staff := user("st@example.org", directory.RoleStaff, top)
		target := user("clin@example.org", directory.RoleClinician, child)
		e := &env{t: t, h: testActor(mux), dir: dir, adminID: admin}

		locked := func() bool {
			_, _, err := sess.Login(ctx, "clin@example.org", "long enough secret 1")
			if err == nil {
				return false
			}
			if !apperr.Is(err, apperr.Unauthenticated) {
				t.Fatalf("login: %v", err)
			}
			return true
		}
		lock := func() {
			for range 5 {
				_, _, _ = sess.Login(ctx, "clin@example.org", "wrong")
			}
			if !locked() {
				t.Fatal("not locked")
			}
		}
		path := fmt.Sprintf("/api/user/%d/unlock", target)
		lock()
		for _, c := range []struct {
			name   string
			as     int64
			status int
		}{
			{"anonymous", 0, http.StatusUnauthorized},
			{"staff", staff, http.StatusForbidden},
			{"the locked user themselves", target, http.StatusForbidden},
			{"staff admin of another organization", farAdmin, http.StatusForbidden},
		} {
			e.problem(e.do("POST", path, c.as, nil), c.status)
			if !locked() {
				t.Fatalf("%s: the refused unlock unlocked", c.name)
			}
		}
		e.problem(e.do("POST", "/api/user/99999/unlock", admin, nil), http.StatusNotFound)
		e.problem(e.do("POST", "/api/user/x/unlock", admin, nil), http.StatusBadRequest)

		e.must(e.do("POST", path, staffAdmin, nil), http.StatusNoContent, nil)
		if locked() {
			t.Fatal("still locked after the staff admin's unlock")
		}
		lock()
		e.must(e.do("POST", path, admin, nil), http.StatusNoContent, nil)
		if locked() {
			t.Fatal("still locked after the admin's unlock")
		}
		var by []int64
		evs, _, err := aud.List(ctx, audit.Filter{SubjectID: target}, store.Page{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.SubjectID == target && ev.Comment == fmt.Sprintf("sign-in lockout of user %d cleared", target) {
				by = append(by, ev.UserID)
			}
		}
		if len(by) != 2 || by[0] != staffAdmin || by[1] != admin {
			t.Fatalf("unlocks audited as done by %v, want [%d %d]", by, staffAdmin, admin)
		}
	})
}
