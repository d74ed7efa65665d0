package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"ward/internal/directory"
	"ward/internal/store"
	"ward/internal/timerange"
)

// dirsearchCases are the conformance cases of the directory's FHIR search
// support: the UserFilter fields Patient and Practitioner search use, the
// computed Groups and the bulk-export reads.
var dirsearchCases = []struct {
	name string
	fn   func(t *testing.T, b Backend)
}{
	{"UserSearchNames", testUserSearchNames},
	{"UserSearchBirthDate", testUserSearchBirthDate},
	{"UserSearchUpdated", testUserSearchUpdated},
	{"UserSearchTokens", testUserSearchTokens},
	{"ScanUsers", testScanUsers},
	{"UsersBatchLookups", testUsersBatchLookups},
	{"GeneralPractitionerGroups", testGeneralPractitionerGroups},
	{"CountPatientsConsentedTo", testCountPatientsConsentedTo},
}

// init joins these cases to the suite through clinicalCases, the list Run
// already appends, so that the shared case list in storetest.go need not
// change.
func init() { clinicalCases = append(clinicalCases, dirsearchCases...) }

// searchUserIDs runs f through both SearchUsers (all pages) and CountUsers
// and checks they agree.
func searchUserIDs(t *testing.T, b Backend, f directory.UserFilter, what string) []int64 {
	t.Helper()
	var ids []int64
	p := store.Page{Limit: 2}
	for {
		page, next, err := b.Directory.SearchUsers(t.Context(), f, p)
		must(t, err, what)
		for _, u := range page {
			ids = append(ids, u.ID)
		}
		if next == "" {
			break
		}
		p.After = next
	}
	n, err := b.Directory.CountUsers(t.Context(), f)
	must(t, err, what+" count")
	if n != len(ids) {
		t.Fatalf("%s: CountUsers = %d, SearchUsers found %d", what, n, len(ids))
	}
	return ids
}

func namedUser(t *testing.T, b Backend, given, family string, roles ...string) *directory.User {
	t.Helper()
	u := &directory.User{GivenName: given, FamilyName: family, Registered: micro(base)}
	must(t, b.Directory.CreateUser(t.Context(), u), "create "+given)
	if len(roles) > 0 {
		must(t, b.Directory.SetUserRoles(t.Context(), u.ID, roles), "roles")
	}
	return u
}

func ids(us ...*directory.User) []int64 {
	out := make([]int64, 0, len(us))
	for _, u := range us {
		out = append(out, u.ID)
	}
	slices.Sort(out)
	return out
}

func testUserSearchNames(t *testing.T, b Backend) {
	ctx := t.Context()
	peter := namedUser(t, b, "Peter", "Chalmers")
	petra := namedUser(t, b, "Petra", "Jones")
	jim := namedUser(t, b, "Jim", "Peterson")
	elodie := namedUser(t, b, "Élodie", "Ñúñez")
	wild := namedUser(t, b, "A_b%", "Literal")
	gone := namedUser(t, b, "Peter", "Gone")
	at := base
	must(t, b.Directory.SetUserDeleted(ctx, gone.ID, &at), "delete")

	name := func(m directory.NameMatch, vals ...string) directory.UserFilter {
		return directory.UserFilter{Names: []directory.NameClause{{Match: m, Values: vals}}}
	}
	cases := []struct {
		what string
		f    directory.UserFilter
		want []int64
	}{
		{"starts with, any case, given or family", name(directory.NameStartsWith, "PET"), ids(peter, petra, jim)},
		{"starts with is not contains", name(directory.NameStartsWith, "ters"), nil},
		{"starts with the whole name", name(directory.NameStartsWith, "chalmers"), ids(peter)},
		{"starts with, non-ASCII folded", name(directory.NameStartsWith, "élo"), ids(elodie)},
		{"starts with, non-ASCII upper case", name(directory.NameStartsWith, "ÑÚÑ"), ids(elodie)},
		{"starts with, accents ignored in the value", name(directory.NameStartsWith, "Elo"), ids(elodie)},
		{"starts with, accents ignored in the name", name(directory.NameStartsWith, "nunez"), ids(elodie)},
		{"contains, accents ignored", name(directory.NameContains, "UNE"), ids(elodie)},
		{"exact keeps accents", name(directory.NameExact, "Elodie"), nil},
		{"exact with accents", name(directory.NameExact, "Élodie"), ids(elodie)},
		{"values are ORed", name(directory.NameStartsWith, "jones", "jim"), ids(petra, jim)},
		{"wildcards are literal", name(directory.NameStartsWith, "a_"), ids(wild)},
		{"underscore does not match any letter", name(directory.NameStartsWith, "p_t"), nil},
		{"exact is case-sensitive", name(directory.NameExact, "peter"), nil},
		{"exact whole value", name(directory.NameExact, "Peter"), ids(peter)},
		{"exact is not a prefix", name(directory.NameExact, "Pet"), nil},
		{"contains, any case", name(directory.NameContains, "TERS"), ids(jim)},
		{"contains, percent literal", name(directory.NameContains, "b%"), ids(wild)},
		{"clauses are ANDed", directory.UserFilter{Names: []directory.NameClause{
			{Values: []string{"pet"}}, {Match: directory.NameContains, Values: []string{"son"}}}}, ids(jim)},
		{"an empty clause matches nobody", directory.UserFilter{Names: []directory.NameClause{{}}}, nil},
		{"deleted when asked", directory.UserFilter{IncludeDeleted: true,
			Names: []directory.NameClause{{Match: directory.NameExact, Values: []string{"Peter"}}}}, ids(peter, gone)},
	}
	for _, c := range cases {
		mustEqual(t, searchUserIDs(t, b, c.f, c.what), c.want, c.what)
	}

	// The keys follow updates.
	petra.GivenName, petra.FamilyName = "Zoe", "Zed"
	must(t, b.Directory.UpdateUser(ctx, petra), "rename")
	mustEqual(t, searchUserIDs(t, b, name(directory.NameStartsWith, "pet"), "after rename"), ids(peter, jim), "after rename")
	mustEqual(t, searchUserIDs(t, b, name(directory.NameStartsWith, "ze"), "new name"), ids(petra), "new name")
}

func testUserSearchBirthDate(t *testing.T, b Backend) {
	ctx := t.Context()
	born := map[string]*directory.User{}
	for _, d := range []string{"2024-02-29", "2024-03-01", "2024-03-15", "2024-03-31", "2024-04-01", "1950-06-30"} {
		u := &directory.User{GivenName: "Born " + d, BirthDate: d, Registered: micro(base)}
		must(t, b.Directory.CreateUser(ctx, u), "create "+d)
		born[d] = u
	}
	unknown := &directory.User{GivenName: "Unknown", Registered: micro(base)}
	must(t, b.Directory.CreateUser(ctx, unknown), "create unknown")

	day := func(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }
	march := timerange.Bound{Start: day("2024-03-01"), End: day("2024-04-01")}
	now := day("2024-03-20")
	// Every prefix on a month, checked against timerange's reference
	// semantics over whole days; an unknown birth date matches none.
	for _, p := range []timerange.Prefix{timerange.Eq, timerange.Ne, timerange.Gt, timerange.Lt,
		timerange.Ge, timerange.Le, timerange.Sa, timerange.Eb, timerange.Ap} {
		bound := march
		bound.Prefix = p
		var want []int64
		for d, u := range born {
			lo, hi := timerange.Day(day(d))
			if bound.Matches(lo, hi, now) {
				want = append(want, u.ID)
			}
		}
		slices.Sort(want)
		if len(want) == 0 {
			t.Fatalf("fixture: prefix %s matches nothing, the case cannot fail", p)
		}
		got := searchUserIDs(t, b, directory.UserFilter{BirthDate: []timerange.Bound{bound}, Now: now}, string(p))
		mustEqual(t, got, want, "birthdate "+string(p)+"2024-03")
	}
	// Bounds are ANDed: ge March 15 and lt April.
	f := directory.UserFilter{BirthDate: []timerange.Bound{
		{Prefix: timerange.Ge, Start: day("2024-03-15"), End: day("2024-03-16")},
		{Prefix: timerange.Lt, Start: day("2024-04-01"), End: day("2024-04-02")},
	}}
	mustEqual(t, searchUserIDs(t, b, f, "and"), ids(born["2024-03-15"], born["2024-03-31"]), "birthdate ge and lt")
	// An instant inside a day: eq needs the whole day within it, so only a
	// bound covering the day matches.
	inst := time.Date(2024, 3, 15, 10, 0, 0, 0, time.UTC)
	f = directory.UserFilter{BirthDate: []timerange.Bound{{Prefix: timerange.Eq, Start: inst, End: inst.Add(time.Second)}}}
	mustEqual(t, searchUserIDs(t, b, f, "instant"), []int64(nil), "eq an instant inside the day")

	// The stored day follows updates, and clearing the date unmatches.
	u := born["1950-06-30"]
	u.BirthDate = "2024-03-02"
	must(t, b.Directory.UpdateUser(ctx, u), "update birth date")
	eq := directory.UserFilter{BirthDate: []timerange.Bound{{Prefix: timerange.Eq, Start: day("2024-03-02"), End: day("2024-03-03")}}}
	mustEqual(t, searchUserIDs(t, b, eq, "updated"), ids(u), "after birth date update")
	u.BirthDate = ""
	must(t, b.Directory.UpdateUser(ctx, u), "clear birth date")
	mustEqual(t, searchUserIDs(t, b, eq, "cleared"), []int64(nil), "after clearing the birth date")
	lt := directory.UserFilter{BirthDate: []timerange.Bound{{Prefix: timerange.Lt, Start: day("9999-01-01"), End: day("9999-01-02")}}}
	if got := searchUserIDs(t, b, lt, "lt far future"); slices.Contains(got, u.ID) || slices.Contains(got, unknown.ID) {
		t.Fatalf("lt 9999 matched a user without a birth date: %v", got)
	}
}

func testUserSearchUpdated(t *testing.T, b Backend) {
	ctx := t.Context()
	var us []*directory.User
	for i := range 4 {
		u := namedUser(t, b, fmt.Sprintf("U%d", i), "Updated")
		us = append(us, u)
		time.Sleep(2 * time.Millisecond) // distinct updated_at per user, not asserted as a duration
	}
	// Reload: UpdatedAt is what the store wrote.
	for i, u := range us {
		got, err := b.Directory.GetUser(ctx, u.ID)
		must(t, err, "reload")
		us[i] = got
	}
	pivot := us[1].UpdatedAt
	for _, p := range []timerange.Prefix{timerange.Eq, timerange.Ne, timerange.Gt, timerange.Lt,
		timerange.Ge, timerange.Le, timerange.Sa, timerange.Eb} {
		bound := timerange.Bound{Prefix: p, Start: pivot, End: pivot.Add(time.Microsecond)}
		var want []int64
		for _, u := range us {
			lo, hi := timerange.Instant(u.UpdatedAt)
			if bound.Matches(lo, hi, pivot) {
				want = append(want, u.ID)
			}
		}
		f := directory.UserFilter{Updated: []timerange.Bound{bound}, IDs: ids(us...)}
		mustEqual(t, searchUserIDs(t, b, f, "updated "+string(p)), want, "_lastUpdated "+string(p))
	}
	// An update moves a user into "gt pivot".
	gt := directory.UserFilter{IDs: ids(us...), Updated: []timerange.Bound{{Prefix: timerange.Gt, Start: us[3].UpdatedAt,
		End: us[3].UpdatedAt.Add(time.Microsecond)}}}
	mustEqual(t, searchUserIDs(t, b, gt, "before update"), []int64(nil), "nothing after the last write")
	time.Sleep(2 * time.Millisecond)
	must(t, b.Directory.UpdateUser(ctx, us[0]), "touch")
	mustEqual(t, searchUserIDs(t, b, gt, "after update"), ids(us[0]), "the updated user")
}

func testUserSearchTokens(t *testing.T, b Backend) {
	ctx := t.Context()
	orgA, orgB := newOrg(t, b, "A", 0), newOrg(t, b, "B", 0)
	pat := namedUser(t, b, "Pat", "One", directory.RolePatient)
	clin := namedUser(t, b, "Clin", "Two", directory.RoleClinician)
	staffAdmin := namedUser(t, b, "Staff", "Three", directory.RoleStaffAdmin, directory.RolePatient)
	none := namedUser(t, b, "None", "Four")
	pat.Gender, clin.Gender, staffAdmin.Gender = "female", "male", "other"
	for _, u := range []*directory.User{pat, clin, staffAdmin} {
		must(t, b.Directory.UpdateUser(ctx, u), "gender")
	}
	must(t, b.Directory.SetUserOrganizations(ctx, pat.ID, []int64{orgA.ID}), "orgs")
	must(t, b.Directory.SetUserOrganizations(ctx, clin.ID, []int64{orgA.ID, orgB.ID}), "orgs")
	must(t, b.Directory.SetUserOrganizations(ctx, staffAdmin.ID, []int64{orgB.ID}), "orgs")
	mrn := directory.Identifier{System: "urn:mrn", Value: "123"}
	must(t, b.Directory.AddUserIdentifier(ctx, pat.ID, mrn, true), "id")
	must(t, b.Directory.AddUserIdentifier(ctx, clin.ID, directory.Identifier{System: "urn:npi", Value: "123"}, true), "id")
	must(t, b.Directory.AddUserIdentifier(ctx, staffAdmin.ID, directory.Identifier{System: "urn:mrn", Value: "456"}, true), "id")
	all := ids(pat, clin, staffAdmin, none)

	cases := []struct {
		what string
		f    directory.UserFilter
		want []int64
	}{
		{"roles any of", directory.UserFilter{Roles: directory.PractitionerRoles()}, ids(clin, staffAdmin)},
		{"roles and role", directory.UserFilter{Roles: directory.PractitionerRoles(), Role: directory.RolePatient}, ids(staffAdmin)},
		{"empty roles match nobody", directory.UserFilter{Roles: []string{}}, nil},
		{"genders any of", directory.UserFilter{Genders: []string{"female", "other"}}, ids(pat, staffAdmin)},
		{"empty genders match nobody", directory.UserFilter{Genders: []string{}}, nil},
		{"organization", directory.UserFilter{Organizations: [][]int64{{orgA.ID}}}, ids(pat, clin)},
		{"organizations any of", directory.UserFilter{Organizations: [][]int64{{orgA.ID, orgB.ID}}}, ids(pat, clin, staffAdmin)},
		{"organization clauses ANDed", directory.UserFilter{Organizations: [][]int64{{orgA.ID}, {orgB.ID}}}, ids(clin)},
		{"empty organization clause matches nobody", directory.UserFilter{Organizations: [][]int64{{}}}, nil},
		{"identifier system and value", directory.UserFilter{Identifiers: [][]directory.Identifier{{mrn}}}, ids(pat)},
		{"identifier value in any system", directory.UserFilter{Identifiers: [][]directory.Identifier{{{Value: "123"}}}}, ids(pat, clin)},
		{"identifier any value in a system", directory.UserFilter{Identifiers: [][]directory.Identifier{{{System: "urn:mrn"}}}}, ids(pat, staffAdmin)},
		{"identifier entries ORed", directory.UserFilter{Identifiers: [][]directory.Identifier{{mrn, {System: "urn:npi", Value: "123"}}}}, ids(pat, clin)},
		{"identifier clauses ANDed", directory.UserFilter{Identifiers: [][]directory.Identifier{{{Value: "123"}}, {{System: "urn:mrn"}}}}, ids(pat)},
		{"identifier wrong pair", directory.UserFilter{Identifiers: [][]directory.Identifier{{{System: "urn:npi", Value: "456"}}}}, nil},
		{"empty identifier clause matches nobody", directory.UserFilter{Identifiers: [][]directory.Identifier{{}}}, nil},
		{"everything together", directory.UserFilter{Roles: []string{directory.RolePatient}, Genders: []string{"female"},
			Organizations: [][]int64{{orgA.ID}}, Identifiers: [][]directory.Identifier{{mrn}}, IDs: all}, ids(pat)},
		{"no filter", directory.UserFilter{IDs: all}, all},
	}
	for _, c := range cases {
		mustEqual(t, searchUserIDs(t, b, c.f, c.what), c.want, c.what)
	}
}

func testScanUsers(t *testing.T, b Backend) {
	ctx := t.Context()
	// More than one batch of the SQL store (500), so batching is exercised.
	const n = 520
	var patients []int64
	for i := range n {
		roles := []string{directory.RolePatient}
		if i%10 == 3 {
			roles = []string{directory.RoleStaff}
		}
		u := &directory.User{GivenName: fmt.Sprintf("S%d", i), Registered: micro(base)}
		must(t, b.Directory.CreateUser(ctx, u), "create")
		must(t, b.Directory.SetUserRoles(ctx, u.ID, roles), "roles")
		if i%10 == 7 {
			at := base
			must(t, b.Directory.SetUserDeleted(ctx, u.ID, &at), "delete")
			continue
		}
		if roles[0] == directory.RolePatient {
			patients = append(patients, u.ID)
		}
	}
	f := directory.UserFilter{Role: directory.RolePatient}
	var seen []int64
	must(t, b.Directory.ScanUsers(ctx, f, 0, func(u *directory.User) error {
		// fn may use the store while the scan runs.
		got, err := b.Directory.GetUser(ctx, u.ID)
		if err != nil {
			return err
		}
		mustEqual(t, got, u, "scanned user")
		seen = append(seen, u.ID)
		return nil
	}), "scan")
	mustEqual(t, seen, patients, "scan order and content")

	// From a position, and stopped by fn's error.
	after := patients[300]
	seen = nil
	must(t, b.Directory.ScanUsers(ctx, f, after, func(u *directory.User) error { seen = append(seen, u.ID); return nil }), "resume")
	mustEqual(t, seen, patients[301:], "scan after an id")
	stop := errors.New("stop")
	count := 0
	err := b.Directory.ScanUsers(ctx, f, 0, func(*directory.User) error {
		count++
		if count == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || count != 3 {
		t.Fatalf("scan stopped with %v after %d users, want stop after 3", err, count)
	}
	// The filter applies to the scan.
	seen = nil
	first := patients[0]
	must(t, b.Directory.ScanUsers(ctx, directory.UserFilter{Role: directory.RolePatient,
		Names: []directory.NameClause{{Match: directory.NameExact, Values: []string{"S0"}}}}, 0,
		func(u *directory.User) error { seen = append(seen, u.ID); return nil }), "filtered scan")
	mustEqual(t, seen, []int64{first}, "filtered scan")
}

func testUsersBatchLookups(t *testing.T, b Backend) {
	ctx := t.Context()
	orgA, orgB := newOrg(t, b, "A", 0), newOrg(t, b, "B", 0)
	u1, u2, u3 := namedUser(t, b, "One", "X"), namedUser(t, b, "Two", "X"), namedUser(t, b, "Three", "X")
	idA := directory.Identifier{System: "urn:a", Value: "1", Use: "official"}
	idB := directory.Identifier{System: "urn:b", Value: "2", Use: "secondary"}
	must(t, b.Directory.AddUserIdentifier(ctx, u1.ID, idB, true), "id")
	must(t, b.Directory.AddUserIdentifier(ctx, u1.ID, idA, true), "id")
	must(t, b.Directory.AddUserIdentifier(ctx, u3.ID, directory.Identifier{System: "urn:a", Value: "3"}, true), "id")
	must(t, b.Directory.SetUserOrganizations(ctx, u1.ID, []int64{orgB.ID, orgA.ID}), "orgs")
	must(t, b.Directory.SetUserOrganizations(ctx, u2.ID, []int64{orgB.ID}), "orgs")

	gotIDs, err := b.Directory.UserIdentifiersFor(ctx, []int64{u3.ID, u1.ID, u2.ID, u1.ID, 987654})
	must(t, err, "identifiers for")
	mustEqual(t, gotIDs, map[int64][]directory.Identifier{
		u1.ID: {idB, idA}, // the order they were added, as UserIdentifiers
		u3.ID: {{System: "urn:a", Value: "3"}},
	}, "identifiers by user")
	one, err := b.Directory.UserIdentifiers(ctx, u1.ID)
	must(t, err, "identifiers")
	mustEqual(t, gotIDs[u1.ID], one, "same as the one-user read")

	gotOrgs, err := b.Directory.UserOrganizationsFor(ctx, []int64{u1.ID, u2.ID, u3.ID})
	must(t, err, "organizations for")
	mustEqual(t, gotOrgs, map[int64][]int64{u1.ID: ids2(orgA.ID, orgB.ID), u2.ID: {orgB.ID}}, "organizations by user")

	empty, err := b.Directory.UserIdentifiersFor(ctx, nil)
	must(t, err, "no ids")
	if len(empty) != 0 {
		t.Fatalf("identifiers for no users: %v", empty)
	}
	emptyOrgs, err := b.Directory.UserOrganizationsFor(ctx, []int64{})
	must(t, err, "no ids")
	if len(emptyOrgs) != 0 {
		t.Fatalf("organizations for no users: %v", emptyOrgs)
	}
}

func ids2(v ...int64) []int64 { slices.Sort(v); return v }

func testGeneralPractitionerGroups(t *testing.T, b Backend) {
	ctx := t.Context()
	gp := namedUser(t, b, "Greta", "GP", directory.RoleClinician)
	other := namedUser(t, b, "Otto", "GP", directory.RoleStaff)
	noRole := namedUser(t, b, "Nora", "NoRole")
	lonely := namedUser(t, b, "Lonely", "GP", directory.RoleStaffAdmin)
	goneGP := namedUser(t, b, "Gone", "GP", directory.RoleClinician)

	patientOf := func(name string, gpID int64, roles ...string) *directory.User {
		u := &directory.User{GivenName: name, GeneralPractitionerID: gpID, Registered: micro(base)}
		must(t, b.Directory.CreateUser(ctx, u), "create "+name)
		if len(roles) > 0 {
			must(t, b.Directory.SetUserRoles(ctx, u.ID, roles), "roles")
		}
		return u
	}
	p1 := patientOf("p1", gp.ID, directory.RolePatient)
	p2 := patientOf("p2", gp.ID, directory.RolePatient)
	p3 := patientOf("p3", gp.ID, directory.RolePatient)
	patientOf("not a patient", gp.ID, directory.RoleStaff)
	deleted := patientOf("deleted", gp.ID, directory.RolePatient)
	at := base
	must(t, b.Directory.SetUserDeleted(ctx, deleted.ID, &at), "delete")
	o1 := patientOf("o1", other.ID, directory.RolePatient)
	patientOf("of no-role", noRole.ID, directory.RolePatient)
	lonelyDeleted := patientOf("lonely's deleted", lonely.ID, directory.RolePatient)
	must(t, b.Directory.SetUserDeleted(ctx, lonelyDeleted.ID, &at), "delete")
	patientOf("of gone", goneGP.ID, directory.RolePatient)
	must(t, b.Directory.SetUserDeleted(ctx, goneGP.ID, &at), "delete gp")

	got, err := b.Directory.PatientsWithGeneralPractitioner(ctx, gp.ID, 0, 100)
	must(t, err, "patients of gp")
	mustEqual(t, got, ids(p1, p2, p3), "live patients of the GP")
	var paged []int64
	after := int64(0)
	for range 10 {
		page, err := b.Directory.PatientsWithGeneralPractitioner(ctx, gp.ID, after, 2)
		must(t, err, "page")
		if len(page) > 2 {
			t.Fatalf("page of %d, limit 2", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1]
	}
	mustEqual(t, paged, ids(p1, p2, p3), "paged")
	n, err := b.Directory.CountPatientsWithGeneralPractitioner(ctx, gp.ID)
	must(t, err, "count")
	mustEqual(t, n, 3, "count of the GP's patients")
	n, err = b.Directory.CountPatientsWithGeneralPractitioner(ctx, lonely.ID)
	must(t, err, "count lonely")
	mustEqual(t, n, 0, "count without live patients")
	got, err = b.Directory.PatientsWithGeneralPractitioner(ctx, other.ID, 0, 100)
	must(t, err, "patients of other")
	mustEqual(t, got, ids(o1), "other's patients")

	// Practitioners with a Group: a practitioner role and a live patient.
	gps, err := b.Directory.GeneralPractitioners(ctx, 0, 100)
	must(t, err, "general practitioners")
	mustEqual(t, gps, ids(gp, other), "general practitioners")
	gps, err = b.Directory.GeneralPractitioners(ctx, gp.ID, 1)
	must(t, err, "general practitioners after")
	mustEqual(t, gps, ids(other), "general practitioners after the first")
	gps, err = b.Directory.GeneralPractitioners(ctx, 0, 1)
	must(t, err, "general practitioners limit")
	mustEqual(t, gps, ids(gp), "general practitioners, limit 1")
	n, err = b.Directory.CountGeneralPractitioners(ctx)
	must(t, err, "count general practitioners")
	mustEqual(t, n, 2, "count general practitioners")
}

func testCountPatientsConsentedTo(t *testing.T, b Backend) {
	ctx := t.Context()
	now := base.Add(24 * time.Hour)
	orgA, orgB, orgC := newOrg(t, b, "A", 0), newOrg(t, b, "B", 0), newOrg(t, b, "C", 0)
	consent := func(u *directory.User, org *directory.Organization, edit func(*directory.Consent)) {
		c := validConsent(u.ID, org.ID)
		if edit != nil {
			edit(&c)
		}
		must(t, b.Directory.CreateConsent(ctx, &c), "consent")
	}
	patient := func(name string) *directory.User { return newUser(t, b, name+"@example.org", directory.RolePatient) }
	both := patient("both")
	consent(both, orgA, nil)
	consent(both, orgB, nil)
	consent(both, orgA, nil)
	consent(patient("a"), orgA, nil)
	consent(patient("expired"), orgA, func(c *directory.Consent) { c.ExpiresAt = micro(now) })
	consent(patient("suspended"), orgB, func(c *directory.Consent) { c.Status = directory.ConsentSuspended })
	consent(newUser(t, b, "staff@example.org", directory.RoleStaff), orgA, nil)
	gone := patient("gone")
	consent(gone, orgB, nil)
	at := base
	must(t, b.Directory.SetUserDeleted(ctx, gone.ID, &at), "delete")
	consent(patient("c"), orgC, nil)

	for _, orgs := range [][]int64{{orgA.ID}, {orgB.ID}, {orgA.ID, orgB.ID}, {orgA.ID, orgB.ID, orgC.ID}, {orgB.ID, orgB.ID}, {}} {
		listed, err := b.Directory.PatientsConsentedTo(ctx, orgs, now, 0, 1000)
		must(t, err, "list")
		n, err := b.Directory.CountPatientsConsentedTo(ctx, orgs, now)
		must(t, err, "count")
		if n != len(listed) {
			t.Fatalf("orgs %v: count %d, listed %d (%v)", orgs, n, len(listed), listed)
		}
	}
	n, err := b.Directory.CountPatientsConsentedTo(ctx, []int64{orgA.ID, orgB.ID}, now)
	must(t, err, "count")
	mustEqual(t, n, 2, "both and a, each once")
}
