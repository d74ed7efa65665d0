package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/fhir"
	"ward/internal/fhir/policy"
	"ward/internal/fhir/search"
	"ward/internal/oauth/scope"
	"ward/internal/store"
	"ward/internal/workflow"
)

// Workflow is what the FHIR interface asks of the declarations' workflow
// (workflow.Service). It is called as ward itself once the policy has
// decided.
type Workflow interface {
	Create(ctx context.Context, d workflow.Declaration) (*workflow.Task, error)
	Get(ctx context.Context, id int64) (*workflow.Task, error)
	Search(ctx context.Context, f workflow.Filter, p store.Page) ([]*workflow.Task, string, error)
	Count(ctx context.Context, f workflow.Filter) (int, error)
	Act(ctx context.Context, id int64, action workflow.Action, reason string, check func(*workflow.Task) error) (*workflow.Task, error)
}

// TaskOperations are the workflow operations on a Task, by their FHIR
// operation name: POST /fhir/Task/{id}/$<name>, each guarded by the scope
// naming its action (system/Task.<action>). validate is spelt
// $validate-declaration because $validate is FHIR's own (resource
// validation).
var TaskOperations = []struct {
	Name   string
	Action workflow.Action
}{
	{"validate-declaration", workflow.Validate},
	{"register", workflow.Register},
	{"certify", workflow.Certify},
	{"issue", workflow.Issue},
	{"reject", workflow.Reject},
}

// taskType serves Task: the workflow's declarations. Creating one needs
// Task.c (system/Task.c, .write or .cruds); reading and searching Task.r
// and Task.s; each workflow step its own action scope (see DecideAction).
func (h *Handler) taskType() *resourceType {
	ops := make([]fhir.CapabilityStatementOperation, 0, len(TaskOperations))
	for _, op := range TaskOperations {
		ops = append(ops, fhir.CapabilityStatementOperation{Name: op.Name,
			Definition: fhir.OperationTaskPrefix + op.Name,
			Documentation: fmt.Sprintf("Moves a declaration %s -> %s; needs the scope system/Task.%s (or user/Task.%s). Body: optional Parameters with a reason (valueString).",
				orStatuses(workflow.Transitions[op.Action].From), workflow.Transitions[op.Action].To, op.Action, op.Action)})
	}
	return &resourceType{
		name: "Task",
		documentation: "Workflow records (seed 002): a submitted declaration whose businessStatus moves submitted -> validated -> registered -> certified -> issued, or rejected, " +
			"one operation per step, each guarded by its own scope and audited as task.status_changed. A self-submitted declaration may not name a known organization as its source.",
		read:       h.readTask,
		search:     h.searchTasks,
		create:     h.createTask,
		operations: h.mountTaskOperations,
		typeOps:    ops,
	}
}

func orStatuses(ss []workflow.BusinessStatus) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, "|")
}

// taskFound renders a stored declaration: the Task as submitted with the
// elements the workflow manages filled from the record.
func (h *Handler) taskFound(t *workflow.Task) (*found, error) {
	res, err := fhir.StoredTask(t.Resource)
	if err != nil {
		return nil, err
	}
	res.ID = formatID(t.ID)
	res.Meta = fhir.MetaFor(t.Version, t.UpdatedAt)
	res.Status = t.Status
	res.BusinessStatus = &fhir.CodeableConcept{Coding: []fhir.Coding{{System: fhir.SystemTaskBusinessStatus,
		Code: string(t.BusinessStatus)}}, Text: string(t.BusinessStatus)}
	res.StatusReason = nil
	if t.StatusReason != "" {
		res.StatusReason = &fhir.CodeableConcept{Text: t.StatusReason}
	}
	res.LastModified = t.UpdatedAt.UTC().Format("2006-01-02T15:04:05.999999Z07:00")
	f := &found{resource: res, id: res.ID, version: t.Version, updated: t.UpdatedAt}
	if t.PatientID != 0 {
		f.patients = []int64{t.PatientID}
	}
	return f, nil
}

// taskReach checks that g reaches the declaration for in: an admin grant
// reaches all; any other only those about a patient it reaches (a
// declaration about nobody ward knows is outside every compartment). It
// answers NotFound, never Forbidden, like the policy.
func (h *Handler) taskReach(ctx context.Context, g policy.Grant, t *workflow.Task, in policy.Interaction) error {
	if g.Admin {
		return nil
	}
	if t.PatientID == 0 {
		return apperr.New(apperr.NotFound, "Task/%d not found", t.ID)
	}
	return h.d.Policy.PatientAccess(ctx, g, t.PatientID, in)
}

func (h *Handler) readTask(ctx context.Context, g policy.Grant, raw string) (*found, error) {
	id, err := parseID("Task", raw)
	if err != nil {
		return nil, err
	}
	t, err := h.d.Workflow.Get(asWard(ctx), id)
	if err != nil {
		return nil, notFoundAs("Task", id, err)
	}
	if err := h.taskReach(ctx, g, t, policy.Read); err != nil {
		return nil, err
	}
	return h.taskFound(t)
}

func (h *Handler) searchTasks(ctx context.Context, g policy.Grant, q search.Query) (*page, error) {
	var f workflow.Filter
	for _, c := range q.Clauses {
		switch c.Param {
		case "_id":
			ids := []int64{}
			for _, t := range c.Tokens {
				if n, err := parseID("Task", t.Code); err == nil && t.Match == search.TokenCode {
					ids = append(ids, n)
				}
			}
			f.IDs = intersectIDs(f.IDs, ids)
		case "patient":
			f.PatientIDs = intersectIDs(f.PatientIDs, referenceIDs(c, "Patient"))
		case "status":
			var ss []string
			for _, t := range c.Tokens {
				if t.Match == search.TokenCode || t.Match == search.TokenSystemAndCode && t.System == "http://hl7.org/fhir/task-status" {
					ss = append(ss, t.Code)
				}
			}
			f.Statuses = intersectStrings(f.Statuses, ss)
		case "business-status":
			var ss []string
			for _, t := range c.Tokens {
				if t.Match == search.TokenCode || t.Match == search.TokenSystemAndCode && t.System == fhir.SystemTaskBusinessStatus {
					ss = append(ss, t.Code)
				}
			}
			bs := intersectStrings(toStrings(f.BusinessStatuses), ss)
			f.BusinessStatuses = make([]workflow.BusinessStatus, len(bs))
			for i, s := range bs {
				f.BusinessStatuses[i] = workflow.BusinessStatus(s)
			}
		case "_lastUpdated":
			for _, d := range c.Dates {
				f.Updated = append(f.Updated, d.Bound())
			}
		default:
			return nil, apperr.New(apperr.Invalid, "search parameter %q is not supported on Task", c.Param)
		}
	}
	var err error
	if f.PatientIDs, err = h.d.Policy.Patients(ctx, g, f.PatientIDs); err != nil {
		return nil, err
	}
	f.Now = h.d.Now()
	wctx := asWard(ctx)
	n, err := h.d.Workflow.Count(wctx, f)
	if err != nil {
		return nil, err
	}
	p := &page{total: intPtr(n)}
	if q.Summary == search.SummaryCount || f.NoneMatch() {
		return p, nil
	}
	ts, next, err := h.d.Workflow.Search(wctx, f, store.Page{Limit: q.Count, After: q.Cursor})
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		fd, err := h.taskFound(t)
		if err != nil {
			return nil, err
		}
		p.resources = append(p.resources, fd.resource)
		p.patients = append(p.patients, fd.patients...)
	}
	p.next = next
	return p, nil
}

func toStrings(bs []workflow.BusinessStatus) []string {
	if bs == nil {
		return nil
	}
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

// intersectIDs ANDs one clause's ids into the running set (nil: none yet);
// the result is non-nil once a clause was seen, so "nothing can match"
// stays distinct from "any".
func intersectIDs(cur, next []int64) []int64 {
	if next == nil {
		next = []int64{}
	}
	if cur == nil {
		return next
	}
	out := []int64{}
	for _, id := range next {
		for _, c := range cur {
			if c == id {
				out = append(out, id)
				break
			}
		}
	}
	return out
}

func intersectStrings(cur, next []string) []string {
	if next == nil {
		next = []string{}
	}
	if cur == nil {
		return next
	}
	out := []string{}
	for _, s := range next {
		for _, c := range cur {
			if c == s {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// createTask submits a declaration. The Task must be a valid R4 Task
// (status, intent), submitted with status requested and no businessStatus
// other than submitted (ward manages both from then on), and say whom it
// is about: a for, or inputs describing the person. A for naming a ward
// Patient must name one that exists; with a patient/ or non-admin user/
// grant the caller must reach that patient.
func (h *Handler) createTask(ctx context.Context, g policy.Grant, body []byte) (*found, error) {
	t, err := fhir.DecodeTask(body)
	if err != nil {
		return nil, err
	}
	if err := fhir.CheckTask(t); err != nil {
		return nil, err
	}
	if t.Status != "requested" {
		return nil, apperr.Wrap(apperr.Invalid, &fhir.FieldError{Expression: "Task.status"},
			"a declaration is submitted with Task.status requested (got %s); ward moves it through the workflow with the Task operations", t.Status)
	}
	if bs := t.BusinessStatus; bs != nil && !(len(bs.Coding) == 1 && bs.Coding[0].Code == string(workflow.Submitted) &&
		(bs.Coding[0].System == "" || bs.Coding[0].System == fhir.SystemTaskBusinessStatus)) {
		return nil, apperr.Wrap(apperr.Invalid, &fhir.FieldError{Expression: "Task.businessStatus"},
			"Task.businessStatus is ward's to set: leave it out (a new declaration is submitted)")
	}
	if !describesPerson(t) {
		return nil, apperr.Wrap(apperr.Invalid, &fhir.FieldError{Expression: "Task.for"},
			"a declaration must say whom it is about: give Task.for (a reference, identifier or name) or Task.input values describing the person")
	}
	d := workflow.Declaration{}
	if d.PatientID, err = h.taskPatient(ctx, t.For); err != nil {
		return nil, err
	}
	switch {
	case d.PatientID != 0:
		if err := h.d.Policy.PatientAccess(ctx, g, d.PatientID, policy.Create); err != nil {
			return nil, err
		}
	case g.Context == scope.ContextPatient:
		return nil, apperr.New(apperr.Forbidden, "with a patient/ scope a declaration is about the launch patient: Task.for must be Patient/%d", g.Patient)
	}
	d.Requester = referenceText(t.Requester)
	d.Source = referenceText(t.Owner)
	if d.Source == "" {
		d.Source = referenceText(t.Location)
	}
	d.RequesterIsSubject = requesterIsSubject(t, d.PatientID, actor.From(ctx).UserID, h.d.Base)
	d.Sources = h.taskSources(t)
	t.StripManaged()
	if d.Resource, err = json.Marshal(t); err != nil {
		return nil, fmt.Errorf("encode task: %w", err)
	}
	out, err := h.d.Workflow.Create(asWard(ctx), d)
	var se *workflow.SourceError
	if errors.As(err, &se) {
		// Name the element in the OperationOutcome's expression.
		return nil, apperr.Wrap(apperr.Invalid, &fhir.FieldError{Expression: se.Expression, Err: err}, "%s", apperr.Message(err))
	}
	if err != nil {
		return nil, err
	}
	return h.taskFound(out)
}

// describesPerson reports whether a Task says whom it is about.
func describesPerson(t *fhir.Task) bool {
	if f := t.For; f != nil && (f.Reference != "" || f.Identifier != nil || f.Display != "") {
		return true
	}
	return len(t.Input) > 0
}

// taskPatient returns the ward patient a Task.for names, 0 when it names
// no local Patient (another server's, an identifier, a contained person,
// a name). A local Patient reference must name a patient ward knows.
func (h *Handler) taskPatient(ctx context.Context, ref *fhir.Reference) (int64, error) {
	if ref == nil || ref.Reference == "" {
		return 0, nil
	}
	local := strings.HasPrefix(ref.Reference, "Patient/") || strings.HasPrefix(ref.Reference, h.d.Base+"/Patient/")
	if !local {
		return 0, nil
	}
	id, err := fhir.ParseReferenceID(ref, "Patient", "Task.for", h.d.Base)
	if err != nil {
		return 0, err
	}
	if _, err := h.patientUser(asWard(ctx), id); err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return 0, apperr.Wrap(apperr.Invalid, &fhir.FieldError{Expression: "Task.for", Err: err},
				"Task.for: Patient/%d is not a patient ward knows", id)
		}
		return 0, err
	}
	return id, nil
}

// referenceText is a reference as one line of text, for the stored
// requester and source columns.
func referenceText(ref *fhir.Reference) string {
	switch {
	case ref == nil:
		return ""
	case ref.Reference != "":
		return ref.Reference
	case ref.Identifier != nil && ref.Identifier.Value != "":
		if ref.Identifier.System != "" {
			return ref.Identifier.System + "|" + ref.Identifier.Value
		}
		return ref.Identifier.Value
	}
	return ref.Display
}

// requesterIsSubject reports whether the person declares themself:
// Task.requester names the same person as Task.for (the same reference
// or the same identifier), or the signed-in person is the Task's patient.
func requesterIsSubject(t *fhir.Task, patientID, userID int64, base string) bool {
	if patientID != 0 && userID == patientID {
		return true
	}
	r, f := t.Requester, t.For
	if r == nil || f == nil {
		return false
	}
	if r.Reference != "" && f.Reference != "" {
		norm := func(s string) string { return strings.TrimPrefix(s, base+"/") }
		return norm(r.Reference) == norm(f.Reference)
	}
	if r.Identifier != nil && f.Identifier != nil && r.Identifier.Value != "" {
		return r.Identifier.System == f.Identifier.System && r.Identifier.Value == f.Identifier.Value
	}
	return false
}

// orgTypes are the reference types that name a facility.
var orgTypes = map[string]bool{"": true, "Organization": true, "Location": true}

// taskSources lists every organization a Task names as where it comes
// from, for the self-submission rule: its owner and location (however
// they name it: reference, identifier or name), its requester when that
// is an organization, and each input whose value is an organization
// reference, or an identifier of an input typed as a facility, an
// organization, a location or a source.
func (h *Handler) taskSources(t *fhir.Task) []workflow.OrgRef {
	var out []workflow.OrgRef
	add := func(ref *fhir.Reference, expr string, anyKind bool) {
		if ref == nil {
			return
		}
		if ref.Reference != "" {
			if id, err := fhir.ParseReferenceID(&fhir.Reference{Reference: ref.Reference}, "Organization", expr, h.d.Base); err == nil {
				out = append(out, workflow.OrgRef{ID: id, Expression: expr})
			}
			return
		}
		if !orgTypes[ref.Type] || (!anyKind && ref.Type == "") {
			return
		}
		switch {
		case ref.Identifier != nil && ref.Identifier.Value != "":
			out = append(out, workflow.OrgRef{System: ref.Identifier.System, Value: ref.Identifier.Value, Expression: expr})
		case ref.Display != "":
			out = append(out, workflow.OrgRef{Name: ref.Display, Expression: expr})
		}
	}
	add(t.Owner, "Task.owner", true)
	add(t.Location, "Task.location", true)
	add(t.Requester, "Task.requester", false)
	for i, in := range t.Input {
		expr := fmt.Sprintf("Task.input[%d]", i)
		if in.ValueReference != nil {
			add(in.ValueReference, expr+".valueReference", facilityInput(in.Type))
		}
		if in.ValueIdentifier != nil && in.ValueIdentifier.Value != "" && facilityInput(in.Type) {
			out = append(out, workflow.OrgRef{System: in.ValueIdentifier.System, Value: in.ValueIdentifier.Value,
				Expression: expr + ".valueIdentifier"})
		}
	}
	return out
}

// facilityInput reports whether an input's type says it names where the
// declaration comes from.
func facilityInput(cc fhir.CodeableConcept) bool {
	words := []string{cc.Text}
	for _, c := range cc.Coding {
		words = append(words, c.Code, c.Display)
	}
	for _, w := range words {
		w = strings.ToLower(w)
		for _, k := range []string{"facility", "organization", "organisation", "location", "source", "place of birth", "place-of-birth", "birthplace", "health"} {
			if strings.Contains(w, k) {
				return true
			}
		}
	}
	return false
}

// mountTaskOperations mounts POST /fhir/Task/{id}/$<operation>.
func (h *Handler) mountTaskOperations(mux *http.ServeMux) {
	for _, op := range TaskOperations {
		mux.HandleFunc("POST /fhir/Task/{id}/$"+op.Name, negotiate(h.taskActionHandler(op.Action)))
	}
}

// taskActionHandler serves one workflow operation. The action's own scope
// is checked before the body is read; a refusal is audited as
// request.refused about the Task (the step was attempted on a person's
// record). The body, when there is one, is a Parameters with an optional
// reason.
func (h *Handler) taskActionHandler(action workflow.Action) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		raw := r.PathValue("id")
		g, err := h.d.Policy.DecideAction(ctx, string(action))
		if err != nil {
			if apperr.Is(err, apperr.Forbidden) {
				h.auditTaskRefusal(ctx, raw, action, err)
			}
			h.fail(w, r, err)
			return
		}
		reason := ""
		if r.ContentLength != 0 {
			body, err := ReadBody(r, h.d.MaxBody)
			if err != nil {
				h.fail(w, r, err)
				return
			}
			if reason, err = fhir.DecodeTaskActionReason(body); err != nil {
				h.fail(w, r, err)
				return
			}
		}
		id, err := parseID("Task", raw)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		t, err := h.d.Workflow.Act(asWard(ctx), id, action, reason, func(t *workflow.Task) error {
			return h.taskReach(ctx, g, t, policy.Update)
		})
		if err != nil {
			h.fail(w, r, notFoundAs("Task", id, err))
			return
		}
		f, err := h.taskFound(t)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		WriteResource(w, r, http.StatusOK, f.resource, f.version, f.updated)
	}
}

// auditTaskRefusal records a workflow step refused for want of its scope,
// in its own transaction (the refused step changed nothing).
func (h *Handler) auditTaskRefusal(ctx context.Context, raw string, action workflow.Action, cause error) {
	a := actor.From(ctx)
	subject := ""
	if id, err := parseID("Task", raw); err == nil {
		subject = audit.Ref("Task", id)
	}
	err := h.d.Audit.Record(ctx, audit.Change{Type: audit.RequestRefused, Subject: subject,
		Fields:  map[string]any{"status": http.StatusForbidden, "action": string(action)},
		Comment: fmt.Sprintf("Task %s refused: %s; client %s", action, apperr.Message(cause), a.ClientID)})
	if err != nil {
		h.d.Logger.ErrorContext(ctx, "audit refused task action", "err", err)
	}
}
