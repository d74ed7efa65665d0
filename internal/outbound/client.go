package outbound

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// DefaultTimeout bounds a whole exchange (connection, TLS, request,
// response headers and body) when Limits.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// DefaultMaxBytes caps a response body when Limits.MaxBytes is zero: a
// JSON Web Key Set of twenty RSA keys is under 10 KiB.
const DefaultMaxBytes = 64 << 10

// maxHeaderBytes caps a response's headers (net/http's default is 1 MiB).
const maxHeaderBytes = 16 << 10

// userAgent names ward to the remote.
const userAgent = "ward-outbound/1"

// Policy is where ward may connect: one policy for every outbound fetch,
// from the configuration (WARD_OUTBOUND_ALLOW_PRIVATE).
type Policy struct {
	// AllowPrivate lets fetches reach loopback, private, link-local and
	// other non-public addresses, and use plain http: for tests against
	// loopback servers and for closed networks. Off, only https to public
	// addresses is allowed.
	AllowPrivate bool
}

// Limits bound one use of the client (key sets, webhooks, ...).
type Limits struct {
	// Timeout bounds the whole exchange, body included; zero means
	// DefaultTimeout.
	Timeout time.Duration
	// MaxBytes caps the response body; zero means DefaultMaxBytes.
	MaxBytes int64
	// IdlePerHost is how many idle connections to one host are kept for
	// reuse; zero means 2. A caller that sends to one host from many
	// goroutines (webhook delivery) keeps as many as it sends in parallel.
	IdlePerHost int
}

// Errors a fetch fails with, wrapped with the detail; test with errors.Is
// (or errors.As for *RefusedAddressError and *StatusError).
var (
	// ErrRedirect: the remote answered with a redirect, which is not
	// followed.
	ErrRedirect = errors.New("outbound: redirect not followed")
	// ErrTooLarge: the response body is larger than Limits.MaxBytes.
	ErrTooLarge = errors.New("outbound: response body larger than the limit")
	// ErrScheme: the URL is not https (nor http with AllowPrivate).
	ErrScheme = errors.New("outbound: URL scheme not allowed")
	// ErrTimeout: the exchange did not finish within Limits.Timeout.
	ErrTimeout = errors.New("outbound: timed out")
)

// StatusError is a response with a status other than 200 OK.
type StatusError struct{ Code int }

func (e *StatusError) Error() string { return fmt.Sprintf("outbound: remote answered %d", e.Code) }

// Client makes bounded outbound requests; see the package doc. It is safe
// for concurrent use.
type Client struct {
	hc     *http.Client
	limits Limits
}

// New returns a client under policy p with limits l.
func New(p Policy, l Limits) *Client {
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	d := &net.Dialer{Timeout: l.Timeout, KeepAlive: 30 * time.Second, Control: control(p)}
	tr := &http.Transport{
		Proxy:                  nil, // a proxy would connect out of the address check's reach
		DialContext:            d.DialContext,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    l.Timeout,
		ResponseHeaderTimeout:  l.Timeout,
		MaxResponseHeaderBytes: maxHeaderBytes,
		MaxIdleConns:           32,
		MaxIdleConnsPerHost:    max(l.IdlePerHost, 2),
		IdleConnTimeout:        30 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	return &Client{limits: l, hc: &http.Client{
		Transport: &guard{rt: tr, p: p, max: l.MaxBytes},
		Timeout:   l.Timeout,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			return fmt.Errorf("%w (to %s)", ErrRedirect, redact(req.URL))
		},
		// No cookie jar: nothing a remote sets is sent anywhere.
	}}
}

// HTTPClient is the bounded *http.Client, for libraries that take one
// (it enforces every limit itself: the body cap is in its transport).
func (c *Client) HTTPClient() *http.Client { return c.hc }

// Get fetches rawURL and returns its body: a 200 response within the
// limits, or an error whose text carries the detail for the log (never for
// the remote's own caller).
func (c *Client) Get(ctx context.Context, rawURL, accept string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.limits.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("outbound: GET: %w", err)
	}
	req.Header.Set("User-Agent", userAgent)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("outbound: GET %s: %w", redact(req.URL), c.timedOut(unwrapURL(err)))
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("outbound: GET %s: %w", redact(req.URL), &StatusError{Code: res.StatusCode})
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("outbound: GET %s: reading the body: %w", redact(req.URL), c.timedOut(err))
	}
	return body, nil
}

// timedOut names a timeout as ErrTimeout (net/http words it several ways,
// depending on which of its deadlines fired first).
func (c *Client) timedOut(err error) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%w after %s: %w", ErrTimeout, c.limits.Timeout, err)
	}
	return err
}

// unwrapURL drops net/http's *url.Error, whose text repeats the whole URL
// (query included); the caller names the URL itself, redacted.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redact is u without user information, query and fragment: enough to
// tell which remote failed, nothing a URL might carry as a credential.
func redact(u *url.URL) string {
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return r.String()
}

// guard is the client's transport: the scheme check before the request and
// the body cap after it, so that every caller of HTTPClient gets both.
type guard struct {
	rt  http.RoundTripper
	p   Policy
	max int64
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.URL.Scheme {
	case "https":
	case "http":
		if !g.p.AllowPrivate {
			return nil, fmt.Errorf("%w: plain http (set WARD_OUTBOUND_ALLOW_PRIVATE=1 to allow it)", ErrScheme)
		}
	default:
		return nil, fmt.Errorf("%w: %q", ErrScheme, req.URL.Scheme)
	}
	res, err := g.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if res.ContentLength > g.max {
		_ = res.Body.Close()
		return nil, fmt.Errorf("%w: Content-Length %d, limit %d", ErrTooLarge, res.ContentLength, g.max)
	}
	res.Body = &capped{rc: res.Body, left: g.max}
	return res, nil
}

// capped reads at most left bytes of a body; one byte more is ErrTooLarge,
// and the caller's Close then drops the connection with the rest unread.
type capped struct {
	rc   io.ReadCloser
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.rc.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n + int(c.left), ErrTooLarge
	}
	return n, err
}

func (c *capped) Close() error { return c.rc.Close() }

// SnippetBytes bounds the body Post returns: enough for a log line.
const SnippetBytes = 256

// Post sends body to rawURL with the given headers and returns the answer's
// status and at most SnippetBytes of its body, whatever the status (the
// caller decides what a success is), within the same guarantees as Get:
// the timeout bounds the whole exchange, the body read is capped, the
// address is checked at dial time, and a redirect is an error
// (ErrRedirect), never followed. The body past the snippet is drained up
// to the cap so that the connection can be reused.
func (c *Client) Post(ctx context.Context, rawURL string, headers map[string]string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.limits.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("outbound: POST: %w", err)
	}
	req.Header.Set("User-Agent", userAgent)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("outbound: POST %s: %w", redact(req.URL), c.timedOut(unwrapURL(err)))
	}
	defer res.Body.Close()
	snippet, err := io.ReadAll(io.LimitReader(res.Body, SnippetBytes))
	if err == nil {
		_, err = io.Copy(io.Discard, res.Body)
	}
	if err != nil && !errors.Is(err, ErrTooLarge) {
		return res.StatusCode, snippet, fmt.Errorf("outbound: POST %s: reading the answer: %w", redact(req.URL), c.timedOut(err))
	}
	return res.StatusCode, snippet, nil
}
