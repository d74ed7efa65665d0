package directory

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// OrgTree is an immutable, in-memory view of the organization hierarchy.
// Any number of organizations may be top level (the reference system hangs
// them under a dummy root; here they are simply the nodes without a parent).
//
// It is built once from the (id, parent) edges and answers every question in
// time proportional to the answer, not to the size of the tree: a depth-first
// walk numbers each node on entry, so a node's subtree is the contiguous run
// order[enter[n]:exit[n]] and "is x at or below p" is two integer comparisons.
// That matters because permission checks ask it on every request and the
// tree may hold 100,000 organizations. An OrgTree is safe for concurrent use
// because nothing mutates it after NewOrgTree returns.
type OrgTree struct {
	index  map[int64]int32 // organization id -> node number
	ids    []int64         // node number -> organization id
	parent []int32         // node number -> parent node number, -1 for top level
	top    []int32         // node number -> its top-level ancestor (itself when top level)
	enter  []int32         // node number -> position in order
	exit   []int32         // node number -> one past the last position of its subtree
	order  []int64         // ids in depth-first preorder, children by ascending id
	leaves []int32         // preorder positions of leaf nodes, ascending
	tops   []int64         // top-level ids, ascending
}

// NewOrgTree builds the tree from every organization's (id, parent) edge.
// It fails on a non-positive or duplicate id, on a parent that is not itself
// in edges, and on a cycle (including an organization that is its own
// parent), naming an offending id so bad data is found quickly.
func NewOrgTree(edges []OrgEdge) (*OrgTree, error) {
	n := len(edges)
	if int64(n) > int64(^uint32(0)>>1) {
		return nil, fmt.Errorf("org tree: %d organizations exceed the supported maximum", n)
	}
	t := &OrgTree{
		index:  make(map[int64]int32, n),
		ids:    make([]int64, n),
		parent: make([]int32, n),
		top:    make([]int32, n),
		enter:  make([]int32, n),
		exit:   make([]int32, n),
		order:  make([]int64, 0, n),
	}
	// Number nodes in ascending id order so children and top-level lists come
	// out sorted without a sort per node.
	sorted := slices.Clone(edges)
	slices.SortFunc(sorted, func(a, b OrgEdge) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	for i, e := range sorted {
		if e.ID <= 0 {
			return nil, fmt.Errorf("org tree: invalid organization id %d", e.ID)
		}
		if i > 0 && sorted[i-1].ID == e.ID {
			return nil, fmt.Errorf("org tree: organization %d listed twice", e.ID)
		}
		t.index[e.ID] = int32(i)
		t.ids[i] = e.ID
	}

	// Children as a compressed adjacency list: childStart[p]..childStart[p+1]
	// indexes into children. Filled in node order, so each run is ascending.
	childCount := make([]int32, n+1)
	for i, e := range sorted {
		if e.ParentID == 0 {
			t.parent[i] = -1
			continue
		}
		p, ok := t.index[e.ParentID]
		if !ok {
			return nil, fmt.Errorf("org tree: organization %d is part of unknown organization %d", e.ID, e.ParentID)
		}
		if p == int32(i) {
			return nil, fmt.Errorf("org tree: organization %d is part of itself", e.ID)
		}
		t.parent[i] = p
		childCount[p+1]++
	}
	childStart := childCount // reuse: prefix sums turn counts into offsets
	for i := 1; i <= n; i++ {
		childStart[i] += childStart[i-1]
	}
	children := make([]int32, n)
	fill := slices.Clone(childStart[:n])
	for i := range n {
		if p := t.parent[i]; p >= 0 {
			children[fill[p]] = int32(i)
			fill[p]++
		}
	}

	// Iterative depth-first walk from every top-level node: an explicit stack
	// of (node, next child offset) so a 100,000-deep chain cannot overflow the
	// goroutine stack.
	type frame struct{ node, next int32 }
	stack := make([]frame, 0, 64)
	seen := make([]bool, n)
	visited := 0
	for root := range int32(n) {
		if t.parent[root] != -1 {
			continue
		}
		t.tops = append(t.tops, t.ids[root])
		stack = append(stack[:0], frame{root, childStart[root]})
		t.enter[root] = int32(len(t.order))
		t.top[root] = root
		t.order = append(t.order, t.ids[root])
		seen[root] = true
		visited++
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			if f.next == childStart[f.node+1] {
				t.exit[f.node] = int32(len(t.order))
				if childStart[f.node] == childStart[f.node+1] {
					t.leaves = append(t.leaves, t.enter[f.node])
				}
				stack = stack[:len(stack)-1]
				continue
			}
			c := children[f.next]
			f.next++
			t.enter[c] = int32(len(t.order))
			t.top[c] = root
			t.order = append(t.order, t.ids[c])
			seen[c] = true
			visited++
			stack = append(stack, frame{c, childStart[c]})
		}
	}
	if visited != n {
		// Every node has at most one parent, so a node no top-level walk
		// reached lies on, or hangs below, a cycle.
		for i := range n {
			if !seen[i] {
				return nil, fmt.Errorf("org tree: organization %d is part of a cycle", t.cycleMember(int32(i)))
			}
		}
	}
	return t, nil
}

// cycleMember follows parents from an unreached node until it repeats, and
// returns the smallest id on the cycle so the error is deterministic.
func (t *OrgTree) cycleMember(i int32) int64 {
	seen := map[int32]bool{}
	for !seen[i] {
		seen[i] = true
		i = t.parent[i]
	}
	lowest := t.ids[i]
	for j := t.parent[i]; j != i; j = t.parent[j] {
		lowest = min(lowest, t.ids[j])
	}
	return lowest
}

// Len returns how many organizations the tree holds.
func (t *OrgTree) Len() int { return len(t.ids) }

// IDs returns every organization id in the tree, ascending; the slice is
// the caller's.
func (t *OrgTree) IDs() []int64 {
	out := slices.Clone(t.ids)
	slices.Sort(out)
	return out
}

// Contains reports whether id is an organization in the tree.
func (t *OrgTree) Contains(id int64) bool {
	_, ok := t.index[id]
	return ok
}

// Parent returns id's parent, or 0 for a top-level or unknown organization.
func (t *OrgTree) Parent(id int64) int64 {
	i, ok := t.index[id]
	if !ok || t.parent[i] < 0 {
		return 0
	}
	return t.ids[t.parent[i]]
}

// AtOrBelow returns id and every organization below it, in depth-first
// order (a parent before its children, siblings by ascending id); nil when
// id is unknown. The slice is the caller's to keep or change.
func (t *OrgTree) AtOrBelow(id int64) []int64 {
	i, ok := t.index[id]
	if !ok {
		return nil
	}
	return slices.Clone(t.order[t.enter[i]:t.exit[i]])
}

// AtAndAbove returns id followed by its parent, grandparent and so on up to
// its top-level organization; nil when id is unknown.
func (t *OrgTree) AtAndAbove(id int64) []int64 {
	i, ok := t.index[id]
	if !ok {
		return nil
	}
	var out []int64
	for ; i >= 0; i = t.parent[i] {
		out = append(out, t.ids[i])
	}
	return out
}

// TopLevel returns the organizations without a parent, ascending.
func (t *OrgTree) TopLevel() []int64 { return slices.Clone(t.tops) }

// TopOf returns the top-level organization above (or at) id; 0 when id is
// unknown.
func (t *OrgTree) TopOf(id int64) int64 {
	i, ok := t.index[id]
	if !ok {
		return 0
	}
	return t.ids[t.top[i]]
}

// LeavesBelow returns the organizations at or below id that have no
// children (id itself when it is a leaf), in depth-first order; nil when id
// is unknown. Leaves are kept by preorder position, so the answer is found by
// binary search and costs O(log n + answer).
func (t *OrgTree) LeavesBelow(id int64) []int64 {
	i, ok := t.index[id]
	if !ok {
		return nil
	}
	lo, _ := slices.BinarySearch(t.leaves, t.enter[i])
	hi, _ := slices.BinarySearch(t.leaves, t.exit[i])
	out := make([]int64, 0, hi-lo)
	for _, pos := range t.leaves[lo:hi] {
		out = append(out, t.order[pos])
	}
	return out
}

// IsAtOrBelow reports whether id is ancestor itself or lies below it; false
// when either is unknown. O(1).
func (t *OrgTree) IsAtOrBelow(id, ancestor int64) bool {
	i, ok := t.index[id]
	if !ok {
		return false
	}
	a, ok := t.index[ancestor]
	if !ok {
		return false
	}
	return t.enter[a] <= t.enter[i] && t.enter[i] < t.exit[a]
}

// AnyAtOrBelow reports whether any of others is parent itself or lies below
// it (the reference system's at_or_below_ids). Unknown ids never match.
// O(len(others)).
func (t *OrgTree) AnyAtOrBelow(parent int64, others []int64) bool {
	a, ok := t.index[parent]
	if !ok {
		return false
	}
	lo, hi := t.enter[a], t.exit[a]
	for _, o := range others {
		if i, ok := t.index[o]; ok && lo <= t.enter[i] && t.enter[i] < hi {
			return true
		}
	}
	return false
}

// AtOrBelowAny returns the union of AtOrBelow over roots, without duplicates
// (an organization below two of the roots appears once), in ascending id
// order. Unknown roots are ignored.
func (t *OrgTree) AtOrBelowAny(roots []int64) []int64 {
	// Keep only roots not already covered by another root, then the subtrees
	// are disjoint and can be concatenated without a set.
	var keep []int32
	for _, r := range roots {
		i, ok := t.index[r]
		if !ok {
			continue
		}
		keep = append(keep, i)
	}
	slices.SortFunc(keep, func(a, b int32) int { return int(t.enter[a]) - int(t.enter[b]) })
	var out []int64
	end := int32(-1)
	for _, i := range keep {
		if t.enter[i] < end {
			continue // inside the previous kept subtree (or a duplicate)
		}
		out = append(out, t.order[t.enter[i]:t.exit[i]]...)
		end = t.exit[i]
	}
	slices.Sort(out)
	return out
}

// treeCache holds the last OrgTree built and the Store.OrgTreeVersion it was
// built at. Each lookup costs one cheap version query; the tree is rebuilt
// only when the version moved, so a change made on any replica is seen on
// the next request everywhere. Safe for concurrent use; concurrent rebuilds
// are collapsed into one.
type treeCache struct {
	mu      sync.RWMutex
	tree    *OrgTree
	version int64

	build sync.Mutex // held while one goroutine rebuilds
}

// get returns a tree at least as new as the store's current version.
// It must not be called inside a transaction that changed organizations:
// the version it would cache could be rolled back and reused.
func (c *treeCache) get(ctx context.Context, st Store) (*OrgTree, error) {
	v, err := st.OrgTreeVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("org tree version: %w", err)
	}
	if t := c.cached(v); t != nil {
		return t, nil
	}
	c.build.Lock()
	defer c.build.Unlock()
	if t := c.cached(v); t != nil {
		return t, nil // another goroutine rebuilt it while we waited
	}
	// The version was read before the edges, so the cached label is never
	// newer than the data behind it: a change racing with this build only
	// causes one extra rebuild later, never a stale tree.
	edges, err := st.OrgEdges(ctx)
	if err != nil {
		return nil, fmt.Errorf("org tree edges: %w", err)
	}
	t, err := NewOrgTree(edges)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.tree, c.version = t, v
	c.mu.Unlock()
	return t, nil
}

func (c *treeCache) cached(v int64) *OrgTree {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.tree != nil && c.version == v {
		return c.tree
	}
	return nil
}
