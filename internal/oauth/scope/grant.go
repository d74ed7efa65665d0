package scope

import (
	"net/url"
	"slices"
)

// valid reports whether s is a scope Parse could have produced; the zero
// Scope and hand-built scopes without permissions grant nothing.
func (s Scope) valid() bool {
	switch s.Kind {
	case KindResource:
		if s.Context == "" || s.ResourceType == "" {
			return false
		}
		set := 0
		for _, b := range []bool{s.Operation != "", s.Action != "", s.Perms != 0} {
			if b {
				set++
			}
		}
		if s.Action != "" && (s.ResourceType != TaskType || !IsTaskAction(s.Action)) {
			return false
		}
		return set == 1 && s.Perms&^PermAll == 0
	default:
		return s.Name != ""
	}
}

// Covers reports whether a gives at least every access b gives.
//
// Rules:
//   - Non-resource scopes (openid, launch/patient, offline_access, …) cover
//     only themselves: launch does not cover launch/patient.
//   - Resource scopes must share the context: user/ never covers patient/.
//   - a's resource type must equal b's, or be the wildcard "*"; a wildcard in
//     b is covered only by a wildcard in a.
//   - a's permissions must include all of b's.
//   - An action scope (system/Task.certify) covers only the same action on
//     Task in the same context; no cruds scope covers an action.
//   - An operation scope covers only the same operation: system/*.$export
//     covers system/Group.$export but not system/Group.rs, and no read or
//     write scope covers an operation.
//   - If a has a query restriction, b must restrict every one of a's
//     parameters to exactly the same values (b may add more): b then reaches
//     a subset of what a reaches. Anything less certain counts as not
//     covered, so the answer errs towards granting less.
func Covers(a, b Scope) bool {
	if !a.valid() || !b.valid() || a.Kind != b.Kind {
		return false
	}
	if a.Kind != KindResource {
		return a.Name == b.Name
	}
	if a.Context != b.Context || a.Operation != b.Operation || a.Action != b.Action {
		return false
	}
	if a.ResourceType != WildcardType && a.ResourceType != b.ResourceType {
		return false
	}
	if b.Perms&^a.Perms != 0 {
		return false
	}
	return queryWithin(b.Query, a.Query)
}

// queryWithin reports whether restriction inner is at least as tight as
// outer: every parameter outer restricts, inner restricts identically.
func queryWithin(inner, outer url.Values) bool {
	for k, vs := range outer {
		if !slices.Equal(inner[k], vs) {
			return false
		}
	}
	return true
}

// Allows reports whether granted scopes give perm on resourceType in
// context, with no query restriction attached.
//
// Rules:
//   - Only resource scopes with permissions count; operation scopes never
//     allow read or write.
//   - The context must match exactly.
//   - A granted wildcard type "*" allows any type; asking about "*" (all
//     types at once) is allowed only by a granted "*": a wildcard is never
//     inferred from specific grants.
//   - perm may hold several permissions; all must be granted, possibly by
//     different scopes (patient/Observation.r plus patient/Observation.s
//     allow PermRead|PermSearch). perm 0 is never allowed.
//   - Scopes restricted by a query are ignored here, since they allow access
//     only to matching resources; callers that can apply such filters use
//     Restrictions.
func Allows(granted []Scope, context Context, resourceType string, perm Perm) bool {
	if perm == 0 || perm&^PermAll != 0 || resourceType == "" {
		return false
	}
	var have Perm
	for _, g := range granted {
		if matchesResource(g, context, resourceType) && len(g.Query) == 0 {
			have |= g.Perms
		}
	}
	return perm&^have == 0
}

// Restrictions says how granted scopes allow one permission on resourceType
// in context. ok is false when nothing allows it. When some scope allows it
// without restriction, ok is true and filters is nil. Otherwise filters holds
// the query restrictions of the scopes that allow it: a resource may be
// reached when it matches every parameter of at least one of them.
// perm must be exactly one permission.
func Restrictions(granted []Scope, context Context, resourceType string, perm Perm) (filters []url.Values, ok bool) {
	if perm == 0 || perm&(perm-1) != 0 || perm&^PermAll != 0 || resourceType == "" {
		return nil, false
	}
	for _, g := range granted {
		if !matchesResource(g, context, resourceType) || g.Perms&perm == 0 {
			continue
		}
		if len(g.Query) == 0 {
			return nil, true
		}
		filters = append(filters, cloneQuery(g.Query))
	}
	return filters, len(filters) > 0
}

func cloneQuery(q url.Values) url.Values {
	c := make(url.Values, len(q))
	for k, vs := range q {
		c[k] = slices.Clone(vs)
	}
	return c
}

func matchesResource(g Scope, context Context, resourceType string) bool {
	return g.valid() && g.Kind == KindResource && g.Operation == "" && g.Action == "" && g.Context == context &&
		(g.ResourceType == WildcardType || g.ResourceType == resourceType)
}

// AllowsOperation reports whether granted scopes allow the FHIR operation op
// (OpExport, OpBulkDataStatus) on resourceType in context. Only a scope
// naming the same operation counts, for the same type or the wildcard "*":
// system/*.$export allows a Group export, system/Patient.$export does not,
// and no read or write scope allows any operation.
func AllowsOperation(granted []Scope, context Context, resourceType, op string) bool {
	if op == "" || resourceType == "" {
		return false
	}
	return slices.ContainsFunc(granted, func(g Scope) bool {
		return g.valid() && g.Kind == KindResource && g.Operation == op && g.Context == context &&
			(g.ResourceType == WildcardType || g.ResourceType == resourceType)
	})
}

// AllowsAction reports whether granted scopes allow the workflow action
// (one of TaskActions) on Task in context. Only a scope naming that very
// action counts: system/Task.cruds, system/*.cruds and system/Task.register
// do not allow certify.
func AllowsAction(granted []Scope, context Context, action string) bool {
	if !IsTaskAction(action) {
		return false
	}
	return slices.ContainsFunc(granted, func(g Scope) bool {
		return g.valid() && g.Kind == KindResource && g.Action == action && g.Context == context && g.ResourceType == TaskType
	})
}

// Narrow decides what a client gets when it requests scopes: never more
// than it was registered for, and never more than it asked for.
//
// Rules, for each requested scope r:
//   - If one registered scope covers r (see Covers), r is granted as asked:
//     requesting patient/Observation.rs of a client registered for
//     patient/*.cruds grants exactly patient/Observation.rs.
//   - Otherwise, for a resource scope, each registered scope that overlaps r
//     contributes the overlap: the same context and operation, the more
//     specific resource type, the common permissions, and both query
//     restrictions together. Requesting patient/*.rs of a client registered
//     for patient/Observation.rs grants patient/Observation.rs only: a
//     wildcard is never widened to, nor granted because it was requested.
//   - Non-resource scopes (openid, launch/patient, offline_access, …) are
//     granted only when registered verbatim.
//   - A requested scope that yields nothing is listed in rejected, in its
//     original text, for the caller to report (SMART lets the server grant
//     less than asked; the token response's scope shows what was granted).
//
// Every granted scope is covered both by a registered scope and by a
// requested one. Duplicates (by canonical form) are dropped; order follows
// the request.
func Narrow(requested, registered []Scope) (granted []Scope, rejected []string) {
	seen := map[string]bool{}
	add := func(s Scope) {
		if key := s.String(); !seen[key] {
			seen[key] = true
			granted = append(granted, s)
		}
	}
	for _, r := range requested {
		if slices.ContainsFunc(registered, func(g Scope) bool { return Covers(g, r) }) {
			add(r)
			continue
		}
		got := false
		if r.Kind == KindResource {
			for _, g := range registered {
				if x, ok := intersect(r, g); ok {
					add(x)
					got = true
				}
			}
		}
		if !got {
			text := r.Raw
			if text == "" {
				text = r.String()
			}
			rejected = append(rejected, text)
		}
	}
	return granted, rejected
}

// intersect gives the scope reaching exactly what both r and g reach, when
// the model can express it and it is not empty.
func intersect(r, g Scope) (Scope, bool) {
	if !r.valid() || !g.valid() || r.Kind != KindResource || g.Kind != KindResource ||
		r.Context != g.Context || r.Operation != g.Operation || r.Action != g.Action {
		return Scope{}, false
	}
	x := Scope{Kind: KindResource, Context: r.Context, Operation: r.Operation, Action: r.Action, Perms: r.Perms & g.Perms}
	switch {
	case r.ResourceType == g.ResourceType:
		x.ResourceType = r.ResourceType
	case g.ResourceType == WildcardType:
		x.ResourceType = r.ResourceType
	case r.ResourceType == WildcardType:
		x.ResourceType = g.ResourceType
	default:
		return Scope{}, false
	}
	if x.Action != "" && x.ResourceType != TaskType {
		return Scope{}, false // an action exists on Task only
	}
	if x.Operation == "" && x.Action == "" && x.Perms == 0 {
		return Scope{}, false
	}
	if len(r.Query)+len(g.Query) > 0 {
		x.Query = cloneQuery(r.Query)
		for k, vs := range g.Query {
			if have, ok := x.Query[k]; ok {
				if !slices.Equal(have, vs) {
					// Two different restrictions on one parameter: the
					// overlap is not expressible as one scope, so grant none.
					return Scope{}, false
				}
				continue
			}
			x.Query[k] = slices.Clone(vs)
		}
	}
	x.Raw = x.String()
	if len(x.Raw) > MaxScopeLen {
		return Scope{}, false // would not parse back; granting less is the safe side
	}
	return x, true
}
