package mis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"ward/internal/apperr"
	"ward/internal/outbound"
)

// Defaults of Config's zero fields.
const (
	DefaultTimeout       = 15 * time.Second
	DefaultMaxAttempts   = 4
	DefaultBaseDelay     = 250 * time.Millisecond
	DefaultMaxDelay      = 10 * time.Second
	DefaultMaxRetryAfter = time.Minute
	DefaultMaxBody       = 8 << 20
)

// Config builds a Client for one connector.
type Config struct {
	// Name is the connector's name: what Tokens is asked for, and the
	// connector label of logs and metrics.
	Name string
	// BaseURL is the root every Adapter path is relative to (for CampDoc,
	// the organization's API root, see CampDoc).
	BaseURL string
	// Tokens gives the access token (internal/connector's Service).
	Tokens Tokens
	// HTTPClient makes the requests: internal/outbound's client
	// (outbound.New(policy, limits).HTTPClient()), so the address and
	// scheme guard and the body cap apply. Give its Limits a MaxBytes
	// large enough for a page of profiles (MaxBody here is the same cap
	// again).
	HTTPClient *http.Client
	// Adapter is the MIS's wire format; nil means CampDoc{}.
	Adapter Adapter
	// IDMap converts ward-local person ids (LocalPrefix); nil refuses them.
	IDMap IDMap
	// Logger receives one line per attempt; nil discards.
	Logger *slog.Logger
	// Metrics counts calls; nil counts into an unregistered set.
	Metrics *Metrics

	// Timeout bounds each attempt (DefaultTimeout).
	Timeout time.Duration
	// MaxAttempts bounds attempts of one call on 429, 5xx and transport
	// errors (DefaultMaxAttempts). The one retry after a 401 is extra.
	MaxAttempts int
	// BaseDelay and MaxDelay shape the exponential backoff with jitter
	// between attempts when the MIS gives no Retry-After.
	BaseDelay, MaxDelay time.Duration
	// MaxRetryAfter caps how long a Retry-After is waited for: a longer one
	// ends the call at once with a RateLimited error instead of holding the
	// caller (DefaultMaxRetryAfter).
	MaxRetryAfter time.Duration
	// MaxBody caps a response body (DefaultMaxBody).
	MaxBody int64

	// Now is the clock Retry-After dates are read against (time.Now).
	Now func() time.Time
	// Sleep waits between attempts, returning early with ctx's error
	// (a timer by default); tests record the waits instead.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client calls one MIS through one connector. It is safe for concurrent
// use.
type Client struct {
	cfg     Config
	base    *url.URL
	adapter Adapter
	log     *slog.Logger
	metrics *Metrics
}

// New checks cfg and returns its client.
func New(cfg Config) (*Client, error) {
	var problems []string
	if cfg.Name == "" {
		problems = append(problems, "a connector name")
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		problems = append(problems, "an absolute http(s) base URL")
	}
	if cfg.Tokens == nil {
		problems = append(problems, "a token source")
	}
	if cfg.HTTPClient == nil {
		problems = append(problems, "an HTTP client (internal/outbound's)")
	}
	if len(problems) > 0 {
		return nil, apperr.New(apperr.Invalid, "mis client: needs %s", strings.Join(problems, ", "))
	}
	base.Path = strings.TrimSuffix(base.Path, "/")
	base.RawPath = strings.TrimSuffix(base.RawPath, "/")
	base.RawQuery, base.Fragment, base.User = "", "", nil
	c := &Client{cfg: cfg, base: base, adapter: cfg.Adapter, log: cfg.Logger, metrics: cfg.Metrics}
	if c.adapter == nil {
		c.adapter = CampDoc{}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.metrics == nil {
		c.metrics, _ = NewMetrics(nil)
	}
	d := &c.cfg
	setDefault(&d.Timeout, DefaultTimeout)
	setDefault(&d.MaxAttempts, DefaultMaxAttempts)
	setDefault(&d.BaseDelay, DefaultBaseDelay)
	setDefault(&d.MaxDelay, DefaultMaxDelay)
	setDefault(&d.MaxRetryAfter, DefaultMaxRetryAfter)
	setDefault(&d.MaxBody, DefaultMaxBody)
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Sleep == nil {
		d.Sleep = sleep
	}
	return c, nil
}

// Name is the connector's name.
func (c *Client) Name() string { return c.cfg.Name }

func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// StatusError is the MIS's refusal of a call: the operation, the route
// (the path template, never the real path) and the status. Code is the
// MIS's error code when it sent a short machine-readable one. It is always
// the cause of an *apperr.Error whose kind says what the refusal means
// for ward's caller (see kindOf).
type StatusError struct {
	Op, Method, Route string
	Status            int
	Code              string
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("%s %s answered %d", e.Method, e.Route, e.Status)
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	return s
}

// kindOf is what a MIS status means to ward's caller. The MIS refusing
// ward's token is Unavailable, not Unauthenticated: the admin calling
// through ward is signed in; it is the link to the MIS that is broken.
func kindOf(status int) apperr.Kind {
	switch {
	case status == http.StatusNotFound:
		return apperr.NotFound
	case status == http.StatusConflict:
		return apperr.Conflict
	case status == http.StatusForbidden:
		return apperr.Forbidden
	case status == http.StatusTooManyRequests:
		return apperr.RateLimited
	case status == http.StatusUnauthorized, status >= 500:
		return apperr.Unavailable
	default:
		return apperr.Invalid
	}
}

// errorCode is the MIS's error code ({"error": "invalid_request"}), kept
// only when it looks like a code: free text could echo PHI.
var errorCode = regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,64}$`)

func codeOf(body []byte) string {
	var e struct {
		Error any `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	if s, ok := e.Error.(string); ok && errorCode.MatchString(s) {
		return s
	}
	return ""
}

// exchange is one attempt's outcome.
type exchange struct {
	status int
	header http.Header
	body   []byte
}

// run performs call for op: token, attempts, retries, one refresh on a
// 401, the log lines and the metrics. Every error it returns is an
// *apperr.Error naming the connector and the operation.
func run[T any](ctx context.Context, c *Client, op string, call Call[T]) (out T, err error) {
	start := time.Now() // latency on the monotonic clock, not the injected one
	defer func() { c.metrics.observe(c.cfg.Name, op, err, time.Since(start)) }()
	fail := func(kind apperr.Kind, cause error, format string, args ...any) error {
		return apperr.Wrap(kind, cause, "connector %q: %s: "+format, append([]any{c.cfg.Name, op}, args...)...)
	}

	token, err := c.cfg.Tokens.Token(ctx, c.cfg.Name)
	if err != nil {
		// A disconnected or unprimed connector: at once, no retry.
		return out, fmt.Errorf("connector %q: %s: %w", c.cfg.Name, op, err)
	}
	w := wireOf(call)
	refreshed := false
	for attempt, tries := 1, 1; ; attempt++ {
		x, err := c.attempt(ctx, op, w, token, attempt)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return out, fail(apperr.Unavailable, ctx.Err(), "%s %s: call abandoned", call.Method, call.Route)
			}
			if permanent(err) || tries >= c.cfg.MaxAttempts {
				return out, fail(apperr.Unavailable, err, "%s %s", call.Method, call.Route)
			}
			wait = c.backoff(tries)
		case x.status >= 200 && x.status < 300:
			v, err := call.Decode(x.body)
			if err != nil {
				return out, fail(apperr.Unavailable, err, "%s %s: unexpected response", call.Method, call.Route)
			}
			return v, nil
		case x.status == http.StatusUnauthorized && !refreshed:
			refreshed = true
			token, err = c.cfg.Tokens.Rejected(ctx, c.cfg.Name, token)
			if err != nil {
				return out, fmt.Errorf("connector %q: %s: the MIS refused the access token and none replaced it: %w", c.cfg.Name, op, err)
			}
			continue // the one retry after a refresh, outside the attempt budget
		case x.status == http.StatusTooManyRequests || x.status >= 500:
			se := &StatusError{Op: op, Method: call.Method, Route: call.Route, Status: x.status, Code: codeOf(x.body)}
			if tries >= c.cfg.MaxAttempts {
				return out, fail(kindOf(x.status), se, "gave up after %d attempts", tries)
			}
			ra, ok := c.retryAfter(x.header)
			switch {
			case ok && ra > c.cfg.MaxRetryAfter:
				return out, fail(kindOf(x.status), se, "the MIS asks to wait %s, longer than %s", ra, c.cfg.MaxRetryAfter)
			case ok:
				wait = ra
			default:
				wait = c.backoff(tries)
			}
		default:
			se := &StatusError{Op: op, Method: call.Method, Route: call.Route, Status: x.status, Code: codeOf(x.body)}
			msg := "the MIS refused the call"
			if x.status == http.StatusUnauthorized {
				msg = "the MIS refused the refreshed access token too"
			}
			return out, fail(kindOf(x.status), se, "%s", msg)
		}
		if err := c.cfg.Sleep(ctx, wait); err != nil {
			return out, fail(apperr.Unavailable, err, "%s %s: call abandoned while waiting to retry", call.Method, call.Route)
		}
		tries++
	}
}

var errTooLarge = errors.New("response body larger than the limit")

// permanent reports whether a failed attempt would fail again: a body
// over a cap, or internal/outbound refusing the address, the scheme or a
// redirect. Those end the call instead of being retried.
func permanent(err error) bool {
	var refused *outbound.RefusedAddressError
	return errors.Is(err, errTooLarge) || errors.Is(err, outbound.ErrTooLarge) || errors.Is(err, outbound.ErrScheme) ||
		errors.Is(err, outbound.ErrRedirect) || errors.As(err, &refused)
}

// wire is the untyped part of a Call.
type wire struct {
	method, route, path string
	query               url.Values
	body                any
}

func wireOf[T any](call Call[T]) wire {
	return wire{method: call.Method, route: call.Route, path: call.Path, query: call.Query, body: call.Body}
}

// attempt sends w once, under the per-attempt timeout, and logs it: the
// operation, method, route (never the real path or query), status,
// attempt number and latency; never the token nor a body.
func (c *Client) attempt(ctx context.Context, op string, w wire, token string, n int) (x exchange, err error) {
	start := time.Now()
	defer func() {
		level := slog.LevelInfo
		attrs := []slog.Attr{
			slog.String("connector", c.cfg.Name), slog.String("operation", op),
			slog.String("method", w.method), slog.String("route", w.route),
			slog.Int("status", x.status), slog.Int("attempt", n),
			slog.Int64("latency_ms", time.Since(start).Milliseconds()),
		}
		if err != nil {
			level = slog.LevelWarn
			attrs = append(attrs, slog.String("error", err.Error()))
		} else if x.status >= 400 {
			level = slog.LevelWarn
		}
		c.log.LogAttrs(ctx, level, "mis call", attrs...)
	}()

	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	// w.path is escaped by the adapter; the base has neither query nor
	// fragment (New drops them).
	raw := c.base.String() + w.path
	if q := w.query.Encode(); q != "" {
		raw += "?" + q
	}
	var body io.Reader
	if w.body != nil {
		b, err := json.Marshal(w.body)
		if err != nil {
			return x, fmt.Errorf("encoding the request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, w.method, raw, body)
	if err != nil {
		return x, fmt.Errorf("building the request: %w", unwrapURL(err))
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return x, unwrapURL(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, c.cfg.MaxBody+1))
	if err != nil {
		return x, fmt.Errorf("reading the response: %w", unwrapURL(err))
	}
	if int64(len(b)) > c.cfg.MaxBody {
		return exchange{status: res.StatusCode}, fmt.Errorf("%w (%d bytes)", errTooLarge, c.cfg.MaxBody)
	}
	return exchange{status: res.StatusCode, header: res.Header, body: b}, nil
}

// unwrapURL drops net/http's *url.Error, whose text repeats the whole URL:
// its path and query may carry an identifier or an email address.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// retryAfter reads Retry-After: delay seconds or an HTTP date.
func (c *Client) retryAfter(h http.Header) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(c.cfg.MaxRetryAfter/time.Second)+1 {
			return c.cfg.MaxRetryAfter + time.Second, true // too long; no overflow
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(c.cfg.Now()), 0), true
	}
	return 0, false
}

// backoff is the wait before attempt tries+1 without a Retry-After:
// exponential from BaseDelay, capped at MaxDelay, with "equal jitter"
// (half fixed, half random) so that replicas retrying together spread out.
func (c *Client) backoff(tries int) time.Duration {
	d := c.cfg.BaseDelay << min(tries-1, 20)
	if d <= 0 || d > c.cfg.MaxDelay {
		d = c.cfg.MaxDelay
	}
	return d/2 + rand.N(d/2+1)
}
