package workflow

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/store"
)

// MaxReason bounds the reason given with an action, in bytes.
const MaxReason = 1000

// Service is the declarations' use cases.
type Service struct {
	store Store
	tx    store.Transactor
	audit audit.Recorder
	now   func() time.Time
}

// Deps are what a Service runs on.
type Deps struct {
	Store Store
	Tx    store.Transactor
	Audit audit.Recorder
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// NewService wires a Service.
func NewService(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{store: d.Store, tx: d.Tx, audit: d.Audit, now: d.Now}
}

// SelfSubmitted reports whether a declaration made by the actor in ctx is
// a self-submission in seed 002's sense: it comes from a system client (a
// public portal acting with no signed-in registrar), or the person
// declares themself (Task.requester is Task.for). The edge runs the use
// case as ward itself once its policy has decided, with the client kept
// on the actor, so the client decides here, not the System flag.
func SelfSubmitted(ctx context.Context, d Declaration) bool {
	a := actor.From(ctx)
	return (a.ClientID != "" && a.UserID == 0) || d.RequesterIsSubject
}

// Create records a new declaration, submitted. Seed 002's rule: "self
// notifications shouldn't come from health facilities that are already
// known in the reference data" — a self-submitted declaration (see
// SelfSubmitted) that names, as where it comes from, an organization the
// directory already holds is refused (Invalid, naming the element): a
// known facility notifies through its own registered channel, and a
// portal must not pass its citizens' declarations off as a facility's.
func (s *Service) Create(ctx context.Context, d Declaration) (*Task, error) {
	if len(d.Resource) == 0 {
		return nil, apperr.New(apperr.Invalid, "a declaration needs its Task")
	}
	a := actor.From(ctx)
	now := s.now()
	t := &Task{Status: FHIRStatus[Submitted], BusinessStatus: Submitted, Resource: d.Resource, PatientID: d.PatientID,
		Requester: d.Requester, Source: d.Source, ClientID: a.ClientID, CreatedBy: a.UserID, CreatedAt: now, UpdatedAt: now}
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		if SelfSubmitted(ctx, d) {
			for _, ref := range d.Sources {
				id, err := s.store.FindOrganization(ctx, ref)
				if err != nil {
					return fmt.Errorf("look up the declared source: %w", err)
				}
				if id != 0 {
					return apperr.Wrap(apperr.Invalid, &SourceError{Expression: ref.Expression, OrganizationID: id},
						"%s names Organization/%d, a facility already in the reference data: a self-submitted declaration may not come from a known facility (it notifies through its own channel)",
						ref.Expression, id)
				}
			}
		}
		if err := s.store.CreateTask(ctx, t); err != nil {
			return err
		}
		fields := map[string]any{"to": string(t.BusinessStatus), "status": t.Status}
		if t.PatientID != 0 {
			fields["patient"] = audit.UserRef(t.PatientID)
		}
		return s.record(ctx, audit.TaskCreated, t, fields, "declaration Task/%d submitted", t.ID)
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// SourceError is the cause of the self-submission refusal: the element
// naming a known organization.
type SourceError struct {
	Expression     string
	OrganizationID int64
}

func (e *SourceError) Error() string {
	return fmt.Sprintf("%s names known Organization/%d", e.Expression, e.OrganizationID)
}

// Get returns a declaration.
func (s *Service) Get(ctx context.Context, id int64) (*Task, error) {
	if id <= 0 {
		return nil, apperr.New(apperr.NotFound, "Task/%d not found", id)
	}
	return s.store.GetTask(ctx, id)
}

// Search returns a page of the declarations f keeps, in id order.
func (s *Service) Search(ctx context.Context, f Filter, p store.Page) ([]*Task, string, error) {
	if f.NoneMatch() {
		return nil, "", nil
	}
	return s.store.SearchTasks(ctx, f, p.Normalize())
}

// Count returns how many declarations f keeps.
func (s *Service) Count(ctx context.Context, f Filter) (int, error) {
	if f.NoneMatch() {
		return 0, nil
	}
	return s.store.CountTasks(ctx, f)
}

// TransitionError is the cause of a refused action: the declaration's
// status does not allow it.
type TransitionError struct {
	Action  Action
	Current BusinessStatus
	Allowed []BusinessStatus
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("action %s not allowed from %s", e.Action, e.Current)
}

// Act takes action on declaration id, with an optional reason, when the
// transition table allows it from the declaration's current status
// (Conflict naming both otherwise), and records task.status_changed with
// from, to, action and reason in the same transaction. check, when not
// nil, is called with the current record before anything changes (the
// caller's access check on the declaration's patient); its error is
// returned as is.
func (s *Service) Act(ctx context.Context, id int64, action Action, reason string, check func(*Task) error) (*Task, error) {
	if _, ok := Transitions[action]; !ok {
		return nil, apperr.New(apperr.Invalid, "unknown action %q", clip(string(action)))
	}
	reason = strings.TrimSpace(reason)
	if len(reason) > MaxReason {
		return nil, apperr.New(apperr.Invalid, "the reason is longer than %d bytes", MaxReason)
	}
	if !utf8.ValidString(reason) || strings.ContainsRune(reason, 0) {
		return nil, apperr.New(apperr.Invalid, "the reason holds a NUL byte or is not valid UTF-8")
	}
	var out *Task
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		t, err := s.Get(ctx, id)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(t); err != nil {
				return err
			}
		}
		from := t.BusinessStatus
		to, ok := Allowed(action, from)
		if !ok {
			allowed := Transitions[action].From
			return apperr.Wrap(apperr.Conflict, &TransitionError{Action: action, Current: from, Allowed: allowed},
				"Task/%d is %s: the %s action applies only to a declaration that is %s", id, from, action, orList(allowed))
		}
		t.BusinessStatus, t.Status, t.StatusReason = to, FHIRStatus[to], reason
		if err := s.store.UpdateTaskStatus(ctx, t); err != nil {
			return err
		}
		fields := map[string]any{"from": string(from), "to": string(to), "action": string(action)}
		if reason != "" {
			fields["reason"] = reason
		}
		out = t
		return s.record(ctx, audit.TaskStatusChanged, t, fields, "Task/%d %s: %s -> %s", id, action, from, to)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) record(ctx context.Context, typ audit.EventType, t *Task, fields map[string]any, format string, args ...any) error {
	if err := s.audit.Record(ctx, audit.Change{Type: typ, Subject: audit.Ref("Task", t.ID), SubjectID: t.PatientID,
		Fields: fields, Comment: fmt.Sprintf(format, args...)}); err != nil {
		return fmt.Errorf("record %s: %w", typ, err)
	}
	return nil
}

func orList(ss []BusinessStatus) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	switch len(parts) {
	case 0:
		return "nothing"
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}
