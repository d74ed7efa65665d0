package clinical

import (
	"slices"
	"time"

	"ward/internal/timerange"
)

// CodeMatchKind says which parts of a CodeMatch are compared, because
// "code in any system", "code with no system" and "any code of a system"
// are different questions (FHIR R4 token search, §3.1.1.4.10).
type CodeMatchKind int

// The four ways a coding can be matched; they mirror search.TokenMatch.
const (
	// CodeAnySystem matches Code in any system (or none).
	CodeAnySystem CodeMatchKind = iota + 1
	// CodeSystemAndCode matches System and Code both.
	CodeSystemAndCode
	// CodeNoSystem matches Code in a coding without a system.
	CodeNoSystem
	// CodeSystemOnly matches any code of System.
	CodeSystemOnly
)

// CodeMatch is one acceptable coding of a resource's code.
type CodeMatch struct {
	Match  CodeMatchKind
	System string // read by CodeSystemAndCode and CodeSystemOnly
	Code   string // read by all but CodeSystemOnly
}

// Matches reports whether c is a coding m accepts. An unknown Match
// accepts nothing, so a forgotten field narrows a search instead of
// widening it.
func (m CodeMatch) Matches(c Coding) bool {
	switch m.Match {
	case CodeAnySystem:
		return c.Code == m.Code
	case CodeSystemAndCode:
		return c.System == m.System && c.Code == m.Code
	case CodeNoSystem:
		return c.System == "" && c.Code == m.Code
	case CodeSystemOnly:
		return c.System == m.System
	default:
		return false
	}
}

// Filter selects live observations or procedures; every field that is set
// must hold. It is FHIR search without FHIR: internal/fhir translates a
// search.Query into one, and stores render it in their query language.
type Filter struct {
	// IDs are the resource ids to keep; nil is any id, a non-nil empty
	// slice none.
	IDs []int64
	// PatientIDs are the patients whose record is searched; nil is every
	// patient, a non-nil empty slice none.
	PatientIDs []int64
	// Codes are ANDed lists of ORed matches: a resource is kept when, for
	// every list, one of its codings matches one entry. An empty list
	// matches nothing.
	Codes [][]CodeMatch
	// Dates must all hold against the resource's clinical time (see
	// ObservationRange and ProcedureRange).
	Dates []timerange.Bound
	// Updated must all hold against UpdatedAt (FHIR _lastUpdated, and a
	// bulk export's _since as a "ge" bound).
	Updated []timerange.Bound
	// Now is the time "ap" bounds are measured from; zero means the
	// store's clock.
	Now time.Time
}

// NoneMatch reports whether f can match nothing whatever is stored (an
// empty id or patient set, or an empty code list), so a caller can skip
// the query.
func (f Filter) NoneMatch() bool {
	if f.IDs != nil && len(f.IDs) == 0 || f.PatientIDs != nil && len(f.PatientIDs) == 0 {
		return true
	}
	for _, or := range f.Codes {
		if len(or) == 0 {
			return true
		}
	}
	return false
}

// occurrenceRange is the stored range [lo, hi) of an occurrence: an
// instant is one microsecond wide (the stores' precision); a period's end
// is inclusive, so hi is one microsecond past it; a missing end is zero
// (open). ok is false for the zero occurrence.
func occurrenceRange(o Occurrence) (lo, hi time.Time, ok bool) {
	switch {
	case o.DateTime != nil:
		lo, hi = timerange.Instant(*o.DateTime)
		return lo, hi, true
	case o.IsPeriod():
		if o.Start != nil {
			lo = *o.Start
		}
		if o.End != nil {
			hi = o.End.Add(time.Microsecond)
		}
		return lo, hi, true
	default:
		return time.Time{}, time.Time{}, false
	}
}

// ObservationRange is the range an observation's date search reads:
// effective (a dateTime or a period, either end of which may be open),
// else the issued instant. A zero end is open.
func ObservationRange(o *Observation) (lo, hi time.Time) {
	if lo, hi, ok := occurrenceRange(o.Effective); ok {
		return lo, hi
	}
	return timerange.Instant(o.Issued)
}

// ProcedureRange is the range a procedure's date search reads: performed.
func ProcedureRange(p *Procedure) (lo, hi time.Time) {
	lo, hi, _ = occurrenceRange(p.Performed)
	return lo, hi
}

// MatchesObservation reports whether f keeps o. It is the reference the
// stores are tested against and what in-memory fakes use; now is read
// only when f.Now is zero.
func (f Filter) MatchesObservation(o *Observation, now time.Time) bool {
	lo, hi := ObservationRange(o)
	return !o.Deleted() && f.matches(o.ID, o.PatientID, o.Code, lo, hi, o.UpdatedAt, now)
}

// MatchesProcedure is MatchesObservation for procedures.
func (f Filter) MatchesProcedure(p *Procedure, now time.Time) bool {
	lo, hi := ProcedureRange(p)
	return !p.Deleted() && f.matches(p.ID, p.PatientID, p.Code, lo, hi, p.UpdatedAt, now)
}

func (f Filter) matches(id, patient int64, codes []Coding, lo, hi, updated, now time.Time) bool {
	if !f.Now.IsZero() {
		now = f.Now
	}
	if f.IDs != nil && !slices.Contains(f.IDs, id) {
		return false
	}
	if f.PatientIDs != nil && !slices.Contains(f.PatientIDs, patient) {
		return false
	}
	for _, or := range f.Codes {
		if !slices.ContainsFunc(codes, func(c Coding) bool {
			return slices.ContainsFunc(or, func(m CodeMatch) bool { return m.Matches(c) })
		}) {
			return false
		}
	}
	for _, b := range f.Dates {
		if !b.Matches(lo, hi, now) {
			return false
		}
	}
	ulo, uhi := timerange.Instant(updated)
	for _, b := range f.Updated {
		if !b.Matches(ulo, uhi, now) {
			return false
		}
	}
	return true
}
