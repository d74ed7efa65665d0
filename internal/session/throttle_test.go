package session

import (
	"testing"
	"time"
)

// TestThrottleArithmetic checks the bucket with an injected clock: a burst
// of ThrottleBurst, then one failure per interval, Retry-After rounded up
// to whole seconds, refunds, the read-only Check/Fail pair, and IPv6
// addresses sharing their /64.
func TestThrottleArithmetic(t *testing.T) {
	clk := &clock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	st := newFakeStore()
	th := NewThrottle(st, ThrottleConfig{PerMinute: 60, Now: clk.now}) // one a second
	ctx := t.Context()
	reserve := func(addr string) Verdict {
		t.Helper()
		v, err := th.Reserve(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for i := range ThrottleBurst {
		if v := reserve("192.0.2.1"); !v.Allowed {
			t.Fatalf("failure %d refused within the burst", i+1)
		}
	}
	if v := reserve("192.0.2.1"); v.Allowed || v.RetryAfter != time.Second {
		t.Fatalf("past the burst: %+v, want refused for 1s", v)
	}
	clk.advance(400 * time.Millisecond)
	if v := reserve("192.0.2.1"); v.Allowed || v.RetryAfter != time.Second {
		t.Fatalf("0.4s later: %+v, want refused, Retry-After rounded up to 1s", v)
	}
	clk.advance(600 * time.Millisecond)
	if v := reserve("192.0.2.1"); !v.Allowed {
		t.Fatal("a second later the next failure is still refused")
	}
	if v := reserve("192.0.2.1"); v.Allowed {
		t.Fatal("two failures allowed for one second's refill")
	}
	// A refund (a success) gives the token back.
	if err := th.Refund(ctx, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if v := reserve("192.0.2.1"); !v.Allowed {
		t.Fatal("the refunded token is not there")
	}
	// Other addresses are untouched; IPv6 shares a /64, not more.
	if v := reserve("192.0.2.2"); !v.Allowed {
		t.Fatal("another address was throttled")
	}
	for i := range ThrottleBurst {
		addr := "2001:db8:1:2::" + string(rune('a'+i%6))
		if v := reserve(addr); !v.Allowed {
			t.Fatalf("IPv6 failure %d refused within the burst", i+1)
		}
	}
	if v := reserve("2001:db8:1:2:ffff::1"); v.Allowed {
		t.Fatal("another address of the same /64 has its own bucket")
	}
	if v := reserve("2001:db8:1:3::1"); !v.Allowed {
		t.Fatal("the next /64 was throttled")
	}
	if addrKey("::ffff:192.0.2.1") != addrKey("192.0.2.1") {
		t.Fatal("an IPv4-mapped address has its own bucket")
	}

	// Check reads only; Fail counts.
	for range ThrottleBurst {
		if v, err := th.Check(ctx, "198.51.100.1"); err != nil || !v.Allowed {
			t.Fatalf("check: %+v, %v", v, err)
		}
		if err := th.Fail(ctx, "198.51.100.1"); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := th.Check(ctx, "198.51.100.1"); v.Allowed || v.RetryAfter != time.Second {
		t.Fatalf("check after the burst: %+v, want refused for 1s", v)
	}
	for range 100 {
		if v, _ := th.Check(ctx, "203.0.113.1"); !v.Allowed {
			t.Fatal("checks alone used up the budget")
		}
	}

	// Two replicas on one store: the other's failures are seen here within
	// CheckTTL (rate 2 a minute, so that second refills nothing).
	shared := newFakeStore()
	here, there := NewThrottle(shared, ThrottleConfig{PerMinute: 2, Now: clk.now}), NewThrottle(shared, ThrottleConfig{PerMinute: 2, Now: clk.now})
	if v, _ := here.Check(ctx, "203.0.113.50"); !v.Allowed {
		t.Fatal("fresh address refused")
	}
	for range ThrottleBurst {
		_ = there.Fail(ctx, "203.0.113.50")
	}
	if v, _ := there.Check(ctx, "203.0.113.50"); v.Allowed {
		t.Fatal("the replica that counted the failures still allows")
	}
	clk.advance(CheckTTL)
	if v, _ := here.Check(ctx, "203.0.113.50"); v.Allowed {
		t.Fatalf("another replica's failures unseen after %s", CheckTTL)
	}

	// A slower rate waits longer.
	slow := NewThrottle(newFakeStore(), ThrottleConfig{PerMinute: 2, Now: clk.now}) // one every 30s
	for range ThrottleBurst {
		_, _ = slow.Reserve(ctx, "192.0.2.9")
	}
	if v, _ := slow.Reserve(ctx, "192.0.2.9"); v.Allowed || v.RetryAfter != 30*time.Second {
		t.Fatalf("slow rate: %+v, want refused for 30s", v)
	}
	// Rate 0: off.
	var off *Throttle = NewThrottle(st, ThrottleConfig{PerMinute: 0, Now: clk.now})
	if off != nil {
		t.Fatal("rate 0 made a throttle")
	}
	for range 100 {
		if v, err := off.Reserve(ctx, "192.0.2.1"); err != nil || !v.Allowed {
			t.Fatal("the disabled throttle refused")
		}
	}
}

// TestPurgeExpiredDropsOldCounters: counters that hold nothing back any
// more (an account's window passed, an address's bucket full) are purged.
func TestPurgeExpiredDropsOldCounters(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	_, _, _ = h.svc.Login(ctx, aliceEml, "wrong")
	th := NewThrottle(h.st, ThrottleConfig{PerMinute: 60, Now: h.clk.now})
	_, _ = th.Reserve(ctx, "192.0.2.1")
	if len(h.st.counters) != 2 {
		t.Fatalf("%d counters, want 2", len(h.st.counters))
	}
	h.clk.advance(DefaultConfig().LockoutPeriod - time.Minute)
	if _, err := h.svc.PurgeExpired(ctx); err != nil || len(h.st.counters) != 2 {
		t.Fatalf("purge within the window: %v, %d counters left, want both", err, len(h.st.counters))
	}
	h.clk.advance(2 * time.Minute)
	if _, err := h.svc.PurgeExpired(ctx); err != nil || len(h.st.counters) != 0 {
		t.Fatalf("purge after the window: %v, %d counters left, want none", err, len(h.st.counters))
	}
}
