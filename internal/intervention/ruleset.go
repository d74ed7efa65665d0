package intervention

import (
	"context"
	"fmt"

	"ward/internal/intervention/strategy"
)

// Ruleset is what every decision reads: each intervention with its access
// rules compiled and in evaluation order. It is built once per change and
// shared read-only by concurrent decisions.
type Ruleset struct {
	// Generation identifies the stored state it was built from.
	Generation int64
	// Interventions are in display order (display rank, then name).
	Interventions []*Intervention
	// Rules holds each intervention's rules by name, in the order
	// strategy.Order gives (ranked first, then the unranked by creation).
	Rules map[string][]*strategy.Rule
}

// ruleset returns the current Ruleset.
func (s *Service) ruleset(ctx context.Context) (*Ruleset, error) {
	ivs, err := s.d.Store.ListInterventions(ctx)
	if err != nil {
		return nil, fmt.Errorf("list interventions: %w", err)
	}
	return &Ruleset{Interventions: ivs, Rules: map[string][]*strategy.Rule{}}, nil
}
