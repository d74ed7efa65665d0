package fhir

import (
	"slices"
	"strconv"

	"ward/internal/apperr"
	"ward/internal/document"
	"ward/internal/fhir/search"
)

// DocumentFilter translates a DocumentReference search (_id,
// _lastUpdated, patient, subject, type, date) into the document store's
// filter. References to ids ward cannot have issued match nothing.
func DocumentFilter(q search.Query) (document.Filter, error) {
	var f document.Filter
	for _, c := range q.Clauses {
		switch c.Param {
		case "_id":
			ids := []int64{}
			for _, t := range c.Tokens {
				if id, err := strconv.ParseInt(t.Code, 10, 64); err == nil && id > 0 {
					ids = append(ids, id)
				}
			}
			f.IDs = IntersectIDs(f.IDs, ids)
		case "patient", "subject":
			f.PatientIDs = IntersectIDs(f.PatientIDs, patientRefIDs(c))
		case "type":
			for _, t := range c.Tokens {
				m := document.CodeMatch{System: t.System, Code: t.Code}
				switch t.Match {
				case search.TokenCode:
					m.AnySystem = true
				case search.TokenNoSystem:
					m.System = ""
				}
				f.Types = append(f.Types, m)
			}
		case "date", "_lastUpdated":
			if len(c.Dates) != 1 {
				return f, apperr.New(apperr.Invalid, "DocumentReference %s takes one value per parameter (repeat the parameter for a range)", c.Param)
			}
			if c.Param == "date" {
				f.Dates = append(f.Dates, c.Dates[0].Bound())
			} else {
				f.Updated = append(f.Updated, c.Dates[0].Bound())
			}
		}
	}
	return f, nil
}

// patientRefIDs returns the numeric Patient ids of a reference clause.
func patientRefIDs(c search.Clause) []int64 {
	out := []int64{}
	for _, ref := range c.References {
		if ref.Type != "" && ref.Type != "Patient" {
			continue
		}
		if id, err := strconv.ParseInt(ref.ID, 10, 64); err == nil && id > 0 {
			out = append(out, id)
		}
	}
	return out
}

// IntersectIDs keeps the ids in both sets, where nil means "no bound"
// (so the result is nil only when both are) and an empty set means none.
func IntersectIDs(a, b []int64) []int64 {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	out := []int64{}
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
