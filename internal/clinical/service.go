package clinical

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/store"
)

// Permissions decides whether the caller may view or edit a patient: the
// one place authorization is decided (check_role), satisfied by
// *directory.Service. It returns nil when allowed and an apperr error
// (Unauthenticated, NotFound, Forbidden) otherwise.
type Permissions interface {
	CheckRole(ctx context.Context, perm directory.Permission, targetID int64) error
}

// Service is the clinical record's use cases. Every read requires View on
// the patient and every write Edit; each write and its audit event (about
// the patient) commit in one transaction.
type Service struct {
	store Store
	tx    store.Transactor
	perm  Permissions
	audit audit.Recorder
	now   func() time.Time
}

// Deps are the collaborators a Service cannot work without.
type Deps struct {
	Store Store
	Tx    store.Transactor
	Perm  Permissions
	Audit audit.Recorder
}

// Config is how a Service behaves; the zero Config is valid.
type Config struct {
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// NewService wires a Service.
func NewService(d Deps, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{store: d.Store, tx: d.Tx, perm: d.Perm, audit: d.Audit, now: cfg.Now}
}

// record writes one typed audit event about a record of patientID (in
// the patient's trail) in the transaction in ctx.
func (s *Service) record(ctx context.Context, t audit.EventType, subject string, patientID int64, fields map[string]any,
	format string, args ...any) error {
	if err := s.audit.Record(ctx, audit.Change{Type: t, Subject: subject, SubjectID: patientID, Fields: fields,
		Comment: fmt.Sprintf(format, args...)}); err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// checkID refuses ids that cannot exist before anything is looked up.
func checkID(what string, id int64) error {
	if id <= 0 {
		return apperr.New(apperr.Invalid, "%s id must be a positive integer", what)
	}
	return nil
}

// changed names the fields that differ between two values of the same
// struct type, skipping the bookkeeping ones, for audit comments.
func changed(old, updated any, skip ...string) string {
	a, b := reflect.ValueOf(old), reflect.ValueOf(updated)
	var names []string
	for i := range a.NumField() {
		name := a.Type().Field(i).Name
		if slices.Contains(skip, name) {
			continue
		}
		if !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			names = append(names, strings.ToLower(name))
		}
	}
	if len(names) == 0 {
		return "nothing"
	}
	return strings.Join(names, ", ")
}

var bookkeeping = []string{"ID", "PatientID", "CreatedBy", "UpdatedAt", "Version", "DeletedAt"}

// kind is what the use cases need to know about one kind of record, T.
type kind[T any] struct {
	name                      string // "observation", in messages and audit comments
	resource                  string // "Observation", the FHIR type audit subjects name
	created, updated, deleted audit.EventType
	records                   func(Store) Records[T]
	head                      func(*T) Head
	isDeleted                 func(*T) bool
	validate                  func(*T) error
	// defaults fills what the caller may leave out of a new record (nil:
	// nothing).
	defaults func(r *T, now time.Time)
}

var observations = kind[Observation]{
	name: "observation", resource: "Observation",
	created: audit.ObservationCreated, updated: audit.ObservationUpdated, deleted: audit.ObservationDeleted,
	records: Store.Observations, head: (*Observation).Head, isDeleted: (*Observation).Deleted,
	validate: ValidateObservation,
	defaults: func(o *Observation, now time.Time) {
		if o.Issued.IsZero() {
			o.Issued = now
		}
	},
}

var procedures = kind[Procedure]{
	name: "procedure", resource: "Procedure",
	created: audit.ProcedureCreated, updated: audit.ProcedureUpdated, deleted: audit.ProcedureDeleted,
	records: Store.Procedures, head: (*Procedure).Head, isDeleted: (*Procedure).Deleted,
	validate: ValidateProcedure,
}

// Kind is the use cases of one kind of clinical record, T (Observation or
// Procedure): the same rules for both, each write audited with the
// kind's own event types. Get one from Service.Observations or
// Service.Procedures.
type Kind[T any] struct {
	s *Service
	k kind[T]
}

// Observations are the observations' use cases. Create defaults Issued to
// now.
func (s *Service) Observations() *Kind[Observation] { return &Kind[Observation]{s, observations} }

// Procedures are the procedures' use cases.
func (s *Service) Procedures() *Kind[Procedure] { return &Kind[Procedure]{s, procedures} }

// Create records a new record for r's patient. The caller needs Edit on the
// patient; CreatedBy is the acting user.
func (c *Kind[T]) Create(ctx context.Context, r T) (*T, error) {
	s, k := c.s, c.k
	h := k.head(&r)
	*h.ID, *h.Version, *h.DeletedAt, *h.UpdatedAt = 0, 0, nil, time.Time{}
	*h.CreatedBy = actor.From(ctx).UserID
	if k.defaults != nil {
		k.defaults(&r, s.now())
	}
	if err := k.validate(&r); err != nil {
		return nil, err
	}
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.perm.CheckRole(ctx, directory.Edit, *h.PatientID); err != nil {
			return err
		}
		if err := k.records(s.store).Create(ctx, &r); err != nil {
			return err
		}
		code := (*h.Code)[0].Code
		return s.record(ctx, k.created, audit.Ref(k.resource, *h.ID), *h.PatientID,
			map[string]any{"code": code, "status": *h.Status, "version": *h.Version}, "created %s %d (%s, status %s) for patient %d",
			k.name, *h.ID, code, *h.Status, *h.PatientID)
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// Get returns a live record of a patient the caller may view. A deleted
// one is NotFound.
func (c *Kind[T]) Get(ctx context.Context, id int64) (*T, error) {
	s, k := c.s, c.k
	if err := checkID(k.name, id); err != nil {
		return nil, err
	}
	r, err := k.records(s.store).Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.perm.CheckRole(ctx, directory.View, *k.head(r).PatientID); err != nil {
		return nil, err
	}
	if k.isDeleted(r) {
		return nil, apperr.New(apperr.NotFound, "%s %d not found", k.name, id)
	}
	return r, nil
}

// Update replaces the record r.ID when its Version is the current version
// (else Conflict). The caller needs Edit on the patient; the patient and
// recorder cannot change.
func (c *Kind[T]) Update(ctx context.Context, r T) (*T, error) {
	s, k := c.s, c.k
	h := k.head(&r)
	if err := checkID(k.name, *h.ID); err != nil {
		return nil, err
	}
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		old, err := k.records(s.store).Get(ctx, *h.ID)
		if err != nil {
			return err
		}
		oh := k.head(old)
		if err := s.perm.CheckRole(ctx, directory.Edit, *oh.PatientID); err != nil {
			return err
		}
		if k.isDeleted(old) {
			return apperr.New(apperr.NotFound, "%s %d not found", k.name, *h.ID)
		}
		if *h.PatientID != 0 && *h.PatientID != *oh.PatientID {
			return apperr.New(apperr.Invalid, "invalid %s: patient: cannot be changed", k.name)
		}
		*h.PatientID, *h.CreatedBy, *h.DeletedAt = *oh.PatientID, *oh.CreatedBy, nil
		if err := k.validate(&r); err != nil {
			return err
		}
		what := changed(*old, r, bookkeeping...)
		if err := k.records(s.store).Update(ctx, &r); err != nil {
			return err
		}
		return s.record(ctx, k.updated, audit.Ref(k.resource, *h.ID), *h.PatientID,
			map[string]any{"changed": what, "version": *h.Version}, "updated %s %d to version %d: %s",
			k.name, *h.ID, *h.Version, what)
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// Delete soft-deletes record id at version (Conflict when stale). The
// caller needs Edit on the patient.
func (c *Kind[T]) Delete(ctx context.Context, id, version int64) error {
	s, k := c.s, c.k
	if err := checkID(k.name, id); err != nil {
		return err
	}
	return s.tx.InTx(ctx, func(ctx context.Context) error {
		r, err := k.records(s.store).Get(ctx, id)
		if err != nil {
			return err
		}
		patientID := *k.head(r).PatientID
		if err := s.perm.CheckRole(ctx, directory.Edit, patientID); err != nil {
			return err
		}
		if k.isDeleted(r) {
			return apperr.New(apperr.NotFound, "%s %d not found", k.name, id)
		}
		if err := k.records(s.store).Delete(ctx, id, version, s.now()); err != nil {
			return err
		}
		return s.record(ctx, k.deleted, audit.Ref(k.resource, id), patientID,
			map[string]any{"version": version}, "deleted %s %d (version %d)", k.name, id, version)
	})
}

// List returns a page of the patient's records, newest first. The caller
// needs View on the patient.
func (c *Kind[T]) List(ctx context.Context, patientID int64, p store.Page) ([]*T, string, error) {
	s, k := c.s, c.k
	if err := s.perm.CheckRole(ctx, directory.View, patientID); err != nil {
		return nil, "", err
	}
	return k.records(s.store).List(ctx, patientID, p.Normalize())
}

// Count returns how many records the patient has (a searchset's total).
// The caller needs View on the patient.
func (c *Kind[T]) Count(ctx context.Context, patientID int64) (int, error) {
	s, k := c.s, c.k
	if err := s.perm.CheckRole(ctx, directory.View, patientID); err != nil {
		return 0, err
	}
	return k.records(s.store).Count(ctx, patientID)
}
