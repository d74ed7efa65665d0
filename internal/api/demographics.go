package api

import (
	"context"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"ward/internal/directory"
	"ward/internal/fhir"
)

type getDemographicsInput struct {
	PatientID string `path:"patient_id" doc:"User id (a positive integer)." example:"42"`
	Accept    string `header:"Accept"`
}

type putDemographicsInput struct {
	PatientID string `path:"patient_id" doc:"User id (a positive integer)." example:"42"`
	RawBody   []byte `contentType:"application/fhir+json"`
	Accept    string `header:"Accept"`
}

type getSelfDemographicsInput struct {
	Accept string `header:"Accept"`
}

func (s *server) registerDemographics(api huma.API) {
	tags := []string{"demographics"}
	patT := reflect.TypeFor[fhir.Patient]()
	const putDoc = "Only elements present in the body change; an element sent as null or [] is cleared. " +
		"resourceType must be Patient, and an id in the body must match the user in the path."

	register(api, s, withRaw(huma.Operation{
		OperationID: "get-own-demographics", Method: http.MethodGet, Path: "/api/demographics", Tags: tags,
		Summary: "The signed-in user's demographics as a FHIR Patient",
	}, nil, fhirTypes(patT)), func(ctx context.Context, in *getSelfDemographicsInput) (*rawOutput, error) {
		u, err := s.dir.Me(ctx)
		if err != nil {
			return nil, err
		}
		return s.patientOutput(ctx, u, in.Accept)
	})
	register(api, s, withRaw(huma.Operation{
		OperationID: "get-demographics", Method: http.MethodGet, Path: "/api/demographics/{patient_id}", Tags: tags,
		Summary: "A user's demographics as a FHIR Patient", Errors: []int{http.StatusNotFound},
	}, nil, fhirTypes(patT)), func(ctx context.Context, in *getDemographicsInput) (*rawOutput, error) {
		id, err := parseID("patient_id", in.PatientID)
		if err != nil {
			return nil, err
		}
		u, err := s.dir.GetUser(ctx, id)
		if err != nil {
			return nil, err
		}
		return s.patientOutput(ctx, u, in.Accept)
	})

	register(api, s, withRaw(huma.Operation{
		OperationID: "update-own-demographics", Method: http.MethodPut, Path: "/api/demographics", Tags: tags,
		Summary: "Update the signed-in user's demographics from a FHIR Patient", Description: putDoc,
		Errors: []int{http.StatusConflict},
	}, patT, fhirTypes(patT)), func(ctx context.Context, in *fhirBody) (*rawOutput, error) {
		id, err := actingUser(ctx)
		if err != nil {
			return nil, err
		}
		return s.updateDemographics(ctx, id, in.RawBody, in.Accept)
	})
	register(api, s, withRaw(huma.Operation{
		OperationID: "update-demographics", Method: http.MethodPut, Path: "/api/demographics/{patient_id}", Tags: tags,
		Summary: "Update a user's demographics from a FHIR Patient", Description: putDoc,
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, patT, fhirTypes(patT)), func(ctx context.Context, in *putDemographicsInput) (*rawOutput, error) {
		id, err := parseID("patient_id", in.PatientID)
		if err != nil {
			return nil, err
		}
		return s.updateDemographics(ctx, id, in.RawBody, in.Accept)
	})
}

// updateDemographics applies the elements present in a Patient body to the
// user in one read-modify-write transaction (Directory.UpdateUser), so a
// concurrent edit of another element is not lost.
func (s *server) updateDemographics(ctx context.Context, id int64, raw []byte, accept string) (*rawOutput, error) {
	apply, err := patientPatch(id, raw, s.fhirBase())
	if err != nil {
		return nil, err
	}
	u, err := s.dir.UpdateUser(ctx, id, apply)
	if err != nil {
		return nil, err
	}
	return s.patientOutput(ctx, u, accept)
}

// patientOutput encodes u as a FHIR Patient response.
func (s *server) patientOutput(ctx context.Context, u *directory.User, accept string) (*rawOutput, error) {
	p, err := s.patientOf(ctx, u)
	if err != nil {
		return nil, err
	}
	out, err := rawJSON(http.StatusOK, fhirContentType(accept), p)
	if err != nil {
		return nil, err
	}
	out.ETag = weakETag(u.Version)
	return out, nil
}
