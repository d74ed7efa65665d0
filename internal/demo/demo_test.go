package demo_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"ward/internal/actor"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/clinical"
	"ward/internal/config"
	"ward/internal/demo"
	"ward/internal/directory"
	"ward/internal/server"
	"ward/internal/store"
	"ward/internal/testutil"
)

func open(t *testing.T, dbURL string) *server.Services {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir, cfg.DatabaseURL = t.TempDir(), dbURL
	svc, err := server.OpenServices(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open services: %v", err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	if err := svc.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return svc
}

func deps(svc *server.Services) demo.Deps {
	return demo.Deps{Tx: svc.DB, Directory: svc.Directory, Clinical: svc.Clinical, Clients: svc.Clients}
}

// size counts what an instance holds, to compare before and after.
type size struct{ users, orgs, clients, events int }

func sizeOf(t *testing.T, svc *server.Services) size {
	t.Helper()
	ctx := actor.System(context.Background())
	users, err := svc.Directory.CountUsers(ctx, directory.UserFilter{IncludeDeleted: true})
	if err != nil {
		t.Fatal(err)
	}
	orgs, err := svc.Directory.CountOrganizations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cs, _, err := svc.Clients.List(ctx, client.Filter{}, store.Page{Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	evs, _, err := svc.Audit.List(ctx, audit.Filter{}, store.Page{Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	return size{users, orgs, len(cs), len(evs)}
}

func TestLoad(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		svc := open(t, dbURL)
		ctx := context.Background()
		res, err := demo.Load(ctx, deps(svc), demo.Options{})
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		want := demo.Counts{Organizations: 4, Staff: 5, Patients: 10, Consents: 10, Clients: 2}
		got := res.Counts
		if got.Observations < 10*12 || got.Procedures < 10 {
			t.Errorf("%d observations and %d procedures, want at least 12 and 1 a patient", got.Observations, got.Procedures)
		}
		got.Observations, got.Procedures = 0, 0
		if got != want {
			t.Errorf("counts %+v, want %+v", got, want)
		}
		if len(res.Password) < 16 || res.Backend.ClientSecret == "" || res.PatientApp.ClientSecret != "" {
			t.Errorf("password %q, backend secret %q, app secret %q: want a password, a backend secret and no app secret",
				res.Password, res.Backend.ClientSecret, res.PatientApp.ClientSecret)
		}

		// The counts are what the services hold, not just what Load says.
		sys := actor.System(ctx)
		patients, err := svc.Directory.CountUsers(sys, directory.UserFilter{Role: directory.RolePatient})
		if err != nil || patients != 10 {
			t.Errorf("%d patients (%v), want 10", patients, err)
		}
		var obs, procs int
		for _, p := range res.Patients {
			n, err := svc.Clinical.Observations().Count(sys, p.ID)
			if err != nil || n != p.Observations || n == 0 {
				t.Errorf("patient %d: %d observations (%v), Load said %d", p.ID, n, err, p.Observations)
			}
			obs += n
			m, err := svc.Clinical.Procedures().Count(sys, p.ID)
			if err != nil || m != p.Procedures || m == 0 {
				t.Errorf("patient %d: %d procedures (%v), Load said %d", p.ID, m, err, p.Procedures)
			}
			procs += m
			// No demo procedure starts (or declines) treatment: the
			// treatment value sets are for the seed's prostate cancer care.
			list, _, err := svc.Clinical.Procedures().List(sys, p.ID, store.Page{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			for _, pr := range list {
				for _, c := range pr.Code {
					if clinical.TxStarted.Contains(c) || clinical.TxNotStarted.Contains(c) {
						t.Errorf("patient %d: demo procedure %s is in a treatment value set", p.ID, c.Code)
					}
				}
			}
			cs, err := svc.Directory.Consents(sys, p.ID)
			if err != nil || len(cs) != 1 || !cs[0].Valid(cs[0].AcceptanceDate.AddDate(0, 6, 0)) || cs[0].OrganizationID != p.OrganizationID {
				t.Errorf("patient %d: consents %+v (%v), want one valid one with organization %d", p.ID, cs, err, p.OrganizationID)
			}
		}
		if obs != res.Counts.Observations || procs != res.Counts.Procedures {
			t.Errorf("stored %d observations and %d procedures, Load said %d and %d", obs, procs, res.Counts.Observations, res.Counts.Procedures)
		}

		// Every account signs in with the one printed password.
		for _, email := range []string{res.Admin.Email, res.StaffAdmin.Email, res.Patients[0].Email} {
			if _, _, err := svc.Sessions.Login(ctx, email, res.Password); err != nil {
				t.Errorf("%s cannot sign in with the demo password: %v", email, err)
			}
		}
		app, err := svc.Clients.Get(sys, res.PatientApp.ClientID)
		if err != nil || !app.Public || app.Scope != demo.AppScope || len(app.RedirectURIs) != 1 || app.RedirectURIs[0] != demo.AppRedirectURI {
			t.Errorf("patient app %+v (%v)", app, err)
		}
		if _, err := svc.Clients.Authenticate(ctx, res.Backend.ClientID, res.Backend.ClientSecret); err != nil {
			t.Errorf("the backend client's secret does not authenticate it: %v", err)
		}

		// The audit trail records the data, and who recorded the clinical
		// part: the clinic's clinician.
		evs, _, err := svc.Audit.List(sys, audit.Filter{SubjectID: res.Patients[0].ID, Context: audit.Observation}, store.Page{Limit: store.MaxLimit})
		if err != nil || len(evs) != res.Patients[0].Observations {
			t.Fatalf("%d observation events about patient %d (%v), want %d", len(evs), res.Patients[0].ID, err, res.Patients[0].Observations)
		}
		if evs[0].UserID == 0 || evs[0].UserID == res.Admin.ID {
			t.Errorf("observation event by user %d, want the clinic's clinician", evs[0].UserID)
		}
		if broken, err := svc.Audit.Verify(sys); err != nil || broken != nil {
			t.Errorf("audit chain after the demo: %+v, %v", broken, err)
		}

		// A second run refuses and changes nothing.
		before := sizeOf(t, svc)
		_, err = demo.Load(ctx, deps(svc), demo.Options{})
		var ne *demo.NotEmptyError
		if !errors.As(err, &ne) || ne.Users != 15 || ne.Organizations != 4 || ne.Clients != 2 {
			t.Fatalf("second load: %v, want a NotEmptyError counting 15 users, 4 organizations, 2 clients", err)
		}
		if after := sizeOf(t, svc); after != before {
			t.Errorf("the refused load changed the instance: %+v -> %+v", before, after)
		}
	})
}

// Any one user, organization or client makes an instance not empty, and
// Load then touches nothing.
func TestLoadRefusesNonEmpty(t *testing.T) {
	ctx := context.Background()
	sys := actor.System(ctx)
	for name, seed := range map[string]func(*server.Services) error{
		"a deleted user": func(svc *server.Services) error {
			u, err := svc.Directory.CreateUser(sys, directory.NewUser{User: directory.User{Email: "real@example.org"}, Roles: []string{"patient"}})
			if err != nil {
				return err
			}
			return svc.Directory.DeleteUser(sys, u.ID)
		},
		"an organization": func(svc *server.Services) error {
			_, err := svc.Directory.CreateOrganization(sys, &directory.Organization{Name: "Real Clinic"})
			return err
		},
		"a client": func(svc *server.Services) error {
			_, _, err := svc.Clients.Create(sys, client.Settings{Name: "Real", GrantTypes: []string{"client_credentials"}, Scope: "system/*.rs"})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
				svc := open(t, dbURL)
				if err := demo.Empty(sys, deps(svc)); err != nil {
					t.Fatalf("a migrated instance is not empty: %v", err)
				}
				if err := seed(svc); err != nil {
					t.Fatal(err)
				}
				before := sizeOf(t, svc)
				_, err := demo.Load(ctx, deps(svc), demo.Options{})
				var ne *demo.NotEmptyError
				if !errors.As(err, &ne) || !strings.Contains(err.Error(), "not empty") {
					t.Fatalf("load = %v, want a NotEmptyError", err)
				}
				if after := sizeOf(t, svc); after != before {
					t.Errorf("the refused load changed the instance: %+v -> %+v", before, after)
				}
			})
		})
	}
}

// A load that fails half way leaves the instance empty: one transaction.
func TestLoadFailureLeavesNothing(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		svc := open(t, dbURL)
		before := sizeOf(t, svc)
		// The organizations are created before any account, whose password
		// this refuses.
		_, err := demo.Load(context.Background(), deps(svc), demo.Options{Password: "short"})
		if err == nil || !strings.Contains(err.Error(), "password") {
			t.Fatalf("load with a bad password = %v, want the password refused", err)
		}
		if after := sizeOf(t, svc); after != before {
			t.Errorf("the failed load left data behind: %+v -> %+v", before, after)
		}
		if err := demo.Empty(actor.System(context.Background()), deps(svc)); err != nil {
			t.Errorf("after a failed load: %v", err)
		}
	})
}

func TestNewPassword(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		pw, err := demo.NewPassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != 19 || strings.Count(pw, "-") != 3 || seen[pw] {
			t.Fatalf("password %q: want 4 groups of 4 and no repeats", pw)
		}
		if err := directory.ValidatePassword(pw, "admin@"+demo.Domain); err != nil {
			t.Fatalf("password %q is refused: %v", pw, err)
		}
		seen[pw] = true
	}
}
