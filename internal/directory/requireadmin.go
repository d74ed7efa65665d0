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
