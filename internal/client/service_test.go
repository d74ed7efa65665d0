package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
)

type plainHasher struct{}

func (plainHasher) Hash(pw string) (string, error) { return "plain$" + pw, nil }

var testNow = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// failingAuditor records through the real log unless told to fail, to show
// a change and its audit event commit together.
type failingAuditor struct {
	inner *audit.Log
	fail  bool
}

func (a *failingAuditor) Record(ctx context.Context, c audit.Change) error {
	if a.fail {
		return errors.New("audit store unavailable")
	}
	return a.inner.Record(ctx, c)
}

func (a *failingAuditor) RecordEach(ctx context.Context, es []audit.Entry) error {
	if a.fail {
		return errors.New("audit store unavailable")
	}
	return a.inner.RecordEach(ctx, es)
}

// env is a client service on a real database with a cast of users.
type env struct {
	db      *sqlstore.DB
	svc     *client.Service
	aud     *failingAuditor
	log     *audit.Log
	key     secrets.HMACKey
	admin   int64 // admin
	dev     int64 // application_developer
	dev2    int64 // another application_developer
	staff   int64 // neither
	devGone int64 // an application_developer whose account was deleted
}

func newEnv(t *testing.T, url string) *env {
	t.Helper()
	now := func() time.Time { return testNow }
	db := testutil.NewStore(t, url, sqlstore.WithClock(now))
	log := audit.NewLog(audit.Deps{Store: db, Tx: db}, audit.Config{Version: "test", Now: now})
	dir := directory.NewService(directory.Deps{Store: db, Audit: log, Hasher: plainHasher{}}, directory.Config{Now: now})
	key, err := secrets.DeriveHMACKey(bytes.Repeat([]byte{7}, secrets.MasterKeySize), secrets.PurposeClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	aud := &failingAuditor{inner: log}
	svc, err := client.NewService(client.Deps{Store: db, Tx: db, Roles: dir, Audit: aud}, client.Config{SecretKey: key, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, svc: svc, aud: aud, log: log, key: key}
	sys := actor.System(context.Background())
	mk := func(email string, roles ...string) int64 {
		u, err := dir.CreateUser(sys, directory.NewUser{User: directory.User{Email: email}, Roles: roles})
		if err != nil {
			t.Fatalf("create %s: %v", email, err)
		}
		return u.ID
	}
	e.admin = mk("admin@example.org", directory.RoleAdmin)
	e.dev = mk("dev@example.org", directory.RoleApplicationDeveloper)
	e.dev2 = mk("dev2@example.org", directory.RoleApplicationDeveloper)
	e.staff = mk("staff@example.org", directory.RoleStaff)
	e.devGone = mk("gone@example.org", directory.RoleApplicationDeveloper)
	if err := dir.DeleteUser(sys, e.devGone); err != nil {
		t.Fatal(err)
	}
	return e
}

func as(id int64) context.Context {
	return actor.With(context.Background(), actor.Actor{UserID: id})
}

func settings(name string) client.Settings {
	return client.Settings{
		Name:         name,
		GrantTypes:   []string{client.GrantAuthorizationCode, client.GrantRefreshToken},
		RedirectURIs: []string{"https://app.example.org/cb"},
		Scope:        "openid fhirUser launch/patient patient/*.rs",
	}
}

func wantKind(t *testing.T, err error, k apperr.Kind, what string) {
	t.Helper()
	if !apperr.Is(err, k) {
		t.Fatalf("%s: got %v (%v), want %v", what, apperr.KindOf(err), err, k)
	}
}

func TestCreatePermissions(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t))
	cases := []struct {
		name      string
		ctx       context.Context
		owner     int64
		want      apperr.Kind // Internal means allowed
		wantOwner int64
	}{
		{"system, no owner", actor.System(context.Background()), 0, apperr.Internal, 0},
		{"admin, no owner", as(e.admin), 0, apperr.Internal, 0},
		{"admin names a developer owner", as(e.admin), e.dev, apperr.Internal, e.dev},
		{"admin names a non-developer owner", as(e.admin), e.staff, apperr.Invalid, 0},
		{"admin names an unknown owner", as(e.admin), 99999, apperr.Invalid, 0},
		{"developer owns what they register", as(e.dev), 0, apperr.Internal, e.dev},
		{"developer names themselves", as(e.dev), e.dev, apperr.Internal, e.dev},
		{"developer names another owner", as(e.dev), e.dev2, apperr.Forbidden, 0},
		{"staff may not register", as(e.staff), 0, apperr.Forbidden, 0},
		{"deleted developer", as(e.devGone), 0, apperr.Unauthenticated, 0},
		{"client acting for nobody", actor.With(context.Background(), actor.Actor{ClientID: "x"}), 0, apperr.Forbidden, 0},
		{"anonymous", context.Background(), 0, apperr.Unauthenticated, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := settings(c.name)
			s.OwnerID = c.owner
			cl, _, err := e.svc.Create(c.ctx, s)
			if c.want != apperr.Internal {
				wantKind(t, err, c.want, "create")
				return
			}
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if cl.OwnerID != c.wantOwner {
				t.Fatalf("owner %d, want %d", cl.OwnerID, c.wantOwner)
			}
		})
	}
}

// Each management operation on dev's client: allowed for the owner and
// administrators, refused to everyone else.
func TestManagePermissions(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t))
	cl, _, err := e.svc.Create(as(e.dev), settings("Owned"))
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]func(ctx context.Context) error{
		"get": func(ctx context.Context) error { _, err := e.svc.Get(ctx, cl.ID); return err },
		"update": func(ctx context.Context) error {
			_, _, err := e.svc.Update(ctx, cl.ID, func(s *client.Settings) error { s.Name = "Renamed"; return nil })
			return err
		},
		"disable": func(ctx context.Context) error { _, err := e.svc.Disable(ctx, cl.ID); return err },
		"enable":  func(ctx context.Context) error { _, err := e.svc.Enable(ctx, cl.ID); return err },
		"rotate":  func(ctx context.Context) error { _, _, err := e.svc.RotateSecret(ctx, cl.ID); return err },
	}
	callers := []struct {
		name string
		ctx  context.Context
		want apperr.Kind
	}{
		{"owner", as(e.dev), apperr.Internal},
		{"admin", as(e.admin), apperr.Internal},
		{"system", actor.System(context.Background()), apperr.Internal},
		{"another developer", as(e.dev2), apperr.Forbidden},
		{"staff", as(e.staff), apperr.Forbidden},
		{"anonymous", context.Background(), apperr.Unauthenticated},
	}
	for op, fn := range ops {
		for _, c := range callers {
			t.Run(op+"/"+c.name, func(t *testing.T) {
				err := fn(c.ctx)
				if c.want == apperr.Internal {
					if err != nil {
						t.Fatalf("%s: %v", op, err)
					}
					return
				}
				wantKind(t, err, c.want, op)
			})
		}
	}
	_, err = e.svc.Get(as(e.admin), "no-such-client")
	wantKind(t, err, apperr.NotFound, "get unknown")
	_, err = e.svc.Get(as(e.admin), strings.Repeat("x", 500))
	wantKind(t, err, apperr.NotFound, "get overlong id")
}

func TestOwnerChange(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t))
	cl, _, err := e.svc.Create(as(e.dev), settings("Owned"))
	if err != nil {
		t.Fatal(err)
	}
	to := func(owner int64) func(*client.Settings) error {
		return func(s *client.Settings) error { s.OwnerID = owner; return nil }
	}
	_, _, err = e.svc.Update(as(e.dev), cl.ID, to(e.dev2))
	wantKind(t, err, apperr.Forbidden, "owner gives the client away")
	_, _, err = e.svc.Update(as(e.admin), cl.ID, to(e.staff))
	wantKind(t, err, apperr.Invalid, "admin hands it to a non-developer")
	got, _, err := e.svc.Update(as(e.admin), cl.ID, to(e.dev2))
	if err != nil || got.OwnerID != e.dev2 {
		t.Fatalf("admin hands it to dev2: %v, owner %d", err, got.OwnerID)
	}
	_, err = e.svc.Get(as(e.dev), cl.ID)
	wantKind(t, err, apperr.Forbidden, "former owner")
	if _, err := e.svc.Get(as(e.dev2), cl.ID); err != nil {
		t.Fatalf("new owner: %v", err)
	}
}

func TestList(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t))
	for _, c := range []struct {
		ctx  context.Context
		name string
	}{{as(e.dev), "d1"}, {as(e.dev2), "e1"}, {as(e.dev), "d2"}, {as(e.admin), "a1"}} {
		if _, _, err := e.svc.Create(c.ctx, settings(c.name)); err != nil {
			t.Fatal(err)
		}
	}
	names := func(ctx context.Context, f client.Filter) ([]string, error) {
		cs, _, err := e.svc.List(ctx, f, store.Page{})
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out, err
	}
	cases := []struct {
		name   string
		ctx    context.Context
		filter client.Filter
		want   string
		kind   apperr.Kind
	}{
		{"admin sees all", as(e.admin), client.Filter{}, "ward service accounts d1 e1 d2 a1", apperr.Internal},
		{"admin filters by owner", as(e.admin), client.Filter{OwnerID: e.dev2}, "e1", apperr.Internal},
		{"developer sees their own", as(e.dev), client.Filter{}, "d1 d2", apperr.Internal},
		{"developer asks for their own", as(e.dev), client.Filter{OwnerID: e.dev}, "d1 d2", apperr.Internal},
		{"developer asks for another's", as(e.dev), client.Filter{OwnerID: e.dev2}, "", apperr.Forbidden},
		{"admin narrows to pending", as(e.admin), client.Filter{State: client.StatePending}, "d1 e1 d2", apperr.Internal},
		{"developer narrows by name", as(e.dev), client.Filter{Name: "2"}, "d2", apperr.Internal},
		{"developer's name filter stays theirs", as(e.dev), client.Filter{Name: "e"}, "", apperr.Internal},
		{"unknown state", as(e.admin), client.Filter{State: "gone"}, "", apperr.Invalid},
		{"name too long", as(e.admin), client.Filter{Name: strings.Repeat("n", 201)}, "", apperr.Invalid},
		{"name with NUL", as(e.admin), client.Filter{Name: "a\x00"}, "", apperr.Invalid},
		{"staff may not list", as(e.staff), client.Filter{}, "", apperr.Forbidden},
		{"anonymous", context.Background(), client.Filter{}, "", apperr.Unauthenticated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := names(c.ctx, c.filter)
			if c.kind != apperr.Internal {
				wantKind(t, err, c.kind, "list")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, " ") != c.want {
				t.Fatalf("listed %v, want %s", got, c.want)
			}
		})
	}
}

func TestSecretLifecycle(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t))
	ctx := as(e.dev)
	cl, secret, err := e.svc.Create(ctx, settings("Confidential"))
	if err != nil {
		t.Fatal(err)
	}
	// 32 random bytes in unpadded base64url are 43 characters.
	if len(secret) < 43 {
		t.Fatalf("secret %q is shorter than 256 bits", secret)
	}
	if cl.SecretHash == "" || strings.Contains(cl.SecretHash, secret) || cl.SecretHash != e.key.Sign(secret) {
		t.Fatalf("stored hash %q is not the keyed hash of the secret", cl.SecretHash)
	}
	if cl.SecretIssuedAt == nil || !cl.SecretIssuedAt.Equal(testNow) {
		t.Fatalf("secret issued at %v, want %v", cl.SecretIssuedAt, testNow)
	}
	if _, err := e.svc.Authenticate(context.Background(), cl.ID, secret); err != nil {
		t.Fatalf("authenticate with the issued secret: %v", err)
	}
	// Never shown again: reading the client yields no secret in any field.
	got, err := e.svc.Get(ctx, cl.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%+v", got); strings.Contains(s, secret) {
		t.Fatalf("the secret appears in the stored client: %s", s)
	}

	bad := []struct{ name, id, secret string }{
		{"wrong secret", cl.ID, secret + "x"},
		{"empty secret", cl.ID, ""},
		{"unknown client", "nope", secret},
		{"empty client id", "", secret},
	}
	for _, b := range bad {
		_, err := e.svc.Authenticate(context.Background(), b.id, b.secret)
		wantKind(t, err, apperr.Unauthenticated, b.name)
		if apperr.Message(err) != "invalid client credentials" {
			t.Fatalf("%s: message %q gives away why", b.name, apperr.Message(err))
		}
	}

	_, newSecret, err := e.svc.RotateSecret(ctx, cl.ID)
	if err != nil {
		t.Fatal(err)
	}
	if newSecret == secret || len(newSecret) < 43 {
		t.Fatalf("rotated secret %q", newSecret)
	}
	_, err = e.svc.Authenticate(context.Background(), cl.ID, secret)
	wantKind(t, err, apperr.Unauthenticated, "old secret after rotation")
	if _, err := e.svc.Authenticate(context.Background(), cl.ID, newSecret); err != nil {
		t.Fatalf("new secret after rotation: %v", err)
	}

	// A disabled client cannot authenticate, even with the right secret,
	// and can again once enabled.
	if _, err := e.svc.Disable(ctx, cl.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Authenticate(context.Background(), cl.ID, newSecret)
	wantKind(t, err, apperr.Unauthenticated, "disabled client")
	if c, err := e.svc.Lookup(context.Background(), cl.ID); err != nil || !c.Disabled {
		t.Fatalf("lookup of a disabled client: %v %+v", err, c)
	}
	if _, err := e.svc.Enable(ctx, cl.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(context.Background(), cl.ID, newSecret); err != nil {
		t.Fatalf("re-enabled client: %v", err)
	}
}

func TestClientsWithoutSecrets(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t))
	ctx := as(e.dev)
	pub := settings("Public")
	pub.Public = true
	cl, secret, err := e.svc.Create(ctx, pub)
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" || cl.SecretHash != "" || cl.AuthMethod != client.AuthNone {
		t.Fatalf("public client got secret %q hash %q method %s", secret, cl.SecretHash, cl.AuthMethod)
	}
	_, err = e.svc.Authenticate(context.Background(), cl.ID, "")
	wantKind(t, err, apperr.Unauthenticated, "public client with an empty secret")
	_, _, err = e.svc.RotateSecret(ctx, cl.ID)
	wantKind(t, err, apperr.Invalid, "rotate a public client's secret")

	jwt := settings("Keys")
	jwt.JWKSURI = "https://app.example.org/jwks.json"
	cl, secret, err = e.svc.Create(ctx, jwt)
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" || cl.AuthMethod != client.AuthPrivateKeyJWT {
		t.Fatalf("private_key_jwt client got secret %q, method %s", secret, cl.AuthMethod)
	}
	// Moving it onto a secret method issues a secret, shown once.
	cl, secret, err = e.svc.Update(ctx, cl.ID, func(s *client.Settings) error {
		s.AuthMethod, s.JWKSURI = client.AuthClientSecretPost, ""
		return nil
	})
	if err != nil || secret == "" {
		t.Fatalf("switch to client_secret_post: %v, secret %q", err, secret)
	}
	if _, err := e.svc.Authenticate(context.Background(), cl.ID, secret); err != nil {
		t.Fatalf("authenticate after switching: %v", err)
	}
	// Switching between secret methods keeps the secret; leaving them drops it.
	_, again, err := e.svc.Update(ctx, cl.ID, func(s *client.Settings) error { s.AuthMethod = client.AuthClientSecretBasic; return nil })
	if err != nil || again != "" {
		t.Fatalf("post -> basic: %v, new secret %q", err, again)
	}
	if _, err := e.svc.Authenticate(context.Background(), cl.ID, secret); err != nil {
		t.Fatalf("secret after post -> basic: %v", err)
	}
	cl, _, err = e.svc.Update(ctx, cl.ID, func(s *client.Settings) error {
		s.AuthMethod, s.JWKSURI = client.AuthPrivateKeyJWT, "https://app.example.org/jwks.json"
		return nil
	})
	if err != nil || cl.SecretHash != "" || cl.SecretIssuedAt != nil {
		t.Fatalf("back to private_key_jwt: %v, hash %q", err, cl.SecretHash)
	}
	_, err = e.svc.Authenticate(context.Background(), cl.ID, secret)
	wantKind(t, err, apperr.Unauthenticated, "secret after leaving secret methods")
}

func TestUpdateValidatesAndUnknownIntervention(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t))
	cl, _, err := e.svc.Create(as(e.admin), settings("App"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = e.svc.Update(as(e.admin), cl.ID, func(s *client.Settings) error { s.RedirectURIs = []string{"http://evil.example/cb"}; return nil })
	wantKind(t, err, apperr.Invalid, "update to an http redirect")
	got, err := e.svc.Get(as(e.admin), cl.ID)
	if err != nil || got.RedirectURIs[0] != "https://app.example.org/cb" || got.Version != cl.Version {
		t.Fatalf("a refused update changed the client: %v %+v", err, got)
	}
	s := settings("Linked")
	s.Intervention = "no_such_intervention"
	_, _, err = e.svc.Create(as(e.admin), s)
	wantKind(t, err, apperr.Invalid, "unknown intervention")
	if !strings.Contains(apperr.Message(err), "no_such_intervention") {
		t.Fatalf("message %q does not name the intervention", apperr.Message(err))
	}
}

// A change and its audit event commit together: with the audit write
// failing, nothing is stored.
func TestAuditedAtomically(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t))
	ctx := as(e.dev)
	cl, secret, err := e.svc.Create(ctx, settings("Audited"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Disable(ctx, cl.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.RotateSecret(ctx, cl.ID); err != nil {
		t.Fatal(err)
	}
	evs, _, err := e.log.List(context.Background(), audit.Filter{Context: audit.Intervention}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var comments []string
	for _, ev := range evs {
		if ev.UserID != e.dev || ev.SubjectID != e.dev || !strings.Contains(ev.Comment, cl.ID) {
			t.Fatalf("event %+v does not name actor, owner and client", ev)
		}
		comments = append(comments, ev.Comment)
	}
	if len(comments) != 3 || !strings.Contains(comments[0], "registered") ||
		!strings.Contains(comments[1], "disabled") || !strings.Contains(comments[2], "secret rotated") {
		t.Fatalf("audit comments %q", comments)
	}
	if strings.Contains(strings.Join(comments, "\n"), secret) {
		t.Fatal("the secret appears in the audit trail")
	}

	e.aud.fail = true
	_, _, err = e.svc.Create(ctx, settings("Never"))
	if err == nil {
		t.Fatal("create succeeded without its audit event")
	}
	_, _, err = e.svc.RotateSecret(ctx, cl.ID)
	if err == nil {
		t.Fatal("rotation succeeded without its audit event")
	}
	e.aud.fail = false
	cs, _, err := e.svc.List(ctx, client.Filter{}, store.Page{})
	if err != nil || len(cs) != 1 {
		t.Fatalf("after failed audits: %v, %d clients, want 1", err, len(cs))
	}
	if cs[0].Version != cl.Version+2 {
		t.Fatalf("rolled-back rotation changed the client: version %d", cs[0].Version)
	}
}

// No raw secret is ever written to the database: not in the client row, not
// in the audit trail, not anywhere in the SQLite file or its WAL.
func TestSecretNotStoredInClear(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		ctx := as(e.dev)
		cl, s1, err := e.svc.Create(ctx, settings("Leak check"))
		if err != nil {
			t.Fatal(err)
		}
		_, s2, err := e.svc.RotateSecret(ctx, cl.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = e.svc.Update(ctx, cl.ID, func(s *client.Settings) error { s.Name = "Renamed"; return nil })
		if err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"oauth_clients", "audit_events"} {
			dump := dumpTable(t, e.db, table)
			if !strings.Contains(dump, cl.ID) {
				t.Fatalf("%s does not mention the client at all; the check would prove nothing", table)
			}
			for _, s := range []string{s1, s2} {
				if strings.Contains(dump, s) {
					t.Fatalf("a client secret appears in clear in %s", table)
				}
			}
		}
		if !strings.HasPrefix(url, "sqlite://") {
			return
		}
		path := strings.TrimPrefix(url, "sqlite://")
		var files [][]byte
		for _, p := range []string{path, path + "-wal"} {
			b, err := os.ReadFile(p)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			files = append(files, b)
		}
		all := bytes.Join(files, nil)
		if !bytes.Contains(all, []byte(cl.ID)) {
			t.Fatalf("%s does not hold the client id; the scan would prove nothing", filepath.Base(path))
		}
		for _, s := range []string{s1, s2} {
			if bytes.Contains(all, []byte(s)) {
				t.Fatal("a client secret appears in clear in the SQLite files")
			}
		}
	})
}

// dumpTable renders every row of table as text.
func dumpTable(t *testing.T, db *sqlstore.DB, table string) string {
	t.Helper()
	rows, err := db.Writer().QueryContext(context.Background(), "SELECT * FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			fmt.Fprintf(&b, "%v\t", v)
		}
		b.WriteByte('\n')
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
