package rest

import (
	"context"
	"slices"

	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/fhir"
	"ward/internal/fhir/policy"
	"ward/internal/fhir/search"
)

// practitionerType serves Practitioner: the directory's clinicians and
// staff. Like organizations they are reference data.
func (h *Handler) practitionerType() *resourceType {
	return &resourceType{
		name:          "Practitioner",
		documentation: "The directory's clinicians and staff (roles clinician, staff, staff_admin).",
		read: func(ctx context.Context, _ policy.Grant, raw string) (*found, error) {
			id, err := parseID("Practitioner", raw)
			if err != nil {
				return nil, err
			}
			wctx := asWard(ctx)
			u, err := h.practitionerUser(wctx, id)
			if err != nil {
				return nil, err
			}
			res, err := h.practitionerResource(wctx, u)
			if err != nil {
				return nil, err
			}
			return &found{resource: res, id: raw, version: u.Version, updated: u.UpdatedAt}, nil
		},
		search: func(ctx context.Context, _ policy.Grant, q search.Query) (*page, error) {
			f, err := fhir.PractitionerFilter(q)
			if err != nil {
				return nil, err
			}
			return h.userPage(asWard(ctx), q, f, false, func(ctx context.Context, users []*directory.User) ([]any, error) {
				idents, err := h.d.Directory.UserIdentifiersFor(ctx, userIDs(users))
				if err != nil {
					return nil, err
				}
				out := make([]any, len(users))
				for i, u := range users {
					out[i] = fhir.PractitionerFromUser(u, idents[u.ID], h.d.Base)
				}
				return out, nil
			})
		},
	}
}

// practitionerUser returns the live user id when they hold a practitioner
// role, else NotFound.
func (h *Handler) practitionerUser(ctx context.Context, id int64) (*directory.User, error) {
	u, err := h.d.Directory.GetUser(ctx, id)
	if err != nil {
		return nil, notFoundAs("Practitioner", id, err)
	}
	roles, err := h.d.Directory.UserRoles(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.Deleted() || !slices.ContainsFunc(roles, isPractitionerRole) {
		return nil, apperr.New(apperr.NotFound, "Practitioner/%d not found", id)
	}
	return u, nil
}

func isPractitionerRole(r string) bool { return slices.Contains(directory.PractitionerRoles(), r) }

func (h *Handler) practitionerResource(ctx context.Context, u *directory.User) (*fhir.Practitioner, error) {
	ids, err := h.d.Directory.UserIdentifiers(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return fhir.PractitionerFromUser(u, ids, h.d.Base), nil
}
