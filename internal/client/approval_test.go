package client_test

import (
	"context"
	"strings"
	"testing"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/store"
	"ward/internal/testutil"
)

// TestDeveloperLimits is issue 9's finding 1 at the registry: an
// application developer cannot give a client client_credentials, system/
// scopes or anything else beyond the developer set, on create or update;
// an administrator (and ward itself) can.
func TestDeveloperLimits(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		backend := client.Settings{Name: "Backend", GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/*.cruds"}
		sysOnCode := settings("System on code")
		sysOnCode.Scope = "openid system/Patient.rs"
		api := settings("Management API")
		api.Scope = "openid ward:api"
		for name, set := range map[string]client.Settings{"client_credentials system/*.cruds": backend,
			"system scope": sysOnCode, "ward:api": api} {
			_, _, err := e.svc.Create(as(e.dev), set)
			wantKind(t, err, apperr.Forbidden, "developer registers "+name)
			if !strings.Contains(apperr.Message(err), "administrator") {
				t.Errorf("%s: refusal %q does not say who may", name, apperr.Message(err))
			}
			for _, ctx := range []context.Context{as(e.admin), actor.System(context.Background())} {
				c, _, err := e.svc.Create(ctx, set)
				if err != nil || c.Status != client.StatusActive {
					t.Fatalf("admin registers %s: %v %+v", name, err, c)
				}
			}
		}
		cs, _, err := e.svc.List(as(e.dev), client.Filter{}, store.Page{})
		if err != nil || len(cs) != 0 {
			t.Fatalf("refused registrations left %d clients (%v)", len(cs), err)
		}

		// A developer's client starts pending; adding client_credentials or
		// a system scope to it later is refused too, and changes nothing.
		c, _, err := e.svc.Create(as(e.dev), settings("App"))
		if err != nil || c.Status != client.StatusPending || c.OwnerID != e.dev {
			t.Fatalf("developer's client: %v %+v", err, c)
		}
		for name, edit := range map[string]func(*client.Settings){
			"client_credentials": func(s *client.Settings) {
				s.GrantTypes = append(s.GrantTypes, client.GrantClientCredentials)
			},
			"system scope": func(s *client.Settings) { s.Scope += " system/*.rs" },
		} {
			_, _, err := e.svc.Update(as(e.dev), c.ID, func(s *client.Settings) error { edit(s); return nil })
			wantKind(t, err, apperr.Forbidden, "developer adds "+name)
		}
		got, err := e.svc.Get(as(e.dev), c.ID)
		if err != nil || got.Version != c.Version || got.Scope != c.Scope {
			t.Fatalf("refused updates changed the client: %v %+v", err, got)
		}
	})
}

// TestApproval: pending -> active by an administrator only, audited in
// the same transaction; a developer's widening change sends an active
// client back to pending, a narrowing one does not.
func TestApproval(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		c, _, err := e.svc.Create(as(e.dev), settings("App"))
		if err != nil {
			t.Fatal(err)
		}
		for _, who := range []int64{e.dev, e.dev2, e.staff} {
			_, err := e.svc.Approve(as(who), c.ID)
			wantKind(t, err, apperr.Forbidden, "approve by a non-admin")
		}
		_, err = e.svc.Approve(context.Background(), c.ID)
		wantKind(t, err, apperr.Unauthenticated, "approve anonymously")
		_, err = e.svc.Approve(as(e.admin), "no-such-client")
		wantKind(t, err, apperr.NotFound, "approve a missing client")

		// The approval and its audit event commit together.
		e.aud.fail = true
		if _, err := e.svc.Approve(as(e.admin), c.ID); err == nil {
			t.Fatal("approval succeeded without its audit event")
		}
		e.aud.fail = false
		if got, _ := e.svc.Get(as(e.dev), c.ID); got.Status != client.StatusPending {
			t.Fatalf("a rolled-back approval left status %q", got.Status)
		}
		got, err := e.svc.Approve(as(e.admin), c.ID)
		if err != nil || got.Status != client.StatusActive || got.Version != c.Version+1 {
			t.Fatalf("approve: %v %+v", err, got)
		}
		// Again: nothing changes, nothing is recorded.
		again, err := e.svc.Approve(actor.System(context.Background()), c.ID)
		if err != nil || again.Version != got.Version {
			t.Fatalf("approve an active client: %v %+v", err, again)
		}

		// Narrowing keeps it active.
		got, _, err = e.svc.Update(as(e.dev), c.ID, func(s *client.Settings) error {
			s.Scope = "openid patient/*.rs"
			return nil
		})
		if err != nil || got.Status != client.StatusActive {
			t.Fatalf("narrowing: %v %+v", err, got)
		}
		// Widening (a scope, a redirect URI) sends it back.
		for name, edit := range map[string]func(*client.Settings){
			"scope":        func(s *client.Settings) { s.Scope += " user/Observation.rs" },
			"redirect URI": func(s *client.Settings) { s.RedirectURIs = append(s.RedirectURIs, "https://elsewhere.example/cb") },
		} {
			got, _, err = e.svc.Update(as(e.dev), c.ID, func(s *client.Settings) error { edit(s); return nil })
			if err != nil || got.Status != client.StatusPending {
				t.Fatalf("widening the %s: %v %+v", name, err, got)
			}
			if _, err := e.svc.Approve(as(e.admin), c.ID); err != nil {
				t.Fatal(err)
			}
		}
		// An administrator's widening keeps the status.
		got, _, err = e.svc.Update(as(e.admin), c.ID, func(s *client.Settings) error {
			s.Scope += " patient/Procedure.rs"
			return nil
		})
		if err != nil || got.Status != client.StatusActive {
			t.Fatalf("admin widening: %v %+v", err, got)
		}

		// An administrator's disable is not undone by the developer alone:
		// their enable waits for approval again. An admin's enable keeps
		// the status.
		if _, err := e.svc.Disable(as(e.admin), c.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Enable(as(e.dev2), c.ID)
		wantKind(t, err, apperr.Forbidden, "another developer enables")
		got, err = e.svc.Enable(as(e.dev), c.ID)
		if err != nil || got.Disabled || got.Status != client.StatusPending {
			t.Fatalf("the developer enables: %v %+v", err, got)
		}
		if _, err := e.svc.Approve(as(e.admin), c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Disable(as(e.dev), c.ID); err != nil {
			t.Fatal(err)
		}
		got, err = e.svc.Enable(as(e.admin), c.ID)
		if err != nil || got.Disabled || got.Status != client.StatusActive {
			t.Fatalf("the admin enables: %v %+v", err, got)
		}

		evs, _, err := e.log.List(context.Background(), audit.Filter{Context: audit.Intervention}, store.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var approvals, repending int
		for _, ev := range evs {
			switch {
			case strings.Contains(ev.Comment, "approved (pending -> active)"):
				approvals++
				if ev.UserID != e.admin || ev.SubjectID != e.dev {
					t.Errorf("approval event %+v does not name the admin and the owner", ev)
				}
			case strings.Contains(ev.Comment, "pending again"):
				repending++
			}
		}
		if approvals != 4 || repending != 3 {
			t.Fatalf("audit: %d approvals, %d returns to pending; want 4 and 3", approvals, repending)
		}
	})
}
