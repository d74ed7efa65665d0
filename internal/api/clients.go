package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"ward/internal/client"
	"ward/internal/store"
)

// clientJSON is a registered client as the management API shows it. Field
// names follow OAuth 2.0 Dynamic Client Registration (RFC 7591) where it has
// one. client_secret is set only in the answer to the request that issued
// the secret: it is never stored in clear, so it can never be shown again.
type clientJSON struct {
	ClientID       string          `json:"client_id"`
	Name           string          `json:"client_name"`
	Public         bool            `json:"public"`
	GrantTypes     []string        `json:"grant_types"`
	RedirectURIs   []string        `json:"redirect_uris"`
	Scope          string          `json:"scope" doc:"Space-separated scopes the client may ask for."`
	AuthMethod     string          `json:"token_endpoint_auth_method"`
	JWKSURI        string          `json:"jwks_uri,omitempty"`
	JWKS           json.RawMessage `json:"jwks,omitempty" doc:"Inline JSON Web Key Set for private_key_jwt."`
	TokenFormat    string          `json:"access_token_format" enum:"opaque,jwt"`
	IDTokenAlg     string          `json:"id_token_signed_response_alg" enum:"RS256,ES256" doc:"The algorithm of the client's ID tokens."`
	Disabled       bool            `json:"disabled"`
	Status         string          `json:"status" enum:"pending,active" doc:"An application developer's client is pending until an administrator approves it; until then only its owner may use it."`
	OwnerID        int64           `json:"owner_id,omitempty" doc:"The application developer who manages the client."`
	Intervention   string          `json:"intervention,omitempty"`
	Created        time.Time       `json:"created"`
	Updated        time.Time       `json:"updated"`
	SecretIssuedAt *time.Time      `json:"client_secret_issued_at,omitempty"`
	Version        int64           `json:"version"`
	Secret         string          `json:"client_secret,omitempty" doc:"Present only in the answer that issued it; store it now."`
}

func toClientJSON(c *client.Client) clientJSON {
	out := clientJSON{
		ClientID: c.ID, Name: c.Name, Public: c.Public, GrantTypes: c.GrantTypes,
		RedirectURIs: c.RedirectURIs, Scope: c.Scope, AuthMethod: c.AuthMethod, JWKSURI: c.JWKSURI,
		TokenFormat: c.TokenFormat, IDTokenAlg: c.IDTokenSigningAlg(), Disabled: c.Disabled, Status: c.Status, OwnerID: c.OwnerID,
		Intervention: c.Intervention, Created: c.CreatedAt, Updated: c.UpdatedAt,
		SecretIssuedAt: c.SecretIssuedAt, Version: c.Version,
	}
	if out.GrantTypes == nil {
		out.GrantTypes = []string{}
	}
	if out.RedirectURIs == nil {
		out.RedirectURIs = []string{}
	}
	if c.JWKS != "" {
		out.JWKS = json.RawMessage(c.JWKS)
	}
	return out
}

// withSecret is c as shown in the answer that issued secret.
func withSecret(c *client.Client, secret string) clientJSON {
	out := toClientJSON(c)
	out.Secret = secret
	return out
}

// clientBody is what POST and PUT take. PUT replaces every setting it
// names; owner_id left out of a PUT keeps the current owner.
type clientBody struct {
	Name         string          `json:"client_name" maxLength:"200" example:"Decision support"`
	Public       bool            `json:"public,omitempty" doc:"A public client (browser or native app) has no secret and uses PKCE."`
	GrantTypes   []string        `json:"grant_types" maxItems:"3" example:"[\"authorization_code\",\"refresh_token\"]"`
	RedirectURIs []string        `json:"redirect_uris,omitempty" maxItems:"20"`
	Scope        string          `json:"scope" maxLength:"8000" example:"openid fhirUser launch/patient patient/*.rs"`
	AuthMethod   string          `json:"token_endpoint_auth_method,omitempty" enum:"client_secret_basic,client_secret_post,private_key_jwt,none" doc:"Defaults to none for public clients, private_key_jwt when keys are given, client_secret_basic otherwise."`
	JWKSURI      string          `json:"jwks_uri,omitempty" maxLength:"2000"`
	JWKS         json.RawMessage `json:"jwks,omitempty" doc:"Inline JSON Web Key Set (public keys only)."`
	TokenFormat  string          `json:"access_token_format,omitempty" enum:"opaque,jwt" doc:"Defaults to opaque."`
	IDTokenAlg   string          `json:"id_token_signed_response_alg,omitempty" enum:"RS256,ES256" doc:"The algorithm ward signs the client's ID tokens with. Defaults to RS256 (OpenID Connect Core 3.1.3.7); none and HMAC algorithms are not offered."`
	OwnerID      *int64          `json:"owner_id,omitempty" minimum:"0" doc:"Administrators only; 0 for no owner. An application developer always owns what they register."`
	Intervention string          `json:"intervention,omitempty" maxLength:"100"`
}

// apply writes b over s.
func (b *clientBody) apply(s *client.Settings) {
	s.Name, s.Public, s.GrantTypes, s.RedirectURIs = b.Name, b.Public, b.GrantTypes, b.RedirectURIs
	s.Scope, s.AuthMethod, s.JWKSURI, s.TokenFormat = b.Scope, b.AuthMethod, b.JWKSURI, b.TokenFormat
	s.IDTokenAlg = b.IDTokenAlg
	s.JWKS = ""
	if len(b.JWKS) > 0 && string(b.JWKS) != "null" {
		s.JWKS = string(b.JWKS)
	}
	if b.OwnerID != nil {
		s.OwnerID = *b.OwnerID
	}
	s.Intervention = b.Intervention
}

type clientPath struct {
	ClientID string `path:"client_id" maxLength:"128" doc:"The client_id."`
}

type clientOutput struct {
	Body clientJSON
}

type createdClientOutput struct {
	Location string `header:"Location"`
	Body     clientJSON
}

type listClientsInput struct {
	OwnerID int64  `query:"owner_id" minimum:"0" doc:"Only clients of this owner."`
	Cursor  string `query:"cursor" doc:"The next value of the previous page."`
	Limit   int    `query:"limit" minimum:"0" maximum:"1000" doc:"Page size (default 50)."`
}

type clientPage struct {
	Clients []clientJSON `json:"clients"`
	Next    string       `json:"next,omitempty" doc:"Cursor of the next page; absent on the last page."`
}

func (s *server) registerClients(api huma.API) {
	tags := []string{"clients"}
	register(api, s, huma.Operation{
		OperationID: "list-clients", Method: http.MethodGet, Path: "/api/client", Tags: tags,
		Summary:     "List OAuth2 clients",
		Description: "Administrators see every client; an application developer sees the clients they own.",
	}, func(ctx context.Context, in *listClientsInput) (*struct{ Body clientPage }, error) {
		cs, next, err := s.clients.List(ctx, client.Filter{OwnerID: in.OwnerID}, store.Page{Limit: in.Limit, After: in.Cursor})
		if err != nil {
			return nil, err
		}
		out := &struct{ Body clientPage }{Body: clientPage{Clients: make([]clientJSON, len(cs)), Next: next}}
		for i, c := range cs {
			out.Body.Clients[i] = toClientJSON(c)
		}
		return out, nil
	})

	register(api, s, huma.Operation{
		OperationID: "create-client", Method: http.MethodPost, Path: "/api/client", Tags: tags,
		Summary: "Register an OAuth2 client", DefaultStatus: http.StatusCreated,
		Description: "Registers a client. A confidential client using a client secret gets one generated " +
			"by ward, returned in client_secret in this answer only. Only an administrator may give a client " +
			"the client_credentials grant, system/ scopes or scopes outside openid, fhirUser, profile, email, " +
			"launch, launch/…, offline_access, online_access, patient/… and user/…; an application developer's " +
			"client is registered pending and waits for an administrator's approval.",
	}, func(ctx context.Context, in *struct{ Body clientBody }) (*createdClientOutput, error) {
		var set client.Settings
		in.Body.apply(&set)
		c, secret, err := s.clients.Create(ctx, set)
		if err != nil {
			return nil, err
		}
		return &createdClientOutput{
			Location: s.base + "/api/client/" + url.PathEscape(c.ID),
			Body:     withSecret(c, secret),
		}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "get-client", Method: http.MethodGet, Path: "/api/client/{client_id}", Tags: tags,
		Summary: "One OAuth2 client", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *clientPath) (*clientOutput, error) {
		c, err := s.clients.Get(ctx, in.ClientID)
		if err != nil {
			return nil, err
		}
		return &clientOutput{Body: toClientJSON(c)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "update-client", Method: http.MethodPut, Path: "/api/client/{client_id}", Tags: tags,
		Summary: "Replace an OAuth2 client's settings", Errors: []int{http.StatusNotFound, http.StatusConflict},
		Description: "Replaces the client's settings. Moving a client onto client_secret_basic or " +
			"client_secret_post from a method without a secret issues one, returned in client_secret. " +
			"An application developer's change that adds grant types, scopes or redirect URIs to an active " +
			"client returns it to pending.",
	}, func(ctx context.Context, in *struct {
		ClientID string `path:"client_id" maxLength:"128"`
		Body     clientBody
	}) (*clientOutput, error) {
		c, secret, err := s.clients.Update(ctx, in.ClientID, func(set *client.Settings) error {
			in.Body.apply(set)
			return nil
		})
		if err != nil {
			return nil, err
		}
		return &clientOutput{Body: withSecret(c, secret)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "approve-client", Method: http.MethodPost, Path: "/api/client/{client_id}/approve", Tags: tags,
		Summary: "Approve a pending OAuth2 client", Errors: []int{http.StatusNotFound},
		Description: "Administrators only. An application developer's client is registered pending: only its " +
			"owner may use it, with their own sign-in. Approval makes it active, so anyone may authorize it. " +
			"Approving an active client changes nothing.",
	}, func(ctx context.Context, in *clientPath) (*clientOutput, error) {
		c, err := s.clients.Approve(ctx, in.ClientID)
		if err != nil {
			return nil, err
		}
		return &clientOutput{Body: toClientJSON(c)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "disable-client", Method: http.MethodPost, Path: "/api/client/{client_id}/disable", Tags: tags,
		Summary: "Disable an OAuth2 client", Errors: []int{http.StatusNotFound},
		Description: "The client can no longer obtain tokens; it stays registered.",
	}, func(ctx context.Context, in *clientPath) (*clientOutput, error) {
		c, err := s.clients.Disable(ctx, in.ClientID)
		if err != nil {
			return nil, err
		}
		return &clientOutput{Body: toClientJSON(c)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "enable-client", Method: http.MethodPost, Path: "/api/client/{client_id}/enable", Tags: tags,
		Summary: "Enable a disabled OAuth2 client", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *clientPath) (*clientOutput, error) {
		c, err := s.clients.Enable(ctx, in.ClientID)
		if err != nil {
			return nil, err
		}
		return &clientOutput{Body: toClientJSON(c)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "rotate-client-secret", Method: http.MethodPost, Path: "/api/client/{client_id}/rotate-secret",
		Tags: tags, Summary: "Issue a new client secret", Errors: []int{http.StatusNotFound},
		Description: "Replaces the secret; the old one stops working at once. The new one is in client_secret, this once.",
	}, func(ctx context.Context, in *clientPath) (*clientOutput, error) {
		c, secret, err := s.clients.RotateSecret(ctx, in.ClientID)
		if err != nil {
			return nil, err
		}
		return &clientOutput{Body: withSecret(c, secret)}, nil
	})
}
