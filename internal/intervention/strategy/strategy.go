// Package strategy is the access-rule engine of seed 001's interventions
// (the reference's intervention_strategies): a rule is JSON naming one
// function of a fixed registry and its keyword arguments, compiled once
// into a tree of Go closures and evaluated against a person's Facts. No
// code is ever made from data: an unknown function, argument, type or
// reference is refused when the rule is compiled, naming the problem.
//
// The package is pure: no SQL, no HTTP. What a rule names (organizations,
// identifiers, roles, observation concepts, other interventions) is
// resolved through an Env at compile time; what a person is (their roles,
// organizations, newest observations, treatment) is a Facts value loaded
// once per decision by the caller.
package strategy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// DecisionSupportGroup is the default identifier system of the *_w_id
// functions, as in the reference.
const DecisionSupportGroup = "http://us.truenth.org/identity-codes/decision-support-group"

// Limits of a rule: combine_strategies nests at most MaxDepth levels deep
// (the seed's P3P rule uses two) and combines at most MaxCombined
// strategies (the reference's arbitrary six is lifted); a rule's JSON is at
// most MaxRuleBytes.
const (
	MaxDepth     = 5
	MaxCombined  = 32
	MaxRuleBytes = 64 << 10
	maxListLen   = 200
	maxTextLen   = 500
)

// Env resolves what a rule names, at compile time.
type Env interface {
	// OrgsNamed returns the organizations with that exact name.
	OrgsNamed(name string) []int64
	// OrgsWithIdentifier returns the organizations holding the identifier.
	OrgsWithIdentifier(system, value string) []int64
	// AtOrBelow returns id and every organization below it.
	AtOrBelow(id int64) []int64
	RoleExists(name string) bool
	// ConceptExists reports whether an observation concept has this display.
	ConceptExists(display string) bool
	InterventionExists(name string) bool
}

// Facts is what a decision knows about one person.
type Facts struct {
	Roles map[string]bool
	// Orgs are the organizations the person belongs to.
	Orgs map[int64]bool
	// Observations holds, per concept display, the boolean value of the
	// person's newest observation of it.
	Observations map[string]bool
	// TxBegun: the person has a Procedure whose code is in the
	// treatment-started value set.
	TxBegun bool
	// InIntervention is the named intervention's quick access check for
	// the person (allow_if_not_in_intervention).
	InIntervention func(name string) bool
}

// Step is one evaluated function in a trace.
type Step struct {
	// Path locates the function in the rule: "" for the top, "strategy_2"
	// or "strategy_2/strategy_1" inside combine_strategies.
	Path     string         `json:"path"`
	Function string         `json:"function"`
	Args     map[string]any `json:"args"`
	Result   bool           `json:"result"`
	Why      string         `json:"why"`
}

// Trace collects steps when not nil. Evaluating without one (nil) builds
// no step, text or map: decisions without ?trace=true allocate nothing in
// the engine.
type Trace struct{ Steps []Step }

func (t *Trace) add(s Step) {
	if t != nil {
		t.Steps = append(t.Steps, s)
	}
}

// Rule is one compiled access strategy.
type Rule struct {
	Name        string
	Description string
	// Rank orders ranked rules (ascending) before unranked ones; nil for none.
	Rank *int
	// Details is the function_details JSON as given, for display.
	Details json.RawMessage
	root    node
	// Depends are the interventions allow_if_not_in_intervention names.
	Depends []string
}

// Eval decides the rule for f, appending to tr (which may be nil).
func (r *Rule) Eval(f *Facts, tr *Trace) bool { return r.root.eval(f, tr) }

type node interface {
	eval(f *Facts, tr *Trace) bool
}

// kwarg is one {name, value} pair.
type kwarg struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

type details struct {
	Function string  `json:"function"`
	Kwargs   []kwarg `json:"kwargs"`
	// Name is tolerated: the seed's own example puts the rule's name here.
	Name string `json:"name,omitempty"`
}

type ruleJSON struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Rank        *int            `json:"rank"`
	Details     json.RawMessage `json:"function_details"`
}

// Error is a refused rule: Msg names the problem and where.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func fail(path, format string, args ...any) error {
	where := "function_details"
	if path != "" {
		where += " " + path
	}
	return &Error{Msg: where + ": " + fmt.Sprintf(format, args...)}
}

// Compile parses and validates one rule.
func Compile(raw []byte, env Env) (*Rule, error) {
	if len(raw) > MaxRuleBytes {
		return nil, &Error{Msg: fmt.Sprintf("the rule is larger than %d bytes", MaxRuleBytes)}
	}
	var rj ruleJSON
	if err := strictDecode(raw, &rj); err != nil {
		return nil, &Error{Msg: "the rule is not valid JSON of the expected shape: " + err.Error()}
	}
	if strings.TrimSpace(rj.Name) == "" || len(rj.Name) > maxTextLen || !cleanText(rj.Name) {
		return nil, &Error{Msg: fmt.Sprintf("name is required: 1 to %d characters of text", maxTextLen)}
	}
	if len(rj.Description) > 4000 || !cleanText(rj.Description) {
		return nil, &Error{Msg: "description must be at most 4000 characters of text"}
	}
	if rj.Rank != nil && (*rj.Rank < 0 || *rj.Rank > 1_000_000) {
		return nil, &Error{Msg: "rank must be between 0 and 1000000"}
	}
	if len(rj.Details) == 0 || string(rj.Details) == "null" {
		return nil, &Error{Msg: "function_details is required"}
	}
	c := compiler{env: env}
	root, err := c.details(rj.Details, "", 1)
	if err != nil {
		return nil, err
	}
	slices.Sort(c.depends)
	return &Rule{Name: rj.Name, Description: rj.Description, Rank: rj.Rank, Details: rj.Details, root: root,
		Depends: slices.Compact(c.depends)}, nil
}

func strictDecode(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}

func cleanText(s string) bool {
	return !strings.ContainsRune(s, 0) && utf8.ValidString(s)
}

type compiler struct {
	env     Env
	depends []string
}

// args reads a function's kwargs against its parameters: every name must
// be a parameter, none repeated, every required one present.
type args struct {
	path string
	fn   string
	m    map[string]json.RawMessage
	used map[string]bool
}

func (c *compiler) args(kw []kwarg, path, fn string) (*args, error) {
	a := &args{path: path, fn: fn, m: map[string]json.RawMessage{}, used: map[string]bool{}}
	for _, k := range kw {
		if k.Name == "" {
			return nil, fail(path, "%s: a kwarg has no name", fn)
		}
		if _, dup := a.m[k.Name]; dup {
			return nil, fail(path, "%s: kwarg %q is given twice", fn, k.Name)
		}
		a.m[k.Name] = k.Value
	}
	return a, nil
}

func (a *args) str(name string, def *string) (string, error) {
	raw, ok := a.m[name]
	a.used[name] = true
	if !ok {
		if def == nil {
			return "", fail(a.path, "%s: kwarg %q is required", a.fn, name)
		}
		return *def, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fail(a.path, "%s: kwarg %q must be a string", a.fn, name)
	}
	if len(s) > maxTextLen || !cleanText(s) {
		return "", fail(a.path, "%s: kwarg %q must be at most %d characters of text", a.fn, name, maxTextLen)
	}
	return s, nil
}

func (a *args) list(name string) ([]string, error) {
	raw, ok := a.m[name]
	a.used[name] = true
	if !ok {
		return nil, fail(a.path, "%s: kwarg %q is required", a.fn, name)
	}
	var l []string
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fail(a.path, "%s: kwarg %q must be a list of strings", a.fn, name)
	}
	if len(l) == 0 || len(l) > maxListLen {
		return nil, fail(a.path, "%s: kwarg %q must hold 1 to %d strings", a.fn, name, maxListLen)
	}
	for _, s := range l {
		if s == "" || len(s) > maxTextLen || !cleanText(s) {
			return nil, fail(a.path, "%s: kwarg %q holds an empty or malformed string", a.fn, name)
		}
	}
	return l, nil
}

// boolean reads a boolean given as JSON true/false or, as the reference's
// boolean_value is, the strings "true"/"false".
func (a *args) boolean(name string, def *bool) (bool, error) {
	raw, ok := a.m[name]
	a.used[name] = true
	if !ok {
		if def == nil {
			return false, fail(a.path, "%s: kwarg %q is required", a.fn, name)
		}
		return *def, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return b, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		switch strings.ToLower(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, fail(a.path, "%s: kwarg %q must be true or false (or the strings \"true\", \"false\")", a.fn, name)
}

// done refuses any kwarg the function did not read.
func (a *args) done() error {
	var extra []string
	for k := range a.m {
		if !a.used[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return fail(a.path, "%s: unknown kwarg %q", a.fn, extra[0])
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
