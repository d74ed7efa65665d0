package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"ward/internal/connector"
)

// connectorJSON is a connector as the management API shows it: its
// settings and status, never its client secret or a token.
type connectorJSON struct {
	Name          string     `json:"name"`
	BaseURL       string     `json:"base_url"`
	AuthorizeURL  string     `json:"authorize_url"`
	TokenURL      string     `json:"token_url"`
	ClientID      string     `json:"client_id"`
	RedirectURI   string     `json:"redirect_uri"`
	Scopes        []string   `json:"scopes"`
	ProfileSystem string     `json:"profile_system" doc:"The identifier system holding a person's profile id in the remote (the default urn:ward:connector:<name>:profile when none was set)."`
	Status        string     `json:"status" enum:"unprimed,connected,disconnected" doc:"unprimed until an administrator connects it; disconnected once the remote refused a refresh for good."`
	Expiry        *time.Time `json:"token_expiry,omitempty" doc:"When the current access token expires."`
	LastRefresh   *time.Time `json:"last_refresh,omitempty" doc:"When tokens were last obtained."`
	LastError     string     `json:"last_error,omitempty" doc:"The last failure to obtain tokens."`
	ConnectPath   string     `json:"connect_path" doc:"Where an administrator's browser primes the connector."`
	Created       time.Time  `json:"created"`
	Updated       time.Time  `json:"updated"`
	Version       int64      `json:"version"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toConnectorJSON(c *connector.Connector) connectorJSON {
	return connectorJSON{Name: c.Name, BaseURL: c.BaseURL, AuthorizeURL: c.AuthorizeURL, TokenURL: c.TokenURL,
		ClientID: c.ClientID, RedirectURI: c.RedirectURI, Scopes: c.Scopes, ProfileSystem: c.EffectiveProfileSystem(),
		Status: string(c.Status),
		Expiry: timePtr(c.Expiry), LastRefresh: timePtr(c.LastRefresh), LastError: c.LastError,
		ConnectPath: "/admin/connectors/" + url.PathEscape(c.Name) + "/connect",
		Created:     c.CreatedAt, Updated: c.UpdatedAt, Version: c.Version}
}

type createConnectorBody struct {
	Name         string   `json:"name" maxLength:"64" pattern:"^[a-z0-9][a-z0-9_.-]*$" example:"campdoc"`
	BaseURL      string   `json:"base_url" maxLength:"2048" doc:"The remote API's base URL (https)."`
	AuthorizeURL string   `json:"authorize_url" maxLength:"2048"`
	TokenURL     string   `json:"token_url" maxLength:"2048"`
	ClientID     string   `json:"client_id" maxLength:"512"`
	ClientSecret string   `json:"client_secret" maxLength:"2048" doc:"Stored encrypted; never returned."`
	RedirectURI  string   `json:"redirect_uri" maxLength:"2048" doc:"ward's /admin/connectors/{name}/callback as the remote knows it."`
	Scopes       []string `json:"scopes,omitempty" maxItems:"32"`
	// No maxLength: the service refuses an over-long value with a 400
	// naming the field, like any other bad value.
	ProfileSystem string `json:"profile_system,omitempty" doc:"Optional absolute URI (urn:, http:// or https://, at most 255 bytes): the system of the directory identifier holding a person's profile id in the remote. Default urn:ward:connector:<name>:profile."`
}

type connectorPath struct {
	Name string `path:"name" maxLength:"64" doc:"The connector's name." example:"campdoc"`
}

type connectorOutput struct {
	Body connectorJSON
}

type connectorList struct {
	Connectors []connectorJSON `json:"connectors"`
}

func (s *server) registerConnectors(api huma.API) {
	tags := []string{"connectors"}
	register(api, s, huma.Operation{
		OperationID: "list-connectors", Method: http.MethodGet, Path: "/api/connector", Tags: tags,
		Summary: "List connectors", Description: "Administrators only. By name; no secret or token is shown.",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body connectorList }, error) {
		cs, err := s.conns.List(ctx)
		if err != nil {
			return nil, err
		}
		out := &struct{ Body connectorList }{Body: connectorList{Connectors: make([]connectorJSON, len(cs))}}
		for i, c := range cs {
			out.Body.Connectors[i] = toConnectorJSON(c)
		}
		return out, nil
	})

	register(api, s, huma.Operation{
		OperationID: "create-connector", Method: http.MethodPost, Path: "/api/connector", Tags: tags,
		Summary: "Create a connector", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict},
		Description: "Administrators only. The connector starts unprimed: an administrator then opens " +
			"connect_path in a browser and signs in to the remote (docs/connectors.md).",
	}, func(ctx context.Context, in *struct{ Body createConnectorBody }) (*struct {
		Location string `header:"Location"`
		Body     connectorJSON
	}, error) {
		b := in.Body
		c, err := s.conns.Create(ctx, connector.Settings{Name: b.Name, BaseURL: b.BaseURL, AuthorizeURL: b.AuthorizeURL,
			TokenURL: b.TokenURL, ClientID: b.ClientID, ClientSecret: b.ClientSecret, RedirectURI: b.RedirectURI,
			Scopes: b.Scopes, ProfileSystem: b.ProfileSystem})
		if err != nil {
			return nil, err
		}
		return &struct {
			Location string `header:"Location"`
			Body     connectorJSON
		}{Location: s.base + "/api/connector/" + url.PathEscape(c.Name), Body: toConnectorJSON(c)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "get-connector", Method: http.MethodGet, Path: "/api/connector/{name}", Tags: tags,
		Summary: "One connector and its status", Errors: []int{http.StatusNotFound},
		Description: "Administrators only. Status (unprimed, connected, disconnected), token expiry, last refresh and last error.",
	}, func(ctx context.Context, in *connectorPath) (*connectorOutput, error) {
		c, err := s.conns.Get(ctx, in.Name)
		if err != nil {
			return nil, err
		}
		return &connectorOutput{Body: toConnectorJSON(c)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "delete-connector", Method: http.MethodDelete, Path: "/api/connector/{name}", Tags: tags,
		Summary: "Delete a connector", DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound},
		Description: "Administrators only. Its tokens go with it.",
	}, func(ctx context.Context, in *connectorPath) (*emptyOutput, error) {
		return &emptyOutput{}, s.conns.Delete(ctx, in.Name)
	})
}
