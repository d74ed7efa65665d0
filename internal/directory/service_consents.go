package directory

import (
	"context"
	"strings"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/store"
)

// Consents returns every consent of a user the caller may view, including
// withdrawn, expired and deleted ones (the history matters), newest first.
func (s *Service) Consents(ctx context.Context, id int64) ([]Consent, error) {
	if _, err := s.newRequest(ctx).check(ctx, View, id); err != nil {
		return nil, err
	}
	return s.store.Consents(ctx, id)
}

// AddConsent records that c.UserID consents to share data with
// c.OrganizationID. Defaults: status consented, accepted now, expiring
// DefaultConsentLifetime later. A live consent with the same organization is
// replaced (marked deleted by the caller), as the reference's
// update_consents does.
//
// Permission: edit over the user, or, for a staff member adding a consent
// to a patient of their own branch (the patient's organization and the
// consent's organization both at or below the staff member's), which is how
// a clinic records the consent of a patient it has just registered and
// cannot yet edit.
func (s *Service) AddConsent(ctx context.Context, c *Consent) (*Consent, error) {
	n := *c
	n.ID, n.DeletedAt, n.DeletedBy = 0, nil, 0
	now := s.now()
	if n.Status == "" {
		n.Status = ConsentConsented
	}
	if n.Status != ConsentConsented && n.Status != ConsentSuspended {
		return nil, apperr.New(apperr.Invalid, "consent status must be consented or suspended, not %q", n.Status)
	}
	if n.AcceptanceDate.IsZero() {
		n.AcceptanceDate = now
	}
	if n.AcceptanceDate.After(now) {
		return nil, apperr.New(apperr.Invalid, "consent acceptance date is in the future")
	}
	if n.ExpiresAt.IsZero() {
		n.ExpiresAt = n.AcceptanceDate.Add(DefaultConsentLifetime)
	}
	if !n.ExpiresAt.After(n.AcceptanceDate) {
		return nil, apperr.New(apperr.Invalid, "consent must expire after it was accepted")
	}
	if n.AgreementURL != "" {
		if err := validateURL("agreement URL", n.AgreementURL); err != nil {
			return nil, err
		}
	}
	if n.OrganizationID <= 0 {
		return nil, apperr.New(apperr.Invalid, "consent needs an organization")
	}
	r := s.newRequest(ctx)
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		tree, err := r.orgTree(ctx)
		if err != nil {
			return err
		}
		if !tree.Contains(n.OrganizationID) {
			return apperr.New(apperr.Invalid, "organization %d does not exist", n.OrganizationID)
		}
		if err := r.checkConsentWrite(ctx, n.UserID, n.OrganizationID); err != nil {
			return err
		}
		// Two concurrent adds with one organization must not both find no
		// live consent and leave two: see Store's locking contract.
		if err := s.store.LockUser(ctx, n.UserID); err != nil {
			return err
		}
		cur, err := s.store.Consents(ctx, n.UserID)
		if err != nil {
			return err
		}
		for i := range cur {
			old := &cur[i]
			if old.OrganizationID != n.OrganizationID || old.DeletedAt != nil {
				continue
			}
			if err := s.markConsentDeleted(ctx, r, old); err != nil {
				return err
			}
		}
		if err := s.store.CreateConsent(ctx, &n); err != nil {
			return err
		}
		return s.record(ctx, audit.Change{Type: audit.ConsentCreated, Subject: audit.Ref("Consent", n.ID), SubjectID: n.UserID,
			Fields: map[string]any{"organization": n.OrganizationID, "status": n.Status, "expires": n.ExpiresAt.UTC().Format("2006-01-02")}},
			"consent %d of user %d with organization %d: %s, expires %s",
			n.ID, n.UserID, n.OrganizationID, n.Status, n.ExpiresAt.UTC().Format("2006-01-02"))
	})
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// checkConsentWrite is the permission for AddConsent (see there).
func (r *request) checkConsentWrite(ctx context.Context, userID, orgID int64) error {
	_, err := r.check(ctx, Edit, userID)
	if err == nil || !apperr.Is(err, apperr.Forbidden) {
		return err
	}
	a, aerr := r.actorParty(ctx)
	if aerr != nil {
		return aerr
	}
	if !a.HasRole(RoleStaff, RoleStaffAdmin, RoleClinician) {
		return err
	}
	u, gerr := r.s.store.GetUser(ctx, userID)
	if gerr != nil || !u.Active() {
		return err
	}
	roles, rerr := r.s.store.UserRoles(ctx, userID)
	if rerr != nil {
		return rerr
	}
	if !(&Party{Roles: roles}).HasRole(RolePatient) {
		return err
	}
	orgs, oerr := r.s.store.UserOrganizations(ctx, userID)
	if oerr != nil {
		return oerr
	}
	tree, terr := r.orgTree(ctx)
	if terr != nil {
		return terr
	}
	if !inBranch(tree, a.Orgs, orgID) {
		return err
	}
	for _, o := range orgs {
		if inBranch(tree, a.Orgs, o) {
			return nil
		}
	}
	return err
}

// markConsentDeleted keeps the row and records who deleted it.
func (s *Service) markConsentDeleted(ctx context.Context, r *request, c *Consent) error {
	at := s.now()
	c.DeletedAt, c.DeletedBy, c.Status = &at, r.who.UserID, ConsentDeleted
	return s.store.UpdateConsent(ctx, c)
}

// liveConsent finds the user's undeleted consent with orgID.
func (s *Service) liveConsent(ctx context.Context, userID, orgID int64) (*Consent, error) {
	cs, err := s.store.Consents(ctx, userID)
	if err != nil {
		return nil, err
	}
	for i := range cs {
		if cs[i].OrganizationID == orgID && cs[i].DeletedAt == nil {
			return &cs[i], nil
		}
	}
	return nil, apperr.New(apperr.NotFound, "user %d has no consent with organization %d", userID, orgID)
}

// DeleteConsent marks the user's consent with the organization deleted; the
// row stays with who deleted it and when.
func (s *Service) DeleteConsent(ctx context.Context, userID, orgID int64) error {
	r := s.newRequest(ctx)
	return s.store.InTx(ctx, func(ctx context.Context) error {
		if _, err := r.check(ctx, Edit, userID); err != nil {
			return err
		}
		if err := s.store.LockUser(ctx, userID); err != nil {
			return err
		}
		c, err := s.liveConsent(ctx, userID, orgID)
		if err != nil {
			return err
		}
		if err := s.markConsentDeleted(ctx, r, c); err != nil {
			return err
		}
		n, err := s.revokePatientLaunches(ctx, userID)
		if err != nil {
			return err
		}
		return s.record(ctx, audit.Change{Type: audit.ConsentDeleted, Subject: audit.Ref("Consent", c.ID), SubjectID: userID,
			Fields: map[string]any{"organization": orgID, "launches_revoked": n}}, "deleted consent %d of user %d with organization %d; %d launch tokens of others revoked", c.ID, userID, orgID, n)
	})
}

// WithdrawConsent suspends the user's consent with the organization: it
// stops counting for access but stays on record. Conflict when it is not
// currently consented.
func (s *Service) WithdrawConsent(ctx context.Context, userID, orgID int64) (*Consent, error) {
	r := s.newRequest(ctx)
	var out *Consent
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if _, err := r.check(ctx, Edit, userID); err != nil {
			return err
		}
		if err := s.store.LockUser(ctx, userID); err != nil {
			return err
		}
		c, err := s.liveConsent(ctx, userID, orgID)
		if err != nil {
			return err
		}
		if c.Status != ConsentConsented {
			return apperr.New(apperr.Conflict, "consent of user %d with organization %d is %s, not consented", userID, orgID, c.Status)
		}
		c.Status = ConsentSuspended
		if err := s.store.UpdateConsent(ctx, c); err != nil {
			return err
		}
		n, err := s.revokePatientLaunches(ctx, userID)
		if err != nil {
			return err
		}
		out = c
		return s.record(ctx, audit.Change{Type: audit.ConsentWithdrawn, Subject: audit.Ref("Consent", c.ID), SubjectID: userID,
			Fields: map[string]any{"organization": orgID, "launches_revoked": n}}, "withdrew consent %d of user %d with organization %d; %d launch tokens of others revoked", c.ID, userID, orgID, n)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ToUs returns the terms-of-use agreements of a user the caller may view.
func (s *Service) ToUs(ctx context.Context, id int64) ([]ToU, error) {
	if _, err := s.newRequest(ctx).check(ctx, View, id); err != nil {
		return nil, err
	}
	return s.store.ToUs(ctx, id)
}

// AcceptToU records that t.UserID accepted an agreement (earlier ones of
// the same type stop being active).
func (s *Service) AcceptToU(ctx context.Context, t *ToU) (*ToU, error) {
	n := *t
	n.ID, n.Active = 0, true
	n.Type = strings.TrimSpace(n.Type)
	if n.Type == "" || len(n.Type) > maxShortField {
		return nil, apperr.New(apperr.Invalid, "terms of use type is required (at most %d bytes)", maxShortField)
	}
	if err := validateURL("agreement URL", n.URL); err != nil {
		return nil, err
	}
	now := s.now()
	if n.AcceptedAt.IsZero() {
		n.AcceptedAt = now
	}
	if n.AcceptedAt.After(now) {
		return nil, apperr.New(apperr.Invalid, "terms of use acceptance date is in the future")
	}
	r := s.newRequest(ctx)
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if _, err := r.check(ctx, Edit, n.UserID); err != nil {
			return err
		}
		// AddToU reads and deactivates the earlier agreements.
		if err := s.store.LockUser(ctx, n.UserID); err != nil {
			return err
		}
		if n.OrganizationID != 0 {
			if _, err := s.GetOrganization(ctx, n.OrganizationID); err != nil {
				if apperr.Is(err, apperr.NotFound) {
					return apperr.New(apperr.Invalid, "organization %d does not exist", n.OrganizationID)
				}
				return err
			}
		}
		if err := s.store.AddToU(ctx, &n); err != nil {
			return err
		}
		return s.record(ctx, audit.Change{Type: audit.TermsAccepted, Subject: audit.UserRef(n.UserID), SubjectID: n.UserID,
			Fields: map[string]any{"type": n.Type, "url": n.URL}}, "user %d accepted %s terms %s", n.UserID, n.Type, n.URL)
	})
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// VisiblePatients returns, in id order after afterID, the live patients
// with a valid consent at or below any of the staff user's organizations
// (the reference's OrgTree.visible_patients): one indexed query over the
// union of the subtrees, never a loop over users. The caller must be the
// staff user, an admin or ward itself; a user holding none of staff,
// staff_admin or clinician sees no patients this way.
func (s *Service) VisiblePatients(ctx context.Context, staffID int64, afterID int64, limit int) ([]int64, error) {
	r := s.newRequest(ctx)
	if r.who.Anonymous() {
		return nil, apperr.New(apperr.Unauthenticated, "sign in first")
	}
	if staffID != r.who.UserID {
		if err := r.requireAdmin(ctx, "list another user's patients"); err != nil {
			return nil, err
		}
	}
	limit = store.Page{Limit: limit}.Normalize().Limit
	if afterID < 0 {
		return nil, apperr.New(apperr.Invalid, "afterID must not be negative")
	}
	u, err := s.store.GetUser(ctx, staffID)
	if err != nil {
		return nil, notFoundUser(err, staffID)
	}
	if !u.Active() {
		return []int64{}, nil
	}
	roles, err := s.store.UserRoles(ctx, staffID)
	if err != nil {
		return nil, err
	}
	if !(&Party{Roles: roles}).HasRole(RoleStaff, RoleStaffAdmin, RoleClinician) {
		return []int64{}, nil
	}
	orgs, err := s.store.UserOrganizations(ctx, staffID)
	if err != nil {
		return nil, err
	}
	tree, err := r.orgTree(ctx)
	if err != nil {
		return nil, err
	}
	scope := tree.AtOrBelowAny(orgs)
	if len(scope) == 0 {
		return []int64{}, nil
	}
	return s.store.PatientsConsentedTo(ctx, scope, s.now(), afterID, limit)
}
