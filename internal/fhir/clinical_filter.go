package fhir

import (
	"slices"

	"ward/internal/apperr"
	"ward/internal/clinical"
	"ward/internal/fhir/search"
	"ward/internal/timerange"
)

// ClinicalFilter translates a parsed Observation or Procedure search into
// the clinical record's Filter: _id and patient/subject become id and
// patient sets (several clauses intersect, the values of one clause
// unite), code becomes an OR list per clause, date and _lastUpdated become
// bounds. An id or patient reference that is not a positive integer cannot
// name anything ward stores, so it matches nothing instead of failing the
// search. Access is not decided here: the caller narrows PatientIDs to what
// the requester may see before the search runs.
func ClinicalFilter(q search.Query) (clinical.Filter, error) {
	var f clinical.Filter
	if q.ResourceType != "Observation" && q.ResourceType != "Procedure" {
		return f, apperr.New(apperr.Invalid, "ClinicalFilter: %q is not a clinical resource type", q.ResourceType)
	}
	for _, c := range q.Clauses {
		switch c.Param {
		case "_id":
			var ids []int64
			for _, t := range c.Tokens {
				if id, err := parseID(t.Code); err == nil && t.Match == search.TokenCode {
					ids = append(ids, id)
				}
			}
			f.IDs = intersect(f.IDs, ids)
		case "patient", "subject":
			var ids []int64
			for _, r := range c.References {
				if r.Type != "" && r.Type != "Patient" {
					continue
				}
				if id, err := parseID(r.ID); err == nil {
					ids = append(ids, id)
				}
			}
			f.PatientIDs = intersect(f.PatientIDs, ids)
		case "code":
			or := []clinical.CodeMatch{}
			for _, t := range c.Tokens {
				or = append(or, clinical.CodeMatch{Match: codeMatchKind(t.Match), System: t.System, Code: t.Code})
			}
			f.Codes = append(f.Codes, or)
		case "date":
			f.Dates = append(f.Dates, bounds(c.Dates)...)
		case "_lastUpdated":
			f.Updated = append(f.Updated, bounds(c.Dates)...)
		default:
			// The parser refuses parameters a type does not define; one it
			// accepts that is not handled here must not be ignored, or a
			// search would return more than was asked for.
			return clinical.Filter{}, invalidField(c.Param, "search parameter %q is not supported on %s", c.Param, q.ResourceType)
		}
	}
	return f, nil
}

func codeMatchKind(m search.TokenMatch) clinical.CodeMatchKind {
	switch m {
	case search.TokenCode:
		return clinical.CodeAnySystem
	case search.TokenSystemAndCode:
		return clinical.CodeSystemAndCode
	case search.TokenNoSystem:
		return clinical.CodeNoSystem
	case search.TokenSystemOnly:
		return clinical.CodeSystemOnly
	default:
		// Zero: CodeMatch.Matches accepts nothing for it.
		return 0
	}
}

func bounds(ds []search.Date) []timerange.Bound {
	out := make([]timerange.Bound, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.Bound())
	}
	return out
}

// intersect ANDs a clause's id set into the running one (nil: no clause
// yet). The result is sorted, duplicate-free and non-nil once any clause
// has been seen, so "no id can match" stays distinct from "any id".
func intersect(cur, next []int64) []int64 {
	next = slices.Clone(next)
	if next == nil {
		next = []int64{}
	}
	slices.Sort(next)
	next = slices.Compact(next)
	if cur == nil {
		return next
	}
	out := []int64{}
	for _, id := range next {
		if _, ok := slices.BinarySearch(cur, id); ok {
			out = append(out, id)
		}
	}
	return out
}
