package api

import (
	"context"
	"net/http"
	"reflect"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"ward/internal/apperr"
	"ward/internal/fhir"
	"ward/internal/store"
)

// fhirBody is the input of routes that take a FHIR resource: the raw bytes,
// judged by internal/fhir's strict decoders.
type fhirBody struct {
	RawBody []byte `contentType:"application/fhir+json"`
	Accept  string `header:"Accept"`
}

type orgPath struct {
	IDOrCode string `path:"id_or_code" doc:"Organization id, or its shortcut alias." example:"1001"`
}

type listOrgsInput struct {
	Cursor string `query:"cursor" doc:"The next value of the previous page."`
	Limit  int    `query:"limit" minimum:"0" maximum:"1000" doc:"Page size (default 50)."`
	Accept string `header:"Accept"`
}

type getOrgInput struct {
	IDOrCode string `path:"id_or_code" doc:"Organization id, or its shortcut alias." example:"1001"`
	Accept   string `header:"Accept"`
}

type putOrgInput struct {
	IDOrCode string `path:"id_or_code" doc:"Organization id, or its shortcut alias." example:"1001"`
	RawBody  []byte `contentType:"application/fhir+json"`
	Accept   string `header:"Accept"`
}

func (s *server) registerOrganizations(api huma.API) {
	tags := []string{"organizations"}
	orgT := reflect.TypeFor[fhir.Organization]()

	register(api, s, withRaw(huma.Operation{
		OperationID: "list-organizations", Method: http.MethodGet, Path: "/api/organization", Tags: tags,
		Summary: "Organizations as a FHIR searchset Bundle", Description: "In id order, a page at a time; the Bundle's next link carries the cursor.",
	}, nil, fhirTypes(reflect.TypeFor[fhir.Bundle]())), func(ctx context.Context, in *listOrgsInput) (*rawOutput, error) {
		orgs, next, err := s.dir.ListOrganizations(ctx, store.Page{Limit: in.Limit, After: in.Cursor})
		if err != nil {
			return nil, err
		}
		total, err := s.dir.CountOrganizations(ctx)
		if err != nil {
			return nil, err
		}
		b, err := s.organizationBundle(orgs, next, in.Limit, total)
		if err != nil {
			return nil, err
		}
		return rawJSON(http.StatusOK, fhirContentType(in.Accept), b)
	})

	register(api, s, withRaw(huma.Operation{
		OperationID: "create-organization", Method: http.MethodPost, Path: "/api/organization", Tags: tags,
		Summary: "Create an organization from a FHIR Organization", DefaultStatus: http.StatusCreated,
		Description: "partOf must name an existing organization (`Organization/{id}`). Admin only.",
		Errors:      []int{http.StatusConflict},
	}, orgT, fhirTypes(orgT)), func(ctx context.Context, in *fhirBody) (*rawOutput, error) {
		o, err := decodeOrganization(in.RawBody, s.fhirBase())
		if err != nil {
			return nil, err
		}
		if o.ID != 0 {
			return nil, apperr.New(apperr.Invalid, "a new organization must not have an id; ward assigns it")
		}
		got, err := s.dir.CreateOrganization(ctx, o)
		if err != nil {
			return nil, err
		}
		out, err := rawJSON(http.StatusCreated, fhirContentType(in.Accept), s.organizationResource(got))
		if err != nil {
			return nil, err
		}
		out.Location = s.base + "/api/organization/" + strconv.FormatInt(got.ID, 10)
		out.ETag = weakETag(got.Version)
		return out, nil
	})

	register(api, s, withRaw(huma.Operation{
		OperationID: "get-organization", Method: http.MethodGet, Path: "/api/organization/{id_or_code}", Tags: tags,
		Summary: "An organization as FHIR", Errors: []int{http.StatusNotFound},
	}, nil, fhirTypes(orgT)), func(ctx context.Context, in *getOrgInput) (*rawOutput, error) {
		o, err := s.dir.ResolveOrganization(ctx, in.IDOrCode)
		if err != nil {
			return nil, err
		}
		out, err := rawJSON(http.StatusOK, fhirContentType(in.Accept), s.organizationResource(o))
		if err != nil {
			return nil, err
		}
		out.ETag = weakETag(o.Version)
		return out, nil
	})

	register(api, s, withRaw(huma.Operation{
		OperationID: "update-organization", Method: http.MethodPut, Path: "/api/organization/{id_or_code}", Tags: tags,
		Summary: "Update an organization from a FHIR Organization",
		Description: "An element present in the body replaces what was stored; an absent one is kept (each extension URL counts on its own), " +
			"so a body with only an identifier adds a shortcut alias. An id in the body must match the organization named in the path. Admin only.",
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, orgT, fhirTypes(orgT)), func(ctx context.Context, in *putOrgInput) (*rawOutput, error) {
		cur, err := s.dir.ResolveOrganization(ctx, in.IDOrCode)
		if err != nil {
			return nil, err
		}
		fo, err := fhir.DecodeOrganization(in.RawBody)
		if err != nil {
			return nil, err
		}
		if fo.ID != "" && fo.ID != strconv.FormatInt(cur.ID, 10) {
			return nil, apperr.New(apperr.Invalid, "resource id %q does not match organization %d in the path", fo.ID, cur.ID)
		}
		present, err := fhir.PresentFields(in.RawBody)
		if err != nil {
			return nil, err
		}
		o, err := fhir.ApplyOrganization(cur, fo, present, s.fhirBase())
		if err != nil {
			return nil, err
		}
		got, err := s.dir.UpdateOrganization(ctx, o)
		if err != nil {
			return nil, err
		}
		out, err := rawJSON(http.StatusOK, fhirContentType(in.Accept), s.organizationResource(got))
		if err != nil {
			return nil, err
		}
		out.ETag = weakETag(got.Version)
		return out, nil
	})

	register(api, s, huma.Operation{
		OperationID: "delete-organization", Method: http.MethodDelete, Path: "/api/organization/{id_or_code}", Tags: tags,
		Summary:       "Delete an organization",
		Description:   "409 while it has child organizations, members or consents. Admin only.",
		DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *orgPath) (*emptyOutput, error) {
		o, err := s.dir.ResolveOrganization(ctx, in.IDOrCode)
		if err != nil {
			return nil, err
		}
		return &emptyOutput{}, s.dir.DeleteOrganization(ctx, o.ID)
	})
}
