package intervention

import (
	"fmt"

	"ward/internal/intervention/strategy"
)

// Stage names what decided a person's access to one intervention.
type Stage string

// The three stages of a decision. Every decision ends at exactly one.
const (
	// StageUserRow: the person's row decided (forbidden denies, granted
	// grants).
	StageUserRow Stage = "user_row"
	// StageStrategy: an access rule granted.
	StageStrategy Stage = "strategy"
	// StagePublicAccess: nothing else decided, so public_access did
	// (true grants, false denies).
	StagePublicAccess Stage = "public_access"
)

// Card is one intervention as a person sees it (the reference's
// display_for_user answer): whether they have access and the display
// details, the person's row overriding the intervention's where set.
type Card struct {
	Intervention *Intervention
	Access       bool
	CardHTML     string
	LinkLabel    string
	// LinkURL is "" when Access is false: a card the person may not use
	// carries no link (stricter than the reference, which sent it anyway).
	LinkURL    string
	StatusText string
	// UserAccess is the person's row's access, "" without a row.
	UserAccess Access
	Stage      Stage
}

// CardTrace explains one decision: the stage that decided and why, and
// each access rule evaluated with its steps.
type CardTrace struct {
	Intervention string      `json:"intervention"`
	Access       bool        `json:"access"`
	Stage        Stage       `json:"stage"`
	Why          string      `json:"why"`
	UserAccess   Access      `json:"user_access,omitempty"`
	PublicAccess bool        `json:"public_access"`
	Strategies   []RuleTrace `json:"strategies"`
}

// RuleTrace is one access rule as a decision evaluated it. N is its
// 1-based place in evaluation order (ranked first, then the unranked).
type RuleTrace struct {
	N      int             `json:"n"`
	Name   string          `json:"name"`
	Rank   *int            `json:"rank,omitempty"`
	Result bool            `json:"result"`
	Steps  []strategy.Step `json:"steps"`
}

// Quick-check memo states, per intervention, for one Decider.
const (
	quickUnknown int8 = iota
	quickRunning
	quickNo
	quickYes
)

// Decider decides one person's access to every intervention of one
// Ruleset. Both orders of the reference are here and agree on access in
// every case, because ward is stricter than the reference about a
// forbidden row:
//
//   - A forbidden row always denies, in both checks, whatever the rules
//     or public_access say (the reference's display_for_user let a
//     granting rule win over it and its quick_access_check let
//     public_access win, so the two disagreed).
//   - Otherwise access is: a rule grants, or the row is granted, or
//     public_access. subscribed grants nothing: it routes events.
//
// DisplayForUser tries rules, then the row, then public_access (so the
// trace names the rule that grants); QuickAccessCheck tries the cheap
// stages first. allow_if_not_in_intervention asks the other
// intervention's QuickAccessCheck, memoised for the Decider's life. A
// cycle is refused when rules are stored; should one reach a decision, the
// intervention being decided counts as no access where the cycle closes,
// so the decision ends (its answer then depends on where it entered). A Decider is for one goroutine and one decision; the Ruleset
// and Facts are only read.
type Decider struct {
	rs    *Ruleset
	f     *Facts
	sf    strategy.Facts
	quick []int8
}

// NewDecider prepares decisions for the person f describes.
func NewDecider(rs *Ruleset, f *Facts) *Decider {
	d := &Decider{rs: rs, f: f, quick: make([]int8, len(rs.Interventions))}
	d.sf = strategy.Facts{Roles: f.Roles, Orgs: f.Orgs, Observations: f.Observations, TxBegun: f.TxBegun,
		InIntervention: d.inIntervention}
	return d
}

func (d *Decider) index(name string) int {
	for i, iv := range d.rs.Interventions {
		if iv.Name == name {
			return i
		}
	}
	return -1
}

func (d *Decider) inIntervention(name string) bool {
	i := d.index(name)
	if i < 0 {
		return false
	}
	switch d.quick[i] {
	case quickYes:
		return true
	case quickNo, quickRunning:
		return false
	}
	d.quick[i] = quickRunning
	ok := d.quickCheck(i)
	d.quick[i] = quickNo
	if ok {
		d.quick[i] = quickYes
	}
	return ok
}

// QuickAccessCheck is the reference's quick_access_check of intervention
// i (an index into the Ruleset's Interventions): a forbidden row denies;
// then public_access, a granted row, the rules.
func (d *Decider) QuickAccessCheck(i int) bool {
	if d.quick[i] == quickYes || d.quick[i] == quickNo {
		return d.quick[i] == quickYes
	}
	return d.inIntervention(d.rs.Interventions[i].Name)
}

func (d *Decider) quickCheck(i int) bool {
	iv := d.rs.Interventions[i]
	row := d.f.Rows[iv.Name]
	switch {
	case row != nil && row.Access == AccessForbidden:
		return false
	case iv.PublicAccess, row != nil && row.Access == AccessGranted:
		return true
	}
	return strategy.FirstGrant(d.rs.Rules[iv.Name], &d.sf, nil) >= 0
}

// DisplayForUser is the reference's display_for_user of intervention i: a
// forbidden row denies; then the rules (the first that grants), the row
// (granted), public_access. tr, when not nil, is filled with why.
func (d *Decider) DisplayForUser(i int, tr *CardTrace) Card {
	iv := d.rs.Interventions[i]
	row := d.f.Rows[iv.Name]
	c := Card{Intervention: iv}
	if row != nil {
		c.UserAccess = row.Access
	}
	if tr != nil {
		*tr = CardTrace{Intervention: iv.Name, UserAccess: c.UserAccess, PublicAccess: iv.PublicAccess,
			Strategies: []RuleTrace{}}
	}
	var why string
	switch {
	case c.UserAccess == AccessForbidden:
		c.Stage = StageUserRow
		if tr != nil {
			why = "the person's row is forbidden, which always denies (before any rule or public_access)"
		}
	case d.rulesGrant(i, tr):
		c.Access, c.Stage = true, StageStrategy
	case c.UserAccess == AccessGranted:
		c.Access, c.Stage = true, StageUserRow
		if tr != nil {
			why = "no rule granted; the person's row is granted"
		}
	default:
		c.Access, c.Stage = iv.PublicAccess, StagePublicAccess
		if tr != nil {
			why = "no rule granted and no granted row"
			if c.UserAccess == AccessSubscribed {
				why += " (the row is subscribed, which routes events but does not grant display)"
			}
			if iv.PublicAccess {
				why += "; public_access is true"
			} else {
				why += "; public_access is false"
			}
		}
	}
	if tr != nil {
		tr.Access, tr.Stage = c.Access, c.Stage
		if c.Stage == StageStrategy {
			last := tr.Strategies[len(tr.Strategies)-1]
			why = fmt.Sprintf("strategy %d (%s) granted", last.N, last.Name)
		}
		tr.Why = why
	}
	c.details(iv, row)
	if d.quick[i] == quickUnknown {
		// Both checks give one answer; a later allow_if_not_in_intervention
		// on this intervention need not decide again.
		d.quick[i] = quickNo
		if c.Access {
			d.quick[i] = quickYes
		}
	}
	return c
}

// rulesGrant evaluates intervention i's rules in order until one grants.
// While they run, i counts as running for allow_if_not_in_intervention,
// exactly as in its quick check, so that even a cycle (refused when rules
// are stored) is closed at the same place in both orders.
func (d *Decider) rulesGrant(i int, tr *CardTrace) bool {
	if d.quick[i] == quickUnknown {
		d.quick[i] = quickRunning
		defer func() {
			if d.quick[i] == quickRunning {
				d.quick[i] = quickUnknown
			}
		}()
	}
	rules := d.rs.Rules[d.rs.Interventions[i].Name]
	if tr == nil {
		return strategy.FirstGrant(rules, &d.sf, nil) >= 0
	}
	tr.Strategies = make([]RuleTrace, 0, len(rules))
	for n, r := range rules {
		var st strategy.Trace
		ok := r.Eval(&d.sf, &st)
		tr.Strategies = append(tr.Strategies, RuleTrace{N: n + 1, Name: r.Name, Rank: r.Rank, Result: ok, Steps: st.Steps})
		if ok {
			return true
		}
	}
	return false
}

// details fills the display details: the row's non-empty fields override
// the intervention's; no link without access.
func (c *Card) details(iv *Intervention, row *UserIntervention) {
	c.CardHTML, c.LinkLabel, c.LinkURL, c.StatusText = iv.CardHTML, iv.LinkLabel, iv.LinkURL, iv.StatusText
	if row != nil {
		pick(&c.CardHTML, row.CardHTML)
		pick(&c.LinkLabel, row.LinkLabel)
		pick(&c.LinkURL, row.LinkURL)
		pick(&c.StatusText, row.StatusText)
	}
	if !c.Access {
		c.LinkURL = ""
	}
}

func pick(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

// Cards decides every intervention of the Ruleset for the person, in
// display order, appending to dst (which may be nil). With traces not nil
// it also returns one CardTrace per card.
func (d *Decider) Cards(dst []Card, traces *[]CardTrace) []Card {
	for i := range d.rs.Interventions {
		var tr *CardTrace
		if traces != nil {
			*traces = append(*traces, CardTrace{})
			tr = &(*traces)[len(*traces)-1]
		}
		dst = append(dst, d.DisplayForUser(i, tr))
	}
	return dst
}
