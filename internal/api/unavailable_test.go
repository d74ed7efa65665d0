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
	"ward/internal/sqlstore"
	"ward/internal/testutil"
)

// downStore is a directory store whose role lookups fail as the SQL store
// reports a lost database connection.
type downStore struct{ *sqlstore.DB }

func (downStore) UserRoles(context.Context, int64) ([]string, error) {
	return nil, apperr.Wrap(apperr.Unavailable, io.ErrUnexpectedEOF, "the database is unavailable; retry shortly")
}

// A lost database connection is a 503 problem document with Retry-After,
// never a generic 500; the same request on a working store is answered.
func TestUnavailableIs503WithRetryAfter(t *testing.T) {
	now := func() time.Time { return testNow }
	st := testutil.NewStore(t, testutil.SQLiteURL(t), sqlstore.WithClock(now))
	aud := audit.NewLog(audit.Deps{Store: st, Tx: st}, audit.Config{Version: "test", Now: now})
	up := directory.NewService(directory.Deps{Store: st, Audit: aud, Hasher: plainHasher{}}, directory.Config{Now: now})
	admin, err := up.CreateUser(actor.System(context.Background()), directory.NewUser{
		User:  directory.User{Email: "admin@example.org", GivenName: "Ada", FamilyName: "Admin"},
		Roles: []string{directory.RoleAdmin},
	})
	if err != nil {
		t.Fatalf("bootstrap admin: %v", err)
	}
	mount := func(dir *directory.Service) http.Handler {
		mux := http.NewServeMux()
		api.Mount(mux, api.Deps{Directory: dir, Audit: aud, Base: "https://ward.test",
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		return testActor(mux)
	}
	e := &env{t: t, dir: up, adminID: admin.ID}
	path := fmt.Sprintf("/api/user/%d/roles", admin.ID)

	e.must(e.doWith(mount(up), "GET", path, admin.ID, nil), http.StatusOK, nil)

	down := directory.NewService(directory.Deps{Store: downStore{st}, Audit: aud, Hasher: plainHasher{}}, directory.Config{Now: now})
	res := e.doWith(mount(down), "GET", path, admin.ID, nil)
	p := e.problem(res, http.StatusServiceUnavailable)
	if got := res.header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want 1", got)
	}
	if p.Detail != "the database is unavailable; retry shortly" {
		t.Errorf("detail %q", p.Detail)
	}
}
