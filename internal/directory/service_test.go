package directory_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/sqlstore"
	"ward/internal/store"
	"ward/internal/testutil"
)

// fakeHasher stands in for argon2id: deterministic and fast.
type fakeHasher struct{}

func (fakeHasher) Hash(pw string) (string, error) {
	sum := sha256.Sum256([]byte(pw))
	return "fake$" + hex.EncodeToString(sum[:]), nil
}

// failingAuditor fails every Record, to prove a change rolls back with it.
type failingAuditor struct{}

func (failingAuditor) Record(context.Context, audit.Change) error {
	return errors.New("audit store unavailable")
}

func (failingAuditor) RecordEach(context.Context, []audit.Entry) error {
	return errors.New("audit store unavailable")
}

// world is a small directory: a health system with two clinics, one with a
// sub-clinic, staff at each clinic, and patients.
//
//	sys
//	├── clinicA
//	│   └── clinicA1
//	└── clinicB
type world struct {
	t     *testing.T
	st    *sqlstore.DB
	log   *audit.Log
	svc   *directory.Service
	now   time.Time
	clock func() time.Time

	sys, clinicA, clinicA1, clinicB int64

	admin, staffA, staffB, staffAdminA, clinicianA, ivStaff int64
	patient, patientNoConsent                               int64
}

func newWorld(t *testing.T, url string) *world {
	t.Helper()
	st := testutil.NewStore(t, url)
	w := &world{t: t, st: st, now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	w.clock = func() time.Time { return w.now }
	w.log = audit.NewLog(audit.Deps{Store: st, Tx: st}, audit.Config{Version: "test", Now: w.clock})
	w.svc = directory.NewService(directory.Deps{Store: st, Audit: w.log, Hasher: fakeHasher{}}, directory.Config{Now: w.clock})

	ctx := w.system()
	org := func(name string, parent int64, ids ...directory.Identifier) int64 {
		o, err := w.svc.CreateOrganization(ctx, &directory.Organization{Name: name, PartOfID: parent, Identifiers: ids})
		if err != nil {
			t.Fatalf("create organization %s: %v", name, err)
		}
		return o.ID
	}
	w.sys = org("Health system", 0)
	w.clinicA = org("Clinic A", w.sys, directory.Identifier{System: directory.ShortcutAliasSystem, Value: "clinic-a"})
	w.clinicA1 = org("Clinic A1", w.clinicA)
	w.clinicB = org("Clinic B", w.sys)

	w.admin = w.user("admin@example.org", []string{directory.RoleAdmin})
	w.staffA = w.user("staff.a@example.org", []string{directory.RoleStaff}, w.clinicA)
	w.staffB = w.user("staff.b@example.org", []string{directory.RoleStaff}, w.clinicB)
	w.staffAdminA = w.user("staffadmin.a@example.org", []string{directory.RoleStaffAdmin}, w.clinicA)
	w.clinicianA = w.user("clinician.a@example.org", []string{directory.RoleClinician}, w.clinicA)
	w.ivStaff = w.user("iv@example.org", []string{directory.RoleInterventionStaff})
	w.patient = w.user("patient@example.org", []string{directory.RolePatient}, w.clinicA1)
	w.patientNoConsent = w.user("patient2@example.org", []string{directory.RolePatient}, w.clinicA1)
	if _, err := w.svc.AddConsent(ctx, &directory.Consent{UserID: w.patient, OrganizationID: w.clinicA1,
		StaffEditable: true, AgreementURL: "https://example.org/consent/v1"}); err != nil {
		t.Fatalf("consent: %v", err)
	}
	return w
}

func (w *world) system() context.Context { return actor.System(context.Background()) }

func (w *world) as(id int64) context.Context {
	return actor.With(context.Background(), actor.Actor{UserID: id})
}

func (w *world) user(email string, roles []string, orgs ...int64) int64 {
	w.t.Helper()
	u, err := w.svc.CreateUser(w.system(), directory.NewUser{
		User: directory.User{Email: email, GivenName: "Test", FamilyName: email}, Roles: roles, OrgIDs: orgs,
	})
	if err != nil {
		w.t.Fatalf("create user %s: %v", email, err)
	}
	return u.ID
}

// events returns the comments of audit events about subject in context c.
func (w *world) events(subject int64, c audit.Context) []string {
	w.t.Helper()
	evs, _, err := w.log.List(w.system(), audit.Filter{SubjectID: subject, Context: c}, store.Page{Limit: 1000})
	if err != nil {
		w.t.Fatalf("list audit: %v", err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Comment)
	}
	return out
}

func wantKind(t *testing.T, err error, k apperr.Kind, contains string) {
	t.Helper()
	if k == apperr.Internal && contains == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if apperr.KindOf(err) != k {
		t.Fatalf("err = %v (kind %v), want kind %v", err, apperr.KindOf(err), k)
	}
	if contains != "" && !strings.Contains(apperr.Message(err), contains) {
		t.Fatalf("err = %q, want it to contain %q", apperr.Message(err), contains)
	}
}

// ok is the "no error" expectation for wantKind.
const ok = apperr.Internal

func TestServiceCheckRole(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w := newWorld(t, url)
		tests := []struct {
			name   string
			ctx    context.Context
			perm   directory.Permission
			target int64
			want   apperr.Kind
		}{
			{"self", w.as(w.patient), directory.Edit, w.patient, ok},
			{"patient over another patient", w.as(w.patient), directory.View, w.patientNoConsent, apperr.Forbidden},
			{"staff over consented patient below", w.as(w.staffA), directory.Edit, w.patient, ok},
			{"staff over unconsented patient below", w.as(w.staffA), directory.View, w.patientNoConsent, apperr.Forbidden},
			{"staff at sibling clinic", w.as(w.staffB), directory.View, w.patient, apperr.Forbidden},
			{"clinician over consented patient", w.as(w.clinicianA), directory.View, w.patient, ok},
			{"staff_admin over staff at own clinic", w.as(w.staffAdminA), directory.Edit, w.staffA, ok},
			{"staff_admin over staff at sibling clinic", w.as(w.staffAdminA), directory.Edit, w.staffB, apperr.Forbidden},
			{"staff over staff", w.as(w.staffA), directory.View, w.clinicianA, apperr.Forbidden},
			{"intervention_staff without shared intervention", w.as(w.ivStaff), directory.View, w.patient, apperr.Forbidden},
			{"admin over anyone", w.as(w.admin), directory.Edit, w.staffB, ok},
			{"system over anyone", w.system(), directory.Edit, w.staffB, ok},
			{"anonymous", context.Background(), directory.View, w.patient, apperr.Unauthenticated},
			{"unknown target", w.as(w.admin), directory.View, 999999, apperr.NotFound},
			{"malformed target", w.as(w.admin), directory.View, 0, apperr.Invalid},
			{"unknown actor", w.as(888888), directory.View, w.patient, apperr.Unauthenticated},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantKind(t, w.svc.CheckRole(tc.ctx, tc.perm, tc.target), tc.want, "")
			})
		}
	})
}

func TestServiceCreateUser(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w := newWorld(t, url)
		tests := []struct {
			name     string
			ctx      context.Context
			in       directory.NewUser
			want     apperr.Kind
			contains string
		}{
			{"staff registers a patient at own sub-clinic", w.as(w.staffA), directory.NewUser{
				User:  directory.User{Email: "new1@example.org", BirthDate: "1970-01-02", Gender: "male"},
				Roles: []string{directory.RolePatient}, OrgIDs: []int64{w.clinicA1}, Password: "long enough"}, ok, ""},
			{"staff registers a patient at sibling clinic", w.as(w.staffA), directory.NewUser{
				User:  directory.User{Email: "new2@example.org"},
				Roles: []string{directory.RolePatient}, OrgIDs: []int64{w.clinicB}}, apperr.Forbidden, "outside your organizations"},
			{"staff creates an admin", w.as(w.staffA), directory.NewUser{
				User: directory.User{Email: "new3@example.org"}, Roles: []string{directory.RoleAdmin}}, apperr.Forbidden, `"admin"`},
			{"patient creates an account", w.as(w.patient), directory.NewUser{
				User: directory.User{Email: "new4@example.org"}}, apperr.Forbidden, ""},
			{"anonymous creates an account", context.Background(), directory.NewUser{
				User: directory.User{Email: "new5@example.org"}}, apperr.Unauthenticated, ""},
			{"unknown role", w.as(w.admin), directory.NewUser{
				User: directory.User{Email: "new6@example.org"}, Roles: []string{"wizard"}}, apperr.Invalid, `unknown role "wizard"`},
			{"unknown organization", w.as(w.admin), directory.NewUser{
				User: directory.User{Email: "new7@example.org"}, OrgIDs: []int64{4242}}, apperr.Invalid, "organization 4242 does not exist"},
			{"display-name email", w.as(w.admin), directory.NewUser{
				User: directory.User{Email: "Ann <ann@example.org>"}}, apperr.Invalid, "not a valid email"},
			{"future birth date", w.as(w.admin), directory.NewUser{
				User: directory.User{Email: "new8@example.org", BirthDate: "2025-06-02"}}, apperr.Invalid, "in the future"},
			{"gender outside FHIR", w.as(w.admin), directory.NewUser{
				User: directory.User{Email: "new9@example.org", Gender: "M"}}, apperr.Invalid, "gender"},
			{"short password", w.as(w.admin), directory.NewUser{
				User: directory.User{Email: "new10@example.org"}, Password: "short"}, apperr.Invalid, "at least 8"},
			{"common password", w.as(w.admin), directory.NewUser{
				User: directory.User{Email: "new11@example.org"}, Password: "trustno1"}, apperr.Invalid, "most commonly used"},
			{"password holding the email's name", w.as(w.admin), directory.NewUser{
				User: directory.User{Email: "juniper@example.org"}, Password: "juniper-2026"}, apperr.Invalid, "name part"},
			{"email taken (case-insensitively)", w.as(w.admin), directory.NewUser{
				User: directory.User{Email: "Patient@Example.org"}}, apperr.Conflict, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				u, err := w.svc.CreateUser(tc.ctx, tc.in)
				wantKind(t, err, tc.want, tc.contains)
				if err != nil {
					return
				}
				roles, err := w.svc.UserRoles(w.system(), u.ID)
				if err != nil || !slices.Equal(roles, tc.in.Roles) {
					t.Fatalf("roles = %v, %v; want %v", roles, err, tc.in.Roles)
				}
				if tc.in.Password != "" && (u.PasswordHash == "" || strings.Contains(u.PasswordHash, tc.in.Password)) {
					t.Fatalf("password hash %q", u.PasswordHash)
				}
				if evs := w.events(u.ID, audit.Account); len(evs) != 1 {
					t.Fatalf("audit events %v", evs)
				}
			})
		}
	})
}

// TestServiceCreateUserIdentifiers: identifiers given with a new account
// are stored with it, and one another live user holds refuses the whole
// create, leaving no account behind.
func TestServiceCreateUserIdentifiers(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w := newWorld(t, url)
		mrn := directory.Identifier{System: "urn:mrn", Value: "M-1", Use: "official"}
		u, err := w.svc.CreateUser(w.as(w.staffA), directory.NewUser{User: directory.User{Email: "ids@example.org"},
			Roles: []string{directory.RolePatient}, OrgIDs: []int64{w.clinicA1},
			Identifiers: []directory.Identifier{mrn, {System: " urn:mrn ", Value: "M-1 ", Use: "official"}}})
		wantKind(t, err, ok, "")
		ids, err := w.svc.UserIdentifiers(w.system(), u.ID)
		if err != nil || !slices.Equal(ids, []directory.Identifier{mrn}) {
			t.Fatalf("identifiers %v (%v), want [%v]", ids, err, mrn)
		}
		if evs := w.events(u.ID, audit.Account); len(evs) != 1 || !strings.Contains(evs[0], "urn:mrn|M-1") {
			t.Errorf("audit events %v: want one naming the identifier", evs)
		}
		_, err = w.svc.CreateUser(w.as(w.staffA), directory.NewUser{User: directory.User{Email: "ids2@example.org"},
			Roles: []string{directory.RolePatient}, Identifiers: []directory.Identifier{mrn}})
		wantKind(t, err, apperr.Conflict, "urn:mrn|M-1")
		users, _, err := w.svc.SearchUsers(w.system(), directory.UserFilter{Email: "ids2@example.org"}, store.Page{Limit: 1})
		if err != nil || len(users) != 0 {
			t.Errorf("a create refused for its identifier left %v (%v)", users, err)
		}
		_, err = w.svc.CreateUser(w.as(w.staffA), directory.NewUser{User: directory.User{Email: "ids3@example.org"},
			Roles: []string{directory.RolePatient}, Identifiers: []directory.Identifier{{System: "urn:mrn"}}})
		wantKind(t, err, apperr.Invalid, "value is required")
	})
}

func TestServiceRoles(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w := newWorld(t, url)
		ctx := w.as(w.admin)
		id := w.staffB

		got, err := w.svc.AddRoles(ctx, id, []string{directory.RoleClinician, directory.RoleResearcher})
		wantKind(t, err, ok, "")
		if want := []string{directory.RoleClinician, directory.RoleResearcher, directory.RoleStaff}; !slices.Equal(got, want) {
			t.Fatalf("after add: %v, want %v", got, want)
		}
		// 409 when any is already held, and nothing is added.
		_, err = w.svc.AddRoles(ctx, id, []string{directory.RoleAnalyst, directory.RoleStaff})
		wantKind(t, err, apperr.Conflict, `already has role "staff"`)
		if roles, _ := w.svc.UserRoles(ctx, id); slices.Contains(roles, directory.RoleAnalyst) {
			t.Fatalf("a refused add changed roles: %v", roles)
		}

		got, err = w.svc.DeleteRoles(ctx, id, []string{directory.RoleResearcher})
		wantKind(t, err, ok, "")
		if want := []string{directory.RoleClinician, directory.RoleStaff}; !slices.Equal(got, want) {
			t.Fatalf("after delete: %v, want %v", got, want)
		}
		_, err = w.svc.DeleteRoles(ctx, id, []string{directory.RoleClinician, directory.RoleResearcher})
		wantKind(t, err, apperr.Conflict, `does not have role "researcher"`)
		if roles, _ := w.svc.UserRoles(ctx, id); !slices.Contains(roles, directory.RoleClinician) {
			t.Fatalf("a refused delete changed roles: %v", roles)
		}

		got, err = w.svc.ReplaceRoles(ctx, id, []string{directory.RoleStaffAdmin})
		wantKind(t, err, ok, "")
		if !slices.Equal(got, []string{directory.RoleStaffAdmin}) {
			t.Fatalf("after replace: %v", got)
		}
		_, err = w.svc.AddRoles(ctx, id, []string{"wizard"})
		wantKind(t, err, apperr.Invalid, `unknown role "wizard"`)

		// Three changes, three audit events.
		if evs := w.events(id, audit.Role); len(evs) != 3 {
			t.Fatalf("role audit events: %v", evs)
		}

		// A staff admin manages staff of their clinic but cannot mint admins,
		// and cannot touch staff of a sibling clinic at all.
		_, err = w.svc.AddRoles(w.as(w.staffAdminA), w.staffA, []string{directory.RoleClinician})
		wantKind(t, err, ok, "")
		_, err = w.svc.AddRoles(w.as(w.staffAdminA), w.staffA, []string{directory.RoleAdmin})
		wantKind(t, err, apperr.Forbidden, `"admin"`)
		_, err = w.svc.AddRoles(w.as(w.staffAdminA), w.staffB, []string{directory.RoleClinician})
		wantKind(t, err, apperr.Forbidden, "")
		// A patient may edit themselves but not their roles.
		_, err = w.svc.AddRoles(w.as(w.patient), w.patient, []string{directory.RoleStaff})
		wantKind(t, err, apperr.Forbidden, `"staff"`)
		// Issue 9: below admin nobody hands out staff_admin, not even a staff
		// admin over their own clinic's staff, nor a service account over
		// anyone (finding 2 made its sponsor staff_admin that way), nor
		// revokes it; creating an account with it is refused alike.
		_, err = w.svc.AddRoles(w.as(w.staffAdminA), w.staffA, []string{directory.RoleStaffAdmin})
		wantKind(t, err, apperr.Forbidden, `"staff_admin"`)
		svcUser := w.user("svc@example.org", []string{directory.RoleService})
		_, err = w.svc.AddRoles(w.as(svcUser), w.staffA, []string{directory.RoleStaffAdmin})
		wantKind(t, err, apperr.Forbidden, `"staff_admin"`)
		_, err = w.svc.AddRoles(w.as(svcUser), w.staffA, []string{directory.RoleService})
		wantKind(t, err, apperr.Forbidden, `"service"`)
		_, err = w.svc.DeleteRoles(w.as(w.staffAdminA), w.staffAdminA, []string{directory.RoleStaffAdmin})
		wantKind(t, err, apperr.Forbidden, `"staff_admin"`)
		_, err = w.svc.CreateUser(w.as(w.staffAdminA), directory.NewUser{User: directory.User{Email: "new.sa@example.org"},
			Roles: []string{directory.RoleStaffAdmin}, OrgIDs: []int64{w.clinicA}})
		wantKind(t, err, apperr.Forbidden, `"staff_admin"`)
		if roles, _ := w.svc.UserRoles(w.system(), w.staffA); slices.Contains(roles, directory.RoleStaffAdmin) {
			t.Fatalf("a refused grant changed roles: %v", roles)
		}
		// The service account still provisions clinic staff.
		_, err = w.svc.AddRoles(w.as(svcUser), w.staffB, []string{directory.RoleClinician})
		wantKind(t, err, ok, "")
	})
}

func TestServiceOrganizations(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w := newWorld(t, url)
		ctx := w.as(w.admin)

		_, err := w.svc.CreateOrganization(ctx, &directory.Organization{Name: "Orphan", PartOfID: 42})
		wantKind(t, err, apperr.Invalid, "partOf organization 42 does not exist")
		_, err = w.svc.CreateOrganization(w.as(w.staffA), &directory.Organization{Name: "Mine"})
		wantKind(t, err, apperr.Forbidden, "")

		// The cached tree sees a new organization at once.
		tree, err := w.svc.Tree(ctx)
		wantKind(t, err, ok, "")
		before := tree.Len()
		a2, err := w.svc.CreateOrganization(ctx, &directory.Organization{Name: "Clinic A2", PartOfID: w.clinicA})
		wantKind(t, err, ok, "")
		tree, err = w.svc.Tree(ctx)
		wantKind(t, err, ok, "")
		if tree.Len() != before+1 || !tree.IsAtOrBelow(a2.ID, w.sys) {
			t.Fatalf("tree not rebuilt: len %d, want %d", tree.Len(), before+1)
		}

		// Moving clinic A under its own sub-clinic would make a cycle.
		a, err := w.svc.GetOrganization(ctx, w.clinicA)
		wantKind(t, err, ok, "")
		a.PartOfID = w.clinicA1
		_, err = w.svc.UpdateOrganization(ctx, a)
		wantKind(t, err, apperr.Invalid, "cannot be part of")
		// Moving it under clinic B is fine, and the tree follows.
		a.PartOfID = w.clinicB
		_, err = w.svc.UpdateOrganization(ctx, a)
		wantKind(t, err, ok, "")
		tree, _ = w.svc.Tree(ctx)
		if !tree.IsAtOrBelow(w.clinicA1, w.clinicB) {
			t.Fatal("tree did not follow the move")
		}
		// A stale version is refused.
		a.Name = "Renamed"
		_, err = w.svc.UpdateOrganization(ctx, a)
		wantKind(t, err, apperr.Conflict, "")

		got, err := w.svc.ResolveOrganization(context.Background(), "clinic-a")
		wantKind(t, err, ok, "")
		if got.ID != w.clinicA {
			t.Fatalf("alias resolved to %d", got.ID)
		}
		_, err = w.svc.ResolveOrganization(context.Background(), "no-such-alias")
		wantKind(t, err, apperr.NotFound, "")

		err = w.svc.DeleteOrganization(ctx, w.sys)
		wantKind(t, err, apperr.Conflict, "")
		err = w.svc.DeleteOrganization(ctx, a2.ID)
		wantKind(t, err, ok, "")
		if evs := w.events(0, audit.Organization); len(evs) < 3 {
			t.Fatalf("organization audit events: %v", evs)
		}
	})
}

func TestServiceCodingOptions(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w := newWorld(t, url)
		ctx := w.as(w.admin)
		all := directory.CodingOptions{RaceCodings: true, EthnicityCodings: true, IndigenousCodings: true}

		got, err := w.svc.EffectiveCodingOptions(ctx, w.clinicA1)
		wantKind(t, err, ok, "")
		if got != all {
			t.Fatalf("no specific codings anywhere: %+v, want all", got)
		}
		a, _ := w.svc.GetOrganization(ctx, w.clinicA)
		a.Coding = directory.CodingOptions{UseSpecificCodings: true, RaceCodings: true}
		if _, err := w.svc.UpdateOrganization(ctx, a); err != nil {
			t.Fatal(err)
		}
		got, _ = w.svc.EffectiveCodingOptions(ctx, w.clinicA1)
		if got != a.Coding {
			t.Fatalf("inherited from parent: %+v, want %+v", got, a.Coding)
		}
		got, _ = w.svc.EffectiveCodingOptions(ctx, w.clinicB)
		if got != all {
			t.Fatalf("sibling must not inherit: %+v", got)
		}
	})
}

func TestServiceDeleteAndReactivate(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w := newWorld(t, url)

		wantKind(t, w.svc.DeleteUser(w.as(w.staffB), w.patient), apperr.Forbidden, "")
		wantKind(t, w.svc.DeleteUser(w.as(w.patient), w.patient), apperr.Forbidden, "")
		wantKind(t, w.svc.DeleteUser(w.as(w.staffA), w.patient), ok, "")
		wantKind(t, w.svc.DeleteUser(w.as(w.admin), w.patient), apperr.Conflict, "already deleted")

		_, err := w.svc.GetUser(w.as(w.staffA), w.patient)
		wantKind(t, err, apperr.Forbidden, "deleted")
		_, err = w.svc.GetUser(w.as(w.admin), w.patient)
		wantKind(t, err, ok, "")
		_, err = w.svc.Me(w.as(w.patient))
		wantKind(t, err, apperr.Unauthenticated, "")

		found, _, err := w.svc.SearchUsers(w.as(w.admin), directory.UserFilter{Email: "patient@example.org"}, store.Page{})
		wantKind(t, err, ok, "")
		if len(found) != 0 {
			t.Fatal("deleted user found without IncludeDeleted")
		}
		found, _, err = w.svc.SearchUsers(w.as(w.admin), directory.UserFilter{Email: "patient@example.org", IncludeDeleted: true}, store.Page{})
		wantKind(t, err, ok, "")
		if len(found) != 1 {
			t.Fatal("admin cannot find the deleted user")
		}
		_, _, err = w.svc.SearchUsers(w.as(w.staffA), directory.UserFilter{IncludeDeleted: true}, store.Page{})
		wantKind(t, err, apperr.Forbidden, "")

		_, err = w.svc.ReactivateUser(w.as(w.staffB), w.patient)
		wantKind(t, err, apperr.Forbidden, "")
		u, err := w.svc.ReactivateUser(w.as(w.staffA), w.patient)
		wantKind(t, err, ok, "")
		if !u.Active() {
			t.Fatal("still deleted")
		}
		_, err = w.svc.ReactivateUser(w.as(w.admin), w.patient)
		wantKind(t, err, apperr.Conflict, "not deleted")
		if evs := w.events(w.patient, audit.Account); len(evs) != 3 { // created, deleted, reactivated
			t.Fatalf("account audit events: %v", evs)
		}

		wantKind(t, w.svc.PurgeUser(w.as(w.staffA), w.patientNoConsent), apperr.Forbidden, "")
		wantKind(t, w.svc.PurgeUser(w.as(w.admin), w.patientNoConsent), ok, "")
		_, err = w.svc.GetUser(w.as(w.admin), w.patientNoConsent)
		wantKind(t, err, apperr.NotFound, "")
		if evs := w.events(w.patientNoConsent, audit.Account); len(evs) != 2 {
			t.Fatalf("purge must keep audit events: %v", evs)
		}
	})
}

func TestServiceSearchUsersFiltersByPermission(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w := newWorld(t, url)
		ids := func(us []*directory.User) []int64 {
			var out []int64
			for _, u := range us {
				out = append(out, u.ID)
			}
			return out
		}
		got, _, err := w.svc.SearchUsers(w.as(w.staffA), directory.UserFilter{}, store.Page{Limit: 2})
		wantKind(t, err, ok, "")
		// staff A sees itself and the consented patient, not the other staff
		// or the unconsented patient; a page of 2 holds both.
		if want := []int64{w.staffA, w.patient}; !slices.Equal(ids(got), want) {
			t.Fatalf("staff A sees %v, want %v", ids(got), want)
		}
		got, _, err = w.svc.SearchUsers(w.as(w.staffB), directory.UserFilter{Role: directory.RolePatient}, store.Page{})
		wantKind(t, err, ok, "")
		if len(got) != 0 {
			t.Fatalf("staff B sees patients %v", ids(got))
		}
		got, _, err = w.svc.SearchUsers(w.as(w.admin), directory.UserFilter{Role: directory.RolePatient}, store.Page{})
		wantKind(t, err, ok, "")
		if want := []int64{w.patient, w.patientNoConsent}; !slices.Equal(ids(got), want) {
			t.Fatalf("admin sees %v, want %v", ids(got), want)
		}
		_, _, err = w.svc.SearchUsers(context.Background(), directory.UserFilter{}, store.Page{})
		wantKind(t, err, apperr.Unauthenticated, "")
	})
}

func TestServiceUpdateUser(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w := newWorld(t, url)
		u, err := w.svc.UpdateUser(w.as(w.staffA), w.patient, func(u *directory.User) error {
			u.GivenName = "Ann"
			u.BirthDate = "1960-03-04"
			u.ID = 1 // ignored: identity is not the callback's to change
			u.PasswordHash = "stolen"
			return nil
		})
		wantKind(t, err, ok, "")
		if u.ID != w.patient || u.GivenName != "Ann" || u.PasswordHash == "stolen" {
			t.Fatalf("updated user %+v", u)
		}
		evs := w.events(w.patient, audit.User)
		if len(evs) != 1 || !strings.Contains(evs[0], "name") || !strings.Contains(evs[0], "birthDate") {
			t.Fatalf("user audit events: %v", evs)
		}

		_, err = w.svc.UpdateUser(w.as(w.staffB), w.patient, func(u *directory.User) error { u.GivenName = "X"; return nil })
		wantKind(t, err, apperr.Forbidden, "")
		_, err = w.svc.UpdateUser(w.as(w.staffA), w.patient, func(u *directory.User) error { u.Gender = "M"; return nil })
		wantKind(t, err, apperr.Invalid, "gender")

		// The audit event and the change commit together: if the audit
		// write fails, the change is rolled back.
		broken := directory.NewService(directory.Deps{Store: w.st, Audit: failingAuditor{}, Hasher: fakeHasher{}}, directory.Config{Now: w.clock})
		_, err = broken.UpdateUser(w.as(w.admin), w.patient, func(u *directory.User) error { u.GivenName = "Lost"; return nil })
		if err == nil {
			t.Fatal("update succeeded without its audit event")
		}
		got, _ := w.svc.GetUser(w.as(w.admin), w.patient)
		if got.GivenName != "Ann" {
			t.Fatalf("change survived a failed audit: %q", got.GivenName)
		}
	})
}

func TestServiceSetPassword(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w := newWorld(t, url)
		wantKind(t, w.svc.SetPassword(w.as(w.patient), w.patient, "correct horse"), ok, "")
		wantKind(t, w.svc.SetPassword(w.as(w.staffA), w.patient, "correct horse"), apperr.Forbidden, "")
		wantKind(t, w.svc.SetPassword(w.as(w.admin), w.patient, "battery staple"), ok, "")
		wantKind(t, w.svc.SetPassword(w.as(w.patient), w.patient, "short"), apperr.Invalid, "at least 8")
		// The one policy: common passwords and the email's name part too.
		wantKind(t, w.svc.SetPassword(w.as(w.admin), w.patient, "baseball"), apperr.Invalid, "most commonly used")
		wantKind(t, w.svc.SetPassword(w.as(w.patient), w.patient, "I am Patient 42"), apperr.Invalid, "name part")
		u, _ := w.svc.GetUser(w.as(w.admin), w.patient)
		want, _ := fakeHasher{}.Hash("battery staple")
		if u.PasswordHash != want {
			t.Fatal("password not stored as the hasher's output")
		}
		for _, e := range w.events(w.patient, audit.Account) {
			if strings.Contains(e, "battery") || strings.Contains(e, "horse") {
				t.Fatalf("password in audit comment: %q", e)
			}
		}
	})
}

func TestServiceConsents(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w := newWorld(t, url)
		cs, err := w.svc.Consents(w.as(w.patient), w.patient)
		wantKind(t, err, ok, "")
		if len(cs) != 1 || !cs[0].ExpiresAt.Equal(w.now.Add(directory.DefaultConsentLifetime)) || cs[0].Status != directory.ConsentConsented {
			t.Fatalf("default consent: %+v", cs)
		}

		// Staff B cannot record a consent for a patient outside its branch;
		// staff A can for its own patient, even before it may edit them.
		_, err = w.svc.AddConsent(w.as(w.staffB), &directory.Consent{UserID: w.patientNoConsent, OrganizationID: w.clinicB})
		wantKind(t, err, apperr.Forbidden, "")
		_, err = w.svc.AddConsent(w.as(w.staffA), &directory.Consent{UserID: w.patientNoConsent, OrganizationID: w.clinicA})
		wantKind(t, err, ok, "")
		wantKind(t, w.svc.CheckRole(w.as(w.staffA), directory.View, w.patientNoConsent), ok, "")
		_, err = w.svc.AddConsent(w.as(w.admin), &directory.Consent{UserID: w.patient, OrganizationID: 4242})
		wantKind(t, err, apperr.Invalid, "does not exist")
		_, err = w.svc.AddConsent(w.as(w.admin), &directory.Consent{UserID: w.patient, OrganizationID: w.clinicA1, Status: "maybe"})
		wantKind(t, err, apperr.Invalid, "status")

		// A new consent with the same organization replaces the old one,
		// which stays on record as deleted by the actor.
		_, err = w.svc.AddConsent(w.as(w.patient), &directory.Consent{UserID: w.patient, OrganizationID: w.clinicA1})
		wantKind(t, err, ok, "")
		cs, _ = w.svc.Consents(w.as(w.patient), w.patient)
		var live, dead int
		for _, c := range cs {
			if c.DeletedAt == nil {
				live++
			} else if c.DeletedBy == w.patient && c.Status == directory.ConsentDeleted {
				dead++
			}
		}
		if live != 1 || dead != 1 {
			t.Fatalf("after replacing: %d live, %d deleted: %+v", live, dead, cs)
		}
		// The new consent is not staff-editable: staff may view, not edit.
		wantKind(t, w.svc.CheckRole(w.as(w.staffA), directory.View, w.patient), ok, "")
		wantKind(t, w.svc.CheckRole(w.as(w.staffA), directory.Edit, w.patient), apperr.Forbidden, "")

		// Withdrawing suspends it: staff lose the patient, the row stays.
		c, err := w.svc.WithdrawConsent(w.as(w.patient), w.patient, w.clinicA1)
		wantKind(t, err, ok, "")
		if c.Status != directory.ConsentSuspended {
			t.Fatalf("withdrawn status %q", c.Status)
		}
		wantKind(t, w.svc.CheckRole(w.as(w.staffA), directory.View, w.patient), apperr.Forbidden, "")
		_, err = w.svc.WithdrawConsent(w.as(w.patient), w.patient, w.clinicA1)
		wantKind(t, err, apperr.Conflict, "")

		wantKind(t, w.svc.DeleteConsent(w.as(w.patient), w.patient, w.clinicA1), ok, "")
		wantKind(t, w.svc.DeleteConsent(w.as(w.patient), w.patient, w.clinicA1), apperr.NotFound, "")
		cs, _ = w.svc.Consents(w.as(w.patient), w.patient)
		if len(cs) != 2 {
			t.Fatalf("deleting must keep rows: %+v", cs)
		}
		// Expiry: a consent past its date no longer grants access.
		w.now = w.now.Add(directory.DefaultConsentLifetime + time.Hour)
		wantKind(t, w.svc.CheckRole(w.as(w.staffA), directory.View, w.patientNoConsent), apperr.Forbidden, "")
		if evs := w.events(w.patient, audit.ConsentCtx); len(evs) != 4 {
			t.Fatalf("consent audit events: %v", evs)
		}
	})
}

func TestServiceVisiblePatients(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w := newWorld(t, url)
		top := w.user("staff.top@example.org", []string{directory.RoleStaff}, w.sys)
		tests := []struct {
			name  string
			ctx   context.Context
			staff int64
			want  []int64
			kind  apperr.Kind
		}{
			{"staff at the clinic above the consent", w.as(w.staffA), w.staffA, []int64{w.patient}, ok},
			{"staff at the health system", w.as(top), top, []int64{w.patient}, ok},
			{"staff at the sibling clinic", w.as(w.staffB), w.staffB, []int64{}, ok},
			{"a patient is no staff", w.as(w.patient), w.patient, []int64{}, ok},
			{"admin asks for staff A", w.as(w.admin), w.staffA, []int64{w.patient}, ok},
			{"staff B asks for staff A", w.as(w.staffB), w.staffA, nil, apperr.Forbidden},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, err := w.svc.VisiblePatients(tc.ctx, tc.staff, 0, 100)
				wantKind(t, err, tc.kind, "")
				if err == nil && !slices.Equal(got, tc.want) && (len(got) != 0 || len(tc.want) != 0) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			})
		}
		// Paging continues after afterID.
		got, err := w.svc.VisiblePatients(w.as(w.staffA), w.staffA, w.patient, 100)
		wantKind(t, err, ok, "")
		if len(got) != 0 {
			t.Fatalf("after the last patient: %v", got)
		}
	})
}

func TestServiceIdentifiersAndMerge(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w := newWorld(t, url)
		ctx := w.as(w.admin)
		mrn := directory.Identifier{System: "http://hospital.example/mrn", Value: "A-1"}
		region := directory.Identifier{System: directory.PracticeRegionSystem, Value: "north"}

		_, err := w.svc.AddUserIdentifier(ctx, w.patient, mrn)
		wantKind(t, err, ok, "")
		_, err = w.svc.AddUserIdentifier(ctx, w.patientNoConsent, mrn)
		wantKind(t, err, apperr.Conflict, "")
		_, err = w.svc.AddUserIdentifier(ctx, w.patient, region)
		wantKind(t, err, ok, "")
		_, err = w.svc.AddUserIdentifier(ctx, w.patientNoConsent, region)
		wantKind(t, err, ok, "") // shared system
		_, err = w.svc.AddUserIdentifier(ctx, w.patient, directory.Identifier{Value: "x"})
		wantKind(t, err, apperr.Invalid, "system is required")
		_, err = w.svc.AddUserIdentifier(w.as(w.staffB), w.patient, directory.Identifier{System: "urn:x", Value: "y"})
		wantKind(t, err, apperr.Forbidden, "")

		// Merge the second patient (an invite account, say) into the first.
		wantKind(t, w.svc.MergeUsers(w.as(w.staffA), w.patientNoConsent, w.patient), apperr.Forbidden, "")
		wantKind(t, w.svc.MergeUsers(ctx, w.patient, w.patient), apperr.Invalid, "")
		if _, err := w.svc.SetUserProfiles(ctx, w.patientNoConsent, []directory.Profile{
			{Type: directory.ProfilePatient, ID: "p-9", Catchment: []string{"3026"}}}); err != nil {
			t.Fatal(err)
		}
		wantKind(t, w.svc.MergeUsers(ctx, w.patientNoConsent, w.patient), ok, "")
		ps, err := w.svc.UserProfiles(ctx, w.patient)
		wantKind(t, err, ok, "")
		if len(ps) != 1 || ps[0].ID != "p-9" {
			t.Fatalf("profiles not moved: %+v", ps)
		}
		from, _ := w.svc.GetUser(ctx, w.patientNoConsent)
		if from.Active() {
			t.Fatal("merged-away user still active")
		}
		if len(w.events(w.patientNoConsent, audit.Account)) != 2 || len(w.events(w.patient, audit.Account)) != 2 {
			t.Fatal("merge must audit both users")
		}
	})
}

func TestServiceMembers(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w := newWorld(t, url)
		ctx := w.as(w.admin)

		_, err := w.svc.CreateGroup(w.as(w.staffA), &directory.Group{Name: "MCI Admin"})
		wantKind(t, err, apperr.Forbidden, "")
		_, err = w.svc.CreateGroup(ctx, &directory.Group{Name: "MCI Admin"})
		wantKind(t, err, ok, "")
		_, err = w.svc.CreateGroup(ctx, &directory.Group{Name: "MCI Admin"})
		wantKind(t, err, apperr.Conflict, "")
		gs, err := w.svc.SetUserGroups(w.as(w.staffA), w.patient, []string{"MCI Admin"})
		wantKind(t, err, ok, "")
		if len(gs) != 1 || gs[0].Name != "MCI Admin" {
			t.Fatalf("groups %+v", gs)
		}
		_, err = w.svc.SetUserGroups(ctx, w.patient, []string{"Nope"})
		wantKind(t, err, apperr.Invalid, `unknown group "Nope"`)

		rels, err := w.svc.SetRelationships(ctx, w.patient, []directory.UserRelationship{
			{Relationship: directory.RelPartner, OtherUserID: w.patientNoConsent}})
		wantKind(t, err, ok, "")
		if len(rels) != 1 || rels[0].UserID != w.patient {
			t.Fatalf("relationships %+v", rels)
		}
		_, err = w.svc.SetRelationships(ctx, w.patient, []directory.UserRelationship{
			{Relationship: "cousin", OtherUserID: w.patientNoConsent}})
		wantKind(t, err, apperr.Invalid, `unknown relationship "cousin"`)
		_, err = w.svc.SetRelationships(ctx, w.patient, []directory.UserRelationship{
			{Relationship: directory.RelPartner, OtherUserID: 999999}})
		wantKind(t, err, apperr.Invalid, "does not exist")

		_, err = w.svc.SetUserProfiles(ctx, w.patient, []directory.Profile{{Type: "nurse", ID: "1"}})
		wantKind(t, err, apperr.Invalid, "profile type")

		orgs, err := w.svc.SetUserOrganizations(w.as(w.staffA), w.patient, []int64{w.clinicA1, w.clinicA})
		wantKind(t, err, ok, "")
		if len(orgs) != 2 {
			t.Fatalf("organizations %+v", orgs)
		}
		_, err = w.svc.SetUserOrganizations(w.as(w.staffA), w.patient, []int64{w.clinicB})
		wantKind(t, err, apperr.Forbidden, "outside your organizations")

		_, err = w.svc.AcceptToU(w.as(w.patient), &directory.ToU{UserID: w.patient, Type: "website terms of use",
			URL: "https://example.org/tou"})
		wantKind(t, err, ok, "")
		_, err = w.svc.AcceptToU(w.as(w.staffB), &directory.ToU{UserID: w.patient, Type: "website terms of use",
			URL: "https://example.org/tou"})
		wantKind(t, err, apperr.Forbidden, "")
		tous, err := w.svc.ToUs(w.as(w.patient), w.patient)
		wantKind(t, err, ok, "")
		if len(tous) != 1 || !tous[0].Active {
			t.Fatalf("ToUs %+v", tous)
		}
	})
}

// TestServiceCheckManagesAccounts: those who may create accounts manage
// people; a patient, a developer or intervention staff do not.
func TestServiceCheckManagesAccounts(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w := newWorld(t, url)
		dev := w.user("dev@example.org", []string{directory.RoleApplicationDeveloper})
		for _, tc := range []struct {
			name string
			ctx  context.Context
			want apperr.Kind
		}{
			{"system", w.system(), ok},
			{"admin", w.as(w.admin), ok},
			{"staff_admin", w.as(w.staffAdminA), ok},
			{"staff", w.as(w.staffA), ok},
			{"clinician", w.as(w.clinicianA), ok},
			{"patient", w.as(w.patient), apperr.Forbidden},
			{"developer", w.as(dev), apperr.Forbidden},
			{"intervention_staff", w.as(w.ivStaff), apperr.Forbidden},
			{"anonymous", context.Background(), apperr.Unauthenticated},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantKind(t, w.svc.CheckManagesAccounts(tc.ctx), tc.want, "")
			})
		}
	})
}

// TestServiceAuditScope: ward and administrators read the whole audit log,
// any other person what involves them, a client acting for nobody nothing.
func TestServiceAuditScope(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		w := newWorld(t, url)
		for _, tc := range []struct {
			name    string
			ctx     context.Context
			all     bool
			self    int64
			refused bool
		}{
			{"system", w.system(), true, 0, false},
			{"admin", w.as(w.admin), true, w.admin, false},
			{"staff_admin", w.as(w.staffAdminA), false, w.staffAdminA, false},
			{"patient", w.as(w.patient), false, w.patient, false},
			{"client for nobody", actor.With(context.Background(), actor.Actor{ClientID: "backend"}), false, 0, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				all, self, err := w.svc.AuditScope(tc.ctx)
				if tc.refused {
					wantKind(t, err, apperr.Forbidden, "")
					return
				}
				if err != nil || all != tc.all || self != tc.self {
					t.Errorf("AuditScope = %v, %d, %v; want %v, %d", all, self, err, tc.all, tc.self)
				}
			})
		}
	})
}
