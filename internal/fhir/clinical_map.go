package fhir

import (
	"fmt"
	"strconv"
	"time"

	"ward/internal/clinical"
)

// ObservationFromClinical renders a stored observation as an R4
// Observation. The patient is the subject ("Patient/{id}"), the performer
// a Practitioner reference, each category coding its own CodeableConcept;
// references are relative when base is "" and absolute under base
// otherwise. meta carries the version and change time.
func ObservationFromClinical(o *clinical.Observation, base string) *Observation {
	out := &Observation{
		DomainResource: DomainResource{ID: formatID(o.ID), Meta: metaFor(o.Version, o.UpdatedAt)},
		Status:         o.Status,
		Code:           conceptOf(o.Code),
	}
	for _, c := range o.Category {
		out.Category = append(out.Category, conceptOf([]clinical.Coding{c}))
	}
	if o.PatientID != 0 {
		out.Subject = referenceTo(base, "Patient", o.PatientID)
	}
	out.EffectiveDateTime, out.EffectivePeriod = occurrenceOf(o.Effective)
	if !o.Issued.IsZero() {
		out.Issued = formatInstant(o.Issued)
	}
	if o.PerformerID != 0 {
		out.Performer = []Reference{*referenceTo(base, "Practitioner", o.PerformerID)}
	}
	v := o.Value
	switch v.Kind {
	case clinical.ValueQuantity:
		if q := v.Quantity; q != nil {
			out.ValueQuantity = &Quantity{Value: Decimal(q.Value), Unit: q.Unit, System: q.System, Code: q.Code}
		}
	case clinical.ValueConcept:
		cc := conceptOf(v.Concept)
		out.ValueCodeableConcept = &cc
	case clinical.ValueString:
		out.ValueString = v.String
	case clinical.ValueBoolean:
		out.ValueBoolean = boolPtr(v.Boolean)
	case clinical.ValueInteger:
		n := v.Integer
		out.ValueInteger = &n
	}
	return out
}

// ProcedureFromClinical renders a stored procedure as an R4 Procedure, with
// the same reference rules as ObservationFromClinical.
func ProcedureFromClinical(p *clinical.Procedure, base string) *Procedure {
	out := &Procedure{
		DomainResource: DomainResource{ID: formatID(p.ID), Meta: metaFor(p.Version, p.UpdatedAt)},
		Status:         p.Status,
	}
	if len(p.Code) > 0 {
		cc := conceptOf(p.Code)
		out.Code = &cc
	}
	if p.PatientID != 0 {
		out.Subject = *referenceTo(base, "Patient", p.PatientID)
	}
	out.PerformedDateTime, out.PerformedPeriod = occurrenceOf(p.Performed)
	if p.PerformerID != 0 {
		out.Performer = []ProcedurePerformer{{Actor: *referenceTo(base, "Practitioner", p.PerformerID)}}
	}
	return out
}

func conceptOf(cs []clinical.Coding) CodeableConcept {
	var cc CodeableConcept
	for _, c := range cs {
		cc.Coding = append(cc.Coding, Coding{System: c.System, Code: c.Code, Display: c.Display})
	}
	return cc
}

func occurrenceOf(o clinical.Occurrence) (string, *Period) {
	switch {
	case o.DateTime != nil:
		return formatInstant(*o.DateTime), nil
	case o.IsPeriod():
		p := &Period{}
		if o.Start != nil {
			p.Start = formatInstant(*o.Start)
		}
		if o.End != nil {
			p.End = formatInstant(*o.End)
		}
		return "", p
	default:
		return "", nil
	}
}

// element is one member of a resource that ward's clinical record has no
// place for: present says the client sent it.
type element struct {
	expr    string
	present bool
}

// refuseUnheld returns an Invalid FieldError for the first element present,
// so that nothing a client sends is silently dropped.
func refuseUnheld(what string, elems ...element) error {
	for _, e := range elems {
		if e.present {
			return invalidField(e.expr, "%s is not supported: ward's %s record has no place for it", e.expr, what)
		}
	}
	return nil
}

// domainElements are the DomainResource members ward refuses on clinical
// resources. meta is server-managed and text is narrative (derived from
// the data), so both are ignored rather than refused; language is
// likewise ignored.
func domainElements(typ string, r *DomainResource) []element {
	return []element{
		{typ + ".implicitRules", r.ImplicitRules != ""},
		{typ + ".contained", len(r.Contained) > 0},
		{typ + ".extension", len(r.Extension) > 0},
		{typ + ".modifierExtension", len(r.ModifierExtension) > 0},
	}
}

// ToClinicalObservation reads an Observation from a client into the
// clinical record's form (ID 0 when the body has no id; Version, CreatedBy
// and UpdatedAt are left for the service and store). subject must be a
// literal Patient/{id} reference and performer at most one Practitioner;
// value[x] may be a Quantity (without comparator), CodeableConcept,
// string, boolean or integer; effective[x] a dateTime, instant or Period.
// Any element the record cannot hold is refused with apperr Invalid and a
// FieldError naming it ("Observation.bodySite"), never dropped. Domain
// rules (required code, issued, a valid status...) are checked later by
// clinical.ValidateObservation. It reads
// references through ParseReferenceID against base, this server's FHIR base
// URL, so a reference to another server is refused.
func ToClinicalObservation(o *Observation, base string) (*clinical.Observation, error) {
	const typ = "Observation"
	if err := refuseUnheld("observation", append(domainElements(typ, &o.DomainResource),
		element{"Observation.identifier", len(o.Identifier) > 0},
		element{"Observation.basedOn", len(o.BasedOn) > 0},
		element{"Observation.partOf", len(o.PartOf) > 0},
		element{"Observation.focus", len(o.Focus) > 0},
		element{"Observation.encounter", o.Encounter != nil},
		element{"Observation.valueRange", o.ValueRange != nil},
		element{"Observation.valueRatio", o.ValueRatio != nil},
		element{"Observation.valueTime", o.ValueTime != ""},
		element{"Observation.valueDateTime", o.ValueDateTime != ""},
		element{"Observation.valuePeriod", o.ValuePeriod != nil},
		element{"Observation.dataAbsentReason", o.DataAbsentReason != nil},
		element{"Observation.interpretation", len(o.Interpretation) > 0},
		element{"Observation.note", len(o.Note) > 0},
		element{"Observation.bodySite", o.BodySite != nil},
		element{"Observation.method", o.Method != nil},
		element{"Observation.specimen", o.Specimen != nil},
		element{"Observation.device", o.Device != nil},
		element{"Observation.referenceRange", len(o.ReferenceRange) > 0},
		element{"Observation.hasMember", len(o.HasMember) > 0},
		element{"Observation.derivedFrom", len(o.DerivedFrom) > 0},
		element{"Observation.component", len(o.Component) > 0},
	)...); err != nil {
		return nil, err
	}
	out := &clinical.Observation{Status: o.Status}
	var err error
	if out.ID, err = resourceID(typ, o.ID); err != nil {
		return nil, err
	}
	if o.Status == "unknown" {
		// R4 allows it; ward's record keeps only the statuses it can act on.
		return nil, invalidField("Observation.status", "status %q is not supported", o.Status)
	}
	if o.Subject == nil {
		return nil, invalidField("Observation.subject", "Observation.subject is required (a Patient/{id} reference)")
	}
	if out.PatientID, err = ParseReferenceID(o.Subject, "Patient", "Observation.subject", base); err != nil {
		return nil, err
	}
	if out.Code, err = codingsFrom(&o.Code, "Observation.code"); err != nil {
		return nil, err
	}
	for i := range o.Category {
		cs, err := codingsFrom(&o.Category[i], fmt.Sprintf("Observation.category[%d]", i))
		if err != nil {
			return nil, err
		}
		out.Category = append(out.Category, cs...)
	}
	switch {
	case o.EffectiveInstant != "":
		t, err := parseInstant(o.EffectiveInstant, "Observation.effectiveInstant")
		if err != nil {
			return nil, err
		}
		out.Effective.DateTime = &t
	default:
		if out.Effective, err = occurrenceFrom(o.EffectiveDateTime, o.EffectivePeriod, "Observation.effective"); err != nil {
			return nil, err
		}
	}
	if o.Issued != "" {
		if out.Issued, err = parseInstant(o.Issued, "Observation.issued"); err != nil {
			return nil, err
		}
	}
	if out.PerformerID, err = performerFrom(o.Performer, "Observation.performer", base); err != nil {
		return nil, err
	}
	if out.Value, err = valueFrom(o); err != nil {
		return nil, err
	}
	return out, nil
}

func valueFrom(o *Observation) (clinical.Value, error) {
	switch {
	case o.ValueQuantity != nil:
		q := o.ValueQuantity
		if q.Comparator != "" {
			return clinical.Value{}, invalidField("Observation.valueQuantity.comparator", "a quantity comparator is not supported")
		}
		if q.Value == "" {
			return clinical.Value{}, invalidField("Observation.valueQuantity.value", "a quantity needs a value")
		}
		return clinical.Value{Kind: clinical.ValueQuantity, Quantity: &clinical.Quantity{
			Value: string(q.Value), Unit: q.Unit, System: q.System, Code: q.Code}}, nil
	case o.ValueCodeableConcept != nil:
		cs, err := codingsFrom(o.ValueCodeableConcept, "Observation.valueCodeableConcept")
		if err != nil {
			return clinical.Value{}, err
		}
		return clinical.Value{Kind: clinical.ValueConcept, Concept: cs}, nil
	case o.ValueString != "":
		return clinical.Value{Kind: clinical.ValueString, String: o.ValueString}, nil
	case o.ValueBoolean != nil:
		return clinical.Value{Kind: clinical.ValueBoolean, Boolean: *o.ValueBoolean}, nil
	case o.ValueInteger != nil:
		return clinical.Value{Kind: clinical.ValueInteger, Integer: *o.ValueInteger}, nil
	default:
		return clinical.Value{}, nil
	}
}

// ToClinicalProcedure reads a Procedure from a client, with the rules of
// ToClinicalObservation: subject Patient/{id}, at most one performer whose
// actor is a Practitioner, performed[x] a dateTime or Period (both
// required by the record, as is a code), anything else refused naming
// the element.
func ToClinicalProcedure(p *Procedure, base string) (*clinical.Procedure, error) {
	const typ = "Procedure"
	if err := refuseUnheld("procedure", append(domainElements(typ, &p.DomainResource),
		element{"Procedure.identifier", len(p.Identifier) > 0},
		element{"Procedure.instantiatesCanonical", len(p.InstantiatesCanonical) > 0},
		element{"Procedure.instantiatesUri", len(p.InstantiatesURI) > 0},
		element{"Procedure.basedOn", len(p.BasedOn) > 0},
		element{"Procedure.partOf", len(p.PartOf) > 0},
		element{"Procedure.statusReason", p.StatusReason != nil},
		element{"Procedure.category", p.Category != nil},
		element{"Procedure.encounter", p.Encounter != nil},
		element{"Procedure.performedString", p.PerformedString != ""},
		element{"Procedure.performedAge", p.PerformedAge != nil},
		element{"Procedure.performedRange", p.PerformedRange != nil},
		// ward records who entered it itself (the acting user).
		element{"Procedure.recorder", p.Recorder != nil},
		element{"Procedure.asserter", p.Asserter != nil},
		element{"Procedure.location", p.Location != nil},
		element{"Procedure.reasonCode", len(p.ReasonCode) > 0},
		element{"Procedure.reasonReference", len(p.ReasonReference) > 0},
		element{"Procedure.bodySite", len(p.BodySite) > 0},
		element{"Procedure.outcome", p.Outcome != nil},
		element{"Procedure.report", len(p.Report) > 0},
		element{"Procedure.complication", len(p.Complication) > 0},
		element{"Procedure.complicationDetail", len(p.ComplicationDetail) > 0},
		element{"Procedure.followUp", len(p.FollowUp) > 0},
		element{"Procedure.note", len(p.Note) > 0},
		element{"Procedure.usedReference", len(p.UsedReference) > 0},
		element{"Procedure.usedCode", len(p.UsedCode) > 0},
	)...); err != nil {
		return nil, err
	}
	out := &clinical.Procedure{Status: p.Status}
	var err error
	if out.ID, err = resourceID(typ, p.ID); err != nil {
		return nil, err
	}
	if out.PatientID, err = ParseReferenceID(&p.Subject, "Patient", "Procedure.subject", base); err != nil {
		return nil, err
	}
	if p.Code == nil {
		return nil, invalidField("Procedure.code", "Procedure.code is required (a %s coding)", clinical.SNOMEDSystem)
	}
	if out.Code, err = codingsFrom(p.Code, "Procedure.code"); err != nil {
		return nil, err
	}
	if p.PerformedDateTime == "" && p.PerformedPeriod == nil {
		return nil, invalidField("Procedure.performed[x]", "performedDateTime or performedPeriod is required")
	}
	if out.Performed, err = occurrenceFrom(p.PerformedDateTime, p.PerformedPeriod, "Procedure.performed"); err != nil {
		return nil, err
	}
	for i, pf := range p.Performer {
		expr := fmt.Sprintf("Procedure.performer[%d]", i)
		if i > 0 {
			return nil, invalidField(expr, "at most one performer is supported")
		}
		if pf.Function != nil {
			return nil, invalidField(expr+".function", "a performer function is not supported")
		}
		if pf.OnBehalfOf != nil {
			return nil, invalidField(expr+".onBehalfOf", "onBehalfOf is not supported")
		}
		if out.PerformerID, err = ParseReferenceID(&pf.Actor, "Practitioner", expr+".actor", base); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// resourceID reads a body's id: "" is 0 (not stored yet).
func resourceID(typ, id string) (int64, error) {
	if id == "" {
		return 0, nil
	}
	n, err := parseID(id)
	if err != nil {
		return 0, invalidField(typ+".id", "id must be a positive integer, got %q", clip(id))
	}
	return n, nil
}

// codingsFrom reads a CodeableConcept as the record's codings; text and
// the coding members the record has no place for are refused.
func codingsFrom(cc *CodeableConcept, expr string) ([]clinical.Coding, error) {
	if cc.Text != "" {
		return nil, invalidField(expr+".text", "%s.text is not supported; give codings", expr)
	}
	var out []clinical.Coding
	for i, c := range cc.Coding {
		ce := expr + ".coding[" + strconv.Itoa(i) + "]"
		if c.Version != "" {
			return nil, invalidField(ce+".version", "a coding version is not supported")
		}
		if c.UserSelected != nil {
			return nil, invalidField(ce+".userSelected", "userSelected is not supported")
		}
		if c.System == "" || c.Code == "" {
			return nil, invalidField(ce, "a coding needs both system and code")
		}
		out = append(out, clinical.Coding{System: c.System, Code: c.Code, Display: c.Display})
	}
	return out, nil
}

// occurrenceFrom reads a dateTime or a Period (the decoder has already
// refused both at once). A dateTime without a time is taken as the start
// of the period it names, in UTC (see ParseDateTime).
func occurrenceFrom(dateTime string, period *Period, expr string) (clinical.Occurrence, error) {
	var o clinical.Occurrence
	if dateTime != "" {
		t, err := parseDateTimeAt(dateTime, expr+"DateTime")
		if err != nil {
			return o, err
		}
		o.DateTime = &t
		return o, nil
	}
	if period == nil {
		return o, nil
	}
	if period.Start == "" && period.End == "" {
		return o, invalidField(expr+"Period", "a period needs a start or an end")
	}
	if period.Start != "" {
		t, err := parseDateTimeAt(period.Start, expr+"Period.start")
		if err != nil {
			return o, err
		}
		o.Start = &t
	}
	if period.End != "" {
		t, err := parseDateTimeAt(period.End, expr+"Period.end")
		if err != nil {
			return o, err
		}
		o.End = &t
	}
	return o, nil
}

func parseDateTimeAt(s, expr string) (time.Time, error) {
	t, err := ParseDateTime(s)
	if err != nil {
		return time.Time{}, invalidField(expr, "%q is not an R4 dateTime", clip(s))
	}
	return t.UTC(), nil
}

// parseInstant reads an R4 instant: a full timestamp with a zone.
func parseInstant(s, expr string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < 1 {
		return time.Time{}, invalidField(expr, "%q is not an R4 instant", clip(s))
	}
	return t.UTC(), nil
}

// performerFrom reads at most one Practitioner reference.
func performerFrom(refs []Reference, expr, base string) (int64, error) {
	if len(refs) > 1 {
		return 0, invalidField(expr+"[1]", "at most one performer is supported")
	}
	if len(refs) == 0 {
		return 0, nil
	}
	return ParseReferenceID(&refs[0], "Practitioner", expr+"[0]", base)
}
