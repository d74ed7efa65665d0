package session

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// ThrottleBurst is how many failed credential checks one address may make
// in a row before the throttle holds it to its rate.
const ThrottleBurst = 30

// Verdict is the throttle's answer for one address.
type Verdict struct {
	// Allowed is false when the address has used up its failures.
	Allowed bool
	// RetryAfter is how long until the address may try again (when not
	// Allowed), rounded up to whole seconds for the Retry-After header.
	RetryAfter time.Duration
}

// Throttle limits failed credential checks per client address with a token
// bucket (one token a 1/PerMinute minute, at most ThrottleBurst), kept in the
// database so that replicas share it. It counts failures only: a sign-in
// that succeeds gives its token back, so one address may still sign in or
// fetch tokens as often as it likes. A nil *Throttle, or one with a rate of
// 0, allows everything.
type Throttle struct {
	st       Store
	interval time.Duration
	burst    int
	now      func() time.Time

	// clear remembers, for CheckTTL, the addresses Check found with
	// tokens to spare, so a busy token endpoint does not read the
	// database on every request. A Fail on this replica forgets the
	// address at once; one on another replica is seen within CheckTTL.
	mu    sync.Mutex
	clear map[string]time.Time
}

// CheckTTL is how long Check trusts an earlier answer that an address had
// failures to spare: how late a replica may notice that failures on
// another replica used up an address's budget.
const CheckTTL = time.Second

// maxClearEntries bounds Check's memory; past it the map starts afresh.
const maxClearEntries = 10000

// ThrottleConfig is how a Throttle behaves.
type ThrottleConfig struct {
	// PerMinute failures a minute are allowed per address after a burst
	// of ThrottleBurst; 0 or less turns the throttle off.
	PerMinute int
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// NewThrottle returns a throttle counting failures in st, or nil when
// cfg.PerMinute turns it off.
func NewThrottle(st Store, cfg ThrottleConfig) *Throttle {
	if cfg.PerMinute <= 0 {
		return nil
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Throttle{st: st, interval: time.Minute / time.Duration(cfg.PerMinute), burst: ThrottleBurst, now: cfg.Now,
		clear: map[string]time.Time{}}
}

// addrKey is the bucket of addr. IPv6 addresses share the bucket of their
// /64: one subscriber usually holds a whole /64 and could otherwise rotate
// through it. An address that does not parse shares one bucket with every
// other such address.
func addrKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return "addr:unknown"
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "addr:" + p.String()
	}
	return "addr:" + a.String()
}

// Reserve takes a token from addr's bucket before a credential check, in
// one statement so parallel attempts cannot overrun the bucket. When it is
// empty nothing is taken and the Verdict says how long to wait. Give the
// token back with Refund when the check succeeds.
func (t *Throttle) Reserve(ctx context.Context, addr string) (Verdict, error) {
	if t == nil {
		return Verdict{Allowed: true}, nil
	}
	now := t.now()
	tat, ok, err := t.st.TakeToken(ctx, addrKey(addr), now, t.interval, t.burst)
	if err != nil {
		return Verdict{}, fmt.Errorf("throttle: %w", err)
	}
	if ok {
		return Verdict{Allowed: true}, nil
	}
	return t.refused(tat, now), nil
}

// Refund gives back the token Reserve took, after a successful check.
func (t *Throttle) Refund(ctx context.Context, addr string) error {
	if t == nil {
		return nil
	}
	if err := t.st.ReturnToken(ctx, addrKey(addr), t.interval); err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	return nil
}

// Check reports, reading only, whether addr may make a credential check:
// for endpoints that succeed far more often than they fail (the token
// endpoint), so a success costs no write, and mostly no read either (see
// CheckTTL). Record each failure with Fail.
func (t *Throttle) Check(ctx context.Context, addr string) (Verdict, error) {
	if t == nil {
		return Verdict{Allowed: true}, nil
	}
	key, now := addrKey(addr), t.now()
	t.mu.Lock()
	until, ok := t.clear[key]
	t.mu.Unlock()
	if ok && now.Before(until) && !now.Before(until.Add(-CheckTTL)) {
		return Verdict{Allowed: true}, nil
	}
	c, err := t.st.GetCounter(ctx, key)
	if err != nil {
		return Verdict{}, fmt.Errorf("throttle: %w", err)
	}
	tat := c.Stamp
	if tat.Before(now) {
		tat = now
	}
	if !tat.Add(t.interval).After(now.Add(time.Duration(t.burst) * t.interval)) {
		t.mu.Lock()
		if len(t.clear) >= maxClearEntries {
			clear(t.clear)
		}
		t.clear[key] = now.Add(CheckTTL)
		t.mu.Unlock()
		return Verdict{Allowed: true}, nil
	}
	return t.refused(c.Stamp, now), nil
}

// Fail counts one failed credential check against addr (after Check).
func (t *Throttle) Fail(ctx context.Context, addr string) error {
	if t == nil {
		return nil
	}
	key := addrKey(addr)
	t.mu.Lock()
	delete(t.clear, key)
	t.mu.Unlock()
	if _, _, err := t.st.TakeToken(ctx, key, t.now(), t.interval, t.burst); err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	return nil
}

// refused is the Verdict for an empty bucket whose theoretical arrival
// time is tat: the next token is there once tat is within burst-1
// intervals of now.
func (t *Throttle) refused(tat, now time.Time) Verdict {
	wait := tat.Add(-time.Duration(t.burst-1) * t.interval).Sub(now)
	wait = (wait + time.Second - 1).Truncate(time.Second)
	if wait < time.Second {
		wait = time.Second
	}
	return Verdict{RetryAfter: wait}
}
