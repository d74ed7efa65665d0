package intervention

import (
	"context"
	"fmt"

	"ward/internal/apperr"
	"ward/internal/directory"
)

// UserCards decides every intervention for person userID and returns the
// cards in display order (display rank, then name), each with its access
// and display details; with trace, also why each was decided. The caller
// needs view on the person (the person themselves, their care staff,
// administrators: directory's check_role); a patient asking about another
// patient, an anonymous caller or an application developer is refused.
func (s *Service) UserCards(ctx context.Context, userID int64, trace bool) ([]Card, []CardTrace, error) {
	if userID <= 0 {
		return nil, nil, apperr.New(apperr.Invalid, "user id must be a positive integer")
	}
	if err := s.d.Directory.CheckRole(ctx, directory.View, userID); err != nil {
		return nil, nil, err
	}
	rs, err := s.ruleset(ctx)
	if err != nil {
		return nil, nil, err
	}
	f, err := s.d.Store.LoadFacts(ctx, userID)
	if err != nil {
		return nil, nil, fmt.Errorf("load the facts of user %d: %w", userID, err)
	}
	d := NewDecider(rs, f)
	cards := make([]Card, 0, len(rs.Interventions))
	if !trace {
		return d.Cards(cards, nil), nil, nil
	}
	traces := make([]CardTrace, 0, len(rs.Interventions))
	cards = d.Cards(cards, &traces)
	return cards, traces, nil
}
