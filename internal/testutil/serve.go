package testutil

import (
	"context"
	"net"
	"testing"
)

// Listen returns a listener on a free loopback port, closed when t ends
// if nothing served on it.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// Server is what Serve runs (*server.Server); an interface so that the
// server's own tests may use this package.
type Server interface {
	Serve(ctx context.Context, ln net.Listener) error
}

// Serve runs srv on ln, as ward serve does, until t ends: the cleanup stops
// it, waits for Serve to return and fails t with its error. Closing srv
// stays the caller's; a t.Cleanup registered before Serve runs after the
// server has stopped.
func Serve(t testing.TB, srv Server, ln net.Listener) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
}
