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
	// Observations are the observations' rows (table observations).
	Observations() Records[Observation]
	// Procedures are the procedures' rows (table procedures); Search and
	// the filtered scan keep what Filter.MatchesProcedure keeps.
	Procedures() Records[Procedure]
}

// Records persists one kind of clinical record, T (Observation or
// Procedure), under the contract of Store.
type Records[T any] interface {
	// Create inserts r, setting its ID, Version=1 and UpdatedAt.
	Create(ctx context.Context, r *T) error
	// Get returns the record, including a soft-deleted one.
	Get(ctx context.Context, id int64) (*T, error)
	// Update writes every field of r but ID, CreatedBy and DeletedAt,
	// bumping its Version and setting its UpdatedAt. A deleted record
	// cannot be updated (Conflict).
	Update(ctx context.Context, r *T) error
	// Delete soft-deletes the live record id at version (Conflict when
	// stale or already deleted), bumping its version and UpdatedAt so an
	// incremental scan sees the change.
	Delete(ctx context.Context, id, version int64, at time.Time) error
	// List returns the patient's live records newest first (by descending
	// id) after the cursor, and the cursor of the next page ("" at the
	// end).
	List(ctx context.Context, patientID int64, p store.Page) ([]*T, string, error)
	// Count returns how many live records the patient has; patientID 0
	// counts every patient's.
	Count(ctx context.Context, patientID int64) (int, error)
	// Scan calls fn for every live record with id > afterID and UpdatedAt
	// >= since (zero since: all), in id order. It is what bulk export runs
	// on: memory stays bounded however many rows there are (rows are read
	// in batches), fn may call the store, and an error from fn stops the
	// scan and is returned.
	Scan(ctx context.Context, afterID int64, since time.Time, fn func(*T) error) error
	// Search returns the live records f keeps (see Filter.MatchesObservation
	// and Filter.MatchesProcedure, the reference), in ascending id order,
	// after the cursor, and the cursor of the next page ("" at the end).
	Search(ctx context.Context, f Filter, p store.Page) ([]*T, string, error)
	// CountMatching returns how many live records f keeps.
	CountMatching(ctx context.Context, f Filter) (int, error)
	// ScanFiltered is Scan over what f keeps (f.Updated takes the place of
	// since): batched, in id order after afterID, with the same memory
	// bound and error rule.
	ScanFiltered(ctx context.Context, f Filter, afterID int64, fn func(*T) error) error
}

// Head points at the fields every clinical record has, so that code over
// both kinds (the Service, a store) reads and sets them in one place.
type Head struct {
	ID, PatientID, PerformerID, CreatedBy, Version *int64
	Status                                         *string
	Code                                           *[]Coding
	UpdatedAt                                      *time.Time
	DeletedAt                                      **time.Time
}

// Record is the pointer to a clinical record type T, as the code generic
// over both kinds takes it.
type Record[T any] interface {
	*T
	Head() Head
	Deleted() bool
}

// Head returns pointers to o's shared fields.
func (o *Observation) Head() Head {
	return Head{ID: &o.ID, PatientID: &o.PatientID, PerformerID: &o.PerformerID, CreatedBy: &o.CreatedBy,
		Version: &o.Version, Status: &o.Status, Code: &o.Code, UpdatedAt: &o.UpdatedAt, DeletedAt: &o.DeletedAt}
}

// Head returns pointers to p's shared fields.
func (p *Procedure) Head() Head {
	return Head{ID: &p.ID, PatientID: &p.PatientID, PerformerID: &p.PerformerID, CreatedBy: &p.CreatedBy,
		Version: &p.Version, Status: &p.Status, Code: &p.Code, UpdatedAt: &p.UpdatedAt, DeletedAt: &p.DeletedAt}
}
