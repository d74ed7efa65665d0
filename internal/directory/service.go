package directory

import (
	"context"
	"fmt"
	"time"

	"ward/internal/audit"
)

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
	audit  audit.Recorder
	hasher PasswordHasher
	now    func() time.Time
	tree   *treeCache
	// purged are called after a purge commits, for what lives outside
	// the database (document content).
	purged []func(ctx context.Context, userID int64) error
	// revoker ends what a person holds outside the directory; nil revokes
	// nothing (tests of the directory alone).
	revoker Revoker
}

// Revoker ends the access a person holds outside the directory, inside the
// caller's transaction, so that a change which takes access away and the
// end of the tokens and sessions that carried it commit together or not at
// all. Implemented by the token and session stores (internal/sqlstore);
// the directory does not know OAuth.
//
//   - RevokeUserTokens ends every OAuth grant (codes, access and refresh
//     tokens) acting for the user, with every client.
//   - RevokePatientLaunchTokens ends every grant that reaches the patient
//     through a SMART launch context and acts for someone else.
//   - DeleteUserSessions signs the user out of every browser.
type Revoker interface {
	RevokeUserTokens(ctx context.Context, userID int64) (int, error)
	RevokePatientLaunchTokens(ctx context.Context, patientID int64) (int, error)
	DeleteUserSessions(ctx context.Context, userID int64) error
}

// RevokeWith makes r end a person's tokens and sessions when the directory
// takes their access away (see revokeUser). It is for wiring, before the
// Service is used.
func (s *Service) RevokeWith(r Revoker) { s.revoker = r }

// revokeUser ends every token and session of the user, in ctx's
// transaction. Called when the person is deleted (or merged away) and when
// a role is removed: which of their grants relied on the role cannot be
// told from a scope string (fhirUser, the patient picker, ward:api and
// service tokens all follow from roles), so every grant goes and the person
// signs in again under their new roles.
func (s *Service) revokeUser(ctx context.Context, userID int64) error {
	if s.revoker == nil {
		return nil
	}
	if _, err := s.revoker.RevokeUserTokens(ctx, userID); err != nil {
		return fmt.Errorf("revoke tokens of user %d: %w", userID, err)
	}
	if err := s.revoker.DeleteUserSessions(ctx, userID); err != nil {
		return fmt.Errorf("end sessions of user %d: %w", userID, err)
	}
	return nil
}

// revokePatientLaunches ends the grants others hold on the patient's launch
// context, in ctx's transaction, and returns how many it ended. Called when the patient's consent is
// withdrawn or deleted: a patient/ scope is checked against the staff
// member's reach once, at launch (internal/fhir/policy), so a launch made
// while the consent held would otherwise outlive it. A user/ scope needs no
// revocation: check_role judges it on every request. The patient's own
// sign-in is left alone, and all staff launches on the patient go, not only
// those of the organization concerned: a staff member who may still see the
// patient launches again.
func (s *Service) revokePatientLaunches(ctx context.Context, patientID int64) (int, error) {
	if s.revoker == nil {
		return 0, nil
	}
	n, err := s.revoker.RevokePatientLaunchTokens(ctx, patientID)
	if err != nil {
		return 0, fmt.Errorf("revoke launch tokens on patient %d: %w", patientID, err)
	}
	return n, nil
}

// OnPurged registers fn to run after a user's purge has committed, to
// remove what the database's cascade cannot reach (document files). It is
// for wiring, before the Service is used.
func (s *Service) OnPurged(fn func(ctx context.Context, userID int64) error) {
	s.purged = append(s.purged, fn)
}

// Deps are the collaborators a Service cannot work without.
type Deps struct {
	Store  Store
	Audit  audit.Recorder
	Hasher PasswordHasher
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
	return &Service{store: d.Store, audit: d.Audit, hasher: d.Hasher, now: cfg.Now, tree: &treeCache{}}
}

// NewUser is the input to CreateUser.
type NewUser struct {
	User     User // ID, Version, Registered, DeletedAt are ignored
	Password string
	Roles    []string
	OrgIDs   []int64
	// Identifiers are stored with the account, in the same transaction,
	// so a create that names an identifier another live user holds (in a
	// unique system) fails whole, with nothing half-made.
	Identifiers []Identifier
}
