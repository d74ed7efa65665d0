package storetest

import (
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/client"
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
