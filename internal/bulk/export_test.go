package bulk_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/testutil"
)

var (
	old    = time.Date(2019, 6, 1, 0, 0, 0, 0, time.UTC)
	recent = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
)

// seed fills the source: patients 1-4, each with observations (code "a"
// recent, code "b" old), and organizations.
func seed(src *fakeSource) {
	for p := int64(1); p <= 4; p++ {
		src.add("Patient", 1, p, recent, "")
		src.add("Observation", 2, p, recent, "a")
		src.add("Observation", 1, p, old, "b")
	}
	src.add("Organization", 5, 0, old, "")
}

const allScopes = "system/*.$export system/*.read"

func sortedIDs(ids []string) []string { s := slices.Clone(ids); slices.Sort(s); return s }

// checkIDs fails unless got holds exactly want, each once.
func checkIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(sortedIDs(got), sortedIDs(want)) {
		t.Errorf("%s: exported %v, want each of %v exactly once", what, sortedIDs(got), sortedIDs(want))
	}
}

// The whole flow on both databases: kick-off, poll, manifest, download and
// parse every line, counts against the source, downloads audited.
func TestSystemExportEndToEnd(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, envOpts{})
		seed(e.src)
		tok := e.token("t1", "backend-1", strings.Fields(allScopes)...)
		e.start()

		status := e.mustAccept(e.kickOff("/fhir/$export", tok))
		m := e.complete(status, tok)
		if m.Request != e.srv.URL+"/fhir/$export" {
			t.Errorf("manifest request %q", m.Request)
		}
		if len(m.Error) != 0 {
			t.Errorf("errors in a clean export: %+v", m.Error)
		}
		got := e.download(m, tok)
		for _, typ := range fakeTypes {
			checkIDs(t, typ, got[typ], e.src.want(typ, time.Time{}, nil, ""))
		}
		// 12 observations at 3 lines a file: 4 files, numbered in order.
		var obsFiles []string
		for _, f := range m.Output {
			if f.Type == "Observation" {
				obsFiles = append(obsFiles, f.URL[strings.LastIndex(f.URL, "/")+1:])
			}
		}
		if want := []string{"Observation-1.ndjson", "Observation-2.ndjson", "Observation-3.ndjson", "Observation-4.ndjson"}; !slices.Equal(obsFiles, want) {
			t.Errorf("observation files %v, want %v", obsFiles, want)
		}
		downloads := 0
		for _, c := range e.auditComments() {
			if strings.Contains(c, "downloaded") && strings.Contains(c, exportID(status)) {
				downloads++
			}
		}
		if downloads != len(m.Output) {
			t.Errorf("%d downloads audited, want %d", downloads, len(m.Output))
		}
	})
}

// _since, _type, _typeFilter and patient narrow what is exported.
func TestKickOffParameters(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t), envOpts{maxPerClient: 20})
	seed(e.src)
	e.groups["g1"] = []int64{2, 3}
	tok := e.token("t1", "backend-1", strings.Fields(allScopes)...)
	e.start()

	since := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		path    string
		post    []map[string]any
		want    map[string][]string
		request string
	}{
		{
			name: "_since",
			path: "/fhir/$export?_since=" + url.QueryEscape("2020-01-01T00:00:00+00:00"),
			want: map[string][]string{
				"Patient": e.src.want("Patient", since, nil, ""), "Observation": e.src.want("Observation", since, nil, ""),
			},
		},
		{
			name: "_type",
			path: "/fhir/$export?_type=Organization,Patient",
			want: map[string][]string{"Patient": e.src.want("Patient", time.Time{}, nil, ""), "Organization": e.src.want("Organization", time.Time{}, nil, "")},
		},
		{
			name: "_typeFilter",
			path: "/fhir/$export?_type=Observation&_typeFilter=" + url.QueryEscape("Observation?code=b"),
			want: map[string][]string{"Observation": e.src.want("Observation", time.Time{}, nil, "b")},
		},
		{
			name: "_typeFilter values are ORed",
			path: "/fhir/$export?_type=Observation&_typeFilter=" + url.QueryEscape("Observation?code=b") +
				"&_typeFilter=" + url.QueryEscape("Observation?_id=10"),
			want: map[string][]string{"Observation": append(e.src.want("Observation", time.Time{}, nil, "b"), "10")},
		},
		{
			name: "Patient level",
			path: "/fhir/Patient/$export",
			want: map[string][]string{"Patient": e.src.want("Patient", time.Time{}, nil, ""), "Observation": e.src.want("Observation", time.Time{}, nil, "")},
		},
		{
			name: "patient parameter",
			path: "/fhir/Patient/$export",
			post: []map[string]any{
				{"name": "patient", "valueReference": map[string]any{"reference": "Patient/1"}},
				{"name": "patient", "valueReference": map[string]any{"reference": "Patient/4"}},
				{"name": "_type", "valueString": "Observation"},
				{"name": "_outputFormat", "valueString": "ndjson"},
			},
			want: map[string][]string{"Observation": e.src.want("Observation", time.Time{}, []int64{1, 4}, "")},
		},
		{
			name: "Group level",
			path: "/fhir/Group/g1/$export?_outputFormat=" + url.QueryEscape("application/fhir+ndjson"),
			want: map[string][]string{"Patient": e.src.want("Patient", time.Time{}, []int64{2, 3}, ""), "Observation": e.src.want("Observation", time.Time{}, []int64{2, 3}, "")},
		},
		{
			name: "POST with _since",
			path: "/fhir/$export",
			post: []map[string]any{{"name": "_since", "valueInstant": "2020-01-01T00:00:00Z"}, {"name": "_type", "valueString": "Observation"}},
			want: map[string][]string{"Observation": e.src.want("Observation", since, nil, "")},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var resp *http.Response
			if tc.post != nil {
				resp = e.kickOffPost(tc.path, tok, tc.post...)
			} else {
				resp = e.kickOff(tc.path, tok)
			}
			m := e.complete(e.mustAccept(resp), tok)
			if want := e.srv.URL + tc.path; m.Request != want {
				t.Errorf("manifest request %q, want %q", m.Request, want)
			}
			got := e.download(m, tok)
			for _, typ := range fakeTypes {
				checkIDs(t, typ, got[typ], tc.want[typ])
			}
		})
	}
}

// Group export with patients outside the group: they are left out and
// reported in an error file.
func TestGroupExportNonMembersInErrorFile(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t), envOpts{})
	seed(e.src)
	e.groups["g1"] = []int64{2, 3}
	tok := e.token("t1", "backend-1", "system/Group.$export", "system/Observation.read")
	e.start()
	m := e.complete(e.mustAccept(e.kickOffPost("/fhir/Group/g1/$export", tok,
		map[string]any{"name": "patient", "valueReference": map[string]any{"reference": "Patient/2"}},
		map[string]any{"name": "patient", "valueReference": map[string]any{"reference": "Patient/4"}},
	)), tok)
	checkIDs(t, "Observation", e.download(m, tok)["Observation"], e.src.want("Observation", time.Time{}, []int64{2}, ""))
	if len(m.Error) != 1 || m.Error[0].Type != "OperationOutcome" {
		t.Fatalf("error files %+v, want one OperationOutcome file", m.Error)
	}
	lines := e.fetchLines(m.Error[0].URL, tok)
	if len(lines) != 1 || lines[0]["resourceType"] != "OperationOutcome" || !strings.Contains(toJSON(t, lines[0]), "Patient/4") {
		t.Errorf("error file %v, want one OperationOutcome naming Patient/4", lines)
	}
}

// A type the source cannot filter goes to an error file; the others are
// exported.
func TestTypeFailureGoesToErrorFile(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t), envOpts{})
	seed(e.src)
	tok := e.token("t1", "backend-1", strings.Fields(allScopes)...)
	e.start()
	m := e.complete(e.mustAccept(e.kickOff("/fhir/$export?_typeFilter="+url.QueryEscape("Observation?date=ge2020"), tok)), tok)
	got := e.download(m, tok)
	checkIDs(t, "Patient", got["Patient"], e.src.want("Patient", time.Time{}, nil, ""))
	if len(got["Observation"]) != 0 {
		t.Errorf("observations exported despite the failure: %v", got["Observation"])
	}
	if len(m.Error) != 1 {
		t.Fatalf("error files %+v, want one", m.Error)
	}
	lines := e.fetchLines(m.Error[0].URL, tok)
	if len(lines) != 1 || lines[0]["resourceType"] != "OperationOutcome" || !strings.Contains(toJSON(t, lines[0]), "Observation") {
		t.Errorf("error file %v", lines)
	}
}

// An export whose job keeps failing ends failed: status answers 500 with
// an OperationOutcome.
func TestFailedExportStatus(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t), envOpts{maxAttempts: 1})
	seed(e.src)
	e.src.alwaysFail = true
	tok := e.token("t1", "backend-1", strings.Fields(allScopes)...)
	e.start()
	resp := e.poll(e.mustAccept(e.kickOff("/fhir/$export", tok)), tok)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("failed export status %d, want 500", resp.StatusCode)
	}
	oo := outcome(t, resp)
	if strings.Contains(oo.Issue[0].Diagnostics, "broken") {
		t.Errorf("failure leaks the internal cause: %q", oo.Issue[0].Diagnostics)
	}
}

// Every bad kick-off is a 400 OperationOutcome, and creates nothing.
func TestKickOffBadInput(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t), envOpts{})
	seed(e.src)
	e.groups["g1"] = []int64{1}
	tok := e.token("t1", "backend-1", strings.Fields(allScopes)...)
	ref := func(r string) map[string]any {
		return map[string]any{"name": "patient", "valueReference": map[string]any{"reference": r}}
	}
	for _, tc := range []struct {
		name   string
		method string
		path   string
		hdr    []string
		body   string
		post   []map[string]any
		// mention must appear in the diagnostics.
		mention string
	}{
		{name: "no Prefer", path: "/fhir/$export", hdr: []string{"Accept", "application/fhir+json"}, mention: "respond-async"},
		{name: "Prefer without respond-async", path: "/fhir/$export", hdr: []string{"Prefer", "return=minimal"}, mention: "respond-async"},
		{name: "Accept not FHIR JSON", path: "/fhir/$export", hdr: []string{"Prefer", "respond-async", "Accept", "text/html"}, mention: "Accept"},
		{name: "unknown _type", path: "/fhir/$export?_type=Patient,Spaceship", mention: "Spaceship"},
		{name: "empty _type", path: "/fhir/$export?_type=", mention: "_type"},
		{name: "unsupported _outputFormat", path: "/fhir/$export?_outputFormat=text/csv", mention: "_outputFormat"},
		{name: "_outputFormat twice", path: "/fhir/$export?_outputFormat=ndjson&_outputFormat=ndjson", mention: "_outputFormat"},
		{name: "_since a date", path: "/fhir/$export?_since=2024-01-01", mention: "_since"},
		{name: "_since without zone", path: "/fhir/$export?_since=2024-01-01T10:00:00", mention: "_since"},
		{name: "_since impossible day", path: "/fhir/$export?_since=2024-02-30T10:00:00Z", mention: "_since"},
		{name: "_typeFilter unknown parameter", path: "/fhir/$export?_typeFilter=" + url.QueryEscape("Observation?colour=red"), mention: "colour"},
		{name: "_typeFilter bad date", path: "/fhir/$export?_typeFilter=" + url.QueryEscape("Observation?date=yesterday"), mention: "date"},
		{name: "_typeFilter without query", path: "/fhir/$export?_typeFilter=Observation", mention: "_typeFilter"},
		{name: "_typeFilter with _count", path: "/fhir/$export?_typeFilter=" + url.QueryEscape("Observation?_count=5"), mention: "_count"},
		{name: "_typeFilter type outside _type", path: "/fhir/$export?_type=Patient&_typeFilter=" + url.QueryEscape("Observation?code=a"), mention: "_type"},
		{name: "_typeFilter unknown type", path: "/fhir/$export?_typeFilter=" + url.QueryEscape("Spaceship?code=a"), mention: "Spaceship"},
		{name: "unknown parameter", path: "/fhir/$export?_elements=id", mention: "_elements"},
		{name: "patient in a GET", path: "/fhir/Patient/$export?patient=Patient/1", mention: "POST"},
		{name: "Patient level non-compartment type", path: "/fhir/Patient/$export?_type=Organization", mention: "Organization"},
		{name: "patient at system level", method: http.MethodPost, path: "/fhir/$export", post: []map[string]any{ref("Patient/1")}, mention: "patient"},
		{name: "patient not a Patient reference", method: http.MethodPost, path: "/fhir/Patient/$export", post: []map[string]any{ref("Group/1")}, mention: "patient"},
		{name: "patient with the wrong value type", method: http.MethodPost, path: "/fhir/Patient/$export",
			post: []map[string]any{{"name": "patient", "valueString": "Patient/1"}}, mention: "valueReference"},
		{name: "_since as a string in POST", method: http.MethodPost, path: "/fhir/$export",
			post: []map[string]any{{"name": "_since", "valueString": "2024-01-01T00:00:00Z"}}, mention: "valueInstant"},
		{name: "POST body not Parameters", method: http.MethodPost, path: "/fhir/$export", body: `{"resourceType":"Patient"}`, mention: "Parameters"},
		{name: "POST body not JSON", method: http.MethodPost, path: "/fhir/$export", body: `{"resourceType":`, mention: "Parameters"},
		{name: "POST with a query string", method: http.MethodPost, path: "/fhir/$export?_type=Patient", post: []map[string]any{}, mention: "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.countExports()
			hdr := tc.hdr
			if hdr == nil {
				hdr = asyncHeaders
			}
			var resp *http.Response
			if tc.method == http.MethodPost {
				body := []byte(tc.body)
				if tc.body == "" {
					body = []byte(toJSON(t, map[string]any{"resourceType": "Parameters", "parameter": tc.post}))
				}
				resp = e.do(http.MethodPost, tc.path, tok, body, append(hdr, "Content-Type", "application/fhir+json")...)
			} else {
				resp = e.do(http.MethodGet, tc.path, tok, nil, hdr...)
			}
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", resp.StatusCode, readAll(t, resp))
			}
			oo := outcome(t, resp)
			var diag strings.Builder
			for _, is := range oo.Issue {
				diag.WriteString(is.Diagnostics + " ")
			}
			if !strings.Contains(diag.String(), tc.mention) {
				t.Errorf("diagnostics %q do not mention %q", diag.String(), tc.mention)
			}
			if after := e.countExports(); after != before {
				t.Errorf("a refused kick-off created %d exports", after-before)
			}
		})
	}

	// Beside the refusals, what the spec allows passes: no Accept header
	// (the server may default it) and an unknown parameter under
	// Prefer: handling=lenient.
	resp := e.do(http.MethodGet, "/fhir/$export", tok, nil, "Prefer", "respond-async")
	e.mustAccept(resp)
	resp = e.do(http.MethodGet, "/fhir/$export?_elements=id", tok, nil, "Prefer", "respond-async, handling=lenient", "Accept", "application/fhir+json")
	e.mustAccept(resp)
	resp = e.kickOff("/fhir/Group/nope/$export", tok)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown group: status %d, want 404", resp.StatusCode)
	}
}

// The per-client cap answers 429 with Retry-After; other clients are not
// held up.
func TestConcurrentExportCap(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t), envOpts{maxPerClient: 2})
	seed(e.src)
	tok := e.token("t1", "backend-1", strings.Fields(allScopes)...)
	other := e.token("t2", "backend-2", strings.Fields(allScopes)...)
	// The runner is not started, so the exports stay accepted.
	e.mustAccept(e.kickOff("/fhir/$export", tok))
	first := e.mustAccept(e.kickOff("/fhir/$export", tok))
	resp := e.kickOff("/fhir/$export", tok)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third export: status %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	outcome(t, resp)
	e.mustAccept(e.kickOff("/fhir/$export", other))
	// A cancelled export no longer counts.
	if resp := e.do(http.MethodDelete, first, tok, nil); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	e.mustAccept(e.kickOff("/fhir/$export", tok))
}

// Cancelling answers 202, removes the files, and the export is gone.
func TestCancel(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, envOpts{})
		seed(e.src)
		tok := e.token("t1", "backend-1", strings.Fields(allScopes)...)
		e.start()
		status := e.mustAccept(e.kickOff("/fhir/$export", tok))
		m := e.complete(status, tok)
		id := exportID(status)
		if keys, _ := e.blobs.List(context.Background(), "exports/"+id); len(keys) == 0 {
			t.Fatal("no files before cancelling")
		}
		resp := e.do(http.MethodDelete, status, tok, nil)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("cancel: status %d, want 202", resp.StatusCode)
		}
		if keys, _ := e.blobs.List(context.Background(), "exports/"+id); len(keys) != 0 {
			t.Errorf("files left after cancelling: %v", keys)
		}
		if resp := e.do(http.MethodGet, status, tok, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("status after cancel: %d, want 404", resp.StatusCode)
		} else {
			outcome(t, resp)
		}
		if resp := e.do(http.MethodGet, m.Output[0].URL, tok, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("file after cancel: %d, want 404", resp.StatusCode)
		}
		if resp := e.do(http.MethodDelete, status, tok, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("second cancel: %d, want 404", resp.StatusCode)
		}
		// The cleanup job removes the row.
		if n, err := e.engine.Cleanup(context.Background()); err != nil || n != 1 {
			t.Errorf("cleanup after cancel: %d, %v; want 1", n, err)
		}
	})
}

// A cancel while the job runs stops it, and the job removes what it wrote.
func TestCancelWhileRunning(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t), envOpts{linesPerFile: 1})
	seed(e.src)
	gate := make(chan struct{})
	e.src.gate = gate
	tok := e.token("t1", "backend-1", strings.Fields(allScopes)...)
	status := e.mustAccept(e.kickOff("/fhir/$export", tok))
	id := exportID(status)
	done := make(chan error, 1)
	go func() { done <- e.engine.Run(context.Background(), id) }()
	// Let three resources through: three one-line files are committed.
	for range 3 {
		gate <- struct{}{}
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		keys, _ := e.blobs.List(context.Background(), "exports/"+id)
		if len(keys) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no files while running")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if resp := e.do(http.MethodDelete, status, tok, nil); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatalf("run after cancel: %v", err)
	}
	if keys, _ := e.blobs.List(context.Background(), "exports/"+id); len(keys) != 0 {
		t.Errorf("files left after the job saw the cancel: %v", keys)
	}
}

// Status, cancel and files belong to the exporting client; every allowed
// case has its denied neighbour.
func TestAccess(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t), envOpts{maxPerClient: 50})
	seed(e.src)
	e.groups["g1"] = []int64{1}
	owner := e.token("owner", "backend-1", strings.Fields(allScopes)...)
	e.start()
	status := e.mustAccept(e.kickOff("/fhir/$export", owner))
	m := e.complete(status, owner)
	fileURL := m.Output[0].URL

	e.tokens["user-token"] = e.tokens[owner]
	userTok := e.tokens["user-token"]
	userTok.ClientID = ""
	userTok.UserID = 5
	e.tokens["no-client"] = userTok

	for _, tc := range []struct {
		name   string
		method string
		path   string
		scopes []string
		client string
		want   int
	}{
		{"no token", http.MethodGet, "/fhir/$export", nil, "", http.StatusUnauthorized},
		{"system export with system/*.$export", http.MethodGet, "/fhir/$export", []string{"system/*.$export", "system/Patient.read"}, "c2", http.StatusAccepted},
		{"system export with system/Patient.$export", http.MethodGet, "/fhir/$export", []string{"system/Patient.$export", "system/Patient.read"}, "c2", http.StatusForbidden},
		{"system export with user/*.$export", http.MethodGet, "/fhir/$export", []string{"user/*.$export", "system/Patient.read"}, "c2", http.StatusForbidden},
		{"Patient export with system/Patient.$export", http.MethodGet, "/fhir/Patient/$export", []string{"system/Patient.$export", "system/Patient.read"}, "c2", http.StatusAccepted},
		{"Patient export with system/Group.$export", http.MethodGet, "/fhir/Patient/$export", []string{"system/Group.$export", "system/Patient.read"}, "c2", http.StatusForbidden},
		{"Group export with system/Group.$export", http.MethodGet, "/fhir/Group/g1/$export", []string{"system/Group.$export", "system/Patient.read"}, "c2", http.StatusAccepted},
		{"Group export with system/Patient.$export", http.MethodGet, "/fhir/Group/g1/$export", []string{"system/Patient.$export", "system/Patient.read"}, "c2", http.StatusForbidden},
		{"_type readable", http.MethodGet, "/fhir/$export?_type=Observation", []string{"system/*.$export", "system/Observation.rs"}, "c2", http.StatusAccepted},
		{"_type not readable", http.MethodGet, "/fhir/$export?_type=Observation", []string{"system/*.$export", "system/Patient.read"}, "c2", http.StatusForbidden},
		{"_type readable only through user/", http.MethodGet, "/fhir/$export?_type=Observation", []string{"system/*.$export", "user/Observation.read"}, "c2", http.StatusForbidden},
		{"_typeFilter type not readable", http.MethodGet, "/fhir/$export?_typeFilter=" + url.QueryEscape("Observation?code=a"), []string{"system/*.$export", "system/Patient.read"}, "c2", http.StatusForbidden},
		{"no type readable", http.MethodGet, "/fhir/$export", []string{"system/*.$export"}, "c2", http.StatusForbidden},
		{"status by the owner", http.MethodGet, status, []string{"system/*.$export"}, "backend-1", http.StatusOK},
		{"status by the owner with the status scope only", http.MethodGet, status, []string{"system/*.$bulkdata-status"}, "backend-1", http.StatusOK},
		{"status by the owner without either scope", http.MethodGet, status, []string{"system/*.read"}, "backend-1", http.StatusForbidden},
		{"status by another client", http.MethodGet, status, strings.Fields(allScopes + " system/*.$bulkdata-status"), "backend-2", http.StatusNotFound},
		{"status of an unknown export", http.MethodGet, "/fhir/$bulkdata-status/00000000-0000-4000-8000-000000000000", strings.Fields(allScopes), "backend-1", http.StatusNotFound},
		{"file by the owner", http.MethodGet, fileURL, []string{"system/*.read"}, "backend-1", http.StatusOK},
		{"file by another client", http.MethodGet, fileURL, strings.Fields(allScopes), "backend-2", http.StatusNotFound},
		{"file without a token", http.MethodGet, fileURL, nil, "", http.StatusUnauthorized},
		{"file name not in the export", http.MethodGet, strings.Replace(fileURL, "-1.ndjson", "-99.ndjson", 1), nil, "backend-1", http.StatusNotFound},
		{"cancel by another client", http.MethodDelete, status, strings.Fields(allScopes), "backend-2", http.StatusNotFound},
		{"cancel by the owner without either scope", http.MethodDelete, status, []string{"system/*.read"}, "backend-1", http.StatusForbidden},
		{"cancel by the owner", http.MethodDelete, status, []string{"system/*.$export"}, "backend-1", http.StatusAccepted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := ""
			if tc.client != "" {
				tok = e.token("tok-"+tc.name, tc.client, tc.scopes...)
			}
			var resp *http.Response
			if tc.method == http.MethodDelete || strings.Contains(tc.path, "$bulkdata") {
				resp = e.do(tc.method, tc.path, tok, nil)
			} else {
				resp = e.kickOff(tc.path, tok)
			}
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.want, readAll(t, resp))
			}
			if tc.want >= 400 {
				outcome(t, resp)
			}
		})
	}
	// A user's session (no client) may not export even with the scopes.
	if resp := e.kickOff("/fhir/$export", "no-client"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("export without a client: %d, want 401", resp.StatusCode)
	}
}

// A job that stops mid-export resumes from its last checkpoint: every
// resource is in exactly one file, and no stray file is left.
func TestCrashAndResume(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		for _, crashAt := range []int{2, 4, 7, 13} {
			e := newEnv(t, dbURL, envOpts{maxPerClient: 10})
			seed(e.src)
			tok := e.token("t1", "backend-1", strings.Fields(allScopes)...)
			status := e.mustAccept(e.kickOff("/fhir/$export", tok))
			id := exportID(status)

			e.src.mu.Lock()
			e.src.failAfter = crashAt
			e.src.mu.Unlock()
			if err := e.engine.Run(context.Background(), id); err == nil {
				t.Fatalf("crash at %d: the run did not fail", crashAt)
			}
			// The status shows the export still in progress.
			resp := e.do(http.MethodGet, status, tok, nil)
			if resp.StatusCode != http.StatusAccepted || !strings.Contains(resp.Header.Get("X-Progress"), "in progress") {
				t.Fatalf("crash at %d: status %d %q, want 202 in progress", crashAt, resp.StatusCode, resp.Header.Get("X-Progress"))
			}
			if err := e.engine.Run(context.Background(), id); err != nil {
				t.Fatalf("crash at %d: resume: %v", crashAt, err)
			}
			m := e.complete(status, tok)
			got := e.download(m, tok)
			for _, typ := range fakeTypes {
				checkIDs(t, typ, got[typ], e.src.want(typ, time.Time{}, nil, ""))
			}
			keys, err := e.blobs.List(context.Background(), "exports/"+id)
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != len(m.Output) {
				t.Errorf("crash at %d: %d files stored, %d in the manifest: %v", crashAt, len(keys), len(m.Output), keys)
			}
		}
	})
}

// Through River: the job fails mid-way, River retries it, and it finishes
// from its checkpoint.
func TestRiverRetriesAndResumes(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, envOpts{})
		seed(e.src)
		e.src.failAfter = 8
		tok := e.token("t1", "backend-1", strings.Fields(allScopes)...)
		e.start()
		m := e.complete(e.mustAccept(e.kickOff("/fhir/$export", tok)), tok)
		got := e.download(m, tok)
		for _, typ := range fakeTypes {
			checkIDs(t, typ, got[typ], e.src.want(typ, time.Time{}, nil, ""))
		}
	})
}

// A lost database connection mid-export (apperr.Unavailable) is not a
// refusal of the type: the job fails, River retries it from the last
// checkpoint, and every resource is exported with no error file.
func TestUnavailableSourceRetriesNotErrorFile(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t), envOpts{})
	seed(e.src)
	e.src.failAfter = 8
	e.src.failErr = apperr.Wrap(apperr.Unavailable, io.ErrUnexpectedEOF, "the database is unavailable; retry shortly")
	tok := e.token("t1", "backend-1", strings.Fields(allScopes)...)
	e.start()
	m := e.complete(e.mustAccept(e.kickOff("/fhir/$export", tok)), tok)
	got := e.download(m, tok)
	for _, typ := range fakeTypes {
		checkIDs(t, typ, got[typ], e.src.want(typ, time.Time{}, nil, ""))
	}
	if len(m.Error) != 0 {
		t.Errorf("error files %+v after a lost connection, want none", m.Error)
	}
}

// Expired exports are removed by the cleanup, files and rows; unexpired
// ones stay.
func TestExpiryCleanup(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, envOpts{})
		seed(e.src)
		tok := e.token("t1", "backend-1", strings.Fields(allScopes)...)
		status := e.mustAccept(e.kickOff("/fhir/$export", tok))
		id := exportID(status)
		if err := e.engine.Run(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		m := e.complete(status, tok)

		e.clock.Advance(59 * time.Minute)
		if n, err := e.engine.Cleanup(context.Background()); err != nil || n != 0 {
			t.Fatalf("cleanup before expiry: %d, %v; want 0", n, err)
		}
		if resp := e.do(http.MethodGet, m.Output[0].URL, tok, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("file before expiry: %d", resp.StatusCode)
		}

		e.clock.Advance(time.Minute)
		// Past expiry the export is gone at once, before the job runs.
		if resp := e.do(http.MethodGet, m.Output[0].URL, tok, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("file at expiry: %d, want 404", resp.StatusCode)
		}
		if n, err := e.engine.Cleanup(context.Background()); err != nil || n != 1 {
			t.Fatalf("cleanup at expiry: %d, %v; want 1", n, err)
		}
		if keys, _ := e.blobs.List(context.Background(), "exports/"+id); len(keys) != 0 {
			t.Errorf("files left after cleanup: %v", keys)
		}
		if _, err := e.db.GetExport(context.Background(), id); err == nil {
			t.Error("export row left after cleanup")
		}
		if resp := e.do(http.MethodGet, status, tok, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("status after cleanup: %d, want 404", resp.StatusCode)
		}
	})
}

// The cleanup runs as a River job too.
func TestCleanupJobRuns(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t), envOpts{})
	seed(e.src)
	tok := e.token("t1", "backend-1", strings.Fields(allScopes)...)
	status := e.mustAccept(e.kickOff("/fhir/$export", tok))
	if resp := e.do(http.MethodDelete, status, tok, nil); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	// The periodic cleanup runs on start.
	e.start()
	deadline := time.Now().Add(waitTimeout)
	for e.countExports() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the cleanup job did not delete the cancelled export")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// An export longer than a job's slice snoozes and resumes, slice after
// slice, with no attempt used up and every resource written once.
func TestLongExportRunsInSlices(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t), envOpts{slice: 150 * time.Millisecond, maxAttempts: 1})
	seed(e.src)
	e.src.delay = 25 * time.Millisecond // 21 resources: several slices
	tok := e.token("t1", "backend-1", strings.Fields(allScopes)...)
	e.start()
	m := e.complete(e.mustAccept(e.kickOff("/fhir/$export", tok)), tok)
	got := e.download(m, tok)
	for _, typ := range fakeTypes {
		checkIDs(t, typ, got[typ], e.src.want(typ, time.Time{}, nil, ""))
	}
}

// Patient-level export naming a patient the server does not have: the
// others are exported and the unknown one is reported in an error file.
func TestPatientExportUnknownPatientInErrorFile(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t), envOpts{})
	seed(e.src)
	tok := e.token("t1", "backend-1", "system/Patient.$export", "system/Observation.read")
	e.start()
	m := e.complete(e.mustAccept(e.kickOffPost("/fhir/Patient/$export", tok,
		map[string]any{"name": "patient", "valueReference": map[string]any{"reference": "Patient/3"}},
		map[string]any{"name": "patient", "valueReference": map[string]any{"reference": "Patient/99"}},
	)), tok)
	checkIDs(t, "Observation", e.download(m, tok)["Observation"], e.src.want("Observation", time.Time{}, []int64{3}, ""))
	if len(m.Error) != 1 {
		t.Fatalf("error files %+v, want one", m.Error)
	}
	text := toJSON(t, e.fetchLines(m.Error[0].URL, tok))
	if !strings.Contains(text, "Patient/99") || strings.Contains(text, "Patient/3") {
		t.Errorf("error file %s, want it to name Patient/99 only", text)
	}
}

// A server stopped mid-export (its jobs cancelled at the shutdown
// deadline) leaves the job to the next server, which finishes it from the
// last checkpoint: every resource once.
func TestServerStoppedMidExportResumes(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL, envOpts{maxAttempts: 1})
		seed(e.src)
		gate := make(chan struct{})
		e.src.mu.Lock()
		e.src.gate = gate
		e.src.mu.Unlock()
		tok := e.token("t1", "backend-1", strings.Fields(allScopes)...)
		e.start()
		status := e.mustAccept(e.kickOff("/fhir/$export", tok))
		for range 7 {
			select {
			case gate <- struct{}{}:
			case <-time.After(waitTimeout):
				t.Fatal("the job did not start")
			}
		}
		// Stop with a deadline already near: the running job is cancelled.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_ = e.runner.Stop(ctx)
		cancel()
		if resp := e.do(http.MethodGet, status, tok, nil); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status after the stop: %d, want 202", resp.StatusCode)
		}

		e.src.mu.Lock()
		e.src.gate = nil
		e.src.mu.Unlock()
		e.runner = e.newRunner()
		e.start()
		m := e.complete(status, tok)
		got := e.download(m, tok)
		for _, typ := range fakeTypes {
			checkIDs(t, typ, got[typ], e.src.want(typ, time.Time{}, nil, ""))
		}
	})
}

// A file is served only to the exporting client, with a token whose system
// read scopes cover the file's type (Bulk Data 2.0, SHALL): a status-only or
// other-type token is refused with an OperationOutcome.
func TestFileNeedsReadScopeOfItsType(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t), envOpts{})
	seed(e.src)
	owner := e.token("owner", "backend-1", strings.Fields(allScopes)...)
	e.start()
	m := e.complete(e.mustAccept(e.kickOff("/fhir/$export?_type=Patient,Observation", owner)), owner)
	fileOf := map[string]string{}
	for _, f := range m.Output {
		fileOf[f.Type] = f.URL
	}
	if fileOf["Patient"] == "" || fileOf["Observation"] == "" {
		t.Fatalf("output %+v, want Patient and Observation files", m.Output)
	}
	for _, tc := range []struct {
		name   string
		client string
		scopes []string
		file   string
		want   int
	}{
		{"Observation-only token, Patient file", "backend-1", []string{"system/Observation.read"}, "Patient", http.StatusForbidden},
		{"Observation-only token, Observation file", "backend-1", []string{"system/Observation.read"}, "Observation", http.StatusOK},
		{"SMART v2 rs token, Observation file", "backend-1", []string{"system/Observation.rs"}, "Observation", http.StatusOK},
		{"status-only token, Patient file", "backend-1", []string{"system/*.$bulkdata-status"}, "Patient", http.StatusForbidden},
		{"export-only token, Patient file", "backend-1", []string{"system/*.$export"}, "Patient", http.StatusForbidden},
		{"user/ read scope, Patient file", "backend-1", []string{"user/Patient.read"}, "Patient", http.StatusForbidden},
		{"patient/ read scope, Patient file", "backend-1", []string{"patient/Patient.read"}, "Patient", http.StatusForbidden},
		{"wildcard read, Patient file", "backend-1", []string{"system/*.read"}, "Patient", http.StatusOK},
		{"another client with every scope", "backend-2", strings.Fields(allScopes + " system/*.$bulkdata-status"), "Patient", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.do(http.MethodGet, fileOf[tc.file], e.token("tok-"+tc.name, tc.client, tc.scopes...), nil)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.want, readAll(t, resp))
			}
			if tc.want >= 400 {
				outcome(t, resp)
			}
		})
	}
}

// Under Prefer: handling=lenient every parameter ignored, an unsupported
// _outputFormat included, is reported in the manifest's error array as an
// OperationOutcome (Bulk Data 2.0 SHOULD); without it they are refused.
func TestLenientIgnoredParametersInManifest(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t), envOpts{})
	seed(e.src)
	tok := e.token("t1", "backend-1", strings.Fields(allScopes)...)
	e.start()
	query := "/fhir/$export?_type=Patient&_elements=id&includeAssociatedData=LatestProvenanceResources&_outputFormat=" + url.QueryEscape("text/csv")
	if resp := e.kickOff(query, tok); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("strict kick-off: status %d, want 400", resp.StatusCode)
	}
	m := e.complete(e.mustAccept(e.do(http.MethodGet, query, tok, nil,
		"Prefer", "respond-async, handling=lenient", "Accept", "application/fhir+json")), tok)
	checkIDs(t, "Patient", e.download(m, tok)["Patient"], e.src.want("Patient", time.Time{}, nil, ""))
	if len(m.Error) != 1 || m.Error[0].Type != "OperationOutcome" || m.Error[0].Count != 3 {
		t.Fatalf("error files %+v, want one OperationOutcome file of 3", m.Error)
	}
	lines := e.fetchLines(m.Error[0].URL, tok)
	var got []string
	for _, l := range lines {
		is := l["issue"].([]any)[0].(map[string]any)
		if is["severity"] != "warning" || is["code"] != "not-supported" {
			t.Errorf("issue %v, want a not-supported warning", is)
		}
		got = append(got, is["expression"].([]any)[0].(string))
	}
	if want := []string{"_elements", "_outputFormat", "includeAssociatedData"}; !slices.Equal(got, want) {
		t.Errorf("ignored parameters reported %v, want %v", got, want)
	}
	if !strings.Contains(toJSON(t, lines), "text/csv") {
		t.Errorf("error file %v does not name the unsupported format", lines)
	}

	// A lenient kick-off that ignores nothing has an empty error array.
	m = e.complete(e.mustAccept(e.do(http.MethodGet, "/fhir/$export?_type=Patient", tok, nil,
		"Prefer", "respond-async, handling=lenient", "Accept", "application/fhir+json")), tok)
	if len(m.Error) != 0 {
		t.Errorf("error files %+v, want none", m.Error)
	}
}

// A running export's Retry-After starts at 1s and backs off as the export
// ages, up to the configured RetryAfter: a small export is not told to wait
// 10s. The 429 of the per-client cap keeps the full RetryAfter.
func TestRetryAfterBacksOff(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t), envOpts{retryAfter: 10 * time.Second, maxPerClient: 1})
	seed(e.src)
	tok := e.token("t1", "backend-1", strings.Fields(allScopes)...)
	// The runner is not started: the export stays accepted while the
	// clock moves.
	status := e.mustAccept(e.kickOff("/fhir/$export", tok))
	var age time.Duration
	for _, step := range []struct {
		advance time.Duration
		want    string
	}{
		{0, "1"},
		{50 * time.Millisecond, "1"},
		{1500 * time.Millisecond, "1"},
		{500 * time.Millisecond, "2"}, // 2.05s
		{2 * time.Second, "4"},        // 4.05s
		{4 * time.Second, "8"},        // 8.05s
		{2 * time.Second, "10"},       // 10.05s: the cap
		{time.Hour, "10"},
	} {
		e.clock.Advance(step.advance)
		age += step.advance
		resp := e.do(http.MethodGet, status, tok, nil)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status %d, want 202", resp.StatusCode)
		}
		if got := resp.Header.Get("Retry-After"); got != step.want {
			t.Errorf("after %s: Retry-After %q, want %q", age, got, step.want)
		}
	}
	resp := e.kickOff("/fhir/$export", tok)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "10" {
		t.Errorf("over the cap: status %d, Retry-After %q; want 429 with 10", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
