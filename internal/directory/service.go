package directory

import (
	"context"
	"time"

	"ward/internal/audit"
)

// Auditor records audit events inside the caller's transaction.
type Auditor interface {
	Record(ctx context.Context, c audit.Context, subjectID int64, comment string) error
}

// PasswordHasher hashes and checks people's passwords (argon2id).
type PasswordHasher interface {
	Hash(password string) (string, error)
}

// Permission is what check_role is asked about.
type Permission string

// Permissions.
const (
	View Permission = "view"
	Edit Permission = "edit"
)

// Service is the directory's use cases. Every method reads the acting user
// from ctx (internal/actor), checks permission through CheckRole, runs its
// writes and their audit event in one transaction, and returns apperr errors.
type Service struct {
	store  Store
	audit  Auditor
	hasher PasswordHasher
	now    func() time.Time
	tree   *treeCache
	// purged are called after a purge commits, for what lives outside
	// the database (document content).
	purged []func(ctx context.Context, userID int64) error
}

// OnPurged registers fn to run after a user's purge has committed, to
// remove what the database's cascade cannot reach (document files). It is
// for wiring, before the Service is used.
func (s *Service) OnPurged(fn func(ctx context.Context, userID int64) error) {
	s.purged = append(s.purged, fn)
}

// NewService wires a Service. now may be nil (time.Now).
func NewService(st Store, a Auditor, h PasswordHasher, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: st, audit: a, hasher: h, now: now, tree: &treeCache{}}
}

// NewUser is the input to CreateUser.
type NewUser struct {
	User     User // ID, Version, Registered, DeletedAt are ignored
	Password string
	Roles    []string
	OrgIDs   []int64
}
