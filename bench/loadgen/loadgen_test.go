package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// run runs loadgen with args and returns its result.
func run(t *testing.T, args ...string) *result {
	t.Helper()
	cfg, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatalf("parseFlags(%q): %v", args, err)
	}
	res, err := runScenario(context.Background(), cfg)
	if err != nil {
		t.Fatalf("runScenario: %v", err)
	}
	return res
}

func TestAuthCodeRoundTrip(t *testing.T) {
	f := newFakeWard(t)
	res := run(t, f.args(scenarioAuthCode, "-n", "6", "-c", "2")...)
	if res.Ops != 6 || res.Errors != 0 {
		t.Fatalf("ops %d errors %d (%q), want 6 and 0", res.Ops, res.Errors, res.ErrorSamples)
	}
	// Each fresh round: authorize, login page, login, authorize, consent, token.
	if got := f.logins.Load(); got != 6 {
		t.Errorf("%d sign-ins, want one per round (6)", got)
	}
	if res.HTTPRequests != 36 {
		t.Errorf("%d HTTP requests, want 36", res.HTTPRequests)
	}
	for step, n := range map[string]int{"authorize": 12, "page": 6, "login": 6, "consent": 6, "token": 6} {
		if res.Steps[step].N != n {
			t.Errorf("step %s: %d requests, want %d (steps %v)", step, res.Steps[step].N, n, res.Steps)
		}
	}
	if got := f.count("POST /oauth2/token"); got != 6 {
		t.Errorf("server saw %d token requests, want 6", got)
	}
}

func TestAuthCodeReuseSessionRememberedConsent(t *testing.T) {
	f := newFakeWard(t)
	f.rememberConsent = true
	res := run(t, f.args(scenarioAuthCode, "-n", "10", "-c", "2", "-session", "reuse")...)
	if res.Ops != 10 || res.Errors != 0 {
		t.Fatalf("ops %d errors %d (%q), want 10 and 0", res.Ops, res.Errors, res.ErrorSamples)
	}
	// One sign-in and one consent per worker that took a round; later
	// rounds go straight from authorize to the redirect. Workers draw
	// rounds from one counter, so on a busy machine one worker may take
	// all ten before the other starts: one or two, never one per round.
	logins := f.logins.Load()
	if logins < 1 || logins > 2 {
		t.Errorf("%d sign-ins, want one per worker (1 or 2)", logins)
	}
	if got := f.count("POST /oauth2/consent"); int64(got) != int64(logins) {
		t.Errorf("%d consents, want one per sign-in (%d)", got, logins)
	}
}

func TestAuthCodePublicClient(t *testing.T) {
	f := newFakeWard(t)
	f.publicClient = true
	res := run(t, f.args(scenarioAuthCode, "-n", "3")...)
	if res.Ops != 3 || res.Errors != 0 {
		t.Fatalf("ops %d errors %d (%q), want 3 and 0", res.Ops, res.Errors, res.ErrorSamples)
	}
}

func TestAuthCodeWrongPassword(t *testing.T) {
	f := newFakeWard(t)
	args := f.args(scenarioAuthCode, "-n", "4")
	args = append(args, "-password", "wrong")
	res := run(t, args...)
	if res.Ops != 4 || res.Errors != 4 {
		t.Fatalf("ops %d errors %d, want 4 and 4", res.Ops, res.Errors)
	}
	if len(res.ErrorSamples) != 3 || !strings.Contains(res.ErrorSamples[0], "login: HTTP 401") ||
		!strings.Contains(res.ErrorSamples[0], "incorrect") {
		t.Fatalf("error samples %q, want 3 naming the failed login and its body", res.ErrorSamples)
	}
}

func TestClientCredentials(t *testing.T) {
	f := newFakeWard(t)
	res := run(t, f.args(scenarioCC, "-n", "50", "-c", "4")...)
	if res.Ops != 50 || res.Errors != 0 || res.HTTPRequests != 50 {
		t.Fatalf("ops %d errors %d http %d (%q), want 50, 0, 50", res.Ops, res.Errors, res.HTTPRequests, res.ErrorSamples)
	}
	if res.RPS <= 0 || res.Latency.N != 50 || res.Latency.Max < res.Latency.P99 || res.Latency.P99 < res.Latency.P50 {
		t.Fatalf("implausible figures: %+v", res)
	}
}

func TestClientCredentialsBadSecret(t *testing.T) {
	f := newFakeWard(t)
	args := append(f.args(scenarioCC, "-n", "5", "-show-errors", "2"), "-client-secret", "nope")
	res := run(t, args...)
	if res.Errors != 5 || len(res.ErrorSamples) != 2 || !strings.Contains(res.ErrorSamples[0], "HTTP 401") ||
		!strings.Contains(res.ErrorSamples[0], "invalid_client") {
		t.Fatalf("errors %d samples %q, want 5 errors, 2 samples with the 401 body", res.Errors, res.ErrorSamples)
	}
}

func TestIntrospect(t *testing.T) {
	f := newFakeWard(t)
	res := run(t, f.args(scenarioIntrospect, "-n", "40", "-c", "4")...)
	if res.Ops != 40 || res.Errors != 0 {
		t.Fatalf("ops %d errors %d (%q), want 40 and 0", res.Ops, res.Errors, res.ErrorSamples)
	}
	if got := f.count("POST /oauth2/introspect"); got != 40 {
		t.Errorf("server saw %d introspections, want 40", got)
	}
	if got := f.count("POST /oauth2/token"); got != 4 {
		t.Errorf("server saw %d token requests, want one per worker (4)", got)
	}

	f.inactive.Store(true)
	res = run(t, f.args(scenarioIntrospect, "-n", "5")...)
	if res.Errors != 5 || !strings.Contains(res.ErrorSamples[0], "active=false") {
		t.Fatalf("errors %d samples %q, want 5 active=false", res.Errors, res.ErrorSamples)
	}
}

func TestDurationBound(t *testing.T) {
	f := newFakeWard(t)
	// That run returns at all shows -duration bounds it (else the test's
	// own timeout ends it); how long it took is a benchmark's business.
	res := run(t, f.args(scenarioCC, "-duration", "300ms", "-c", "2")...)
	if res.Ops == 0 || res.Errors != 0 || res.Elapsed < 300*time.Millisecond {
		t.Fatalf("ops %d errors %d elapsed %s", res.Ops, res.Errors, res.Elapsed)
	}
}

func TestRealMainFormats(t *testing.T) {
	f := newFakeWard(t)
	js := filepath.Join(t.TempDir(), "client.json")
	if err := os.WriteFile(js, []byte(`{"client_id":"client-1","client_secret":"s3cr-et_"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := realMain(context.Background(), []string{"-url", f.srv.URL, "-client-json", js, "-n", "5",
		"-format", "markdown", "-label", "cc (opaque)", "-c", "3", "-wait-ready", "0s"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if row := out.String(); !strings.HasPrefix(row, "| cc (opaque) | 3 | ") || !strings.HasSuffix(row, " ms | 0 |\n") {
		t.Fatalf("markdown row %q", row)
	}
	if !strings.Contains(errOut.String(), "p99") {
		t.Fatalf("text report missing on stderr: %q", errOut.String())
	}

	out.Reset()
	errOut.Reset()
	code = realMain(context.Background(), append(f.args(scenarioCC), "-n", "5", "-format", "json"), &out, &errOut)
	var res result
	if err := json.Unmarshal(out.Bytes(), &res); code != 0 || err != nil || res.Ops != 5 || res.Latency.P50 <= 0 {
		t.Fatalf("exit %d, json %q: %v", code, out.String(), err)
	}

	mux := http.NewServeMux()
	var readyAfter atomic.Int32
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if readyAfter.Add(1) < 3 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}
	})
	ready := httptest.NewServer(mux)
	defer ready.Close()
	if code := realMain(context.Background(), []string{"-url", ready.URL, "-scenario", "ready", "-wait-ready", "5s"}, io.Discard, &errOut); code != 0 || readyAfter.Load() != 3 {
		t.Fatalf("-scenario ready: exit %d after %d polls: %s", code, readyAfter.Load(), errOut.String())
	}
	readyAfter.Store(-1000)
	if code := realMain(context.Background(), []string{"-url", ready.URL, "-scenario", "ready", "-wait-ready", "300ms"}, io.Discard, &errOut); code == 0 ||
		!strings.Contains(errOut.String(), "HTTP 503 starting") {
		t.Fatalf("-scenario ready on a server that stays unready: exit %d: %s", code, errOut.String())
	}

	out.Reset()
	code = realMain(context.Background(), []string{"-free-port"}, &out, &errOut)
	if code != 0 || strings.TrimSpace(out.String()) == "" {
		t.Fatalf("-free-port: exit %d, %q", code, out.String())
	}
}

func TestFlagChecks(t *testing.T) {
	for _, args := range [][]string{
		{"-client-id", "x"}, // cc needs a secret
		{"-client-id", "x", "-client-secret", "y", "-scenario", "nope"},
		{"-client-id", "x", "-client-secret", "y", "-duration", "0s"},
		{"-client-id", "x", "-client-secret", "y", "-duration", "2h"},
		{"-client-id", "x", "-client-secret", "y", "-c", "0"},
		{"-client-id", "x", "-scenario", "authcode"}, // no user
		{"-client-id", "x", "-client-secret", "y", "-format", "xml"},
		{"-client-secret", "y"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
	cfg, err := parseFlags([]string{"-client-id", "x", "-scenario", "authcode", "-user", "u", "-password", "p"}, io.Discard)
	if err != nil || cfg.scope != defaultUserScope || cfg.clientSecret != "" {
		t.Fatalf("authcode defaults: %+v, %v", cfg, err)
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080", "http://127.9.8.7/", "http://localhost:1", "http://LOCALHOST", "http://[::1]:8080/x", "https://127.0.0.1"} {
		if _, err := checkLoopbackURL(ok); err != nil {
			t.Errorf("checkLoopbackURL(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"http://10.0.0.1:8080", "http://192.168.1.1", "http://example.org", "http://localhost.example.org",
		"http://128.0.0.1", "http://[::2]/", "ftp://127.0.0.1", "127.0.0.1:8080", "http://", "http://0.0.0.0:8080"} {
		if _, err := checkLoopbackURL(bad); err == nil {
			t.Errorf("checkLoopbackURL(%q) accepted", bad)
		}
	}
	// The target is refused before any request.
	var errOut bytes.Buffer
	if code := realMain(context.Background(), []string{"-url", "http://10.1.2.3:8080", "-client-id", "x", "-client-secret", "y"}, io.Discard, &errOut); code == 0 ||
		!strings.Contains(errOut.String(), "only loopback") {
		t.Fatalf("non-loopback -url: exit %d, %q", code, errOut.String())
	}
	// The dialer hook refuses resolved addresses off loopback.
	for addr, want := range map[string]bool{"127.0.0.1:80": true, "[::1]:80": true, "10.0.0.1:80": false, "[2001:db8::1]:443": false, "bogus": false} {
		if err := loopbackOnly("tcp", addr, nil); (err == nil) != want {
			t.Errorf("loopbackOnly(%q) = %v, want allowed=%v", addr, err, want)
		}
	}
	// The transport refuses a request off loopback without passing it on.
	ct := &countingTransport{base: roundTripFunc(func(*http.Request) (*http.Response, error) {
		t.Fatal("a non-loopback request reached the network transport")
		return nil, nil
	})}
	req, _ := http.NewRequest(http.MethodGet, "http://192.0.2.1/", nil)
	if _, err := ct.RoundTrip(req); !errors.Is(err, errNotLoopback) {
		t.Fatalf("RoundTrip to 192.0.2.1: %v, want errNotLoopback", err)
	}
}

// A discovery document naming endpoints off loopback is refused unless
// -rebase moves them onto the target.
func TestDiscoveryOffLoopback(t *testing.T) {
	f := newFakeWard(t)
	f.issuer = "https://id.example.org"
	cfg, err := parseFlags(f.args(scenarioCC, "-n", "2"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runScenario(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "only loopback") {
		t.Fatalf("off-loopback token_endpoint: %v", err)
	}
	res := run(t, f.args(scenarioCC, "-n", "2", "-rebase")...)
	if res.Ops != 2 || res.Errors != 0 {
		t.Fatalf("-rebase: ops %d errors %d (%q)", res.Ops, res.Errors, res.ErrorSamples)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
