package directory

import (
	"context"
	"fmt"
	"slices"

	"ward/internal/actor"
	"ward/internal/apperr"
)

// RoleReader reads a user's roles (Service.UserRoles).
type RoleReader interface {
	UserRoles(ctx context.Context, id int64) ([]string, error)
}

// RequireAdmin is the rule of the administrators' own features
// (interventions, connectors): ward itself, or an administrator acting as
// themselves or through a client for themselves. what completes "only an
// administrator may ..." (and "a client acting for nobody may not ...").
// A caller whose account is gone is Unauthenticated, anyone else
// Forbidden.
func RequireAdmin(ctx context.Context, roles RoleReader, what string) error {
	a := actor.From(ctx)
	switch {
	case a.System:
		return nil
	case a.Anonymous():
		return apperr.New(apperr.Unauthenticated, "sign in first")
	case a.UserID == 0:
		return apperr.New(apperr.Forbidden, "a client acting for nobody may not %s", what)
	}
	rs, err := roles.UserRoles(ctx, a.UserID)
	if err != nil {
		if k := apperr.KindOf(err); k == apperr.NotFound || k == apperr.Forbidden {
			return apperr.Wrap(apperr.Unauthenticated, err, "the signed-in account is no longer active")
		}
		return fmt.Errorf("read the caller's roles: %w", err)
	}
	if !slices.Contains(rs, RoleAdmin) {
		return apperr.New(apperr.Forbidden, "only an administrator may %s", what)
	}
	return nil
}

// AuditScope is how much of the audit log the caller may read, the one
// rule the management API and the admin console share: ward itself and
// administrators all of it (all); any other person the events they did or
// that are about them (self is their id); a client acting for nobody
// none. Reading what one person did, which can name whom they looked at,
// is for all-readers and that person only.
func (s *Service) AuditScope(ctx context.Context) (all bool, self int64, err error) {
	a := actor.From(ctx)
	if a.System {
		return true, 0, nil
	}
	if a.UserID == 0 {
		return false, 0, apperr.New(apperr.Forbidden, "the audit log is only available to people")
	}
	roles, err := s.UserRoles(ctx, a.UserID)
	if err != nil {
		return false, 0, err
	}
	return slices.Contains(roles, RoleAdmin), a.UserID, nil
}
