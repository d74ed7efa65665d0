package client_test

import (
	"strings"
	"testing"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/client"
	"ward/internal/testutil"
)

// TestResourceServerFlag: only an administrator (or ward itself) marks a
// client as a resource server, which lets it introspect every client's
// tokens; its developer can neither set nor clear it, but can still edit
// the rest of the client. A public client cannot be one.
func TestResourceServerFlag(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		rs := func(s client.Settings) client.Settings {
			s.ResourceServer = true
			s.GrantTypes, s.RedirectURIs, s.Scope = []string{client.GrantClientCredentials}, nil, "system/*.rs"
			return s
		}

		_, _, err := e.svc.Create(as(e.dev), rs(settings("Dev RS")))
		wantKind(t, err, apperr.Forbidden, "developer registers a resource server")
		_, _, err = e.svc.Create(as(e.staff), rs(settings("Staff RS")))
		wantKind(t, err, apperr.Forbidden, "staff registers a resource server")

		pub := settings("Public RS")
		pub.Public, pub.ResourceServer = true, true
		_, _, err = e.svc.Create(as(e.admin), pub)
		wantKind(t, err, apperr.Invalid, "public resource server")
		if !strings.Contains(err.Error(), "resource server must be a confidential client") {
			t.Errorf("public resource server refused for another reason: %v", err)
		}

		made, _, err := e.svc.Create(actor.System(t.Context()), rs(settings("System RS")))
		if err != nil || !made.ResourceServer {
			t.Fatalf("system registers a resource server: %v, %+v", err, made)
		}

		cl, _, err := e.svc.Create(as(e.dev), settings("Owned"))
		if err != nil {
			t.Fatal(err)
		}
		mark := func(on bool) func(*client.Settings) error {
			return func(s *client.Settings) error { s.ResourceServer = on; return nil }
		}
		_, _, err = e.svc.Update(as(e.dev), cl.ID, mark(true))
		wantKind(t, err, apperr.Forbidden, "owner marks their client a resource server")
		got, _, err := e.svc.Update(as(e.admin), cl.ID, mark(true))
		if err != nil || !got.ResourceServer {
			t.Fatalf("admin marks it: %v, %+v", err, got)
		}
		read, err := e.svc.Get(as(e.dev), cl.ID)
		if err != nil || !read.ResourceServer {
			t.Fatalf("read back: %v, %+v", err, read)
		}
		_, _, err = e.svc.Update(as(e.dev), cl.ID, mark(false))
		wantKind(t, err, apperr.Forbidden, "owner clears the flag")
		renamed, _, err := e.svc.Update(as(e.dev), cl.ID, func(s *client.Settings) error { s.Name = "Renamed"; return nil })
		if err != nil || !renamed.ResourceServer || renamed.Name != "Renamed" {
			t.Fatalf("owner edits the rest: %v, %+v", err, renamed)
		}
	})
}
