package directory

import "context"

// IDCard is what the legacy IdP API (seed 003) tells a system about the
// person behind a token: the user, their groups and typed profiles.
type IDCard struct {
	User     *User
	Groups   []Group
	Profiles []Profile
}

// IDCard returns user id's card for a caller who may view them, with one
// permission check for the three reads (UserGroups and UserProfiles each
// check on their own).
func (s *Service) IDCard(ctx context.Context, id int64) (*IDCard, error) {
	u, err := s.newRequest(ctx).check(ctx, View, id)
	if err != nil {
		return nil, err
	}
	card := &IDCard{User: u}
	if card.Groups, err = s.store.UserGroups(ctx, id); err != nil {
		return nil, err
	}
	if card.Profiles, err = s.store.UserProfiles(ctx, id); err != nil {
		return nil, err
	}
	return card, nil
}
