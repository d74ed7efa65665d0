package clinical

import "time"

// Coding is a FHIR Coding (system + code + display).
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// SNOMEDSystem is the code system every Procedure code must come from
// (seed 001: "coding.system is required to be http://snomed.info/sct").
const SNOMEDSystem = "http://snomed.info/sct"

// Occurrence is when something happened: either a single DateTime or a
// Period (Start, End, either of which may be open). Exactly one form is set
// on a valid Occurrence; the zero Occurrence means "not given".
type Occurrence struct {
	DateTime *time.Time
	Start    *time.Time
	End      *time.Time
}

// IsZero reports whether no time is given.
func (o Occurrence) IsZero() bool { return o.DateTime == nil && o.Start == nil && o.End == nil }

// IsPeriod reports whether the occurrence is a period.
func (o Occurrence) IsPeriod() bool { return o.Start != nil || o.End != nil }

// ValueKind says which of Value's forms is set.
type ValueKind string

// Value kinds (FHIR Observation.value[x] as ward supports it).
const (
	ValueNone     ValueKind = ""
	ValueQuantity ValueKind = "quantity"
	ValueConcept  ValueKind = "concept"
	ValueString   ValueKind = "string"
	ValueBoolean  ValueKind = "boolean"
	ValueInteger  ValueKind = "integer"
)

// Quantity is a FHIR Quantity. Value is the decimal exactly as given (for
// example "5.10"), so trailing zeros and precision survive a round trip.
type Quantity struct {
	Value  string `json:"value"`
	Unit   string `json:"unit,omitempty"`
	System string `json:"system,omitempty"`
	Code   string `json:"code,omitempty"`
}

// Value is an Observation's value: the field named by Kind is the value and
// every other field is zero. Kind ValueNone means no value.
type Value struct {
	Kind     ValueKind `json:"kind,omitempty"`
	Quantity *Quantity `json:"quantity,omitempty"`
	Concept  []Coding  `json:"concept,omitempty"`
	String   string    `json:"string,omitempty"`
	Boolean  bool      `json:"boolean,omitempty"`
	Integer  int64     `json:"integer,omitempty"`
}

// Observation statuses (FHIR R4 observation-status).
const (
	ObsRegistered     = "registered"
	ObsPreliminary    = "preliminary"
	ObsFinal          = "final"
	ObsAmended        = "amended"
	ObsCorrected      = "corrected"
	ObsCancelled      = "cancelled"
	ObsEnteredInError = "entered-in-error"
)

// ObservationStatuses lists every valid Observation status.
var ObservationStatuses = []string{ObsRegistered, ObsPreliminary, ObsFinal, ObsAmended,
	ObsCorrected, ObsCancelled, ObsEnteredInError}

// Observation is one measurement or assertion about a patient (a directory
// user). History is kept as separate observations: the newest Issued wins.
type Observation struct {
	ID          int64
	PatientID   int64
	Status      string
	Code        []Coding // one or more codings of the same concept
	Category    []Coding
	Value       Value
	Effective   Occurrence // optional
	Issued      time.Time
	PerformerID int64 // a directory user, 0 when none
	CreatedBy   int64 // the user who recorded it, 0 for ward itself
	UpdatedAt   time.Time
	Version     int64      // incremented on every change; FHIR meta.versionId
	DeletedAt   *time.Time // soft delete
}

// Deleted reports whether the observation has been soft-deleted.
func (o *Observation) Deleted() bool { return o.DeletedAt != nil }

// Procedure statuses (FHIR R4 event-status).
const (
	ProcPreparation    = "preparation"
	ProcInProgress     = "in-progress"
	ProcNotDone        = "not-done"
	ProcOnHold         = "on-hold"
	ProcStopped        = "stopped"
	ProcCompleted      = "completed"
	ProcEnteredInError = "entered-in-error"
	ProcUnknown        = "unknown"
)

// ProcedureStatuses lists every valid Procedure status.
var ProcedureStatuses = []string{ProcPreparation, ProcInProgress, ProcNotDone, ProcOnHold,
	ProcStopped, ProcCompleted, ProcEnteredInError, ProcUnknown}

// Procedure is something done to a patient (seed 001: a SNOMED CT code and
// when it was performed, such as the start of a treatment).
type Procedure struct {
	ID          int64
	PatientID   int64
	Status      string
	Code        []Coding   // at least one coding from SNOMEDSystem
	Performed   Occurrence // required
	PerformerID int64      // a directory user, 0 when none
	CreatedBy   int64
	UpdatedAt   time.Time
	Version     int64
	DeletedAt   *time.Time
}

// Deleted reports whether the procedure has been soft-deleted.
func (p *Procedure) Deleted() bool { return p.DeletedAt != nil }
