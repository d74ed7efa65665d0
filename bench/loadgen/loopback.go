package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// This generator only ever talks to a server on this machine. The target
// URL is checked when it is given, every request's URL is checked again
// before it is sent, and the dialer refuses any resolved address outside
// the loopback range, so neither discovery, a redirect nor a DNS answer
// can point the load elsewhere.

// isLoopbackHost reports whether host (no port, no brackets) is
// "localhost" or an address in 127.0.0.0/8 or ::1.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkLoopbackURL parses raw and refuses it unless it is an absolute
// http(s) URL whose host is on the loopback interface.
func checkLoopbackURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("URL %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("URL %q has no host", raw)
	}
	if !isLoopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("refusing target %q: only loopback hosts (127.0.0.0/8, ::1, localhost) are allowed", raw)
	}
	return u, nil
}

// errNotLoopback is what the dialer answers for an address off this machine.
var errNotLoopback = errors.New("refusing to connect to a non-loopback address")

// loopbackOnly is a net.Dialer Control hook: it sees the resolved address
// and refuses anything outside the loopback range.
func loopbackOnly(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", errNotLoopback, address)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %s", errNotLoopback, address)
	}
	return nil
}

// newTransport returns a transport tuned so the generator is not the
// bottleneck: enough idle connections per host for every worker (and a
// margin for the redirects of the authcode round), no proxy, no
// compression, and a dialer that only reaches loopback addresses.
func newTransport(concurrency int, timeout time.Duration) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: loopbackOnly}
	idle := 2*concurrency + 16
	return &http.Transport{
		Proxy:                 nil, // never through $HTTP_PROXY
		DialContext:           d.DialContext,
		MaxIdleConns:          idle,
		MaxIdleConnsPerHost:   idle,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
	}
}

// countingTransport counts the HTTP requests sent and refuses, before
// anything is dialled, a request whose URL is not on loopback.
type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !isLoopbackHost(r.URL.Hostname()) {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, fmt.Errorf("%w: %s", errNotLoopback, r.URL.Redacted())
	}
	c.n.Add(1)
	return c.base.RoundTrip(r)
}
