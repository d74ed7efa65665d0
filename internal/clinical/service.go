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

// CreateObservation records a new observation for o.PatientID. The caller
// needs Edit on the patient; Issued defaults to now; CreatedBy is the
// acting user.
func (s *Service) CreateObservation(ctx context.Context, o Observation) (*Observation, error) {
	o.ID, o.Version, o.DeletedAt, o.UpdatedAt = 0, 0, nil, time.Time{}
	o.CreatedBy = actor.From(ctx).UserID
	if o.Issued.IsZero() {
		o.Issued = s.now()
	}
	if err := ValidateObservation(&o); err != nil {
		return nil, err
	}
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.perm.CheckRole(ctx, directory.Edit, o.PatientID); err != nil {
			return err
		}
		if err := s.store.CreateObservation(ctx, &o); err != nil {
			return err
		}
		return s.record(ctx, audit.ObservationCreated, audit.Ref("Observation", o.ID), o.PatientID,
			map[string]any{"code": o.Code[0].Code, "status": o.Status, "version": o.Version}, "created observation %d (%s, status %s) for patient %d",
			o.ID, o.Code[0].Code, o.Status, o.PatientID)
	})
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// GetObservation returns a live observation of a patient the caller may
// view. A deleted one is NotFound.
func (s *Service) GetObservation(ctx context.Context, id int64) (*Observation, error) {
	if err := checkID("observation", id); err != nil {
		return nil, err
	}
	o, err := s.store.GetObservation(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.perm.CheckRole(ctx, directory.View, o.PatientID); err != nil {
		return nil, err
	}
	if o.Deleted() {
		return nil, apperr.New(apperr.NotFound, "observation %d not found", id)
	}
	return o, nil
}

// UpdateObservation replaces the observation o.ID when o.Version is the
// current version (else Conflict). The caller needs Edit on the patient;
// the patient and recorder cannot change.
func (s *Service) UpdateObservation(ctx context.Context, o Observation) (*Observation, error) {
	if err := checkID("observation", o.ID); err != nil {
		return nil, err
	}
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		old, err := s.store.GetObservation(ctx, o.ID)
		if err != nil {
			return err
		}
		if err := s.perm.CheckRole(ctx, directory.Edit, old.PatientID); err != nil {
			return err
		}
		if old.Deleted() {
			return apperr.New(apperr.NotFound, "observation %d not found", o.ID)
		}
		if o.PatientID != 0 && o.PatientID != old.PatientID {
			return apperr.New(apperr.Invalid, "invalid observation: patient: cannot be changed")
		}
		o.PatientID, o.CreatedBy, o.DeletedAt = old.PatientID, old.CreatedBy, nil
		if err := ValidateObservation(&o); err != nil {
			return err
		}
		what := changed(*old, o, bookkeeping...)
		if err := s.store.UpdateObservation(ctx, &o); err != nil {
			return err
		}
		return s.record(ctx, audit.ObservationUpdated, audit.Ref("Observation", o.ID), o.PatientID,
			map[string]any{"changed": what, "version": o.Version}, "updated observation %d to version %d: %s",
			o.ID, o.Version, what)
	})
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// DeleteObservation soft-deletes observation id at version (Conflict when
// stale). The caller needs Edit on the patient.
func (s *Service) DeleteObservation(ctx context.Context, id, version int64) error {
	if err := checkID("observation", id); err != nil {
		return err
	}
	return s.tx.InTx(ctx, func(ctx context.Context) error {
		o, err := s.store.GetObservation(ctx, id)
		if err != nil {
			return err
		}
		if err := s.perm.CheckRole(ctx, directory.Edit, o.PatientID); err != nil {
			return err
		}
		if o.Deleted() {
			return apperr.New(apperr.NotFound, "observation %d not found", id)
		}
		if err := s.store.DeleteObservation(ctx, id, version, s.now()); err != nil {
			return err
		}
		return s.record(ctx, audit.ObservationDeleted, audit.Ref("Observation", id), o.PatientID,
			map[string]any{"version": version}, "deleted observation %d (version %d)", id, version)
	})
}

// ListObservations returns a page of the patient's observations, newest
// first. The caller needs View on the patient.
func (s *Service) ListObservations(ctx context.Context, patientID int64, p store.Page) ([]*Observation, string, error) {
	if err := s.perm.CheckRole(ctx, directory.View, patientID); err != nil {
		return nil, "", err
	}
	return s.store.ListObservations(ctx, patientID, p.Normalize())
}

// CountObservations returns how many observations the patient has (a
// searchset's total). The caller needs View on the patient.
func (s *Service) CountObservations(ctx context.Context, patientID int64) (int, error) {
	if err := s.perm.CheckRole(ctx, directory.View, patientID); err != nil {
		return 0, err
	}
	return s.store.CountObservations(ctx, patientID)
}

// CreateProcedure records a new procedure for p.PatientID. The caller needs
// Edit on the patient; CreatedBy is the acting user.
func (s *Service) CreateProcedure(ctx context.Context, p Procedure) (*Procedure, error) {
	p.ID, p.Version, p.DeletedAt, p.UpdatedAt = 0, 0, nil, time.Time{}
	p.CreatedBy = actor.From(ctx).UserID
	if err := ValidateProcedure(&p); err != nil {
		return nil, err
	}
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.perm.CheckRole(ctx, directory.Edit, p.PatientID); err != nil {
			return err
		}
		if err := s.store.CreateProcedure(ctx, &p); err != nil {
			return err
		}
		return s.record(ctx, audit.ProcedureCreated, audit.Ref("Procedure", p.ID), p.PatientID,
			map[string]any{"code": p.Code[0].Code, "status": p.Status, "version": p.Version}, "created procedure %d (%s, status %s) for patient %d",
			p.ID, p.Code[0].Code, p.Status, p.PatientID)
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// GetProcedure returns a live procedure of a patient the caller may view.
func (s *Service) GetProcedure(ctx context.Context, id int64) (*Procedure, error) {
	if err := checkID("procedure", id); err != nil {
		return nil, err
	}
	p, err := s.store.GetProcedure(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.perm.CheckRole(ctx, directory.View, p.PatientID); err != nil {
		return nil, err
	}
	if p.Deleted() {
		return nil, apperr.New(apperr.NotFound, "procedure %d not found", id)
	}
	return p, nil
}

// UpdateProcedure replaces the procedure p.ID when p.Version is current
// (else Conflict). The caller needs Edit on the patient.
func (s *Service) UpdateProcedure(ctx context.Context, p Procedure) (*Procedure, error) {
	if err := checkID("procedure", p.ID); err != nil {
		return nil, err
	}
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		old, err := s.store.GetProcedure(ctx, p.ID)
		if err != nil {
			return err
		}
		if err := s.perm.CheckRole(ctx, directory.Edit, old.PatientID); err != nil {
			return err
		}
		if old.Deleted() {
			return apperr.New(apperr.NotFound, "procedure %d not found", p.ID)
		}
		if p.PatientID != 0 && p.PatientID != old.PatientID {
			return apperr.New(apperr.Invalid, "invalid procedure: patient: cannot be changed")
		}
		p.PatientID, p.CreatedBy, p.DeletedAt = old.PatientID, old.CreatedBy, nil
		if err := ValidateProcedure(&p); err != nil {
			return err
		}
		what := changed(*old, p, bookkeeping...)
		if err := s.store.UpdateProcedure(ctx, &p); err != nil {
			return err
		}
		return s.record(ctx, audit.ProcedureUpdated, audit.Ref("Procedure", p.ID), p.PatientID,
			map[string]any{"changed": what, "version": p.Version}, "updated procedure %d to version %d: %s",
			p.ID, p.Version, what)
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// DeleteProcedure soft-deletes procedure id at version (Conflict when
// stale). The caller needs Edit on the patient.
func (s *Service) DeleteProcedure(ctx context.Context, id, version int64) error {
	if err := checkID("procedure", id); err != nil {
		return err
	}
	return s.tx.InTx(ctx, func(ctx context.Context) error {
		p, err := s.store.GetProcedure(ctx, id)
		if err != nil {
			return err
		}
		if err := s.perm.CheckRole(ctx, directory.Edit, p.PatientID); err != nil {
			return err
		}
		if p.Deleted() {
			return apperr.New(apperr.NotFound, "procedure %d not found", id)
		}
		if err := s.store.DeleteProcedure(ctx, id, version, s.now()); err != nil {
			return err
		}
		return s.record(ctx, audit.ProcedureDeleted, audit.Ref("Procedure", id), p.PatientID,
			map[string]any{"version": version}, "deleted procedure %d (version %d)", id, version)
	})
}

// ListProcedures returns a page of the patient's procedures, newest first.
// The caller needs View on the patient.
func (s *Service) ListProcedures(ctx context.Context, patientID int64, p store.Page) ([]*Procedure, string, error) {
	if err := s.perm.CheckRole(ctx, directory.View, patientID); err != nil {
		return nil, "", err
	}
	return s.store.ListProcedures(ctx, patientID, p.Normalize())
}

// CountProcedures returns how many procedures the patient has. The caller
// needs View on the patient.
func (s *Service) CountProcedures(ctx context.Context, patientID int64) (int, error) {
	if err := s.perm.CheckRole(ctx, directory.View, patientID); err != nil {
		return 0, err
	}
	return s.store.CountProcedures(ctx, patientID)
}
