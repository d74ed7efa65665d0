package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/client"
	"ward/internal/directory"
	"ward/internal/oauth/tokens"
	"ward/internal/store"
)

// testIDPSystemClients: the IdP system kind and organization round-trip,
// the IDPSystem filter keeps only system clients, and an unknown
// organization is Invalid.
func testIDPSystemClients(t *testing.T, b Backend) {
	ctx := t.Context()
	org := newOrg(t, b, "DGHS MIS", 0)
	plain := fullClient(0, 0, "")
	must(t, b.Clients.CreateClient(ctx, plain), "create plain")
	sys := fullClient(1, 0, "")
	sys.IDPSystem, sys.OrganizationID = true, org.ID
	must(t, b.Clients.CreateClient(ctx, sys), "create system")
	got, err := b.Clients.GetClient(ctx, sys.ID)
	must(t, err, "get system")
	if !got.IDPSystem || got.OrganizationID != org.ID {
		t.Fatalf("system client read back as IDPSystem=%v organization %d", got.IDPSystem, got.OrganizationID)
	}
	cs, _, err := b.Clients.ListClients(ctx, client.Filter{IDPSystem: true}, store.Page{Limit: 10})
	must(t, err, "list systems")
	if len(cs) != 1 || cs[0].ID != sys.ID {
		t.Fatalf("IDPSystem filter listed %d clients, want only %s", len(cs), sys.ID)
	}
	bad := fullClient(2, 0, "")
	bad.IDPSystem, bad.OrganizationID = true, 999999
	wantKind(t, b.Clients.CreateClient(ctx, bad), apperr.Invalid, "unknown organization")
}

// testLastLogin: RecordLogin replaces, LastLogin reads it back (nil when
// never recorded).
func testLastLogin(t *testing.T, b Backend) {
	ctx := t.Context()
	u := newUser(t, b, "last@example.org")
	got, err := b.Session.LastLogin(ctx, u.ID)
	must(t, err, "last login before any")
	if got != nil {
		t.Fatalf("last login before any = %v, want nil", got)
	}
	for _, at := range []time.Time{base, base.Add(time.Hour)} {
		must(t, b.Session.RecordLogin(ctx, u.ID, at), "record login")
		got, err = b.Session.LastLogin(ctx, u.ID)
		must(t, err, "last login")
		if got == nil || !got.Equal(micro(at)) {
			t.Fatalf("last login = %v, want %v", got, at)
		}
	}
	wantKind(t, b.Session.RecordLogin(ctx, 999999, base), apperr.Invalid, "login of an unknown user")
}

// testIDCard: IDCard reads the user with groups by name, profiles by
// (type, id) with their catchments, and the last sign-in in one call; a
// person with none of them gets nil lists and a nil last sign-in, a
// soft-deleted one is still read, an unknown one is NotFound.
func testIDCard(t *testing.T, b Backend) {
	ctx := t.Context()
	bare := newUser(t, b, "bare@example.org")
	card, err := b.Directory.IDCard(ctx, bare.ID)
	must(t, err, "card of a bare user")
	if card.User == nil || card.User.ID != bare.ID || card.User.Email != bare.Email {
		t.Fatalf("card user = %+v, want user %d", card.User, bare.ID)
	}
	if card.Groups != nil || card.Profiles != nil || card.LastLogin != nil {
		t.Fatalf("bare card = groups %v profiles %v last login %v, want all nil", card.Groups, card.Profiles, card.LastLogin)
	}

	u := newUser(t, b, "card@example.org")
	zeta := &directory.Group{Name: "zeta", Description: "Last \"quoted\" group"}
	alpha := &directory.Group{Name: "alpha", Description: "First group"}
	must(t, b.Directory.CreateGroup(ctx, zeta), "zeta")
	must(t, b.Directory.CreateGroup(ctx, alpha), "alpha")
	must(t, b.Directory.SetUserGroups(ctx, u.ID, []int64{zeta.ID, alpha.ID}), "groups")
	ps := []directory.Profile{
		{Type: directory.ProfileProvider, ID: "P-2", Catchment: []string{"3026", "302618"}},
		{Type: directory.ProfileAdmin, ID: "A-1", Catchment: []string{"30"}},
		{Type: directory.ProfileProvider, ID: "P-1", Catchment: []string{}},
	}
	must(t, b.Directory.SetUserProfiles(ctx, u.ID, ps), "profiles")
	must(t, b.Session.RecordLogin(ctx, u.ID, base), "record login")

	card, err = b.Directory.IDCard(ctx, u.ID)
	must(t, err, "card")
	want, err := b.Directory.GetUser(ctx, u.ID)
	must(t, err, "get user")
	mustEqual(t, card.User, want, "card user as GetUser reads it")
	groups, err := b.Directory.UserGroups(ctx, u.ID)
	must(t, err, "user groups")
	mustEqual(t, card.Groups, groups, "card groups as UserGroups reads them")
	mustEqual(t, card.Groups, []directory.Group{*alpha, *zeta}, "card groups by name")
	profiles, err := b.Directory.UserProfiles(ctx, u.ID)
	must(t, err, "user profiles")
	mustEqual(t, card.Profiles, profiles, "card profiles as UserProfiles reads them")
	if len(card.Profiles) != 3 || card.Profiles[0].ID != "A-1" || card.Profiles[1].ID != "P-1" || card.Profiles[2].ID != "P-2" {
		t.Fatalf("card profiles = %+v, want by (type, id)", card.Profiles)
	}
	if card.LastLogin == nil || !card.LastLogin.Equal(micro(base)) {
		t.Fatalf("card last login = %v, want %v", card.LastLogin, base)
	}

	gone := base.Add(time.Hour)
	must(t, b.Directory.SetUserDeleted(ctx, u.ID, &gone), "delete")
	card, err = b.Directory.IDCard(ctx, u.ID)
	must(t, err, "card of a deleted user")
	if !card.User.Deleted() {
		t.Fatalf("card of a deleted user reads as live")
	}
	_, err = b.Directory.IDCard(ctx, 999999)
	wantKind(t, err, apperr.NotFound, "card of an unknown user")
}

// testReadIDPToken: ReadIDPToken reads the token, its client (only when
// another client than the caller issued it; the caller's own row is not
// read: the provider holds it in its client cache) and its person's ID
// card as GetClient, GetToken and IDCard read them; it judges nothing, so
// a revoked or expired token, a disabled issuer and a deleted person come
// back as they now are, for the caller to refuse. A missing row (unknown
// token, a token of no person, the same signature of another kind) is
// NotFound; an unknown caller is not the store's to notice.
func testReadIDPToken(t *testing.T, b Backend) {
	ctx := t.Context()
	org := newOrg(t, b, "DGHS MIS", 0)
	system := func(n int) *client.Client {
		c := fullClient(n, 0, "")
		c.IDPSystem, c.OrganizationID = true, org.ID
		must(t, b.Clients.CreateClient(ctx, c), "create system client")
		return c
	}
	shr, mci := system(1), system(2)
	u := newUser(t, b, "read@example.org")
	g := &directory.Group{Name: "MCI Admin", Description: "x"}
	must(t, b.Directory.CreateGroup(ctx, g), "group")
	must(t, b.Directory.SetUserGroups(ctx, u.ID, []int64{g.ID}), "groups")
	must(t, b.Directory.SetUserProfiles(ctx, u.ID, []directory.Profile{
		{Type: directory.ProfileProvider, ID: "123", Catchment: []string{"302618", "302614"}}}), "profiles")
	must(t, b.Session.RecordLogin(ctx, u.ID, base), "record login")
	tok := mkToken(t, b, fullToken(1, tokens.KindAccess, shr.ID, u.ID))

	// The read carries the fields tokens.IDPRead names, as GetClient,
	// GetToken and IDCard read them: no caller, and the issuer only when
	// it is not the caller.
	check := func(what string, caller, issuer *client.Client, tok *tokens.Token) *tokens.IDPRead {
		t.Helper()
		read, err := b.Tokens.ReadIDPToken(ctx, caller.ID, tok.Kind, tok.Signature)
		must(t, err, what)
		if read.Caller != nil {
			t.Fatalf("%s: caller = %+v, want nil (not the store's to read)", what, read.Caller)
		}
		if issuer.ID == caller.ID {
			if read.Issuer != nil {
				t.Fatalf("%s: issuer = %+v, want nil for the caller's own token", what, read.Issuer)
			}
		} else {
			c, err := b.Clients.GetClient(ctx, issuer.ID)
			must(t, err, "get issuer")
			mustEqual(t, read.Issuer, &client.Client{ID: c.ID, Disabled: c.Disabled, Status: c.Status,
				Settings: client.Settings{IDPSystem: c.IDPSystem}},
				what+": issuer")
		}
		g := getToken(t, b, tok)
		mustEqual(t, read.Token, &tokens.Token{ID: g.ID, Signature: g.Signature, Kind: g.Kind, ClientID: g.ClientID,
			UserID: g.UserID, ExpiresAt: g.ExpiresAt, Active: g.Active, Format: g.Format, UserDeleted: g.UserDeleted},
			what+": token")
		card, err := b.Directory.IDCard(ctx, tok.UserID)
		must(t, err, "card")
		cu := card.User
		card.User = &directory.User{ID: cu.ID, Email: cu.Email, GivenName: cu.GivenName, FamilyName: cu.FamilyName,
			Registered: cu.Registered, ConfirmedAt: cu.ConfirmedAt, UpdatedAt: cu.UpdatedAt, DeletedAt: cu.DeletedAt}
		for i, g := range card.Groups {
			card.Groups[i] = directory.Group{Name: g.Name} // the look-up answers names only
		}
		mustEqual(t, read.Card, card, what+": card")
		return read
	}
	read := check("own token", shr, shr, tok)
	if len(read.Card.Groups) != 1 || len(read.Card.Profiles) != 1 || read.Card.LastLogin == nil {
		t.Fatalf("card = %+v, want one group, one profile and the last sign-in", read.Card)
	}
	check("another system's token", mci, shr, tok)

	for _, c := range []struct {
		what   string
		caller string
		kind   tokens.Kind
		sig    string
	}{
		{"unknown token", shr.ID, tokens.KindAccess, "no-such-signature"},
		{"same signature, other kind", shr.ID, tokens.KindRefresh, tok.Signature},
	} {
		_, err := b.Tokens.ReadIDPToken(ctx, c.caller, c.kind, c.sig)
		wantKind(t, err, apperr.NotFound, c.what)
	}
	clientOnly := mkToken(t, b, fullToken(2, tokens.KindAccess, shr.ID, 0))
	_, err := b.Tokens.ReadIDPToken(ctx, shr.ID, clientOnly.Kind, clientOnly.Signature)
	wantKind(t, err, apperr.NotFound, "token of no person")

	// Nothing is judged: each change shows as the rows now are.
	expired := fullToken(3, tokens.KindAccess, shr.ID, u.ID)
	expired.ExpiresAt = micro(base.Add(-time.Hour))
	mkToken(t, b, expired)
	if read := check("expired token", shr, shr, expired); !read.Token.ExpiresAt.Equal(micro(base.Add(-time.Hour))) {
		t.Fatalf("expired token read with expiry %v", read.Token.ExpiresAt)
	}
	_, err = b.Tokens.DeactivateToken(ctx, tok.Kind, tok.Signature)
	must(t, err, "revoke token")
	if read := check("revoked token", shr, shr, tok); read.Token.Active {
		t.Fatal("revoked token read as active")
	}
	// An unknown caller: the issuer (another client) is read.
	check("unknown caller", &client.Client{ID: "no-such-client"}, shr, tok)
	shr.Disabled = true
	must(t, b.Clients.UpdateClient(ctx, shr), "revoke system client")
	if read := check("revoked issuer", mci, shr, tok); !read.Issuer.Disabled {
		t.Fatal("revoked issuer read as enabled")
	}
	gone := base.Add(time.Hour)
	must(t, b.Directory.SetUserDeleted(ctx, u.ID, &gone), "delete person")
	if read := check("deleted person", mci, shr, tok); !read.Token.UserDeleted || !read.Card.User.Deleted() {
		t.Fatalf("deleted person read as token UserDeleted=%v, card deleted=%v", read.Token.UserDeleted, read.Card.User.Deleted())
	}
}

// testReadIDPTokenCardChanges: ReadIDPToken may keep a person's groups and
// profiles between look-ups, but every change to them, made through this
// handle or through a second one (another replica), shows on the very
// next look-up: a group added or removed, a profile's catchment changed,
// profiles removed, and a merge that moves another person's groups and
// profiles in. Each step reads once before the change, so a card kept
// from that read would be answered if the change did not invalidate it.
func testReadIDPTokenCardChanges(t *testing.T, b Backend) {
	ctx := t.Context()
	org := newOrg(t, b, "DGHS MIS", 0)
	shr := fullClient(1, 0, "")
	shr.IDPSystem, shr.OrganizationID = true, org.ID
	must(t, b.Clients.CreateClient(ctx, shr), "create system client")
	u := newUser(t, b, "cache@example.org")
	tok := mkToken(t, b, fullToken(1, tokens.KindAccess, shr.ID, u.ID))
	g1 := &directory.Group{Name: "MCI Admin"}
	g2 := &directory.Group{Name: "SHR Provider"}
	must(t, b.Directory.CreateGroup(ctx, g1), "group 1")
	must(t, b.Directory.CreateGroup(ctx, g2), "group 2")
	replica, _ := b.Replica(t)

	// want reads the token twice (a second read may come from a cache)
	// and compares the card's group names and profiles with want.
	want := func(what string, groups []string, profiles []directory.Profile) {
		t.Helper()
		for range 2 {
			read, err := b.Tokens.ReadIDPToken(ctx, shr.ID, tok.Kind, tok.Signature)
			must(t, err, what)
			var names []string
			for _, g := range read.Card.Groups {
				names = append(names, g.Name)
			}
			mustEqual(t, names, groups, what+": groups")
			mustEqual(t, read.Card.Profiles, profiles, what+": profiles")
		}
	}
	provider := func(catchment ...string) []directory.Profile {
		return []directory.Profile{{Type: directory.ProfileProvider, ID: "123", Catchment: catchment}}
	}

	want("no groups or profiles", nil, nil)
	must(t, b.Directory.SetUserGroups(ctx, u.ID, []int64{g1.ID}), "add group")
	want("group added", []string{"MCI Admin"}, nil)
	must(t, b.Directory.SetUserProfiles(ctx, u.ID, provider("3026")), "add profile")
	want("profile added", []string{"MCI Admin"}, provider("3026"))
	must(t, b.Directory.SetUserProfiles(ctx, u.ID, provider("302618", "302614")), "change catchment")
	want("catchment changed", []string{"MCI Admin"}, provider("302618", "302614"))

	// Through another handle: this handle's kept card must not be served.
	must(t, replica.SetUserGroups(ctx, u.ID, []int64{g1.ID, g2.ID}), "replica: add group")
	want("group added on a replica", []string{"MCI Admin", "SHR Provider"}, provider("302618", "302614"))
	must(t, replica.SetUserGroups(ctx, u.ID, []int64{g2.ID}), "replica: remove group")
	want("group removed on a replica", []string{"SHR Provider"}, provider("302618", "302614"))
	must(t, replica.SetUserProfiles(ctx, u.ID, provider("3026")), "replica: change catchment")
	want("catchment changed on a replica", []string{"SHR Provider"}, provider("3026"))
	must(t, replica.SetUserProfiles(ctx, u.ID, nil), "replica: remove profiles")
	want("profiles removed on a replica", []string{"SHR Provider"}, nil)

	// A look-up inside a transaction that changes the groups and rolls
	// back must leave nothing behind: the version it saw is committed
	// next with other groups.
	errRollback := errors.New("roll back")
	err := b.Tx.InTx(ctx, func(ctx context.Context) error {
		must(t, b.Directory.SetUserGroups(ctx, u.ID, []int64{g1.ID}), "in tx: set groups")
		read, err := b.Tokens.ReadIDPToken(ctx, shr.ID, tok.Kind, tok.Signature)
		must(t, err, "in tx: read")
		if len(read.Card.Groups) != 1 || read.Card.Groups[0].Name != "MCI Admin" {
			t.Fatalf("in tx: groups = %+v, want the transaction's own", read.Card.Groups)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("transaction: %v, want the rollback", err)
	}
	want("after a rolled-back change", []string{"SHR Provider"}, nil)
	must(t, b.Directory.SetUserGroups(ctx, u.ID, []int64{g1.ID, g2.ID}), "set groups after the rollback")
	want("committed after a rolled-back change", []string{"MCI Admin", "SHR Provider"}, nil)
	must(t, b.Directory.SetUserGroups(ctx, u.ID, []int64{g2.ID}), "restore groups")

	// A merge moves another person's groups and profiles onto this one.
	from := newUser(t, b, "merged@example.org")
	must(t, replica.SetUserGroups(ctx, from.ID, []int64{g1.ID}), "merged person's group")
	must(t, replica.SetUserProfiles(ctx, from.ID, []directory.Profile{
		{Type: directory.ProfileAdmin, ID: "9", Catchment: []string{"30"}}}), "merged person's profile")
	want("before the merge", []string{"SHR Provider"}, nil)
	must(t, replica.MoveUserData(ctx, from.ID, u.ID), "merge")
	want("after a merge on a replica", []string{"MCI Admin", "SHR Provider"},
		[]directory.Profile{{Type: directory.ProfileAdmin, ID: "9", Catchment: []string{"30"}}})
}
