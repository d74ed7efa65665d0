package api

import (
	"context"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"ward/internal/store"
)

// The system clients of the legacy IdP API (seed 003, docs/idp-api.md):
// managed here by administrators only (client.Service decides, through
// grantpolicy.ManageIDPClient). The API itself (/api/1.0/sso/…) is served
// by internal/idpcompat in the seed's own shapes; documentIDP adds it to
// this OpenAPI description so that one document describes every path.

// idpClientJSON is a system client as the management API shows it.
// x_auth_token is set only in the answer that issued it.
type idpClientJSON struct {
	ClientID       string    `json:"client_id" doc:"Sent by the system as the client_id header."`
	Name           string    `json:"name" example:"SHR @ DGHS MIS"`
	OrganizationID int64     `json:"organization_id,omitempty" doc:"The organization the system registered as."`
	Revoked        bool      `json:"revoked"`
	Created        time.Time `json:"created"`
	Updated        time.Time `json:"updated"`
	XAuthToken     string    `json:"x_auth_token,omitempty" doc:"The API token, sent as the X-Auth-Token header. Present only in the answer that issued it; store it now."`
}

type idpClientBody struct {
	Name           string `json:"name" minLength:"1" maxLength:"200" example:"SHR @ DGHS MIS"`
	OrganizationID int64  `json:"organization_id,omitempty" minimum:"0" doc:"The organization the system registers as; 0 or absent for none."`
}

type idpClientPage struct {
	Clients []idpClientJSON `json:"clients"`
	Next    string          `json:"next,omitempty" doc:"Cursor of the next page; absent on the last page."`
}

type idpClientOutput struct {
	Body idpClientJSON
}

func (s *server) registerIDPClients(api huma.API) {
	tags := []string{"idp clients"}
	register(api, s, huma.Operation{
		OperationID: "list-idp-clients", Method: http.MethodGet, Path: "/api/idp-client", Tags: tags,
		Summary: "List the system clients of the legacy IdP API", Description: "Administrators only.",
	}, func(ctx context.Context, in *struct {
		Cursor string `query:"cursor" doc:"The next value of the previous page."`
		Limit  int    `query:"limit" minimum:"0" maximum:"1000" doc:"Page size (default 50)."`
	}) (*struct{ Body idpClientPage }, error) {
		cs, next, err := s.clients.ListSystems(ctx, store.Page{Limit: in.Limit, After: in.Cursor})
		if err != nil {
			return nil, err
		}
		out := &struct{ Body idpClientPage }{Body: idpClientPage{Clients: make([]idpClientJSON, len(cs)), Next: next}}
		for i, c := range cs {
			out.Body.Clients[i] = idpClientJSON{ClientID: c.ID, Name: c.Name, OrganizationID: c.OrganizationID,
				Revoked: c.Disabled, Created: c.CreatedAt, Updated: c.UpdatedAt}
		}
		return out, nil
	})

	register(api, s, huma.Operation{
		OperationID: "create-idp-client", Method: http.MethodPost, Path: "/api/idp-client", Tags: tags,
		Summary: "Register a system client of the legacy IdP API", DefaultStatus: http.StatusCreated,
		Description: "Administrators only: a system client signs in anyone whose password it is handed. " +
			"The answer carries the API token (x_auth_token) this once; ward keeps only a keyed hash.",
	}, func(ctx context.Context, in *struct{ Body idpClientBody }) (*idpClientOutput, error) {
		c, token, err := s.clients.CreateSystem(ctx, in.Body.Name, in.Body.OrganizationID)
		if err != nil {
			return nil, err
		}
		return &idpClientOutput{Body: idpClientJSON{ClientID: c.ID, Name: c.Name, OrganizationID: c.OrganizationID,
			Revoked: c.Disabled, Created: c.CreatedAt, Updated: c.UpdatedAt, XAuthToken: token}}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "rotate-idp-client", Method: http.MethodPost, Path: "/api/idp-client/{client_id}/rotate", Tags: tags,
		Summary: "Issue a new API token to a system client", Errors: []int{http.StatusNotFound},
		Description: "Administrators only. The old token stops working at once; people signed in through the " +
			"system stay signed in. The new token is in x_auth_token, this once.",
	}, func(ctx context.Context, in *clientPath) (*idpClientOutput, error) {
		c, token, err := s.clients.RotateSystem(ctx, in.ClientID)
		if err != nil {
			return nil, err
		}
		return &idpClientOutput{Body: idpClientJSON{ClientID: c.ID, Name: c.Name, OrganizationID: c.OrganizationID,
			Revoked: c.Disabled, Created: c.CreatedAt, Updated: c.UpdatedAt, XAuthToken: token}}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "revoke-idp-client", Method: http.MethodPost, Path: "/api/idp-client/{client_id}/revoke", Tags: tags,
		Summary: "Revoke a system client", Errors: []int{http.StatusNotFound},
		Description: "Administrators only. For good: its API token answers 401 from then on, and every token " +
			"it obtained is revoked in the same transaction.",
	}, func(ctx context.Context, in *clientPath) (*idpClientOutput, error) {
		c, err := s.clients.RevokeSystem(ctx, in.ClientID)
		if err != nil {
			return nil, err
		}
		return &idpClientOutput{Body: idpClientJSON{ClientID: c.ID, Name: c.Name, OrganizationID: c.OrganizationID,
			Revoked: c.Disabled, Created: c.CreatedAt, Updated: c.UpdatedAt}}, nil
	})
	documentIDP(api.OpenAPI())
}

// The legacy API's shapes, for the description only (internal/idpcompat
// serves them; an edge does not import another).
type idpSignInForm struct {
	Email    string `json:"email" example:"xyz@gmail.com"`
	Password string `json:"password" example:"secret"`
}

type idpAccessToken struct {
	AccessToken string `json:"access_token" example:"UXmbhELOU47hC5bA7rvvtx2lMuePIF1kOTgyVAhcAX"`
}

type idpError struct {
	Error   bool   `json:"error" example:"true"`
	Message string `json:"message" example:"Not authenticated"`
	Code    int    `json:"code" example:"401" doc:"The HTTP status (the seed showed 404 beside 401 for a failed sign-in; ward answers 401)."`
}

type idpProfile struct {
	Type      string   `json:"type" enum:"provider,admin,facility,patient"`
	ID        string   `json:"id"`
	Catchment []string `json:"catchment" doc:"Hierarchical geographic codes: 3026 covers 302618."`
}

type idpUserInfo struct {
	ID          int64        `json:"id"`
	Name        string       `json:"name"`
	Email       string       `json:"email"`
	IsActive    bool         `json:"is_active"`
	Activated   bool         `json:"activated"`
	ActivatedAt *string      `json:"activated_at" doc:"YYYY-MM-DD hh:mm:ss in UTC, or null."`
	LastLogin   *string      `json:"last_login" doc:"YYYY-MM-DD hh:mm:ss in UTC, or null."`
	AccessToken string       `json:"access_token"`
	CreatedAt   *string      `json:"created_at" doc:"YYYY-MM-DD hh:mm:ss in UTC."`
	UpdatedAt   *string      `json:"updated_at" doc:"YYYY-MM-DD hh:mm:ss in UTC."`
	DeletedAt   *string      `json:"deleted_at" doc:"Always null for a live token."`
	Groups      []string     `json:"groups"`
	Profiles    []idpProfile `json:"profiles"`
}

// seedUserInfo is seed 003's example answer to a token look-up.
var seedUserInfo = map[string]any{
	"id": 6, "name": "Dr. X Y Z", "email": "xyz@gmail.com", "is_active": true, "activated": true,
	"activated_at": nil, "last_login": "2015-01-20 09:52:58", "access_token": "xyz_token",
	"created_at": "2014-09-04 13:26:14", "updated_at": "2015-01-20 09:52:58", "deleted_at": nil,
	"groups": []string{"MCI Admin", "API Consumer"},
	"profiles": []map[string]any{
		{"type": "provider", "id": "123", "catchment": []string{"302618", "302614"}},
		{"type": "admin", "id": "2", "catchment": []string{"3026"}},
		{"type": "facility", "id": "10000069", "catchment": []string{"302618"}},
		{"type": "patient", "id": "10091232131", "catchment": []string{}},
	},
}

// documentIDP adds the legacy IdP API's three operations to the OpenAPI
// description, with the seed's examples. Nothing is routed here.
func documentIDP(oapi *huma.OpenAPI) {
	reg := oapi.Components.Schemas
	schema := func(v any) *huma.Schema { return reg.Schema(reflect.TypeOf(v), true, "") }
	if oapi.Components.SecuritySchemes == nil {
		oapi.Components.SecuritySchemes = map[string]*huma.SecurityScheme{}
	}
	oapi.Components.SecuritySchemes["idpClientID"] = &huma.SecurityScheme{Type: "apiKey", In: "header", Name: "client_id",
		Description: "The system client's id (ward idp-client create)."}
	oapi.Components.SecuritySchemes["idpAuthToken"] = &huma.SecurityScheme{Type: "apiKey", In: "header", Name: "X-Auth-Token",
		Description: "The system client's API token."}
	security := []map[string][]string{{"idpClientID": {}, "idpAuthToken": {}}}
	errResp := func(desc string, status int, msg string) *huma.Response {
		return &huma.Response{Description: desc, Content: map[string]*huma.MediaType{"application/json": {
			Schema: schema(idpError{}), Example: map[string]any{"error": true, "message": msg, "code": status}}}}
	}
	unauth := errResp("client_id and X-Auth-Token do not match a live system client (or, at sign-in, the email and password do not match, or the account is locked)", 401, "Not authenticated")
	tokenParam := &huma.Param{Name: "access_token", In: "path", Required: true, Schema: &huma.Schema{Type: "string", MaxLength: ptr(4096)},
		Description: "An access token from signin."}
	tags := []string{"legacy IdP API"}
	oapi.AddOperation(&huma.Operation{
		OperationID: "idp-signin", Method: http.MethodPost, Path: "/api/1.0/sso/signin", Tags: tags, Security: security,
		Summary: "Sign a person in for a system (seed 003)",
		Description: "The browser form's lockout, per-address throttle and audit apply. A failed sign-in answers 401 " +
			"(the seed showed HTTP 404 with a body saying 401). Forms over 8 KiB are refused with 413.",
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"application/x-www-form-urlencoded": {
			Schema: schema(idpSignInForm{})}}},
		Responses: map[string]*huma.Response{
			"200": {Description: "Signed in", Content: map[string]*huma.MediaType{"application/json": {
				Schema: schema(idpAccessToken{}), Example: map[string]any{"access_token": "UXmbhELOU47hC5bA7rvvtx2lMuePIF1kOTgyVAhcAX"}}}},
			"400": errResp("The form is missing email or password, or is not a form", 400, "The form fields email and password are required"),
			"401": unauth,
			"413": errResp("The form is too large", 413, "The form is larger than 8192 bytes"),
			"429": errResp("Too many failed attempts from this address (Retry-After says when to retry)", 429, "Too many failed attempts from this address; try again later"),
		},
	})
	oapi.AddOperation(&huma.Operation{
		OperationID: "idp-signout", Method: http.MethodPost, Path: "/api/1.0/sso/signout/{access_token}", Tags: tags, Security: security,
		Summary: "Revoke a token (seed 003)", Parameters: []*huma.Param{tokenParam},
		Responses: map[string]*huma.Response{
			"200": {Description: "Signed out", Content: map[string]*huma.MediaType{"application/json": {
				Example: map[string]any{"error": false, "message": "Signed out"}}}},
			"400": errResp("The path segment cannot be a token", 400, "The path does not end in an access token"),
			"401": unauth,
			"404": errResp("The token is unknown, expired or already signed out", 404, "Token not found or no longer active"),
		},
	})
	oapi.AddOperation(&huma.Operation{
		OperationID: "idp-token", Method: http.MethodGet, Path: "/api/1.0/sso/token/{access_token}", Tags: tags, Security: security,
		Summary:     "The person behind a token, with groups and catchment profiles (seed 003)",
		Description: "Timestamps are YYYY-MM-DD hh:mm:ss in UTC, null when unset. Looking up a token another system obtained is allowed and audited with the caller.",
		Parameters:  []*huma.Param{tokenParam},
		Responses: map[string]*huma.Response{
			"200": {Description: "The person", Content: map[string]*huma.MediaType{"application/json": {
				Schema: schema(idpUserInfo{}), Example: seedUserInfo}}},
			"400": errResp("The path segment cannot be a token", 400, "The path does not end in an access token"),
			"401": unauth,
			"404": errResp("The token is unknown, expired or signed out", 404, "Token not found or no longer active"),
		},
	})
}

func ptr[T any](v T) *T { return &v }
