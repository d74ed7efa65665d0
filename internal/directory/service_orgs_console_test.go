package directory_test

import (
	"context"
	"slices"
	"testing"

	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/testutil"
)

// TestServiceOrganizationsByID: the organizations named, in id order, an
// unknown id skipped, a duplicate once; too many at once is Invalid.
func TestServiceOrganizationsByID(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w := newWorld(t, url)
		got, err := w.svc.OrganizationsByID(w.as(w.patient), []int64{w.clinicB, w.sys, 999999, w.sys})
		if err != nil {
			t.Fatalf("OrganizationsByID: %v", err)
		}
		var ids []int64
		for _, o := range got {
			ids = append(ids, o.ID)
		}
		want := []int64{w.sys, w.clinicB}
		slices.Sort(want)
		if !slices.Equal(ids, want) || got[0].Name == "" {
			t.Errorf("ids %v, want %v with names", ids, want)
		}
		if got, err := w.svc.OrganizationsByID(w.as(w.patient), nil); err != nil || len(got) != 0 {
			t.Errorf("no ids: %v, %v", got, err)
		}
		many := make([]int64, 1001)
		for i := range many {
			many[i] = int64(i + 1)
		}
		_, err = w.svc.OrganizationsByID(w.as(w.admin), many)
		wantKind(t, err, apperr.Invalid, "")
	})
}

// TestServiceMayManageOrganizations answers as CreateOrganization decides:
// ward itself and admins yes; a staff admin, staff and a patient no;
// anonymous no (not an error).
func TestServiceMayManageOrganizations(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w := newWorld(t, url)
		for _, c := range []struct {
			name string
			ctx  context.Context
			want bool
		}{
			{"ward itself", w.system(), true},
			{"admin", w.as(w.admin), true},
			{"staff admin", w.as(w.staffAdminA), false},
			{"staff", w.as(w.staffA), false},
			{"patient", w.as(w.patient), false},
			{"anonymous", context.Background(), false},
		} {
			got, err := w.svc.MayManageOrganizations(c.ctx)
			if err != nil || got != c.want {
				t.Errorf("%s: MayManageOrganizations = %v, %v; want %v", c.name, got, err, c.want)
			}
			_, err = w.svc.CreateOrganization(c.ctx, &directory.Organization{Name: "Probe " + c.name})
			if (err == nil) != c.want {
				t.Errorf("%s: CreateOrganization = %v, but MayManageOrganizations said %v", c.name, err, c.want)
			}
		}
	})
}
