package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"ward/internal/config"
	"ward/internal/demo"
	"ward/internal/server"
	"ward/internal/testutil"
)

// serveFor runs the server in-process on c's instance, as ward serve would
// (background jobs included, so exports run), and returns its base URL.
func serveFor(t *testing.T, c cli, dbURL string) string {
	t.Helper()
	ln := testutil.Listen(t)
	cfg := config.Default()
	cfg.DataDir, cfg.DatabaseURL, cfg.Addr = c.dir, dbURL, ln.Addr().String()
	srv, err := server.New(context.Background(), cfg, server.WithLogger(server.NewLogger(cfg, io.Discard)))
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	testutil.Serve(t, srv, ln)
	return "http://" + cfg.Addr
}

// httpDo sends a request and returns the status, headers and body.
func httpDo(t *testing.T, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, resp.Header, body
}

func bearerGet(t *testing.T, token, u string, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return httpDo(t, req)
}

// TestDemo: ward demo fills a new instance (creating its data directory),
// and what it prints works: the password signs in, the backend client
// gets a token by client credentials, searches and bulk-exports the demo
// patients; the patient app is registered. A second run refuses.
func TestDemo(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		c := newCLI(t, dbURL)
		c.dir = filepath.Join(c.dir, "new-instance") // demo starts instances
		var res demo.Result
		decodeJSON(t, c.must("demo", "--json"), &res)
		if res.Counts.Patients != 10 || res.Counts.Organizations != 4 || res.Counts.Staff != 5 ||
			res.Counts.Observations == 0 || res.Counts.Procedures == 0 || res.Counts.Consents != 10 {
			t.Errorf("counts %+v", res.Counts)
		}
		if res.Password == "" || res.Backend.ClientID == "" || res.Backend.ClientSecret == "" || res.PatientApp.ClientID == "" {
			t.Fatalf("demo --json printed no password or client: %+v", res)
		}
		if !canLogin(t, dbURL, res.Admin.Email, res.Password) || !canLogin(t, dbURL, res.Patients[0].Email, res.Password) {
			t.Error("the printed password does not sign in the admin and a patient")
		}

		// The patient app is registered as printed.
		var clients []clientListJSON
		decodeJSON(t, c.must("client", "list", "--json"), &clients)
		var app *clientListJSON
		for i := range clients {
			if clients[i].ClientID == res.PatientApp.ClientID {
				app = &clients[i]
			}
		}
		if app == nil || !app.Public || app.Status != "active" || len(app.RedirectURIs) != 1 ||
			!strings.HasPrefix(app.RedirectURIs[0], "http://localhost:") || !strings.Contains(app.Scope, "launch/patient") {
			t.Errorf("patient app as listed: %+v", app)
		}

		// A second run refuses, says why and how, and adds nothing.
		code, out, errs := c.run("demo")
		if code != 1 || out != "" || !strings.Contains(errs, "not empty") || !strings.Contains(errs, "Nothing was changed") ||
			!strings.Contains(errs, "--data-dir") {
			t.Errorf("second demo = exit %d, stdout %q, stderr %q; want 1, the refusal and the way out", code, out, errs)
		}
		var again []clientListJSON
		decodeJSON(t, c.must("client", "list", "--json"), &again)
		if len(again) != len(clients) {
			t.Errorf("the refused demo changed the clients: %d -> %d", len(clients), len(again))
		}

		base := serveFor(t, c, dbURL)
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {demo.BackendScope}}
		req, err := http.NewRequest(http.MethodPost, base+"/oauth/token", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(res.Backend.ClientID), url.QueryEscape(res.Backend.ClientSecret))
		status, _, body := httpDo(t, req)
		var tok struct {
			AccessToken string `json:"access_token"`
			Scope       string `json:"scope"`
		}
		if status != http.StatusOK || json.Unmarshal(body, &tok) != nil || tok.AccessToken == "" {
			t.Fatalf("client credentials with the printed secret: %d %s", status, body)
		}

		status, _, body = bearerGet(t, tok.AccessToken, base+"/fhir/Patient?birthdate=ge1980")
		var bundle struct {
			Total int `json:"total"`
		}
		if status != http.StatusOK || json.Unmarshal(body, &bundle) != nil || bundle.Total == 0 {
			t.Fatalf("Patient search: %d %s", status, body)
		}

		counts := exportDemo(t, base, tok.AccessToken)
		if counts["Patient"] != 10 || counts["Observation"] != res.Counts.Observations || counts["Procedure"] != res.Counts.Procedures {
			t.Errorf("exported %v, want 10 patients, %d observations, %d procedures", counts, res.Counts.Observations, res.Counts.Procedures)
		}
	})
}

// exportDemo runs a system-level export of the demo's clinical data,
// checks every line against the R4 schema, and counts them by type.
func exportDemo(t *testing.T, base, token string) map[string]int {
	t.Helper()
	status, h, body := bearerGet(t, token, base+"/fhir/$export?_type=Patient,Observation,Procedure",
		"Prefer", "respond-async", "Accept", "application/fhir+json")
	loc := h.Get("Content-Location")
	if status != http.StatusAccepted || loc == "" {
		t.Fatalf("export kick-off: %d %s", status, body)
	}
	var manifest struct {
		Output []struct {
			Type  string `json:"type"`
			URL   string `json:"url"`
			Count int    `json:"count"`
		} `json:"output"`
	}
	// A generous deadline: the export is small, the machine may be busy.
	deadline := time.Now().Add(90 * time.Second)
	for {
		status, _, body = bearerGet(t, token, loc)
		if status == http.StatusOK {
			if err := json.Unmarshal(body, &manifest); err != nil {
				t.Fatalf("manifest: %v: %s", err, body)
			}
			break
		}
		if status != http.StatusAccepted {
			t.Fatalf("export status: %d %s", status, body)
		}
		if time.Now().After(deadline) {
			t.Fatal("the demo export did not finish within 90 s")
		}
		<-time.After(100 * time.Millisecond)
	}
	schema := testutil.FHIRSchema(t)
	counts := map[string]int{}
	for _, o := range manifest.Output {
		status, _, body := bearerGet(t, token, o.URL)
		if status != http.StatusOK {
			t.Fatalf("%s: %d %s", o.URL, status, body)
		}
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if err := schema.Validate(sc.Bytes()); err != nil {
				t.Errorf("%s: a line the R4 schema refuses: %v\n%s", o.URL, err, sc.Text())
			}
			counts[o.Type]++
		}
	}
	return counts
}

var exportLine = regexp.MustCompile(`^(export ([A-Z_]+)='([^']*)'|unset ([A-Z_]+))$`)

// parseEnv reads the lines --format env prints: every line is an export
// of a single-quoted value or an unset, and nothing else.
func parseEnv(t *testing.T, out string) (set map[string]string, unset []string) {
	t.Helper()
	set = map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		m := exportLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("--format env printed %q, not an export or unset line", line)
		}
		if m[2] != "" {
			set[m[2]] = m[3]
		} else {
			unset = append(unset, m[4])
		}
	}
	return set, unset
}

func TestDemoFormatEnv(t *testing.T) {
	dbURL := testutil.SQLiteURL(t)
	c := newCLI(t, dbURL)
	code, out, errs := c.run("demo", "--format", "env")
	if code != 0 {
		t.Fatalf("demo --format env = %d: %s", code, errs)
	}
	set, unset := parseEnv(t, out)
	for _, name := range []string{"DEMO_PASSWORD", "ADMIN_EMAIL", "STAFF_ADMIN_EMAIL", "CLINICIAN_EMAIL", "PATIENT_ID",
		"PATIENT_EMAIL", "CLINIC_ID", "APP_CLIENT_ID", "APP_REDIRECT_URI", "CLIENT_ID", "CLIENT_SECRET"} {
		if set[name] == "" {
			t.Errorf("--format env does not set %s: %q", name, out)
		}
	}
	if len(unset) != 0 {
		t.Errorf("--format env unsets %v", unset)
	}
	// Exported WARD_ variables would stop every later ward command.
	for name := range set {
		if strings.HasPrefix(name, "WARD_") {
			t.Errorf("--format env exports %s: ward refuses WARD_ variables it does not know", name)
		}
	}
	// The summary goes to stderr, which eval "$(…)" leaves on the terminal.
	if !strings.Contains(errs, "10 patients") {
		t.Errorf("stderr %q does not summarize what was made", errs)
	}
	if !canLogin(t, dbURL, set["ADMIN_EMAIL"], set["DEMO_PASSWORD"]) {
		t.Error("ADMIN_EMAIL does not sign in with DEMO_PASSWORD")
	}
	// And the variables do not upset the next command when exported.
	c.env = append(c.env, "CLIENT_ID="+set["CLIENT_ID"], "DEMO_PASSWORD="+set["DEMO_PASSWORD"])
	c.must("client", "list")
}

func TestDemoText(t *testing.T) {
	c := newCLI(t, testutil.SQLiteURL(t))
	out := c.must("demo")
	for _, want := range []string{"Demo Health Ministry", "Demo Riverside Clinic", "admin@" + demo.Domain,
		"/login", "client_secret", demo.AppRedirectURI, "/oauth/token", "/fhir/Patient", "$export", "shown once"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo's guide does not mention %q:\n%s", want, out)
		}
	}
}

func TestFormatFlags(t *testing.T) {
	c := newCLI(t, testutil.SQLiteURL(t))
	for _, args := range [][]string{
		{"demo", "--format", "xml"},
		{"demo", "--json", "--format", "env"},
		{"client", "create", "--name", "X", "--grant", "client_credentials", "--scope", "system/*.rs", "--format", "yaml"},
	} {
		if code, _, errs := c.run(args...); code != 1 || !strings.Contains(errs, "--") {
			t.Errorf("ward %v = exit %d, stderr %q; want 1 naming the flag", args, code, errs)
		}
	}
	// Nothing was made by the refused commands.
	c.must("demo", "--format", "json")
}

// client create and rotate-secret print export lines with --format env; a
// public client unsets CLIENT_SECRET rather than leave an earlier one.
func TestClientFormatEnv(t *testing.T) {
	c := newCLI(t, testutil.SQLiteURL(t))
	set, unset := parseEnv(t, c.must("client", "create", "--name", "Reporting", "--grant", "client_credentials",
		"--scope", "system/Patient.rs", "--format", "env"))
	if set["CLIENT_ID"] == "" || len(set["CLIENT_SECRET"]) < 43 || len(unset) != 0 {
		t.Fatalf("create --format env set %v, unset %v", set, unset)
	}
	rotated, _ := parseEnv(t, c.must("client", "rotate-secret", set["CLIENT_ID"], "--format", "env"))
	if rotated["CLIENT_ID"] != set["CLIENT_ID"] || rotated["CLIENT_SECRET"] == "" || rotated["CLIENT_SECRET"] == set["CLIENT_SECRET"] {
		t.Errorf("rotate-secret --format env: %v after %v", rotated, set)
	}
	pub, unset := parseEnv(t, c.must("client", "create", "--name", "App", "--public", "--grant", "authorization_code",
		"--scope", "openid patient/*.rs", "--redirect-uri", "http://localhost:9/cb", "--format", "env"))
	if pub["CLIENT_ID"] == "" || len(unset) != 1 || unset[0] != "CLIENT_SECRET" {
		t.Errorf("public create --format env set %v, unset %v; want CLIENT_ID and unset CLIENT_SECRET", pub, unset)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":      "'plain'",
		"":           "''",
		"it's":       `'it'\''s'`,
		"$x `y` \\z": "'$x `y` \\z'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
