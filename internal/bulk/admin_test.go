package bulk_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/bulk"
	"ward/internal/directory"
	"ward/internal/store"
	"ward/internal/testutil"
)

// roleTable is a directory.RoleReader over a fixed table of user roles.
type roleTable map[int64][]string

func (r roleTable) UserRoles(_ context.Context, id int64) ([]string, error) {
	rs, ok := r[id]
	if !ok {
		return nil, apperr.New(apperr.NotFound, "no user %d", id)
	}
	return rs, nil
}

// The people of the administrators' view: 1 is an administrator, 2 an
// application developer, 3 a patient.
var testRoles = roleTable{
	1: {directory.RoleAdmin},
	2: {directory.RoleApplicationDeveloper},
	3: {directory.RolePatient},
}

// TestAdminView: an administrator lists (newest first, paged), counts,
// reads and cancels every export, whoever kicked it off; a developer, a
// patient and a client acting for nobody are refused, and a malformed
// cursor or id is a 4xx kind, not an internal error.
func TestAdminView(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, envOpts{maxPerClient: 5})
		seed(e.src)
		var ids, statuses []string
		for _, client := range []string{"backend-1", "backend-2", "backend-1"} {
			tok := e.token("t"+client, client, strings.Fields(allScopes)...)
			status := e.mustAccept(e.kickOff("/fhir/$export", tok))
			ids, statuses = append(ids, exportID(status)), append(statuses, status)
			e.clock.Advance(time.Second)
		}
		ctx := context.Background()
		admin := actor.With(ctx, actor.Actor{UserID: 1})

		n, err := e.svc.Count(admin)
		if err != nil || n != 3 {
			t.Fatalf("admin count = %d, %v; want 3", n, err)
		}
		page1, next, err := e.svc.List(admin, store.Page{Limit: 2})
		if err != nil || len(page1) != 2 || next == "" {
			t.Fatalf("admin list page 1 = %d exports, next %q, %v; want 2 and a cursor", len(page1), next, err)
		}
		page2, next2, err := e.svc.List(admin, store.Page{Limit: 2, After: next})
		if err != nil || len(page2) != 1 || next2 != "" {
			t.Fatalf("admin list page 2 = %d exports, next %q, %v; want the last one", len(page2), next2, err)
		}
		got := []string{page1[0].ID, page1[1].ID, page2[0].ID}
		if got[0] != ids[2] || got[1] != ids[1] || got[2] != ids[0] {
			t.Errorf("list order %v, want newest first %v", got, []string{ids[2], ids[1], ids[0]})
		}
		if _, _, err := e.svc.List(admin, store.Page{After: "not a cursor!"}); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("malformed cursor: %v, want Invalid", err)
		}
		ex, err := e.svc.Get(admin, ids[1])
		if err != nil || ex.ClientID != "backend-2" || ex.Level != bulk.LevelSystem {
			t.Fatalf("admin get = %+v, %v", ex, err)
		}
		for _, bad := range []string{"nope", "\x00", "\xff", strings.Repeat("a", 36)} {
			if _, err := e.svc.Get(admin, bad); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("get %q: %v, want NotFound", bad, err)
			}
		}

		for name, who := range map[string]actor.Actor{
			"developer": {UserID: 2}, "patient": {UserID: 3}, "client acting for nobody": {ClientID: "backend-1"},
		} {
			c := actor.With(ctx, who)
			if _, _, err := e.svc.List(c, store.Page{}); !apperr.Is(err, apperr.Forbidden) && !apperr.Is(err, apperr.Unauthenticated) {
				t.Errorf("%s list: %v, want refused", name, err)
			}
			if _, err := e.svc.Count(c); !apperr.Is(err, apperr.Forbidden) && !apperr.Is(err, apperr.Unauthenticated) {
				t.Errorf("%s count: %v, want refused", name, err)
			}
			if _, err := e.svc.Get(c, ids[0]); !apperr.Is(err, apperr.Forbidden) && !apperr.Is(err, apperr.Unauthenticated) {
				t.Errorf("%s get: %v, want refused", name, err)
			}
		}
		if err := e.svc.Cancel(actor.With(ctx, actor.Actor{UserID: 2}), ids[0]); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("developer cancel: %v, want Forbidden", err)
		}
		if _, _, err := e.svc.List(ctx, store.Page{}); !apperr.Is(err, apperr.Unauthenticated) {
			t.Errorf("anonymous list: %v, want Unauthenticated", err)
		}

		// The administrator cancels another client's export: the client's
		// status URL then answers 404, and a second cancel is NotFound.
		if err := e.svc.Cancel(admin, ids[0]); err != nil {
			t.Fatalf("admin cancel: %v", err)
		}
		if resp := e.do(http.MethodGet, statuses[0], "tbackend-1", nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("client status after the admin cancelled = %d", resp.StatusCode)
		}
		if ex, err := e.svc.Get(admin, ids[0]); err != nil || ex.Status != bulk.StatusCancelled {
			t.Errorf("after cancel: %+v, %v; want cancelled", ex, err)
		}
		if err := e.svc.Cancel(admin, ids[0]); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("second admin cancel: %v, want NotFound", err)
		}
	})
}
