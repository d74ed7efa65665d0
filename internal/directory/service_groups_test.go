package directory_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/store"
	"ward/internal/testutil"
)

// groupWorld is the world with clinicianA as the patient's general
// practitioner and a service account.
func groupWorld(t *testing.T, url string) (*world, int64) {
	w := newWorld(t, url)
	if _, err := w.svc.UpdateUser(w.system(), w.patient, func(u *directory.User) error {
		u.GeneralPractitionerID = w.clinicianA
		return nil
	}); err != nil {
		t.Fatalf("set general practitioner: %v", err)
	}
	svc := w.user("service@example.org", []string{directory.RoleService})
	return w, svc
}

func TestServiceGroupAccess(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w, service := groupWorld(t, url)
		org := func(id int64) directory.GroupRef {
			return directory.GroupRef{Kind: directory.GroupOrganization, ID: id}
		}
		prac := func(id int64) directory.GroupRef {
			return directory.GroupRef{Kind: directory.GroupPractitioner, ID: id}
		}
		patient := []int64{w.patient}
		tests := []struct {
			name string
			ctx  context.Context
			g    directory.GroupRef
			want []int64
			kind apperr.Kind
		}{
			{"ward itself, clinic A", w.system(), org(w.clinicA), patient, ok},
			{"admin, health system (consent below)", w.as(w.admin), org(w.sys), patient, ok},
			{"service account", w.as(service), org(w.clinicA1), patient, ok},
			{"staff at their clinic", w.as(w.staffA), org(w.clinicA), patient, ok},
			{"staff below their clinic", w.as(w.staffA), org(w.clinicA1), patient, ok},
			{"staff above their clinic", w.as(w.staffA), org(w.sys), nil, apperr.Forbidden},
			{"staff at a sibling clinic", w.as(w.staffA), org(w.clinicB), nil, apperr.Forbidden},
			{"other clinic's staff", w.as(w.staffB), org(w.clinicA), nil, apperr.Forbidden},
			{"clinician at their clinic", w.as(w.clinicianA), org(w.clinicA), patient, ok},
			{"staff admin at their clinic", w.as(w.staffAdminA), org(w.clinicA1), patient, ok},
			{"empty organization group", w.as(w.staffB), org(w.clinicB), []int64{}, ok},
			{"a patient may not", w.as(w.patient), org(w.clinicA1), nil, apperr.Forbidden},
			{"intervention staff may not", w.as(w.ivStaff), org(w.clinicA1), nil, apperr.Forbidden},
			{"anonymous", context.Background(), org(w.clinicA), nil, apperr.Unauthenticated},
			{"unknown organization", w.as(w.admin), org(999999), nil, apperr.NotFound},
			{"practitioner's own group", w.as(w.clinicianA), prac(w.clinicianA), patient, ok},
			{"admin, practitioner group", w.as(w.admin), prac(w.clinicianA), patient, ok},
			{"staff of the same clinic, practitioner group", w.as(w.staffA), prac(w.clinicianA), nil, apperr.Forbidden},
			{"patient, their GP's group", w.as(w.patient), prac(w.clinicianA), nil, apperr.Forbidden},
			{"a practitioner without patients", w.as(w.staffB), prac(w.staffB), []int64{}, ok},
			{"a patient has no practitioner group", w.as(w.admin), prac(w.patient), nil, apperr.NotFound},
			{"unknown practitioner", w.as(w.admin), prac(999999), nil, apperr.NotFound},
			{"bad kind", w.as(w.admin), directory.GroupRef{Kind: "team", ID: w.clinicA}, nil, apperr.Invalid},
			{"bad id", w.as(w.admin), org(0), nil, apperr.Invalid},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, err := w.svc.GroupMembers(tc.ctx, tc.g, 0, 100)
				wantKind(t, err, tc.kind, "")
				if err == nil && !slices.Equal(got, tc.want) && (len(got) != 0 || len(tc.want) != 0) {
					t.Fatalf("members %v, want %v", got, tc.want)
				}
				n, err := w.svc.GroupSize(tc.ctx, tc.g)
				wantKind(t, err, tc.kind, "")
				if err == nil && n != len(tc.want) {
					t.Fatalf("size %d, want %d", n, len(tc.want))
				}
				info, err := w.svc.Group(tc.ctx, tc.g)
				wantKind(t, err, tc.kind, "")
				if err == nil && (info.Size != len(tc.want) || info.Name == "" || info.Ref != tc.g) {
					t.Fatalf("group info %+v", info)
				}
			})
		}
	})
}

// Groups are computed at read time: a withdrawn consent or a new general
// practitioner changes them at once, with nothing to refresh.
func TestServiceGroupsStayCurrent(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w, _ := groupWorld(t, url)
		ctx := w.as(w.admin)
		orgA := directory.GroupRef{Kind: directory.GroupOrganization, ID: w.clinicA}
		gp := directory.GroupRef{Kind: directory.GroupPractitioner, ID: w.clinicianA}
		size := func(g directory.GroupRef) int {
			t.Helper()
			n, err := w.svc.GroupSize(ctx, g)
			wantKind(t, err, ok, "")
			return n
		}
		if size(orgA) != 1 || size(gp) != 1 {
			t.Fatalf("sizes %d, %d before the changes, want 1, 1", size(orgA), size(gp))
		}
		if _, err := w.svc.WithdrawConsent(w.system(), w.patient, w.clinicA1); err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.UpdateUser(w.system(), w.patient, func(u *directory.User) error {
			u.GeneralPractitionerID = w.staffA
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n := size(orgA); n != 0 {
			t.Fatalf("clinic A's group after the consent was withdrawn: %d members", n)
		}
		if n := size(gp); n != 0 {
			t.Fatalf("the old GP's group: %d members", n)
		}
		got, err := w.svc.GroupMembers(ctx, directory.GroupRef{Kind: directory.GroupPractitioner, ID: w.staffA}, 0, 10)
		wantKind(t, err, ok, "")
		if !slices.Equal(got, []int64{w.patient}) {
			t.Fatalf("the new GP's group: %v", got)
		}
	})
}

func TestServiceListGroups(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w, service := groupWorld(t, url)
		org := func(id int64) directory.GroupRef {
			return directory.GroupRef{Kind: directory.GroupOrganization, ID: id}
		}
		prac := func(id int64) directory.GroupRef {
			return directory.GroupRef{Kind: directory.GroupPractitioner, ID: id}
		}
		all := []directory.GroupRef{org(w.sys), org(w.clinicA), org(w.clinicA1), org(w.clinicB), prac(w.clinicianA)}
		tests := []struct {
			name string
			ctx  context.Context
			want []directory.GroupRef
		}{
			{"ward itself", w.system(), all},
			{"admin", w.as(w.admin), all},
			{"service account", w.as(service), all},
			{"staff: their branch", w.as(w.staffA), []directory.GroupRef{org(w.clinicA), org(w.clinicA1)}},
			{"clinician: their branch and own group", w.as(w.clinicianA),
				[]directory.GroupRef{org(w.clinicA), org(w.clinicA1), prac(w.clinicianA)}},
			{"patient: none", w.as(w.patient), nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				var got []directory.GroupRef
				var after directory.GroupRef
				for range 10 {
					page, err := w.svc.ListGroups(tc.ctx, after, 2)
					wantKind(t, err, ok, "")
					got = append(got, page...)
					if len(page) < 2 {
						break
					}
					after = page[len(page)-1]
				}
				if !slices.Equal(got, tc.want) {
					t.Fatalf("groups %v, want %v", got, tc.want)
				}
				n, err := w.svc.CountGroups(tc.ctx)
				wantKind(t, err, ok, "")
				if n != len(tc.want) {
					t.Fatalf("CountGroups = %d, want %d", n, len(tc.want))
				}
				// Every listed group can be read by the same caller.
				for _, g := range got {
					if _, err := w.svc.GroupSize(tc.ctx, g); err != nil {
						t.Fatalf("listed %v but reading it: %v", g, err)
					}
				}
			})
		}
		_, err := w.svc.ListGroups(context.Background(), directory.GroupRef{}, 10)
		wantKind(t, err, apperr.Unauthenticated, "")
		_, err = w.svc.ListGroups(w.as(w.admin), directory.GroupRef{Kind: "team"}, 10)
		wantKind(t, err, apperr.Invalid, "")
	})
}

func TestServiceScanPatients(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w, service := groupWorld(t, url)
		scan := func(ctx context.Context, f directory.UserFilter) ([]int64, error) {
			var got []int64
			err := w.svc.ScanPatients(ctx, f, 0, func(u *directory.User) error {
				got = append(got, u.ID)
				return nil
			})
			return got, err
		}
		want := []int64{w.patient, w.patientNoConsent}
		for _, ctx := range []context.Context{w.system(), w.as(w.admin), w.as(service)} {
			got, err := scan(ctx, directory.UserFilter{})
			wantKind(t, err, ok, "")
			if !slices.Equal(got, want) {
				t.Fatalf("patients %v, want %v", got, want)
			}
		}
		// The patient role cannot be widened by the filter.
		got, err := scan(w.system(), directory.UserFilter{Role: directory.RoleStaff, Roles: []string{directory.RoleAdmin}})
		wantKind(t, err, ok, "")
		if !slices.Equal(got, want) {
			t.Fatalf("patients with another role asked: %v, want %v", got, want)
		}
		for _, ctx := range []context.Context{w.as(w.staffA), w.as(w.patient)} {
			_, err := scan(ctx, directory.UserFilter{})
			wantKind(t, err, apperr.Forbidden, "")
			_, err = w.svc.UserIdentifiersFor(ctx, want)
			wantKind(t, err, apperr.Forbidden, "")
			_, err = w.svc.UserOrganizationsFor(ctx, want)
			wantKind(t, err, apperr.Forbidden, "")
		}
		orgs, err := w.svc.UserOrganizationsFor(w.as(service), want)
		wantKind(t, err, ok, "")
		if !slices.Equal(orgs[w.patient], []int64{w.clinicA1}) {
			t.Fatalf("organizations %v", orgs)
		}
		_, err = w.svc.UserIdentifiersFor(w.system(), want)
		wantKind(t, err, ok, "")
		stop := errors.New("stop")
		if err := w.svc.ScanPatients(w.system(), directory.UserFilter{}, 0, func(*directory.User) error { return stop }); !errors.Is(err, stop) {
			t.Fatalf("scan returned %v, want fn's error", err)
		}
	})
}

func TestServiceSearchUsersRoles(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w, _ := groupWorld(t, url)
		got, _, err := w.svc.SearchUsers(w.as(w.admin), directory.UserFilter{Roles: directory.PractitionerRoles()}, store.Page{Limit: 100})
		wantKind(t, err, ok, "")
		var ids []int64
		for _, u := range got {
			ids = append(ids, u.ID)
		}
		want := []int64{w.staffA, w.staffB, w.staffAdminA, w.clinicianA}
		if !slices.Equal(ids, want) {
			t.Fatalf("practitioners %v, want %v", ids, want)
		}
		_, _, err = w.svc.SearchUsers(w.as(w.admin), directory.UserFilter{Roles: []string{"wizard"}}, store.Page{Limit: 100})
		wantKind(t, err, apperr.Invalid, "wizard")
	})
}
