package rest

import (
	"context"
	"errors"
	"slices"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/fhir"
	"ward/internal/fhir/policy"
	"ward/internal/fhir/search"
	"ward/internal/oauth/scope"
	"ward/internal/store"
)

// Directory is what the FHIR interface reads from the directory. Reads run
// as ward itself once the policy has decided; searches in user/ context run
// as the person, so check_role bounds them.
type Directory interface {
	GetUser(ctx context.Context, id int64) (*directory.User, error)
	UserRoles(ctx context.Context, id int64) ([]string, error)
	UserIdentifiers(ctx context.Context, id int64) ([]directory.Identifier, error)
	UserOrganizations(ctx context.Context, id int64) ([]*directory.Organization, error)
	SearchUsers(ctx context.Context, f directory.UserFilter, p store.Page) ([]*directory.User, string, error)
	CountUsers(ctx context.Context, f directory.UserFilter) (int, error)
	GetOrganization(ctx context.Context, id int64) (*directory.Organization, error)
	ListOrganizations(ctx context.Context, p store.Page) ([]*directory.Organization, string, error)
	CountOrganizations(ctx context.Context) (int, error)
	Tree(ctx context.Context) (*directory.OrgTree, error)
	ResolveOrganization(ctx context.Context, idOrAlias string) (*directory.Organization, error)
	UpdateUser(ctx context.Context, id int64, fn func(*directory.User) error) (*directory.User, error)
	CreateUser(ctx context.Context, in directory.NewUser) (*directory.User, error)
	UserIdentifiersFor(ctx context.Context, ids []int64) (map[int64][]directory.Identifier, error)
	UserOrganizationsFor(ctx context.Context, ids []int64) (map[int64][]int64, error)
	CreateOrganization(ctx context.Context, o *directory.Organization) (*directory.Organization, error)
	UpdateOrganization(ctx context.Context, o *directory.Organization) (*directory.Organization, error)
}

// asWard runs a domain call as ward itself once the policy has allowed it:
// the policy is the one place that decides, and the domain services' own
// checks (which know nothing of SMART contexts) must not decide twice. The
// person and the client stay on the actor, so audit events (and a record's
// CreatedBy) still name them.
func asWard(ctx context.Context) context.Context {
	a := actor.From(ctx)
	return actor.With(ctx, actor.Actor{System: true, UserID: a.UserID, ClientID: a.ClientID, Scopes: a.Scopes})
}

// patientType serves Patient: the directory's users who hold the patient
// role, never copies of them.
func (h *Handler) patientType() *resourceType {
	return &resourceType{
		name:          "Patient",
		documentation: "The directory's patients (users with the patient role).",
		read: func(ctx context.Context, g policy.Grant, raw string) (*found, error) {
			id, err := parseID("Patient", raw)
			if err != nil {
				return nil, err
			}
			// The read handler checks access on the patient afterwards; an
			// unreachable id and a missing one both answer 404.
			u, err := h.patientUser(asWard(ctx), id)
			if err != nil {
				return nil, err
			}
			res, err := h.patientResource(asWard(ctx), u)
			if err != nil {
				return nil, err
			}
			return &found{resource: res, id: raw, version: u.Version, updated: u.UpdatedAt, patients: []int64{id}}, nil
		},
		search: h.searchPatients,
		create: h.createPatient,
		update: h.updatePatient,
	}
}

// createPatient makes a directory user with the patient role from a Patient
// body, under the rules of POST /api/account: with a user/ scope the
// directory decides as for the signed-in person (admins, service accounts
// and staff may create accounts, in organizations at or below their own);
// a system/ scope acts as ward itself, as for every backend write (an
// administrator approved the client's system/Patient.c). The policy has
// already refused patient/ scopes. The role is always patient and nothing
// else, so a create never hands out more power than a patient has.
func (h *Handler) createPatient(ctx context.Context, g policy.Grant, body []byte) (*found, error) {
	p, err := fhir.DecodePatient(body)
	if err != nil {
		return nil, err
	}
	p.ID = "" // R4 §3.1.0.3: a create ignores any id in the body
	if p.Active != nil && !*p.Active {
		// Deactivation is the directory's audited delete; a record made
		// inactive from the start would be a deleted account nobody deleted.
		msg := "a new Patient is active: leave active out or true (DELETE /api/user/{id} deactivates an account)"
		return nil, apperr.Wrap(apperr.Invalid, &fhir.FieldError{Expression: "Patient.active", Err: errors.New(msg)}, "%s", msg)
	}
	present, err := fhir.PresentFields(body)
	if err != nil {
		return nil, err
	}
	var u directory.User
	if err := fhir.ApplyPatient(&u, p, present, h.d.Base); err != nil {
		return nil, err
	}
	if gp := u.GeneralPractitionerID; gp != 0 {
		// Practitioners are reference data every reader sees, so naming a
		// missing one is no secret; the database's foreign key would only
		// say "refers to something that does not exist".
		if _, err := h.practitionerUser(asWard(ctx), gp); apperr.Is(err, apperr.NotFound) {
			return nil, apperr.Wrap(apperr.Invalid, &fhir.FieldError{Expression: "Patient.generalPractitioner", Err: err},
				"Patient.generalPractitioner: Practitioner/%d is not a practitioner ward knows", gp)
		} else if err != nil {
			return nil, err
		}
	}
	idents, err := fhir.PatientIdentifiers(p)
	if err != nil {
		return nil, err
	}
	orgs, err := fhir.PatientOrganizationIDs(p, h.d.Base)
	if err != nil {
		return nil, err
	}
	out, err := h.d.Directory.CreateUser(orgCtx(ctx, g), directory.NewUser{
		User: u, Roles: []string{directory.RolePatient}, OrgIDs: orgs, Identifiers: idents,
	})
	if err != nil {
		return nil, err
	}
	res, err := h.patientResource(asWard(ctx), out)
	if err != nil {
		return nil, err
	}
	return &found{resource: res, id: formatID(out.ID), version: out.Version, updated: out.UpdatedAt, patients: []int64{out.ID}}, nil
}

// updatePatient applies a Patient body to the user's demographics: the
// elements present replace what was stored, absent ones are kept
// (identifiers and organizations have their own management routes, so a
// client may PUT back what it read).
func (h *Handler) updatePatient(ctx context.Context, g policy.Grant, raw string, version int64, body []byte) (*found, error) {
	p, err := fhir.DecodePatient(body)
	if err != nil {
		return nil, err
	}
	if err := checkBodyID("Patient", raw, p.ID); err != nil {
		return nil, err
	}
	id, err := parseID("Patient", raw)
	if err != nil {
		return nil, err
	}
	if err := h.d.Policy.PatientAccess(ctx, g, id, policy.Update); err != nil {
		return nil, err
	}
	present, err := fhir.PresentFields(body)
	if err != nil {
		return nil, err
	}
	wctx := asWard(ctx)
	if _, err := h.patientUser(wctx, id); err != nil {
		return nil, err
	}
	u, err := h.d.Directory.UpdateUser(wctx, id, func(u *directory.User) error {
		if version != 0 && u.Version != version {
			return apperr.New(apperr.Conflict, "Patient/%d is at version %d, not %d", id, u.Version, version)
		}
		return fhir.ApplyPatient(u, p, present, h.d.Base)
	})
	if err != nil {
		return nil, err
	}
	res, err := h.patientResource(wctx, u)
	if err != nil {
		return nil, err
	}
	return &found{resource: res, id: raw, version: u.Version, updated: u.UpdatedAt, patients: []int64{id}}, nil
}

// patientUser returns the live user id when they are a patient, else
// NotFound (a staff member is a Practitioner, not a Patient).
func (h *Handler) patientUser(ctx context.Context, id int64) (*directory.User, error) {
	u, err := h.d.Directory.GetUser(ctx, id)
	if err != nil {
		return nil, notFoundAs("Patient", id, err)
	}
	roles, err := h.d.Directory.UserRoles(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.Deleted() || !slices.Contains(roles, directory.RolePatient) {
		return nil, apperr.New(apperr.NotFound, "Patient/%d not found", id)
	}
	return u, nil
}

// notFoundAs turns the directory's NotFound into the FHIR resource's.
func notFoundAs(typ string, id int64, err error) error {
	if apperr.Is(err, apperr.NotFound) {
		return apperr.New(apperr.NotFound, "%s/%d not found", typ, id)
	}
	return err
}

func (h *Handler) patientResource(ctx context.Context, u *directory.User) (*fhir.Patient, error) {
	ids, err := h.d.Directory.UserIdentifiers(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	orgs, err := h.d.Directory.UserOrganizations(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	orgIDs := make([]int64, len(orgs))
	for i, o := range orgs {
		orgIDs[i] = o.ID
	}
	return fhir.PatientFromUser(u, ids, orgIDs, h.d.Base), nil
}

func (h *Handler) searchPatients(ctx context.Context, g policy.Grant, q search.Query) (*page, error) {
	f, err := fhir.PatientFilter(q)
	if err != nil {
		return nil, err
	}
	dctx := asWard(ctx)
	switch {
	case g.Context == scope.ContextPatient:
		f.IDs = fhir.IntersectIDs(f.IDs, []int64{g.Patient})
	case !g.Admin:
		// check_role decides person by person; the directory pages
		// through the candidates.
		dctx = ctx
	}
	return h.userPage(dctx, q, f, true, func(ctx context.Context, users []*directory.User) ([]any, error) {
		ids := userIDs(users)
		idents, err := h.d.Directory.UserIdentifiersFor(ctx, ids)
		if err != nil {
			return nil, err
		}
		orgs, err := h.d.Directory.UserOrganizationsFor(ctx, ids)
		if err != nil {
			return nil, err
		}
		out := make([]any, len(users))
		for i, u := range users {
			out[i] = fhir.PatientFromUser(u, idents[u.ID], orgs[u.ID], h.d.Base)
		}
		return out, nil
	})
}

func userIDs(users []*directory.User) []int64 {
	ids := make([]int64, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	return ids
}

// userPage runs a directory search for one page and renders it, a page
// at a time (so a page costs a few queries, not a few per user).
// asPatients marks the page as patient data for the audit trail.
//
// The total is counted on a search's first page (and for _summary=count)
// when the search is unbounded by check_role (ward itself, admins, or an
// id-bounded search); later pages leave it out, as R4 allows, since a
// client paging on already has it and a count of a large match is most of
// a page's cost. A person's check_role-bounded search has no total:
// counting would mean checking every candidate.
func (h *Handler) userPage(ctx context.Context, q search.Query, f directory.UserFilter, asPatients bool,
	render func(context.Context, []*directory.User) ([]any, error)) (*page, error) {
	p := &page{}
	countable := actor.From(ctx).System
	if countable && (q.Cursor == "" || q.Summary == search.SummaryCount) {
		n, err := h.d.Directory.CountUsers(ctx, f)
		if err != nil {
			return nil, err
		}
		p.total = intPtr(n)
	}
	if q.Summary == search.SummaryCount {
		if p.total == nil {
			return nil, apperr.New(apperr.Invalid, "_summary=count needs a search this token may count (name the patients)")
		}
		return p, nil
	}
	if f.IDs != nil && len(f.IDs) == 0 {
		return p, nil
	}
	users, next, err := h.d.Directory.SearchUsers(ctx, f, store.Page{Limit: q.Count, After: q.Cursor})
	if err != nil {
		return nil, err
	}
	if len(users) > 0 {
		if p.resources, err = render(asWard(ctx), users); err != nil {
			return nil, err
		}
	}
	if asPatients {
		p.patients = userIDs(users)
	}
	p.next = next
	return p, nil
}
