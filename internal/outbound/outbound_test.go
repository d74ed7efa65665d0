package outbound_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ward/internal/outbound"
)

// allow is the policy tests use to reach their loopback servers.
var allow = outbound.Policy{AllowPrivate: true}

func TestPublic(t *testing.T) {
	for _, c := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1", false}, {"127.8.9.10", false}, {"::1", false},
		{"10.1.2.3", false}, {"172.16.0.1", false}, {"172.31.255.255", false}, {"192.168.1.1", false},
		{"169.254.169.254", false}, {"169.254.0.1", false}, {"fe80::1", false},
		{"fc00::1", false}, {"fd12:3456::1", false}, {"100.64.0.1", false}, {"100.127.255.254", false},
		{"0.0.0.0", false}, {"::", false}, {"224.0.0.1", false}, {"ff02::1", false}, {"255.255.255.255", false},
		{"::ffff:127.0.0.1", false}, {"::ffff:169.254.169.254", false}, {"::ffff:10.0.0.1", false},
		{"::127.0.0.1", false},                              // IPv4-compatible
		{"64:ff9b::a00:1", false}, {"2002:7f00:1::", false}, // NAT64 and 6to4 of 10.0.0.1 and 127.0.0.1
		{"192.0.2.1", false}, {"2001:db8::1", false}, {"198.18.0.1", false},
		{"8.8.8.8", true}, {"93.184.216.34", true}, {"172.32.0.1", true}, {"100.128.0.1", true},
		{"2606:4700:4700::1111", true}, {"::ffff:8.8.8.8", true}, {"64:ff9b::808:808", true}, {"2002:808:808::", true},
	} {
		if got := outbound.Public(netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("Public(%s) = %v, want %v", c.addr, got, c.want)
		}
	}
}

// TestRefusesNonPublicAddresses: with the switch off, a loopback server is
// refused at dial time, by IP and by a name that resolves to loopback, and
// plain http is refused; with the switch on the same server answers.
func TestRefusesNonPublicAddresses(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	port := srv.Listener.Addr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port()
	off := outbound.New(outbound.Policy{}, outbound.Limits{Timeout: 5 * time.Second})
	for _, u := range []string{
		srv.URL,
		"https://localhost:" + itoa(port) + "/",
		"https://[::ffff:127.0.0.1]:" + itoa(port) + "/",
	} {
		_, err := off.Get(t.Context(), u, "")
		var refused *outbound.RefusedAddressError
		if !errors.As(err, &refused) {
			t.Errorf("GET %s with the switch off: %v, want a refused address", u, err)
		}
	}
	if _, err := off.Get(t.Context(), "http://127.0.0.1:"+itoa(port)+"/", ""); !errors.Is(err, outbound.ErrScheme) {
		t.Errorf("plain http with the switch off: %v, want ErrScheme", err)
	}
	if _, err := off.Get(t.Context(), "file:///etc/passwd", ""); !errors.Is(err, outbound.ErrScheme) {
		t.Errorf("file URL: %v, want ErrScheme", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the loopback server was reached %d times with the switch off", n)
	}

	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`ok`)) }))
	t.Cleanup(plain.Close)
	body, err := outbound.New(allow, outbound.Limits{}).Get(t.Context(), plain.URL, "")
	if err != nil || string(body) != "ok" {
		t.Fatalf("with the switch on: %q %v, want ok", body, err)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	var target atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) })
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, _ *http.Request) { target.Add(1); _, _ = w.Write([]byte(`{}`)) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	_, err := outbound.New(allow, outbound.Limits{}).Get(t.Context(), srv.URL+"/keys", "")
	if !errors.Is(err, outbound.ErrRedirect) {
		t.Fatalf("redirect: %v, want ErrRedirect", err)
	}
	if target.Load() != 0 {
		t.Fatal("the redirect target was fetched")
	}
}

// TestHangingServer: a server that never answers, and one that stops in
// the middle of the body, both fail within the configured timeout.
func TestHangingServer(t *testing.T) {
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/silent", func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/midbody", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = w.Write([]byte(`{"keys":[`))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	c := outbound.New(allow, outbound.Limits{Timeout: 200 * time.Millisecond})
	for _, p := range []string{"/silent", "/midbody"} {
		// The test's own deadline only guards against a hang of the test:
		// the assertion is that an error comes back, not how fast.
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		_, err := c.Get(ctx, srv.URL+p, "")
		hit := ctx.Err()
		cancel()
		if !errors.Is(err, outbound.ErrTimeout) || hit != nil {
			t.Errorf("%s: err %v (test deadline hit: %v), want the client's own timeout", p, err, hit)
		}
	}
}

// TestBodyCap: a body at the cap is read; one byte more is refused, a
// declared Content-Length over the cap is refused before reading, and a
// server streaming gigabytes is cut off at the cap: its writes fail soon
// after, far short of what it meant to send.
func TestBodyCap(t *testing.T) {
	const max = 1 << 10
	var streamed atomic.Int64
	streamDone := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/exact", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(strings.Repeat("a", max))) })
	mux.HandleFunc("/over", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(strings.Repeat("a", max+1))) })
	mux.HandleFunc("/declared", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "5000000000")
		_, _ = w.Write([]byte("a"))
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, _ *http.Request) {
		defer close(streamDone)
		chunk := []byte(strings.Repeat("a", 32<<10))
		for streamed.Load() < 4<<30 {
			n, err := w.Write(chunk)
			streamed.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := outbound.New(allow, outbound.Limits{MaxBytes: max, Timeout: 30 * time.Second})

	if b, err := c.Get(t.Context(), srv.URL+"/exact", ""); err != nil || len(b) != max {
		t.Fatalf("body at the cap: %d bytes, %v", len(b), err)
	}
	for _, p := range []string{"/over", "/declared", "/stream"} {
		if b, err := c.Get(t.Context(), srv.URL+p, ""); !errors.Is(err, outbound.ErrTooLarge) || b != nil {
			t.Errorf("%s: %d bytes, %v, want ErrTooLarge", p, len(b), err)
		}
	}
	select {
	case <-streamDone:
	case <-time.After(time.Minute):
		t.Fatalf("the streaming server was still writing a minute later (%d bytes)", streamed.Load())
	}
	if n := streamed.Load(); n >= 1<<30 {
		t.Fatalf("the streaming server wrote %d bytes: reading did not stop at the cap", n)
	}
}

func TestStatusIsAnError(t *testing.T) {
	for _, code := range []int{http.StatusUnauthorized, http.StatusInternalServerError, http.StatusNoContent} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(code)
			_, _ = w.Write([]byte(`secret internal page`))
		}))
		_, err := outbound.New(allow, outbound.Limits{}).Get(t.Context(), srv.URL+"/?token=abc", "")
		srv.Close()
		var se *outbound.StatusError
		if !errors.As(err, &se) || se.Code != code {
			t.Errorf("status %d: %v, want a StatusError", code, err)
		}
		if err != nil && (strings.Contains(err.Error(), "secret internal page") || strings.Contains(err.Error(), "token=abc")) {
			t.Errorf("the error carries the body or the query: %v", err)
		}
	}
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }

// TestPostTimeoutAndScheme: Post sends the body and headers and returns any status (the
// caller judges it); a loopback receiver is refused with the switch off,
// a redirect is not followed, a receiver that hangs times out.
func TestPostTimeoutAndScheme(t *testing.T) {
	var got atomic.Value
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ok", func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 64)
		n, _ := r.Body.Read(b)
		got.Store(r.Header.Get("webhook-id") + " " + r.Header.Get("Content-Type") + " " + string(b[:n]))
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("POST /fail", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(strings.Repeat("x", 1<<20))) // drained up to the cap, then dropped
	})
	mux.HandleFunc("POST /moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusTemporaryRedirect) })
	mux.HandleFunc("POST /hang", func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	c := outbound.New(allow, outbound.Limits{Timeout: 300 * time.Millisecond})
	h := map[string]string{"webhook-id": "msg_1", "Content-Type": "application/json"}
	if st, _, err := c.Post(t.Context(), srv.URL+"/ok", h, []byte(`{"a":1}`)); err != nil || st != http.StatusAccepted {
		t.Fatalf("POST /ok: %d %v", st, err)
	}
	if s, _ := got.Load().(string); s != `msg_1 application/json {"a":1}` {
		t.Fatalf("the receiver got %q", s)
	}
	if st, _, err := c.Post(t.Context(), srv.URL+"/fail", h, nil); err != nil || st != http.StatusInternalServerError {
		t.Fatalf("POST /fail: %d %v, want the status and no error", st, err)
	}
	if _, _, err := c.Post(t.Context(), srv.URL+"/moved", h, nil); !errors.Is(err, outbound.ErrRedirect) {
		t.Fatalf("POST /moved: %v, want ErrRedirect", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, _, err := c.Post(ctx, srv.URL+"/hang", h, nil); !errors.Is(err, outbound.ErrTimeout) || ctx.Err() != nil {
		t.Fatalf("POST /hang: %v, want the client's own timeout", err)
	}
	off := outbound.New(outbound.Policy{}, outbound.Limits{})
	if _, _, err := off.Post(t.Context(), srv.URL+"/ok", h, nil); !errors.Is(err, outbound.ErrScheme) {
		t.Fatalf("plain http with the switch off: %v, want ErrScheme", err)
	}
	tls := httptest.NewTLSServer(mux)
	t.Cleanup(tls.Close)
	var refused *outbound.RefusedAddressError
	if _, _, err := off.Post(t.Context(), tls.URL+"/ok", h, nil); !errors.As(err, &refused) {
		t.Fatalf("loopback with the switch off: %v, want a refused address", err)
	}
}

// TestPost: Post reports any status with the start of the answer, sends
// the headers given, refuses a redirect, and keeps the address check.
func TestPost(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/big":
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(strings.Repeat("x", 1<<20)))
		default:
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(r.Header.Get("X-Test") + " " + r.Header.Get("Content-Type")))
		}
	}))
	defer srv.Close()
	c := outbound.New(allow, outbound.Limits{Timeout: 2 * time.Second})
	status, snippet, err := c.Post(context.Background(), srv.URL+"/fail", map[string]string{"X-Test": "hi", "Content-Type": "application/json"}, []byte(`{}`))
	if err != nil || status != 500 || string(snippet) != "hi application/json" {
		t.Fatalf("post: %d %q %v", status, snippet, err)
	}
	status, snippet, err = c.Post(context.Background(), srv.URL+"/big", nil, nil)
	if err != nil || status != 202 || len(snippet) != outbound.SnippetBytes {
		t.Fatalf("big answer: %d %d %v", status, len(snippet), err)
	}
	if _, _, err := c.Post(context.Background(), srv.URL+"/redirect", nil, nil); !errors.Is(err, outbound.ErrRedirect) {
		t.Fatalf("redirect: %v", err)
	}
	strict := outbound.New(outbound.Policy{}, outbound.Limits{Timeout: 2 * time.Second})
	var refused *outbound.RefusedAddressError
	if _, _, err := strict.Post(context.Background(), strings.Replace(srv.URL, "http:", "https:", 1), nil, nil); !errors.As(err, &refused) {
		t.Fatalf("loopback without AllowPrivate: %v", err)
	}
}
