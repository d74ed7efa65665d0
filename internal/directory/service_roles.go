package directory

import (
	"context"
	"slices"
	"strings"
	"time"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/grantpolicy"
)

// GrantableRoles returns the roles a holder of held may grant or revoke;
// all is true for an admin, who may grant every role. The table lives in
// internal/grantpolicy, the one rule for who may hand out which power: edit
// permission over a user is not enough to change their roles (a staff
// member who may edit a patient must not be able to make them, or
// themselves, an admin), and below admin nobody grants admin, service or
// staff_admin, or a role none of their own roles covers.
func GrantableRoles(held []string) (all bool, names []string) {
	return grantpolicy.GrantableRoles(held)
}

// checkGrant returns Forbidden naming the first role the caller may not
// grant or revoke, as grantpolicy decides.
func (r *request) checkGrant(ctx context.Context, roles []string) error {
	if len(roles) == 0 || r.who.System {
		return nil
	}
	p, err := r.actorParty(ctx)
	if err != nil {
		return err
	}
	return grantpolicy.Decide(grantpolicy.Caller{UserID: p.ID, Roles: p.Roles},
		grantpolicy.Request{Action: grantpolicy.GrantRoles, Roles: roles}).Err()
}

// checkOrgs checks that every organization exists (Invalid otherwise) and,
// for a caller who is not an admin, service account or ward itself, lies at
// or below one of the caller's own organizations (Forbidden otherwise).
func (r *request) checkOrgs(ctx context.Context, orgIDs []int64) error {
	if len(orgIDs) == 0 {
		return nil
	}
	tree, err := r.orgTree(ctx)
	if err != nil {
		return err
	}
	for _, id := range orgIDs {
		if !tree.Contains(id) {
			return apperr.New(apperr.Invalid, "organization %d does not exist", id)
		}
	}
	if r.who.System {
		return nil
	}
	p, err := r.actorParty(ctx)
	if err != nil {
		return err
	}
	if p.HasRole(RoleAdmin, RoleService) {
		return nil
	}
	for _, id := range orgIDs {
		if !inBranch(tree, p.Orgs, id) {
			return apperr.New(apperr.Forbidden, "organization %d is outside your organizations", id)
		}
	}
	return nil
}

// inBranch reports whether org is at or below any of roots.
func inBranch(tree *OrgTree, roots []int64, org int64) bool {
	for _, root := range roots {
		if tree.IsAtOrBelow(org, root) {
			return true
		}
	}
	return false
}

// UserRoles returns the role names a user holds, sorted.
func (s *Service) UserRoles(ctx context.Context, id int64) ([]string, error) {
	if _, err := s.newRequest(ctx).check(ctx, View, id); err != nil {
		return nil, err
	}
	return s.store.UserRoles(ctx, id)
}

// AddRoles adds roles to a user. Conflict when the user already holds any
// of them (nothing is added then), as the reference answers 409.
func (s *Service) AddRoles(ctx context.Context, id int64, names []string) ([]string, error) {
	return s.changeRoles(ctx, id, names, func(cur, names []string) ([]string, error) {
		for _, n := range names {
			if slices.Contains(cur, n) {
				return nil, apperr.New(apperr.Conflict, "user %d already has role %q", id, n)
			}
		}
		return append(slices.Clone(cur), names...), nil
	})
}

// DeleteRoles removes roles from a user. Conflict when the user does not
// hold any of them (nothing is removed then).
func (s *Service) DeleteRoles(ctx context.Context, id int64, names []string) ([]string, error) {
	return s.changeRoles(ctx, id, names, func(cur, names []string) ([]string, error) {
		for _, n := range names {
			if !slices.Contains(cur, n) {
				return nil, apperr.New(apperr.Conflict, "user %d does not have role %q", id, n)
			}
		}
		return slices.DeleteFunc(slices.Clone(cur), func(r string) bool { return slices.Contains(names, r) }), nil
	})
}

// ReplaceRoles makes names exactly the user's roles.
func (s *Service) ReplaceRoles(ctx context.Context, id int64, names []string) ([]string, error) {
	return s.changeRoles(ctx, id, names, func(_, names []string) ([]string, error) {
		return slices.Clone(names), nil
	})
}

// changeRoles is the shared read-modify-write for the three role edits: the
// caller needs edit permission over the user and the right to grant or
// revoke every role that actually changes.
func (s *Service) changeRoles(ctx context.Context, id int64, names []string,
	apply func(cur, names []string) ([]string, error)) ([]string, error) {
	names, err := validateRoleNames(names)
	if err != nil {
		return nil, err
	}
	r := s.newRequest(ctx)
	var out []string
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if _, err := r.check(ctx, Edit, id); err != nil {
			return err
		}
		// The diff (and the grant check on it) must be taken from the set
		// as it is when this transaction writes: see Store's locking contract.
		if err := s.store.LockUser(ctx, id); err != nil {
			return err
		}
		cur, err := s.store.UserRoles(ctx, id)
		if err != nil {
			return err
		}
		next, err := apply(cur, names)
		if err != nil {
			return err
		}
		slices.Sort(next)
		next = slices.Compact(next)
		added, removed := diffStrings(cur, next)
		if err := r.checkGrant(ctx, append(slices.Clone(added), removed...)); err != nil {
			return err
		}
		out = next
		if len(added) == 0 && len(removed) == 0 {
			return nil
		}
		if err := s.store.SetUserRoles(ctx, id, next); err != nil {
			return err
		}
		note := ""
		if len(removed) > 0 {
			// A grant may have relied on a removed role (see revokeUser).
			if err := s.revokeUser(ctx, id); err != nil {
				return err
			}
			note = "; their tokens and sessions revoked"
		}
		typ := audit.RoleChanged
		switch {
		case len(removed) == 0:
			typ = audit.RoleGranted
		case len(added) == 0:
			typ = audit.RoleRevoked
		}
		return s.record(ctx, audit.Change{Type: typ, Subject: audit.UserRef(id), SubjectID: id,
			Fields: map[string]any{"added": added, "removed": removed}}, "roles of user %d: added [%s], removed [%s]%s",
			id, strings.Join(added, ", "), strings.Join(removed, ", "), note)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// diffStrings returns what is in b but not a, and in a but not b.
func diffStrings(a, b []string) (added, removed []string) {
	for _, x := range b {
		if !slices.Contains(a, x) {
			added = append(added, x)
		}
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			removed = append(removed, x)
		}
	}
	return added, removed
}

func timePtrEqual(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
