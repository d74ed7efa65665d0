package console

import (
	"testing"

	"ward/internal/directory"
)

// count returns how many nodes ns and their descendants hold, and the
// organizations they account for (drawn plus counted as hidden).
func count(ns []*orgNode) (drawn, covered int) {
	for _, n := range ns {
		d, c := count(n.Children)
		drawn += 1 + d
		covered += 1 + c + n.Hidden
	}
	return drawn, covered
}

// TestDrawTree: the page draws at most treeNodes organizations and
// treeDepth levels below a top, and counts everything it leaves out on the
// nearest drawn ancestor, so nothing vanishes: drawn plus hidden is the
// whole subtree.
func TestDrawTree(t *testing.T) {
	// Top 1 has a wide fan of 500 children (past the budget); top 2 a
	// chain 10 deep (past the depth); top 3 is alone.
	var edges []directory.OrgEdge
	edges = append(edges, directory.OrgEdge{ID: 1}, directory.OrgEdge{ID: 2}, directory.OrgEdge{ID: 3})
	next := int64(10)
	for range 500 {
		edges = append(edges, directory.OrgEdge{ID: next, ParentID: 1})
		next++
	}
	parent := int64(2)
	var chain []int64
	for range 10 {
		edges = append(edges, directory.OrgEdge{ID: next, ParentID: parent})
		chain = append(chain, next)
		parent = next
		next++
	}
	tree, err := directory.NewOrgTree(edges)
	if err != nil {
		t.Fatalf("NewOrgTree: %v", err)
	}
	nodes, ids := drawTree(tree, []int64{1, 2, 3})
	if len(nodes) != 3 {
		t.Fatalf("%d tops drawn, want 3", len(nodes))
	}
	drawn, covered := count(nodes)
	if drawn != len(ids) || drawn > treeNodes+3 {
		t.Errorf("drew %d nodes (%d ids), budget %d", drawn, len(ids), treeNodes)
	}
	if covered != tree.Len() {
		t.Errorf("drawn and hidden account for %d organizations, want all %d", covered, tree.Len())
	}
	if fan := nodes[0]; fan.Below != 500 || len(fan.Children)+fan.Hidden != 500 || fan.Hidden == 0 {
		t.Errorf("top 1: below %d, %d drawn, %d hidden; want 500 split between drawn and hidden", fan.Below, len(fan.Children), fan.Hidden)
	}
	// The budget is spent before top 2 is reached: top 2 is still drawn,
	// with its whole chain hidden.
	if chainTop := nodes[1]; chainTop.Below != 10 || len(chainTop.Children) != 0 || chainTop.Hidden != 10 {
		t.Errorf("top 2 after the budget: below %d, %d children, %d hidden", chainTop.Below, len(chainTop.Children), chainTop.Hidden)
	}
	if alone := nodes[2]; alone.Below != 0 || alone.Hidden != 0 {
		t.Errorf("top 3: %+v", alone)
	}

	// Alone, the chain is cut at treeDepth levels below its top.
	nodes, _ = drawTree(tree, []int64{2})
	n, depth := nodes[0], 0
	for len(n.Children) == 1 {
		n, depth = n.Children[0], depth+1
	}
	if depth != treeDepth || n.ID != chain[treeDepth-1] || n.Hidden != 10-treeDepth {
		t.Errorf("chain drawn %d deep to %d with %d hidden; want %d deep to %d with %d hidden",
			depth, n.ID, n.Hidden, treeDepth, chain[treeDepth-1], 10-treeDepth)
	}
}
