package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/store"
)

// testLockUser checks Store's locking contract: transactions that lock a
// user and then read-modify-write the user's sets run one after another,
// also when they come from two handles on the database (two replicas).
// Each of 20 concurrent transactions reads how many organizations the user
// has, k, and adds the k-th: under the lock they read 0..19 and all 20 are
// added; without it they read the same k and add the same organization.
// To make that collision certain when the lock is missing, each waits
// after its read until all have read, or a short deadline passes (which is
// what happens under the lock, where the others cannot read yet).
func testLockUser(t *testing.T, b Backend) {
	ctx := t.Context()
	u := newUser(t, b, "u@example.org")

	if err := b.Directory.LockUser(ctx, u.ID); err == nil {
		t.Fatal("LockUser outside a transaction succeeded; it must refuse")
	}
	wantKind(t, b.Tx.InTx(ctx, func(ctx context.Context) error {
		return b.Directory.LockUser(ctx, 99999)
	}), apperr.NotFound, "lock an unknown user")

	const n = 20
	orgs := make([]int64, n)
	for i := range orgs {
		orgs[i] = newOrg(t, b, fmt.Sprintf("org %d", i), 0).ID
	}
	dirs := []directory.Store{b.Directory, b.Directory}
	txs := []store.Transactor{b.Tx, b.Tx}
	if b.Replica != nil {
		dirs[1], txs[1] = b.Replica(t)
	}
	var read atomic.Int32
	allRead := make(chan struct{})
	errs := make([]error, n)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			d := dirs[i%2]
			errs[i] = txs[i%2].InTx(ctx, func(ctx context.Context) error {
				if err := d.LockUser(ctx, u.ID); err != nil {
					return err
				}
				cur, err := d.UserOrganizations(ctx, u.ID)
				if err != nil {
					return err
				}
				if read.Add(1) == n {
					close(allRead)
				}
				select {
				case <-allRead:
				case <-time.After(50 * time.Millisecond):
				}
				if len(cur) >= n {
					return fmt.Errorf("read %d organizations, more than were added", len(cur))
				}
				_, err = d.AddUserOrganizations(ctx, u.ID, []int64{orgs[len(cur)]})
				return err
			})
		}()
	}
	close(gate)
	wg.Wait()
	for i, err := range errs {
		must(t, err, fmt.Sprintf("add %d", i))
	}
	got, err := b.Directory.UserOrganizations(ctx, u.ID)
	must(t, err, "organizations")
	mustEqual(t, got, orgs, "each locked transaction saw the one before it")

	// The lock does not outlive its transaction: a later one takes it.
	must(t, b.Tx.InTx(ctx, func(ctx context.Context) error {
		return b.Directory.LockUser(ctx, u.ID)
	}), "lock again after commit")
}

// testAddUserOrganizations checks the insert-if-absent add: it reports only
// what it added, leaves what was there, and refuses unknown organizations
// without adding the others.
func testAddUserOrganizations(t *testing.T, b Backend) {
	ctx := t.Context()
	o1, o2, o3 := newOrg(t, b, "1", 0), newOrg(t, b, "2", 0), newOrg(t, b, "3", 0)
	u := newUser(t, b, "u@example.org")
	added, err := b.Directory.AddUserOrganizations(ctx, u.ID, []int64{o2.ID, o1.ID, o2.ID})
	must(t, err, "add")
	mustEqual(t, added, []int64{o2.ID, o1.ID}, "added, in the order given, once each")
	added, err = b.Directory.AddUserOrganizations(ctx, u.ID, []int64{o1.ID, o3.ID})
	must(t, err, "add again")
	mustEqual(t, added, []int64{o3.ID}, "only the organization not held yet")
	added, err = b.Directory.AddUserOrganizations(ctx, u.ID, []int64{o1.ID})
	must(t, err, "add held")
	if len(added) != 0 {
		t.Fatalf("adding a held organization reported %v as added", added)
	}
	_, err = b.Directory.AddUserOrganizations(ctx, u.ID, []int64{99999})
	wantKind(t, err, apperr.Invalid, "unknown organization")
	got, err := b.Directory.UserOrganizations(ctx, u.ID)
	must(t, err, "organizations")
	mustEqual(t, got, []int64{o1.ID, o2.ID, o3.ID}, "organizations after adds")
}

// testSetKeepsRows checks that the Set methods, which write only the
// difference, still replace exactly: kept rows stay, new ones appear,
// duplicates collapse, and an empty list clears the set.
func testSetKeepsRows(t *testing.T, b Backend) {
	ctx := t.Context()
	u := newUser(t, b, "u@example.org", directory.RolePatient, directory.RoleTest)
	must(t, b.Directory.SetUserRoles(ctx, u.ID, []string{directory.RoleTest, directory.RoleStaff, directory.RoleTest}), "replace roles")
	roles, err := b.Directory.UserRoles(ctx, u.ID)
	must(t, err, "roles")
	mustEqual(t, roles, []string{directory.RoleStaff, directory.RoleTest}, "roles after replace")
	g1 := &directory.Group{Name: "g1", Description: "d"}
	g2 := &directory.Group{Name: "g2", Description: "d"}
	must(t, b.Directory.CreateGroup(ctx, g1), "group 1")
	must(t, b.Directory.CreateGroup(ctx, g2), "group 2")
	must(t, b.Directory.SetUserGroups(ctx, u.ID, []int64{g1.ID}), "groups")
	must(t, b.Directory.SetUserGroups(ctx, u.ID, []int64{g2.ID, g1.ID}), "groups again")
	gs, err := b.Directory.UserGroups(ctx, u.ID)
	must(t, err, "user groups")
	var names []string
	for _, g := range gs {
		names = append(names, g.Name)
	}
	mustEqual(t, names, []string{"g1", "g2"}, "groups after replace")
	must(t, b.Directory.SetUserGroups(ctx, u.ID, nil), "clear groups")
	gs, err = b.Directory.UserGroups(ctx, u.ID)
	must(t, err, "user groups after clear")
	if len(gs) != 0 {
		t.Fatalf("groups after clear: %v", gs)
	}
	must(t, b.Directory.SetUserRoles(ctx, u.ID, []string{}), "clear roles")
	roles, err = b.Directory.UserRoles(ctx, u.ID)
	must(t, err, "roles after clear")
	if len(roles) != 0 {
		t.Fatalf("roles after clear: %v", roles)
	}
}
