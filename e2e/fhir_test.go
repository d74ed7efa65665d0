package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"ward/internal/testutil"
)

// TestFHIRScenario is issue 4's "done means" on the real binary: a
// backend-services client exports with the standard headers and gets
// NDJSON that the official R4 schema accepts; a patient app launched with
// launch/patient reads exactly its own record; an export survives the
// server being killed mid-way.
func TestFHIRScenario(t *testing.T) {
	for _, backend := range testutil.Backends() {
		t.Run(backend, func(t *testing.T) {
			runFHIRScenario(t, t.TempDir(), testutil.URLFor(t, backend))
		})
	}
}

// fhirClient calls the FHIR API with one bearer token.
type fhirClient struct {
	t     *testing.T
	base  string
	token string
}

func (c fhirClient) do(method, path string, body []byte, hdr ...string) (int, http.Header, []byte) {
	c.t.Helper()
	u := path
	if !strings.HasPrefix(path, "http") {
		u = c.base + path
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

func (c fhirClient) want(status int, method, path string, body []byte, hdr ...string) (http.Header, []byte) {
	c.t.Helper()
	got, h, b := c.do(method, path, body, hdr...)
	if got != status {
		c.t.Fatalf("%s %s: %d, want %d: %.400s", method, path, got, status, b)
	}
	return h, b
}

// searchIDs returns the total and the entries' ids of a searchset.
func (c fhirClient) searchIDs(path string) (int, []string) {
	c.t.Helper()
	_, b := c.want(http.StatusOK, http.MethodGet, path, nil)
	var bundle struct {
		Total int `json:"total"`
		Entry []struct {
			Resource struct {
				ID      string `json:"id"`
				Subject struct {
					Reference string `json:"reference"`
				} `json:"subject"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(b, &bundle); err != nil {
		c.t.Fatalf("%s: %v", path, err)
	}
	var ids []string
	for _, e := range bundle.Entry {
		ids = append(ids, e.Resource.ID)
	}
	return bundle.Total, ids
}

func clientCredentials(t *testing.T, base, id, secret, scope string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	res, body := read(t)(http.DefaultClient.Do(req))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(body), &tok); err != nil || res.StatusCode != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("client credentials for %s: %d %s", id, res.StatusCode, body)
	}
	return tok.AccessToken
}

func observation(patient string, code string) []byte {
	return []byte(`{"resourceType":"Observation","status":"final",
		"code":{"coding":[{"system":"http://loinc.org","code":"` + code + `"}]},
		"subject":{"reference":"Patient/` + patient + `"},
		"effectiveDateTime":"2025-01-02T03:04:05Z","issued":"2025-01-02T03:04:05Z",
		"valueQuantity":{"value":5.4,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"}}`)
}

func runFHIRScenario(t *testing.T, dataDir, dbURL string) {
	for _, email := range []string{"alice@example.org", "bella@example.org"} {
		if out, code := ward(t, dataDir, dbURL, "add-user", "--email", email,
			"--password", "patient password 1", "--role", "patient"); code != 0 {
			t.Fatalf("add %s: %d %s", email, code, out)
		}
	}
	var app, backend, other struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	wardJSON(t, dataDir, dbURL, &app, "client", "create", "--name", "Patient App", "--public",
		"--grant", "authorization_code", "--scope", "openid fhirUser launch/patient patient/*.rs",
		"--redirect-uri", redirectURI, "--json")
	const backendScopes = "system/*.cruds system/*.$export system/*.$bulkdata-status"
	wardJSON(t, dataDir, dbURL, &backend, "client", "create", "--name", "Registry", "--grant", "client_credentials",
		"--scope", backendScopes, "--json")
	wardJSON(t, dataDir, dbURL, &other, "client", "create", "--name", "Other", "--grant", "client_credentials",
		"--scope", backendScopes, "--json")
	// One resource per file and one-second job slices make the export
	// slow enough to be killed half-way; a dead run is taken back after
	// three seconds.
	env := []string{"WARD_EXPORT_FILE_LINES=1", "WARD_EXPORT_SLICE=1s", "WARD_JOB_RESCUE_AFTER=3s"}
	srv := serveEnv(t, dataDir, dbURL, env...)
	base := srv.base
	sys := fhirClient{t, base, clientCredentials(t, base, backend.ClientID, backend.ClientSecret, backendScopes)}

	// Who is who: the two patients, by email.
	_, b := sys.want(http.StatusOK, http.MethodGet, "/fhir/Patient", nil)
	var patients struct {
		Entry []struct {
			Resource struct {
				ID      string `json:"id"`
				Telecom []struct{ Value string }
			}
		}
	}
	if err := json.Unmarshal(b, &patients); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, e := range patients.Entry {
		for _, tc := range e.Resource.Telecom {
			ids[tc.Value] = e.Resource.ID
		}
	}
	alice, bella := ids["alice@example.org"], ids["bella@example.org"]
	if alice == "" || bella == "" {
		t.Fatalf("patients not found: %s", b)
	}
	var bellaObs string
	for i, p := range []string{alice, alice, alice, bella, bella} {
		_, b := sys.want(http.StatusCreated, http.MethodPost, "/fhir/Observation", observation(p, fmt.Sprintf("2345-%d", i)))
		var o struct{ ID string }
		_ = json.Unmarshal(b, &o)
		if p == bella {
			bellaObs = o.ID
		}
	}

	// The patient app, launched with launch/patient: exactly its own record.
	conf := &oauth2.Config{ClientID: app.ClientID, RedirectURL: redirectURI,
		Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth/authorize", TokenURL: base + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams},
		Scopes:   []string{"openid", "fhirUser", "launch/patient", "patient/*.rs"}}
	verifier := oauth2.GenerateVerifier()
	loc := signInAndAllow(t, base, conf.AuthCodeURL("fhir-state-1", oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("aud", base+"/fhir")), "alice@example.org", "patient password 1")
	tok, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if got := fmt.Sprint(tok.Extra("patient")); got != alice {
		t.Fatalf("token response patient %q, want %s", got, alice)
	}
	pat := fhirClient{t, base, tok.AccessToken}
	pat.want(http.StatusOK, http.MethodGet, "/fhir/Patient/"+alice, nil)
	pat.want(http.StatusNotFound, http.MethodGet, "/fhir/Patient/"+bella, nil)
	pat.want(http.StatusNotFound, http.MethodGet, "/fhir/Observation/"+bellaObs, nil)
	if total, got := pat.searchIDs("/fhir/Observation"); total != 3 || len(got) != 3 {
		t.Errorf("the app sees %d observations %v, want Alice's 3", total, got)
	}
	if total, _ := pat.searchIDs("/fhir/Observation?patient=" + bella); total != 0 {
		t.Errorf("the app sees %d of Bella's observations", total)
	}
	pat.want(http.StatusForbidden, http.MethodPost, "/fhir/Observation", observation(alice, "1-1"))
	pat.want(http.StatusForbidden, http.MethodGet, "/fhir/$export", nil, "Prefer", "respond-async")

	// Bad kick-offs.
	for name, c := range map[string]struct {
		path string
		hdr  []string
	}{
		"no Prefer":         {"/fhir/$export", []string{"Accept", "application/fhir+json"}},
		"unknown _type":     {"/fhir/$export?_type=Foo", []string{"Prefer", "respond-async"}},
		"bad _outputFormat": {"/fhir/$export?_outputFormat=text/csv", []string{"Prefer", "respond-async"}},
		"bad _since":        {"/fhir/$export?_since=yesterday", []string{"Prefer", "respond-async"}},
	} {
		code, h, body := sys.do(http.MethodGet, c.path, nil, c.hdr...)
		if code != http.StatusBadRequest || !strings.HasPrefix(h.Get("Content-Type"), "application/fhir+json") ||
			!strings.Contains(string(body), "OperationOutcome") {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}

	// A system export with the standard headers.
	counts := exportAll(t, sys, "/fhir/$export", nil)
	if counts["Patient"] != 2 || counts["Observation"] != 5 {
		t.Errorf("export counts %v, want 2 patients and 5 observations", counts)
	}
	// Another client may neither poll nor download it.
	stranger := fhirClient{t, base, clientCredentials(t, base, other.ClientID, other.ClientSecret, backendScopes)}
	h, _ := sys.want(http.StatusAccepted, http.MethodGet, "/fhir/Patient/$export", nil, "Prefer", "respond-async", "Accept", "application/fhir+json")
	status := h.Get("Content-Location")
	stranger.want(http.StatusNotFound, http.MethodGet, status, nil)
	// Cancel: 202, then the export is gone.
	sys.want(http.StatusAccepted, http.MethodDelete, status, nil)
	sys.want(http.StatusNotFound, http.MethodGet, status, nil)

	// Crash and resume: kill the server while an export is being written,
	// start it again, and get every observation exactly once.
	for i := range 150 {
		sys.want(http.StatusCreated, http.MethodPost, "/fhir/Observation", observation(bella, fmt.Sprintf("9-%d", i)))
	}
	h, _ = sys.want(http.StatusAccepted, http.MethodGet, "/fhir/$export?_type=Observation", nil,
		"Prefer", "respond-async", "Accept", "application/fhir+json")
	status = h.Get("Content-Location")
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, h, body := sys.do(http.MethodGet, status, nil)
		if code != http.StatusAccepted {
			t.Fatalf("the export finished (%d) before the server could be killed: %.300s", code, body)
		}
		if n := writtenSoFar(h.Get("X-Progress")); n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the export made no progress: %s", h.Get("X-Progress"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv.kill()
	srv = serveAt(t, srv.addr, dataDir, dbURL, env...)
	sys.base = srv.base
	seen := map[string]int{}
	manifest := waitForManifest(t, sys, status, 120*time.Second)
	for _, out := range manifest.Output {
		for _, line := range download(t, sys, out.URL) {
			var r struct{ ID string }
			_ = json.Unmarshal(line, &r)
			seen[r.ID]++
		}
	}
	if len(seen) != 155 {
		t.Errorf("after the crash the export holds %d distinct observations, want 155", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("observation %s exported %d times", id, n)
		}
	}
	if out, code := ward(t, dataDir, dbURL, "audit", "verify"); code != 0 {
		t.Fatalf("audit verify: %d %s", code, out)
	}
}

// writtenSoFar reads "N resources written" from X-Progress.
func writtenSoFar(progress string) int {
	for _, part := range strings.Split(progress, ",") {
		f := strings.Fields(part)
		if len(f) == 3 && f[1] == "resources" && f[2] == "written" {
			n, _ := strconv.Atoi(f[0])
			return n
		}
	}
	return 0
}

type manifest struct {
	TransactionTime     string `json:"transactionTime"`
	Request             string `json:"request"`
	RequiresAccessToken bool   `json:"requiresAccessToken"`
	Output              []struct {
		Type  string `json:"type"`
		URL   string `json:"url"`
		Count int    `json:"count"`
	} `json:"output"`
	Error []json.RawMessage `json:"error"`
}

// exportAll kicks off an export, waits for it, downloads every file and
// checks every line against the official R4 schema; it returns the
// resources per type.
func exportAll(t *testing.T, c fhirClient, path string, body []byte) map[string]int {
	t.Helper()
	h, _ := c.want(http.StatusAccepted, http.MethodGet, path, body, "Prefer", "respond-async", "Accept", "application/fhir+json")
	status := h.Get("Content-Location")
	if !strings.HasPrefix(status, c.base+"/fhir/") {
		t.Fatalf("Content-Location %q", status)
	}
	m := waitForManifest(t, c, status, 60*time.Second)
	if !m.RequiresAccessToken || m.TransactionTime == "" || !strings.HasSuffix(m.Request, path) {
		t.Errorf("manifest %+v", m)
	}
	schema := testutil.FHIRSchema(t)
	counts := map[string]int{}
	for _, out := range m.Output {
		lines := download(t, c, out.URL)
		if len(lines) != out.Count {
			t.Errorf("%s: %d lines, manifest says %d", out.URL, len(lines), out.Count)
		}
		for _, line := range lines {
			if err := schema.Validate(line); err != nil {
				t.Errorf("%s: a line the R4 schema refuses: %v\n%s", out.URL, err, line)
			}
			var r struct{ ResourceType string }
			if json.Unmarshal(line, &r); r.ResourceType != out.Type {
				t.Errorf("%s: a %s in the %s file", out.URL, r.ResourceType, out.Type)
			}
			counts[out.Type]++
		}
	}
	return counts
}

func waitForManifest(t *testing.T, c fhirClient, status string, within time.Duration) manifest {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		code, h, body := c.do(http.MethodGet, status, nil)
		switch code {
		case http.StatusOK:
			var m manifest
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatalf("manifest: %v: %s", err, body)
			}
			return m
		case http.StatusAccepted:
			if h.Get("X-Progress") == "" || h.Get("Retry-After") == "" {
				t.Fatalf("202 without X-Progress and Retry-After: %v", h)
			}
		default:
			t.Fatalf("status: %d %s", code, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("export not done after %s: %s", within, h.Get("X-Progress"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// download fetches one NDJSON file and splits it into lines.
func download(t *testing.T, c fhirClient, u string) [][]byte {
	t.Helper()
	h, body := c.want(http.StatusOK, http.MethodGet, u, nil, "Accept", "application/fhir+ndjson")
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+ndjson") {
		t.Errorf("%s: Content-Type %q", u, ct)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			lines = append(lines, append([]byte(nil), sc.Bytes()...))
		}
	}
	return lines
}
