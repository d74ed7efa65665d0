package directory

import (
	"context"
	"time"

	"ward/internal/store"
)

// Store persists the directory. Every method joins the transaction carried in
// ctx, if any (see store.Transactor). Contract for every implementation, checked
// by internal/sqlstore/storetest:
//
//   - Lookups of a missing row return an apperr NotFound error.
//   - Unique violations (live user email, organization identifier, a unique
//     user identifier held by another live user) return apperr Conflict.
//   - Foreign-key violations (unknown organization, unknown role) return
//     apperr Invalid.
//   - Slices come back in a stable order (by id, or by name for names) and
//     nil-vs-empty is not significant.
//
// Locking contract: a change to one of a user's sets (roles, organizations,
// identifiers, relationships, groups, profiles, consents, terms of use)
// that reads the set before writing it runs in one transaction that calls
// LockUser(user) before that read. Concurrent such transactions on one user
// then run one after another, so none works from a stale read and undoes
// another's change (issue 9: lost organization adds). Adds that need no
// read are single statements (AddUserOrganizations) that report what
// actually changed, and the Set* methods write only the difference, so a
// row kept across a replace is never deleted and inserted again.
type Store interface {
	store.Transactor

	// CreateUser inserts u, setting u.ID, u.Version=1 and u.UpdatedAt.
	CreateUser(ctx context.Context, u *User) error
	// GetUser returns the user, including a soft-deleted one.
	GetUser(ctx context.Context, id int64) (*User, error)
	// GetUserByEmail returns the live user with that email (case-insensitive).
	GetUserByEmail(ctx context.Context, email string) (*User, error)
	// UpdateUser writes every field of u, bumping Version; u.Version must
	// equal the stored version (else Conflict), so concurrent edits do not
	// silently overwrite each other.
	UpdateUser(ctx context.Context, u *User) error
	// SetUserDeleted sets or clears deleted_at (soft delete / reactivate).
	SetUserDeleted(ctx context.Context, id int64, at *time.Time) error
	// PurgeUser removes the user and every row that belongs to them except
	// audit events (which keep the id as a number).
	PurgeUser(ctx context.Context, id int64) error
	// SearchUsers returns users matching f in id order after the cursor.
	SearchUsers(ctx context.Context, f UserFilter, p store.Page) ([]*User, string, error)
	// CountUsers returns how many users match f.
	CountUsers(ctx context.Context, f UserFilter) (int, error)
	// MoveUserData reassigns roles, organizations, identifiers, relationships,
	// groups, profiles, consents and ToUs from one user to another (merge);
	// rows the target already has are dropped from the source.
	MoveUserData(ctx context.Context, fromID, toID int64) error

	// LockUser takes an exclusive lock on the user for the rest of the
	// transaction in ctx, which it requires (outside one it is an error);
	// NotFound when the user does not exist. It excludes other LockUser
	// calls and updates of the user, never plain reads, and it does not
	// block inserts of rows that merely refer to the user.
	LockUser(ctx context.Context, id int64) error

	// UserRoles returns the role names a user holds, sorted.
	UserRoles(ctx context.Context, userID int64) ([]string, error)
	// SetUserRoles replaces the user's roles with names, writing only the
	// difference.
	SetUserRoles(ctx context.Context, userID int64, names []string) error
	// EnsureStaticData inserts the static roles and relationships that are
	// missing; running it again changes nothing.
	EnsureStaticData(ctx context.Context) error

	// CreateOrganization inserts o, setting o.ID and o.Version=1.
	CreateOrganization(ctx context.Context, o *Organization) error
	// GetOrganization returns the organization.
	GetOrganization(ctx context.Context, id int64) (*Organization, error)
	// GetOrganizationByIdentifier returns the organization holding (system, value).
	GetOrganizationByIdentifier(ctx context.Context, system, value string) (*Organization, error)
	// UpdateOrganization replaces every field of o, bumping Version.
	UpdateOrganization(ctx context.Context, o *Organization) error
	// DeleteOrganization removes an organization; Conflict if it has children,
	// members or consents.
	DeleteOrganization(ctx context.Context, id int64) error
	// ListOrganizations returns organizations in id order after the cursor;
	// ids restricts to those ids when non-nil.
	ListOrganizations(ctx context.Context, ids []int64, p store.Page) ([]*Organization, string, error)
	// CountOrganizations returns how many organizations exist (a searchset's total).
	CountOrganizations(ctx context.Context) (int, error)
	// OrgEdges returns every (id, parent) pair, for building the OrgTree.
	OrgEdges(ctx context.Context) ([]OrgEdge, error)
	// OrgTreeVersion returns a counter bumped by every organization insert,
	// parent change or delete; caches compare it to know they are stale.
	OrgTreeVersion(ctx context.Context) (int64, error)

	// UserOrganizations returns the ids of the user's organizations, sorted.
	UserOrganizations(ctx context.Context, userID int64) ([]int64, error)
	// SetUserOrganizations replaces the user's organizations, writing only
	// the difference.
	SetUserOrganizations(ctx context.Context, userID int64, orgIDs []int64) error
	// AddUserOrganizations adds organizations the user does not have yet,
	// one insert-if-absent statement each, and returns those it added (in
	// the order given); ids the user already has are skipped. Invalid for
	// an unknown organization.
	AddUserOrganizations(ctx context.Context, userID int64, orgIDs []int64) ([]int64, error)

	// UserIdentifiers returns the user's identifiers.
	UserIdentifiers(ctx context.Context, userID int64) ([]Identifier, error)
	// AddUserIdentifier attaches id; Conflict when a live other user holds
	// the same (system, value) and unique is true.
	AddUserIdentifier(ctx context.Context, userID int64, id Identifier, unique bool) error
	// RemoveUserIdentifier detaches id.
	RemoveUserIdentifier(ctx context.Context, userID int64, id Identifier) error

	// Relationships returns relationships where the user is either side.
	Relationships(ctx context.Context, userID int64) ([]UserRelationship, error)
	// SetRelationships replaces the relationships where userID is the subject.
	SetRelationships(ctx context.Context, userID int64, rels []UserRelationship) error

	// Groups returns every group, sorted by name.
	Groups(ctx context.Context) ([]Group, error)
	// CreateGroup inserts g, setting g.ID; Conflict on a duplicate name.
	CreateGroup(ctx context.Context, g *Group) error
	// UserGroups returns the user's groups, sorted by name.
	UserGroups(ctx context.Context, userID int64) ([]Group, error)
	// SetUserGroups replaces the user's groups with those ids, writing only
	// the difference.
	SetUserGroups(ctx context.Context, userID int64, groupIDs []int64) error

	// UserProfiles returns the user's profiles sorted by (type, id).
	UserProfiles(ctx context.Context, userID int64) ([]Profile, error)
	// SetUserProfiles replaces the user's profiles.
	SetUserProfiles(ctx context.Context, userID int64, ps []Profile) error
	// IDCard returns the user (live or soft-deleted; NotFound when
	// absent) with their groups sorted by name, profiles sorted by (type,
	// id) and last sign-in (nil when never), read together.
	IDCard(ctx context.Context, id int64) (*IDCard, error)

	// Consents returns the user's consents, including deleted ones, newest first.
	Consents(ctx context.Context, userID int64) ([]Consent, error)
	// CreateConsent inserts c, setting c.ID.
	CreateConsent(ctx context.Context, c *Consent) error
	// UpdateConsent writes status, options, expiry and deletion of c.
	UpdateConsent(ctx context.Context, c *Consent) error
	// PatientsConsentedTo returns the ids of live patients (role patient)
	// with a valid consent at now to any of orgIDs, in id order after
	// afterID, at most limit. It is what "which patients may this staff user
	// see" runs on, so it must use an index and not scan all users.
	PatientsConsentedTo(ctx context.Context, orgIDs []int64, now time.Time, afterID int64, limit int) ([]int64, error)
	// CountPatientsConsentedTo returns how many patients PatientsConsentedTo
	// would list from the start (a Group's quantity).
	CountPatientsConsentedTo(ctx context.Context, orgIDs []int64, now time.Time) (int, error)
	// PatientsWithGeneralPractitioner returns the ids of live patients whose
	// GeneralPractitionerID is practitionerID, in id order after afterID,
	// at most limit; an index range, not a scan of users.
	PatientsWithGeneralPractitioner(ctx context.Context, practitionerID, afterID int64, limit int) ([]int64, error)
	// CountPatientsWithGeneralPractitioner returns how many patients
	// PatientsWithGeneralPractitioner would list from the start.
	CountPatientsWithGeneralPractitioner(ctx context.Context, practitionerID int64) (int, error)
	// GeneralPractitioners returns, in id order after afterID and at most
	// limit, the live users holding a practitioner role (PractitionerRoles)
	// who are the general practitioner of at least one live patient.
	GeneralPractitioners(ctx context.Context, afterID int64, limit int) ([]int64, error)
	// CountGeneralPractitioners returns how many users GeneralPractitioners
	// would list from the start.
	CountGeneralPractitioners(ctx context.Context) (int, error)

	// ScanUsers calls fn for every user matching f with id > afterID, in id
	// order. Rows are read in batches, so memory stays bounded however
	// many users match, and fn may call the store; an error from fn stops
	// the scan and is returned. It is what bulk export runs on.
	ScanUsers(ctx context.Context, f UserFilter, afterID int64, fn func(*User) error) error
	// UserIdentifiersFor returns the identifiers of each of ids in one
	// round trip (users without identifiers are absent from the map).
	UserIdentifiersFor(ctx context.Context, ids []int64) (map[int64][]Identifier, error)
	// UserOrganizationsFor returns the sorted organization ids of each of
	// ids in one round trip (users without organizations are absent).
	UserOrganizationsFor(ctx context.Context, ids []int64) (map[int64][]int64, error)

	// ToUs returns the user's terms-of-use agreements, newest first.
	ToUs(ctx context.Context, userID int64) ([]ToU, error)
	// AddToU records an accepted agreement, deactivating earlier ones of the same type.
	AddToU(ctx context.Context, t *ToU) error

	// SharedIntervention reports whether two users are both enrolled in at least one intervention.
	SharedIntervention(ctx context.Context, a, b int64) (bool, error)
}

// OrgEdge is an organization and its parent (0 for none).
type OrgEdge struct {
	ID       int64
	ParentID int64
}
