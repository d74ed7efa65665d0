package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/session"
	"ward/internal/store"
)

func testUserRoundTrip(t *testing.T, b Backend) {
	ctx := t.Context()
	gp := newUser(t, b, "gp@example.org", directory.RoleClinician)
	u := fullUser(1, gp.ID)
	must(t, b.Directory.CreateUser(ctx, u), "create")
	if u.ID == 0 || u.Version != 1 || u.UpdatedAt.IsZero() {
		t.Fatalf("create did not set ID/Version/UpdatedAt: %+v", u)
	}
	got, err := b.Directory.GetUser(ctx, u.ID)
	must(t, err, "get")
	mustEqual(t, got, u, "user read back")

	byEmail, err := b.Directory.GetUserByEmail(ctx, "PERSON.1@example.ORG")
	must(t, err, "get by email in another case")
	mustEqual(t, byEmail, u, "user by email")

	// A user created deleted round-trips its DeletedAt and is hidden from
	// the email lookup.
	d := fullUser(2, 0)
	d.DeletedAt = microPtr(base.Add(72 * time.Hour))
	must(t, b.Directory.CreateUser(ctx, d), "create deleted")
	got, err = b.Directory.GetUser(ctx, d.ID)
	must(t, err, "get deleted")
	mustEqual(t, got, d, "deleted user read back")
	_, err = b.Directory.GetUserByEmail(ctx, d.Email)
	wantKind(t, err, apperr.NotFound, "email lookup of a deleted user")

	// Times come back in UTC with microsecond precision, and the created
	// struct says so too, so it equals what a later read returns.
	z := fullUser(3, 0)
	east := time.FixedZone("east", 10*3600)
	z.Registered = base.In(east)
	confirmed := base.Add(999 * time.Nanosecond).In(east)
	z.ConfirmedAt = &confirmed
	must(t, b.Directory.CreateUser(ctx, z), "create with local, nanosecond times")
	if !z.Registered.Equal(micro(base)) || z.Registered.Location() != time.UTC || *z.ConfirmedAt != micro(confirmed) {
		t.Fatalf("created user times %v, %v; want UTC microseconds", z.Registered, *z.ConfirmedAt)
	}
	got, err = b.Directory.GetUser(ctx, z.ID)
	must(t, err, "get normalized")
	mustEqual(t, got, z, "user with normalized times")

	// Soft delete and reactivate.
	at := base.Add(96 * time.Hour)
	must(t, b.Directory.SetUserDeleted(ctx, u.ID, &at), "soft delete")
	got, err = b.Directory.GetUser(ctx, u.ID)
	must(t, err, "get soft-deleted")
	if got.DeletedAt == nil || !got.DeletedAt.Equal(micro(at)) || got.Active() {
		t.Fatalf("DeletedAt = %v, want %v", got.DeletedAt, at)
	}
	must(t, b.Directory.SetUserDeleted(ctx, u.ID, nil), "reactivate")
	got, err = b.Directory.GetUser(ctx, u.ID)
	must(t, err, "get reactivated")
	if !got.Active() {
		t.Fatalf("reactivated user still deleted: %v", got.DeletedAt)
	}
}

func testUserNotFound(t *testing.T, b Backend) {
	ctx := t.Context()
	const missing = 987654
	_, err := b.Directory.GetUser(ctx, missing)
	wantKind(t, err, apperr.NotFound, "GetUser")
	_, err = b.Directory.GetUserByEmail(ctx, "nobody@example.org")
	wantKind(t, err, apperr.NotFound, "GetUserByEmail")
	_, err = b.Directory.GetUserByEmail(ctx, "")
	wantKind(t, err, apperr.NotFound, "GetUserByEmail empty")
	wantKind(t, b.Directory.UpdateUser(ctx, &directory.User{ID: missing, Version: 1}), apperr.NotFound, "UpdateUser")
	now := base
	wantKind(t, b.Directory.SetUserDeleted(ctx, missing, &now), apperr.NotFound, "SetUserDeleted")
	wantKind(t, b.Directory.PurgeUser(ctx, missing), apperr.NotFound, "PurgeUser")
	u := newUser(t, b, "a@example.org")
	wantKind(t, b.Directory.MoveUserData(ctx, missing, u.ID), apperr.NotFound, "MoveUserData from missing")
	wantKind(t, b.Directory.MoveUserData(ctx, u.ID, missing), apperr.NotFound, "MoveUserData to missing")
	wantKind(t, b.Directory.MoveUserData(ctx, u.ID, u.ID), apperr.Invalid, "MoveUserData onto itself")
}

func testEmailUnique(t *testing.T, b Backend) {
	ctx := t.Context()
	first := newUser(t, b, "Same@Example.org")
	dup := &directory.User{Email: "same@example.ORG", Registered: base}
	err := b.Directory.CreateUser(ctx, dup)
	wantKind(t, err, apperr.Conflict, "duplicate email in another case")
	wantEmailTaken(t, err, "duplicate email")
	if dup.ID != 0 {
		t.Fatalf("failed create set ID %d", dup.ID)
	}

	// Users without email do not collide.
	newUser(t, b, "")
	newUser(t, b, "")

	// Once the first is deleted, its email may be used again...
	at := base
	must(t, b.Directory.SetUserDeleted(ctx, first.ID, &at), "delete first")
	second := newUser(t, b, "SAME@example.org")
	got, err := b.Directory.GetUserByEmail(ctx, "same@example.org")
	must(t, err, "lookup")
	if got.ID != second.ID {
		t.Fatalf("lookup found user %d, want the live one %d", got.ID, second.ID)
	}
	// ...and the first cannot come back while the email is taken.
	err = b.Directory.SetUserDeleted(ctx, first.ID, nil)
	wantKind(t, err, apperr.Conflict, "reactivate onto a taken email")
	wantEmailTaken(t, err, "reactivate onto a taken email")

	// Changing an email onto a taken one is a Conflict too.
	other := newUser(t, b, "other@example.org")
	other.Email = "Same@example.org"
	err = b.Directory.UpdateUser(ctx, other)
	wantKind(t, err, apperr.Conflict, "update onto a taken email")
	wantEmailTaken(t, err, "update onto a taken email")
}

// wantEmailTaken checks a duplicate email is worded the same on every
// database, with no driver or constraint text anywhere in the error (the
// CLI prints all of it).
func wantEmailTaken(t *testing.T, err error, what string) {
	t.Helper()
	if got := apperr.Message(err); got != "a user with this email already exists" {
		t.Errorf("%s: message %q, want %q", what, got, "a user with this email already exists")
	}
	for _, leak := range []string{"constraint", "UNIQUE", "email_lower", "23505", "SQLSTATE"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("%s: error %q leaks %q", what, err, leak)
		}
	}
}

func testUpdateUserVersion(t *testing.T, b Backend) {
	ctx := t.Context()
	gp := newUser(t, b, "gp@example.org")
	u := newUser(t, b, "u@example.org")
	stale := *u

	// Every field is written.
	want := fullUser(7, gp.ID)
	want.ID, want.Version = u.ID, u.Version
	before := u.UpdatedAt
	must(t, b.Directory.UpdateUser(ctx, want), "update")
	if want.Version != 2 || want.UpdatedAt.Before(before) {
		t.Fatalf("version %d updated %v after update, want 2 and >= %v", want.Version, want.UpdatedAt, before)
	}
	got, err := b.Directory.GetUser(ctx, u.ID)
	must(t, err, "get")
	mustEqual(t, got, want, "updated user")

	// A writer holding the old version loses.
	stale.GivenName = "Lost update"
	wantKind(t, b.Directory.UpdateUser(ctx, &stale), apperr.Conflict, "stale version")
	got, err = b.Directory.GetUser(ctx, u.ID)
	must(t, err, "get after conflict")
	if got.GivenName != want.GivenName || got.Version != 2 {
		t.Fatalf("stale update changed the row: %+v", got)
	}

	// Soft delete bumps the version too, so an edit read before it conflicts.
	at := base
	must(t, b.Directory.SetUserDeleted(ctx, u.ID, &at), "delete")
	wantKind(t, b.Directory.UpdateUser(ctx, want), apperr.Conflict, "update read before delete")
}

func testSearchUsers(t *testing.T, b Backend) {
	ctx := t.Context()
	org := newOrg(t, b, "Clinic", 0)
	var ids []int64
	for i, e := range []string{"ann@example.org", "bob@example.org", "cat@example.org", "dan@example.org", "eve@example.org"} {
		role := directory.RolePatient
		if i%2 == 1 {
			role = directory.RoleStaff
		}
		u := newUser(t, b, e, role)
		ids = append(ids, u.ID)
	}
	// ann: name with a LIKE wildcard; bob: identifier; cat: in org; eve: deleted.
	ann, err := b.Directory.GetUser(ctx, ids[0])
	must(t, err, "get ann")
	ann.FamilyName = "O'Brien_100%"
	must(t, b.Directory.UpdateUser(ctx, ann), "rename ann")
	ident := directory.Identifier{System: "http://mrn.example.org", Value: "MRN-1"}
	must(t, b.Directory.AddUserIdentifier(ctx, ids[1], ident, true), "identifier")
	must(t, b.Directory.SetUserOrganizations(ctx, ids[2], []int64{org.ID}), "org")
	at := base
	must(t, b.Directory.SetUserDeleted(ctx, ids[4], &at), "delete eve")

	tests := []struct {
		name string
		f    directory.UserFilter
		want []int64
	}{
		{"all live", directory.UserFilter{}, ids[:4]},
		{"with deleted", directory.UserFilter{IncludeDeleted: true}, ids},
		{"email any case", directory.UserFilter{Email: "BOB@example.org"}, ids[1:2]},
		{"email of deleted hidden", directory.UserFilter{Email: "eve@example.org"}, nil},
		{"name substring any case", directory.UserFilter{Name: "brien_1"}, ids[:1]},
		{"name wildcard is literal", directory.UserFilter{Name: "%"}, ids[:1]},
		{"underscore is literal", directory.UserFilter{Name: "n_"}, ids[:1]},
		{"identifier", directory.UserFilter{Identifier: &ident}, ids[1:2]},
		{"identifier other value", directory.UserFilter{Identifier: &directory.Identifier{System: ident.System, Value: "x"}}, nil},
		{"organization", directory.UserFilter{OrganizationID: org.ID}, ids[2:3]},
		{"role", directory.UserFilter{Role: directory.RoleStaff}, []int64{ids[1], ids[3]}},
		{"role and ids", directory.UserFilter{Role: directory.RolePatient, IDs: []int64{ids[0], ids[1], ids[4]}}, ids[:1]},
		{"empty ids match nobody", directory.UserFilter{IDs: []int64{}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			us, next, err := b.Directory.SearchUsers(ctx, tc.f, store.Page{Limit: 100})
			must(t, err, "search")
			if next != "" {
				t.Errorf("next cursor %q on the only page", next)
			}
			var got []int64
			for _, u := range us {
				got = append(got, u.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("ids %v, want %v", got, tc.want)
			}
			n, err := b.Directory.CountUsers(ctx, tc.f)
			must(t, err, "count")
			if n != len(tc.want) {
				t.Fatalf("count %d, want %d", n, len(tc.want))
			}
		})
	}

	t.Run("paging", func(t *testing.T) {
		var got []int64
		p := store.Page{Limit: 2}
		for range 10 {
			us, next, err := b.Directory.SearchUsers(ctx, directory.UserFilter{IncludeDeleted: true}, p)
			must(t, err, "page")
			if len(us) > 2 {
				t.Fatalf("page of %d, limit 2", len(us))
			}
			for _, u := range us {
				got = append(got, u.ID)
			}
			if next == "" {
				break
			}
			p.After = next
		}
		if !slices.Equal(got, ids) {
			t.Fatalf("paged ids %v, want %v", got, ids)
		}
	})
	t.Run("bad cursor", func(t *testing.T) {
		_, _, err := b.Directory.SearchUsers(ctx, directory.UserFilter{}, store.Page{After: "not a cursor!"})
		wantKind(t, err, apperr.Invalid, "bad cursor")
	})
}

func testRoles(t *testing.T, b Backend) {
	ctx := t.Context()
	u := newUser(t, b, "r@example.org")
	roles, err := b.Directory.UserRoles(ctx, u.ID)
	must(t, err, "no roles")
	if len(roles) != 0 {
		t.Fatalf("new user has roles %v", roles)
	}
	must(t, b.Directory.SetUserRoles(ctx, u.ID, []string{directory.RoleStaff, directory.RoleAdmin, directory.RoleStaff}), "set")
	roles, err = b.Directory.UserRoles(ctx, u.ID)
	must(t, err, "roles")
	mustEqual(t, roles, []string{directory.RoleAdmin, directory.RoleStaff}, "roles sorted, deduplicated")

	wantKind(t, b.Directory.SetUserRoles(ctx, u.ID, []string{directory.RolePatient, "overlord"}), apperr.Invalid, "unknown role")
	roles, err = b.Directory.UserRoles(ctx, u.ID)
	must(t, err, "roles after failure")
	mustEqual(t, roles, []string{directory.RoleAdmin, directory.RoleStaff}, "failed set left roles alone")

	must(t, b.Directory.SetUserRoles(ctx, u.ID, nil), "clear")
	roles, err = b.Directory.UserRoles(ctx, u.ID)
	must(t, err, "roles after clear")
	if len(roles) != 0 {
		t.Fatalf("cleared roles %v", roles)
	}
}

func testEnsureStaticData(t *testing.T, b Backend) {
	ctx := t.Context()
	want := slices.Clone(directory.StaticRoles)
	slices.SortFunc(want, func(a, b directory.Role) int {
		if a.Name < b.Name {
			return -1
		}
		return 1
	})
	for i := range 2 {
		must(t, b.Directory.EnsureStaticData(ctx), "ensure")
		got, err := b.Roles(ctx)
		must(t, err, "roles")
		mustEqual(t, got, want, "roles after EnsureStaticData run "+string(rune('1'+i)))
	}
	// Relationships are seeded too: setting one needs it.
	u := newUser(t, b, "a@example.org")
	v := newUser(t, b, "b@example.org")
	for _, r := range directory.StaticRelationships {
		must(t, b.Directory.SetRelationships(ctx, u.ID, []directory.UserRelationship{{Relationship: r.Name, OtherUserID: v.ID}}),
			"relationship "+r.Name)
	}
}

func testMoveUserData(t *testing.T, b Backend) {
	ctx := t.Context()
	org1, org2 := newOrg(t, b, "One", 0), newOrg(t, b, "Two", 0)
	from := newUser(t, b, "from@example.org", directory.RolePatient, directory.RoleTest)
	to := newUser(t, b, "to@example.org", directory.RolePatient)
	other := newUser(t, b, "other@example.org")
	g1, g2 := &directory.Group{Name: "g1"}, &directory.Group{Name: "g2"}
	must(t, b.Directory.CreateGroup(ctx, g1), "g1")
	must(t, b.Directory.CreateGroup(ctx, g2), "g2")

	must(t, b.Directory.SetUserOrganizations(ctx, from.ID, []int64{org1.ID, org2.ID}), "from orgs")
	must(t, b.Directory.SetUserOrganizations(ctx, to.ID, []int64{org1.ID}), "to orgs")
	shared := directory.Identifier{System: "urn:s", Value: "1", Use: "usual"}
	own := directory.Identifier{System: "urn:s", Value: "2", Use: "official"}
	must(t, b.Directory.AddUserIdentifier(ctx, from.ID, shared, false), "from shared ident")
	must(t, b.Directory.AddUserIdentifier(ctx, from.ID, own, false), "from own ident")
	must(t, b.Directory.AddUserIdentifier(ctx, to.ID, shared, false), "to shared ident")
	must(t, b.Directory.SetUserGroups(ctx, from.ID, []int64{g1.ID, g2.ID}), "from groups")
	must(t, b.Directory.SetUserGroups(ctx, to.ID, []int64{g1.ID}), "to groups")
	must(t, b.Directory.SetUserProfiles(ctx, from.ID, []directory.Profile{{Type: "patient", ID: "p1", Catchment: []string{"30"}}}), "profiles")
	must(t, b.Directory.SetRelationships(ctx, from.ID, []directory.UserRelationship{
		{Relationship: directory.RelPartner, OtherUserID: other.ID},
		{Relationship: directory.RelSponsor, OtherUserID: to.ID},
	}), "from relationships")
	must(t, b.Directory.SetRelationships(ctx, other.ID, []directory.UserRelationship{
		{Relationship: directory.RelSponsor, OtherUserID: from.ID},
	}), "other relationships")
	c := validConsent(from.ID, org2.ID)
	must(t, b.Directory.CreateConsent(ctx, &c), "consent")
	tou := directory.ToU{UserID: from.ID, Type: "website terms of use", URL: "https://t", AcceptedAt: base}
	must(t, b.Directory.AddToU(ctx, &tou), "tou")
	must(t, b.EnrollIntervention(ctx, from.ID, "decision_support"), "enroll")

	must(t, b.Directory.MoveUserData(ctx, from.ID, to.ID), "move")

	roles, err := b.Directory.UserRoles(ctx, to.ID)
	must(t, err, "to roles")
	mustEqual(t, roles, []string{directory.RolePatient, directory.RoleTest}, "merged roles")
	orgs, err := b.Directory.UserOrganizations(ctx, to.ID)
	must(t, err, "to orgs")
	mustEqual(t, orgs, []int64{org1.ID, org2.ID}, "merged orgs")
	idents, err := b.Directory.UserIdentifiers(ctx, to.ID)
	must(t, err, "to idents")
	mustEqual(t, idents, []directory.Identifier{shared, own}, "merged identifiers")
	groups, err := b.Directory.UserGroups(ctx, to.ID)
	must(t, err, "to groups")
	mustEqual(t, groups, []directory.Group{*g1, *g2}, "merged groups")
	profiles, err := b.Directory.UserProfiles(ctx, to.ID)
	must(t, err, "to profiles")
	mustEqual(t, profiles, []directory.Profile{{Type: "patient", ID: "p1", Catchment: []string{"30"}}}, "merged profiles")
	rels, err := b.Directory.Relationships(ctx, to.ID)
	must(t, err, "to relationships")
	mustEqual(t, rels, []directory.UserRelationship{
		{UserID: to.ID, Relationship: directory.RelPartner, OtherUserID: other.ID},
		{UserID: other.ID, Relationship: directory.RelSponsor, OtherUserID: to.ID},
	}, "merged relationships (the one between the merged users dropped)")
	consents, err := b.Directory.Consents(ctx, to.ID)
	must(t, err, "to consents")
	if len(consents) != 1 || consents[0].ID != c.ID {
		t.Fatalf("merged consents %+v, want consent %d", consents, c.ID)
	}
	tous, err := b.Directory.ToUs(ctx, to.ID)
	must(t, err, "to tous")
	if len(tous) != 1 || tous[0].ID != tou.ID {
		t.Fatalf("merged ToUs %+v, want %d", tous, tou.ID)
	}
	ok, err := b.Directory.SharedIntervention(ctx, to.ID, to.ID)
	must(t, err, "to interventions")
	if !ok {
		t.Fatalf("intervention enrolment was not moved")
	}

	// Nothing is left on the source.
	for name, n := range map[string]func() (int, error){
		"roles":         func() (int, error) { v, err := b.Directory.UserRoles(ctx, from.ID); return len(v), err },
		"orgs":          func() (int, error) { v, err := b.Directory.UserOrganizations(ctx, from.ID); return len(v), err },
		"identifiers":   func() (int, error) { v, err := b.Directory.UserIdentifiers(ctx, from.ID); return len(v), err },
		"groups":        func() (int, error) { v, err := b.Directory.UserGroups(ctx, from.ID); return len(v), err },
		"profiles":      func() (int, error) { v, err := b.Directory.UserProfiles(ctx, from.ID); return len(v), err },
		"relationships": func() (int, error) { v, err := b.Directory.Relationships(ctx, from.ID); return len(v), err },
		"consents":      func() (int, error) { v, err := b.Directory.Consents(ctx, from.ID); return len(v), err },
		"tous":          func() (int, error) { v, err := b.Directory.ToUs(ctx, from.ID); return len(v), err },
	} {
		got, err := n()
		must(t, err, "source "+name)
		if got != 0 {
			t.Errorf("source still has %d %s", got, name)
		}
	}
}

func testPurgeUser(t *testing.T, b Backend) {
	ctx := t.Context()
	org := newOrg(t, b, "Clinic", 0)
	u := newUser(t, b, "gone@example.org", directory.RolePatient)
	other := newUser(t, b, "stays@example.org")
	other.GeneralPractitionerID = u.ID
	must(t, b.Directory.UpdateUser(ctx, other), "gp link")
	g := &directory.Group{Name: "g"}
	must(t, b.Directory.CreateGroup(ctx, g), "group")
	must(t, b.Directory.SetUserOrganizations(ctx, u.ID, []int64{org.ID}), "orgs")
	must(t, b.Directory.AddUserIdentifier(ctx, u.ID, directory.Identifier{System: "urn:s", Value: "v"}, true), "ident")
	must(t, b.Directory.SetUserGroups(ctx, u.ID, []int64{g.ID}), "groups")
	must(t, b.Directory.SetUserProfiles(ctx, u.ID, []directory.Profile{{Type: "patient", ID: "1"}}), "profiles")
	must(t, b.Directory.SetRelationships(ctx, other.ID, []directory.UserRelationship{{Relationship: directory.RelPartner, OtherUserID: u.ID}}), "rel")
	c := validConsent(u.ID, org.ID)
	must(t, b.Directory.CreateConsent(ctx, &c), "consent")
	must(t, b.Directory.AddToU(ctx, &directory.ToU{UserID: u.ID, Type: "t", AcceptedAt: base}), "tou")
	must(t, b.EnrollIntervention(ctx, u.ID, "care_plan"), "enroll")
	must(t, b.Session.CreateSession(ctx, &session.Session{TokenHash: "h1", UserID: u.ID, CreatedAt: base, LastSeen: base, AuthTime: base}), "session")
	ev := audit.Event{Timestamp: base, UserID: u.ID, SubjectID: u.ID, Context: audit.User, Comment: "created"}
	must(t, b.Audit.AppendAudit(ctx, &ev), "audit")

	must(t, b.Directory.PurgeUser(ctx, u.ID), "purge")

	_, err := b.Directory.GetUser(ctx, u.ID)
	wantKind(t, err, apperr.NotFound, "purged user")
	_, err = b.Session.GetSession(ctx, "h1")
	wantKind(t, err, apperr.NotFound, "purged user's session")
	rels, err := b.Directory.Relationships(ctx, other.ID)
	must(t, err, "other's relationships")
	if len(rels) != 0 {
		t.Fatalf("relationship to a purged user survived: %+v", rels)
	}
	got, err := b.Directory.GetUser(ctx, other.ID)
	must(t, err, "other")
	if got.GeneralPractitionerID != 0 {
		t.Fatalf("general practitioner still points at the purged user")
	}
	// The organization is free again: its member and consent are gone.
	must(t, b.Directory.DeleteOrganization(ctx, org.ID), "delete the purged user's organization")
	// The audit trail keeps the id as a number.
	evs, _, err := b.Audit.ListAudit(ctx, audit.Filter{SubjectID: u.ID}, store.Page{})
	must(t, err, "audit")
	if len(evs) != 1 {
		t.Fatalf("audit events about the purged user: %d, want 1", len(evs))
	}
	// The email is free.
	newUser(t, b, "gone@example.org")
}
