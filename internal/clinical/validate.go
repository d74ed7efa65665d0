package clinical

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"ward/internal/apperr"
)

// Bounds on what one resource may carry, so a single request cannot write
// an unbounded row.
const (
	MaxCodings     = 20
	MaxStringBytes = 4096
)

// decimalRE is FHIR's decimal.
var decimalRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// problems collects every validation problem, so the caller hears about all
// of them at once.
type problems []string

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, field+": "+fmt.Sprintf(format, args...))
}

func (p problems) err(what string) error {
	if len(p) == 0 {
		return nil
	}
	return apperr.New(apperr.Invalid, "invalid %s: %s", what, strings.Join(p, "; "))
}

func checkText(p *problems, field, s string) {
	if len(s) > MaxStringBytes {
		p.add(field, "longer than %d bytes", MaxStringBytes)
	}
	if !utf8.ValidString(s) {
		p.add(field, "not valid UTF-8")
	}
}

// checkCodings checks a list of codings; required says at least one.
func checkCodings(p *problems, field string, cs []Coding, required bool) {
	if required && len(cs) == 0 {
		p.add(field, "at least one coding is required")
	}
	if len(cs) > MaxCodings {
		p.add(field, "more than %d codings", MaxCodings)
		return
	}
	for i, c := range cs {
		f := fmt.Sprintf("%s[%d]", field, i)
		if strings.TrimSpace(c.System) == "" {
			p.add(f+".system", "required")
		}
		if strings.TrimSpace(c.Code) == "" {
			p.add(f+".code", "required")
		}
		checkText(p, f+".system", c.System)
		checkText(p, f+".code", c.Code)
		checkText(p, f+".display", c.Display)
	}
}

// checkOccurrence checks that o is one form (dateTime or period) with a
// period's end not before its start; required says it must be given.
func checkOccurrence(p *problems, field string, o Occurrence, required bool) {
	if o.IsZero() {
		if required {
			p.add(field, "a dateTime or a period is required")
		}
		return
	}
	if o.DateTime != nil && o.IsPeriod() {
		p.add(field, "give a dateTime or a period, not both")
	}
	if o.Start != nil && o.End != nil && o.End.Before(*o.Start) {
		p.add(field+".end", "before the period's start")
	}
}

// ValidateObservation returns apperr Invalid naming every bad field of o,
// or nil.
func ValidateObservation(o *Observation) error {
	var p problems
	checkHead(&p, o.Head(), ObservationStatuses)
	checkCodings(&p, "category", o.Category, false)
	checkValue(&p, o.Value)
	checkOccurrence(&p, "effective", o.Effective, false)
	if o.Issued.IsZero() {
		p.add("issued", "required")
	}
	checkPerformer(&p, o.PerformerID)
	return p.err("observation")
}

// checkHead checks what every record has first: its patient, a status of
// statuses and at least one coding.
func checkHead(p *problems, h Head, statuses []string) {
	if *h.PatientID <= 0 {
		p.add("patient", "required")
	}
	if !slices.Contains(statuses, *h.Status) {
		p.add("status", "must be one of %s", strings.Join(statuses, ", "))
	}
	checkCodings(p, "code", *h.Code, true)
}

// checkPerformer checks a record's optional performer.
func checkPerformer(p *problems, id int64) {
	if id < 0 {
		p.add("performer", "not a user id")
	}
}

func checkValue(p *problems, v Value) {
	var other bool // a field set that Kind does not name
	switch v.Kind {
	case ValueNone:
		other = v.Quantity != nil || v.Concept != nil || v.String != "" || v.Boolean || v.Integer != 0
	case ValueQuantity:
		if v.Quantity == nil {
			p.add("value.quantity", "required")
			break
		}
		q := v.Quantity
		if !decimalRE.MatchString(q.Value) {
			p.add("value.quantity.value", "not a decimal number")
		}
		if q.Code != "" && q.System == "" {
			p.add("value.quantity.system", "required when a code is given")
		}
		checkText(p, "value.quantity.unit", q.Unit)
		checkText(p, "value.quantity.system", q.System)
		checkText(p, "value.quantity.code", q.Code)
		other = v.Concept != nil || v.String != "" || v.Boolean || v.Integer != 0
	case ValueConcept:
		checkCodings(p, "value.concept", v.Concept, true)
		other = v.Quantity != nil || v.String != "" || v.Boolean || v.Integer != 0
	case ValueString:
		if v.String == "" {
			p.add("value.string", "required")
		}
		checkText(p, "value.string", v.String)
		other = v.Quantity != nil || v.Concept != nil || v.Boolean || v.Integer != 0
	case ValueBoolean:
		other = v.Quantity != nil || v.Concept != nil || v.String != "" || v.Integer != 0
	case ValueInteger:
		if v.Integer < -1<<31 || v.Integer > 1<<31-1 {
			p.add("value.integer", "outside FHIR's 32-bit integer range")
		}
		other = v.Quantity != nil || v.Concept != nil || v.String != "" || v.Boolean
	default:
		p.add("value.kind", "must be one of quantity, concept, string, boolean, integer or empty")
		return
	}
	if other {
		p.add("value", "holds more than the one %q form", v.Kind)
	}
}

// ValidateProcedure returns apperr Invalid naming every bad field of pr,
// or nil.
func ValidateProcedure(pr *Procedure) error {
	var p problems
	checkHead(&p, pr.Head(), ProcedureStatuses)
	if len(pr.Code) > 0 && !slices.ContainsFunc(pr.Code, func(c Coding) bool { return c.System == SNOMEDSystem }) {
		p.add("code", "needs a coding with system %s", SNOMEDSystem)
	}
	checkOccurrence(&p, "performed", pr.Performed, true)
	checkPerformer(&p, pr.PerformerID)
	return p.err("procedure")
}
