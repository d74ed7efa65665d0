package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/directory"
	"ward/internal/secrets"
	"ward/internal/sqlstore"
	"ward/internal/store"
	"ward/internal/testutil"
	"ward/internal/webhook"
)

// plainHasher stands in for argon2id: nobody signs in here.
type plainHasher struct{}

func (plainHasher) Hash(pw string) (string, error) { return "plain$" + pw, nil }

// failingAudit refuses every event once fail is set, as a full disk would.
type failingAudit struct {
	audit.Recorder
	fail bool
}

func (f *failingAudit) Record(ctx context.Context, c audit.Change) error {
	if f.fail {
		return errors.New("audit store down")
	}
	return f.Recorder.Record(ctx, c)
}

type svcEnv struct {
	st      *sqlstore.DB
	svc     *webhook.Service
	aud     *failingAudit
	portal  string
	deps    webhook.Deps
	woken   []string
	wakeErr error
}

var now0 = time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)

func newSvcEnv(t *testing.T, dbURL string) *svcEnv {
	t.Helper()
	clock := func() time.Time { return now0 }
	st := testutil.NewStore(t, dbURL, sqlstore.WithClock(clock))
	log := audit.NewLog(audit.Deps{Store: st, Tx: st}, audit.Config{Version: "test", Now: clock})
	dir := directory.NewService(directory.Deps{Store: st, Audit: log, Hasher: plainHasher{}}, directory.Config{Now: clock})
	clients, err := client.NewService(client.Deps{Store: st, Tx: st, Roles: dir, Audit: log},
		client.Config{SecretKey: bytes.Repeat([]byte{3}, 32), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := webhook.NewSealer(bytes.Repeat([]byte{9}, secrets.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	e := &svcEnv{st: st, aud: &failingAudit{Recorder: log}}
	e.deps = webhook.Deps{Store: st, Clients: clients, Roles: dir, Audit: e.aud, Tx: st, Sealer: sealer,
		Wake: func(ctx context.Context, id string) error {
			if e.wakeErr != nil {
				return e.wakeErr
			}
			e.woken = append(e.woken, id)
			return nil
		}}
	e.svc, err = webhook.NewService(e.deps, webhook.Config{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := clients.Create(actor.System(context.Background()), client.Settings{Name: "Portal",
		GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/Patient.rs"})
	if err != nil {
		t.Fatal(err)
	}
	e.portal = c.ID
	return e
}

func (e *svcEnv) create(t *testing.T) (*webhook.Subscription, string) {
	t.Helper()
	w, secret, err := e.svc.Create(actor.System(context.Background()), webhook.NewSubscription{ClientID: e.portal,
		URL: "https://portal.example.org/ward", Events: []string{"user.created"}})
	if err != nil {
		t.Fatal(err)
	}
	return w, secret
}

// A change whose audit event cannot be written is not made.
func TestServiceAuditFailureRollsBack(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newSvcEnv(t, dbURL)
		sys := actor.System(context.Background())
		w, _ := e.create(t)
		e.aud.fail = true
		if _, _, err := e.svc.Create(sys, webhook.NewSubscription{ClientID: e.portal, URL: "https://b.example.org/",
			Events: []string{"user.created"}}); err == nil {
			t.Fatal("created without its audit event")
		}
		url := "https://changed.example.org/"
		if _, err := e.svc.Update(sys, w.ID, webhook.Changes{URL: &url}); err == nil {
			t.Fatal("updated without its audit event")
		}
		if _, _, err := e.svc.RotateSecret(sys, w.ID, nil); err == nil {
			t.Fatal("rotated without its audit event")
		}
		if err := e.svc.Delete(sys, w.ID); err == nil {
			t.Fatal("deleted without its audit event")
		}
		e.aud.fail = false
		ws, _, err := e.svc.List(sys, "", store.Page{})
		if err != nil || len(ws) != 1 {
			t.Fatalf("after refused changes: %d webhooks, %v", len(ws), err)
		}
		if ws[0].URL != w.URL || ws[0].Version != w.Version || !bytes.Equal(ws[0].Secrets.Current, w.Secrets.Current) {
			t.Fatalf("a refused change was stored: %+v", ws[0])
		}
	})
}

// Replaying and re-enabling wake the delivery side in their transaction;
// when waking fails, the replay is not made.
func TestServiceWakesDeliverySide(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newSvcEnv(t, dbURL)
		sys := actor.System(context.Background())
		w, _ := e.create(t)
		var id int64
		q := `INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, subject, payload, status, created_at)
			VALUES (?, 5, 'user.created', 'Patient/1', '{}', 'succeeded', 1) RETURNING id`
		if e.st.Dialect() == sqlstore.Postgres {
			q = `INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, subject, payload, status, created_at)
			VALUES ($1, 5, 'user.created', 'Patient/1', '{}', 'succeeded', 1) RETURNING id`
		}
		if err := e.st.Writer().QueryRowContext(context.Background(), q, w.ID).Scan(&id); err != nil {
			t.Fatal(err)
		}
		e.wakeErr = errors.New("queue down")
		if _, err := e.svc.Replay(sys, w.ID, id); err == nil {
			t.Fatal("replayed without waking the worker")
		}
		ds, _, err := e.svc.Deliveries(sys, w.ID, webhook.DeliveryPending, store.Page{})
		if err != nil || len(ds) != 0 {
			t.Fatalf("a failed replay left %d pending deliveries (%v)", len(ds), err)
		}
		e.wakeErr = nil
		if _, err := e.svc.Replay(sys, w.ID, id); err != nil {
			t.Fatal(err)
		}
		off, on := webhook.StatusDisabled, webhook.StatusEnabled
		if _, err := e.svc.Update(sys, w.ID, webhook.Changes{Status: &off}); err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.Update(sys, w.ID, webhook.Changes{Status: &on})
		if err != nil {
			t.Fatal(err)
		}
		if got.FailureRun != 0 || got.DisabledReason != "" || got.Status != webhook.StatusEnabled {
			t.Fatalf("enabled: %+v", got)
		}
		if len(e.woken) != 2 || e.woken[0] != w.ID || e.woken[1] != w.ID {
			t.Fatalf("woken %v, want the replay and the enable", e.woken)
		}
	})
}

// A sealed secret opens only for the subscription it was sealed for.
func TestOpenSecretsBoundToSubscription(t *testing.T) {
	e := newSvcEnv(t, testutil.SQLiteURL(t))
	a, secretA := e.create(t)
	b, _ := e.create(t)
	got, err := e.svc.OpenSecrets(a, now0)
	if err != nil || len(got) != 1 || got[0] != secretA {
		t.Fatalf("OpenSecrets = %d secrets, %v", len(got), err)
	}
	b.Secrets.Current = a.Secrets.Current
	if _, err := e.svc.OpenSecrets(b, now0); err == nil {
		t.Fatal("a secret copied to another subscription opened")
	}
}

// Who may create: anonymous 401, a client for another client 403.
func TestServiceCreateCallers(t *testing.T) {
	e := newSvcEnv(t, testutil.SQLiteURL(t))
	in := webhook.NewSubscription{ClientID: e.portal, URL: "https://portal.example.org/", Events: []string{"user.created"}}
	if _, _, err := e.svc.Create(context.Background(), in); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("anonymous: %v", err)
	}
	other := actor.With(context.Background(), actor.Actor{ClientID: "someone-else"})
	if _, _, err := e.svc.Create(other, in); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("another client: %v", err)
	}
	self := actor.With(context.Background(), actor.Actor{ClientID: e.portal})
	in.ClientID = ""
	w, _, err := e.svc.Create(self, in)
	if err != nil || w.ClientID != e.portal {
		t.Fatalf("the client itself: %+v %v", w, err)
	}
}

// Concurrent changes are never lost: each one that succeeds is a version
// and an audit event; a loser after every retry gets Conflict, never a
// silent overwrite.
func TestServiceConcurrentUpdates(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newSvcEnv(t, dbURL)
		sys := actor.System(context.Background())
		w, _ := e.create(t)
		const n = 6
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				d := fmt.Sprintf("writer %d", i)
				if i%2 == 0 {
					_, _, errs[i] = e.svc.RotateSecret(sys, w.ID, nil)
					return
				}
				_, errs[i] = e.svc.Update(sys, w.ID, webhook.Changes{Description: &d})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !apperr.Is(err, apperr.Conflict):
				t.Fatalf("a concurrent change failed: %v", err)
			}
		}
		if ok == 0 {
			t.Fatal("no concurrent change succeeded")
		}
		got, err := e.svc.Get(sys, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != int64(1+ok) {
			t.Fatalf("version %d after %d successful changes", got.Version, ok)
		}
		evs, _, err := e.st.ListAudit(context.Background(), audit.Filter{}, store.Page{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		changes := 0
		for _, ev := range evs {
			if ev.Type == audit.WebhookUpdated || ev.Type == audit.WebhookSecretRotated {
				changes++
			}
		}
		if changes != ok {
			t.Fatalf("%d audit events for %d successful changes", changes, ok)
		}
	})
}

// A subscription made while private receivers were allowed can still be
// disabled and described once they are not; its URL is only checked when
// it changes.
func TestServiceChecksOnlyWhatChanges(t *testing.T) {
	e := newSvcEnv(t, testutil.SQLiteURL(t))
	sys := actor.System(context.Background())
	open, err := webhook.NewService(e.deps, webhook.Config{AllowPrivate: true, Now: func() time.Time { return now0 }})
	if err != nil {
		t.Fatal(err)
	}
	w, _, err := open.Create(sys, webhook.NewSubscription{ClientID: e.portal, URL: "http://127.0.0.1:9000/hook",
		Events: []string{"user.created"}})
	if err != nil {
		t.Fatal(err)
	}
	off, d := webhook.StatusDisabled, "test receiver"
	if _, err := e.svc.Update(sys, w.ID, webhook.Changes{Status: &off, Description: &d}); err != nil {
		t.Fatalf("disable under stricter rules: %v", err)
	}
	u := "http://127.0.0.1:9001/hook"
	if _, err := e.svc.Update(sys, w.ID, webhook.Changes{URL: &u}); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("a private URL set under strict rules: %v", err)
	}
}
