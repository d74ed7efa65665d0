package directory

import "context"

// AuthorizeUnlock decides who may clear a user's sign-in lockout, and
// returns the user: ward itself, admins, and staff admins who may edit the
// user (check_role edit). Clearing a lockout re-opens an account to password
// guesses, so staff and clinicians who may merely edit a patient may not.
func (s *Service) AuthorizeUnlock(ctx context.Context, id int64) (*User, error) {
	r := s.newRequest(ctx)
	if r.who.Anonymous() {
		// Ahead of the role check, so an anonymous caller gets 401, not 403.
		_, err := r.check(ctx, Edit, id)
		return nil, err
	}
	if err := r.requireAnyRole(ctx, "unlock accounts", RoleAdmin, RoleStaffAdmin); err != nil {
		return nil, err
	}
	return r.check(ctx, Edit, id)
}
