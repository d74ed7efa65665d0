package fhir

import (
	"encoding/json"
	"errors"

	"ward/internal/apperr"
)

// OperationOutcome is the R4 OperationOutcome: how every FHIR error is
// reported to the client.
type OperationOutcome struct {
	DomainResource

	Issue []OperationOutcomeIssue `json:"issue"`
}

// OperationOutcomeIssue is one problem: its severity, an R4 issue-type code,
// a human-readable diagnostic and, where known, the elements it concerns.
type OperationOutcomeIssue struct {
	Severity    string           `json:"severity"` // fatal | error | warning | information
	Code        string           `json:"code"`
	Details     *CodeableConcept `json:"details,omitempty"`
	Diagnostics string           `json:"diagnostics,omitempty"`
	Location    []string         `json:"location,omitempty"`
	Expression  []string         `json:"expression,omitempty"`
}

// ResourceType returns "OperationOutcome".
func (OperationOutcome) ResourceType() string { return "OperationOutcome" }

// operationOutcomeWire is OperationOutcome without its JSON methods.
type operationOutcomeWire OperationOutcome

// MarshalJSON writes the resource with its resourceType first.
func (o OperationOutcome) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		operationOutcomeWire
	}{"OperationOutcome", operationOutcomeWire(o)})
}

// UnmarshalJSON decodes strictly (resourceType must be OperationOutcome).
func (o *OperationOutcome) UnmarshalJSON(data []byte) error {
	var w struct {
		ResourceType string `json:"resourceType"`
		operationOutcomeWire
	}
	if err := decodeStrict(data, "OperationOutcome", &w); err != nil {
		return err
	}
	*o = OperationOutcome(w.operationOutcomeWire)
	return nil
}

// NewOperationOutcome returns an outcome with one issue.
func NewOperationOutcome(severity, code, diagnostics string, expression ...string) *OperationOutcome {
	return &OperationOutcome{Issue: []OperationOutcomeIssue{{
		Severity: severity, Code: code, Diagnostics: diagnostics, Expression: expression,
	}}}
}

// OutcomeFromError reports err as an OperationOutcome: the apperr kind picks
// the R4 issue-type code, the diagnostics are apperr's safe message (never
// the cause of an internal error), and a FieldError in the chain fills
// expression.
func OutcomeFromError(err error) *OperationOutcome {
	var expr []string
	var fe *FieldError
	if errors.As(err, &fe) && fe.Expression != "" {
		expr = []string{fe.Expression}
	}
	return NewOperationOutcome("error", IssueCode(apperr.KindOf(err)), apperr.Message(err), expr...)
}

// IssueCode maps an apperr kind to the R4 issue-type code.
func IssueCode(k apperr.Kind) string {
	switch k {
	case apperr.Invalid:
		return "invalid"
	case apperr.NotFound:
		return "not-found"
	case apperr.Forbidden:
		return "forbidden"
	case apperr.Conflict:
		return "conflict"
	case apperr.Unauthenticated:
		return "login"
	case apperr.TooLarge:
		return "too-costly"
	case apperr.RateLimited:
		return "throttled"
	case apperr.Unavailable:
		return "transient"
	default:
		return "exception"
	}
}
