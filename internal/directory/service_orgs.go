package directory

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/store"
)

// Tree returns the organization tree, cached and rebuilt only when
// Store.OrgTreeVersion has moved. Organizations are public reference data,
// so no permission is needed.
func (s *Service) Tree(ctx context.Context) (*OrgTree, error) {
	return s.tree.get(ctx, s.store)
}

// requireOrgAdmin: organizations are site configuration, managed by admins,
// service accounts (site sync) and ward itself.
func (r *request) requireOrgAdmin(ctx context.Context) error {
	return r.requireAnyRole(ctx, "manage organizations", RoleAdmin, RoleService)
}

// CreateOrganization adds an organization. Its parent must already exist
// (Invalid otherwise, as the reference warns); a new organization cannot
// close a cycle, having no children yet.
func (s *Service) CreateOrganization(ctx context.Context, o *Organization) (*Organization, error) {
	r := s.newRequest(ctx)
	if err := r.requireOrgAdmin(ctx); err != nil {
		return nil, err
	}
	c := cloneOrg(o)
	c.ID, c.Version = 0, 0
	c.UpdatedAt = s.now()
	if err := validateOrganization(c); err != nil {
		return nil, err
	}
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.parentExists(ctx, c.PartOfID); err != nil {
			return err
		}
		if err := s.store.CreateOrganization(ctx, c); err != nil {
			return err
		}
		return s.record(ctx, audit.Change{Type: audit.OrganizationCreated, Subject: audit.Ref("Organization", c.ID),
			Fields: map[string]any{"name": c.Name, "part_of": c.PartOfID}}, "created organization %d (%s) part of %d", c.ID, c.Name, c.PartOfID)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// parentExists returns Invalid when a non-zero partOf names no organization.
func (s *Service) parentExists(ctx context.Context, parentID int64) error {
	if parentID == 0 {
		return nil
	}
	if _, err := s.store.GetOrganization(ctx, parentID); err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return apperr.New(apperr.Invalid, "partOf organization %d does not exist", parentID)
		}
		return err
	}
	return nil
}

// GetOrganization returns an organization (public).
func (s *Service) GetOrganization(ctx context.Context, id int64) (*Organization, error) {
	if id <= 0 {
		return nil, apperr.New(apperr.Invalid, "organization id must be a positive integer")
	}
	o, err := s.store.GetOrganization(ctx, id)
	if apperr.Is(err, apperr.NotFound) {
		return nil, apperr.New(apperr.NotFound, "organization %d not found", id)
	}
	return o, err
}

// ResolveOrganization finds an organization by numeric id or by its
// shortcut alias (the identifier with system ShortcutAliasSystem), as the
// reference's /api/organization/{id_or_code} and /go/{alias} do.
func (s *Service) ResolveOrganization(ctx context.Context, idOrAlias string) (*Organization, error) {
	idOrAlias = strings.TrimSpace(idOrAlias)
	if idOrAlias == "" {
		return nil, apperr.New(apperr.Invalid, "organization id or alias is required")
	}
	if id, err := strconv.ParseInt(idOrAlias, 10, 64); err == nil {
		return s.GetOrganization(ctx, id)
	}
	if len(idOrAlias) > maxShortField {
		return nil, apperr.New(apperr.Invalid, "organization alias is too long")
	}
	o, err := s.store.GetOrganizationByIdentifier(ctx, ShortcutAliasSystem, idOrAlias)
	if apperr.Is(err, apperr.NotFound) {
		return nil, apperr.New(apperr.NotFound, "organization %q not found", idOrAlias)
	}
	return o, err
}

// UpdateOrganization replaces an organization's fields. A non-zero Version
// must match the stored one (Conflict otherwise); zero means "whatever is
// current". Moving it under a new parent is refused when the parent does
// not exist or lies below it (a cycle).
func (s *Service) UpdateOrganization(ctx context.Context, o *Organization) (*Organization, error) {
	r := s.newRequest(ctx)
	if err := r.requireOrgAdmin(ctx); err != nil {
		return nil, err
	}
	if o.ID <= 0 {
		return nil, apperr.New(apperr.Invalid, "organization id must be a positive integer")
	}
	c := cloneOrg(o)
	if err := validateOrganization(c); err != nil {
		return nil, err
	}
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		cur, err := s.GetOrganization(ctx, c.ID)
		if err != nil {
			return err
		}
		if c.Version == 0 {
			c.Version = cur.Version
		} else if c.Version != cur.Version {
			return apperr.New(apperr.Conflict, "organization %d was changed by someone else; reload and retry", c.ID)
		}
		if c.PartOfID != cur.PartOfID && c.PartOfID != 0 {
			if err := s.parentExists(ctx, c.PartOfID); err != nil {
				return err
			}
			if err := s.refuseCycle(ctx, c.ID, c.PartOfID); err != nil {
				return err
			}
		}
		c.UpdatedAt = s.now()
		if err := s.store.UpdateOrganization(ctx, c); err != nil {
			return err
		}
		return s.record(ctx, audit.Change{Type: audit.OrganizationUpdated, Subject: audit.Ref("Organization", c.ID),
			Fields: map[string]any{"name": c.Name, "part_of": c.PartOfID}}, "updated organization %d (%s) part of %d", c.ID, c.Name, c.PartOfID)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// refuseCycle returns Invalid when making parent the parent of id would
// put id above itself. It reads the edges inside the caller's transaction
// (not the cached tree, which may predate an uncommitted change) and walks
// up from parent: O(depth).
func (s *Service) refuseCycle(ctx context.Context, id, parent int64) error {
	edges, err := s.store.OrgEdges(ctx)
	if err != nil {
		return err
	}
	up := make(map[int64]int64, len(edges))
	for _, e := range edges {
		up[e.ID] = e.ParentID
	}
	for at, steps := parent, 0; at != 0; at, steps = up[at], steps+1 {
		if at == id {
			return apperr.New(apperr.Invalid, "organization %d cannot be part of %d: %d is at or below %d", id, parent, parent, id)
		}
		if steps > len(edges) {
			return apperr.New(apperr.Internal, "organization tree already contains a cycle above %d", parent)
		}
	}
	return nil
}

// DeleteOrganization removes an organization; Conflict while it still has
// child organizations, members or consents.
func (s *Service) DeleteOrganization(ctx context.Context, id int64) error {
	r := s.newRequest(ctx)
	if err := r.requireOrgAdmin(ctx); err != nil {
		return err
	}
	return s.store.InTx(ctx, func(ctx context.Context) error {
		o, err := s.GetOrganization(ctx, id)
		if err != nil {
			return err
		}
		if err := s.store.DeleteOrganization(ctx, id); err != nil {
			return err
		}
		return s.record(ctx, audit.Change{Type: audit.OrganizationDeleted, Subject: audit.Ref("Organization", id),
			Fields: map[string]any{"name": o.Name}}, "deleted organization %d (%s)", id, o.Name)
	})
}

// ListOrganizations pages through every organization in id order (public).
func (s *Service) ListOrganizations(ctx context.Context, p store.Page) ([]*Organization, string, error) {
	return s.store.ListOrganizations(ctx, nil, p.Normalize())
}

// CountOrganizations returns how many organizations exist (public, like
// ListOrganizations).
func (s *Service) CountOrganizations(ctx context.Context) (int, error) {
	return s.store.CountOrganizations(ctx)
}

// EffectiveCodingOptions returns the race/ethnicity/indigenous options that
// apply at an organization: its own when it uses specific codings, else its
// parent's, recursively; an organization with no such ancestor offers all
// three (the reference's rule).
func (s *Service) EffectiveCodingOptions(ctx context.Context, orgID int64) (CodingOptions, error) {
	seen := map[int64]bool{}
	for id := orgID; ; {
		o, err := s.GetOrganization(ctx, id)
		if err != nil {
			return CodingOptions{}, err
		}
		if o.Coding.UseSpecificCodings {
			return o.Coding, nil
		}
		seen[id] = true
		if o.PartOfID == 0 || seen[o.PartOfID] {
			return CodingOptions{RaceCodings: true, EthnicityCodings: true, IndigenousCodings: true}, nil
		}
		id = o.PartOfID
	}
}

// UserOrganizations returns the organizations of a user the caller may view.
func (s *Service) UserOrganizations(ctx context.Context, id int64) ([]*Organization, error) {
	if _, err := s.newRequest(ctx).check(ctx, View, id); err != nil {
		return nil, err
	}
	ids, err := s.store.UserOrganizations(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.organizations(ctx, ids)
}

// organizations loads organizations by id, page by page.
func (s *Service) organizations(ctx context.Context, ids []int64) ([]*Organization, error) {
	out := make([]*Organization, 0, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	p := store.Page{Limit: store.MaxLimit}
	for {
		batch, next, err := s.store.ListOrganizations(ctx, ids, p)
		if err != nil {
			return nil, err
		}
		out = append(out, batch...)
		if next == "" {
			return out, nil
		}
		p.After = next
	}
}

// SetUserOrganizations makes orgIDs exactly the user's organizations. The
// caller needs edit permission over the user; a caller who is not an admin
// may only add or remove organizations in their own branch of the tree.
// The difference is computed and written under the user's lock (see
// Store), so the audit event names exactly what this call changed.
func (s *Service) SetUserOrganizations(ctx context.Context, id int64, orgIDs []int64) ([]*Organization, error) {
	r := s.newRequest(ctx)
	orgIDs = dedupeIDs(orgIDs)
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if _, err := r.check(ctx, Edit, id); err != nil {
			return err
		}
		if err := s.store.LockUser(ctx, id); err != nil {
			return err
		}
		cur, err := s.store.UserOrganizations(ctx, id)
		if err != nil {
			return err
		}
		added, removed := diffIDs(cur, orgIDs)
		if len(added) == 0 && len(removed) == 0 {
			return nil
		}
		if err := r.checkOrgs(ctx, added); err != nil {
			return err
		}
		tree, err := r.orgTree(ctx)
		if err != nil {
			return err
		}
		// Removing an organization that no longer exists is always fine.
		removed = slices.DeleteFunc(removed, func(o int64) bool { return !tree.Contains(o) })
		if err := r.checkOrgs(ctx, removed); err != nil {
			return err
		}
		if err := s.store.SetUserOrganizations(ctx, id, orgIDs); err != nil {
			return err
		}
		return s.record(ctx, audit.Change{Type: audit.UserOrgsChanged, Subject: audit.UserRef(id), SubjectID: id,
			Fields: map[string]any{"added": added, "removed": removed}}, "organizations of user %d: added %v, removed %v", id, added, removed)
	})
	if err != nil {
		return nil, err
	}
	return s.organizations(ctx, orgIDs)
}

// AddUserOrganizations adds orgIDs to the user's organizations and returns
// them all after. Conflict, adding nothing, when the user already has any
// of them (the reference answers 409), also when a concurrent request has
// just added it: the check and the insert run under the user's lock. The
// caller needs edit permission over the user and, unless an admin, each
// organization must lie in the caller's branch.
func (s *Service) AddUserOrganizations(ctx context.Context, id int64, orgIDs []int64) ([]*Organization, error) {
	r := s.newRequest(ctx)
	orgIDs = dedupeIDs(orgIDs)
	var after []int64
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if _, err := r.check(ctx, Edit, id); err != nil {
			return err
		}
		if err := s.store.LockUser(ctx, id); err != nil {
			return err
		}
		cur, err := s.store.UserOrganizations(ctx, id)
		if err != nil {
			return err
		}
		for _, o := range orgIDs {
			if slices.Contains(cur, o) {
				return apperr.New(apperr.Conflict, "user already belongs to organization %d", o)
			}
		}
		if err := r.checkOrgs(ctx, orgIDs); err != nil {
			return err
		}
		added, err := s.store.AddUserOrganizations(ctx, id, orgIDs)
		if err != nil {
			return err
		}
		if len(added) > 0 {
			if err := s.record(ctx, audit.Change{Type: audit.UserOrgsChanged, Subject: audit.UserRef(id), SubjectID: id,
				Fields: map[string]any{"added": added}}, "organizations of user %d: added %v", id, added); err != nil {
				return err
			}
		}
		after, err = s.store.UserOrganizations(ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.organizations(ctx, after)
}

// diffIDs returns what is in b but not a, and in a but not b.
func diffIDs(a, b []int64) (added, removed []int64) {
	inA := make(map[int64]bool, len(a))
	for _, x := range a {
		inA[x] = true
	}
	inB := make(map[int64]bool, len(b))
	for _, x := range b {
		inB[x] = true
		if !inA[x] {
			added = append(added, x)
		}
	}
	for _, x := range a {
		if !inB[x] {
			removed = append(removed, x)
		}
	}
	return added, removed
}

// cloneOrg copies o so the service never changes the caller's value.
func cloneOrg(o *Organization) *Organization {
	c := *o
	c.Identifiers = slices.Clone(o.Identifiers)
	c.Type = slices.Clone(o.Type)
	c.Telecom = slices.Clone(o.Telecom)
	c.Addresses = slices.Clone(o.Addresses)
	return &c
}

// OrganizationsByID returns the organizations with the given ids in id
// order, skipping ids that name none (public, like ListOrganizations). The
// console names the nodes of the tree it draws with it.
func (s *Service) OrganizationsByID(ctx context.Context, ids []int64) ([]*Organization, error) {
	ids = dedupeIDs(ids)
	if len(ids) > store.MaxLimit {
		return nil, apperr.New(apperr.Invalid, "at most %d organizations at once", store.MaxLimit)
	}
	return s.organizations(ctx, ids)
}

// MayManageOrganizations reports whether the caller may create, change
// and delete organizations, by the same rule those methods apply, so a
// page can offer its forms only to those whose posts would not be
// refused. It answers false, not an error, for a caller the rule refuses.
func (s *Service) MayManageOrganizations(ctx context.Context) (bool, error) {
	err := s.newRequest(ctx).requireOrgAdmin(ctx)
	switch {
	case err == nil:
		return true, nil
	case apperr.Is(err, apperr.Forbidden), apperr.Is(err, apperr.Unauthenticated):
		return false, nil
	}
	return false, err
}
