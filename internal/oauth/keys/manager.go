package keys

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/store"
)

// CacheTTL is how long a Manager trusts its copy of the key set before it
// asks the database whether the set changed: the bound on how long another
// replica's rotation goes unseen.
const CacheTTL = time.Second

// RetireMargin is added to a retired key's publication on top of the longest
// token lifetime: another replica may go on signing with the old key for up
// to CacheTTL after a rotation, and replicas' clocks differ a little, so a
// token signed just after the rotation must still find its key published.
const RetireMargin = time.Minute

// DefaultMaxTokenLifetime is the lifetime assumed for the longest-lived
// token a signing key may have signed when the caller names none: a day
// comfortably covers access tokens (4 hours in the reference system) and
// ID tokens (minutes). Long-lived service tokens are opaque, not JWTs.
const DefaultMaxTokenLifetime = 24 * time.Hour

// RetireTime is when a key retired by a rotation at rotatedAt stops being
// published: once every token it signed (each living at most
// maxTokenLifetime) has expired, plus RetireMargin.
func RetireTime(rotatedAt time.Time, maxTokenLifetime time.Duration) time.Time {
	return rotatedAt.Add(maxTokenLifetime + RetireMargin)
}

// Manager creates, caches, rotates and prunes signing keys. It is safe for
// concurrent use, and several Managers (replicas) may share one database.
type Manager struct {
	st   Store
	tx   store.Transactor
	aead AEAD
	aud  audit.Recorder
	now  func() time.Time

	mu      sync.Mutex
	loaded  bool
	version int64     // SigningKeysVersion when cached was read
	checked time.Time // when version was last confirmed
	cached  []*Key    // every key published when it was read, newest first
}

// Deps are the collaborators a Manager cannot work without.
type Deps struct {
	Store Store
	Tx    store.Transactor
	// AEAD encrypts private keys before they reach Store (see
	// NewMasterKeyAEAD).
	AEAD  AEAD
	Audit audit.Recorder
}

// Config is how a Manager behaves; the zero Config is valid.
type Config struct {
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// NewManager wires a Manager.
func NewManager(d Deps, cfg Config) *Manager {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Manager{st: d.Store, tx: d.Tx, aead: d.AEAD, aud: d.Audit, now: cfg.Now}
}

// EnsureActive creates a current key for every algorithm that has none: on
// first run, both. It is idempotent, and safe when several replicas start at
// once: the database admits one current key per algorithm, and a replica
// that loses the race keeps the winner's key. It also decrypts every stored
// key, so a wrong master key fails here, at start-up.
func (m *Manager) EnsureActive(ctx context.Context) error {
	ks, err := m.reload(ctx)
	if err != nil {
		return err
	}
	var fresh []*SealedKey
	now := m.now().UTC().Truncate(time.Microsecond) // as stored
	for _, alg := range Algorithms() {
		if slices.ContainsFunc(ks, func(k *Key) bool { return k.Alg == alg && k.Current() }) {
			continue
		}
		// Generated and sealed before the transaction: RSA generation takes
		// a moment, and SQLite has one writer.
		k, err := generate(alg, now)
		if err != nil {
			return err
		}
		sk, err := seal(k, m.aead)
		if err != nil {
			return err
		}
		fresh = append(fresh, sk)
	}
	if len(fresh) == 0 {
		return nil
	}
	defer m.invalidate()
	err = m.tx.InTx(ctx, func(ctx context.Context) error {
		for _, sk := range fresh {
			created, err := m.st.CreateSigningKey(ctx, sk)
			if err != nil {
				return err
			}
			if !created {
				continue // another replica created this algorithm's key first
			}
			// Signing keys belong to the server, not to a user, and the
			// audit vocabulary (seed 001's contexts) has nothing closer
			// than "other"; the comment names what happened.
			if err := m.aud.Record(ctx, audit.Change{Type: audit.SigningKeyCreated, Subject: audit.Ref("SigningKey", sk.KID),
				Fields:  map[string]any{"kid": sk.KID, "alg": sk.Alg},
				Comment: fmt.Sprintf("signing key created: kid %s alg %s (first key for %s)", sk.KID, sk.Alg, sk.Alg)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create signing keys: %w", err)
	}
	return nil
}

// Rotate makes a fresh key the current one for every algorithm. Each
// previous current key stops signing at once and stays published until now
// + maxTokenLifetime + RetireMargin, by when every token it signed has
// expired. A concurrent rotation on another replica makes one of the two
// fail with Conflict (nothing changes for it; the other's keys stand).
func (m *Manager) Rotate(ctx context.Context, maxTokenLifetime time.Duration) ([]*Key, error) {
	if maxTokenLifetime <= 0 {
		return nil, apperr.New(apperr.Invalid, "the longest token lifetime must be positive, got %v", maxTokenLifetime)
	}
	now := m.now().UTC().Truncate(time.Microsecond) // as stored
	retireAfter := RetireTime(now, maxTokenLifetime)
	var fresh []*Key
	var sealed []*SealedKey
	for _, alg := range Algorithms() {
		k, err := generate(alg, now)
		if err != nil {
			return nil, err
		}
		sk, err := seal(k, m.aead)
		if err != nil {
			return nil, err
		}
		fresh, sealed = append(fresh, k), append(sealed, sk)
	}
	defer m.invalidate()
	err := m.tx.InTx(ctx, func(ctx context.Context) error {
		for _, sk := range sealed {
			old, err := m.st.RetireSigningKey(ctx, sk.Alg, retireAfter)
			if err != nil {
				return err
			}
			created, err := m.st.CreateSigningKey(ctx, sk)
			if err != nil {
				return err
			}
			if !created {
				return apperr.New(apperr.Conflict, "another rotation of the %s signing key is in progress; try again", sk.Alg)
			}
			comment := fmt.Sprintf("signing key rotated: kid %s alg %s is now current", sk.KID, sk.Alg)
			if old != "" {
				comment += fmt.Sprintf("; kid %s retired, published until %s", old, retireAfter.Format(time.RFC3339))
			}
			// Context "other": see EnsureActive.
			if err := m.aud.Record(ctx, audit.Change{Type: audit.SigningKeyRotated, Subject: audit.Ref("SigningKey", sk.KID),
				Fields: map[string]any{"kid": sk.KID, "alg": sk.Alg, "retired": old}, Comment: comment}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rotate signing keys: %w", err)
	}
	return fresh, nil
}

// RotateIfOlder rotates (as Rotate) when some algorithm's current key was
// activated more than maxAge ago, or has no current key, and reports whether
// it did. It is what a periodic job calls: run twice, or on two replicas,
// the second run finds young keys (or loses the race) and does nothing.
func (m *Manager) RotateIfOlder(ctx context.Context, maxAge, maxTokenLifetime time.Duration) (bool, error) {
	if maxAge <= 0 {
		return false, apperr.New(apperr.Invalid, "the key age that triggers rotation must be positive, got %v", maxAge)
	}
	ks, err := m.reload(ctx)
	if err != nil {
		return false, err
	}
	cutoff := m.now().Add(-maxAge)
	due := false
	for _, alg := range Algorithms() {
		i := slices.IndexFunc(ks, func(k *Key) bool { return k.Alg == alg && k.Current() })
		if i < 0 || ks[i].ActivatedAt.Before(cutoff) {
			due = true
		}
	}
	if !due {
		return false, nil
	}
	if _, err := m.Rotate(ctx, maxTokenLifetime); err != nil {
		if apperr.Is(err, apperr.Conflict) {
			return false, nil // another replica is rotating right now
		}
		return false, err
	}
	return true, nil
}

// PruneRetired deletes every key whose RetireAfter has passed (they are no
// longer published, so nothing can verify with them) and returns how many.
func (m *Manager) PruneRetired(ctx context.Context) (int, error) {
	n := 0
	defer m.invalidate()
	err := m.tx.InTx(ctx, func(ctx context.Context) error {
		kids, err := m.st.DeleteRetiredSigningKeys(ctx, m.now())
		if err != nil {
			return err
		}
		n = len(kids)
		for _, kid := range kids {
			// Context "other": see EnsureActive.
			if err := m.aud.Record(ctx, audit.Change{Type: audit.SigningKeyDeleted, Subject: audit.Ref("SigningKey", kid),
				Fields: map[string]any{"kid": kid}, Comment: "retired signing key deleted: kid " + kid}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune retired signing keys: %w", err)
	}
	return n, nil
}

// Active returns the current key of alg (ES256 or RS256), from the cache.
func (m *Manager) Active(ctx context.Context, alg string) (*Key, error) {
	if !supported(alg) {
		return nil, apperr.New(apperr.Invalid, "unsupported signing algorithm %q", alg)
	}
	ks, err := m.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	// ActivatedAt is not compared with this replica's clock: a replica whose
	// clock lags the one that rotated must still find the new key.
	for _, k := range ks {
		if k.Alg == alg && k.Current() {
			c := *k // callers get their own copy of the metadata
			return &c, nil
		}
	}
	// Not the caller's fault: the server runs EnsureActive at start-up and
	// rotation always leaves a current key.
	return nil, fmt.Errorf("no current %s signing key (has EnsureActive run?)", alg)
}

// PublicJWKS returns the public half of every key published now (current,
// or retired with RetireAfter in the future), newest first. It carries no
// private parameter.
func (m *Manager) PublicJWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	ks, err := m.snapshot(ctx)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	now := m.now()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range ks {
		if k.PublishedAt(now) {
			set.Keys = append(set.Keys, k.PublicJWK())
		}
	}
	return set, nil
}

// List returns every stored key, published or not yet pruned, newest first,
// read from the database (not the cache). Each is decrypted, so List also
// checks that the master key opens them all.
func (m *Manager) List(ctx context.Context) ([]*Key, error) {
	return m.list(ctx, time.Time{})
}

func (m *Manager) list(ctx context.Context, publishedAt time.Time) ([]*Key, error) {
	sealed, err := m.st.ListSigningKeys(ctx, publishedAt)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	out := make([]*Key, 0, len(sealed))
	for i := range sealed {
		k, err := open(&sealed[i], m.aead)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// snapshot returns the cached key set, confirming it against the database
// version once CacheTTL has passed and re-reading it when the version moved.
func (m *Manager) snapshot(ctx context.Context) ([]*Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if m.loaded && !now.Before(m.checked) && now.Sub(m.checked) < CacheTTL {
		return m.cached, nil
	}
	// The version is read before the keys: a change landing in between
	// makes the next check reload again, never hides the change.
	v, err := m.st.SigningKeysVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("signing keys version: %w", err)
	}
	if m.loaded && v == m.version {
		m.checked = now
		return m.cached, nil
	}
	ks, err := m.list(ctx, now)
	if err != nil {
		return nil, err
	}
	m.cached, m.version, m.checked, m.loaded = ks, v, now, true
	return ks, nil
}

// reload drops the cache and reads the key set afresh.
func (m *Manager) reload(ctx context.Context) ([]*Key, error) {
	m.invalidate()
	return m.snapshot(ctx)
}

// invalidate makes the next snapshot read the database: this Manager's own
// changes are seen at once, not after CacheTTL.
func (m *Manager) invalidate() {
	m.mu.Lock()
	m.loaded = false
	m.mu.Unlock()
}
