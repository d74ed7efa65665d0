package search

import "slices"

// Kind is the FHIR search parameter type, which decides how a value is read.
type Kind int

// The kinds ward's parameters use. The zero value is not a kind, so a
// forgotten field in the table shows up in tests instead of parsing as string.
const (
	KindString Kind = iota + 1
	KindToken
	KindReference
	KindDate
)

// String gives the kind as the R4 SearchParameter.type code.
func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindToken:
		return "token"
	case KindReference:
		return "reference"
	case KindDate:
		return "date"
	default:
		return "unknown"
	}
}

// Param describes one search parameter ward understands on a resource type.
type Param struct {
	// Code is the name used in the query ("birthdate", "_lastUpdated").
	Code string
	// Kind is the R4 type of the parameter.
	Kind Kind
	// Targets are the resource types a reference parameter may point to. It
	// is a subset of the R4 targets: ward stores, for example, only patients
	// as the subject of an Observation, so Observation?subject=Group/1 is
	// refused rather than answered with an empty page that looks like "none".
	Targets []string
	// Ward marks a parameter that is not in the R4 definitions; it is ward's
	// own and is advertised as such in the CapabilityStatement.
	Ward bool

	// check, when set, refuses token values the element can never hold
	// (e.g. a gender outside administrative-gender), with the reason.
	check func(Token) string
}

// commonParams are the filter parameters every type accepts. The result
// parameters (_count, _sort, …) are handled apart because they do not filter.
var commonParams = []Param{
	{Code: "_id", Kind: KindToken},
	{Code: "_lastUpdated", Kind: KindDate},
}

var patientOnly = []string{"Patient"}

// typeParams is the per-type table. Kinds and targets follow
// search-parameters.json.gz (TestTableMatchesR4Definitions checks it).
var typeParams = map[string][]Param{
	"Patient": {
		{Code: "identifier", Kind: KindToken},
		{Code: "name", Kind: KindString},
		{Code: "birthdate", Kind: KindDate},
		{Code: "organization", Kind: KindReference, Targets: []string{"Organization"}},
		{Code: "gender", Kind: KindToken, check: checkGender},
	},
	"Organization": {
		{Code: "identifier", Kind: KindToken},
		{Code: "name", Kind: KindString},
		{Code: "partof", Kind: KindReference, Targets: []string{"Organization"}},
	},
	"Observation": {
		{Code: "patient", Kind: KindReference, Targets: patientOnly},
		{Code: "subject", Kind: KindReference, Targets: patientOnly},
		{Code: "code", Kind: KindToken},
		{Code: "date", Kind: KindDate},
	},
	"Procedure": {
		{Code: "patient", Kind: KindReference, Targets: patientOnly},
		{Code: "subject", Kind: KindReference, Targets: patientOnly},
		{Code: "code", Kind: KindToken},
		{Code: "date", Kind: KindDate},
	},
	"Group": {
		{Code: "type", Kind: KindToken},
		// R4 defines no Group name parameter; ward's groups are found by
		// name in the admin UI and the FHIR API alike.
		{Code: "name", Kind: KindString, Ward: true},
	},
	"Practitioner": {
		{Code: "identifier", Kind: KindToken},
		{Code: "name", Kind: KindString},
	},
	"Consent": {
		{Code: "patient", Kind: KindReference, Targets: patientOnly},
	},
	"AuditEvent": {
		{Code: "patient", Kind: KindReference, Targets: patientOnly},
		{Code: "date", Kind: KindDate},
		{Code: "subtype", Kind: KindToken},
	},
	"Task": {
		{Code: "patient", Kind: KindReference, Targets: patientOnly},
		{Code: "status", Kind: KindToken},
		{Code: "business-status", Kind: KindToken},
	},
	"DocumentReference": {
		{Code: "patient", Kind: KindReference, Targets: patientOnly},
		{Code: "subject", Kind: KindReference, Targets: patientOnly},
		{Code: "type", Kind: KindToken},
		{Code: "date", Kind: KindDate},
	},
}

// ResourceTypes lists the types Parse accepts, sorted.
func ResourceTypes() []string {
	out := make([]string, 0, len(typeParams))
	for t := range typeParams {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Params lists the filter parameters of resourceType (the common ones first),
// for the CapabilityStatement; nil when the type is not searchable. The
// result parameters (_count, _summary, _sort, _cursor) are not listed.
func Params(resourceType string) []Param {
	tp, ok := typeParams[resourceType]
	if !ok {
		return nil
	}
	out := make([]Param, 0, len(commonParams)+len(tp))
	out = append(out, commonParams...)
	for _, p := range tp {
		p.Targets = slices.Clone(p.Targets)
		out = append(out, p)
	}
	return out
}

// lookup finds the filter parameter code on resourceType.
func lookup(resourceType, code string) (Param, bool) {
	for _, p := range commonParams {
		if p.Code == code {
			return p, true
		}
	}
	for _, p := range typeParams[resourceType] {
		if p.Code == code {
			return p, true
		}
	}
	return Param{}, false
}

// AdministrativeGender is the code system of Patient.gender.
const AdministrativeGender = "http://hl7.org/fhir/administrative-gender"

// checkGender refuses what Patient.gender (a required binding) cannot hold,
// so a typo such as gender=mail is a 400, not a silently empty result.
func checkGender(t Token) string {
	if t.Match == TokenSystemAndCode || t.Match == TokenSystemOnly {
		if t.System != AdministrativeGender {
			return "gender is coded only in " + AdministrativeGender
		}
	}
	if t.Match == TokenSystemOnly {
		return ""
	}
	switch t.Code {
	case "male", "female", "other", "unknown":
		return ""
	}
	return "gender must be male, female, other or unknown"
}
