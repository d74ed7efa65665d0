package directory

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// naiveTree answers the same questions by walking parent pointers, as the
// reference does; it is the oracle for OrgTree.
type naiveTree struct {
	parent   map[int64]int64
	children map[int64][]int64
}

func newNaive(edges []OrgEdge) *naiveTree {
	n := &naiveTree{parent: map[int64]int64{}, children: map[int64][]int64{}}
	for _, e := range edges {
		n.parent[e.ID] = e.ParentID
		if e.ParentID != 0 {
			n.children[e.ParentID] = append(n.children[e.ParentID], e.ID)
		}
	}
	return n
}

func (n *naiveTree) isAtOrBelow(id, anc int64) bool {
	if _, ok := n.parent[id]; !ok {
		return false
	}
	if _, ok := n.parent[anc]; !ok {
		return false
	}
	for at := id; at != 0; at = n.parent[at] {
		if at == anc {
			return true
		}
	}
	return false
}

func (n *naiveTree) top(id int64) int64 {
	for n.parent[id] != 0 {
		id = n.parent[id]
	}
	return id
}

func sortedCopy(s []int64) []int64 {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// randomEdges builds a random forest of n organizations whose ids are
// shuffled relative to their depth (so a child may have a smaller id than
// its parent), with a few top-level organizations.
func randomEdges(n int, rng *rand.Rand) []OrgEdge {
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(i + 1)
	}
	rng.Shuffle(n, func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	edges := make([]OrgEdge, n)
	for i, id := range ids {
		var parent int64
		if i > 0 && rng.IntN(100) != 0 { // about 1% top level
			parent = ids[rng.IntN(i)]
		}
		edges[i] = OrgEdge{ID: id, ParentID: parent}
	}
	rng.Shuffle(n, func(i, j int) { edges[i], edges[j] = edges[j], edges[i] })
	return edges
}

func chainEdges(n int) []OrgEdge {
	edges := make([]OrgEdge, n)
	for i := range edges {
		edges[i] = OrgEdge{ID: int64(i + 1), ParentID: int64(i)}
	}
	return edges
}

func TestOrgTreeSmall(t *testing.T) {
	//      1            10
	//    /   \           |
	//   2     3         11
	//  / \     \
	// 4   5     6
	edges := []OrgEdge{{6, 3}, {1, 0}, {2, 1}, {3, 1}, {4, 2}, {5, 2}, {10, 0}, {11, 10}}
	tree, err := NewOrgTree(edges)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"AtOrBelow(1)", tree.AtOrBelow(1), []int64{1, 2, 4, 5, 3, 6}},
		{"AtOrBelow(2)", tree.AtOrBelow(2), []int64{2, 4, 5}},
		{"AtOrBelow(leaf)", tree.AtOrBelow(6), []int64{6}},
		{"AtOrBelow(unknown)", tree.AtOrBelow(99), []int64(nil)},
		{"AtAndAbove(5)", tree.AtAndAbove(5), []int64{5, 2, 1}},
		{"AtAndAbove(top)", tree.AtAndAbove(10), []int64{10}},
		{"AtAndAbove(unknown)", tree.AtAndAbove(99), []int64(nil)},
		{"TopLevel", tree.TopLevel(), []int64{1, 10}},
		{"TopOf(6)", tree.TopOf(6), int64(1)},
		{"TopOf(11)", tree.TopOf(11), int64(10)},
		{"TopOf(unknown)", tree.TopOf(99), int64(0)},
		{"LeavesBelow(1)", tree.LeavesBelow(1), []int64{4, 5, 6}},
		{"LeavesBelow(3)", tree.LeavesBelow(3), []int64{6}},
		{"LeavesBelow(leaf)", tree.LeavesBelow(4), []int64{4}},
		{"LeavesBelow(unknown)", tree.LeavesBelow(99), []int64(nil)},
		{"AnyAtOrBelow(2,[6,5])", tree.AnyAtOrBelow(2, []int64{6, 5}), true},
		{"AnyAtOrBelow(2,[6,3])", tree.AnyAtOrBelow(2, []int64{6, 3}), false},
		{"AnyAtOrBelow(2,[2])", tree.AnyAtOrBelow(2, []int64{2}), true},
		{"AnyAtOrBelow(2,[1]) parent is not below", tree.AnyAtOrBelow(2, []int64{1}), false},
		{"AnyAtOrBelow(1,[11]) other tree", tree.AnyAtOrBelow(1, []int64{11}), false},
		{"AnyAtOrBelow(unknown)", tree.AnyAtOrBelow(99, []int64{1}), false},
		{"AnyAtOrBelow(1,[unknown])", tree.AnyAtOrBelow(1, []int64{99}), false},
		{"AnyAtOrBelow(1,nil)", tree.AnyAtOrBelow(1, nil), false},
		{"Contains(11)", tree.Contains(11), true},
		{"Contains(7)", tree.Contains(7), false},
		{"Parent(4)", tree.Parent(4), int64(2)},
		{"Parent(1)", tree.Parent(1), int64(0)},
		{"AtOrBelowAny overlapping", tree.AtOrBelowAny([]int64{2, 1, 4, 99}), []int64{1, 2, 3, 4, 5, 6}},
		{"AtOrBelowAny disjoint", tree.AtOrBelowAny([]int64{11, 3}), []int64{3, 6, 11}},
		{"AtOrBelowAny none", tree.AtOrBelowAny(nil), []int64(nil)},
		{"Len", tree.Len(), 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !equalAny(tc.got, tc.want) {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}

	// Results are the caller's: changing one must not change the tree.
	got := tree.AtOrBelow(1)
	got[0] = 42
	if tree.AtOrBelow(1)[0] != 1 {
		t.Error("AtOrBelow returned the tree's own slice")
	}
}

func equalAny(a, b any) bool {
	switch x := a.(type) {
	case []int64:
		y, ok := b.([]int64)
		return ok && slices.Equal(x, y) && (x == nil) == (y == nil)
	default:
		return a == b
	}
}

func TestOrgTreeRejectsBadEdges(t *testing.T) {
	tests := []struct {
		name  string
		edges []OrgEdge
		want  string
	}{
		{"unknown parent", []OrgEdge{{1, 0}, {2, 42}}, "unknown organization 42"},
		{"self parent", []OrgEdge{{1, 0}, {2, 2}}, "organization 2 is part of itself"},
		{"two-cycle", []OrgEdge{{1, 0}, {2, 3}, {3, 2}}, "organization 2 is part of a cycle"},
		{"cycle with a tail", []OrgEdge{{1, 0}, {5, 6}, {6, 7}, {7, 5}, {8, 7}}, "organization 5 is part of a cycle"},
		{"duplicate id", []OrgEdge{{1, 0}, {1, 0}}, "listed twice"},
		{"zero id", []OrgEdge{{0, 0}}, "invalid organization id 0"},
		{"negative id", []OrgEdge{{-3, 0}}, "invalid organization id -3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewOrgTree(tc.edges)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	// And the good neighbour of each: no edges at all is a valid, empty tree.
	tree, err := NewOrgTree(nil)
	if err != nil || tree.Len() != 0 || tree.TopLevel() != nil {
		t.Fatalf("empty tree: %v, %v", tree, err)
	}
}

// TestOrgTreeMatchesNaive checks every query against the naive oracle on a
// random 100,000-organization forest.
func TestOrgTreeMatchesNaive(t *testing.T) {
	const n = 100_000
	rng := rand.New(rand.NewPCG(1, 2))
	edges := randomEdges(n, rng)
	tree, err := NewOrgTree(edges)
	if err != nil {
		t.Fatal(err)
	}
	naive := newNaive(edges)
	if tree.Len() != n {
		t.Fatalf("Len = %d", tree.Len())
	}

	var wantTops []int64
	for _, e := range edges {
		if e.ParentID == 0 {
			wantTops = append(wantTops, e.ID)
		}
	}
	if got := tree.TopLevel(); !slices.Equal(got, sortedCopy(wantTops)) {
		t.Fatalf("TopLevel differs: %d vs %d", len(got), len(wantTops))
	}

	// Subtree sizes from the naive children lists, iteratively.
	for range 300 {
		id := int64(rng.IntN(n) + 1)
		var want, leaves []int64
		stack := []int64{id}
		for len(stack) > 0 {
			at := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			want = append(want, at)
			if len(naive.children[at]) == 0 {
				leaves = append(leaves, at)
			}
			stack = append(stack, naive.children[at]...)
		}
		if got := tree.AtOrBelow(id); !slices.Equal(sortedCopy(got), sortedCopy(want)) || got[0] != id {
			t.Fatalf("AtOrBelow(%d): got %d ids, want %d", id, len(got), len(want))
		}
		if got := tree.LeavesBelow(id); !slices.Equal(sortedCopy(got), sortedCopy(leaves)) {
			t.Fatalf("LeavesBelow(%d): got %d ids, want %d", id, len(got), len(leaves))
		}
		var above []int64
		for at := id; at != 0; at = naive.parent[at] {
			above = append(above, at)
		}
		if got := tree.AtAndAbove(id); !slices.Equal(got, above) {
			t.Fatalf("AtAndAbove(%d) = %v, want %v", id, got, above)
		}
		if got, want := tree.TopOf(id), naive.top(id); got != want {
			t.Fatalf("TopOf(%d) = %d, want %d", id, got, want)
		}
	}

	// Pairs: pick ancestors often so both answers are exercised.
	for range 20_000 {
		id := int64(rng.IntN(n) + 1)
		anc := int64(rng.IntN(n) + 1)
		if rng.IntN(2) == 0 {
			chain := tree.AtAndAbove(id)
			anc = chain[rng.IntN(len(chain))]
		}
		want := naive.isAtOrBelow(id, anc)
		if got := tree.IsAtOrBelow(id, anc); got != want {
			t.Fatalf("IsAtOrBelow(%d, %d) = %v, want %v", id, anc, got, want)
		}
		others := []int64{int64(rng.IntN(n) + 1), id}
		wantAny := want || naive.isAtOrBelow(others[0], anc)
		if got := tree.AnyAtOrBelow(anc, others); got != wantAny {
			t.Fatalf("AnyAtOrBelow(%d, %v) = %v, want %v", anc, others, got, wantAny)
		}
	}

	roots := []int64{int64(rng.IntN(n) + 1), int64(rng.IntN(n) + 1), int64(rng.IntN(n) + 1)}
	seen := map[int64]bool{}
	for _, r := range roots {
		for _, id := range tree.AtOrBelow(r) {
			seen[id] = true
		}
	}
	got := tree.AtOrBelowAny(roots)
	if len(got) != len(seen) || !slices.IsSorted(got) {
		t.Fatalf("AtOrBelowAny: %d ids (sorted %v), want %d", len(got), slices.IsSorted(got), len(seen))
	}
	for _, id := range got {
		if !seen[id] {
			t.Fatalf("AtOrBelowAny returned %d, not below any root", id)
		}
	}
}

// TestOrgTreeDeepChain: a 100,000-deep chain must not blow the stack.
func TestOrgTreeDeepChain(t *testing.T) {
	const n = 100_000
	tree, err := NewOrgTree(chainEdges(n))
	if err != nil {
		t.Fatal(err)
	}
	if got := tree.TopOf(n); got != 1 {
		t.Errorf("TopOf(bottom) = %d", got)
	}
	if got := len(tree.AtAndAbove(n)); got != n {
		t.Errorf("AtAndAbove(bottom) has %d ids", got)
	}
	if got := tree.LeavesBelow(1); !slices.Equal(got, []int64{n}) {
		t.Errorf("LeavesBelow(top) = %v", got)
	}
	if !tree.IsAtOrBelow(n, 1) || tree.IsAtOrBelow(1, n) {
		t.Error("IsAtOrBelow wrong on the chain")
	}
	// A cycle at the bottom of a long chain is still found.
	edges := chainEdges(n)
	edges[0].ParentID = n
	if _, err := NewOrgTree(edges); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("chain closed into a ring: err = %v", err)
	}
}

func BenchmarkOrgTreeBuild100k(b *testing.B) {
	edges := randomEdges(100_000, rand.New(rand.NewPCG(3, 4)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewOrgTree(edges); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOrgTreeBuildChain100k(b *testing.B) {
	edges := chainEdges(100_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewOrgTree(edges); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOrgTreeQueries100k(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	tree, err := NewOrgTree(randomEdges(100_000, rng))
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]int64, 1024)
	for i := range ids {
		ids[i] = int64(rng.IntN(100_000) + 1)
	}
	b.Run("IsAtOrBelow", func(b *testing.B) {
		i := 0
		for b.Loop() {
			tree.IsAtOrBelow(ids[i%1024], ids[(i+1)%1024])
			i++
		}
	})
	b.Run("AnyAtOrBelow/8", func(b *testing.B) {
		i := 0
		for b.Loop() {
			tree.AnyAtOrBelow(ids[i%1024], ids[(i+1)%1016:(i+1)%1016+8])
			i++
		}
	})
	b.Run("TopOf", func(b *testing.B) {
		i := 0
		for b.Loop() {
			tree.TopOf(ids[i%1024])
			i++
		}
	})
	b.Run("AtAndAbove", func(b *testing.B) {
		i := 0
		for b.Loop() {
			tree.AtAndAbove(ids[i%1024])
			i++
		}
	})
	top := tree.TopLevel()[0]
	b.Run("AtOrBelow/top", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tree.AtOrBelow(top)
		}
	})
	b.Run("LeavesBelow/top", func(b *testing.B) {
		for b.Loop() {
			tree.LeavesBelow(top)
		}
	})
	b.Run("AtOrBelowAny/3", func(b *testing.B) {
		for b.Loop() {
			tree.AtOrBelowAny(ids[:3])
		}
	})
}

// versionedEdges is a Store that only answers the two questions treeCache
// asks; every other method panics through the nil embedded interface.
type versionedEdges struct {
	Store
	mu      sync.Mutex
	version int64
	edges   []OrgEdge
	loads   int
	fail    error
}

func (v *versionedEdges) OrgTreeVersion(context.Context) (int64, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.version, nil
}

func (v *versionedEdges) OrgEdges(context.Context) ([]OrgEdge, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.loads++
	if v.fail != nil {
		return nil, v.fail
	}
	return slices.Clone(v.edges), nil
}

func (v *versionedEdges) set(version int64, edges []OrgEdge, fail error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.version, v.edges, v.fail = version, edges, fail
}

func (v *versionedEdges) loadCount() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.loads
}

func TestTreeCache(t *testing.T) {
	ctx := context.Background()
	st := &versionedEdges{}
	st.set(1, []OrgEdge{{1, 0}, {2, 1}}, nil)
	var c treeCache

	// Many concurrent first requests build the tree once.
	var wg sync.WaitGroup
	trees := make([]*OrgTree, 32)
	errs := make([]error, 32)
	for i := range trees {
		wg.Go(func() { trees[i], errs[i] = c.get(ctx, st) })
	}
	wg.Wait()
	for i := range trees {
		if errs[i] != nil || trees[i] != trees[0] {
			t.Fatalf("request %d: %v, %p vs %p", i, errs[i], trees[i], trees[0])
		}
	}
	if n := st.loadCount(); n != 1 {
		t.Fatalf("edges loaded %d times, want 1", n)
	}

	// Same version: cached. New version: rebuilt with the new edges.
	if tr, _ := c.get(ctx, st); tr != trees[0] || st.loadCount() != 1 {
		t.Fatal("unchanged version rebuilt the tree")
	}
	st.set(2, []OrgEdge{{1, 0}, {2, 1}, {3, 2}}, nil)
	tr, err := c.get(ctx, st)
	if err != nil || !tr.IsAtOrBelow(3, 1) || st.loadCount() != 2 {
		t.Fatalf("new version: %v, loads %d", err, st.loadCount())
	}

	// A failed or invalid rebuild is reported and not cached: the next
	// request tries again.
	st.set(3, nil, errors.New("database down"))
	if _, err := c.get(ctx, st); err == nil {
		t.Fatal("edge load failure not reported")
	}
	st.set(3, []OrgEdge{{1, 2}, {2, 1}}, nil)
	if _, err := c.get(ctx, st); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("cycle not reported: %v", err)
	}
	st.set(3, []OrgEdge{{7, 0}}, nil)
	if tr, err := c.get(ctx, st); err != nil || !tr.Contains(7) {
		t.Fatalf("recovery: %v", err)
	}
}
