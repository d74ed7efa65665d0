package directory

import (
	"context"
	"slices"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
)

// Party is what check_role needs to know about one user: who they are, their
// roles and organizations, and (for a target) their consents.
type Party struct {
	ID       int64
	Deleted  bool
	Roles    []string
	Orgs     []int64
	Consents []Consent
	// Catchments are geographic codes (seed 003). For an actor, those of
	// their provider and admin profiles (ActorCatchments): when there are
	// any, they limit the patients the actor may act on. For a target, those
	// of every profile they hold (TargetCatchments): where they are.
	Catchments []string
}

// HasRole reports whether the party holds any of names.
func (p *Party) HasRole(names ...string) bool {
	for _, n := range names {
		if slices.Contains(p.Roles, n) {
			return true
		}
	}
	return false
}

// Facts are everything check_role looks at, loaded beforehand so that the
// decision itself is a pure function (see Decide) and can be tested as a
// table without a database.
type Facts struct {
	Actor  Party
	Target Party
	// SharedIntervention is whether actor and target are enrolled in a
	// common intervention; only consulted for intervention_staff.
	SharedIntervention bool
	Tree               *OrgTree
	Now                time.Time
}

// Decision is the outcome of check_role with the rule that decided it, so
// a refusal or a grant can be explained in logs and tests.
type Decision struct {
	Allowed bool
	Rule    string
}

// Rules named in Decision.Rule; numbers follow RULES.md.
const (
	RuleDeleted           = "deleted target: admin only"
	RuleSelf              = "2: self"
	RuleAdmin             = "3: admin or service"
	RuleStaffConsent      = "4: staff over patient with consent at or below"
	RuleStaffConsentAbove = "4: staff over patient of their branch with consent above"
	RuleStaffAdmin        = "5: staff_admin over staff in their branch"
	RuleInterventionStaff = "6: intervention_staff sharing an intervention"
	RuleDenied            = "7: no rule grants"
	RuleCatchment         = "catchment: patient outside the actor's provider and admin catchments"
)

// ActorCatchments are the catchments that limit whom a person may act on:
// those of their provider and admin profiles (seed 003). None means no
// catchment limit.
func ActorCatchments(ps []Profile) []string {
	var out []string
	for _, p := range ps {
		if p.Type == ProfileProvider || p.Type == ProfileAdmin {
			out = append(out, p.Catchment...)
		}
	}
	return out
}

// TargetCatchments are where a person is: the catchments of every profile
// they hold.
func TargetCatchments(ps []Profile) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Catchment...)
	}
	return out
}

// withinCatchment is the catchment limit: an actor with catchments may act
// on a patient only when one of them covers one of the patient's codes
// (hierarchically, CatchmentCovers: "3026" covers "302618"). A patient
// with no catchment at all is outside every catchment.
func withinCatchment(actor, target []string) bool {
	for _, a := range actor {
		for _, t := range target {
			if CatchmentCovers(a, t) {
				return true
			}
		}
	}
	return false
}

// Decide is check_role over loaded facts: the ordered rules of RULES.md,
// first match wins. Rule 1 (the target exists) is the loader's job. A
// soft-deleted target is visible to admins only, as in the reference's
// get_user_or_abort, which runs before check_role there.
//
// A grant by any rule but self is then limited by the actor's catchments
// (seed 003): an actor holding provider or admin profiles with catchments
// may act on a patient only within them. An actor with no such catchment
// is decided exactly as before catchments existed.
func Decide(perm Permission, f Facts) Decision {
	d := decide(perm, f)
	if d.Allowed && d.Rule != RuleSelf && len(f.Actor.Catchments) > 0 && f.Target.HasRole(RolePatient) &&
		!withinCatchment(f.Actor.Catchments, f.Target.Catchments) {
		return Decision{false, RuleCatchment}
	}
	return d
}

func decide(perm Permission, f Facts) Decision {
	a, t := &f.Actor, &f.Target
	if t.Deleted && !a.HasRole(RoleAdmin) {
		return Decision{false, RuleDeleted}
	}
	if a.ID != 0 && a.ID == t.ID {
		return Decision{true, RuleSelf}
	}
	if a.HasRole(RoleAdmin, RoleService) {
		return Decision{true, RuleAdmin}
	}
	if f.Tree != nil && a.HasRole(RoleStaff, RoleStaffAdmin, RoleClinician) && t.HasRole(RolePatient) {
		if rule, ok := staffOverPatient(perm, f); ok {
			return Decision{true, rule}
		}
	}
	if f.Tree != nil && a.HasRole(RoleStaffAdmin) && t.HasRole(RoleStaffAdmin, RoleStaff, RoleClinician) {
		for _, org := range a.Orgs {
			if f.Tree.AnyAtOrBelow(org, t.Orgs) {
				return Decision{true, RuleStaffAdmin}
			}
		}
	}
	if a.HasRole(RoleInterventionStaff) && t.HasRole(RolePatient) && f.SharedIntervention {
		return Decision{true, RuleInterventionStaff}
	}
	return Decision{false, RuleDenied}
}

// staffOverPatient is rule 4. The consents that count are the valid ones
// (for edit, only those the patient marked staff-editable). A consent at or
// below one of the staff member's organizations grants; so does a consent
// above the staff member's organization when the patient's own organization
// is at or below the staff member's (a patient who consented at the health
// system level is still a patient of the clinic they belong to).
func staffOverPatient(perm Permission, f Facts) (string, bool) {
	var orgs []int64
	for i := range f.Target.Consents {
		c := &f.Target.Consents[i]
		if !c.Valid(f.Now) || (perm == Edit && !c.StaffEditable) {
			continue
		}
		orgs = append(orgs, c.OrganizationID)
	}
	if len(orgs) == 0 {
		return "", false
	}
	for _, staffOrg := range f.Actor.Orgs {
		if f.Tree.AnyAtOrBelow(staffOrg, orgs) {
			return RuleStaffConsent, true
		}
		for _, consentOrg := range orgs {
			if f.Tree.IsAtOrBelow(staffOrg, consentOrg) && f.Tree.AnyAtOrBelow(staffOrg, f.Target.Orgs) {
				return RuleStaffConsentAbove, true
			}
		}
	}
	return "", false
}

// CheckRole is check_role(permission, target): nil when the acting user may
// view or edit the target user. Errors: Unauthenticated for an anonymous
// caller, NotFound for an unknown target, Forbidden otherwise. ward itself
// (actor.System) may do anything.
func (s *Service) CheckRole(ctx context.Context, perm Permission, targetID int64) error {
	_, err := s.newRequest(ctx).check(ctx, perm, targetID)
	return err
}

// request memoizes, for one service call, what several permission checks
// share: the actor's party and the org tree (so the tree version is queried
// at most once per call).
type request struct {
	s     *Service
	who   actor.Actor
	party *Party
	tree  *OrgTree
}

func (s *Service) newRequest(ctx context.Context) *request {
	return &request{s: s, who: actor.From(ctx)}
}

// orgTree returns the cached tree, checking its version once per request.
func (r *request) orgTree(ctx context.Context) (*OrgTree, error) {
	if r.tree == nil {
		t, err := r.s.Tree(ctx)
		if err != nil {
			return nil, err
		}
		r.tree = t
	}
	return r.tree, nil
}

// actorParty loads the acting user's roles and organizations. Anonymous
// callers get Unauthenticated; a client acting for nobody gets an empty
// party (it is signed in but holds no roles); a signed-in user who has been
// deleted since is treated as signed out.
func (r *request) actorParty(ctx context.Context) (*Party, error) {
	if r.party != nil {
		return r.party, nil
	}
	if r.who.Anonymous() {
		return nil, apperr.New(apperr.Unauthenticated, "sign in first")
	}
	p := &Party{ID: r.who.UserID}
	if r.who.UserID != 0 {
		u, err := r.s.store.GetUser(ctx, r.who.UserID)
		if apperr.Is(err, apperr.NotFound) {
			return nil, apperr.New(apperr.Unauthenticated, "the signed-in account no longer exists")
		}
		if err != nil {
			return nil, err
		}
		if !u.Active() {
			return nil, apperr.New(apperr.Unauthenticated, "the signed-in account has been deactivated")
		}
		if p.Roles, err = r.s.store.UserRoles(ctx, u.ID); err != nil {
			return nil, err
		}
		if p.Orgs, err = r.s.store.UserOrganizations(ctx, u.ID); err != nil {
			return nil, err
		}
		profiles, err := r.s.store.UserProfiles(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		p.Catchments = ActorCatchments(profiles)
	}
	r.party = p
	return p, nil
}

// isAdmin reports whether the caller is ward itself or a user holding admin.
func (r *request) isAdmin(ctx context.Context) (bool, error) {
	if r.who.System {
		return true, nil
	}
	p, err := r.actorParty(ctx)
	if err != nil {
		return false, err
	}
	return p.HasRole(RoleAdmin), nil
}

// requireAdmin returns nil for ward itself or an admin, Forbidden (or
// Unauthenticated) otherwise.
func (r *request) requireAdmin(ctx context.Context, what string) error {
	ok, err := r.isAdmin(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return apperr.New(apperr.Forbidden, "only an administrator may %s", what)
	}
	return nil
}

// requireAnyRole returns nil for ward itself or a user holding one of names.
func (r *request) requireAnyRole(ctx context.Context, what string, names ...string) error {
	if r.who.System {
		return nil
	}
	p, err := r.actorParty(ctx)
	if err != nil {
		return err
	}
	if !p.HasRole(names...) {
		return apperr.New(apperr.Forbidden, "your roles do not allow you to %s", what)
	}
	return nil
}

// check loads the facts for (actor, target), decides, and returns the
// target user on success so callers need not load it again.
func (r *request) check(ctx context.Context, perm Permission, targetID int64) (*User, error) {
	return r.checkWith(ctx, perm, targetID, false)
}

// checkAllowDeleted is check judging a deleted target as if it were live
// (the reference's allow_deleted), for reactivation.
func (r *request) checkAllowDeleted(ctx context.Context, perm Permission, targetID int64) (*User, error) {
	return r.checkWith(ctx, perm, targetID, true)
}

func (r *request) checkWith(ctx context.Context, perm Permission, targetID int64, allowDeleted bool) (*User, error) {
	if perm != View && perm != Edit {
		return nil, apperr.New(apperr.Internal, "unknown permission %q", perm)
	}
	if targetID <= 0 {
		return nil, apperr.New(apperr.Invalid, "user id must be a positive integer")
	}
	if r.who.Anonymous() {
		return nil, apperr.New(apperr.Unauthenticated, "sign in first")
	}
	target, err := r.s.store.GetUser(ctx, targetID)
	if err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return nil, apperr.New(apperr.NotFound, "user %d not found", targetID)
		}
		return nil, err
	}
	return r.judge(ctx, perm, target, allowDeleted)
}

// judge is checkWith's decision on a target already read (IDCard reads
// the target together with its groups and profiles in one statement).
func (r *request) judge(ctx context.Context, perm Permission, target *User, allowDeleted bool) (*User, error) {
	targetID := target.ID
	if r.who.System {
		return target, nil
	}
	d, err := r.decideWith(ctx, perm, target, allowDeleted)
	if err != nil {
		return nil, err
	}
	if !d.Allowed {
		if d.Rule == RuleDeleted {
			return nil, apperr.New(apperr.Forbidden, "user %d has been deleted", targetID)
		}
		return nil, apperr.New(apperr.Forbidden, "you may not %s user %d", perm, targetID)
	}
	return target, nil
}

// decide loads only the facts the rules can use for this actor: a patient
// looking at someone else needs no tree or consents, so none are read.
func (r *request) decide(ctx context.Context, perm Permission, target *User) (Decision, error) {
	return r.decideWith(ctx, perm, target, false)
}

func (r *request) decideWith(ctx context.Context, perm Permission, target *User, allowDeleted bool) (Decision, error) {
	a, err := r.actorParty(ctx)
	if err != nil {
		return Decision{}, err
	}
	live := target.Active() || allowDeleted
	f := Facts{Actor: *a, Target: Party{ID: target.ID, Deleted: !live}, Now: r.s.now()}
	st := r.s.store
	// A catchment-limited actor needs to know whether the target is a
	// patient and where they are, whichever rule grants.
	scoped := len(a.Catchments) > 0 && live && a.ID != target.ID
	if scoped {
		if f.Target.Roles, err = st.UserRoles(ctx, target.ID); err != nil {
			return Decision{}, err
		}
		if f.Target.HasRole(RolePatient) {
			profiles, err := st.UserProfiles(ctx, target.ID)
			if err != nil {
				return Decision{}, err
			}
			f.Target.Catchments = TargetCatchments(profiles)
		}
	}
	// Deleted targets, self, admin and service are decided by the first
	// rules, which need nothing about the target beyond what is loaded.
	if !live || a.ID == target.ID || a.HasRole(RoleAdmin, RoleService) {
		return Decide(perm, f), nil
	}
	if !a.HasRole(RoleStaff, RoleStaffAdmin, RoleClinician, RoleInterventionStaff) {
		return Decide(perm, f), nil // nothing else can grant: skip the loads
	}
	if !scoped {
		if f.Target.Roles, err = st.UserRoles(ctx, target.ID); err != nil {
			return Decision{}, err
		}
	}
	if f.Target.Orgs, err = st.UserOrganizations(ctx, target.ID); err != nil {
		return Decision{}, err
	}
	if a.HasRole(RoleStaff, RoleStaffAdmin, RoleClinician) && f.Target.HasRole(RolePatient) {
		if f.Target.Consents, err = st.Consents(ctx, target.ID); err != nil {
			return Decision{}, err
		}
	}
	if a.HasRole(RoleStaff, RoleStaffAdmin, RoleClinician) {
		if f.Tree, err = r.orgTree(ctx); err != nil {
			return Decision{}, err
		}
	}
	if a.HasRole(RoleInterventionStaff) && f.Target.HasRole(RolePatient) {
		if f.SharedIntervention, err = st.SharedIntervention(ctx, a.ID, target.ID); err != nil {
			return Decision{}, err
		}
	}
	return Decide(perm, f), nil
}
