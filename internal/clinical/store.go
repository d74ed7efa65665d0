package clinical

import (
	"context"
	"time"

	"ward/internal/store"
)

// Store persists observations and procedures. Every method joins the
// transaction carried in ctx, if any (see store.Transactor). Contract for
// every implementation, checked by internal/sqlstore/storetest:
//
//   - Times come back in UTC with microsecond precision; UpdatedAt is set
//     by the store on every write.
//   - Lookups of a missing row return apperr NotFound; a patient, performer
//     or recorder that is not a user is apperr Invalid.
//   - Updates are optimistic: the caller's Version must equal the stored
//     one, else apperr Conflict (NotFound when the row does not exist), so
//     concurrent edits never silently overwrite each other.
//   - Deletion is soft: the row stays (Get returns it with DeletedAt set)
//     but List, Count and Scan no longer see it. Purging the patient
//     removes their rows; purging a performer or recorder clears the
//     reference.
//   - Lists and scans come back in a stable order and nil-vs-empty is not
//     significant (in results; in a Filter, nil means "any" and empty
//     "none").
//   - Searches see a resource's codes and dates as last written: an update
//     that changes the codes or the time changes what matches.
type Store interface {
	// CreateObservation inserts o, setting o.ID, o.Version=1 and o.UpdatedAt.
	CreateObservation(ctx context.Context, o *Observation) error
	// GetObservation returns the observation, including a soft-deleted one.
	GetObservation(ctx context.Context, id int64) (*Observation, error)
	// UpdateObservation writes every field of o but ID, CreatedBy and
	// DeletedAt, bumping o.Version and setting o.UpdatedAt. A deleted
	// observation cannot be updated (Conflict).
	UpdateObservation(ctx context.Context, o *Observation) error
	// DeleteObservation soft-deletes the live observation id at version
	// (Conflict when stale or already deleted), bumping its version and
	// UpdatedAt so an incremental scan sees the change.
	DeleteObservation(ctx context.Context, id, version int64, at time.Time) error
	// ListObservations returns the patient's live observations newest first
	// (by descending id) after the cursor, and the cursor of the next page
	// ("" at the end).
	ListObservations(ctx context.Context, patientID int64, p store.Page) ([]*Observation, string, error)
	// CountObservations returns how many live observations the patient has;
	// patientID 0 counts every patient's.
	CountObservations(ctx context.Context, patientID int64) (int, error)
	// ScanObservations calls fn for every live observation with id >
	// afterID and UpdatedAt >= since (zero since: all), in id order. It is
	// what bulk export runs on: memory stays bounded however many rows
	// there are (rows are read in batches), fn may call the store, and an
	// error from fn stops the scan and is returned.
	ScanObservations(ctx context.Context, afterID int64, since time.Time, fn func(*Observation) error) error
	// SearchObservations returns the live observations f keeps (see
	// Filter.MatchesObservation, the reference), in ascending id order,
	// after the cursor, and the cursor of the next page ("" at the end).
	SearchObservations(ctx context.Context, f Filter, p store.Page) ([]*Observation, string, error)
	// CountObservationsMatching returns how many live observations f keeps.
	CountObservationsMatching(ctx context.Context, f Filter) (int, error)
	// ScanObservationsFiltered is ScanObservations over what f keeps
	// (f.Updated takes the place of since): batched, in id order after
	// afterID, with the same memory bound and error rule.
	ScanObservationsFiltered(ctx context.Context, f Filter, afterID int64, fn func(*Observation) error) error

	// CreateProcedure inserts p, setting p.ID, p.Version=1 and p.UpdatedAt.
	CreateProcedure(ctx context.Context, p *Procedure) error
	// GetProcedure returns the procedure, including a soft-deleted one.
	GetProcedure(ctx context.Context, id int64) (*Procedure, error)
	// UpdateProcedure is UpdateObservation for procedures.
	UpdateProcedure(ctx context.Context, p *Procedure) error
	// DeleteProcedure is DeleteObservation for procedures.
	DeleteProcedure(ctx context.Context, id, version int64, at time.Time) error
	// ListProcedures is ListObservations for procedures.
	ListProcedures(ctx context.Context, patientID int64, p store.Page) ([]*Procedure, string, error)
	// CountProcedures is CountObservations for procedures.
	CountProcedures(ctx context.Context, patientID int64) (int, error)
	// ScanProcedures is ScanObservations for procedures.
	ScanProcedures(ctx context.Context, afterID int64, since time.Time, fn func(*Procedure) error) error
	// SearchProcedures is SearchObservations for procedures (see
	// Filter.MatchesProcedure).
	SearchProcedures(ctx context.Context, f Filter, p store.Page) ([]*Procedure, string, error)
	// CountProceduresMatching is CountObservationsMatching for procedures.
	CountProceduresMatching(ctx context.Context, f Filter) (int, error)
	// ScanProceduresFiltered is ScanObservationsFiltered for procedures.
	ScanProceduresFiltered(ctx context.Context, f Filter, afterID int64, fn func(*Procedure) error) error
}
