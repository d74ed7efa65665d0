// Command loadgen drives load at a live ward authorization server on this
// machine and reports its throughput and latency.
//
//	go run ./bench/loadgen -url http://127.0.0.1:8080 -scenario cc \
//	    -client-id ID -client-secret SECRET -c 8 -duration 10s
//
// Scenarios:
//
//	cc          client_credentials token requests (client_secret_basic)
//	introspect  introspection of one access token (per worker), obtained
//	            by client_credentials first; active=false is an error
//	authcode    whole authorization code rounds as a browser and client:
//	            authorize, sign in (-user, -password), consent
//	            (decision=allow), redirect with code, token (PKCE S256)
//	ready       no load: wait up to -wait-ready (default 30s) for GET
//	            /readyz to answer 200, then exit
//
// The endpoints come from /.well-known/openid-configuration. Only loopback
// targets are allowed. Every run is bounded by -duration (and -n, if set),
// whichever comes first. An operation fails on a transport error, any
// answer that is not 2xx (or an expected redirect) and introspection's
// active=false; the first few failures are printed. Latencies are over all
// operations, failed ones included; percentiles are nearest-rank.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	scenarioCC         = "cc"
	scenarioIntrospect = "introspect"
	scenarioAuthCode   = "authcode"
	scenarioReady      = "ready"

	defaultSystemScope = "system/*.rs"
	defaultUserScope   = "openid fhirUser offline_access launch/patient patient/*.rs"

	maxDuration    = time.Hour
	maxConcurrency = 1024
)

type config struct {
	baseURL      string
	clientID     string
	clientSecret string
	clientJSON   string
	scenario     string
	concurrency  int
	duration     time.Duration
	requests     int64
	warmup       time.Duration
	scope        string
	user         string
	password     string
	redirectURI  string
	aud          string
	params       stringList
	session      string
	timeout      time.Duration
	format       string
	label        string
	showErrors   int
	waitReady    time.Duration
	rebase       bool
	freePort     bool
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.baseURL, "url", "http://127.0.0.1:8080", "base URL of the ward server (loopback only)")
	fs.StringVar(&c.clientID, "client-id", "", "OAuth client id")
	fs.StringVar(&c.clientSecret, "client-secret", "", "client secret, sent as HTTP Basic (empty: a public client)")
	fs.StringVar(&c.clientJSON, "client-json", "", `file with {"client_id":…,"client_secret":…} as "ward client create --json" prints it`)
	fs.StringVar(&c.scenario, "scenario", scenarioCC, "cc, introspect, authcode, or ready (only wait for /readyz)")
	fs.IntVar(&c.concurrency, "c", 1, "concurrent workers")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long to measure (at most 1h)")
	fs.Int64Var(&c.requests, "n", 0, "stop after this many operations (0: only -duration bounds the run)")
	fs.DurationVar(&c.warmup, "warmup", 0, "run unmeasured for this long first")
	fs.StringVar(&c.scope, "scope", "", `scope to ask for (default "`+defaultSystemScope+`", for authcode "`+defaultUserScope+`")`)
	fs.StringVar(&c.user, "user", "", "authcode: email to sign in with")
	fs.StringVar(&c.password, "password", "", "authcode: password to sign in with")
	fs.StringVar(&c.redirectURI, "redirect-uri", "http://127.0.0.1:9/cb", "authcode: the client's registered redirect URI (never contacted)")
	fs.StringVar(&c.aud, "aud", "", "authcode: aud parameter (SMART: the FHIR base URL)")
	fs.Var(&c.params, "param", "authcode: extra authorize parameter k=v (repeatable)")
	fs.StringVar(&c.session, "session", "fresh", "authcode: fresh (sign in every round) or reuse (each worker keeps its session)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "timeout of each HTTP request")
	fs.StringVar(&c.format, "format", "text", "text, json (one object on stdout) or markdown (one table row on stdout; the text report goes to stderr)")
	fs.StringVar(&c.label, "label", "", "scenario name in the report (default: -scenario)")
	fs.IntVar(&c.showErrors, "show-errors", 3, "how many failures to print")
	fs.DurationVar(&c.waitReady, "wait-ready", 0, "first wait up to this long for GET /readyz to answer 200")
	fs.BoolVar(&c.rebase, "rebase", false, "send discovered endpoints to -url's scheme and host (when the issuer is not the loopback address)")
	fs.BoolVar(&c.freePort, "free-port", false, "print a free TCP port on 127.0.0.1 and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return c, c.check()
}

func (c *config) check() error {
	if c.freePort {
		return nil
	}
	if c.scenario == scenarioReady {
		if c.waitReady <= 0 {
			c.waitReady = 30 * time.Second
		}
		if c.waitReady > maxDuration {
			return fmt.Errorf("-wait-ready %s: at most %s", c.waitReady, maxDuration)
		}
		return nil
	}
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	if c.clientJSON != "" {
		if err := c.readClientJSON(); err != nil {
			errs = append(errs, err)
		}
	}
	switch c.scenario {
	case scenarioCC, scenarioIntrospect:
		if c.scope == "" {
			c.scope = defaultSystemScope
		}
		if c.clientSecret == "" {
			bad("-scenario %s needs a confidential client (-client-secret or -client-json)", c.scenario)
		}
	case scenarioAuthCode:
		if c.scope == "" {
			c.scope = defaultUserScope
		}
		if c.user == "" || c.password == "" {
			bad("-scenario authcode needs -user and -password")
		}
	default:
		bad("-scenario %q: want cc, introspect, authcode or ready", c.scenario)
	}
	if c.clientID == "" {
		bad("-client-id (or -client-json) is required")
	}
	if c.concurrency < 1 || c.concurrency > maxConcurrency {
		bad("-c %d: want 1..%d", c.concurrency, maxConcurrency)
	}
	if c.duration <= 0 || c.duration > maxDuration {
		bad("-duration %s: want more than 0 and at most %s", c.duration, maxDuration)
	}
	if c.warmup < 0 || c.warmup > maxDuration {
		bad("-warmup %s: want 0..%s", c.warmup, maxDuration)
	}
	if c.requests < 0 {
		bad("-n %d: want 0 or more", c.requests)
	}
	if c.timeout <= 0 || c.timeout > time.Minute {
		bad("-timeout %s: want more than 0 and at most 1m", c.timeout)
	}
	if c.session != "fresh" && c.session != "reuse" {
		bad("-session %q: want fresh or reuse", c.session)
	}
	for _, p := range c.params {
		if k, _, ok := strings.Cut(p, "="); !ok || k == "" {
			bad("-param %q: want k=v", p)
		}
	}
	switch c.format {
	case "text", "json", "markdown":
	default:
		bad("-format %q: want text, json or markdown", c.format)
	}
	if c.showErrors < 0 {
		c.showErrors = 0
	}
	if c.label == "" {
		c.label = c.scenario
	}
	return errors.Join(errs...)
}

// readClientJSON fills the client id and secret (unless given as flags)
// from the output of "ward client create --json".
func (c *config) readClientJSON() error {
	b, err := os.ReadFile(c.clientJSON)
	if err != nil {
		return fmt.Errorf("-client-json: %w", err)
	}
	var v struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("-client-json %s: %w", c.clientJSON, err)
	}
	if c.clientID == "" {
		c.clientID = v.ClientID
	}
	if c.clientSecret == "" {
		c.clientSecret = v.ClientSecret
	}
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := realMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 2
	}
	if cfg.freePort {
		port, err := freePort()
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return 1
		}
		fmt.Fprintln(stdout, port)
		return 0
	}
	if cfg.scenario == scenarioReady {
		base, err := checkLoopbackURL(cfg.baseURL)
		if err == nil {
			err = newTarget(cfg, base).waitReady(ctx, cfg.waitReady)
		}
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return 1
		}
		return 0
	}
	res, err := runScenario(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %s: %v\n", cfg.label, err)
		return 1
	}
	text := stdout
	switch cfg.format {
	case "json":
		text = stderr
		enc := json.NewEncoder(stdout)
		if err := enc.Encode(res); err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return 1
		}
	case "markdown":
		text = stderr
		fmt.Fprintln(stdout, res.markdownRow())
	}
	res.writeText(text)
	return 0
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// runScenario checks the target, prepares one operation per worker, warms
// up if asked, and measures.
func runScenario(ctx context.Context, cfg *config) (*result, error) {
	base, err := checkLoopbackURL(cfg.baseURL)
	if err != nil {
		return nil, err
	}
	t := newTarget(cfg, base)
	if cfg.waitReady > 0 {
		if err := t.waitReady(ctx, cfg.waitReady); err != nil {
			return nil, err
		}
	}
	if err := t.discover(ctx); err != nil {
		return nil, err
	}
	ops := make([]opFunc, cfg.concurrency)
	for i := range ops {
		switch cfg.scenario {
		case scenarioCC:
			ops[i] = t.clientCredentials
		case scenarioIntrospect:
			ops[i], err = t.introspector(ctx)
		case scenarioAuthCode:
			ops[i], err = t.authCoder()
		}
		if err != nil {
			return nil, err
		}
	}
	if cfg.warmup > 0 {
		runPhase(ctx, ops, cfg.warmup, 0, &errorLog{})
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	t.transport.n.Store(0)
	errs := &errorLog{max: cfg.showErrors}
	recs, elapsed := runPhase(ctx, ops, cfg.duration, cfg.requests, errs)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("interrupted: %w", ctx.Err())
	}
	return newResult(cfg, t, recs, elapsed, errs), nil
}

// recorder is one worker's measurements.
type recorder struct {
	lat    []time.Duration
	errors int64
	steps  map[string][]time.Duration
}

func newRecorder() *recorder {
	return &recorder{lat: make([]time.Duration, 0, 4096)}
}

// step records the duration of one named request within an operation.
// A nil recorder records nothing.
func (r *recorder) step(name string, d time.Duration) {
	if r == nil {
		return
	}
	if r.steps == nil {
		r.steps = map[string][]time.Duration{}
	}
	r.steps[name] = append(r.steps[name], d)
}

// errorLog counts nothing (the recorders do) but keeps the first failures.
type errorLog struct {
	max     int
	n       atomic.Int64
	mu      sync.Mutex
	samples []string
}

func (l *errorLog) add(err error) {
	if l.n.Add(1) > int64(l.max) {
		return
	}
	l.mu.Lock()
	l.samples = append(l.samples, err.Error())
	l.mu.Unlock()
}

// runPhase runs every op in its own worker until d has passed or limit
// operations (if > 0) have started. An operation that starts before the
// deadline finishes (its requests time out on their own).
func runPhase(ctx context.Context, ops []opFunc, d time.Duration, limit int64, errs *errorLog) ([]*recorder, time.Duration) {
	start := time.Now()
	deadline := start.Add(d)
	var claimed atomic.Int64
	var wg sync.WaitGroup
	recs := make([]*recorder, len(ops))
	for i, op := range ops {
		rec := newRecorder()
		recs[i] = rec
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				if limit > 0 && claimed.Add(1) > limit {
					return
				}
				t0 := time.Now()
				err := op(ctx, rec)
				if ctx.Err() != nil {
					return // interrupted: not a measurement
				}
				rec.lat = append(rec.lat, time.Since(t0))
				if err != nil {
					rec.errors++
					errs.add(err)
				}
			}
		})
	}
	wg.Wait()
	return recs, time.Since(start)
}

// result is a scenario's report.
type result struct {
	Label        string             `json:"scenario"`
	Target       string             `json:"target"`
	Concurrency  int                `json:"concurrency"`
	Elapsed      time.Duration      `json:"elapsed_ns"`
	Ops          int                `json:"operations"`
	Errors       int64              `json:"errors"`
	RPS          float64            `json:"ops_per_second"`
	HTTPRequests int64              `json:"http_requests"`
	HTTPRPS      float64            `json:"http_requests_per_second"`
	Latency      summary            `json:"latency"`
	Steps        map[string]summary `json:"steps,omitempty"`
	ErrorSamples []string           `json:"error_samples,omitempty"`
}

func newResult(cfg *config, t *target, recs []*recorder, elapsed time.Duration, errs *errorLog) *result {
	var all []time.Duration
	steps := map[string][]time.Duration{}
	r := &result{Label: cfg.label, Target: t.base.String(), Concurrency: cfg.concurrency, Elapsed: elapsed,
		HTTPRequests: t.transport.n.Load(), ErrorSamples: errs.samples}
	for _, rec := range recs {
		all = append(all, rec.lat...)
		r.Errors += rec.errors
		for k, v := range rec.steps {
			steps[k] = append(steps[k], v...)
		}
	}
	r.Ops = len(all)
	r.Latency = summarize(all)
	if s := elapsed.Seconds(); s > 0 {
		r.RPS = float64(r.Ops) / s
		r.HTTPRPS = float64(r.HTTPRequests) / s
	}
	if len(steps) > 0 {
		r.Steps = map[string]summary{}
		for k, v := range steps {
			r.Steps[k] = summarize(v)
		}
	}
	return r
}

func (r *result) markdownRow() string {
	return fmt.Sprintf("| %s | %d | %.1f | %s | %s | %d |", r.Label, r.Concurrency, r.RPS, ms(r.Latency.P50), ms(r.Latency.P99), r.Errors)
}

func (r *result) writeText(w io.Writer) {
	fmt.Fprintf(w, "%s against %s: concurrency %d, %d operations in %.2fs, %d errors\n",
		r.Label, r.Target, r.Concurrency, r.Ops, r.Elapsed.Seconds(), r.Errors)
	fmt.Fprintf(w, "  throughput  %.1f req/s (%d HTTP requests, %.1f/s)\n", r.RPS, r.HTTPRequests, r.HTTPRPS)
	l := r.Latency
	fmt.Fprintf(w, "  latency     p50 %s  p90 %s  p99 %s  max %s  (mean %s)\n", ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max), ms(l.Mean))
	names := make([]string, 0, len(r.Steps))
	for k := range r.Steps {
		names = append(names, k)
	}
	slices.SortFunc(names, func(a, b string) int { return stepOrder(a) - stepOrder(b) })
	for _, k := range names {
		s := r.Steps[k]
		fmt.Fprintf(w, "    %-10s %6d requests  p50 %s  p99 %s  max %s\n", k, s.N, ms(s.P50), ms(s.P99), ms(s.Max))
	}
	if r.Errors > 0 {
		fmt.Fprintf(w, "  first %d of %d errors:\n", len(r.ErrorSamples), r.Errors)
		for _, e := range r.ErrorSamples {
			fmt.Fprintf(w, "    %s\n", e)
		}
	}
}

// stepOrder sorts the authcode steps in the order a round takes them.
func stepOrder(s string) int {
	if i := slices.Index([]string{"authorize", "page", "login", "consent", "token"}, s); i >= 0 {
		return i
	}
	return 100
}
