package directory

import (
	"context"
	"fmt"

	"ward/internal/apperr"
)

// EmailAvailable reports whether email is free for an account: true when
// no live user other than except holds it (compared case-insensitively).
//
// Whether an address is taken tells that a person has an account here, so
// only those who could learn it anyway may ask: ward itself, admins and
// service accounts; staff, staff_admin and clinicians about an address
// nobody holds (they register people) or one held by someone check_role lets
// them view. Anyone else (patients, application developers, a client acting
// for nobody) is Forbidden whatever the address, and an anonymous caller is
// Unauthenticated: ward has no self-registration, so no anonymous flow needs
// the answer. except, when given, must be someone the caller may view, so it
// cannot be used to probe which id holds an address.
func (s *Service) EmailAvailable(ctx context.Context, email string, except int64) (bool, error) {
	if err := ValidateEmail(email); err != nil {
		return false, err
	}
	r := s.newRequest(ctx)
	if err := r.requireAnyRole(ctx, "check whether an email address is taken",
		RoleAdmin, RoleService, RoleStaff, RoleStaffAdmin, RoleClinician); err != nil {
		return false, err
	}
	if except != 0 {
		if _, err := r.check(ctx, View, except); err != nil {
			return false, err
		}
	}
	holder, err := s.store.GetUserByEmail(ctx, email)
	if apperr.Is(err, apperr.NotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up the holder of an email address: %w", err)
	}
	if holder.ID == except {
		return true, nil
	}
	if _, err := r.check(ctx, View, holder.ID); err != nil {
		if apperr.Is(err, apperr.Forbidden) {
			// The message names no id: the caller may not view the holder.
			return false, apperr.New(apperr.Forbidden, "you may not ask about this email address")
		}
		return false, err
	}
	return false, nil
}
