package strategy

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Functions lists the registry's function names, sorted.
func Functions() []string {
	out := make([]string, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

type builder func(c *compiler, a *args, depth int) (node, error)

// registry is every function a rule may name: the reference's eight and
// the seed text's two older by-name clinic functions.
var registry map[string]builder

func init() {
	registry = map[string]builder{
		"limit_by_clinic_w_id":         buildLimitByID,
		"not_in_clinic_w_id":           buildNotInByID,
		"limit_by_clinic_list":         buildLimitByName,
		"not_in_clinic_list":           buildNotInByName,
		"in_role_list":                 buildRoles(true),
		"not_in_role_list":             buildRoles(false),
		"allow_if_not_in_intervention": buildNotInIntervention,
		"tx_begun":                     buildTxBegun,
		"observation_check":            buildObservation,
		"combine_strategies":           buildCombine,
	}
}

// details compiles one function_details object at path.
func (c *compiler) details(raw json.RawMessage, path string, depth int) (node, error) {
	var d details
	if err := strictDecode(raw, &d); err != nil {
		return nil, fail(path, "not an object of function and kwargs: %v", err)
	}
	return c.call(d.Function, d.Kwargs, path, depth)
}

func (c *compiler) call(fn string, kw []kwarg, path string, depth int) (node, error) {
	b, ok := registry[fn]
	if !ok {
		return nil, fail(path, "unknown function %q (known: %s)", fn, strings.Join(Functions(), ", "))
	}
	a, err := c.args(kw, path, fn)
	if err != nil {
		return nil, err
	}
	n, err := b(c, a, depth)
	if err != nil {
		return nil, err
	}
	if err := a.done(); err != nil {
		return nil, err
	}
	return n, nil
}

// orgSet is a set of organization ids a clinic function tests against.
type orgSet struct {
	path, fn string
	args     map[string]any
	ids      []int64
	all      bool // every org must be the person's (combinator all)
	negate   bool // not_in_*: true when the person is in none
}

func (n *orgSet) eval(f *Facts, tr *Trace) bool {
	in, hit := false, int64(0)
	if n.all {
		in = len(n.ids) > 0
		for _, id := range n.ids {
			if !f.Orgs[id] {
				in, hit = false, id
				break
			}
		}
	} else {
		for _, id := range n.ids {
			if f.Orgs[id] {
				in, hit = true, id
				break
			}
		}
	}
	res := in != n.negate
	if tr == nil {
		return res
	}
	var why string
	switch {
	case n.all && in:
		why = fmt.Sprintf("the person belongs to all %d organizations", len(n.ids))
	case n.all:
		why = fmt.Sprintf("the person does not belong to organization %d", hit)
	case in:
		why = fmt.Sprintf("the person belongs to organization %d", hit)
	default:
		why = fmt.Sprintf("the person belongs to none of the %d organizations", len(n.ids))
	}
	tr.add(Step{Path: n.path, Function: n.fn, Args: n.args, Result: res, Why: why})
	return res
}

func (c *compiler) expand(ids []int64, children bool) []int64 {
	var out []int64
	for _, id := range ids {
		if children {
			out = append(out, c.env.AtOrBelow(id)...)
		} else {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func byID(c *compiler, a *args, limit bool) (node, error) {
	value, err := a.str("identifier_value", nil)
	if err != nil {
		return nil, err
	}
	system, err := a.str("identifier_system", ptr(DecisionSupportGroup))
	if err != nil {
		return nil, err
	}
	comb := "any"
	if limit {
		if comb, err = a.str("combinator", ptr("any")); err != nil {
			return nil, err
		}
		if comb != "any" && comb != "all" {
			return nil, fail(a.path, "%s: combinator must be any or all", a.fn)
		}
	}
	children, err := a.boolean("include_children", ptr(true))
	if err != nil {
		return nil, err
	}
	orgs := c.env.OrgsWithIdentifier(system, value)
	if len(orgs) == 0 {
		return nil, fail(a.path, "%s: no organization has identifier %s|%s", a.fn, system, value)
	}
	args := map[string]any{"identifier_system": system, "identifier_value": value, "include_children": children}
	if limit {
		args["combinator"] = comb
	}
	return &orgSet{path: a.path, fn: a.fn, args: args, ids: c.expand(orgs, children), all: comb == "all", negate: !limit}, nil
}

func buildLimitByID(c *compiler, a *args, _ int) (node, error) { return byID(c, a, true) }
func buildNotInByID(c *compiler, a *args, _ int) (node, error) { return byID(c, a, false) }

// byName is the seed text's limit_by_clinic_list / not_in_clinic_list:
// organizations by name, children included.
func byName(c *compiler, a *args, limit bool) (node, error) {
	names, err := a.list("org_list")
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, n := range names {
		got := c.env.OrgsNamed(n)
		if len(got) == 0 {
			return nil, fail(a.path, "%s: no organization is named %q", a.fn, n)
		}
		ids = append(ids, got...)
	}
	return &orgSet{path: a.path, fn: a.fn, args: map[string]any{"org_list": names}, ids: c.expand(ids, true), negate: !limit}, nil
}

func buildLimitByName(c *compiler, a *args, _ int) (node, error) { return byName(c, a, true) }
func buildNotInByName(c *compiler, a *args, _ int) (node, error) { return byName(c, a, false) }

type roleNode struct {
	path, fn string
	roles    []string
	want     bool
}

func (n *roleNode) eval(f *Facts, tr *Trace) bool {
	held := ""
	for _, r := range n.roles {
		if f.Roles[r] {
			held = r
			break
		}
	}
	res := (held != "") == n.want
	if tr == nil {
		return res
	}
	why := "the person holds none of the roles"
	if held != "" {
		why = "the person holds role " + held
	}
	tr.add(Step{Path: n.path, Function: n.fn, Args: map[string]any{"role_list": n.roles}, Result: res, Why: why})
	return res
}

func buildRoles(want bool) builder {
	return func(c *compiler, a *args, _ int) (node, error) {
		roles, err := a.list("role_list")
		if err != nil {
			return nil, err
		}
		for _, r := range roles {
			if !c.env.RoleExists(r) {
				return nil, fail(a.path, "%s: no role is named %q", a.fn, r)
			}
		}
		return &roleNode{path: a.path, fn: a.fn, roles: roles, want: want}, nil
	}
}

type notInIntervention struct {
	path, name string
}

func (n *notInIntervention) eval(f *Facts, tr *Trace) bool {
	in := f.InIntervention != nil && f.InIntervention(n.name)
	if tr == nil {
		return !in
	}
	why := "the person does not have access to " + n.name
	if in {
		why = "the person has access to " + n.name
	}
	tr.add(Step{Path: n.path, Function: "allow_if_not_in_intervention", Args: map[string]any{"intervention_name": n.name},
		Result: !in, Why: why})
	return !in
}

func buildNotInIntervention(c *compiler, a *args, _ int) (node, error) {
	name, err := a.str("intervention_name", nil)
	if err != nil {
		return nil, err
	}
	if !c.env.InterventionExists(name) {
		return nil, fail(a.path, "%s: no intervention is named %q", a.fn, name)
	}
	c.depends = append(c.depends, name)
	return &notInIntervention{path: a.path, name: name}, nil
}

type txNode struct {
	path string
	want bool
}

func (n *txNode) eval(f *Facts, tr *Trace) bool {
	res := f.TxBegun == n.want
	if tr == nil {
		return res
	}
	why := "no treatment-started procedure"
	if f.TxBegun {
		why = "a treatment-started procedure is recorded"
	}
	tr.add(Step{Path: n.path, Function: "tx_begun", Args: map[string]any{"boolean_value": strconv.FormatBool(n.want)}, Result: res, Why: why})
	return res
}

func buildTxBegun(_ *compiler, a *args, _ int) (node, error) {
	want, err := a.boolean("boolean_value", nil)
	if err != nil {
		return nil, err
	}
	return &txNode{path: a.path, want: want}, nil
}

type obsNode struct {
	path, display string
	want, invert  bool
}

func (n *obsNode) eval(f *Facts, tr *Trace) bool {
	v, ok := f.Observations[n.display]
	match := ok && v == n.want
	res := match != n.invert
	if tr == nil {
		return res
	}
	why := "no observation of " + strconv.Quote(n.display)
	if ok {
		why = fmt.Sprintf("the newest observation of %q is %t", n.display, v)
	}
	if n.invert {
		why += " (logic inverted)"
	}
	tr.add(Step{Path: n.path, Function: "observation_check", Args: map[string]any{"display": n.display,
		"boolean_value": strconv.FormatBool(n.want), "invert_logic": n.invert}, Result: res, Why: why})
	return res
}

func buildObservation(c *compiler, a *args, _ int) (node, error) {
	display, err := a.str("display", nil)
	if err != nil {
		return nil, err
	}
	want, err := a.boolean("boolean_value", nil)
	if err != nil {
		return nil, err
	}
	invert, err := a.boolean("invert_logic", ptr(false))
	if err != nil {
		return nil, err
	}
	if !c.env.ConceptExists(display) {
		return nil, fail(a.path, "%s: no observation concept has display %q", a.fn, display)
	}
	return &obsNode{path: a.path, display: display, want: want, invert: invert}, nil
}

type combineNode struct {
	path  string
	any   bool
	parts []node
}

func (n *combineNode) eval(f *Facts, tr *Trace) bool {
	res := !n.any
	decided := len(n.parts)
	for i, p := range n.parts {
		if p.eval(f, tr) == n.any {
			res, decided = n.any, i+1
			break
		}
	}
	if tr == nil {
		return res
	}
	comb := "all"
	if n.any {
		comb = "any"
	}
	why := fmt.Sprintf("combinator %s: %d of %d strategies evaluated", comb, decided, len(n.parts))
	tr.add(Step{Path: n.path, Function: "combine_strategies", Args: map[string]any{"combinator": comb,
		"strategies": len(n.parts)}, Result: res, Why: why})
	return res
}

var strategyKey = regexp.MustCompile(`^strategy_([1-9][0-9]*)(_kwargs)?$`)

func buildCombine(c *compiler, a *args, depth int) (node, error) {
	if depth > MaxDepth {
		return nil, fail(a.path, "combine_strategies nests deeper than %d levels", MaxDepth)
	}
	comb, err := a.str("combinator", ptr("all"))
	if err != nil {
		return nil, err
	}
	if comb != "all" && comb != "any" {
		return nil, fail(a.path, "combine_strategies: combinator must be all or any")
	}
	fns := map[int]string{}
	kws := map[int]json.RawMessage{}
	maxN := 0
	for k, v := range a.m {
		m := strategyKey.FindStringSubmatch(k)
		if m == nil {
			continue // done() names it as unknown
		}
		n, err := strconv.Atoi(m[1])
		if err != nil || n > MaxCombined {
			return nil, fail(a.path, "combine_strategies: at most %d strategies may be combined", MaxCombined)
		}
		a.used[k] = true
		if m[2] == "" {
			var fn string
			if err := json.Unmarshal(v, &fn); err != nil {
				return nil, fail(a.path, "combine_strategies: %s must be a function name", k)
			}
			fns[n] = fn
		} else {
			kws[n] = v
		}
		maxN = max(maxN, n)
	}
	if maxN == 0 {
		return nil, fail(a.path, "combine_strategies: strategy_1 is required")
	}
	node := &combineNode{path: a.path, any: comb == "any"}
	for n := 1; n <= maxN; n++ {
		fn, ok := fns[n]
		if !ok {
			if _, hasKw := kws[n]; hasKw {
				return nil, fail(a.path, "combine_strategies: strategy_%d_kwargs is given without strategy_%d", n, n)
			}
			return nil, fail(a.path, "combine_strategies: strategy_%d is missing (strategies are numbered from 1 without gaps)", n)
		}
		var kw []kwarg
		if raw, ok := kws[n]; ok {
			if err := strictDecode(raw, &kw); err != nil {
				return nil, fail(a.path, "combine_strategies: strategy_%d_kwargs must be a list of {name, value}", n)
			}
		}
		sub := fmt.Sprintf("strategy_%d", n)
		if a.path != "" {
			sub = a.path + "/" + sub
		}
		child, err := c.call(fn, kw, sub, depth+1)
		if err != nil {
			return nil, err
		}
		node.parts = append(node.parts, child)
	}
	return node, nil
}
