package workflow

import (
	"context"
	"time"

	"ward/internal/store"
	"ward/internal/timerange"
)

// Task is one declaration as stored.
type Task struct {
	ID int64
	// Status is the R4 Task.status, FHIRStatus[BusinessStatus].
	Status         string
	BusinessStatus BusinessStatus
	// StatusReason is the reason given with the last action ("" for none).
	StatusReason string
	// Resource is the submitted Task as FHIR JSON, without the elements
	// ward manages (id, meta, status, businessStatus, statusReason,
	// lastModified): the edge renders those from the fields above.
	Resource []byte
	// PatientID is the ward patient Task.for names; 0 when it names none
	// (a person not yet in the directory).
	PatientID int64
	// Requester and Source are the references the declaration named as
	// its requester and its source (owner or location), as text.
	Requester, Source string
	// ClientID and CreatedBy are who submitted it.
	ClientID  string
	CreatedBy int64
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64
}

// OrgRef is an organization as a declaration names it: by a reference to
// a directory organization (ID), by an identifier (System may be empty:
// any system), or by name only (a reference's display).
type OrgRef struct {
	ID            int64
	System, Value string
	Name          string
	// Expression is where the declaration names it (Task.owner), for the
	// error.
	Expression string
}

// Declaration is a new Task as the edge decoded it.
type Declaration struct {
	Resource          []byte
	PatientID         int64
	Requester, Source string
	// RequesterIsSubject is true when Task.requester names the person the
	// declaration is about (Task.for): the person declares themself.
	RequesterIsSubject bool
	// Sources are every organization the declaration names as where it
	// comes from (owner, location, requester, input values), for the
	// self-submission rule.
	Sources []OrgRef
}

// Filter is a Task search; nil lists mean "any", empty ones "none".
type Filter struct {
	IDs              []int64
	PatientIDs       []int64
	Statuses         []string
	BusinessStatuses []BusinessStatus
	Updated          []timerange.Bound
	// Now is the clock for "ap" date bounds (zero: the store's).
	Now time.Time
}

// NoneMatch reports whether f can match nothing (an empty set was given).
func (f Filter) NoneMatch() bool {
	return (f.IDs != nil && len(f.IDs) == 0) || (f.PatientIDs != nil && len(f.PatientIDs) == 0) ||
		(f.Statuses != nil && len(f.Statuses) == 0) || (f.BusinessStatuses != nil && len(f.BusinessStatuses) == 0)
}

// Store persists tasks. Every method joins the transaction in ctx, if any.
//
//   - Times come back in UTC with microsecond precision.
//   - GetTask of a missing row is apperr NotFound.
//   - UpdateTaskStatus writes Status, BusinessStatus and StatusReason when
//     t.Version is the stored version (else Conflict), bumping Version and
//     setting UpdatedAt.
//   - SearchTasks pages in ascending id order.
type Store interface {
	CreateTask(ctx context.Context, t *Task) error
	GetTask(ctx context.Context, id int64) (*Task, error)
	UpdateTaskStatus(ctx context.Context, t *Task) error
	SearchTasks(ctx context.Context, f Filter, p store.Page) ([]*Task, string, error)
	CountTasks(ctx context.Context, f Filter) (int, error)
	// FindOrganization returns the id of the directory organization ref
	// names (by id, identifier, or name compared case-insensitively), 0
	// when the directory holds none.
	FindOrganization(ctx context.Context, ref OrgRef) (int64, error)
}
