package storetest

import (
	"fmt"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/client"
	"ward/internal/oauth/tokens"
	"ward/internal/store"
)

// fullClient returns a client with every field set to a non-zero value and
// n mixed into every string.
func fullClient(n int, ownerID int64, intervention string) *client.Client {
	s := func(f string) string { return fmt.Sprintf(f, n) }
	return &client.Client{
		ID: s("cl-%d-Yk3xQ_9"),
		Settings: client.Settings{
			Name:         s("Decision Support %d"),
			Public:       true,
			GrantTypes:   []string{client.GrantAuthorizationCode, client.GrantRefreshToken},
			RedirectURIs: []string{s("https://app%d.example.org/cb"), "http://127.0.0.1:8765/cb"},
			Scope:        s("openid fhirUser launch/patient patient/*.rs scope%d"),
			AuthMethod:   client.AuthPrivateKeyJWT,
			JWKSURI:      s("https://app%d.example.org/jwks.json"),
			JWKS:         s(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"k%d"}]}`),
			TokenFormat:  client.TokenJWT,
			OwnerID:      ownerID,
			Intervention: intervention,
			// Public and resource server together never pass the
			// registry's validation; the store keeps what it is given.
			ResourceServer: true,
			IDTokenAlg:     client.IDTokenES256,
		},
		SecretHash:     s("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0%d"),
		SecretIssuedAt: microPtr(base.Add(2 * time.Hour)),
		Disabled:       true,
		Status:         client.StatusPending,
		CreatedAt:      micro(base),
		UpdatedAt:      micro(base.Add(time.Hour)),
	}
}

func testClientRoundTrip(t *testing.T, b Backend) {
	ctx := t.Context()
	owner := newUser(t, b, "dev@example.org")
	must(t, b.EnrollIntervention(ctx, owner.ID, "decision_support"), "intervention")

	c := fullClient(1, owner.ID, "decision_support")
	// Unrounded times go in; what comes back is microseconds, UTC.
	c.CreatedAt = base.In(time.FixedZone("X", 3600))
	must(t, b.Clients.CreateClient(ctx, c), "create")
	if c.Version != 1 {
		t.Fatalf("version after create %d, want 1", c.Version)
	}
	want := fullClient(1, owner.ID, "decision_support")
	want.Version = 1
	mustEqual(t, c, want, "client after create")
	got, err := b.Clients.GetClient(ctx, c.ID)
	must(t, err, "get")
	mustEqual(t, got, want, "client read back")

	_, err = b.Clients.GetClient(ctx, "missing")
	wantKind(t, err, apperr.NotFound, "get missing")

	dup := fullClient(1, owner.ID, "")
	wantKind(t, b.Clients.CreateClient(ctx, dup), apperr.Conflict, "duplicate client_id")
	wantKind(t, b.Clients.CreateClient(ctx, fullClient(2, 99999, "")), apperr.Invalid, "unknown owner")
	wantKind(t, b.Clients.CreateClient(ctx, fullClient(3, owner.ID, "no_such_intervention")), apperr.Invalid, "unknown intervention")

	// The optional fields may be empty: no owner, no intervention, no
	// secret, no lists. An empty status is stored as active.
	bare := &client.Client{ID: "bare", Settings: client.Settings{Name: "Bare", AuthMethod: client.AuthNone,
		TokenFormat: client.TokenOpaque}, CreatedAt: micro(base), UpdatedAt: micro(base)}
	must(t, b.Clients.CreateClient(ctx, bare), "create bare")
	if bare.Status != client.StatusActive {
		t.Fatalf("bare client status after create %q, want active", bare.Status)
	}
	got, err = b.Clients.GetClient(ctx, "bare")
	must(t, err, "get bare")
	mustEqual(t, got, bare, "bare client read back")
}

func testClientUpdate(t *testing.T, b Backend) {
	ctx := t.Context()
	owner := newUser(t, b, "dev@example.org")
	other := newUser(t, b, "dev2@example.org")
	must(t, b.EnrollIntervention(ctx, owner.ID, "decision_support"), "intervention")
	c := fullClient(1, owner.ID, "decision_support")
	must(t, b.Clients.CreateClient(ctx, c), "create")

	// Every field changes, including to empty where it may be.
	u := fullClient(7, other.ID, "")
	u.ID, u.Version = c.ID, c.Version
	u.Public, u.Disabled, u.Status = false, false, client.StatusActive
	u.AuthMethod, u.TokenFormat = client.AuthClientSecretPost, client.TokenOpaque
	u.IDTokenAlg = client.IDTokenRS256
	u.GrantTypes = []string{client.GrantClientCredentials}
	u.RedirectURIs = nil
	u.SecretIssuedAt = nil
	must(t, b.Clients.UpdateClient(ctx, u), "update")
	if u.Version != 2 {
		t.Fatalf("version after update %d, want 2", u.Version)
	}
	got, err := b.Clients.GetClient(ctx, c.ID)
	must(t, err, "get updated")
	mustEqual(t, got, u, "updated client read back")

	// A writer holding the old version loses.
	wantKind(t, b.Clients.UpdateClient(ctx, c), apperr.Conflict, "stale version")
	got, err = b.Clients.GetClient(ctx, c.ID)
	must(t, err, "get after stale update")
	mustEqual(t, got, u, "client after a refused stale update")

	missing := fullClient(9, owner.ID, "")
	missing.Version = 1
	wantKind(t, b.Clients.UpdateClient(ctx, missing), apperr.NotFound, "update missing")
	u.OwnerID = 99999
	wantKind(t, b.Clients.UpdateClient(ctx, u), apperr.Invalid, "update to unknown owner")

	// Purging the owner leaves the client to the administrators.
	must(t, b.Directory.PurgeUser(ctx, other.ID), "purge owner")
	got, err = b.Clients.GetClient(ctx, c.ID)
	must(t, err, "get after owner purge")
	if got.OwnerID != 0 {
		t.Fatalf("owner after purge %d, want 0", got.OwnerID)
	}
}

// testClientIDTokenAlg checks id_token_signed_response_alg: a client written
// without one (as every client was before the setting existed) reads back
// without one, which the registry takes as RS256; each algorithm survives a
// write and a read; the store refuses a value outside the set even when the
// registry's validation was bypassed.
func testClientIDTokenAlg(t *testing.T, b Backend) {
	ctx := t.Context()
	c := &client.Client{ID: "alg", Settings: client.Settings{Name: "Alg", AuthMethod: client.AuthNone,
		TokenFormat: client.TokenOpaque}, CreatedAt: micro(base), UpdatedAt: micro(base)}
	must(t, b.Clients.CreateClient(ctx, c), "create without an alg")
	got, err := b.Clients.GetClient(ctx, c.ID)
	must(t, err, "get")
	if got.IDTokenAlg != "" || got.IDTokenSigningAlg() != client.IDTokenRS256 {
		t.Fatalf("alg stored as %q (signing with %s), want empty meaning RS256", got.IDTokenAlg, got.IDTokenSigningAlg())
	}
	for _, alg := range []string{client.IDTokenES256, client.IDTokenRS256, "", client.IDTokenES256} {
		got.IDTokenAlg = alg
		must(t, b.Clients.UpdateClient(ctx, got), "update alg to "+alg)
		back, err := b.Clients.GetClient(ctx, c.ID)
		must(t, err, "get after update")
		if back.IDTokenAlg != alg {
			t.Fatalf("alg read back %q, want %q", back.IDTokenAlg, alg)
		}
		got = back
	}
	for _, bad := range []string{"none", "HS256", "rs256"} {
		x := *got
		x.IDTokenAlg = bad
		wantKind(t, b.Clients.UpdateClient(ctx, &x), apperr.Invalid, "update alg to "+bad)
		y := *got
		y.ID, y.IDTokenAlg = "alg-"+bad, bad
		wantKind(t, b.Clients.CreateClient(ctx, &y), apperr.Invalid, "create with alg "+bad)
	}
	back, err := b.Clients.GetClient(ctx, c.ID)
	must(t, err, "get after refused updates")
	if back.IDTokenAlg != client.IDTokenES256 || back.Version != got.Version {
		t.Fatalf("after refused updates: alg %q version %d, want ES256 version %d", back.IDTokenAlg, back.Version, got.Version)
	}
}

func testClientList(t *testing.T, b Backend) {
	ctx := t.Context()
	a := newUser(t, b, "a@example.org")
	o := newUser(t, b, "o@example.org")
	var mine []string
	for i := range 5 {
		owner := a.ID
		if i%2 == 1 {
			owner = o.ID
		}
		c := fullClient(i, owner, "")
		must(t, b.Clients.CreateClient(ctx, c), "create")
		if owner == a.ID {
			mine = append(mine, c.ID)
		}
	}
	var all []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		cs, next, err := b.Clients.ListClients(ctx, client.Filter{}, store.Page{Limit: 2, After: after})
		must(t, err, "list")
		if len(cs) > 2 {
			t.Fatalf("page of %d, want at most 2", len(cs))
		}
		for _, c := range cs {
			all = append(all, c.ID)
		}
		if next == "" {
			break
		}
		after = next
	}
	// The built-in service-account client, registered by migrate, comes first.
	want := []string{tokens.ServiceClientID, fullClient(0, 0, "").ID, fullClient(1, 0, "").ID,
		fullClient(2, 0, "").ID, fullClient(3, 0, "").ID, fullClient(4, 0, "").ID}
	mustEqual(t, all, want, "all clients in creation order")

	cs, next, err := b.Clients.ListClients(ctx, client.Filter{OwnerID: a.ID}, store.Page{})
	must(t, err, "list by owner")
	var got []string
	for _, c := range cs {
		got = append(got, c.ID)
		if c.OwnerID != a.ID || c.Name == "" || c.Scope == "" {
			t.Fatalf("listed client %+v is not a full client of owner %d", c, a.ID)
		}
	}
	mustEqual(t, got, mine, "clients of one owner")
	if next != "" {
		t.Fatalf("next cursor %q on the last page", next)
	}
	_, _, err = b.Clients.ListClients(ctx, client.Filter{}, store.Page{After: "not a cursor!"})
	wantKind(t, err, apperr.Invalid, "malformed cursor")
}

// testClientListFilters: a list narrowed by state (pending, active,
// disabled) and by a part of the name, in any case, with LIKE's wildcards
// taken literally.
func testClientListFilters(t *testing.T, b Backend) {
	ctx := t.Context()
	mk := func(n int, name, status string, disabled bool) string {
		c := fullClient(100+n, 0, "")
		c.Name, c.Status, c.Disabled = name, status, disabled
		must(t, b.Clients.CreateClient(ctx, c), "create "+name)
		return c.ID
	}
	pending := mk(0, "Pending Reporter 0", client.StatusPending, false)
	active := mk(1, "Active reporter 100%", client.StatusActive, false)
	disabledPending := mk(2, "Old_app", client.StatusPending, true)
	disabledActive := mk(3, "Oldxapp", client.StatusActive, true)
	list := func(f client.Filter) []string {
		cs, _, err := b.Clients.ListClients(ctx, f, store.Page{Limit: 50})
		must(t, err, fmt.Sprintf("list %+v", f))
		var ids []string
		for _, c := range cs {
			if c.ID != tokens.ServiceClientID {
				ids = append(ids, c.ID)
			}
		}
		return ids
	}
	mustEqual(t, list(client.Filter{State: client.StatePending}), []string{pending}, "pending clients")
	mustEqual(t, list(client.Filter{State: client.StateActive}), []string{active}, "active clients")
	mustEqual(t, list(client.Filter{State: client.StateDisabled}), []string{disabledPending, disabledActive}, "disabled clients")
	mustEqual(t, list(client.Filter{Name: "REPORTER"}), []string{pending, active}, "name in any case")
	mustEqual(t, list(client.Filter{Name: "0%"}), []string{active}, "a literal %")
	mustEqual(t, list(client.Filter{Name: "d_a"}), []string{disabledPending}, "a literal _")
	mustEqual(t, list(client.Filter{Name: "app", State: client.StateDisabled}), []string{disabledPending, disabledActive}, "name and state")
	mustEqual(t, list(client.Filter{Name: "app", State: client.StateActive}), []string(nil), "nothing matches both")
}

// testBuiltinServiceClient checks the client a migrated database holds for
// service-account tokens: confidential, without grant types, secret or keys,
// so it can never authenticate; owned by nobody; scope ward:api only.
func testBuiltinServiceClient(t *testing.T, b Backend) {
	ctx := t.Context()
	c, err := b.Clients.GetClient(ctx, tokens.ServiceClientID)
	must(t, err, "get the built-in service client")
	if c.Public || len(c.GrantTypes) != 0 || len(c.RedirectURIs) != 0 || c.SecretHash != "" ||
		c.SecretIssuedAt != nil || c.JWKS != "" || c.JWKSURI != "" || c.OwnerID != 0 || c.Disabled || c.Status != client.StatusActive ||
		c.Scope != "ward:api" || c.AuthMethod != client.AuthPrivateKeyJWT || c.TokenFormat != client.TokenOpaque ||
		c.Name == "" || c.Version != 1 || c.CreatedAt.IsZero() {
		t.Fatalf("built-in service client %+v", c)
	}
}
