package directory

import (
	"context"

	"ward/internal/apperr"
)

// ViewsEveryone reports whether check_role lets the caller view every live
// user without a per-user check: ward itself, an admin or a service
// account (RULES.md rule 3). Callers that bound a query by what a person
// may see skip the bound when it is true.
func (s *Service) ViewsEveryone(ctx context.Context) (bool, error) {
	r := s.newRequest(ctx)
	if r.who.System {
		return true, nil
	}
	p, err := r.actorParty(ctx)
	if err != nil {
		return false, err
	}
	return p.HasRole(RoleAdmin, RoleService), nil
}

// CountUsers returns how many live users match f (a searchset's total).
// Only callers who view everyone may count: for anyone else the count
// would reveal users check_role hides from them.
func (s *Service) CountUsers(ctx context.Context, f UserFilter) (int, error) {
	all, err := s.ViewsEveryone(ctx)
	if err != nil {
		return 0, err
	}
	if !all {
		return 0, apperr.New(apperr.Forbidden, "only an administrator may count users")
	}
	if f.IncludeDeleted && !s.newRequest(ctx).who.System {
		if err := s.newRequest(ctx).requireAdmin(ctx, "count deleted users"); err != nil {
			return 0, err
		}
	}
	return s.store.CountUsers(ctx, f)
}
