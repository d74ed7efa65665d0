package mis_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/oauth2"

	"ward/internal/apperr"
	wconnector "ward/internal/connector"
	"ward/internal/connector/mis"
	"ward/internal/connector/mistest"
	"ward/internal/directory"
	"ward/internal/outbound"
)

const connector = "campdoc"

// tokens is the test's Tokens: the link primed through mistest's
// authorize page and token endpoint with golang.org/x/oauth2, as
// internal/connector does, minus the storage.
type tokens struct {
	cfg      *oauth2.Config
	hc       *http.Client
	mu       sync.Mutex
	tok      *oauth2.Token
	rejected int
	// replace, when set, is what Rejected returns instead of refreshing.
	replace string
	// down, when set, is the error Token returns (a disconnected connector).
	down error
}

func prime(t *testing.T, srv *mistest.Server) *tokens {
	t.Helper()
	cfg := &oauth2.Config{ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(),
		Endpoint:    oauth2.Endpoint{AuthURL: srv.AuthorizeURL(), TokenURL: srv.TokenURL(), AuthStyle: oauth2.AuthStyleInHeader},
		RedirectURL: "https://ward.test/admin/connectors/campdoc/callback", Scopes: []string{"all:write", "sso:generate"}}
	verifier := oauth2.GenerateVerifier()
	loc, err := srv.Login(cfg.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	if loc.Query().Get("state") != "state-1" {
		t.Fatalf("state not returned: %v", loc)
	}
	tk := &tokens{cfg: cfg, hc: srv.Client()}
	tk.tok, err = cfg.Exchange(tk.ctx(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func (tk *tokens) ctx() context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, tk.hc)
}

func (tk *tokens) Token(_ context.Context, name string) (string, error) {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	if tk.down != nil {
		return "", tk.down
	}
	return tk.tok.AccessToken, nil
}

func (tk *tokens) Rejected(_ context.Context, name, token string) (string, error) {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	tk.rejected++
	if tk.replace != "" {
		return tk.replace, nil
	}
	if token != tk.tok.AccessToken {
		return tk.tok.AccessToken, nil
	}
	old := *tk.tok
	old.Expiry = time.Unix(1, 0) // force the refresh
	nt, err := tk.cfg.TokenSource(tk.ctx(), &old).Token()
	if err != nil {
		return "", apperr.Wrap(apperr.Unavailable, err, "connector %q disconnected", name)
	}
	tk.tok = nt
	return nt.AccessToken, nil
}

// rig is one test's MIS, client and instruments.
type rig struct {
	srv     *mistest.Server
	tk      *tokens
	c       *mis.Client
	logs    *bytes.Buffer
	sleeps  []time.Duration
	metrics *mis.Metrics
	reg     *prometheus.Registry
}

func newRig(t *testing.T, edit ...func(*mis.Config)) *rig {
	t.Helper()
	r := &rig{srv: mistest.New(t, mistest.Options{}), logs: &bytes.Buffer{}, reg: prometheus.NewRegistry()}
	r.tk = prime(t, r.srv)
	var err error
	if r.metrics, err = mis.NewMetrics(r.reg); err != nil {
		t.Fatal(err)
	}
	cfg := mis.Config{
		Name: connector, BaseURL: r.srv.BaseURL(), Tokens: r.tk,
		HTTPClient: outbound.New(outbound.Policy{AllowPrivate: true}, outbound.Limits{Timeout: 10 * time.Second, MaxBytes: 4 << 20}).HTTPClient(),
		Logger:     slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics:    r.metrics,
		Sleep: func(_ context.Context, d time.Duration) error {
			r.sleeps = append(r.sleeps, d)
			return nil
		},
	}
	for _, e := range edit {
		e(&cfg)
	}
	if r.c, err = mis.New(cfg); err != nil {
		t.Fatal(err)
	}
	return r
}

// apiCalls counts the requests that reached the organization's API.
func (r *rig) apiCalls() int {
	n := 0
	for _, x := range r.srv.Requests() {
		if strings.HasPrefix(x.Path, mistest.APIPrefix) {
			n++
		}
	}
	return n
}

func wantKind(t *testing.T, err error, k apperr.Kind) {
	t.Helper()
	if err == nil || apperr.KindOf(err) != k {
		t.Fatalf("error %v: want kind %s, got %s", err, k, apperr.KindOf(err))
	}
}

type idmap map[string]string

func (m idmap) ProfileID(_ context.Context, local string) (string, bool, error) {
	id, ok := m[local]
	return id, ok, nil
}

// TestEveryMethod drives each seed function against the test MIS and
// checks the MIS's state afterwards.
func TestEveryMethod(t *testing.T) {
	var ids idmap
	r := newRig(t, func(c *mis.Config) { c.IDMap = &ids })
	ctx := context.Background()
	root := r.srv.AddGroup(mistest.Group{Name: "Discovery"})
	s1 := r.srv.AddGroup(mistest.Group{Name: "Session 1", Identifier: "session-1", ParentID: root.ID})
	abc := r.srv.AddProfile(mistest.Profile{Identifier: "abc", GivenName: "Timmy", FamilyName: "Little"})
	r.srv.AddReview(abc.ID, "Medical", mistest.Review{Status: "Yes", At: time.Date(2014, 7, 15, 13, 55, 33, 0, time.UTC), Provider: "Jane Smith"})
	ids = idmap{"42": itoa(abc.ID)}

	p, err := r.c.GetProfile(ctx, "abc")
	if err != nil || p.ID != itoa(abc.ID) || p.GivenName != "Timmy" || p.Identifier != "abc" {
		t.Fatalf("GetProfile = %+v, %v", p, err)
	}
	_, err = r.c.GetProfile(ctx, "nobody")
	wantKind(t, err, apperr.NotFound)

	// Update: found by identifier, only the given field changes.
	p, err = r.c.CreateOrUpdateProfile(ctx, "abc", mis.ProfileInput{MiddleName: "T"})
	if err != nil || p.ID != itoa(abc.ID) || p.MiddleName != "T" || p.GivenName != "Timmy" {
		t.Fatalf("update = %+v, %v", p, err)
	}
	// Create: not found, created with the identifier.
	p, err = r.c.CreateOrUpdateProfile(ctx, "new-1", mis.ProfileInput{GivenName: "Malcolm", FamilyName: "Reynolds", DOB: "1986-09-20"})
	if err != nil || p.Identifier != "new-1" || p.FamilyName != "Reynolds" || p.ID == "" {
		t.Fatalf("create = %+v, %v", p, err)
	}
	if got := len(r.srv.Profiles()); got != 2 {
		t.Fatalf("MIS holds %d profiles, want 2", got)
	}

	u, err := r.c.CreateUser(ctx, "abc", mis.UserInput{Email: "zoe@example.test", GivenName: "Zoe", FamilyName: "Washburn"})
	if err != nil || u.Email != "zoe@example.test" {
		t.Fatalf("CreateUser = %+v, %v", u, err)
	}
	if us := r.srv.Users(abc.ID); len(us) != 1 || us[0].GivenName != "Zoe" {
		t.Fatalf("MIS users of abc = %+v", us)
	}
	link, err := r.c.SSO(ctx, "zoe@example.test")
	if err != nil || !strings.HasPrefix(link.URL, r.srv.URL()+"/sso/") || link.Expires.IsZero() {
		t.Fatalf("SSO = %+v, %v", link, err)
	}
	_, err = r.c.SSO(ctx, "nobody@example.test")
	wantKind(t, err, apperr.NotFound)

	g, err := r.c.GetGroup(ctx, itoa(s1.ID))
	if err != nil || g.Name != "Session 1" || g.Identifier != "session-1" || g.ParentID != itoa(root.ID) ||
		len(g.Parents) != 2 || g.Parents[1] != itoa(s1.ID) {
		t.Fatalf("GetGroup = %+v, %v", g, err)
	}
	groups, err := mis.Collect(r.c.ListGroups(ctx))
	if err != nil || len(groups) != 2 || groups[0].Name != "Discovery" {
		t.Fatalf("ListGroups = %+v, %v", groups, err)
	}

	// Registration: the type defaults to patient; a local id is converted.
	reg, err := r.c.CreateRegistration(ctx, "user:42", itoa(s1.ID), "")
	if err != nil || reg.Type != "patient" || reg.ProfileID != itoa(abc.ID) || reg.GroupID != itoa(s1.ID) || reg.Deactivated != nil {
		t.Fatalf("CreateRegistration = %+v, %v", reg, err)
	}
	// By the organization's group identifier, as a provider, by MIS id.
	reg2, err := r.c.CreateRegistration(ctx, itoa(abc.ID), "session-1", "provider")
	if err != nil || reg2.Type != "provider" || reg2.GroupID != itoa(s1.ID) {
		t.Fatalf("CreateRegistration by identifier = %+v, %v", reg2, err)
	}
	_, err = r.c.CreateRegistration(ctx, "user:7", itoa(s1.ID), "")
	wantKind(t, err, apperr.NotFound)

	if err := r.c.DeactivateRegistration(ctx, "user:42", reg.ID); err != nil {
		t.Fatal(err)
	}
	regs, err := r.c.GetProfileRegistrations(ctx, itoa(abc.ID))
	if err != nil || len(regs) != 2 || regs[0].ID != reg.ID || regs[0].Deactivated == nil || regs[1].Deactivated != nil {
		t.Fatalf("GetProfileRegistrations = %+v, %v", regs, err)
	}
	if mr := r.srv.Registrations(abc.ID); mr[0].Deactivated == nil {
		t.Fatalf("the MIS's registration is still active: %+v", mr[0])
	}
	err = r.c.DeactivateRegistration(ctx, itoa(abc.ID), "999999")
	wantKind(t, err, apperr.NotFound)

	rv, err := r.c.GetProfileReviews(ctx, itoa(abc.ID))
	if err != nil || rv.Profile.ID != itoa(abc.ID) || rv.Reviews["Medical"].Status != "Yes" ||
		rv.Reviews["Medical"].Provider != "Jane Smith" || rv.Reviews["Medical"].At.Year() != 2014 {
		t.Fatalf("GetProfileReviews = %+v, %v", rv, err)
	}
	if len(r.sleeps) != 0 || r.tk.rejected != 0 {
		t.Fatalf("sleeps %v, rejected %d: nothing should have been retried", r.sleeps, r.tk.rejected)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestLocalIDsNeedAnIDMap: without an IDMap a local id is refused before
// any call.
func TestLocalIDsNeedAnIDMap(t *testing.T) {
	r := newRig(t)
	_, err := r.c.CreateRegistration(context.Background(), "user:42", "1", "")
	wantKind(t, err, apperr.Invalid)
	if r.apiCalls() != 0 {
		t.Fatal("a call was made")
	}
}

// fakeDirectory is directory.Service's UserIdentifiers.
type fakeDirectory map[int64][]directory.Identifier

func (f fakeDirectory) UserIdentifiers(_ context.Context, id int64) ([]directory.Identifier, error) {
	ids, ok := f[id]
	if !ok {
		return nil, apperr.New(apperr.NotFound, "no user %d", id)
	}
	return ids, nil
}

func TestDirectoryIDMap(t *testing.T) {
	sys := mis.ProfileSystem(connector)
	m := mis.DirectoryIDMap{System: sys, Users: fakeDirectory{
		1: {{System: "urn:mrn", Value: "M-1"}, {System: sys, Value: "54321"}},
		2: {{System: "urn:mrn", Value: "M-2"}},
	}}
	ctx := context.Background()
	for _, tc := range []struct {
		local, want string
		ok          bool
		kind        *apperr.Kind
	}{
		{local: "1", want: "54321", ok: true},
		{local: "2"},
		{local: "3"},
		{local: "x", kind: new(apperr.Invalid)},
	} {
		got, ok, err := m.ProfileID(ctx, tc.local)
		if tc.kind != nil {
			wantKind(t, err, *tc.kind)
			continue
		}
		if err != nil || ok != tc.ok || got != tc.want {
			t.Errorf("ProfileID(%q) = %q, %v, %v; want %q, %v", tc.local, got, ok, err, tc.want, tc.ok)
		}
	}
	if sys != "urn:ward:connector:campdoc:profile" || sys != wconnector.DefaultProfileSystem(connector) {
		t.Errorf("ProfileSystem = %q, connector.DefaultProfileSystem = %q", sys, wconnector.DefaultProfileSystem(connector))
	}
}

// TestListProfilesFollowsPages: every profile comes back, one page at a
// time, to the MIS's last page; breaking out stops the listing.
func TestListProfilesFollowsPages(t *testing.T) {
	r := newRig(t, func(c *mis.Config) { c.Adapter = mis.CampDoc{PageSize: 10} })
	want := map[string]bool{}
	for i := range 25 {
		p := r.srv.AddProfile(mistest.Profile{GivenName: "P", FamilyName: itoa(i)})
		want[itoa(p.ID)] = true
	}
	ctx := context.Background()
	n := 0
	for p, err := range r.c.ListProfiles(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if !want[p.ID] {
			t.Fatalf("unexpected or repeated profile %s", p.ID)
		}
		delete(want, p.ID)
		n++
	}
	if n != 25 || len(want) != 0 || r.apiCalls() != 3 {
		t.Fatalf("listed %d, missed %v, in %d requests; want 25 in 3 pages", n, want, r.apiCalls())
	}
	before := r.apiCalls()
	for range r.c.ListProfiles(ctx) {
		break
	}
	if got := r.apiCalls() - before; got != 1 {
		t.Fatalf("breaking out after the first profile fetched %d pages, want 1", got)
	}
	// A page boundary exactly at the end: 30 profiles, pages of 10 → a
	// fourth, empty page ends it.
	for range 5 {
		r.srv.AddProfile(mistest.Profile{GivenName: "Q", FamilyName: "Q"})
	}
	all, err := mis.Collect(r.c.ListProfiles(ctx))
	if err != nil || len(all) != 30 {
		t.Fatalf("Collect = %d, %v", len(all), err)
	}
}

// TestListStopsAtTheFirstError: a page that fails ends the listing with
// its error.
func TestListStopsAtTheFirstError(t *testing.T) {
	r := newRig(t, func(c *mis.Config) { c.Adapter = mis.CampDoc{PageSize: 2} })
	for range 5 {
		r.srv.AddProfile(mistest.Profile{GivenName: "P", FamilyName: "P"})
	}
	r.srv.Inject(mistest.Fault{Method: http.MethodGet, Path: "/profiles", Status: http.StatusBadRequest})
	got, err := mis.Collect(r.c.ListProfiles(context.Background()))
	wantKind(t, err, apperr.Invalid)
	if len(got) != 0 {
		t.Fatalf("got %d profiles before the error", len(got))
	}
}

func TestCreateOrUpdateProfileFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("not found and creation refused", func(t *testing.T) {
		r := newRig(t)
		r.srv.Inject(mistest.Fault{Method: http.MethodPost, Path: "/profiles", Status: http.StatusUnprocessableEntity})
		_, err := r.c.CreateOrUpdateProfile(ctx, "x-1", mis.ProfileInput{GivenName: "A", FamilyName: "B"})
		var ue *mis.UpsertError
		if !errors.As(err, &ue) || !apperr.Is(ue.Update, apperr.NotFound) || !apperr.Is(ue.Create, apperr.Invalid) {
			t.Fatalf("err = %v; want an UpsertError with both reasons", err)
		}
		wantKind(t, err, apperr.Invalid) // the creation's kind
		var se *mis.StatusError
		if !errors.As(ue.Create, &se) || se.Status != http.StatusUnprocessableEntity || se.Route != "/profiles" {
			t.Fatalf("create reason %v; want the MIS's 422", ue.Create)
		}
		for _, s := range []string{"update:", "404", "create:", "422"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not say %q", err, s)
			}
		}
	})
	t.Run("not found and names missing", func(t *testing.T) {
		r := newRig(t)
		_, err := r.c.CreateOrUpdateProfile(ctx, "x-1", mis.ProfileInput{DOB: "2010-01-01"})
		var ue *mis.UpsertError
		if !errors.As(err, &ue) || !apperr.Is(ue.Create, apperr.Invalid) ||
			!strings.Contains(ue.Create.Error(), "givenName, familyName") {
			t.Fatalf("err = %v; want the missing names named", err)
		}
		for _, x := range r.srv.Requests() {
			if x.Method == http.MethodPost && strings.HasPrefix(x.Path, mistest.APIPrefix) {
				t.Fatal("a profile creation was sent without its required names")
			}
		}
	})
	t.Run("found and update refused: no creation", func(t *testing.T) {
		r := newRig(t)
		r.srv.AddProfile(mistest.Profile{Identifier: "x-1", GivenName: "A", FamilyName: "B"})
		r.srv.Inject(mistest.Fault{Method: http.MethodPut, Status: http.StatusBadRequest})
		_, err := r.c.CreateOrUpdateProfile(ctx, "x-1", mis.ProfileInput{GivenName: "C"})
		var ue *mis.UpsertError
		if !errors.As(err, &ue) || !apperr.Is(ue.Update, apperr.Invalid) || ue.Create != nil {
			t.Fatalf("err = %v; want the update's reason and no creation", err)
		}
		if !strings.Contains(err.Error(), "create: not attempted") || len(r.srv.Profiles()) != 1 {
			t.Fatalf("err %q, %d profiles", err, len(r.srv.Profiles()))
		}
	})
	t.Run("lookup unavailable: no creation", func(t *testing.T) {
		r := newRig(t, func(c *mis.Config) { c.MaxAttempts = 2 })
		r.srv.Inject(mistest.Fault{Method: http.MethodGet, Status: http.StatusBadGateway, Count: 2})
		_, err := r.c.CreateOrUpdateProfile(ctx, "x-1", mis.ProfileInput{GivenName: "A", FamilyName: "B"})
		var ue *mis.UpsertError
		if !errors.As(err, &ue) || ue.Create != nil || len(r.srv.Profiles()) != 0 {
			t.Fatalf("err = %v; want no creation while the MIS cannot say", err)
		}
		wantKind(t, err, apperr.Unavailable)
	})
	t.Run("identifier required", func(t *testing.T) {
		r := newRig(t)
		_, err := r.c.CreateOrUpdateProfile(ctx, " ", mis.ProfileInput{GivenName: "A", FamilyName: "B"})
		wantKind(t, err, apperr.Invalid)
	})
}

// TestCreateUserNamesTheMissingField: each required field, left out, is
// named, and nothing is sent.
func TestCreateUserNamesTheMissingField(t *testing.T) {
	r := newRig(t)
	full := mis.UserInput{Email: "a@example.test", GivenName: "A", FamilyName: "B"}
	for field, edit := range map[string]func(*mis.UserInput){
		"email":      func(u *mis.UserInput) { u.Email = "" },
		"givenName":  func(u *mis.UserInput) { u.GivenName = "" },
		"familyName": func(u *mis.UserInput) { u.FamilyName = " " },
	} {
		in := full
		edit(&in)
		_, err := r.c.CreateUser(context.Background(), "abc", in)
		wantKind(t, err, apperr.Invalid)
		if !strings.Contains(apperr.Message(err), field) {
			t.Errorf("missing %s: error %q does not name it", field, apperr.Message(err))
		}
	}
	if r.apiCalls() != 0 {
		t.Fatalf("%d calls made", r.apiCalls())
	}
}

// TestBadTextRefusedBeforeAnyCall: NUL, control characters and invalid
// UTF-8 in any argument are an Invalid error naming it, and nothing is
// sent.
func TestBadTextRefusedBeforeAnyCall(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	for _, bad := range []string{"a\x00b", "a\nb", "a\xffb"} {
		for name, call := range map[string]func() error{
			"identifier": func() error { _, err := r.c.GetProfile(ctx, bad); return err },
			"middleName": func() error {
				_, err := r.c.CreateOrUpdateProfile(ctx, "abc", mis.ProfileInput{MiddleName: bad})
				return err
			},
			"email": func() error { _, err := r.c.SSO(ctx, bad+"@x.test"); return err },
			"phone": func() error {
				_, err := r.c.CreateUser(ctx, "abc", mis.UserInput{Email: "a@x.test", GivenName: "A", FamilyName: "B", Phone: bad})
				return err
			},
			"group id":        func() error { _, err := r.c.CreateRegistration(ctx, "1", bad, ""); return err },
			"type":            func() error { _, err := r.c.CreateRegistration(ctx, "1", "2", bad); return err },
			"registration id": func() error { return r.c.DeactivateRegistration(ctx, "1", bad) },
		} {
			err := call()
			wantKind(t, err, apperr.Invalid)
			if !strings.Contains(apperr.Message(err), name) {
				t.Errorf("%q in %s: %q does not name it", bad, name, apperr.Message(err))
			}
		}
	}
	if r.apiCalls() != 0 {
		t.Fatalf("%d calls made", r.apiCalls())
	}
}

// TestExpiredTokenRefreshedOnce: a 401 makes one refresh and one retry.
func TestExpiredTokenRefreshedOnce(t *testing.T) {
	r := newRig(t)
	r.srv.AddProfile(mistest.Profile{Identifier: "abc", GivenName: "A", FamilyName: "B"})
	old, _ := r.tk.Token(context.Background(), connector)
	r.srv.Advance(2 * mistest.DefaultAccessTTL)
	if _, err := r.c.GetProfile(context.Background(), "abc"); err != nil {
		t.Fatal(err)
	}
	now, _ := r.tk.Token(context.Background(), connector)
	if r.tk.rejected != 1 || now == old {
		t.Fatalf("rejected %d times, token changed %v; want one refresh", r.tk.rejected, now != old)
	}
	var statuses []int
	for _, x := range r.srv.Requests() {
		if strings.HasPrefix(x.Path, mistest.APIPrefix) {
			statuses = append(statuses, x.Status)
		}
	}
	if len(statuses) != 2 || statuses[0] != http.StatusUnauthorized || statuses[1] != http.StatusOK {
		t.Fatalf("API statuses %v; want [401 200]", statuses)
	}
	if len(r.sleeps) != 0 {
		t.Fatalf("waited %v before the retry after a refresh", r.sleeps)
	}
}

// TestSecond401IsAnError: the refreshed token refused too ends the call:
// one refresh, two requests, no loop.
func TestSecond401IsAnError(t *testing.T) {
	r := newRig(t)
	r.tk.replace = "not-a-token"
	r.srv.Advance(2 * mistest.DefaultAccessTTL)
	_, err := r.c.GetGroup(context.Background(), "1")
	wantKind(t, err, apperr.Unavailable)
	var se *mis.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusUnauthorized {
		t.Fatalf("err = %v; want the MIS's 401", err)
	}
	if r.tk.rejected != 1 || r.apiCalls() != 2 {
		t.Fatalf("rejected %d, %d calls; want 1 and 2", r.tk.rejected, r.apiCalls())
	}
}

// TestRevokedGrant: the refresh after the 401 fails; its error is the
// call's, at once.
func TestRevokedGrant(t *testing.T) {
	r := newRig(t)
	r.srv.RevokeGrants()
	_, err := r.c.GetGroup(context.Background(), "1")
	wantKind(t, err, apperr.Unavailable)
	if !strings.Contains(err.Error(), "invalid_grant") || r.tk.rejected != 1 || r.apiCalls() != 1 {
		t.Fatalf("err %v, rejected %d, %d calls", err, r.tk.rejected, r.apiCalls())
	}
}

// TestDisconnectedFailsAtOnce: the connector's Token error is the call's,
// with no request made and nothing retried.
func TestDisconnectedFailsAtOnce(t *testing.T) {
	r := newRig(t)
	down := apperr.New(apperr.Unavailable, "connector %q is disconnected", connector)
	r.tk.down = down
	_, err := r.c.GetGroup(context.Background(), "1")
	if !errors.Is(err, down) {
		t.Fatalf("err = %v; want the connector's", err)
	}
	if r.apiCalls() != 0 || len(r.sleeps) != 0 {
		t.Fatalf("%d calls, sleeps %v", r.apiCalls(), r.sleeps)
	}
}

// TestRetryAfterHonoured: 429 waits what Retry-After says (seconds or an
// HTTP date), then succeeds; a wait beyond the cap ends the call at once.
func TestRetryAfterHonoured(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name, header string
		want         time.Duration
	}{
		{"seconds", "7", 7 * time.Second},
		{"http date", now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{"date in the past", now.Add(-time.Hour).Format(http.TimeFormat), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, func(c *mis.Config) { c.Now = func() time.Time { return now } })
			g := r.srv.AddGroup(mistest.Group{Name: "G"})
			r.srv.Inject(mistest.Fault{Status: http.StatusTooManyRequests, RetryAfter: tc.header})
			if _, err := r.c.GetGroup(context.Background(), itoa(g.ID)); err != nil {
				t.Fatal(err)
			}
			if len(r.sleeps) != 1 || r.sleeps[0] != tc.want || r.apiCalls() != 2 {
				t.Fatalf("sleeps %v, %d calls; want [%s], 2", r.sleeps, r.apiCalls(), tc.want)
			}
		})
	}
	t.Run("beyond the cap", func(t *testing.T) {
		r := newRig(t, func(c *mis.Config) { c.MaxRetryAfter = time.Minute })
		r.srv.Inject(mistest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "3600"})
		_, err := r.c.GetGroup(context.Background(), "1")
		wantKind(t, err, apperr.RateLimited)
		if len(r.sleeps) != 0 || r.apiCalls() != 1 {
			t.Fatalf("sleeps %v, %d calls; want none and 1", r.sleeps, r.apiCalls())
		}
	})
}

// Test5xxBurst: a burst shorter than the attempt budget is ridden out
// with backoff; a longer one ends in an error after exactly MaxAttempts.
func Test5xxBurst(t *testing.T) {
	r := newRig(t, func(c *mis.Config) { c.MaxAttempts = 4; c.BaseDelay = time.Second; c.MaxDelay = 8 * time.Second })
	g := r.srv.AddGroup(mistest.Group{Name: "G"})
	r.srv.Inject(mistest.Fault{Status: http.StatusServiceUnavailable, Count: 3})
	if _, err := r.c.GetGroup(context.Background(), itoa(g.ID)); err != nil {
		t.Fatal(err)
	}
	if len(r.sleeps) != 3 || r.apiCalls() != 4 {
		t.Fatalf("sleeps %v, %d calls; want 3 and 4", r.sleeps, r.apiCalls())
	}
	for i, d := range r.sleeps {
		if hi := time.Second << i; d < hi/2 || d > hi {
			t.Errorf("wait %d is %s, outside the backoff window [%s, %s]", i, d, hi/2, hi)
		}
	}

	r.sleeps = nil
	before := r.apiCalls()
	r.srv.Inject(mistest.Fault{Status: http.StatusInternalServerError, Count: 10})
	_, err := r.c.GetGroup(context.Background(), itoa(g.ID))
	wantKind(t, err, apperr.Unavailable)
	if got := r.apiCalls() - before; got != 4 || len(r.sleeps) != 3 {
		t.Fatalf("%d calls, sleeps %v; want 4 and 3", got, r.sleeps)
	}
}

// TestNoRetryOnOther4xx: 400 and 404 are answers, not hiccups.
func TestNoRetryOnOther4xx(t *testing.T) {
	r := newRig(t)
	r.srv.Inject(mistest.Fault{Status: http.StatusBadRequest})
	_, err := r.c.GetGroup(context.Background(), "1")
	wantKind(t, err, apperr.Invalid)
	_, err = r.c.GetGroup(context.Background(), "424242")
	wantKind(t, err, apperr.NotFound)
	r.srv.Inject(mistest.Fault{Status: http.StatusForbidden})
	_, err = r.c.GetGroup(context.Background(), "1")
	wantKind(t, err, apperr.Forbidden)
	if r.apiCalls() != 3 || len(r.sleeps) != 0 || r.tk.rejected != 0 {
		t.Fatalf("%d calls, sleeps %v, rejected %d; want 3 calls and no retry", r.apiCalls(), r.sleeps, r.tk.rejected)
	}
}

// TestTimeoutPerAttempt: an attempt the MIS never answers ends at the
// timeout and is retried.
func TestTimeoutPerAttempt(t *testing.T) {
	r := newRig(t, func(c *mis.Config) { c.Timeout = 50 * time.Millisecond })
	g := r.srv.AddGroup(mistest.Group{Name: "G"})
	r.srv.Inject(mistest.Fault{Hang: true})
	if _, err := r.c.GetGroup(context.Background(), itoa(g.ID)); err != nil {
		t.Fatal(err)
	}
	if len(r.sleeps) != 1 {
		t.Fatalf("sleeps %v; want one backoff after the timed-out attempt", r.sleeps)
	}
	if !strings.Contains(r.logs.String(), "deadline exceeded") {
		t.Errorf("the timeout is not logged: %s", r.logs)
	}
}

// TestOutboundRefusalsAreNotRetried: the address guard (private
// addresses refused) and the body cap fail once, not MaxAttempts times.
func TestOutboundRefusalsAreNotRetried(t *testing.T) {
	r := newRig(t, func(c *mis.Config) {
		c.HTTPClient = outbound.New(outbound.Policy{}, outbound.Limits{}).HTTPClient()
	})
	_, err := r.c.GetGroup(context.Background(), "1")
	wantKind(t, err, apperr.Unavailable)
	if !errors.Is(err, outbound.ErrScheme) || len(r.sleeps) != 0 {
		t.Fatalf("err %v, sleeps %v; want outbound's refusal, not retried", err, r.sleeps)
	}

	r = newRig(t, func(c *mis.Config) {
		c.HTTPClient = outbound.New(outbound.Policy{AllowPrivate: true}, outbound.Limits{MaxBytes: 64}).HTTPClient()
	})
	for range 5 {
		r.srv.AddGroup(mistest.Group{Name: "a group with a long enough name"})
	}
	_, err = mis.Collect(r.c.ListGroups(context.Background()))
	if !errors.Is(err, outbound.ErrTooLarge) || len(r.sleeps) != 0 || r.apiCalls() != 1 {
		t.Fatalf("err %v, sleeps %v, %d calls; want the cap, once", err, r.sleeps, r.apiCalls())
	}
}

// TestCanceledWhileWaiting: a caller gone during the backoff ends the call.
func TestCanceledWhileWaiting(t *testing.T) {
	r := newRig(t, func(c *mis.Config) {
		c.Sleep = func(ctx context.Context, _ time.Duration) error { return context.Canceled }
	})
	r.srv.Inject(mistest.Fault{Status: http.StatusServiceUnavailable, Count: 5})
	_, err := r.c.GetGroup(context.Background(), "1")
	if !errors.Is(err, context.Canceled) || r.apiCalls() != 1 {
		t.Fatalf("err %v after %d calls", err, r.apiCalls())
	}
}

// TestMetricsCounted: each call counts once, by operation and outcome.
func TestMetricsCounted(t *testing.T) {
	r := newRig(t)
	g := r.srv.AddGroup(mistest.Group{Name: "G"})
	ctx := context.Background()
	r.srv.Inject(mistest.Fault{Status: http.StatusServiceUnavailable}) // retried: still one call
	for range 2 {
		if _, err := r.c.GetGroup(ctx, itoa(g.ID)); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = r.c.GetGroup(ctx, "424242")
	for outcome, want := range map[string]float64{"ok": 2, "not_found": 1, "unavailable": 0} {
		if got := counterValue(t, r.metrics.Calls(connector, mis.OpGetGroup, outcome)); got != want {
			t.Errorf("calls{outcome=%s} = %v, want %v", outcome, got, want)
		}
	}
	families, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	observed := uint64(0)
	for _, f := range families {
		if f.GetName() == "ward_connector_call_duration_seconds" {
			for _, m := range f.GetMetric() {
				observed += m.GetHistogram().GetSampleCount()
			}
		}
	}
	if observed != 3 {
		t.Errorf("latency observations = %d; want 3", observed)
	}
	if _, err := mis.NewMetrics(r.reg); err == nil {
		t.Error("registering the metrics twice succeeded; one set serves every connector")
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestLogsCarryNoSecretOrPHI: every token and secret the MIS issued, and
// the identifiers and email addresses used, are absent from the logs,
// which name the route, status and attempt instead.
func TestLogsCarryNoSecretOrPHI(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.srv.AddProfile(mistest.Profile{Identifier: "phi-identifier-77", GivenName: "Secretname", FamilyName: "Hidden"})
	if _, err := r.c.CreateUser(ctx, "phi-identifier-77", mis.UserInput{Email: "phi.person@example.test", GivenName: "Secretname", FamilyName: "Hidden"}); err != nil {
		t.Fatal(err)
	}
	r.srv.Advance(2 * mistest.DefaultAccessTTL) // a 401 and a refresh
	if _, err := r.c.SSO(ctx, "phi.person@example.test"); err != nil {
		t.Fatal(err)
	}
	r.srv.Inject(mistest.Fault{Status: http.StatusBadGateway})
	if _, err := r.c.CreateOrUpdateProfile(ctx, "phi-identifier-77", mis.ProfileInput{DOB: "2001-02-03"}); err != nil {
		t.Fatal(err)
	}
	logs := r.logs.String()
	issued := r.srv.Issued()
	if len(issued) < 6 {
		t.Fatalf("the MIS issued only %d secrets", len(issued))
	}
	for _, s := range append(issued, "phi-identifier-77", "phi.person@example.test", "phi.person%40example.test", "Secretname", "2001-02-03") {
		if strings.Contains(logs, s) {
			t.Errorf("the logs contain %q", s)
		}
	}
	var routes []string
	for line := range strings.Lines(logs) {
		var rec struct {
			Route, Method string
			Status        int
			Attempt       int
			Latency       *int64 `json:"latency_ms"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Attempt == 0 || rec.Latency == nil || rec.Method == "" {
			t.Errorf("log line lacks attempt, latency or method: %s", line)
		}
		routes = append(routes, rec.Route)
	}
	if !strings.Contains(strings.Join(routes, " "), "/sso/{email}") {
		t.Errorf("routes logged: %v", routes)
	}
}

// TestNewRefusesIncompleteConfig lists every missing field at once.
func TestNewRefusesIncompleteConfig(t *testing.T) {
	_, err := mis.New(mis.Config{BaseURL: "ftp://x"})
	wantKind(t, err, apperr.Invalid)
	for _, s := range []string{"name", "base URL", "token", "HTTP client"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %s", err, s)
		}
	}
}
