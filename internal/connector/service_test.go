package connector_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/connector"
	"ward/internal/connector/tokenclient"
	"ward/internal/directory"
	"ward/internal/intervention"
	"ward/internal/mail"
	"ward/internal/outbound"
	"ward/internal/secrets"
	"ward/internal/sqlstore"
	"ward/internal/store"
	"ward/internal/testutil"
)

const (
	clientID     = "ward-at-mis"
	clientSecret = "client-secret-8f1d2c"
	adminID      = 1
	staffID      = 2
)

// fakeMIS is the token endpoint of a test MIS: it checks the client and
// PKCE, issues access and refresh tokens, rotates the refresh token on
// every refresh and refuses one used twice (invalid_grant), as a strict
// authorization server does.
type fakeMIS struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	n         int
	codes     map[string]string // code -> PKCE challenge
	live      map[string]bool   // refresh tokens not yet spent
	spends    int               // refresh tokens spent
	reuse     int               // refresh tokens offered a second time
	calls     int
	issued    []string // every secret value the fake issued
	revoked   bool     // refuse every refresh (a revoked grant)
	unhealthy bool     // answer 503
	expiresIn int64
}

func newFakeMIS(t *testing.T) *fakeMIS {
	f := &fakeMIS{t: t, codes: map[string]string{}, live: map[string]bool{}, expiresIn: 3600,
		issued: []string{clientSecret}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.token))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeMIS) newCode(challenge string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	code := fmt.Sprintf("code-%d-%x", f.n, sha256.Sum256([]byte(challenge)))[:24]
	f.codes[code] = challenge
	f.issued = append(f.issued, code)
	return code
}

func (f *fakeMIS) secrets() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.issued...)
}

func (f *fakeMIS) token(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	fail := func(status int, code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
	}
	if f.unhealthy {
		fail(http.StatusServiceUnavailable, "temporarily_unavailable")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok || id != clientID || secret != clientSecret {
		fail(http.StatusUnauthorized, "invalid_client")
		return
	}
	if err := r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, "invalid_request")
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		challenge, ok := f.codes[r.PostForm.Get("code")]
		delete(f.codes, r.PostForm.Get("code"))
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
			fail(http.StatusBadRequest, "invalid_grant")
			return
		}
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		if f.revoked {
			fail(http.StatusBadRequest, "invalid_grant")
			return
		}
		if !f.live[rt] {
			f.reuse++
			fail(http.StatusBadRequest, "invalid_grant")
			return
		}
		delete(f.live, rt)
		f.spends++
	default:
		fail(http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	f.n++
	at, rt := fmt.Sprintf("access-%d-9c1b77e2", f.n), fmt.Sprintf("refresh-%d-5ad3e901", f.n)
	f.live[rt] = true
	f.issued = append(f.issued, at, rt)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": at, "refresh_token": rt,
		"token_type": "Bearer", "expires_in": f.expiresIn})
}

// clock is a settable clock shared by replicas.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type roles map[int64][]string

func (r roles) UserRoles(_ context.Context, id int64) ([]string, error) {
	if rs, ok := r[id]; ok {
		return rs, nil
	}
	return nil, apperr.New(apperr.NotFound, "no user %d", id)
}

// env is one database with a fake MIS, and replicas of ward on it.
type env struct {
	t     *testing.T
	url   string
	mis   *fakeMIS
	clk   *clock
	ks    *secrets.Keyset
	log   *bytes.Buffer
	first *sqlstore.DB
}

type replica struct {
	db  *sqlstore.DB
	svc *connector.Service
}

func newEnv(t *testing.T, url string) *env {
	ks, err := secrets.NewKeyset()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, url: url, mis: newFakeMIS(t), clk: &clock{now: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)},
		ks: ks, log: &bytes.Buffer{}}
	return e
}

func (e *env) replica() replica {
	db := testutil.NewStore(e.t, e.url)
	if e.first == nil {
		e.first = db
	}
	aud := audit.NewLog(audit.Deps{Store: db, Tx: db}, audit.Config{Version: "test"})
	// No transport: alerts are stored not_sent, as on a server without SMTP.
	outbox, err := mail.NewOutbox(db, nil, mail.OutboxConfig{Now: e.clk.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		e.t.Fatal(err)
	}
	svc, err := connector.NewService(connector.Deps{Store: db, Tx: db, Alerts: connector.Alerts{Admins: db, Outbox: outbox},
		Directory: roles{adminID: {directory.RoleAdmin}, staffID: {"staff"}}, Audit: aud, Keyset: e.ks,
		Tokens: tokenclient.New(outbound.New(outbound.Policy{AllowPrivate: true}, outbound.Limits{}))},
		connector.Config{AllowPrivate: true, Now: e.clk.Now, Poll: time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(syncWriter{e}, nil))})
	if err != nil {
		e.t.Fatal(err)
	}
	return replica{db: db, svc: svc}
}

var logMu sync.Mutex

type syncWriter struct{ e *env }

func (w syncWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return w.e.log.Write(p)
}

func admin() context.Context {
	return actor.With(context.Background(), actor.Actor{UserID: adminID})
}

func settings(mis *fakeMIS) connector.Settings {
	return connector.Settings{Name: "campdoc", BaseURL: mis.srv.URL + "/api/v2", AuthorizeURL: mis.srv.URL + "/oauth/authorize?x=1",
		TokenURL: mis.srv.URL + "/oauth/token", ClientID: clientID, ClientSecret: clientSecret,
		RedirectURI: "https://ward.example.org/admin/connectors/campdoc/callback", Scopes: []string{"profiles", "groups"}}
}

// prime creates the connector and completes an administrator's login.
func (e *env) prime(r replica) {
	e.t.Helper()
	ctx := admin()
	if _, err := r.svc.Create(ctx, settings(e.mis)); err != nil {
		e.t.Fatalf("create: %v", err)
	}
	u := e.begin(r, "session-1")
	if _, err := r.svc.CompleteConnect(ctx, "campdoc", "session-1", u.Get("state"), e.mis.newCode(u.Get("code_challenge"))); err != nil {
		e.t.Fatalf("complete connect: %v", err)
	}
}

func (e *env) begin(r replica, session string) url.Values {
	e.t.Helper()
	raw, err := r.svc.BeginConnect(admin(), "campdoc", session)
	if err != nil {
		e.t.Fatalf("begin connect: %v", err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.Query()
}

func (e *env) events(t audit.EventType) int {
	evs, _, err := e.first.ListAudit(context.Background(), audit.Filter{Type: t}, store.Page{Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(evs)
}

func TestPrimeAndRefresh(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		r := e.replica()
		ctx := admin()
		if _, err := r.svc.Create(ctx, settings(e.mis)); err != nil {
			t.Fatal(err)
		}
		if _, err := r.svc.Token(context.Background(), "campdoc"); !errors.Is(err, connector.ErrDisconnected) || !apperr.Is(err, apperr.Unavailable) {
			t.Fatalf("Token of an unprimed connector: %v, want Unavailable ErrDisconnected", err)
		}

		q := e.begin(r, "session-1")
		for k, want := range map[string]string{"client_id": clientID, "response_type": "code", "x": "1",
			"redirect_uri": "https://ward.example.org/admin/connectors/campdoc/callback", "scope": "profiles groups",
			"code_challenge_method": "S256"} {
			if q.Get(k) != want {
				t.Errorf("authorize URL %s = %q, want %q", k, q.Get(k), want)
			}
		}
		if len(q.Get("state")) < 40 || len(q.Get("code_challenge")) != 43 {
			t.Fatalf("authorize URL state %q challenge %q", q.Get("state"), q.Get("code_challenge"))
		}
		code := e.mis.newCode(q.Get("code_challenge"))
		// Another session cannot use this state, and that spends it.
		if _, err := r.svc.CompleteConnect(ctx, "campdoc", "session-2", q.Get("state"), code); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("callback from another session: %v, want Invalid", err)
		}
		if _, err := r.svc.CompleteConnect(ctx, "campdoc", "session-1", q.Get("state"), code); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("callback with a state already spent: %v, want Invalid", err)
		}
		q = e.begin(r, "session-1")
		c, err := r.svc.CompleteConnect(ctx, "campdoc", "session-1", q.Get("state"), e.mis.newCode(q.Get("code_challenge")))
		if err != nil {
			t.Fatalf("complete connect: %v", err)
		}
		if c.Status != connector.StatusConnected || !c.Expiry.Equal(e.clk.Now().Add(time.Hour)) {
			t.Fatalf("after priming: status %s expiry %v", c.Status, c.Expiry)
		}
		if _, err := r.svc.CompleteConnect(ctx, "campdoc", "session-1", q.Get("state"), "code-x"); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("replayed callback: %v, want Invalid", err)
		}

		tok, err := r.svc.Token(context.Background(), "campdoc")
		if err != nil || !strings.HasPrefix(tok, "access-") {
			t.Fatalf("Token: %q, %v", tok, err)
		}
		again, _ := r.svc.Token(context.Background(), "campdoc")
		if again != tok || e.mis.spends != 0 {
			t.Fatalf("a fresh token was refreshed: %q then %q, %d spends", tok, again, e.mis.spends)
		}
		// Across days of simulated time, the token refreshes itself.
		for day := range 3 {
			e.clk.Add(50 * time.Minute) // within a fifth of the hour's lifetime
			next, err := r.svc.Token(context.Background(), "campdoc")
			if err != nil || next == tok {
				t.Fatalf("day %d: Token after 50 minutes: %q (was %q), %v", day, next, tok, err)
			}
			tok = next
			e.clk.Add(24 * time.Hour)
			if err := r.svc.Refresh(context.Background(), "campdoc"); err != nil {
				t.Fatalf("day %d: Refresh: %v", day, err)
			}
			tok, _ = r.svc.Token(context.Background(), "campdoc")
		}
		// A 401 to the current token refreshes once; to an old one, not.
		n := e.mis.spends
		fresh, err := r.svc.Rejected(context.Background(), "campdoc", tok)
		if err != nil || fresh == tok || e.mis.spends != n+1 {
			t.Fatalf("Rejected(current): %q, %v, %d spends (was %d)", fresh, err, e.mis.spends, n)
		}
		cur, err := r.svc.Rejected(context.Background(), "campdoc", tok)
		if err != nil || cur != fresh || e.mis.spends != n+1 {
			t.Fatalf("Rejected(old): %q, %v, %d spends", cur, err, e.mis.spends)
		}
		base, system, err := r.svc.Endpoint(context.Background(), "campdoc")
		if err != nil || base != e.mis.srv.URL+"/api/v2" || system != connector.DefaultProfileSystem("campdoc") {
			t.Fatalf("Endpoint: %q, %q, %v", base, system, err)
		}
		for ty, want := range map[audit.EventType]int{audit.ConnectorCreated: 1, audit.ConnectorPrimed: 1,
			audit.ConnectorRefreshed: e.mis.spends} {
			if got := e.events(ty); got != want {
				t.Errorf("%s events: %d, want %d", ty, got, want)
			}
		}
		e.scanForSecrets(r)
	})
}

// TestRefreshRace: two replicas (two handles on one database), each with
// several callers, ask for a token that is due at the same moment. The
// fake refuses a refresh token used twice: exactly one refresh spends it,
// and every caller ends with the new token.
func TestRefreshRace(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		a, b := e.replica(), e.replica()
		e.prime(a)
		old, _ := a.svc.Token(context.Background(), "campdoc")
		e.clk.Add(59 * time.Minute)
		const n = 8
		got := make([]string, n)
		errs := make([]error, n)
		gate := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-gate
				r := []replica{a, b}[i%2]
				if i%4 == 3 {
					got[i], errs[i] = r.svc.Rejected(context.Background(), "campdoc", old)
				} else {
					got[i], errs[i] = r.svc.Token(context.Background(), "campdoc")
				}
			})
		}
		close(gate)
		wg.Wait()
		for i := range n {
			if errs[i] != nil || got[i] == old || got[i] != got[0] {
				t.Fatalf("caller %d: %q, %v; want the one new token %q", i, got[i], errs[i], got[0])
			}
		}
		if e.mis.spends != 1 || e.mis.reuse != 0 {
			t.Fatalf("%d refreshes spent the token, %d reused it; want exactly one and none", e.mis.spends, e.mis.reuse)
		}
		for _, r := range []replica{a, b} {
			if tok, err := r.svc.Token(context.Background(), "campdoc"); err != nil || tok != got[0] {
				t.Fatalf("after the race: %q, %v", tok, err)
			}
		}
		if got := e.events(audit.ConnectorRefreshed); got != 1 {
			t.Fatalf("%d connector.refreshed events, want 1", got)
		}
	})
}

// TestRevokedGrantDisconnects: a refresh the MIS refuses for good ends as
// a disconnected connector with an alert, and calls then fail at once.
func TestRevokedGrantDisconnects(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		r := e.replica()
		e.prime(r)
		admins := e.addAlertUsers(r)

		// A temporary failure is retried later and disconnects nothing.
		e.mis.unhealthy = true
		e.clk.Add(55 * time.Minute)
		if _, err := r.svc.Token(context.Background(), "campdoc"); !apperr.Is(err, apperr.Unavailable) || errors.Is(err, connector.ErrDisconnected) {
			t.Fatalf("Token while the MIS answers 503: %v, want Unavailable, not disconnected", err)
		}
		c, _ := r.svc.Get(admin(), "campdoc")
		if c.Status != connector.StatusConnected || !strings.Contains(c.LastError, "503") {
			t.Fatalf("after a 503: status %s, last error %q", c.Status, c.LastError)
		}
		e.mis.unhealthy = false
		if _, err := r.svc.Token(context.Background(), "campdoc"); err != nil {
			t.Fatalf("Token once the MIS is back: %v", err)
		}

		if got := e.alerts(r); len(got) != 0 {
			t.Fatalf("a temporary failure mailed %d alerts", len(got))
		}

		e.mis.revoked = true
		e.clk.Add(55 * time.Minute)
		disconnectedAt := e.clk.Now()
		_, err := r.svc.Token(context.Background(), "campdoc")
		if !errors.Is(err, connector.ErrDisconnected) || !apperr.Is(err, apperr.Unavailable) {
			t.Fatalf("Token with a revoked grant: %v, want Unavailable ErrDisconnected", err)
		}
		c, _ = r.svc.Get(admin(), "campdoc")
		if c.Status != connector.StatusDisconnected || !strings.Contains(c.LastError, "invalid_grant") {
			t.Fatalf("after the revocation: status %s, last error %q", c.Status, c.LastError)
		}
		calls := e.mis.calls
		for range 3 {
			if _, err := r.svc.Token(context.Background(), "campdoc"); !errors.Is(err, connector.ErrDisconnected) {
				t.Fatalf("Token of a disconnected connector: %v", err)
			}
		}
		if err := r.svc.Refresh(context.Background(), "campdoc"); err != nil {
			t.Fatalf("the refresh job on a disconnected connector: %v, want nil (nothing to do)", err)
		}
		if e.mis.calls != calls {
			t.Fatalf("a disconnected connector called the MIS %d more times", e.mis.calls-calls)
		}
		if got := e.events(audit.ConnectorDisconnected); got != 1 {
			t.Fatalf("%d connector.disconnected events, want 1", got)
		}
		logMu.Lock()
		logged := e.log.String()
		logMu.Unlock()
		if !strings.Contains(logged, "ALERT connector disconnected") {
			t.Fatalf("no alert logged:\n%s", logged)
		}
		for _, s := range e.mis.secrets() {
			if strings.Contains(logged, s) {
				t.Fatalf("the log holds a secret the MIS issued")
			}
		}
		// One alert per active administrator with an address, after the
		// later failed calls too; none to staff, the deleted or the
		// address-less admin.
		got := e.alerts(r)
		if len(got) != 2 || got[0].RecipientID != admins[0] || got[1].RecipientID != admins[1] {
			t.Fatalf("alerts %+v, want one to each of users %v", got, admins)
		}
		for _, m := range got {
			if m.Status != mail.StatusNotSent || m.Subject != "ward: connector campdoc disconnected" {
				t.Fatalf("alert status %s subject %q", m.Status, m.Subject)
			}
			for _, want := range []string{"campdoc", disconnectedAt.UTC().Format(time.RFC3339), "invalid_grant", "/admin/connectors/campdoc/connect"} {
				if !strings.Contains(m.Body, want) {
					t.Fatalf("alert body lacks %q:\n%s", want, m.Body)
				}
			}
			for _, s := range append(e.mis.secrets(), clientSecret) {
				if strings.Contains(m.Body, s) || strings.Contains(m.Subject, s) {
					t.Fatalf("the alert holds a secret")
				}
			}
		}
		// Priming again reconnects.
		q := e.begin(r, "s")
		if _, err := r.svc.CompleteConnect(admin(), "campdoc", "s", q.Get("state"), e.mis.newCode(q.Get("code_challenge"))); err != nil {
			t.Fatal(err)
		}
		e.mis.revoked = false
		if _, err := r.svc.Token(context.Background(), "campdoc"); err != nil {
			t.Fatalf("Token after priming again: %v", err)
		}
		// A second disconnection is a second alert.
		e.mis.revoked = true
		e.clk.Add(55 * time.Minute)
		if _, err := r.svc.Token(context.Background(), "campdoc"); !errors.Is(err, connector.ErrDisconnected) {
			t.Fatalf("Token with the grant revoked again: %v", err)
		}
		if got := e.alerts(r); len(got) != 4 {
			t.Fatalf("%d alerts after two disconnections, want 4", len(got))
		}
	})
}

// addAlertUsers stores the people a disconnection alert may go to and
// returns the ids of those it must go to: two active administrators with
// an address. A staff member, a deleted administrator and one without an
// address get none.
func (e *env) addAlertUsers(r replica) []int64 {
	e.t.Helper()
	ctx := context.Background()
	add := func(email, role string) int64 {
		u := &directory.User{Email: email, GivenName: "G", FamilyName: "F", Registered: e.clk.Now()}
		if err := r.db.CreateUser(ctx, u); err != nil {
			e.t.Fatal(err)
		}
		if err := r.db.SetUserRoles(ctx, u.ID, []string{role}); err != nil {
			e.t.Fatal(err)
		}
		return u.ID
	}
	a1 := add("admin1@example.org", directory.RoleAdmin)
	add("staff@example.org", directory.RoleStaff)
	gone := add("gone@example.org", directory.RoleAdmin)
	at := e.clk.Now()
	if err := r.db.SetUserDeleted(ctx, gone, &at); err != nil {
		e.t.Fatal(err)
	}
	add("", directory.RoleAdmin)
	a2 := add("admin2@example.org", directory.RoleAdmin)
	return []int64{a1, a2}
}

// alerts reads the stored connector alerts: messages of no intervention,
// which no intervention's listing shows (an intervention's name is never
// empty).
func (e *env) alerts(r replica) []*mail.Outgoing {
	e.t.Helper()
	if intervention.CheckName("") == nil {
		e.t.Fatal("an empty intervention name is valid: connector alerts would be listed as its messages")
	}
	got, err := r.db.ListMailMessages(context.Background(), "", 0, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// TestOnlyAdminsManage: every management method refuses staff and the
// anonymous, beside the administrator allowed.
func TestOnlyAdminsManage(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t))
	r := e.replica()
	staff := actor.With(context.Background(), actor.Actor{UserID: staffID})
	for _, c := range []struct {
		ctx  context.Context
		want apperr.Kind
	}{{staff, apperr.Forbidden}, {context.Background(), apperr.Unauthenticated},
		{actor.With(context.Background(), actor.Actor{ClientID: "svc"}), apperr.Forbidden}} {
		if _, err := r.svc.Create(c.ctx, settings(e.mis)); !apperr.Is(err, c.want) {
			t.Fatalf("Create: %v, want %v", err, c.want)
		}
		if _, err := r.svc.List(c.ctx); !apperr.Is(err, c.want) {
			t.Fatalf("List: %v, want %v", err, c.want)
		}
		if _, err := r.svc.BeginConnect(c.ctx, "campdoc", "s"); !apperr.Is(err, c.want) {
			t.Fatalf("BeginConnect: %v, want %v", err, c.want)
		}
	}
	if _, err := r.svc.Create(admin(), settings(e.mis)); err != nil {
		t.Fatalf("admin Create: %v", err)
	}
	bad := settings(e.mis)
	bad.Name, bad.TokenURL, bad.BaseURL, bad.ClientID = "Bad Name", "ftp://x", "http://example.org/", "a\x00b"
	_, err := r.svc.Create(admin(), bad)
	if !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("bad settings: %v, want Invalid", err)
	}
	for _, want := range []string{"name", "token_url", "base_url", "client_id"} {
		if !strings.Contains(apperr.Message(err), want) {
			t.Errorf("the refusal does not name %s: %s", want, apperr.Message(err))
		}
	}
	if err := r.svc.Delete(staff, "campdoc"); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("staff Delete: %v", err)
	}
	if err := r.svc.Delete(admin(), "campdoc"); err != nil {
		t.Fatalf("admin Delete: %v", err)
	}
}

// scanForSecrets: nothing the fake issued (nor the client secret) is in
// the database in clear: the SQLite files' bytes, or every connector
// column as text on PostgreSQL.
func (e *env) scanForSecrets(r replica) {
	e.t.Helper()
	dump := testutil.Dump(e.t, e.url, r.db.Writer(), "connectors", "connector_states", "audit_events")
	for _, s := range e.mis.secrets() {
		if bytes.Contains(dump, []byte(s)) {
			e.t.Errorf("the database holds %q in clear", s)
		}
	}
	if !bytes.Contains(dump, []byte(clientID)) {
		e.t.Fatal("the dump does not hold even the client id: the scan read nothing")
	}
}

// TestProfileSystemCheck: a profile system is an absolute URI of valid
// text without whitespace, at most 255 bytes; "" is the default for the
// connector's name.
func TestProfileSystemCheck(t *testing.T) {
	for _, ok := range []string{"urn:ward:connector:campdoc:profile", "https://mis.example.org/id",
		"http://mis.example.org/id", "urn:" + strings.Repeat("x", 251)} {
		if err := connector.CheckProfileSystem("profile_system", ok); err != nil {
			t.Errorf("CheckProfileSystem(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "profile", "urn:", "ftp://x.example.org", "https://", "urn:a b", "urn:a\x00b",
		"urn:\xff", "urn:a\u00a0b", "urn:" + strings.Repeat("x", 252), "http:/relative"} {
		err := connector.CheckProfileSystem("profile_system", bad)
		if !apperr.Is(err, apperr.Invalid) || !strings.Contains(apperr.Message(err), "profile_system") {
			t.Errorf("CheckProfileSystem(%q): %v, want Invalid naming the field", bad, err)
		}
	}
	c := &connector.Connector{Name: "campdoc"}
	if got := c.EffectiveProfileSystem(); got != "urn:ward:connector:campdoc:profile" {
		t.Errorf("default: %q", got)
	}
	c.ProfileSystem = "urn:x"
	if got := c.EffectiveProfileSystem(); got != "urn:x" {
		t.Errorf("own: %q", got)
	}
}
