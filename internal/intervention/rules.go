package intervention

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/intervention/strategy"
)

// Access rules (seed 001's access strategies) are managed per intervention
// by an administrator or the intervention's own service account. A rule is
// compiled when it is stored, against what exists then; every refusal is
// Invalid naming the problem, and nothing is stored:
//
//   - what strategy.Compile refuses (unknown function or kwarg, wrong type,
//     numbering, nesting, names that resolve to nothing, ...);
//   - a rank another rule of the intervention holds;
//   - a cycle through allow_if_not_in_intervention across every
//     intervention's stored rules, a rule naming its own intervention
//     included: a decision would otherwise recurse forever.

// AddRule compiles raw (the rule JSON {name, description, rank,
// function_details}) and stores it on intervention name.
func (s *Service) AddRule(ctx context.Context, name string, raw []byte) (*AccessRule, error) {
	var out *AccessRule
	err := s.ruleTx(ctx, name, func(ctx context.Context, iv *Intervention) error {
		r, err := s.checkRule(ctx, iv.Name, 0, raw)
		if err != nil {
			return err
		}
		r.CreatedAt = s.cfg.Now().UTC()
		r.UpdatedAt = r.CreatedAt
		if err := s.d.Store.CreateAccessRule(ctx, r); err != nil {
			return fmt.Errorf("store access rule: %w", err)
		}
		out = r
		return s.recordRule(ctx, audit.AccessRuleCreated, r, "created")
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateRule replaces rule id of intervention name with raw, checked as
// AddRule checks a new one. version, when not 0, must be the stored
// version (Conflict otherwise).
func (s *Service) UpdateRule(ctx context.Context, name string, id, version int64, raw []byte) (*AccessRule, error) {
	var out *AccessRule
	err := s.ruleTx(ctx, name, func(ctx context.Context, iv *Intervention) error {
		old, err := s.storedRule(ctx, iv.Name, id)
		if err != nil {
			return err
		}
		if version != 0 && version != old.Version {
			return apperr.New(apperr.Conflict, "access rule %d is at version %d, not %d; reload and retry", id, old.Version, version)
		}
		r, err := s.checkRule(ctx, iv.Name, id, raw)
		if err != nil {
			return err
		}
		r.ID, r.Version, r.CreatedAt = old.ID, old.Version, old.CreatedAt
		r.UpdatedAt = s.cfg.Now().UTC()
		if err := s.d.Store.UpdateAccessRule(ctx, r); err != nil {
			return fmt.Errorf("update access rule: %w", err)
		}
		out = r
		return s.recordRule(ctx, audit.AccessRuleUpdated, r, "updated")
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteRule removes rule id of intervention name.
func (s *Service) DeleteRule(ctx context.Context, name string, id int64) error {
	return s.ruleTx(ctx, name, func(ctx context.Context, iv *Intervention) error {
		r, err := s.storedRule(ctx, iv.Name, id)
		if err != nil {
			return err
		}
		if err := s.d.Store.DeleteAccessRule(ctx, id); err != nil {
			return fmt.Errorf("delete access rule: %w", err)
		}
		return s.recordRule(ctx, audit.AccessRuleDeleted, r, "deleted")
	})
}

// Rules lists intervention name's rules in creation order. A rule that no
// longer compiles carries the reason in Error.
func (s *Service) Rules(ctx context.Context, name string) ([]*AccessRule, error) {
	if _, err := s.ruleReader(ctx, name); err != nil {
		return nil, err
	}
	rules, err := s.d.Store.ListAccessRules(ctx, name)
	if err != nil {
		return nil, err
	}
	return rules, s.markBroken(ctx, rules...)
}

// Rule returns rule id of intervention name, with Error set when it no
// longer compiles.
func (s *Service) Rule(ctx context.Context, name string, id int64) (*AccessRule, error) {
	if _, err := s.ruleReader(ctx, name); err != nil {
		return nil, err
	}
	r, err := s.storedRule(ctx, name, id)
	if err != nil {
		return nil, err
	}
	return r, s.markBroken(ctx, r)
}

// markBroken copies the current ruleset's compile errors onto rules.
func (s *Service) markBroken(ctx context.Context, rules ...*AccessRule) error {
	rs, err := s.ruleset(ctx)
	if err != nil {
		return err
	}
	for _, r := range rules {
		r.Error = rs.Broken[r.ID]
	}
	return nil
}

// ruleReader checks the caller may manage name's rules and returns it.
func (s *Service) ruleReader(ctx context.Context, name string) (*Intervention, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if actor.From(ctx).Anonymous() {
		return nil, apperr.New(apperr.Unauthenticated, "sign in first")
	}
	iv, err := s.d.Store.GetIntervention(ctx, name)
	if err != nil {
		return nil, err
	}
	return iv, s.requireRuleManager(ctx, iv)
}

// ruleTx runs fn for a permitted caller in a transaction holding the rule
// writers' lock, so the checks fn makes across interventions hold until
// it commits.
func (s *Service) ruleTx(ctx context.Context, name string, fn func(ctx context.Context, iv *Intervention) error) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if actor.From(ctx).Anonymous() {
		return apperr.New(apperr.Unauthenticated, "sign in first")
	}
	return s.d.Tx.InTx(ctx, func(ctx context.Context) error {
		iv, err := s.ruleReader(ctx, name)
		if err != nil {
			return err
		}
		if err := s.d.Store.LockAccessRules(ctx); err != nil {
			return fmt.Errorf("lock access rules: %w", err)
		}
		return fn(ctx, iv)
	})
}

// storedRule reads rule id, NotFound unless it belongs to intervention name.
func (s *Service) storedRule(ctx context.Context, name string, id int64) (*AccessRule, error) {
	r, err := s.d.Store.GetAccessRule(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.Intervention != name {
		return nil, apperr.New(apperr.NotFound, "intervention %s has no access rule %d", name, id)
	}
	return r, nil
}

// checkRule compiles raw for intervention name (replacing rule self when
// not 0) and checks it against the other stored rules. It returns the rule
// to store.
func (s *Service) checkRule(ctx context.Context, name string, self int64, raw []byte) (*AccessRule, error) {
	if bytes.IndexByte(raw, 0) >= 0 || !utf8.Valid(raw) {
		return nil, apperr.New(apperr.Invalid, "the access rule holds a NUL byte or is not valid UTF-8")
	}
	env, err := s.loadEnv(ctx)
	if err != nil {
		return nil, err
	}
	rule, err := strategy.Compile(raw, env)
	if err != nil {
		return nil, invalidRule(err)
	}
	stored, err := s.d.Store.ListAccessRules(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("list access rules: %w", err)
	}
	graph := map[string][]string{name: slices.Clone(rule.Depends)}
	for _, o := range stored {
		if o.ID == self {
			continue
		}
		if o.Intervention == name && rule.Rank != nil && o.Rank != nil && *o.Rank == *rule.Rank {
			return nil, apperr.New(apperr.Invalid, "rank %d is taken by access rule %d (%q) of intervention %s",
				*rule.Rank, o.ID, o.Name, name)
		}
		graph[o.Intervention] = append(graph[o.Intervention], ruleDepends(o)...)
	}
	if cycle := findCycle(graph, name); cycle != nil {
		return nil, apperr.New(apperr.Invalid, "allow_if_not_in_intervention would make a cycle: %s "+
			"(a decision would ask itself); remove one of the links", strings.Join(cycle, " → "))
	}
	return &AccessRule{Intervention: name, Name: rule.Name, Description: rule.Description, Rank: rule.Rank,
		Details: slices.Clone(rule.Details)}, nil
}

func invalidRule(err error) error {
	var se *strategy.Error
	if errors.As(err, &se) {
		// se.Msg is the whole story; wrapping would print it twice.
		return apperr.New(apperr.Invalid, "access rule refused: %s", se.Msg)
	}
	return fmt.Errorf("compile access rule: %w", err)
}

// ruleSource is a stored rule as strategy.Compile reads it.
func ruleSource(r *AccessRule) ([]byte, error) {
	return json.Marshal(struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Rank        *int            `json:"rank"`
		Details     json.RawMessage `json:"function_details"`
	}{r.Name, r.Description, r.Rank, r.Details})
}

// compileStored compiles a stored rule against env.
func compileStored(r *AccessRule, env strategy.Env) (*strategy.Rule, error) {
	src, err := ruleSource(r)
	if err != nil {
		return nil, fmt.Errorf("the stored rule is not valid JSON: %w", err)
	}
	return strategy.Compile(src, env)
}

// ruleDepends returns the interventions a stored rule names through
// allow_if_not_in_intervention, whether or not what else it names still
// exists: a rule broken today by a deleted organization compiles again
// when one of that name returns, and must not close a cycle then.
func ruleDepends(r *AccessRule) []string {
	c, err := compileStored(r, anyEnv{})
	if err != nil {
		return nil // not even its shape compiles: it can never run
	}
	return c.Depends
}

// anyEnv resolves every name, so a compile sees only a rule's shape.
type anyEnv struct{}

func (anyEnv) OrgsNamed(string) []int64                  { return []int64{1} }
func (anyEnv) OrgsWithIdentifier(string, string) []int64 { return []int64{1} }
func (anyEnv) AtOrBelow(id int64) []int64                { return []int64{id} }
func (anyEnv) RoleExists(string) bool                    { return true }
func (anyEnv) ConceptExists(string) bool                 { return true }
func (anyEnv) InterventionExists(string) bool            { return true }

// findCycle returns a path start → … → start through graph's edges, or
// nil. The stored rules never hold a cycle (each write is checked), so a
// new one must pass through the intervention being changed.
func findCycle(graph map[string][]string, start string) []string {
	seen := map[string]bool{}
	var path []string
	var visit func(n string) bool
	visit = func(n string) bool {
		path = append(path, n)
		next := slices.Clone(graph[n])
		slices.Sort(next) // one answer for one state
		for _, m := range slices.Compact(next) {
			if m == start {
				path = append(path, m)
				return true
			}
			if !seen[m] {
				seen[m] = true
				if visit(m) {
					return true
				}
			}
		}
		path = path[:len(path)-1]
		return false
	}
	if visit(start) {
		return path
	}
	return nil
}

// recordRule writes one typed audit event about r in ctx's transaction.
func (s *Service) recordRule(ctx context.Context, t audit.EventType, r *AccessRule, verb string) error {
	fields := map[string]any{"intervention": r.Intervention, "name": r.Name, "version": r.Version}
	if r.Rank != nil {
		fields["rank"] = *r.Rank
	}
	if err := s.d.Audit.Record(ctx, audit.Change{Type: t, Subject: audit.Ref("AccessRule", r.ID), Fields: fields,
		Comment: fmt.Sprintf("intervention %s: access rule %d (%s) %s", r.Intervention, r.ID, r.Name, verb)}); err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}
