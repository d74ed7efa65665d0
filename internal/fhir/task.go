package fhir

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Task is the R4 Task resource, as ward keeps workflow records (seed 002):
// a submitted declaration whose businessStatus moves through the workflow
// (internal/workflow). input and output carry the common value[x]
// variants; a Task using another variant is refused as an unknown field.
type Task struct {
	DomainResource

	Identifier            []Identifier      `json:"identifier,omitempty"`
	InstantiatesCanonical string            `json:"instantiatesCanonical,omitempty"`
	InstantiatesURI       string            `json:"instantiatesUri,omitempty"`
	BasedOn               []Reference       `json:"basedOn,omitempty"`
	GroupIdentifier       *Identifier       `json:"groupIdentifier,omitempty"`
	PartOf                []Reference       `json:"partOf,omitempty"`
	Status                string            `json:"status"`
	StatusReason          *CodeableConcept  `json:"statusReason,omitempty"`
	BusinessStatus        *CodeableConcept  `json:"businessStatus,omitempty"`
	Intent                string            `json:"intent"`
	Priority              string            `json:"priority,omitempty"`
	Code                  *CodeableConcept  `json:"code,omitempty"`
	Description           string            `json:"description,omitempty"`
	Focus                 *Reference        `json:"focus,omitempty"`
	For                   *Reference        `json:"for,omitempty"`
	Encounter             *Reference        `json:"encounter,omitempty"`
	ExecutionPeriod       *Period           `json:"executionPeriod,omitempty"`
	AuthoredOn            string            `json:"authoredOn,omitempty"`
	LastModified          string            `json:"lastModified,omitempty"`
	Requester             *Reference        `json:"requester,omitempty"`
	PerformerType         []CodeableConcept `json:"performerType,omitempty"`
	Owner                 *Reference        `json:"owner,omitempty"`
	Location              *Reference        `json:"location,omitempty"`
	ReasonCode            *CodeableConcept  `json:"reasonCode,omitempty"`
	ReasonReference       *Reference        `json:"reasonReference,omitempty"`
	Insurance             []Reference       `json:"insurance,omitempty"`
	Note                  []Annotation      `json:"note,omitempty"`
	RelevantHistory       []Reference       `json:"relevantHistory,omitempty"`
	Restriction           *TaskRestriction  `json:"restriction,omitempty"`
	Input                 []TaskParameter   `json:"input,omitempty"`
	Output                []TaskParameter   `json:"output,omitempty"`
}

// TaskRestriction limits how the task is fulfilled.
type TaskRestriction struct {
	Repetitions *int64      `json:"repetitions,omitempty"`
	Period      *Period     `json:"period,omitempty"`
	Recipient   []Reference `json:"recipient,omitempty"`
}

// TaskParameter is one Task.input or Task.output: a type and one value.
type TaskParameter struct {
	ID                   string           `json:"id,omitempty"`
	Extension            []Extension      `json:"extension,omitempty"`
	Type                 CodeableConcept  `json:"type"`
	ValueString          string           `json:"valueString,omitempty"`
	ValueBoolean         *bool            `json:"valueBoolean,omitempty"`
	ValueInteger         *int64           `json:"valueInteger,omitempty"`
	ValueDecimal         *Decimal         `json:"valueDecimal,omitempty"`
	ValueDate            string           `json:"valueDate,omitempty"`
	ValueDateTime        string           `json:"valueDateTime,omitempty"`
	ValueCode            string           `json:"valueCode,omitempty"`
	ValueURI             string           `json:"valueUri,omitempty"`
	ValueIdentifier      *Identifier      `json:"valueIdentifier,omitempty"`
	ValueReference       *Reference       `json:"valueReference,omitempty"`
	ValueCodeableConcept *CodeableConcept `json:"valueCodeableConcept,omitempty"`
	ValueCoding          *Coding          `json:"valueCoding,omitempty"`
	ValueHumanName       *HumanName       `json:"valueHumanName,omitempty"`
	ValueAddress         *Address         `json:"valueAddress,omitempty"`
	ValueContactPoint    *ContactPoint    `json:"valueContactPoint,omitempty"`
	ValuePeriod          *Period          `json:"valuePeriod,omitempty"`
	ValueQuantity        *Quantity        `json:"valueQuantity,omitempty"`
	ValueAttachment      *Attachment      `json:"valueAttachment,omitempty"`
}

func (p TaskParameter) values() []choice {
	return []choice{
		{"valueString", p.ValueString != ""}, {"valueBoolean", p.ValueBoolean != nil},
		{"valueInteger", p.ValueInteger != nil}, {"valueDecimal", p.ValueDecimal != nil},
		{"valueDate", p.ValueDate != ""}, {"valueDateTime", p.ValueDateTime != ""},
		{"valueCode", p.ValueCode != ""}, {"valueUri", p.ValueURI != ""},
		{"valueIdentifier", p.ValueIdentifier != nil}, {"valueReference", p.ValueReference != nil},
		{"valueCodeableConcept", p.ValueCodeableConcept != nil}, {"valueCoding", p.ValueCoding != nil},
		{"valueHumanName", p.ValueHumanName != nil}, {"valueAddress", p.ValueAddress != nil},
		{"valueContactPoint", p.ValueContactPoint != nil}, {"valuePeriod", p.ValuePeriod != nil},
		{"valueQuantity", p.ValueQuantity != nil}, {"valueAttachment", p.ValueAttachment != nil},
	}
}

// TaskStatuses are R4's Task.status codes (a required binding).
var TaskStatuses = []string{"draft", "requested", "received", "accepted", "rejected", "ready", "cancelled",
	"in-progress", "on-hold", "failed", "completed", "entered-in-error"}

// TaskIntents are R4's Task.intent codes (a required binding).
var TaskIntents = []string{"unknown", "proposal", "plan", "order", "original-order", "reflex-order",
	"filler-order", "instance-order", "option"}

// taskPriorities are R4's request-priority codes.
var taskPriorities = []string{"routine", "urgent", "asap", "stat"}

// SystemTaskBusinessStatus is ward's code system for Task.businessStatus:
// submitted, validated, registered, certified, issued, rejected.
const SystemTaskBusinessStatus = "https://ward.example/fhir/CodeSystem/task-business-status"

// OperationTaskPrefix is the canonical prefix of ward's Task workflow
// operations ($register is OperationTaskPrefix + "register").
const OperationTaskPrefix = "https://ward.example/fhir/OperationDefinition/Task-"

// ResourceType returns "Task".
func (Task) ResourceType() string { return "Task" }

type taskWire Task

// MarshalJSON writes the resource with its resourceType first.
func (t Task) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		taskWire
	}{"Task", taskWire(t)})
}

// UnmarshalJSON decodes strictly, as DecodeTask does.
func (t *Task) UnmarshalJSON(data []byte) error {
	d, err := DecodeTask(data)
	if err != nil {
		return err
	}
	*t = *d
	return nil
}

// DecodeTask decodes a Task strictly (unknown or misspelt members, wrong
// types and trailing data are refused) and checks what the JSON Schema
// does not: status, intent and priority, when given, from their required
// bindings; dates that parse; each input and output with a type and
// exactly one value. That status and intent are present (R4 1..1) is
// CheckTask's, as with the other resources, whose decoders read what was
// sent and leave what a use case requires to the use case.
func DecodeTask(data []byte) (*Task, error) {
	var w struct {
		ResourceType string `json:"resourceType"`
		taskWire
	}
	if err := decodeStrict(data, "Task", &w); err != nil {
		return nil, err
	}
	t := Task(w.taskWire)
	if t.Status != "" && !slices.Contains(TaskStatuses, t.Status) {
		return nil, invalidField("Task.status", "Task.status %q is not an R4 task status (one of %s)", clip(t.Status), strings.Join(TaskStatuses, ", "))
	}
	if t.Intent != "" && !slices.Contains(TaskIntents, t.Intent) {
		return nil, invalidField("Task.intent", "Task.intent %q is not an R4 task intent (one of %s)", clip(t.Intent), strings.Join(TaskIntents, ", "))
	}
	if t.Priority != "" && !slices.Contains(taskPriorities, t.Priority) {
		return nil, invalidField("Task.priority", "Task.priority must be routine, urgent, asap or stat")
	}
	if r := t.Restriction; r != nil && r.Repetitions != nil && *r.Repetitions < 1 {
		// positiveInt; the JSON Schema gives it only a pattern.
		return nil, invalidField("Task.restriction.repetitions", "Task.restriction.repetitions must be a positive integer")
	}
	for expr, v := range map[string]string{"Task.authoredOn": t.AuthoredOn, "Task.lastModified": t.LastModified} {
		if v != "" {
			if _, err := parseDateTimeAt(v, expr); err != nil {
				return nil, err
			}
		}
	}
	for _, list := range []struct {
		name   string
		params []TaskParameter
	}{{"Task.input", t.Input}, {"Task.output", t.Output}} {
		for i, p := range list.params {
			expr := fmt.Sprintf("%s[%d]", list.name, i)
			if len(p.Type.Coding) == 0 && p.Type.Text == "" {
				return nil, invalidField(expr+".type", "%s.type is required", expr)
			}
			vs := p.values()
			if err := checkChoice(expr+".value[x]", vs...); err != nil {
				return nil, err
			}
			if !slices.ContainsFunc(vs, func(c choice) bool { return c.set }) {
				return nil, invalidField(expr+".value[x]", "%s needs a value (valueString, valueReference, …)", expr)
			}
			for name, v := range map[string]string{".valueDate": p.ValueDate, ".valueDateTime": p.ValueDateTime} {
				if v != "" {
					if _, err := parseDateTimeAt(v, expr+name); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	return &t, nil
}

// CheckTask refuses a Task without the elements R4 requires of every Task
// (status and intent, 1..1), naming the missing one.
func CheckTask(t *Task) error {
	if t.Status == "" {
		return invalidField("Task.status", "Task.status is required (one of %s)", strings.Join(TaskStatuses, ", "))
	}
	if t.Intent == "" {
		return invalidField("Task.intent", "Task.intent is required (one of %s)", strings.Join(TaskIntents, ", "))
	}
	return nil
}

// StripManaged clears the elements ward manages on a stored Task (id,
// meta, status, businessStatus, statusReason, lastModified): they are
// rendered from the workflow's columns, never taken from a client.
func (t *Task) StripManaged() {
	t.ID, t.Meta, t.Status, t.BusinessStatus, t.StatusReason, t.LastModified = "", nil, "", nil, nil, ""
}

// StoredTask reads a Task ward stored (already checked when it was
// submitted, without its managed elements), so it is decoded as is.
func StoredTask(data []byte) (*Task, error) {
	var w taskWire
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("fhir: stored Task: %w", err)
	}
	t := Task(w)
	return &t, nil
}

// taskActionParameters is the Parameters body a workflow operation takes:
// an optional reason as valueString.
type taskActionParameters struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id,omitempty"`
	Meta         *Meta  `json:"meta,omitempty"`
	Parameter    []struct {
		Name        string `json:"name"`
		ValueString string `json:"valueString,omitempty"`
	} `json:"parameter,omitempty"`
}

// DecodeTaskActionReason reads the Parameters body of a Task workflow
// operation ($register, $reject…): at most one parameter, named reason,
// with a valueString. Anything else is Invalid.
func DecodeTaskActionReason(data []byte) (string, error) {
	var p taskActionParameters
	if err := decodeStrict(data, "Parameters", &p); err != nil {
		return "", err
	}
	reason := ""
	for i, pp := range p.Parameter {
		expr := fmt.Sprintf("Parameters.parameter[%d]", i)
		if pp.Name != "reason" {
			return "", invalidField(expr+".name", "the only parameter is reason (valueString), got %q", clip(pp.Name))
		}
		if reason != "" {
			return "", invalidField(expr, "reason is given more than once")
		}
		if pp.ValueString == "" {
			return "", invalidField(expr+".valueString", "reason needs a valueString")
		}
		reason = pp.ValueString
	}
	return reason, nil
}
