package sqlstore

import (
	"testing"

	"ward/internal/directory"
)

// TestCardCache: a card is served only at the version it was stored
// with, an older read never replaces a newer one, and the cache never
// holds more than cardCacheMax cards.
func TestCardCache(t *testing.T) {
	var c cardCache
	if _, ok := c.get(1, 0); ok {
		t.Fatal("empty cache served a card")
	}
	v2 := cachedCard{version: 2, groups: []directory.Group{{Name: "two"}}}
	c.put(1, v2)
	if got, ok := c.get(1, 2); !ok || got.groups[0].Name != "two" {
		t.Fatalf("get(1, 2) = %+v, %v; want the stored card", got, ok)
	}
	for _, v := range []int64{1, 3} {
		if _, ok := c.get(1, v); ok {
			t.Fatalf("card of version 2 served at version %d", v)
		}
	}
	c.put(1, cachedCard{version: 1, groups: []directory.Group{{Name: "one"}}})
	if _, ok := c.get(1, 2); !ok {
		t.Fatal("an older card replaced a newer one")
	}
	c.put(1, cachedCard{version: 3})
	if _, ok := c.get(1, 3); !ok {
		t.Fatal("a newer card did not replace the older one")
	}
	for id := int64(2); id < cardCacheMax+100; id++ {
		c.put(id, cachedCard{version: 1})
	}
	if n := len(c.m); n > cardCacheMax {
		t.Fatalf("cache holds %d cards, bound is %d", n, cardCacheMax)
	}
	if _, ok := c.get(cardCacheMax+99, 1); !ok {
		t.Fatal("the card just stored was evicted")
	}
}
