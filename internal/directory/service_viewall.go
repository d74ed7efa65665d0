package directory

import "context"

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
