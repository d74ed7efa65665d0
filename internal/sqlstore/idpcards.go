package sqlstore

import (
	"sync"

	"ward/internal/directory"
)

// cardCacheMax bounds the card cache: at about 200 bytes a card, 10k
// cards are a few MB, and a site's active IdP users mostly fit.
const cardCacheMax = 10000

// cardCache holds people's group names and profiles for ReadIDPToken,
// keyed by user id, each with the users.card_version it was read at. It
// is only a copy: an entry is served only when its version equals the one
// just read from the database with the token, so an entry made stale by
// a change on any replica is never answered, just replaced. Safe for
// concurrent use; the zero value is ready.
type cardCache struct {
	mu sync.RWMutex
	m  map[int64]cachedCard
}

// cachedCard is one person's groups (names only) and profiles. Its slices
// are shared by every look-up that serves them: read-only.
type cachedCard struct {
	version  int64
	groups   []directory.Group
	profiles []directory.Profile
}

// get returns the card of user id if it is cached at version.
func (c *cardCache) get(id, version int64) (cachedCard, bool) {
	c.mu.RLock()
	cc, ok := c.m[id]
	c.mu.RUnlock()
	return cc, ok && cc.version == version
}

// put caches cc for user id unless a newer version is already there
// (versions only grow). When full, an arbitrary entry makes room: Go's
// map iteration starts at a random place, so this is random eviction,
// which needs no bookkeeping on the read path as an LRU would.
func (c *cardCache) put(id int64, cc cachedCard) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[id]; ok {
		if old.version <= cc.version {
			c.m[id] = cc
		}
		return
	}
	if c.m == nil {
		c.m = make(map[int64]cachedCard)
	}
	if len(c.m) >= cardCacheMax {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[id] = cc
}
