package directory_test

import (
	"testing"

	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/testutil"
)

// TestServiceViewsEveryoneAndCount: ward itself, admins and service
// accounts view everyone and may count users; staff and patients, whose
// view check_role bounds, may not count (it would reveal hidden users).
func TestServiceViewsEveryoneAndCount(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w, service := groupWorld(t, url)
		patients := directory.UserFilter{Role: directory.RolePatient}
		for _, c := range []struct {
			name string
			who  int64
			all  bool
		}{
			{"admin", w.admin, true},
			{"service account", service, true},
			{"staff", w.staffA, false},
			{"patient", w.patient, false},
		} {
			ctx := w.as(c.who)
			all, err := w.svc.ViewsEveryone(ctx)
			if err != nil || all != c.all {
				t.Errorf("%s: ViewsEveryone = %v, %v; want %v", c.name, all, err, c.all)
			}
			n, err := w.svc.CountUsers(ctx, patients)
			if c.all && (err != nil || n < 1) {
				t.Errorf("%s: CountUsers = %d, %v; want the patients counted", c.name, n, err)
			}
			if !c.all && !apperr.Is(err, apperr.Forbidden) {
				t.Errorf("%s: CountUsers = %d, %v; want Forbidden", c.name, n, err)
			}
		}
		if all, err := w.svc.ViewsEveryone(w.system()); err != nil || !all {
			t.Errorf("ward itself: %v, %v", all, err)
		}
		if _, err := w.svc.CountUsers(w.as(service), directory.UserFilter{IncludeDeleted: true}); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("a service account counting deleted users: %v, want Forbidden", err)
		}
	})
}
