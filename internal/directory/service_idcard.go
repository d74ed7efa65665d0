package directory

import (
	"context"
	"time"

	"ward/internal/apperr"
)

// IDCard is what the legacy IdP API (seed 003) tells a system about the
// person behind a token: the user, their groups and typed profiles.
type IDCard struct {
	User     *User
	Groups   []Group
	Profiles []Profile
	// LastLogin is the person's last sign-in, nil when they never signed in.
	LastLogin *time.Time
}

// IDCard returns user id's card for a caller who may view them: one read
// of the user, groups, profiles and last sign-in (the legacy IdP API's
// token look-up does this on every request), then the permission check
// that View of the user would make.
func (s *Service) IDCard(ctx context.Context, id int64) (*IDCard, error) {
	r := s.newRequest(ctx)
	if id <= 0 {
		return nil, apperr.New(apperr.Invalid, "user id must be a positive integer")
	}
	if r.who.Anonymous() {
		return nil, apperr.New(apperr.Unauthenticated, "sign in first")
	}
	card, err := s.store.IDCard(ctx, id)
	if err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return nil, apperr.New(apperr.NotFound, "user %d not found", id)
		}
		return nil, err
	}
	if card.User, err = r.judge(ctx, View, card.User, false); err != nil {
		return nil, err
	}
	return card, nil
}
