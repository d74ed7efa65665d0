package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	josev3 "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
)

// Limits on fetching a client's jwks_uri (private_key_jwt). The fetch goes
// through internal/outbound, so it is also refused redirects and, unless
// WARD_OUTBOUND_ALLOW_PRIVATE, any non-public address.
const (
	// KeySetTimeout bounds one fetch, body included.
	KeySetTimeout = 5 * time.Second
	// KeySetMaxBytes caps a fetched key set (the cap on an inline jwks too).
	KeySetMaxBytes = 64 << 10
	// KeySetTTL is how long a fetched key set is reused without asking the
	// client's server again: a key the client removes stops working within it.
	KeySetTTL = 5 * time.Minute
	// KeySetMinRefetch is the least time between two fetches of one URL,
	// whatever the reason (an assertion with an unknown kid, or a failed
	// fetch): a client cannot make ward hammer a URL, and a failing or
	// hanging server costs one fetch per interval, not one per request.
	KeySetMinRefetch = 30 * time.Second
	// maxKeySetKeys bounds the keys of a fetched set (as of an inline one).
	maxKeySetKeys = 20
	// maxKeySetURLs bounds the cache: only registered clients' URLs are
	// fetched, so it is only reached by very many clients.
	maxKeySetURLs = 1000
)

// errKeySet is all a client learns when its key set cannot be had: not the
// status, body or address of what answered (that would make ward an oracle
// of internal hosts and ports). The detail goes to the log.
var errKeySet = fosite.ErrInvalidClient.WithHint("The client's key set could not be fetched.")

// keySetFetcher is fosite's JWKSFetcherStrategy over ward's outbound
// client, with a cache that limits how often each URL is fetched.
// fosite asks with ignoreCache when an assertion's kid is not in the
// cached set (the client may have rotated keys); that refetch too waits
// for KeySetMinRefetch.
type keySetFetcher struct {
	get func(ctx context.Context, rawURL, accept string) ([]byte, error)
	now func() time.Time
	log *slog.Logger

	mu sync.Mutex
	m  map[string]*keySetEntry
}

var _ fosite.JWKSFetcherStrategy = (*keySetFetcher)(nil)

// keySetEntry is one URL's cache line. sem serializes its fetches, so
// concurrent requests for one client wait for one fetch instead of each
// making their own; the fields are guarded by sem.
type keySetEntry struct {
	sem       chan struct{}
	set       *josev3.JSONWebKeySet // nil until a fetch succeeded
	fetchedAt time.Time             // of set
	triedAt   time.Time             // of the last fetch, successful or not
}

func newKeySetFetcher(get func(context.Context, string, string) ([]byte, error), now func() time.Time, log *slog.Logger) *keySetFetcher {
	return &keySetFetcher{get: get, now: now, log: log, m: map[string]*keySetEntry{}}
}

func (f *keySetFetcher) entry(location string) *keySetEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.m[location]
	if !ok {
		if len(f.m) >= maxKeySetURLs {
			// Entries held by a fetch in flight live on with their holder.
			clear(f.m)
		}
		e = &keySetEntry{sem: make(chan struct{}, 1)}
		f.m[location] = e
	}
	return e
}

// Resolve returns location's key set: cached while younger than
// KeySetTTL (or, when ignoreCache asks for a fresh copy, while the last
// fetch is younger than KeySetMinRefetch), else fetched. Every failure is
// errKeySet to the client and logged with its detail.
func (f *keySetFetcher) Resolve(ctx context.Context, location string, ignoreCache bool) (*josev3.JSONWebKeySet, error) {
	e := f.entry(location)
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, errKeySet.WithWrap(ctx.Err())
	}
	defer func() { <-e.sem }()
	now := f.now()
	within := func(at time.Time, d time.Duration) bool {
		return !at.IsZero() && !now.Before(at) && now.Sub(at) < d
	}
	recent := within(e.triedAt, KeySetMinRefetch)
	if e.set != nil && within(e.fetchedAt, KeySetTTL) && (!ignoreCache || recent) {
		return e.set, nil
	}
	if recent {
		// The last fetch, within the interval, failed: do not ask again yet.
		return nil, errKeySet
	}
	e.triedAt = now
	set, err := f.fetch(ctx, location)
	if err != nil {
		f.log.WarnContext(ctx, "oauth: client key set not fetched", "jwks_uri", redactURL(location), "err", err)
		return nil, errKeySet.WithWrap(err)
	}
	e.set, e.fetchedAt = set, now
	return set, nil
}

func (f *keySetFetcher) fetch(ctx context.Context, location string) (*josev3.JSONWebKeySet, error) {
	body, err := f.get(ctx, location, "application/jwk-set+json, application/json")
	if err != nil {
		return nil, err
	}
	var raw josev3.JSONWebKeySet
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	if len(raw.Keys) > maxKeySetKeys {
		return nil, fmt.Errorf("%d keys, more than %d", len(raw.Keys), maxKeySetKeys)
	}
	// Only public keys: a symmetric key would let anyone who read it sign,
	// and ward has no use for a private one.
	set := &josev3.JSONWebKeySet{}
	for _, k := range raw.Keys {
		if k.Valid() && k.IsPublic() {
			set.Keys = append(set.Keys, k)
		}
	}
	if len(set.Keys) == 0 {
		return nil, fmt.Errorf("no public key among %d", len(raw.Keys))
	}
	return set, nil
}

// redactURL is the URL without query and fragment, for the log.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}
