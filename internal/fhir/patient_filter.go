package fhir

import (
	"slices"
	"strconv"

	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/fhir/search"
	"ward/internal/timerange"
)

// PatientFilter translates a checked Patient search into the directory's
// UserFilter: the patient role is implied, and _id, _lastUpdated,
// identifier, name, birthdate, organization and gender become the matching
// fields. Repeated parameters are ANDed and comma-separated values ORed, as
// R4 says, except that a date parameter takes one value per occurrence
// (repeat it to AND): an OR of date ranges is refused with an Invalid error
// naming the parameter, rather than answered wrongly. Values that no stored
// patient can hold (an _id that is not a number, an identifier with no
// system, "|male") simply match nobody. It does not check who may see the
// result; the directory's SearchUsers does.
func PatientFilter(q search.Query) (directory.UserFilter, error) {
	if q.ResourceType != "Patient" {
		return directory.UserFilter{}, apperr.New(apperr.Internal, "PatientFilter given a %s search", q.ResourceType)
	}
	f := directory.UserFilter{Role: directory.RolePatient}
	for _, c := range q.Clauses {
		handled, err := commonUserClause(&f, c)
		if err != nil {
			return directory.UserFilter{}, err
		}
		if handled {
			continue
		}
		switch c.Param {
		case "birthdate":
			b, err := oneDate(c)
			if err != nil {
				return directory.UserFilter{}, err
			}
			f.BirthDate = append(f.BirthDate, b)
		case "organization":
			orgs := []int64{}
			for _, r := range c.References {
				if id, ok := positiveID(r.ID); ok && (r.Type == "" || r.Type == "Organization") {
					orgs = append(orgs, id)
				}
			}
			f.Organizations = append(f.Organizations, orgs)
		case "gender":
			f.Genders = intersectOrSet(f.Genders, genders(c.Tokens))
		default:
			return directory.UserFilter{}, unsupported(c)
		}
	}
	return f, nil
}

// PractitionerFilter translates a checked Practitioner search: the users
// holding a practitioner role (directory.PractitionerRoles), matched by
// _id, _lastUpdated, identifier and name with PatientFilter's rules.
func PractitionerFilter(q search.Query) (directory.UserFilter, error) {
	if q.ResourceType != "Practitioner" {
		return directory.UserFilter{}, apperr.New(apperr.Internal, "PractitionerFilter given a %s search", q.ResourceType)
	}
	f := directory.UserFilter{Roles: directory.PractitionerRoles()}
	for _, c := range q.Clauses {
		handled, err := commonUserClause(&f, c)
		if err != nil {
			return directory.UserFilter{}, err
		}
		if !handled {
			return directory.UserFilter{}, unsupported(c)
		}
	}
	return f, nil
}

// commonUserClause applies the parameters Patient and Practitioner share;
// handled is false for any other parameter.
func commonUserClause(f *directory.UserFilter, c search.Clause) (handled bool, err error) {
	switch c.Param {
	case "_id":
		ids := []int64{}
		for _, t := range c.Tokens {
			if id, ok := positiveID(t.Code); ok {
				ids = append(ids, id)
			}
		}
		f.IDs = intersectOrSetIDs(f.IDs, ids)
	case "_lastUpdated":
		b, err := oneDate(c)
		if err != nil {
			return true, err
		}
		f.Updated = append(f.Updated, b)
	case "identifier":
		clause := []directory.Identifier{}
		for _, t := range c.Tokens {
			switch t.Match {
			case search.TokenSystemAndCode:
				clause = append(clause, directory.Identifier{System: t.System, Value: t.Code})
			case search.TokenCode:
				clause = append(clause, directory.Identifier{Value: t.Code})
			case search.TokenSystemOnly:
				clause = append(clause, directory.Identifier{System: t.System})
			case search.TokenNoSystem:
				// Every stored identifier has a system: "|value" matches none.
			}
		}
		f.Identifiers = append(f.Identifiers, clause)
	case "name":
		n := directory.NameClause{Values: slices.Clone(c.Strings)}
		switch c.Modifier {
		case search.ModifierExact:
			n.Match = directory.NameExact
		case search.ModifierContains:
			n.Match = directory.NameContains
		}
		f.Names = append(f.Names, n)
	default:
		return false, nil
	}
	return true, nil
}

// oneDate returns the clause's only date as a bound; several values (an OR
// of ranges) are refused, naming the parameter as search.Parse would.
func oneDate(c search.Clause) (timerange.Bound, error) {
	if len(c.Dates) != 1 {
		l := search.IssueList{{Param: c.Param,
			Reason: "takes one date per occurrence; repeat the parameter to combine ranges"}}
		return timerange.Bound{}, apperr.Wrap(apperr.Invalid, l, "invalid search: %s", l.Error())
	}
	return c.Dates[0].Bound(), nil
}

// unsupported is a clause search.Parse accepted that the translation does
// not know: a table out of step with this file, so a server fault.
func unsupported(c search.Clause) error {
	return apperr.New(apperr.Internal, "search parameter %q is not translated to a directory filter", c.Param)
}

// positiveID reads a FHIR id as a stored (positive) row id.
func positiveID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0 && strconv.FormatInt(id, 10) == s
}

// genders returns the administrative genders the tokens match.
func genders(tokens []search.Token) []string {
	out := []string{}
	for _, t := range tokens {
		switch t.Match {
		case search.TokenCode, search.TokenSystemAndCode:
			out = append(out, t.Code)
		case search.TokenSystemOnly:
			// Any gender at all: a patient whose gender is recorded.
			out = append(out, "male", "female", "other", "unknown")
		}
	}
	return out
}

// intersectOrSet ANDs an any-of set into the accumulated one (nil: none yet).
func intersectOrSet(acc, next []string) []string {
	if acc == nil {
		return next
	}
	return slices.DeleteFunc(acc, func(s string) bool { return !slices.Contains(next, s) })
}

func intersectOrSetIDs(acc, next []int64) []int64 {
	if acc == nil {
		return next
	}
	return slices.DeleteFunc(acc, func(id int64) bool { return !slices.Contains(next, id) })
}
