package search

import (
	"time"

	"ward/internal/timerange"
)

// Query is a checked search: what to match, how many, in which order, from
// where. The zero values of Count, Summary, Sort and Cursor mean "not asked",
// so the caller applies its own defaults.
type Query struct {
	// ResourceType is the type searched, as given to Parse.
	ResourceType string
	// Clauses are ANDed. They are sorted by Param, then by the order the
	// values came in, so equal queries give equal Clauses whatever the map
	// order of url.Values.
	Clauses []Clause
	// Count is _count, from 1 to MaxCount, or 0 when absent.
	Count int
	// Summary is _summary.
	Summary Summary
	// Sort is _sort, in priority order; nil means the caller's default order.
	Sort []SortKey
	// Cursor is _cursor, the opaque paging position the server handed out in
	// a previous Bundle link; "" is the first page. It is checked only for
	// length and alphabet here: the store decodes (and refuses) it.
	Cursor string
}

// Modifier is a search modifier that ward understands (the part after ':').
// The :Type modifier of reference parameters is not a Modifier: it is folded
// into each Reference's Type.
type Modifier string

// The modifiers ward supports, on string parameters only.
const (
	// ModifierNone is plain string matching: case- and accent-insensitive,
	// at the start of the value (R4 §3.1.1.4.9).
	ModifierNone Modifier = ""
	// ModifierExact matches the whole value, case and accents included.
	ModifierExact Modifier = "exact"
	// ModifierContains matches anywhere in the value, case-insensitively.
	ModifierContains Modifier = "contains"
)

// Clause is one parameter occurrence: its values are ORed. Exactly one of the
// value slices is set, the one that matches Kind.
type Clause struct {
	// Param is the parameter code without its modifier ("name").
	Param string
	// Kind is the parameter's type.
	Kind Kind
	// Modifier is set only on string clauses.
	Modifier Modifier

	// Strings holds KindString values, unescaped.
	Strings []string
	// Tokens holds KindToken values. For _id each is TokenCode with the id
	// as Code, checked against the FHIR id syntax.
	Tokens []Token
	// References holds KindReference values.
	References []Reference
	// Dates holds KindDate values.
	Dates []Date
}

// TokenMatch says which parts of a token value were given, because "code"
// and "|code" mean different things (any system versus no system).
type TokenMatch int

// The four token forms of R4 §3.1.1.4.10.
const (
	// TokenCode is "code": the code in any system (or none).
	TokenCode TokenMatch = iota + 1
	// TokenSystemAndCode is "system|code".
	TokenSystemAndCode
	// TokenNoSystem is "|code": the code with no system at all.
	TokenNoSystem
	// TokenSystemOnly is "system|": any code in the system.
	TokenSystemOnly
)

// Token is one token value, unescaped.
type Token struct {
	Match  TokenMatch
	System string // set for TokenSystemAndCode and TokenSystemOnly
	Code   string // set for all but TokenSystemOnly
}

// Reference is one reference value: a local reference to Type/ID.
type Reference struct {
	// Type is the resource type referred to. Parse fills it from the value,
	// the :Type modifier, or the parameter's only target; it is "" only when
	// a bare id was given for a parameter with several targets.
	Type string
	// ID is the logical id, checked against the FHIR id syntax.
	ID string
}

// Prefix is a date comparison prefix (R4 §3.1.1.4.2 and .4.3).
type Prefix string

// The prefixes the R4 definitions allow on date parameters. The meaning of
// each against a Date's range is the spec's; the store applies it.
const (
	PrefixEq Prefix = "eq" // the resource's range lies within [Start, End)
	PrefixNe Prefix = "ne" // it does not
	PrefixGt Prefix = "gt" // it goes on after End
	PrefixLt Prefix = "lt" // it starts before Start
	PrefixGe Prefix = "ge" // gt or eq
	PrefixLe Prefix = "le" // lt or eq
	PrefixSa Prefix = "sa" // it starts after End
	PrefixEb Prefix = "eb" // it ends before Start
	PrefixAp Prefix = "ap" // approximately the same (the store picks the margin)
)

// Precision is how much of a date was given, which sets its implicit range.
type Precision int

// Precisions from coarsest to finest.
const (
	PrecisionYear Precision = iota + 1
	PrecisionMonth
	PrecisionDay
	PrecisionMinute
	PrecisionSecond
	PrecisionFraction // seconds with a fraction; the range is one unit of the last digit
)

// Date is one date value: a prefix and the half-open range [Start, End) the
// written value stands for. 2024 is [2024-01-01, 2025-01-01);
// 2024-03-01T10:00:00Z is [10:00:00, 10:00:01). Dates without a time are
// taken in UTC, because the spec leaves the zone to the server and replicas
// must agree; times always carry their own zone. Start and End are in UTC.
type Date struct {
	Prefix    Prefix // PrefixEq when none was written
	Start     time.Time
	End       time.Time
	Precision Precision
}

// Summary is the _summary parameter, of which ward supports two values.
type Summary int

// The _summary values.
const (
	// SummaryNone means _summary was absent.
	SummaryNone Summary = iota
	// SummaryFalse is _summary=false: whole resources (the default anyway).
	SummaryFalse
	// SummaryCount is _summary=count: only Bundle.total, no entries.
	SummaryCount
)

// SortKey is one _sort field.
type SortKey struct {
	Param      string // "_lastUpdated" or "_id"
	Descending bool
}

// Bound is d as the store-neutral range the stores match against.
func (d Date) Bound() timerange.Bound {
	return timerange.Bound{Prefix: timerange.Prefix(d.Prefix), Start: d.Start, End: d.End}
}
