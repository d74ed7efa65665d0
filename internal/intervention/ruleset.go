package intervention

import (
	"context"
	"fmt"
	"sync"

	"ward/internal/intervention/strategy"
)

// Ruleset is what every decision reads: each intervention with its access
// rules compiled and in evaluation order. It is built once per change and
// shared read-only by concurrent decisions.
type Ruleset struct {
	// Generation identifies the stored state it was built from
	// (Store.RulesetVersion).
	Generation int64
	// Interventions are in display order (display rank, then name).
	Interventions []*Intervention
	// Rules holds each intervention's rules by name, in the order
	// strategy.Order gives (ranked first, then the unranked by creation).
	// A rule that no longer compiles is left out: it grants nothing.
	Rules map[string][]*strategy.Rule
	// Broken says, by rule id, why a stored rule no longer compiles (an
	// organization, identifier or intervention it names is gone). Such a
	// rule fails closed; Rules and Rule show the reason as Error.
	Broken map[int64]string
}

// rulesetCache holds the last Ruleset built, as directory's treeCache holds
// the OrgTree: each call reads Store.RulesetVersion (one cheap statement)
// and rebuilds only when it moved, so a change made on any replica is seen
// on the next call everywhere. Concurrent rebuilds collapse into one.
type rulesetCache struct {
	mu sync.RWMutex
	rs *Ruleset

	build sync.Mutex // held while one goroutine rebuilds
}

func (c *rulesetCache) cached(v int64) *Ruleset {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.rs != nil && c.rs.Generation == v {
		return c.rs
	}
	return nil
}

// ruleset returns the current Ruleset. It must not be called inside a
// transaction that changed rules, interventions or organizations: the
// version it would cache could be rolled back and reused.
func (s *Service) ruleset(ctx context.Context) (*Ruleset, error) {
	v, err := s.d.Store.RulesetVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("ruleset version: %w", err)
	}
	if rs := s.rules.cached(v); rs != nil {
		return rs, nil
	}
	s.rules.build.Lock()
	defer s.rules.build.Unlock()
	if rs := s.rules.cached(v); rs != nil {
		return rs, nil // another goroutine rebuilt it while we waited
	}
	// The version was read before the data, so the label is never newer
	// than what is behind it: a change racing with this build costs one
	// extra rebuild later, never a stale ruleset.
	rs, err := s.buildRuleset(ctx, v)
	if err != nil {
		return nil, err
	}
	s.rules.mu.Lock()
	s.rules.rs = rs
	s.rules.mu.Unlock()
	return rs, nil
}

// buildRuleset compiles every stored rule against a fresh snapshot: a
// bounded number of queries (the snapshot's four, the rules' one) whatever
// the number of interventions and rules.
func (s *Service) buildRuleset(ctx context.Context, v int64) (*Ruleset, error) {
	env, err := s.loadEnv(ctx)
	if err != nil {
		return nil, err
	}
	stored, err := s.d.Store.ListAccessRules(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("list access rules: %w", err)
	}
	rs := &Ruleset{Generation: v, Interventions: env.ivs, Rules: map[string][]*strategy.Rule{},
		Broken: map[int64]string{}}
	byIV := map[string][]*strategy.Rule{}
	ids := map[*strategy.Rule]int64{}
	for _, r := range stored {
		c, err := compileStored(r, env)
		if err != nil {
			rs.Broken[r.ID] = err.Error()
			s.cfg.Logger.Warn("access rule no longer compiles; it grants nothing until it is fixed",
				"intervention", r.Intervention, "rule", r.ID, "name", r.Name, "error", err.Error())
			continue
		}
		ids[c] = r.ID
		byIV[r.Intervention] = append(byIV[r.Intervention], c)
	}
	for name, rules := range byIV {
		ordered, err := strategy.Order(rules)
		if err != nil {
			// The unique index makes this unreachable; fail closed anyway.
			for _, c := range rules {
				rs.Broken[ids[c]] = err.Error()
			}
			s.cfg.Logger.Error("access rules of an intervention cannot be ordered; none grants",
				"intervention", name, "error", err.Error())
			continue
		}
		rs.Rules[name] = ordered
	}
	return rs, nil
}
