package bulk

import (
	"context"
	"time"

	"ward/internal/fhir/search"
	"ward/internal/store"
)

// Level is where an export was kicked off.
type Level string

// The three kick-off levels of Bulk Data 2.0.
const (
	// LevelSystem is /fhir/$export: every exportable resource.
	LevelSystem Level = "system"
	// LevelPatient is /fhir/Patient/$export: every patient's compartment.
	LevelPatient Level = "patient"
	// LevelGroup is /fhir/Group/{id}/$export: the compartments of the
	// group's members.
	LevelGroup Level = "group"
)

// Status is where an export is in its life.
type Status string

// Export statuses. Accepted and in-progress exports count against a
// client's cap; the others are final.
const (
	StatusAccepted   Status = "accepted"
	StatusInProgress Status = "in-progress"
	StatusCompleted  Status = "completed"
	StatusFailed     Status = "failed"
	StatusCancelled  Status = "cancelled"
)

// Active reports whether s counts against the per-client cap.
func (s Status) Active() bool { return s == StatusAccepted || s == StatusInProgress }

// Export is one bulk export request and its state.
type Export struct {
	// ID is a random UUID: the status URL is all a client needs to poll, so
	// it must not be guessable.
	ID string
	// ClientID is the OAuth client that kicked the export off; only it may
	// poll, cancel and download.
	ClientID string
	// UserID is the user behind the client's token, 0 for a backend service.
	UserID int64
	Level  Level
	// GroupID is the Group exported, for LevelGroup.
	GroupID string
	// Types are the resource types to export, in export order.
	Types []string
	// Since is _since; zero exports every version.
	Since time.Time
	// TypeFilters are the _typeFilter values as given ("Observation?code=x").
	TypeFilters []string
	// Patients limits the export to these patients' compartments; nil means
	// every patient. A Group export stores the group's members as resolved
	// at kick-off, so a resumed job exports the same set.
	Patients []int64
	// OutputFormat is the canonical _outputFormat, application/fhir+ndjson.
	OutputFormat string
	Status       Status
	// RequestURL is the kick-off URL, echoed as the manifest's request.
	RequestURL string
	// TransactionTime is when the job first started; resources changed after
	// it are left out. Zero until then.
	TransactionTime time.Time
	// Progress has one entry per type the job has started, in Types order.
	Progress []TypeProgress
	// Output and Errors are the committed files, in the order written.
	Output []File
	Errors []File
	// Failure says why a failed export failed, in words safe to show.
	Failure string

	CreatedAt time.Time
	// CompletedAt is when the export completed, failed or was cancelled.
	CompletedAt time.Time
	// ExpiresAt is when the cleanup job deletes the export; zero while it
	// runs.
	ExpiresAt time.Time
	// Version is bumped by every UpdateExport, which refuses a stale one:
	// a worker's checkpoint never overwrites a cancel, nor the reverse.
	Version int64
}

// TypeProgress is how far the job got through one type, as of its last
// checkpoint.
type TypeProgress struct {
	Type string `json:"type"`
	// Parts is how many files of this type are committed; the next is
	// Parts+1.
	Parts int `json:"parts"`
	// Lines is how many resources those files hold.
	Lines int64 `json:"lines"`
	// LastKey is the Source key of the last resource in them; the job
	// resumes the scan after it.
	LastKey int64 `json:"last_key"`
	// Done is set once the type is fully exported (or failed into an error
	// file).
	Done bool `json:"done"`
}

// File is one committed NDJSON file.
type File struct {
	// Type is the resource type in the file (OperationOutcome for an error
	// file).
	Type string `json:"type"`
	// Name is the file's name in its download URL ("Patient-1.ndjson").
	Name string `json:"name"`
	// Key is the blob key, "exports/{id}/{name}".
	Key   string `json:"key"`
	Count int64  `json:"count"`
	Size  int64  `json:"size"`
}

// Store keeps exports. Contract (checked by internal/sqlstore/storetest):
//
//   - CreateExport stores e with Version 1 (it sets e.Version); a duplicate
//     ID is apperr.Conflict. Every field round-trips, times at microsecond
//     precision, Patients keeping nil (every patient) apart from empty (none).
//   - GetExport returns apperr.NotFound for an unknown ID.
//   - UpdateExport writes every mutable field (Status through ExpiresAt,
//     Patients, TransactionTime) if the stored Version is still e.Version,
//     and then bumps both; otherwise it is apperr.Conflict (apperr.NotFound
//     when the row is gone), and nothing changes.
//   - CountActiveExports counts clientID's accepted and in-progress exports.
//     Called in a transaction, it serialises with other such calls for the
//     same client until that transaction ends, so a check-then-insert cap
//     holds across replicas.
//   - ExpiredExports lists up to limit exports whose ExpiresAt is set and
//     not after now, oldest expiry first.
//   - DeleteExport removes the row; a missing row is not an error.
//   - ListExports pages through every export, newest first (CreatedAt,
//     then ID, descending); a malformed cursor is apperr.Invalid.
//   - CountExports counts every stored export.
type Store interface {
	CreateExport(ctx context.Context, e *Export) error
	GetExport(ctx context.Context, id string) (*Export, error)
	UpdateExport(ctx context.Context, e *Export) error
	CountActiveExports(ctx context.Context, clientID string) (int, error)
	ExpiredExports(ctx context.Context, now time.Time, limit int) ([]*Export, error)
	DeleteExport(ctx context.Context, id string) error
	ListExports(ctx context.Context, p store.Page) ([]*Export, string, error)
	CountExports(ctx context.Context) (int, error)
}

// Query is what one type's scan should return.
type Query struct {
	// Since keeps resources changed strictly after it; zero keeps all.
	Since time.Time
	// Until keeps resources changed at or before it (the export's
	// transaction time); zero keeps all.
	Until time.Time
	// Patients limits the scan to these patients' compartments; nil means
	// every patient (and, for types outside the compartment, every
	// resource). An empty, non-nil list matches nothing.
	Patients []int64
	// Filters are this type's _typeFilter queries: a resource is kept when
	// it matches at least one of them; nil keeps all. Each has Clauses only.
	Filters []search.Query
}

// Source is where exported resources come from (implemented over the
// directory, clinical and document stores).
type Source interface {
	// Types lists the exportable resource types, in export order.
	Types() []string
	// InPatientCompartment reports whether typ belongs to the Patient
	// compartment: Patient- and Group-level exports include only these.
	InPatientCompartment(typ string) bool
	// Scan calls fn for each resource of typ matching q whose key is above
	// afterKey, in ascending key order. Keys are stable per resource (a
	// row id) so a scan resumed after a key neither repeats nor skips one.
	// Scan reads in bounded batches and holds no transaction or open
	// statement while fn runs: fn writes files and checkpoints to the
	// database. resource is a JSON-marshalable FHIR resource. An error from
	// fn stops the scan and is returned as is.
	Scan(ctx context.Context, typ string, q Query, afterKey int64, fn func(key int64, resource any) error) error
}

// Groups resolves a Group export's members.
type Groups interface {
	// GroupMembers returns the patient (user) ids in the group;
	// apperr.NotFound for an unknown group.
	GroupMembers(ctx context.Context, groupID string) ([]int64, error)
}
