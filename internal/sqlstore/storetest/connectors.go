package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/connector"
	"ward/internal/store"
)

// ConnectorStore is what a backend keeps connectors with.
type ConnectorStore interface {
	connector.Store
	connector.StateStore
}

// ConnectorBackend is a Backend with the connector store (issue 16); its
// cases run through RunConnectors.
type ConnectorBackend struct {
	Backend
	Connectors ConnectorStore
	// ConnectorReplica opens a second handle on the same database (a
	// second replica of ward).
	ConnectorReplica func(t *testing.T) (ConnectorStore, store.Transactor)
}

// RunConnectors runs every connector conformance case, each on a backend
// from open.
func RunConnectors(t *testing.T, open func(t *testing.T) ConnectorBackend) {
	for _, c := range []struct {
		name string
		fn   func(t *testing.T, b ConnectorBackend)
	}{
		{"ConnectorRoundTrip", testConnectorRoundTrip},
		{"ConnectorNameUnique", testConnectorNameUnique},
		{"ConnectorCompareAndSwap", testConnectorCAS},
		{"ConnectorCompareAndSwapRace", testConnectorCASRace},
		{"ConnectorDelete", testConnectorDelete},
		{"ConnectorRollback", testConnectorRollback},
		{"ConnectStateOnce", testConnectStateOnce},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

// fullConnector sets every field to a non-zero value.
func fullConnector(name string) *connector.Connector {
	return &connector.Connector{Name: name, BaseURL: "https://mis.example.org/api/v2",
		AuthorizeURL: "https://mis.example.org/oauth/authorize", TokenURL: "https://mis.example.org/oauth/token",
		ClientID: "ward-client", RedirectURI: "https://ward.example.org/admin/connectors/" + name + "/callback",
		Scopes: []string{"profiles", "groups.read"}, ProfileSystem: "https://mis.example.org/fhir/profile-id",
		Status: connector.StatusConnected,
		Expiry: micro(base.Add(time.Hour)), LastRefresh: micro(base), LastError: "earlier: 503",
		LeaseUntil: micro(base.Add(time.Minute)),
		Secrets: connector.Sealed{ClientSecret: []byte{1, 2, 0, 3}, AccessToken: []byte{4, 5, 6},
			RefreshToken: []byte{7, 8, 9, 0}},
		CreatedAt: micro(base), UpdatedAt: micro(base.Add(time.Second))}
}

func createConnector(t *testing.T, b ConnectorBackend, c *connector.Connector) {
	t.Helper()
	must(t, b.Tx.InTx(t.Context(), func(ctx context.Context) error { return b.Connectors.CreateConnector(ctx, c) }),
		"create connector")
}

func testConnectorRoundTrip(t *testing.T, b ConnectorBackend) {
	ctx := t.Context()
	c := fullConnector("campdoc")
	createConnector(t, b, c)
	if c.ID == 0 || c.Version != 1 {
		t.Fatalf("after create: id %d version %d, want an id and version 1", c.ID, c.Version)
	}
	got, err := b.Connectors.GetConnector(ctx, "campdoc")
	must(t, err, "get")
	mustEqual(t, got, c, "read back")

	// Zero times, no secrets and no profile system read back as zero, nil
	// and "" (the default system).
	bare := &connector.Connector{Name: "bare", BaseURL: "https://b.example.org", AuthorizeURL: "https://b.example.org/a",
		TokenURL: "https://b.example.org/t", ClientID: "c", RedirectURI: "https://w.example.org/cb",
		Scopes: []string{}, Status: connector.StatusUnprimed, CreatedAt: micro(base), UpdatedAt: micro(base)}
	createConnector(t, b, bare)
	got, err = b.Connectors.GetConnector(ctx, "bare")
	must(t, err, "get bare")
	mustEqual(t, got, bare, "bare read back")
	_, err = b.Connectors.GetConnector(ctx, "nope")
	wantKind(t, err, apperr.NotFound, "get a missing connector")

	list, err := b.Connectors.ListConnectors(ctx)
	must(t, err, "list")
	if len(list) != 2 || list[0].Name != "bare" || list[1].Name != "campdoc" {
		t.Fatalf("list: got %d connectors, want bare and campdoc in name order", len(list))
	}
}

func testConnectorNameUnique(t *testing.T, b ConnectorBackend) {
	createConnector(t, b, fullConnector("campdoc"))
	err := b.Tx.InTx(t.Context(), func(ctx context.Context) error {
		return b.Connectors.CreateConnector(ctx, fullConnector("campdoc"))
	})
	wantKind(t, err, apperr.Conflict, "create a second connector with the same name")
}

func testConnectorCAS(t *testing.T, b ConnectorBackend) {
	ctx := t.Context()
	c := fullConnector("campdoc")
	createConnector(t, b, c)
	stale := *c
	c.Status, c.LastError, c.Secrets.AccessToken = connector.StatusDisconnected, "invalid_grant", []byte{9, 9}
	c.Expiry, c.LeaseUntil, c.ProfileSystem = time.Time{}, time.Time{}, "urn:example:profile"
	must(t, b.Tx.InTx(ctx, func(ctx context.Context) error { return b.Connectors.UpdateConnector(ctx, c) }), "update")
	if c.Version != 2 {
		t.Fatalf("version after update: %d, want 2", c.Version)
	}
	got, err := b.Connectors.GetConnector(ctx, "campdoc")
	must(t, err, "get")
	mustEqual(t, got, c, "updated read back")

	err = b.Tx.InTx(ctx, func(ctx context.Context) error { return b.Connectors.UpdateConnector(ctx, &stale) })
	wantKind(t, err, apperr.Conflict, "update with a stale version")
	missing := fullConnector("missing")
	missing.Version = 1
	err = b.Tx.InTx(ctx, func(ctx context.Context) error { return b.Connectors.UpdateConnector(ctx, missing) })
	wantKind(t, err, apperr.NotFound, "update a missing connector")
}

// testConnectorCASRace: of many writers on two handles that read the same
// version, exactly one update wins; the rest get Conflict. This is what
// the Service's refresh claim relies on.
func testConnectorCASRace(t *testing.T, b ConnectorBackend) {
	c := fullConnector("campdoc")
	createConnector(t, b, c)
	stores := []ConnectorStore{b.Connectors, b.Connectors}
	txs := []store.Transactor{b.Tx, b.Tx}
	if b.ConnectorReplica != nil {
		stores[1], txs[1] = b.ConnectorReplica(t)
	}
	const n = 8
	errs := make([]error, n)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-gate
			mine := *c
			mine.LastError = "claimed"
			errs[i] = txs[i%2].InTx(t.Context(), func(ctx context.Context) error {
				return stores[i%2].UpdateConnector(ctx, &mine)
			})
		})
	}
	close(gate)
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case apperr.Is(err, apperr.Conflict):
		default:
			t.Fatalf("racing update: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d racing updates of version 1 won, want exactly 1", won)
	}
}

func testConnectorDelete(t *testing.T, b ConnectorBackend) {
	ctx := t.Context()
	createConnector(t, b, fullConnector("campdoc"))
	st := &connector.ConnectState{Hash: "h1", Connector: "campdoc", SessionHash: "s", Verifier: []byte{1},
		ExpiresAt: micro(base.Add(time.Hour))}
	must(t, b.Tx.InTx(ctx, func(ctx context.Context) error { return b.Connectors.PutConnectState(ctx, st) }), "put state")
	must(t, b.Tx.InTx(ctx, func(ctx context.Context) error { return b.Connectors.DeleteConnector(ctx, "campdoc") }), "delete")
	_, err := b.Connectors.GetConnector(ctx, "campdoc")
	wantKind(t, err, apperr.NotFound, "get after delete")
	err = b.Tx.InTx(ctx, func(ctx context.Context) error {
		_, err := b.Connectors.TakeConnectState(ctx, "h1", base)
		return err
	})
	wantKind(t, err, apperr.NotFound, "the deleted connector's pending priming")
	err = b.Tx.InTx(ctx, func(ctx context.Context) error { return b.Connectors.DeleteConnector(ctx, "campdoc") })
	wantKind(t, err, apperr.NotFound, "delete again")
}

func testConnectorRollback(t *testing.T, b ConnectorBackend) {
	boom := errors.New("boom")
	err := b.Tx.InTx(t.Context(), func(ctx context.Context) error {
		if err := b.Connectors.CreateConnector(ctx, fullConnector("campdoc")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx: %v, want boom", err)
	}
	_, err = b.Connectors.GetConnector(t.Context(), "campdoc")
	wantKind(t, err, apperr.NotFound, "a connector created in a rolled-back transaction")
}

// testConnectStateOnce: a state is taken once, and an expired one never.
func testConnectStateOnce(t *testing.T, b ConnectorBackend) {
	ctx := t.Context()
	createConnector(t, b, fullConnector("campdoc"))
	st := &connector.ConnectState{Hash: "h1", Connector: "campdoc", SessionHash: "sess", Verifier: []byte{1, 0, 2},
		ExpiresAt: micro(base.Add(10 * time.Minute))}
	old := &connector.ConnectState{Hash: "h2", Connector: "campdoc", SessionHash: "sess", Verifier: []byte{3},
		ExpiresAt: micro(base.Add(-time.Minute))}
	for _, s := range []*connector.ConnectState{st, old} {
		must(t, b.Tx.InTx(ctx, func(ctx context.Context) error { return b.Connectors.PutConnectState(ctx, s) }), "put state")
	}
	take := func(hash string) (*connector.ConnectState, error) {
		var got *connector.ConnectState
		err := b.Tx.InTx(ctx, func(ctx context.Context) error {
			var err error
			got, err = b.Connectors.TakeConnectState(ctx, hash, base)
			return err
		})
		return got, err
	}
	got, err := take("h1")
	must(t, err, "take")
	mustEqual(t, got, st, "taken state")
	_, err = take("h1")
	wantKind(t, err, apperr.NotFound, "take the same state again")
	_, err = take("h2")
	wantKind(t, err, apperr.NotFound, "take an expired state")
}
