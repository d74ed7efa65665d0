package directory

import (
	"context"
	"slices"

	"ward/internal/apperr"
	"ward/internal/store"
)

// PractitionerRoles are the roles that make a user a FHIR Practitioner:
// the clinic's clinicians and staff, who may be named as a patient's
// general practitioner. A function, so no caller can change it for everyone.
func PractitionerRoles() []string {
	return []string{RoleClinician, RoleStaff, RoleStaffAdmin}
}

// GroupKind is what a computed Group is built from.
type GroupKind string

// The two kinds of Group ward serves for bulk export.
const (
	// GroupOrganization is an organization's Group: the live patients with
	// a valid consent at or below it (VisiblePatients' rule).
	GroupOrganization GroupKind = "org"
	// GroupPractitioner is a practitioner's Group: the live patients who
	// name them as general practitioner.
	GroupPractitioner GroupKind = "practitioner"
)

// GroupRef names a computed Group: an organization's or a practitioner's.
// Groups are never stored; their members are read from the directory each
// time, so they are current by construction.
type GroupRef struct {
	Kind GroupKind
	ID   int64
}

// GroupInfo is what a Group resource says about itself besides its members.
type GroupInfo struct {
	Ref GroupRef
	// Name is the organization's name, or the practitioner's full name.
	Name string
	// Size is how many members the Group has now.
	Size int
}

// groupAccess decides whether the caller may read g's members: ward itself,
// admins and service accounts may read every Group; staff (staff,
// staff_admin, clinician) the Groups of organizations at or below their own;
// a practitioner their own Group. It returns NotFound for a Group that does
// not exist, so the caller's answer is the same as a read would give.
func (r *request) groupAccess(ctx context.Context, g GroupRef) error {
	if g.ID <= 0 {
		return apperr.New(apperr.Invalid, "group id must be a positive integer")
	}
	switch g.Kind {
	case GroupOrganization:
		tree, err := r.orgTree(ctx)
		if err != nil {
			return err
		}
		if !tree.Contains(g.ID) {
			return apperr.New(apperr.NotFound, "organization %d not found", g.ID)
		}
	case GroupPractitioner:
		if err := r.s.requirePractitioner(ctx, g.ID); err != nil {
			return err
		}
	default:
		return apperr.New(apperr.Invalid, "unknown group kind %q", g.Kind)
	}
	if r.who.System {
		return nil
	}
	a, err := r.actorParty(ctx)
	if err != nil {
		return err
	}
	if a.HasRole(RoleAdmin, RoleService) {
		return nil
	}
	if g.Kind == GroupPractitioner && a.ID != 0 && a.ID == g.ID {
		return nil
	}
	if g.Kind == GroupOrganization && a.HasRole(RoleStaff, RoleStaffAdmin, RoleClinician) {
		tree, err := r.orgTree(ctx)
		if err != nil {
			return err
		}
		if inBranch(tree, a.Orgs, g.ID) {
			return nil
		}
	}
	return apperr.New(apperr.Forbidden, "you may not read the group %s-%d", g.Kind, g.ID)
}

// requirePractitioner returns NotFound unless id is a live user holding a
// practitioner role: only those have a Group.
func (s *Service) requirePractitioner(ctx context.Context, id int64) error {
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return apperr.New(apperr.NotFound, "practitioner %d not found", id)
		}
		return err
	}
	if !u.Active() {
		return apperr.New(apperr.NotFound, "practitioner %d not found", id)
	}
	roles, err := s.store.UserRoles(ctx, id)
	if err != nil {
		return err
	}
	if !(&Party{Roles: roles}).HasRole(PractitionerRoles()...) {
		return apperr.New(apperr.NotFound, "practitioner %d not found", id)
	}
	return nil
}

// GroupMembers returns the patient ids of g in id order after afterID, at
// most limit (store.Page's default and maximum apply), for a caller who may
// read g (see groupAccess).
func (s *Service) GroupMembers(ctx context.Context, g GroupRef, afterID int64, limit int) ([]int64, error) {
	r := s.newRequest(ctx)
	if err := r.groupAccess(ctx, g); err != nil {
		return nil, err
	}
	if afterID < 0 {
		return nil, apperr.New(apperr.Invalid, "afterID must not be negative")
	}
	limit = store.Page{Limit: limit}.Normalize().Limit
	if g.Kind == GroupPractitioner {
		return s.store.PatientsWithGeneralPractitioner(ctx, g.ID, afterID, limit)
	}
	tree, err := r.orgTree(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.PatientsConsentedTo(ctx, tree.AtOrBelow(g.ID), s.now(), afterID, limit)
}

// GroupSize returns how many members g has now, for a caller who may read g.
func (s *Service) GroupSize(ctx context.Context, g GroupRef) (int, error) {
	r := s.newRequest(ctx)
	if err := r.groupAccess(ctx, g); err != nil {
		return 0, err
	}
	return s.groupSize(ctx, r, g)
}

func (s *Service) groupSize(ctx context.Context, r *request, g GroupRef) (int, error) {
	if g.Kind == GroupPractitioner {
		return s.store.CountPatientsWithGeneralPractitioner(ctx, g.ID)
	}
	tree, err := r.orgTree(ctx)
	if err != nil {
		return 0, err
	}
	return s.store.CountPatientsConsentedTo(ctx, tree.AtOrBelow(g.ID), s.now())
}

// Group returns g's name and size, for a caller who may read g.
func (s *Service) Group(ctx context.Context, g GroupRef) (*GroupInfo, error) {
	r := s.newRequest(ctx)
	if err := r.groupAccess(ctx, g); err != nil {
		return nil, err
	}
	info := &GroupInfo{Ref: g}
	if g.Kind == GroupPractitioner {
		u, err := s.store.GetUser(ctx, g.ID)
		if err != nil {
			return nil, err
		}
		info.Name = fullName(u)
	} else {
		o, err := s.store.GetOrganization(ctx, g.ID)
		if err != nil {
			return nil, err
		}
		info.Name = o.Name
	}
	n, err := s.groupSize(ctx, r, g)
	if err != nil {
		return nil, err
	}
	info.Size = n
	return info, nil
}

// fullName is "Given Family", or whichever of the two is set.
func fullName(u *User) string {
	switch {
	case u.GivenName == "":
		return u.FamilyName
	case u.FamilyName == "":
		return u.GivenName
	}
	return u.GivenName + " " + u.FamilyName
}

// groupOrder is ListGroups' order: organizations first, then practitioners,
// each by id.
func groupLess(a, b GroupRef) bool {
	if a.Kind != b.Kind {
		return a.Kind == GroupOrganization
	}
	return a.ID < b.ID
}

// ListGroups returns the Groups the caller may read, after the Group after
// (the zero GroupRef starts from the beginning) in ListGroups' order
// (every organization's by id, then every practitioner's by id), at most
// limit. Only practitioners who are the general practitioner of at least
// one live patient are listed (a practitioner's empty Group can still be
// read). A page shorter than limit is the last. Admins, service accounts
// and ward itself see all; staff the Groups of organizations at or below
// theirs; a practitioner also their own.
func (s *Service) ListGroups(ctx context.Context, after GroupRef, limit int) ([]GroupRef, error) {
	r := s.newRequest(ctx)
	if r.who.Anonymous() {
		return nil, apperr.New(apperr.Unauthenticated, "sign in first")
	}
	if after.Kind != "" && after.Kind != GroupOrganization && after.Kind != GroupPractitioner {
		return nil, apperr.New(apperr.Invalid, "unknown group kind %q", after.Kind)
	}
	limit = store.Page{Limit: limit}.Normalize().Limit
	all := r.who.System
	var party *Party
	if !all {
		var err error
		if party, err = r.actorParty(ctx); err != nil {
			return nil, err
		}
		all = party.HasRole(RoleAdmin, RoleService)
	}
	tree, err := r.orgTree(ctx)
	if err != nil {
		return nil, err
	}
	var orgs []int64
	if all {
		orgs = tree.IDs()
	} else if party.HasRole(RoleStaff, RoleStaffAdmin, RoleClinician) {
		orgs = tree.AtOrBelowAny(party.Orgs)
	}
	slices.Sort(orgs)
	var out []GroupRef
	for _, id := range orgs {
		g := GroupRef{GroupOrganization, id}
		if after.Kind != "" && !groupLess(after, g) {
			continue
		}
		out = append(out, g)
		if len(out) == limit {
			return out, nil
		}
	}
	afterGP := int64(0)
	if after.Kind == GroupPractitioner {
		afterGP = after.ID
	}
	if all {
		ids, err := s.store.GeneralPractitioners(ctx, afterGP, limit-len(out))
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			out = append(out, GroupRef{GroupPractitioner, id})
		}
		return out, nil
	}
	if party.ID > afterGP {
		// Their own Group, listed on the same terms as everyone's.
		n, err := s.store.CountPatientsWithGeneralPractitioner(ctx, party.ID)
		if err != nil {
			return nil, err
		}
		if n > 0 && party.HasRole(PractitionerRoles()...) {
			out = append(out, GroupRef{GroupPractitioner, party.ID})
		}
	}
	return out, nil
}

// CountGroups returns how many Groups ListGroups would list from the
// start, for a searchset's total.
func (s *Service) CountGroups(ctx context.Context) (int, error) {
	r := s.newRequest(ctx)
	if r.who.Anonymous() {
		return 0, apperr.New(apperr.Unauthenticated, "sign in first")
	}
	all, err := r.isAdmin(ctx)
	if err != nil {
		return 0, err
	}
	var party *Party
	if !all {
		if party, err = r.actorParty(ctx); err != nil {
			return 0, err
		}
		all = party.HasRole(RoleService)
	}
	if all {
		orgs, err := s.store.CountOrganizations(ctx)
		if err != nil {
			return 0, err
		}
		gps, err := s.store.CountGeneralPractitioners(ctx)
		if err != nil {
			return 0, err
		}
		return orgs + gps, nil
	}
	// Everyone else has at most their branch plus one Group: list it.
	n := 0
	var after GroupRef
	for {
		page, err := s.ListGroups(ctx, after, store.MaxLimit)
		if err != nil {
			return 0, err
		}
		n += len(page)
		if len(page) < store.MaxLimit {
			return n, nil
		}
		after = page[len(page)-1]
	}
}

// ScanPatients calls fn for every live patient matching f (f.Role and
// f.Roles are replaced by the patient role; deleted users are never
// included) with id > afterID, in id order, in bounded memory; fn may call
// the store. It is bulk export's Patient source, so only ward itself,
// admins and service accounts may run it: an export on behalf of a person
// lists their visible patients through VisiblePatients instead.
func (s *Service) ScanPatients(ctx context.Context, f UserFilter, afterID int64, fn func(*User) error) error {
	r := s.newRequest(ctx)
	if err := r.requireAnyRole(ctx, "scan every patient", RoleAdmin, RoleService); err != nil {
		return err
	}
	if afterID < 0 {
		return apperr.New(apperr.Invalid, "afterID must not be negative")
	}
	f.Role, f.Roles, f.IncludeDeleted = RolePatient, nil, false
	return s.store.ScanUsers(ctx, f, afterID, fn)
}

// UserIdentifiersFor returns the identifiers of each of ids in one store
// call, for mapping a page or batch of users; the same callers as
// ScanPatients may use it.
func (s *Service) UserIdentifiersFor(ctx context.Context, ids []int64) (map[int64][]Identifier, error) {
	if err := s.newRequest(ctx).requireAnyRole(ctx, "read identifiers in bulk", RoleAdmin, RoleService); err != nil {
		return nil, err
	}
	return s.store.UserIdentifiersFor(ctx, ids)
}

// UserOrganizationsFor returns the organizations of each of ids in one
// store call; the same callers as ScanPatients may use it.
func (s *Service) UserOrganizationsFor(ctx context.Context, ids []int64) (map[int64][]int64, error) {
	if err := s.newRequest(ctx).requireAnyRole(ctx, "read organizations in bulk", RoleAdmin, RoleService); err != nil {
		return nil, err
	}
	return s.store.UserOrganizationsFor(ctx, ids)
}
