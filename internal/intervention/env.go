package intervention

import (
	"context"
	"fmt"

	"ward/internal/clinical"
	"ward/internal/directory"
	"ward/internal/intervention/strategy"
)

// ruleEnv is a strategy.Env over a snapshot of what rules may name, loaded
// with a fixed number of queries whatever the number of rules (org names,
// org identifiers, the cached OrgTree, interventions). Roles are the static
// set and observation concepts the clinical catalog, so they need none.
type ruleEnv struct {
	names         map[string][]int64
	idents        map[[2]string][]int64
	tree          *directory.OrgTree
	interventions map[string]bool
	// ivs are the interventions in display order, as listed.
	ivs []*Intervention
}

// loadEnv reads the snapshot.
func (s *Service) loadEnv(ctx context.Context) (*ruleEnv, error) {
	orgs, err := s.d.Store.OrgRefs(ctx)
	if err != nil {
		return nil, fmt.Errorf("read organization names: %w", err)
	}
	ids, err := s.d.Store.OrgIdentifierRefs(ctx)
	if err != nil {
		return nil, fmt.Errorf("read organization identifiers: %w", err)
	}
	tree, err := s.d.Directory.Tree(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the organization tree: %w", err)
	}
	ivs, err := s.d.Store.ListInterventions(ctx)
	if err != nil {
		return nil, fmt.Errorf("list interventions: %w", err)
	}
	e := &ruleEnv{names: make(map[string][]int64, len(orgs)), idents: make(map[[2]string][]int64, len(ids)),
		tree: tree, interventions: make(map[string]bool, len(ivs)), ivs: ivs}
	for _, o := range orgs {
		e.names[o.Name] = append(e.names[o.Name], o.ID)
	}
	for _, i := range ids {
		k := [2]string{i.System, i.Value}
		e.idents[k] = append(e.idents[k], i.OrgID)
	}
	for _, iv := range ivs {
		e.interventions[iv.Name] = true
	}
	return e, nil
}

func (e *ruleEnv) OrgsNamed(name string) []int64 { return e.names[name] }

func (e *ruleEnv) OrgsWithIdentifier(system, value string) []int64 {
	return e.idents[[2]string{system, value}]
}

func (e *ruleEnv) AtOrBelow(id int64) []int64 { return e.tree.AtOrBelow(id) }

func (e *ruleEnv) RoleExists(name string) bool { return directory.IsRole(name) }

func (e *ruleEnv) ConceptExists(display string) bool {
	_, ok := clinical.ConceptByDisplay(display)
	return ok
}

func (e *ruleEnv) InterventionExists(name string) bool { return e.interventions[name] }

var _ strategy.Env = (*ruleEnv)(nil)
