package storetest

import (
	"slices"
	"testing"

	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/store"
)

func fullOrg(name string, parent int64, alias string) *directory.Organization {
	return &directory.Organization{
		Name:     name,
		PartOfID: parent,
		Identifiers: []directory.Identifier{
			{System: directory.ShortcutAliasSystem, Value: alias, Use: "secondary"},
			{System: "http://us.truenth.org/identity-codes/practice-region", Value: alias + "-region", Use: "official"},
		},
		Type:    []directory.Coding{{System: "http://hl7.org/fhir/organization-type", Code: "prov", Display: "Healthcare Provider"}},
		Telecom: []directory.ContactPoint{{System: "phone", Value: "+61 2 5550 1234", Use: "work"}},
		Addresses: []directory.Address{{
			Use: "work", Type: "physical", Text: "1 Main St", Line: []string{"1 Main St", "Level 2"},
			City: "Sydney", District: "Inner West", State: "NSW", PostalCode: "2000", Country: "AU",
		}},
		Timezone:      "Australia/Sydney",
		DefaultLocale: "en-AU",
		Coding:        directory.CodingOptions{UseSpecificCodings: true, RaceCodings: true, EthnicityCodings: true, IndigenousCodings: true},
	}
}

func testOrganizationRoundTrip(t *testing.T, b Backend) {
	ctx := t.Context()
	top := newOrg(t, b, "Ministry", 0)
	o := fullOrg("Clinic", top.ID, "clinic")
	must(t, b.Directory.CreateOrganization(ctx, o), "create")
	if o.ID == 0 || o.Version != 1 || o.UpdatedAt.IsZero() {
		t.Fatalf("create did not set ID/Version/UpdatedAt: %+v", o)
	}
	got, err := b.Directory.GetOrganization(ctx, o.ID)
	must(t, err, "get")
	mustEqual(t, got, o, "organization read back")
	got, err = b.Directory.GetOrganizationByIdentifier(ctx, directory.ShortcutAliasSystem, "clinic")
	must(t, err, "get by identifier")
	mustEqual(t, got, o, "organization by identifier")

	// Update replaces every field, identifiers included.
	other := newOrg(t, b, "Other top", 0)
	upd := fullOrg("Clinic renamed", other.ID, "renamed")
	upd.Identifiers = upd.Identifiers[:1]
	upd.Timezone, upd.DefaultLocale = "UTC", "fr-FR"
	upd.Coding = directory.CodingOptions{RaceCodings: true}
	upd.ID = o.ID
	must(t, b.Directory.UpdateOrganization(ctx, upd), "update")
	if upd.Version != 2 {
		t.Fatalf("version after update %d, want 2", upd.Version)
	}
	got, err = b.Directory.GetOrganization(ctx, o.ID)
	must(t, err, "get updated")
	mustEqual(t, got, upd, "updated organization")
	_, err = b.Directory.GetOrganizationByIdentifier(ctx, directory.ShortcutAliasSystem, "clinic")
	wantKind(t, err, apperr.NotFound, "old identifier after update")

	// Missing and invalid.
	_, err = b.Directory.GetOrganization(ctx, 99999)
	wantKind(t, err, apperr.NotFound, "GetOrganization")
	_, err = b.Directory.GetOrganizationByIdentifier(ctx, "urn:x", "y")
	wantKind(t, err, apperr.NotFound, "GetOrganizationByIdentifier")
	wantKind(t, b.Directory.UpdateOrganization(ctx, &directory.Organization{ID: 99999, Name: "x"}), apperr.NotFound, "UpdateOrganization")
	wantKind(t, b.Directory.CreateOrganization(ctx, &directory.Organization{Name: "orphan", PartOfID: 99999}), apperr.Invalid, "unknown parent")
}

func testOrganizationIdentifierUnique(t *testing.T, b Backend) {
	ctx := t.Context()
	a := fullOrg("A", 0, "a")
	must(t, b.Directory.CreateOrganization(ctx, a), "create a")
	dup := fullOrg("B", 0, "a")
	wantKind(t, b.Directory.CreateOrganization(ctx, dup), apperr.Conflict, "create with a taken identifier")
	// The failed create left no organization behind.
	all, _, err := b.Directory.ListOrganizations(ctx, nil, store.Page{})
	must(t, err, "list")
	if len(all) != 1 {
		t.Fatalf("%d organizations after a failed create, want 1", len(all))
	}
	bOrg := fullOrg("B", 0, "b")
	must(t, b.Directory.CreateOrganization(ctx, bOrg), "create b")
	bOrg.Identifiers = a.Identifiers
	wantKind(t, b.Directory.UpdateOrganization(ctx, bOrg), apperr.Conflict, "update onto a taken identifier")
	got, err := b.Directory.GetOrganization(ctx, bOrg.ID)
	must(t, err, "get b")
	if got.Identifiers[0].Value != "b" || got.Version != 1 {
		t.Fatalf("failed update changed the organization: %+v", got)
	}
}

func testOrgTreeVersion(t *testing.T, b Backend) {
	ctx := t.Context()
	version := func() int64 {
		t.Helper()
		v, err := b.Directory.OrgTreeVersion(ctx)
		must(t, err, "tree version")
		return v
	}
	count := func() int {
		t.Helper()
		n, err := b.Directory.CountOrganizations(ctx)
		must(t, err, "count organizations")
		return n
	}
	v0 := version()
	n0 := count()
	top := newOrg(t, b, "Top", 0)
	v1 := version()
	if v1 <= v0 {
		t.Fatalf("insert did not bump the tree version (%d -> %d)", v0, v1)
	}
	child := newOrg(t, b, "Child", top.ID)
	other := newOrg(t, b, "Other", 0)
	v2 := version()
	if n := count(); n != n0+3 {
		t.Fatalf("CountOrganizations = %d after three inserts, want %d", n, n0+3)
	}

	child.Name = "Child renamed"
	must(t, b.Directory.UpdateOrganization(ctx, child), "rename")
	if v := version(); v != v2 {
		t.Fatalf("a rename bumped the tree version (%d -> %d)", v2, v)
	}
	child.PartOfID = other.ID
	must(t, b.Directory.UpdateOrganization(ctx, child), "reparent")
	v3 := version()
	if v3 <= v2 {
		t.Fatalf("a parent change did not bump the tree version")
	}
	edges, err := b.Directory.OrgEdges(ctx)
	must(t, err, "edges")
	mustEqual(t, edges, []directory.OrgEdge{{ID: top.ID}, {ID: child.ID, ParentID: other.ID}, {ID: other.ID}}, "edges")

	must(t, b.Directory.DeleteOrganization(ctx, top.ID), "delete")
	if v := version(); v <= v3 {
		t.Fatalf("a delete did not bump the tree version")
	}
}

func testDeleteOrganization(t *testing.T, b Backend) {
	ctx := t.Context()
	top := newOrg(t, b, "Top", 0)
	child := newOrg(t, b, "Child", top.ID)
	wantKind(t, b.Directory.DeleteOrganization(ctx, top.ID), apperr.Conflict, "delete with a child")

	u := newUser(t, b, "m@example.org")
	must(t, b.Directory.SetUserOrganizations(ctx, u.ID, []int64{child.ID}), "member")
	wantKind(t, b.Directory.DeleteOrganization(ctx, child.ID), apperr.Conflict, "delete with a member")
	must(t, b.Directory.SetUserOrganizations(ctx, u.ID, nil), "remove member")

	c := validConsent(u.ID, child.ID)
	must(t, b.Directory.CreateConsent(ctx, &c), "consent")
	wantKind(t, b.Directory.DeleteOrganization(ctx, child.ID), apperr.Conflict, "delete with a consent")

	leaf := fullOrg("Leaf", top.ID, "leaf")
	must(t, b.Directory.CreateOrganization(ctx, leaf), "leaf")
	must(t, b.Directory.DeleteOrganization(ctx, leaf.ID), "delete a free leaf")
	_, err := b.Directory.GetOrganization(ctx, leaf.ID)
	wantKind(t, err, apperr.NotFound, "deleted organization")
	_, err = b.Directory.GetOrganizationByIdentifier(ctx, directory.ShortcutAliasSystem, "leaf")
	wantKind(t, err, apperr.NotFound, "deleted organization's identifier")
	wantKind(t, b.Directory.DeleteOrganization(ctx, leaf.ID), apperr.NotFound, "delete twice")
}

func testListOrganizations(t *testing.T, b Backend) {
	ctx := t.Context()
	var ids []int64
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		o := fullOrg(n, 0, n)
		must(t, b.Directory.CreateOrganization(ctx, o), "create "+n)
		ids = append(ids, o.ID)
	}
	var got []int64
	p := store.Page{Limit: 2}
	for range 10 {
		os, next, err := b.Directory.ListOrganizations(ctx, nil, p)
		must(t, err, "list")
		for _, o := range os {
			if len(o.Identifiers) != 2 {
				t.Fatalf("listed organization %d has %d identifiers, want 2", o.ID, len(o.Identifiers))
			}
			got = append(got, o.ID)
		}
		if next == "" {
			break
		}
		p.After = next
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("paged ids %v, want %v", got, ids)
	}
	os, _, err := b.Directory.ListOrganizations(ctx, []int64{ids[3], ids[1], 99999}, store.Page{})
	must(t, err, "list restricted")
	if len(os) != 2 || os[0].ID != ids[1] || os[1].ID != ids[3] {
		t.Fatalf("restricted list %+v, want ids %d, %d", os, ids[1], ids[3])
	}
	os, _, err = b.Directory.ListOrganizations(ctx, []int64{}, store.Page{})
	must(t, err, "list restricted to none")
	if len(os) != 0 {
		t.Fatalf("empty id list returned %d organizations", len(os))
	}
	_, _, err = b.Directory.ListOrganizations(ctx, nil, store.Page{After: "%%%"})
	wantKind(t, err, apperr.Invalid, "bad cursor")
}

func testUserOrganizations(t *testing.T, b Backend) {
	ctx := t.Context()
	o1, o2, o3 := newOrg(t, b, "1", 0), newOrg(t, b, "2", 0), newOrg(t, b, "3", 0)
	u := newUser(t, b, "u@example.org")
	must(t, b.Directory.SetUserOrganizations(ctx, u.ID, []int64{o3.ID, o1.ID}), "set")
	got, err := b.Directory.UserOrganizations(ctx, u.ID)
	must(t, err, "get")
	mustEqual(t, got, []int64{o1.ID, o3.ID}, "organizations sorted")
	must(t, b.Directory.SetUserOrganizations(ctx, u.ID, []int64{o2.ID}), "replace")
	got, err = b.Directory.UserOrganizations(ctx, u.ID)
	must(t, err, "get replaced")
	mustEqual(t, got, []int64{o2.ID}, "replaced organizations")
	wantKind(t, b.Directory.SetUserOrganizations(ctx, u.ID, []int64{o1.ID, 99999}), apperr.Invalid, "unknown organization")
	got, err = b.Directory.UserOrganizations(ctx, u.ID)
	must(t, err, "get after failure")
	mustEqual(t, got, []int64{o2.ID}, "failed set left organizations alone")
}
