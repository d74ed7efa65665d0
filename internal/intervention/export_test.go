package intervention

import "context"

// RulesetForTest exposes the cached ruleset to the external tests.
func (s *Service) RulesetForTest(ctx context.Context) (*Ruleset, error) { return s.ruleset(ctx) }
