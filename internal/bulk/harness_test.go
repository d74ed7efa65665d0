package bulk_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/audit"
	"ward/internal/blob"
	"ward/internal/bulk"
	"ward/internal/fhir"
	"ward/internal/fhir/rest"
	"ward/internal/jobs"
	"ward/internal/sqlstore"
	"ward/internal/store"
	"ward/internal/testutil"
)

// waitTimeout bounds every wait on a job: generous, since it only matters
// when something is broken.
const waitTimeout = 60 * time.Second

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

type nopTokens struct{}

func (nopTokens) PurgeExpiredTokens(context.Context) (int, error) { return 0, nil }
func (nopTokens) AlertExpiringServiceTokens(context.Context, time.Duration) (int, error) {
	return 0, nil
}

type nopKeys struct{}

func (nopKeys) RotateIfOlder(context.Context, time.Duration, time.Duration) (bool, error) {
	return false, nil
}
func (nopKeys) PruneRetired(context.Context) (int, error) { return 0, nil }

type nopSessions struct{}

func (nopSessions) PurgeExpired(context.Context) (int, error) { return 0, nil }

// env is one ward-like server with only the bulk endpoints, on a real
// database, blob directory and River runner.
type env struct {
	t      *testing.T
	db     *sqlstore.DB
	url    string
	blobs  *blob.Dir
	src    *fakeSource
	groups fakeGroups
	clock  *clock
	engine *bulk.Engine
	runner *jobs.Runner
	srv    *httptest.Server
	audit  *audit.Log
	svc    *bulk.Service
	// tokens maps a bearer token to the actor it stands for.
	tokens map[string]actor.Actor
}

type envOpts struct {
	linesPerFile int
	maxPerClient int
	maxAttempts  int
	slice        time.Duration
	// retryAfter is the handler's RetryAfter; default 2s.
	retryAfter time.Duration
}

func newEnv(t *testing.T, url string, o envOpts) *env {
	t.Helper()
	if o.linesPerFile == 0 {
		o.linesPerFile = 3
	}
	if o.maxPerClient == 0 {
		o.maxPerClient = 3
	}
	if o.retryAfter == 0 {
		o.retryAfter = 2 * time.Second
	}
	e := &env{t: t, url: url, src: &fakeSource{}, groups: fakeGroups{}, clock: &clock{t: time.Now().UTC()}}
	e.db = testutil.NewStore(t, url)
	if err := jobs.Migrate(context.Background(), e.db.Dialect(), e.db.Writer()); err != nil {
		t.Fatalf("migrate River: %v", err)
	}
	var err error
	if e.blobs, err = blob.NewDir(filepath.Join(t.TempDir(), "blobs")); err != nil {
		t.Fatalf("blob dir: %v", err)
	}
	t.Cleanup(func() { _ = e.blobs.Close() })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if e.engine, err = bulk.NewEngine(e.db, e.blobs, e.src, bulk.EngineConfig{
		LinesPerFile: o.linesPerFile, Retention: time.Hour, Now: e.clock.Now, Logger: logger, MaxAttempts: o.maxAttempts,
		Slice: o.slice,
	}); err != nil {
		t.Fatalf("engine: %v", err)
	}
	e.runner = e.newRunner()
	e.audit = audit.NewLog(audit.Deps{Store: e.db, Tx: e.db}, audit.Config{Version: "test"})
	e.tokens = map[string]actor.Actor{}
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A stand-in for the bearer middleware.
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			if a, ok := e.tokens[tok]; ok {
				r = r.WithContext(actor.With(r.Context(), a))
			}
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	svc, err := bulk.NewService(bulk.Deps{
		Store: e.db, Tx: e.db, Blobs: e.blobs, Source: e.src, Groups: e.groups, Audit: e.audit, Jobs: e.runner, Engine: e.engine,
		Roles: testRoles,
	}, bulk.Config{BaseURL: e.srv.URL + "/fhir", MaxPerClient: o.maxPerClient, Now: e.clock.Now, Logger: logger})
	if err != nil {
		t.Fatalf("service: %v", err)
	}
	e.svc = svc
	h, err := rest.NewBulkHandler(svc, rest.BulkConfig{BaseURL: e.srv.URL + "/fhir", RetryAfter: o.retryAfter, Now: e.clock.Now, Logger: logger})
	if err != nil {
		t.Fatalf("handler: %v", err)
	}
	h.Mount(mux)
	return e
}

// newRunner builds a River runner working the engine's jobs, stopped when
// the test ends.
func (e *env) newRunner() *jobs.Runner {
	e.t.Helper()
	r, err := jobs.New(context.Background(), jobs.Default(), jobs.Deps{
		DB: e.db, DatabaseURL: e.url, Tokens: nopTokens{}, Keys: nopKeys{}, Sessions: nopSessions{},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Register: e.engine.Register, Periodic: e.engine.Periodic(),
	})
	if err != nil {
		e.t.Fatalf("runner: %v", err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := r.Stop(ctx); err != nil {
			e.t.Errorf("stop runner: %v", err)
		}
	})
	return r
}

// token registers a backend client token with scopes.
func (e *env) token(name, client string, scopes ...string) string {
	e.tokens[name] = actor.Actor{ClientID: client, Scopes: scopes}
	return name
}

func (e *env) start() {
	e.t.Helper()
	if err := e.runner.Start(context.Background()); err != nil {
		e.t.Fatalf("start runner: %v", err)
	}
}

// do sends a request; hdr holds header pairs.
func (e *env) do(method, path, token string, body []byte, hdr ...string) *http.Response {
	e.t.Helper()
	u := path
	if strings.HasPrefix(path, "/") {
		u = e.srv.URL + path
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

var asyncHeaders = []string{"Prefer", "respond-async", "Accept", "application/fhir+json"}

// kickOff GETs a kick-off with the standard headers.
func (e *env) kickOff(path, token string) *http.Response {
	e.t.Helper()
	return e.do(http.MethodGet, path, token, nil, asyncHeaders...)
}

// kickOffPost POSTs a Parameters body.
func (e *env) kickOffPost(path, token string, params ...map[string]any) *http.Response {
	e.t.Helper()
	body, err := json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": params})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(http.MethodPost, path, token, body, append(asyncHeaders, "Content-Type", "application/fhir+json")...)
}

// mustAccept checks a 202 kick-off and returns its status URL.
func (e *env) mustAccept(resp *http.Response) string {
	e.t.Helper()
	if resp.StatusCode != http.StatusAccepted {
		e.t.Fatalf("kick-off: status %d, body %s", resp.StatusCode, readAll(e.t, resp))
	}
	loc := resp.Header.Get("Content-Location")
	if !strings.HasPrefix(loc, e.srv.URL+"/fhir/$bulkdata-status/") {
		e.t.Fatalf("Content-Location %q is not a status URL under the base", loc)
	}
	return loc
}

// manifest is the completion body, decoded.
type manifest struct {
	TransactionTime     string `json:"transactionTime"`
	Request             string `json:"request"`
	RequiresAccessToken bool   `json:"requiresAccessToken"`
	Output              []struct {
		Type  string `json:"type"`
		URL   string `json:"url"`
		Count int64  `json:"count"`
	} `json:"output"`
	Error []struct {
		Type  string `json:"type"`
		URL   string `json:"url"`
		Count int64  `json:"count"`
	} `json:"error"`
}

// poll polls the status URL until it is no longer 202 and returns that
// answer; while running it checks X-Progress and Retry-After.
func (e *env) poll(statusURL, token string) *http.Response {
	e.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		resp := e.do(http.MethodGet, statusURL, token, nil)
		if resp.StatusCode != http.StatusAccepted {
			return resp
		}
		if resp.Header.Get("X-Progress") == "" || resp.Header.Get("Retry-After") == "" {
			e.t.Fatalf("running export's status lacks X-Progress or Retry-After: %v", resp.Header)
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("export still running after %s: %s", waitTimeout, resp.Header.Get("X-Progress"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// complete polls to completion and decodes the manifest.
func (e *env) complete(statusURL, token string) manifest {
	e.t.Helper()
	resp := e.poll(statusURL, token)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("status: %d, body %s", resp.StatusCode, readAll(e.t, resp))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Errorf("manifest Content-Type %q, want application/json", ct)
	}
	var m manifest
	dec := json.NewDecoder(resp.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		e.t.Fatalf("decode manifest: %v", err)
	}
	if !m.RequiresAccessToken {
		e.t.Error("manifest: requiresAccessToken is not true")
	}
	if _, err := time.Parse(time.RFC3339Nano, m.TransactionTime); err != nil {
		e.t.Errorf("manifest transactionTime %q: %v", m.TransactionTime, err)
	}
	return m
}

// download fetches every output file and returns the ids per type, after
// parsing every line as JSON and checking each file's count and type.
func (e *env) download(m manifest, token string) map[string][]string {
	e.t.Helper()
	got := map[string][]string{}
	for _, f := range m.Output {
		lines := e.fetchLines(f.URL, token)
		if int64(len(lines)) != f.Count {
			e.t.Errorf("%s: %d lines, manifest count %d", f.URL, len(lines), f.Count)
		}
		for _, l := range lines {
			if l["resourceType"] != f.Type {
				e.t.Errorf("%s: a line of type %v", f.URL, l["resourceType"])
			}
			got[f.Type] = append(got[f.Type], l["id"].(string))
		}
	}
	return got
}

func (e *env) fetchLines(url, token string) []map[string]any {
	e.t.Helper()
	resp := e.do(http.MethodGet, url, token, nil)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("download %s: %d %s", url, resp.StatusCode, readAll(e.t, resp))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/fhir+ndjson" {
		e.t.Errorf("download %s: Content-Type %q", url, ct)
	}
	var out []map[string]any
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			e.t.Fatalf("%s: line %d is not JSON: %v", url, len(out)+1, err)
		}
		// Every line is a resource an independent R4 validator accepts.
		testutil.ValidateFHIR(e.t, append([]byte(nil), sc.Bytes()...))
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		e.t.Fatalf("read %s: %v", url, err)
	}
	return out
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// outcome decodes an OperationOutcome answer.
func outcome(t *testing.T, resp *http.Response) fhir.OperationOutcome {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
		t.Fatalf("error Content-Type %q, want application/fhir+json", ct)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	testutil.ValidateFHIR(t, body)
	var oo fhir.OperationOutcome
	if err := json.Unmarshal(body, &oo); err != nil {
		t.Fatalf("decode OperationOutcome: %v", err)
	}
	if len(oo.Issue) == 0 {
		t.Fatal("OperationOutcome without issues")
	}
	return oo
}

// countExports counts the export rows, with plain SQL.
func (e *env) countExports() int {
	e.t.Helper()
	var n int
	if err := e.db.Writer().QueryRowContext(context.Background(), "SELECT COUNT(*) FROM exports").Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// auditComments lists the comments of the audit trail.
func (e *env) auditComments() []string {
	e.t.Helper()
	var out []string
	page := store.Page{Limit: store.MaxLimit}
	for {
		evs, next, err := e.audit.List(actor.System(context.Background()), audit.Filter{}, page)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, ev := range evs {
			out = append(out, ev.Comment)
		}
		if next == "" {
			return out
		}
		page.After = next
	}
}

// exportID is the id at the end of a status URL.
func exportID(statusURL string) string { return statusURL[strings.LastIndex(statusURL, "/")+1:] }

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
