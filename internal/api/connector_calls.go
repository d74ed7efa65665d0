package api

import (
	"context"
	"errors"
	"iter"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"ward/internal/apperr"
	"ward/internal/connector/mis"
)

// MISClients builds the MIS client of a connector by name (server.MISClients).
type MISClients func(ctx context.Context, name string) (*mis.Client, error)

// Pass-through listings stop after this many items by default, and never
// return more than maxPassThroughLimit: the MIS streams every page.
const (
	defaultPassThroughLimit = 100
	maxPassThroughLimit     = 1000
)

type misIDPath struct {
	Name string `path:"name" maxLength:"64" doc:"The connector's name." example:"campdoc"`
	ID   string `path:"id" maxLength:"256" doc:"The MIS id (or user:N, a ward user whose MIS profile id is recorded)."`
}

type misIdentifierPath struct {
	Name       string `path:"name" maxLength:"64" doc:"The connector's name." example:"campdoc"`
	Identifier string `path:"identifier" maxLength:"256" doc:"The organization's identifier of the profile."`
}

type misListInput struct {
	Name  string `path:"name" maxLength:"64" doc:"The connector's name." example:"campdoc"`
	Limit int    `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"At most this many items, from the start of the MIS's list."`
}

type misList[T any] struct {
	Items []T `json:"items"`
	// More says the MIS holds more than Limit items.
	More bool `json:"more"`
}

type registrationBody struct {
	GroupID string `json:"group_id" minLength:"1" maxLength:"256"`
	Type    string `json:"type,omitempty" maxLength:"64" doc:"Default patient."`
}

type misUserBody struct {
	Identifier string `json:"identifier" minLength:"1" maxLength:"256" doc:"The profile's identifier the user may see."`
	Email      string `json:"email" minLength:"3" maxLength:"320"`
	GivenName  string `json:"givenName" minLength:"1" maxLength:"256"`
	FamilyName string `json:"familyName" minLength:"1" maxLength:"256"`
}

type ssoBody struct {
	Email string `json:"email" minLength:"3" maxLength:"320"`
}

type profileBody struct {
	GivenName  string `json:"given_name,omitempty" maxLength:"256"`
	MiddleName string `json:"middle_name,omitempty" maxLength:"256"`
	FamilyName string `json:"family_name,omitempty" maxLength:"256"`
	DOB        string `json:"dob,omitempty" maxLength:"10" doc:"YYYY-MM-DD"`
	Sex        string `json:"sex,omitempty" maxLength:"32"`
}

// The inputs with a body; huma fills path parameters of the input's own
// fields only, not of an embedded struct's.
type putProfileInput struct {
	Name       string `path:"name" maxLength:"64" doc:"The connector's name." example:"campdoc"`
	Identifier string `path:"identifier" maxLength:"256" doc:"The organization's identifier of the profile."`
	Body       profileBody
}

type createRegistrationInput struct {
	Name string `path:"name" maxLength:"64" doc:"The connector's name." example:"campdoc"`
	ID   string `path:"id" maxLength:"256" doc:"The MIS profile id (or user:N)."`
	Body registrationBody
}

type deactivateRegistrationInput struct {
	Name           string `path:"name" maxLength:"64" doc:"The connector's name." example:"campdoc"`
	ID             string `path:"id" maxLength:"256" doc:"The MIS profile id (or user:N)."`
	RegistrationID string `path:"registration_id" maxLength:"256"`
}

type createMISUserInput struct {
	Name string `path:"name" maxLength:"64" doc:"The connector's name." example:"campdoc"`
	Body misUserBody
}

type ssoInput struct {
	Name string `path:"name" maxLength:"64" doc:"The connector's name." example:"campdoc"`
	Body ssoBody
}

type body[T any] struct{ Body T }

// The MIS's shapes under names of their own: the OpenAPI document already
// has a Group and a User (ward's).
type (
	misGroup        mis.Group
	misProfile      mis.Profile
	misRegistration mis.Registration
	misReview       mis.Review
	misUser         mis.User
	misSSOLink      mis.SSOLink
)

// misReviews is mis.Reviews with the API's names.
type misReviews struct {
	Profile misProfile           `json:"profile"`
	Reviews map[string]misReview `json:"reviews"`
}

func toMISReviews(r mis.Reviews) misReviews {
	out := misReviews{Profile: misProfile(r.Profile), Reviews: make(map[string]misReview, len(r.Reviews))}
	for k, v := range r.Reviews {
		out.Reviews[k] = misReview(v)
	}
	return out
}

// convert maps take's items to their API type.
func convert[A, B any](l misList[A], f func(A) B) misList[B] {
	out := misList[B]{Items: make([]B, len(l.Items)), More: l.More}
	for i, v := range l.Items {
		out.Items[i] = f(v)
	}
	return out
}

// mis authorizes and audits one pass-through call (connector.Service.Call:
// an administrator, a connected connector) before building its client, so
// a disconnected connector fails at once without reaching the MIS.
func (s *server) mis(ctx context.Context, name, op string) (*mis.Client, error) {
	if err := s.conns.Call(ctx, name, op); err != nil {
		return nil, err
	}
	if s.misClients == nil {
		return nil, apperr.New(apperr.Unavailable, "no MIS client is configured")
	}
	return s.misClients(ctx, name)
}

// take collects at most limit items of seq, and whether there were more.
func take[T any](seq iter.Seq2[T, error], limit int) (misList[T], error) {
	out := misList[T]{Items: []T{}}
	for v, err := range seq {
		if err != nil {
			return misList[T]{}, err
		}
		if len(out.Items) == limit {
			out.More = true
			break
		}
		out.Items = append(out.Items, v)
	}
	return out, nil
}

func clampLimit(n int) int {
	if n <= 0 {
		return defaultPassThroughLimit
	}
	return min(n, maxPassThroughLimit)
}

// passThrough registers one pass-through route: call runs with the
// connector's MIS client once the call is authorized and audited.
func passThrough[I, O any](api huma.API, s *server, op huma.Operation, name func(*I) string,
	call func(context.Context, *mis.Client, *I) (*O, error)) {
	op.Tags = []string{"connectors"}
	op.Description = "Administrators only; each call is audited (connector.called, the operation, never a body). " +
		"503 when the connector is not connected; the MIS's refusals keep their meaning (404, 409, 400), " +
		"except its 403 and unreadable answers (502). " + op.Description
	op.Errors = append(op.Errors, http.StatusServiceUnavailable, http.StatusNotFound, http.StatusBadGateway)
	opID := op.OperationID
	register(api, s, op, func(ctx context.Context, in *I) (*O, error) {
		c, err := s.mis(ctx, name(in), opID)
		if err != nil {
			return nil, err
		}
		out, err := call(ctx, c, in)
		if err != nil {
			return nil, s.misProblem(ctx, err)
		}
		return out, nil
	})
}

// misProblem is the answer to a failed MIS call. The MIS refusing ward
// itself (403: the grant does not cover the call) or answering what the
// client cannot read is a bad gateway, not the administrator's 403 or
// ward's own 500; every other refusal keeps its kind (404, 409, 400, 429,
// 503).
func (s *server) misProblem(ctx context.Context, err error) error {
	var se *mis.StatusError
	if errors.As(err, &se) && se.Status == http.StatusForbidden {
		return &huma.ErrorModel{Status: http.StatusBadGateway, Title: http.StatusText(http.StatusBadGateway),
			Detail: "the MIS refused ward's access (403): the connector's grant does not cover " + se.Op}
	}
	if apperr.KindOf(err) == apperr.Internal {
		s.log.ErrorContext(ctx, "api: MIS call failed", "err", err)
		return &huma.ErrorModel{Status: http.StatusBadGateway, Title: http.StatusText(http.StatusBadGateway),
			Detail: "the MIS answered what ward could not read"}
	}
	return err
}

func (s *server) registerConnectorCalls(api huma.API) {
	const base = "/api/connector/{name}"
	passThrough(api, s, huma.Operation{OperationID: "mis-list-groups", Method: http.MethodGet, Path: base + "/groups",
		Summary: "List the MIS's groups"}, func(in *misListInput) string { return in.Name },
		func(ctx context.Context, c *mis.Client, in *misListInput) (*body[misList[misGroup]], error) {
			l, err := take(c.ListGroups(ctx), clampLimit(in.Limit))
			return &body[misList[misGroup]]{convert(l, func(g mis.Group) misGroup { return misGroup(g) })}, err
		})
	passThrough(api, s, huma.Operation{OperationID: "mis-get-group", Method: http.MethodGet, Path: base + "/groups/{id}",
		Summary: "Read a MIS group"}, func(in *misIDPath) string { return in.Name },
		func(ctx context.Context, c *mis.Client, in *misIDPath) (*body[misGroup], error) {
			g, err := c.GetGroup(ctx, in.ID)
			return &body[misGroup]{misGroup(g)}, err
		})
	passThrough(api, s, huma.Operation{OperationID: "mis-list-profiles", Method: http.MethodGet, Path: base + "/profiles",
		Summary: "List the MIS's profiles"}, func(in *misListInput) string { return in.Name },
		func(ctx context.Context, c *mis.Client, in *misListInput) (*body[misList[misProfile]], error) {
			l, err := take(c.ListProfiles(ctx), clampLimit(in.Limit))
			return &body[misList[misProfile]]{convert(l, func(p mis.Profile) misProfile { return misProfile(p) })}, err
		})
	passThrough(api, s, huma.Operation{OperationID: "mis-get-profile", Method: http.MethodGet, Path: base + "/profiles/{identifier}",
		Summary: "Read a MIS profile by the organization's identifier"}, func(in *misIdentifierPath) string { return in.Name },
		func(ctx context.Context, c *mis.Client, in *misIdentifierPath) (*body[misProfile], error) {
			p, err := c.GetProfile(ctx, in.Identifier)
			return &body[misProfile]{misProfile(p)}, err
		})
	passThrough(api, s, huma.Operation{OperationID: "mis-put-profile", Method: http.MethodPut, Path: base + "/profiles/{identifier}",
		Summary: "Create or update a MIS profile", Description: "Creation needs given_name and family_name."},
		func(in *putProfileInput) string {
			return in.Name
		},
		func(ctx context.Context, c *mis.Client, in *putProfileInput) (*body[misProfile], error) {
			b := in.Body
			p, err := c.CreateOrUpdateProfile(ctx, in.Identifier, mis.ProfileInput{GivenName: b.GivenName,
				MiddleName: b.MiddleName, FamilyName: b.FamilyName, DOB: b.DOB, Sex: b.Sex})
			return &body[misProfile]{misProfile(p)}, err
		})
	passThrough(api, s, huma.Operation{OperationID: "mis-list-registrations", Method: http.MethodGet, Path: base + "/profiles/{id}/registrations",
		Summary: "List a MIS profile's registrations"}, func(in *misIDPath) string { return in.Name },
		func(ctx context.Context, c *mis.Client, in *misIDPath) (*body[misList[misRegistration]], error) {
			rs, err := c.GetProfileRegistrations(ctx, in.ID)
			if rs == nil {
				rs = []mis.Registration{}
			}
			return &body[misList[misRegistration]]{convert(misList[mis.Registration]{Items: rs},
				func(r mis.Registration) misRegistration { return misRegistration(r) })}, err
		})
	passThrough(api, s, huma.Operation{OperationID: "mis-create-registration", Method: http.MethodPost, Path: base + "/profiles/{id}/registrations",
		Summary: "Register a MIS profile into a group", DefaultStatus: http.StatusCreated},
		func(in *createRegistrationInput) string {
			return in.Name
		},
		func(ctx context.Context, c *mis.Client, in *createRegistrationInput) (*body[misRegistration], error) {
			r, err := c.CreateRegistration(ctx, in.ID, in.Body.GroupID, in.Body.Type)
			return &body[misRegistration]{misRegistration(r)}, err
		})
	passThrough(api, s, huma.Operation{OperationID: "mis-deactivate-registration", Method: http.MethodDelete,
		Path: base + "/profiles/{id}/registrations/{registration_id}", Summary: "Deactivate a MIS registration",
		DefaultStatus: http.StatusNoContent},
		func(in *deactivateRegistrationInput) string {
			return in.Name
		},
		func(ctx context.Context, c *mis.Client, in *deactivateRegistrationInput) (*struct{}, error) {
			return &struct{}{}, c.DeactivateRegistration(ctx, in.ID, in.RegistrationID)
		})
	passThrough(api, s, huma.Operation{OperationID: "mis-get-reviews", Method: http.MethodGet, Path: base + "/profiles/{id}/reviews",
		Summary: "Read a MIS profile's reviews"}, func(in *misIDPath) string { return in.Name },
		func(ctx context.Context, c *mis.Client, in *misIDPath) (*body[misReviews], error) {
			r, err := c.GetProfileReviews(ctx, in.ID)
			return &body[misReviews]{toMISReviews(r)}, err
		})
	passThrough(api, s, huma.Operation{OperationID: "mis-create-user", Method: http.MethodPost, Path: base + "/users",
		Summary: "Create a MIS user", DefaultStatus: http.StatusCreated},
		func(in *createMISUserInput) string {
			return in.Name
		},
		func(ctx context.Context, c *mis.Client, in *createMISUserInput) (*body[misUser], error) {
			b := in.Body
			u, err := c.CreateUser(ctx, b.Identifier, mis.UserInput{Email: b.Email, GivenName: b.GivenName, FamilyName: b.FamilyName})
			return &body[misUser]{misUser(u)}, err
		})
	passThrough(api, s, huma.Operation{OperationID: "mis-sso", Method: http.MethodPost, Path: base + "/sso",
		Summary: "A MIS single sign-on link for a user"},
		func(in *ssoInput) string {
			return in.Name
		},
		func(ctx context.Context, c *mis.Client, in *ssoInput) (*body[misSSOLink], error) {
			l, err := c.SSO(ctx, in.Body.Email)
			return &body[misSSOLink]{misSSOLink(l)}, err
		})
}
