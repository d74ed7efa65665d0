package directory

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/store"
)

// record writes one typed audit event inside the transaction carried by
// ctx; its comment is format and args.
func (s *Service) record(ctx context.Context, c audit.Change, format string, args ...any) error {
	c.Comment = fmt.Sprintf(format, args...)
	if err := s.audit.Record(ctx, c); err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// maxSearchScan bounds how many candidate users one SearchUsers call
// examines for a caller who may only see some of them; a page may then come
// back short with a cursor to continue from.
const maxSearchScan = 2000

// accountManagers are the roles that may create accounts, and so manage
// people at all; who among the people each may then see or change is
// check_role's to decide, person by person.
var accountManagers = []string{RoleAdmin, RoleService, RoleStaff, RoleStaffAdmin, RoleClinician}

// CheckManagesAccounts returns nil when the caller is one who may create
// accounts (ward itself, admins, service accounts, staff, staff admins,
// clinicians), Forbidden otherwise (Unauthenticated when anonymous). A
// people-management face (the admin console) asks it before listing
// people, so a developer or a patient, who may view only themselves, is
// told plainly that this is not theirs rather than shown a directory of one.
func (s *Service) CheckManagesAccounts(ctx context.Context) error {
	r := s.newRequest(ctx)
	if r.who.Anonymous() {
		return apperr.New(apperr.Unauthenticated, "sign in first")
	}
	return r.requireAnyRole(ctx, "manage people", accountManagers...)
}

// CreateUser creates an account. ward itself, admins, service accounts and
// staff (staff, staff_admin, clinician) may create accounts; roles given must
// be ones the caller may grant, and a caller who is not an admin may only
// place the new user in organizations at or below their own, so nobody can
// create an account they could not then manage.
func (s *Service) CreateUser(ctx context.Context, in NewUser) (*User, error) {
	r := s.newRequest(ctx)
	if err := r.requireAnyRole(ctx, "create accounts", accountManagers...); err != nil {
		return nil, err
	}
	u := in.User
	u.ID, u.Version, u.DeletedAt, u.PasswordHash = 0, 0, nil, ""
	u.Registered, u.UpdatedAt = s.now(), s.now()
	if err := validateUser(&u, s.now()); err != nil {
		return nil, err
	}
	roles, err := validateRoleNames(in.Roles)
	if err != nil {
		return nil, err
	}
	if err := r.checkGrant(ctx, roles); err != nil {
		return nil, err
	}
	orgIDs := dedupeIDs(in.OrgIDs)
	if err := r.checkOrgs(ctx, orgIDs); err != nil {
		return nil, err
	}
	idents, err := newUserIdentifiers(in.Identifiers)
	if err != nil {
		return nil, err
	}
	if in.Password != "" {
		if err := ValidatePassword(in.Password, u.Email); err != nil {
			return nil, err
		}
		if u.PasswordHash, err = s.hasher.Hash(in.Password); err != nil {
			return nil, fmt.Errorf("hash password: %w", err)
		}
	}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.CreateUser(ctx, &u); err != nil {
			return err
		}
		if len(roles) > 0 {
			if err := s.store.SetUserRoles(ctx, u.ID, roles); err != nil {
				return err
			}
		}
		if len(orgIDs) > 0 {
			if err := s.store.SetUserOrganizations(ctx, u.ID, orgIDs); err != nil {
				return err
			}
		}
		for _, id := range idents {
			if err := s.store.AddUserIdentifier(ctx, u.ID, id, IdentifierSystemUnique(id.System)); err != nil {
				return err
			}
		}
		created := audit.Change{Type: audit.UserCreated, Subject: audit.UserRef(u.ID), SubjectID: u.ID,
			Fields: map[string]any{"roles": roles, "organizations": orgIDs}}
		if len(idents) > 0 {
			created.Fields["identifiers"] = identifierList(idents)
			return s.record(ctx, created, "created account %d with roles [%s], organizations %v and identifiers [%s]",
				u.ID, strings.Join(roles, ", "), orgIDs, identifierList(idents))
		}
		return s.record(ctx, created, "created account %d with roles [%s] and organizations %v",
			u.ID, strings.Join(roles, ", "), orgIDs)
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// newUserIdentifiers trims and checks the identifiers of a new account,
// dropping exact repeats (the store keeps one row per system and value).
func newUserIdentifiers(in []Identifier) ([]Identifier, error) {
	if len(in) > maxNewUserIdentifiers {
		return nil, apperr.New(apperr.Invalid, "at most %d identifiers on a new account", maxNewUserIdentifiers)
	}
	var out []Identifier
	for _, id := range in {
		id.System, id.Value = strings.TrimSpace(id.System), strings.TrimSpace(id.Value)
		if err := validateIdentifier(id); err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(out, func(o Identifier) bool { return o.System == id.System && o.Value == id.Value }) {
			out = append(out, id)
		}
	}
	return out, nil
}

// maxNewUserIdentifiers bounds the identifiers one create may carry: each is
// a uniqueness check and a row inside the create's transaction.
const maxNewUserIdentifiers = 32

func identifierList(ids []Identifier) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = id.System + "|" + id.Value
	}
	return strings.Join(parts, ", ")
}

// GetUser returns a user the caller may view. A deleted user is Forbidden
// to everyone but admins and ward itself.
func (s *Service) GetUser(ctx context.Context, id int64) (*User, error) {
	return s.newRequest(ctx).check(ctx, View, id)
}

// Me returns the signed-in user.
func (s *Service) Me(ctx context.Context) (*User, error) {
	a := actor.From(ctx)
	if a.UserID == 0 {
		return nil, apperr.New(apperr.Unauthenticated, "sign in first")
	}
	u, err := s.store.GetUser(ctx, a.UserID)
	if apperr.Is(err, apperr.NotFound) || (err == nil && !u.Active()) {
		return nil, apperr.New(apperr.Unauthenticated, "the signed-in account no longer exists")
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// SearchUsers returns the users matching f that the caller may view, in id
// order. Admins, service accounts and ward itself search directly; anyone
// else has each candidate checked by check_role, examining at most
// maxSearchScan candidates per call (the returned cursor continues after the
// last one examined, so a short page does not mean the end). Only admins may
// include deleted users.
func (s *Service) SearchUsers(ctx context.Context, f UserFilter, p store.Page) ([]*User, string, error) {
	p = p.Normalize()
	r := s.newRequest(ctx)
	if r.who.Anonymous() {
		return nil, "", apperr.New(apperr.Unauthenticated, "sign in first")
	}
	if f.Role != "" && !IsRole(f.Role) {
		return nil, "", apperr.New(apperr.Invalid, "unknown role %q", f.Role)
	}
	for _, role := range f.Roles {
		if !IsRole(role) {
			return nil, "", apperr.New(apperr.Invalid, "unknown role %q", role)
		}
	}
	if f.Identifier != nil {
		if err := validateIdentifier(*f.Identifier); err != nil {
			return nil, "", err
		}
	}
	admin, err := r.isAdmin(ctx)
	if err != nil {
		return nil, "", err
	}
	if admin {
		return s.store.SearchUsers(ctx, f, p)
	}
	if f.IncludeDeleted {
		return nil, "", apperr.New(apperr.Forbidden, "only an administrator may search deleted users")
	}
	if a, err := r.actorParty(ctx); err != nil {
		return nil, "", err
	} else if a.HasRole(RoleService) {
		return s.store.SearchUsers(ctx, f, p) // rule 3: may view every live user
	}
	after, err := store.DecodeCursor(p.After)
	if err != nil {
		return nil, "", err
	}
	var out []*User
	scanned := 0
	for {
		batch, next, err := s.store.SearchUsers(ctx, f, store.Page{Limit: p.Limit, After: store.EncodeCursor(after)})
		if err != nil {
			return nil, "", err
		}
		for _, u := range batch {
			after = u.ID
			scanned++
			d, err := r.decide(ctx, View, u)
			if err != nil {
				return nil, "", err
			}
			if d.Allowed {
				out = append(out, u)
				if len(out) == p.Limit {
					return out, store.EncodeCursor(after), nil
				}
			}
		}
		if next == "" {
			return out, "", nil
		}
		if scanned >= maxSearchScan {
			return out, store.EncodeCursor(after), nil
		}
	}
}

// immutableUserFields restores what UpdateUser's callback may not change:
// identity, password (SetPassword), deletion (DeleteUser/ReactivateUser),
// registration and versioning.
func immutableUserFields(dst, src *User) {
	dst.ID = src.ID
	dst.PasswordHash = src.PasswordHash
	dst.Registered = src.Registered
	dst.DeletedAt = src.DeletedAt
	dst.Version = src.Version
	dst.UpdatedAt = src.UpdatedAt
	dst.ConfirmedAt = src.ConfirmedAt
}

// UpdateUser applies fn to the user (read-modify-write in one transaction)
// when the caller may edit them, then validates and stores the result. The
// optimistic version check in the store turns a concurrent edit into
// Conflict instead of a lost update.
func (s *Service) UpdateUser(ctx context.Context, id int64, fn func(*User) error) (*User, error) {
	r := s.newRequest(ctx)
	var out *User
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		cur, err := r.check(ctx, Edit, id)
		if err != nil {
			return err
		}
		next := cloneUser(cur)
		if err := fn(next); err != nil {
			return err
		}
		immutableUserFields(next, cur)
		if err := validateUser(next, s.now()); err != nil {
			return err
		}
		changed := changedUserFields(cur, next)
		if len(changed) == 0 {
			out = cur
			return nil
		}
		if err := s.store.UpdateUser(ctx, next); err != nil {
			return err
		}
		out = next
		return s.record(ctx, audit.Change{Type: audit.UserUpdated, Subject: audit.UserRef(id), SubjectID: id,
			Fields: map[string]any{"changed": changed}}, "updated user %d: %s", id, strings.Join(changed, ", "))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// cloneUser copies u deeply enough that a callback editing slices of the
// copy cannot change the original (used to compute what changed).
func cloneUser(u *User) *User {
	c := *u
	c.Races = slices.Clone(u.Races)
	c.Ethnicities = slices.Clone(u.Ethnicities)
	c.Indigenous = slices.Clone(u.Indigenous)
	return &c
}

// changedUserFields names the fields that differ, for the audit comment.
func changedUserFields(a, b *User) []string {
	var out []string
	add := func(name string, changed bool) {
		if changed {
			out = append(out, name)
		}
	}
	add("email", a.Email != b.Email)
	add("name", a.GivenName != b.GivenName || a.FamilyName != b.FamilyName)
	add("birthDate", a.BirthDate != b.BirthDate)
	add("gender", a.Gender != b.Gender)
	add("phone", a.Phone != b.Phone || a.AltPhone != b.AltPhone)
	add("locale", a.Locale != b.Locale)
	add("timezone", a.Timezone != b.Timezone)
	add("deceased", a.Deceased != b.Deceased || !timePtrEqual(a.DeceasedAt, b.DeceasedAt))
	add("photo", a.ImageURL != b.ImageURL)
	add("race", !slices.Equal(a.Races, b.Races))
	add("ethnicity", !slices.Equal(a.Ethnicities, b.Ethnicities))
	add("indigenous", !slices.Equal(a.Indigenous, b.Indigenous))
	add("generalPractitioner", a.GeneralPractitionerID != b.GeneralPractitionerID)
	return out
}

// DeleteUser soft-deletes a user: the row stays (audit events point at it)
// but the user can no longer sign in and is hidden from searches. Staff,
// staff admins and admins may delete users they may edit.
func (s *Service) DeleteUser(ctx context.Context, id int64) error {
	r := s.newRequest(ctx)
	if err := r.requireAnyRole(ctx, "delete accounts", RoleAdmin, RoleStaffAdmin, RoleStaff); err != nil {
		return err
	}
	return s.store.InTx(ctx, func(ctx context.Context) error {
		u, err := r.check(ctx, Edit, id)
		if err != nil {
			return err
		}
		if !u.Active() {
			return apperr.New(apperr.Conflict, "user %d is already deleted", id)
		}
		at := s.now()
		if err := s.store.SetUserDeleted(ctx, id, &at); err != nil {
			return err
		}
		// A deleted person's tokens and sessions end with them, for good:
		// reactivating them later does not bring any back.
		if err := s.revokeUser(ctx, id); err != nil {
			return err
		}
		return s.record(ctx, audit.Change{Type: audit.UserDeleted, Subject: audit.UserRef(id), SubjectID: id}, "marked user %d deleted; their tokens and sessions revoked", id)
	})
}

// ReactivateUser undoes DeleteUser. The permission is judged as if the user
// were live (a staff member who could edit the patient before may bring
// them back); Conflict when the user is not deleted, or when another live
// user has taken the email meanwhile.
func (s *Service) ReactivateUser(ctx context.Context, id int64) (*User, error) {
	r := s.newRequest(ctx)
	if err := r.requireAnyRole(ctx, "reactivate accounts", RoleAdmin, RoleStaffAdmin, RoleStaff); err != nil {
		return nil, err
	}
	var out *User
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		u, err := r.checkAllowDeleted(ctx, Edit, id)
		if err != nil {
			return err
		}
		if u.Active() {
			return apperr.New(apperr.Conflict, "user %d is not deleted", id)
		}
		if err := s.store.SetUserDeleted(ctx, id, nil); err != nil {
			return err
		}
		if err := s.record(ctx, audit.Change{Type: audit.UserReactivated, Subject: audit.UserRef(id), SubjectID: id}, "reactivated user %d", id); err != nil {
			return err
		}
		out, err = s.store.GetUser(ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PurgeUser permanently removes a user and everything that belongs to them
// except audit events (which keep the id). Admins and ward itself only; an
// admin cannot purge their own account.
func (s *Service) PurgeUser(ctx context.Context, id int64) error {
	r := s.newRequest(ctx)
	if err := r.requireAdmin(ctx, "permanently delete users"); err != nil {
		return err
	}
	if id == r.who.UserID {
		return apperr.New(apperr.Invalid, "you cannot permanently delete your own account")
	}
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		u, err := s.store.GetUser(ctx, id)
		if err != nil {
			return notFoundUser(err, id)
		}
		// Audit first: the event names the user while the row still exists,
		// and survives the purge.
		if err := s.record(ctx, audit.Change{Type: audit.UserPurged, Subject: audit.UserRef(id), SubjectID: id}, "permanently deleted user %d (%s)", id, u.Email); err != nil {
			return err
		}
		return s.store.PurgeUser(ctx, id)
	})
	if err != nil {
		return err
	}
	// The rows are gone; what they pointed to outside the database goes
	// now. A failure here leaves files nothing refers to, reported to the
	// caller so it can retry (the cleanup is idempotent).
	for _, fn := range s.purged {
		if err := fn(ctx, id); err != nil {
			return fmt.Errorf("user %d purged, but removing their stored files failed: %w", id, err)
		}
	}
	return nil
}

// MergeUsers moves roles, organizations, identifiers, relationships, groups,
// profiles, consents and ToUs from one user to another (the reference's
// merge_with, used when an invited account and a self-registered account
// turn out to be the same person), then soft-deletes the source. Admins and
// ward itself only. The source keeps its email: a soft-deleted user does not
// hold the unique email, so the caller may then set it on the target.
func (s *Service) MergeUsers(ctx context.Context, fromID, toID int64) error {
	r := s.newRequest(ctx)
	if err := r.requireAdmin(ctx, "merge users"); err != nil {
		return err
	}
	if fromID == toID {
		return apperr.New(apperr.Invalid, "cannot merge user %d into itself", fromID)
	}
	return s.store.InTx(ctx, func(ctx context.Context) error {
		// Both users' sets change, and the checks below must hold when
		// they do; lock in id order so two merges of one pair cannot wait
		// on each other.
		for _, id := range []int64{min(fromID, toID), max(fromID, toID)} {
			if err := s.store.LockUser(ctx, id); err != nil {
				return err
			}
		}
		from, err := s.store.GetUser(ctx, fromID)
		if err != nil {
			return notFoundUser(err, fromID)
		}
		to, err := s.store.GetUser(ctx, toID)
		if err != nil {
			return notFoundUser(err, toID)
		}
		if !from.Active() {
			return apperr.New(apperr.Conflict, "user %d is deleted and cannot be merged", fromID)
		}
		if !to.Active() {
			return apperr.New(apperr.Conflict, "user %d is deleted and cannot receive a merge", toID)
		}
		if err := s.store.MoveUserData(ctx, fromID, toID); err != nil {
			return err
		}
		at := s.now()
		if err := s.store.SetUserDeleted(ctx, fromID, &at); err != nil {
			return err
		}
		if err := s.revokeUser(ctx, fromID); err != nil {
			return err
		}
		if err := s.record(ctx, audit.Change{Type: audit.UserMerged, Subject: audit.UserRef(fromID), SubjectID: fromID,
			Fields: map[string]any{"from": fromID, "into": toID}}, "merged user %d into user %d and marked it deleted; its tokens and sessions revoked", fromID, toID); err != nil {
			return err
		}
		return s.record(ctx, audit.Change{Type: audit.UserMerged, Subject: audit.UserRef(toID), SubjectID: toID,
			Fields: map[string]any{"from": fromID, "into": toID}}, "merged user %d into user %d", fromID, toID)
	})
}

// SetPassword sets a user's password. Only the user themselves, an admin or
// ward itself may: staff who may edit a patient's demographics may not take
// over their sign-in.
func (s *Service) SetPassword(ctx context.Context, id int64, password string) error {
	r := s.newRequest(ctx)
	if r.who.Anonymous() {
		return apperr.New(apperr.Unauthenticated, "sign in first")
	}
	if id != r.who.UserID {
		if err := r.requireAdmin(ctx, "set another user's password"); err != nil {
			return err
		}
	}
	// Fail fast on a bad target before spending an argon2 hash on it.
	target, err := r.check(ctx, Edit, id)
	if err != nil {
		return err
	}
	if err := ValidatePassword(password, target.Email); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(password)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	return s.store.InTx(ctx, func(ctx context.Context) error {
		u, err := r.check(ctx, Edit, id)
		if err != nil {
			return err
		}
		u.PasswordHash = hash
		if err := s.store.UpdateUser(ctx, u); err != nil {
			return err
		}
		return s.record(ctx, audit.Change{Type: audit.UserPasswordChanged, Subject: audit.UserRef(id), SubjectID: id}, "password changed for user %d", id)
	})
}

// notFoundUser turns a store NotFound into a message naming the user.
func notFoundUser(err error, id int64) error {
	if apperr.Is(err, apperr.NotFound) {
		return apperr.New(apperr.NotFound, "user %d not found", id)
	}
	return err
}

// dedupeIDs returns ids sorted without duplicates.
func dedupeIDs(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}
