package oauth

import (
	"context"
	"sync"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/client"
)

// clientRows is a Clients whose rows the test changes, counting reads;
// with hold set, the next read takes the row and then waits for release
// before returning it (a read racing a change).
type clientRows struct {
	mu       sync.Mutex
	rows     map[string]client.Client
	reads    int
	hold     bool
	taken    chan struct{}
	released chan struct{}
}

func (s *clientRows) Lookup(_ context.Context, id string) (*client.Client, error) {
	s.mu.Lock()
	s.reads++
	c, ok := s.rows[id]
	hold := s.hold
	s.hold = false
	s.mu.Unlock()
	if hold {
		s.taken <- struct{}{}
		<-s.released
	}
	if !ok {
		return nil, apperr.New(apperr.NotFound, "client not found")
	}
	return &c, nil
}

func (s *clientRows) set(c client.Client) {
	s.mu.Lock()
	s.rows[c.ID] = c
	s.mu.Unlock()
}

// TestClientCache: the one freshness rule of client authentication. A
// copy is trusted for less than ClientCacheTTL; Invalidate drops it at
// once, and a read in flight while it ran answers its row but does not
// keep it (it may be the row from before the change); unknown ids are
// never kept.
func TestClientCache(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	src := &clientRows{rows: map[string]client.Client{}, taken: make(chan struct{}), released: make(chan struct{})}
	src.set(client.Client{ID: "shr", SecretHash: "old"})
	cc := newClientCache(src, clock)
	get := func(what, want string, reads int) {
		t.Helper()
		e, err := cc.get(ctx, "shr")
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if e.c.SecretHash != want || src.reads != reads {
			t.Fatalf("%s: hash %q after %d reads, want %q after %d", what, e.c.SecretHash, src.reads, want, reads)
		}
	}
	get("first", "old", 1)
	get("cached", "old", 1)
	src.set(client.Client{ID: "shr", SecretHash: "new"})
	get("changed elsewhere, within the TTL", "old", 1)
	advance(ClientCacheTTL)
	get("after the TTL", "new", 2)

	// Changed here: dropped at once.
	src.set(client.Client{ID: "shr", SecretHash: "newer"})
	cc.Invalidate("shr")
	get("invalidated", "newer", 3)

	// A read that took the row before a change and returns after its
	// Invalidate is answered but not kept.
	advance(ClientCacheTTL)
	src.mu.Lock()
	src.hold = true
	src.mu.Unlock()
	done := make(chan string)
	go func() {
		e, err := cc.get(ctx, "shr")
		if err != nil {
			done <- err.Error()
			return
		}
		done <- e.c.SecretHash
	}()
	<-src.taken
	src.set(client.Client{ID: "shr", SecretHash: "newest"})
	cc.Invalidate("shr")
	src.released <- struct{}{}
	if got := <-done; got != "newer" {
		t.Fatalf("racing read answered %q, want the row it read", got)
	}
	get("after the racing read", "newest", 5)

	// Unknown ids are not kept: registered, the client works at once.
	if _, err := cc.get(ctx, "mci"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("unknown client: %v, want NotFound", err)
	}
	src.set(client.Client{ID: "mci"})
	if _, err := cc.get(ctx, "mci"); err != nil {
		t.Fatalf("registered client: %v", err)
	}
}
