package storetest

import (
	"testing"

	"ward/internal/apperr"
	"ward/internal/directory"
)

func testUserIdentifiers(t *testing.T, b Backend) {
	ctx := t.Context()
	u := newUser(t, b, "u@example.org")
	v := newUser(t, b, "v@example.org")
	mrn := directory.Identifier{System: "http://hospital.example.org/mrn", Value: "123", Use: "usual"}
	ext := directory.Identifier{System: "http://other.example.org/id", Value: "abc", Use: "secondary"}
	must(t, b.Directory.AddUserIdentifier(ctx, u.ID, mrn, true), "add mrn")
	must(t, b.Directory.AddUserIdentifier(ctx, u.ID, ext, false), "add ext")
	got, err := b.Directory.UserIdentifiers(ctx, u.ID)
	must(t, err, "list")
	mustEqual(t, got, []directory.Identifier{mrn, ext}, "identifiers in insertion order")

	// Adding one the user already holds updates it instead of duplicating.
	mrn2 := mrn
	mrn2.Use = "official"
	must(t, b.Directory.AddUserIdentifier(ctx, u.ID, mrn2, true), "re-add")
	got, err = b.Directory.UserIdentifiers(ctx, u.ID)
	must(t, err, "list after re-add")
	mustEqual(t, got, []directory.Identifier{mrn2, ext}, "re-added identifier")

	// Unique: another live user may not take it; non-unique: they may.
	wantKind(t, b.Directory.AddUserIdentifier(ctx, v.ID, mrn, true), apperr.Conflict, "unique identifier of another user")
	must(t, b.Directory.AddUserIdentifier(ctx, v.ID, ext, false), "shared non-unique identifier")
	// Once the holder is deleted, the identifier is free.
	at := base
	must(t, b.Directory.SetUserDeleted(ctx, u.ID, &at), "delete holder")
	must(t, b.Directory.AddUserIdentifier(ctx, v.ID, mrn, true), "identifier of a deleted user")

	wantKind(t, b.Directory.AddUserIdentifier(ctx, v.ID, directory.Identifier{System: "urn:x"}, false), apperr.Invalid, "identifier without value")
	wantKind(t, b.Directory.AddUserIdentifier(ctx, 99999, ext, false), apperr.Invalid, "identifier of an unknown user")

	must(t, b.Directory.RemoveUserIdentifier(ctx, v.ID, ext), "remove")
	got, err = b.Directory.UserIdentifiers(ctx, v.ID)
	must(t, err, "list after remove")
	mustEqual(t, got, []directory.Identifier{mrn}, "identifiers after remove")
	wantKind(t, b.Directory.RemoveUserIdentifier(ctx, v.ID, ext), apperr.NotFound, "remove twice")
}

func testRelationships(t *testing.T, b Backend) {
	ctx := t.Context()
	svc := newUser(t, b, "svc@example.org", directory.RoleService)
	sponsor := newUser(t, b, "sponsor@example.org")
	partner := newUser(t, b, "partner@example.org")
	must(t, b.Directory.SetRelationships(ctx, svc.ID, []directory.UserRelationship{
		{Relationship: directory.RelSponsor, OtherUserID: sponsor.ID},
		{UserID: svc.ID, Relationship: directory.RelPartner, OtherUserID: partner.ID},
	}), "set")
	must(t, b.Directory.SetRelationships(ctx, partner.ID, []directory.UserRelationship{
		{Relationship: directory.RelPartner, OtherUserID: svc.ID},
	}), "set other side")
	got, err := b.Directory.Relationships(ctx, svc.ID)
	must(t, err, "get")
	mustEqual(t, got, []directory.UserRelationship{
		{UserID: svc.ID, Relationship: directory.RelPartner, OtherUserID: partner.ID},
		{UserID: svc.ID, Relationship: directory.RelSponsor, OtherUserID: sponsor.ID},
		{UserID: partner.ID, Relationship: directory.RelPartner, OtherUserID: svc.ID},
	}, "relationships on either side")
	got, err = b.Directory.Relationships(ctx, sponsor.ID)
	must(t, err, "sponsor side")
	mustEqual(t, got, []directory.UserRelationship{{UserID: svc.ID, Relationship: directory.RelSponsor, OtherUserID: sponsor.ID}}, "sponsor side")

	// Replacing touches only the subject's own rows.
	must(t, b.Directory.SetRelationships(ctx, svc.ID, nil), "clear")
	got, err = b.Directory.Relationships(ctx, svc.ID)
	must(t, err, "after clear")
	mustEqual(t, got, []directory.UserRelationship{{UserID: partner.ID, Relationship: directory.RelPartner, OtherUserID: svc.ID}}, "after clear")

	wantKind(t, b.Directory.SetRelationships(ctx, svc.ID, []directory.UserRelationship{{Relationship: "nemesis", OtherUserID: sponsor.ID}}),
		apperr.Invalid, "unknown relationship")
	wantKind(t, b.Directory.SetRelationships(ctx, svc.ID, []directory.UserRelationship{{Relationship: directory.RelSponsor, OtherUserID: 99999}}),
		apperr.Invalid, "unknown other user")
	wantKind(t, b.Directory.SetRelationships(ctx, svc.ID, []directory.UserRelationship{{UserID: sponsor.ID, Relationship: directory.RelSponsor, OtherUserID: svc.ID}}),
		apperr.Invalid, "relationship of someone else")
}

func testGroups(t *testing.T, b Backend) {
	ctx := t.Context()
	zeta := &directory.Group{Name: "zeta", Description: "Last group"}
	alpha := &directory.Group{Name: "alpha", Description: "First group"}
	must(t, b.Directory.CreateGroup(ctx, zeta), "zeta")
	must(t, b.Directory.CreateGroup(ctx, alpha), "alpha")
	if zeta.ID == 0 || alpha.ID == 0 {
		t.Fatalf("CreateGroup did not set ids")
	}
	wantKind(t, b.Directory.CreateGroup(ctx, &directory.Group{Name: "zeta"}), apperr.Conflict, "duplicate group")
	all, err := b.Directory.Groups(ctx)
	must(t, err, "groups")
	mustEqual(t, all, []directory.Group{*alpha, *zeta}, "groups by name")

	u := newUser(t, b, "u@example.org")
	must(t, b.Directory.SetUserGroups(ctx, u.ID, []int64{zeta.ID, alpha.ID}), "set")
	got, err := b.Directory.UserGroups(ctx, u.ID)
	must(t, err, "user groups")
	mustEqual(t, got, []directory.Group{*alpha, *zeta}, "user groups by name")
	must(t, b.Directory.SetUserGroups(ctx, u.ID, []int64{zeta.ID}), "replace")
	got, err = b.Directory.UserGroups(ctx, u.ID)
	must(t, err, "user groups after replace")
	mustEqual(t, got, []directory.Group{*zeta}, "replaced groups")
	wantKind(t, b.Directory.SetUserGroups(ctx, u.ID, []int64{99999}), apperr.Invalid, "unknown group")
}

func testProfiles(t *testing.T, b Backend) {
	ctx := t.Context()
	u := newUser(t, b, "u@example.org")
	ps := []directory.Profile{
		{Type: directory.ProfileProvider, ID: "P-2", Catchment: []string{"3026", "302618"}},
		{Type: directory.ProfileAdmin, ID: "A-1", Catchment: []string{"30"}},
		{Type: directory.ProfileProvider, ID: "P-1", Catchment: []string{"40"}},
	}
	must(t, b.Directory.SetUserProfiles(ctx, u.ID, ps), "set")
	got, err := b.Directory.UserProfiles(ctx, u.ID)
	must(t, err, "get")
	mustEqual(t, got, []directory.Profile{ps[1], ps[2], ps[0]}, "profiles by (type, id)")
	must(t, b.Directory.SetUserProfiles(ctx, u.ID, ps[:1]), "replace")
	got, err = b.Directory.UserProfiles(ctx, u.ID)
	must(t, err, "get replaced")
	mustEqual(t, got, ps[:1], "replaced profiles")
	wantKind(t, b.Directory.SetUserProfiles(ctx, u.ID, []directory.Profile{ps[2], ps[2]}), apperr.Conflict, "duplicate profile")
	got, err = b.Directory.UserProfiles(ctx, u.ID)
	must(t, err, "get after failure")
	mustEqual(t, got, ps[:1], "failed set left profiles alone")
}
