package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // pgx driver, to tamper with the audit table
	_ "modernc.org/sqlite"             // sqlite driver, to tamper with the audit table

	"ward/internal/testutil"
)

// wardBin is the binary built once for every scenario.
var wardBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ward-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		os.Exit(1)
	}
	wardBin = filepath.Join(dir, "ward")
	build := exec.Command("go", "build", "-o", wardBin, "ward/cmd/ward")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: go build:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// ward runs the binary with args against dataDir/dbURL and returns its
// combined output and exit code.
func ward(t *testing.T, dataDir, dbURL string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(wardBin, append(args, "--data-dir", dataDir)...)
	cmd.Env = append(os.Environ(), "WARD_DATABASE_URL="+dbURL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		t.Fatalf("ward %v: %v", args, err)
	}
	return string(out), 0
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// serve starts `ward serve` and waits for /readyz; the server is stopped with
// SIGTERM when t ends (and must exit cleanly).
func serve(t *testing.T, dataDir, dbURL string) string {
	return serveEnv(t, dataDir, dbURL).base
}

// proc is a running `ward serve`.
type proc struct {
	base string
	addr string
	// kill ends the process with SIGKILL, as a crash would: no shutdown,
	// no checkpoint, jobs left running.
	kill func()
}

// serveEnv is serve with extra environment variables, returning the
// process so a test can crash it.
func serveEnv(t *testing.T, dataDir, dbURL string, env ...string) *proc {
	t.Helper()
	return serveAt(t, freeAddr(t), dataDir, dbURL, env...)
}

// serveAt is serveEnv on a given address, so a restarted server keeps its
// URL (and the issuer and export URLs derived from it).
func serveAt(t *testing.T, addr, dataDir, dbURL string, env ...string) *proc {
	t.Helper()
	var logs bytes.Buffer
	cmd := exec.Command(wardBin, "serve", "--addr", addr, "--data-dir", dataDir)
	cmd.Env = append(append(os.Environ(), "WARD_DATABASE_URL="+dbURL), env...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ward serve: %v", err)
	}
	base := "http://" + addr
	stopped := false
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ward serve exited with %v; logs:\n%s", err, logs.String())
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("ward serve did not stop on SIGINT; logs:\n%s", logs.String())
		}
	}
	kill := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Kill()
		<-done
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return &proc{base: base, addr: addr, kill: kill}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("ward serve not ready at %s; logs:\n%s", base, logs.String())
		}
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("ward serve exited (%v) before it was ready; logs:\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// client is a browser-like HTTP client with a cookie jar.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func (c *client) do(method, path, contentType string, body any, want int, out any) {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			c.t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatalf("request: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
}

// TestNewUserScenario is the foundation issue's "done means": a new user
// migrates, adds an admin, signs in through the form, builds an organization
// tree and a patient through the API, sees it in the audit log, verifies the
// chain, and sees verification fail, naming the row, after a hand edit.
func TestNewUserScenario(t *testing.T) {
	for _, backend := range testutil.Backends() {
		t.Run(backend, func(t *testing.T) {
			dbURL := testutil.URLFor(t, backend)
			dataDir := t.TempDir()
			runScenario(t, backend, dataDir, dbURL)
		})
	}
}

func runScenario(t *testing.T, backend, dataDir, dbURL string) {
	if out, code := ward(t, dataDir, dbURL, "migrate"); code != 0 {
		t.Fatalf("ward migrate: exit %d: %s", code, out)
	}
	if out, code := ward(t, dataDir, dbURL, "add-user", "--email", "Admin@Example.org",
		"--password", "correct horse battery", "--role", "admin"); code != 0 {
		t.Fatalf("ward add-user: exit %d: %s", code, out)
	}
	// The same email, differently cased, is the same person.
	if out, code := ward(t, dataDir, dbURL, "add-user", "--email", "admin@example.org",
		"--password", "another password", "--role", "admin"); code == 0 {
		t.Fatalf("duplicate add-user succeeded: %s", out)
	}

	base := serve(t, dataDir, dbURL)
	jar, _ := cookiejar.New(nil)
	c := &client{t: t, base: base, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}

	// Anonymous callers are refused.
	c.do(http.MethodGet, "/api/me", "", nil, http.StatusUnauthorized, nil)

	// A wrong password is refused, the right one signs in through the form.
	form := url.Values{"email": {"admin@example.org"}, "password": {"wrong password"}}
	c.do(http.MethodPost, "/login", "application/x-www-form-urlencoded", form.Encode(), http.StatusUnauthorized, nil)
	form.Set("password", "correct horse battery")
	c.do(http.MethodPost, "/login", "application/x-www-form-urlencoded", form.Encode(), http.StatusSeeOther, nil)

	var me struct {
		ID    int64  `json:"id"`
		Email string `json:"email"`
	}
	c.do(http.MethodGet, "/api/me", "", nil, http.StatusOK, &me)
	if me.ID == 0 || !strings.EqualFold(me.Email, "admin@example.org") {
		t.Fatalf("/api/me = %+v, want the admin", me)
	}

	// An organization tree: a ministry and a clinic below it.
	type fhirRef struct {
		Reference string `json:"reference"`
	}
	var ministry, clinic struct {
		ID     string   `json:"id"`
		PartOf *fhirRef `json:"partOf"`
	}
	c.do(http.MethodPost, "/api/organization", "application/fhir+json",
		`{"resourceType":"Organization","name":"Ministry of Health"}`, http.StatusCreated, &ministry)
	c.do(http.MethodPost, "/api/organization", "application/fhir+json",
		fmt.Sprintf(`{"resourceType":"Organization","name":"Riverside Clinic","partOf":{"reference":"Organization/%s"},
		 "identifier":[{"system":"http://us.truenth.org/identity-codes/shortcut-alias","value":"riverside"}]}`, ministry.ID),
		http.StatusCreated, &clinic)
	if clinic.PartOf == nil || !strings.HasSuffix(clinic.PartOf.Reference, "/Organization/"+ministry.ID) {
		t.Fatalf("clinic partOf = %+v, want Organization/%s", clinic.PartOf, ministry.ID)
	}
	// A child of an organization that does not exist is refused, and nothing is written.
	c.do(http.MethodPost, "/api/organization", "application/fhir+json",
		`{"resourceType":"Organization","name":"Orphan","partOf":{"reference":"Organization/999999"}}`, http.StatusBadRequest, nil)
	// A PUT naming only an identifier adds it and keeps the rest (seed 001's example).
	var renamed struct {
		Name       string `json:"name"`
		Identifier []struct {
			Value string `json:"value"`
		} `json:"identifier"`
	}
	c.do(http.MethodPut, "/api/organization/"+ministry.ID, "application/fhir+json",
		`{"resourceType":"Organization","identifier":[{"system":"http://us.truenth.org/identity-codes/shortcut-alias","value":"moh"}]}`,
		http.StatusOK, &renamed)
	if renamed.Name != "Ministry of Health" || len(renamed.Identifier) != 1 || renamed.Identifier[0].Value != "moh" {
		t.Fatalf("after an identifier-only PUT the ministry is %+v", renamed)
	}
	var byAlias struct {
		ID string `json:"id"`
	}
	c.do(http.MethodGet, "/api/organization/riverside", "", nil, http.StatusOK, &byAlias)
	if byAlias.ID != clinic.ID {
		t.Fatalf("alias lookup = %s, want %s", byAlias.ID, clinic.ID)
	}
	var bundle struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Total        int    `json:"total"`
		Entry        []struct {
			Resource struct {
				Name string `json:"name"`
			} `json:"resource"`
		} `json:"entry"`
	}
	c.do(http.MethodGet, "/api/organization", "", nil, http.StatusOK, &bundle)
	if bundle.ResourceType != "Bundle" || bundle.Type != "searchset" || bundle.Total != 2 || len(bundle.Entry) != 2 ||
		bundle.Entry[1].Resource.Name != "Riverside Clinic" {
		t.Fatalf("organization bundle = %+v, want a searchset of 2", bundle)
	}

	// A patient at the clinic, with demographics.
	var clinicID int64
	fmt.Sscan(clinic.ID, &clinicID)
	var patient struct {
		ID int64 `json:"id"`
	}
	c.do(http.MethodPost, "/api/account", "application/json", map[string]any{
		"email": "pat@example.org", "first_name": "Pat", "last_name": "Doe", "birthdate": "1961-07-04",
		"roles": []map[string]string{{"name": "patient"}}, "organizations": []map[string]int64{{"organization_id": clinicID}},
	}, http.StatusCreated, &patient)
	if patient.ID == 0 {
		t.Fatal("account created without an id")
	}
	c.do(http.MethodPut, fmt.Sprintf("/api/demographics/%d", patient.ID), "application/fhir+json",
		`{"resourceType":"Patient","gender":"female","telecom":[{"system":"phone","value":"+1 555 0100"}]}`, http.StatusOK, nil)
	var demo struct {
		ResourceType string `json:"resourceType"`
		BirthDate    string `json:"birthDate"`
		Gender       string `json:"gender"`
		Name         []struct {
			Family string `json:"family"`
		} `json:"name"`
	}
	c.do(http.MethodGet, fmt.Sprintf("/api/demographics/%d", patient.ID), "", nil, http.StatusOK, &demo)
	if demo.ResourceType != "Patient" || demo.Gender != "female" || demo.BirthDate != "1961-07-04" ||
		len(demo.Name) == 0 || demo.Name[0].Family != "Doe" {
		t.Fatalf("demographics = %+v: the PUT must replace only the fields it names", demo)
	}

	// Everything above is in the audit log.
	var log struct {
		Events []struct {
			ID        int64  `json:"id"`
			UserID    int64  `json:"user_id"`
			SubjectID int64  `json:"subject_id"`
			Context   string `json:"context"`
		} `json:"events"`
	}
	c.do(http.MethodGet, "/api/auditlog?limit=1000", "", nil, http.StatusOK, &log)
	seen := map[string]bool{}
	var patientEvents int
	for _, e := range log.Events {
		seen[e.Context] = true
		if e.SubjectID == patient.ID {
			patientEvents++
		}
	}
	for _, ctx := range []string{"login", "organization", "account", "user"} {
		if !seen[ctx] {
			t.Errorf("audit log has no %q event; contexts seen: %v", ctx, seen)
		}
	}
	if patientEvents < 2 {
		t.Errorf("audit log has %d events about the patient, want the creation and the demographics update", patientEvents)
	}

	// The chain verifies, and fails naming the row after a hand edit.
	if out, code := ward(t, dataDir, dbURL, "audit", "verify"); code != 0 {
		t.Fatalf("ward audit verify: exit %d: %s", code, out)
	}
	target := log.Events[len(log.Events)/2].ID
	tamper(t, backend, dataDir, dbURL, target)
	out, code := ward(t, dataDir, dbURL, "audit", "verify")
	if code != 1 {
		t.Fatalf("ward audit verify after tampering: exit %d, want 1: %s", code, out)
	}
	if !strings.Contains(out, fmt.Sprintf("event %d", target)) {
		t.Fatalf("ward audit verify output does not name event %d: %s", target, out)
	}
}

// tamper edits one audit row directly in the database, as an intruder with
// database access would.
func tamper(t *testing.T, backend, dataDir, dbURL string, id int64) {
	t.Helper()
	driver, dsn := "pgx", dbURL
	if backend == "sqlite" {
		driver = "sqlite"
		dsn = strings.TrimPrefix(dbURL, "sqlite://")
		if dsn == "" {
			dsn = filepath.Join(dataDir, "ward.db")
		}
		// The running server holds the write lock now and then: wait for
		// it rather than fail with "database is locked" on a busy machine.
		dsn += "?_pragma=busy_timeout(10000)"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", backend, err)
	}
	defer db.Close()
	q := "UPDATE audit_events SET comment = 'nothing to see here' WHERE id = $1"
	if backend == "sqlite" {
		q = strings.Replace(q, "$1", "?", 1)
	}
	res, err := db.ExecContext(context.Background(), q, id)
	if err != nil {
		t.Fatalf("tamper: %v", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("tamper touched %d rows", n)
	}
}
