package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"ward/internal/integration"
)

// integrationJSON is an integration as the management API shows it: its
// settings and push status, never its secret or a token.
type integrationJSON struct {
	ID                   string     `json:"id" example:"int_5f0c2a9e1b7d4c3a8e6f1029"`
	ClientID             string     `json:"client_id"`
	URL                  string     `json:"url"`
	TokenLifetimeSeconds int64      `json:"token_lifetime_seconds"`
	Status               string     `json:"status" enum:"never,pushed,failed,suspended" doc:"How the last push went: suspended while the client is disabled or awaits approval."`
	LastHTTPStatus       int        `json:"last_http_status,omitempty" doc:"The receiver's answer to the last push (absent when it did not answer)."`
	LastError            string     `json:"last_error,omitempty" doc:"Why the last push failed or is suspended."`
	ConsecutiveFailures  int        `json:"consecutive_failures"`
	LastAttemptAt        *time.Time `json:"last_attempt_at,omitempty"`
	LastPushedAt         *time.Time `json:"last_pushed_at,omitempty" doc:"When a token was last accepted."`
	TokenID              int64      `json:"token_id,omitempty" doc:"Row id of the last token accepted (as the token tools list it)."`
	TokenExpiresAt       *time.Time `json:"token_expires_at,omitempty"`
	NextPushAt           *time.Time `json:"next_push_at,omitempty" doc:"When the next push is due."`
	Created              time.Time  `json:"created"`
	Updated              time.Time  `json:"updated"`
}

func toIntegrationJSON(it *integration.Integration) integrationJSON {
	return integrationJSON{ID: it.ID, ClientID: it.ClientID, URL: it.URL,
		TokenLifetimeSeconds: int64(it.TokenLifetime / time.Second), Status: string(it.LastStatus),
		LastHTTPStatus: it.LastHTTPStatus, LastError: it.LastError, ConsecutiveFailures: it.Failures,
		LastAttemptAt: timePtr(it.LastAttemptAt), LastPushedAt: timePtr(it.LastPushedAt), TokenID: it.TokenID,
		TokenExpiresAt: timePtr(it.TokenExpiresAt), NextPushAt: timePtr(it.NextPushAt),
		Created: it.CreatedAt, Updated: it.UpdatedAt}
}

type createIntegrationBody struct {
	ClientID             string `json:"client_id" maxLength:"255" doc:"A confidential system client (client_credentials, with scopes)."`
	URL                  string `json:"url" maxLength:"2048" doc:"Where tokens are POSTed: https (plain http and private addresses only with WARD_OUTBOUND_ALLOW_PRIVATE=1)."`
	TokenLifetimeSeconds int64  `json:"token_lifetime_seconds,omitempty" doc:"Each pushed token's lifetime, 300 to 86400 seconds; default 3600."`
}

type createdIntegrationJSON struct {
	integrationJSON
	Secret string `json:"secret" doc:"The whsec_ signing secret, shown this once."`
}

type integrationPath struct {
	ID string `path:"id" maxLength:"64" doc:"The integration's id."`
}

type integrationOutput struct {
	Body integrationJSON
}

type integrationList struct {
	Integrations []integrationJSON `json:"integrations"`
}

func (s *server) registerIntegrations(api huma.API) {
	tags := []string{"integrations"}
	register(api, s, huma.Operation{
		OperationID: "list-integrations", Method: http.MethodGet, Path: "/api/integration", Tags: tags,
		Summary: "List integrations", Description: "Administrators only. Settings and push status; no secret or token.",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body integrationList }, error) {
		its, err := s.ints.List(ctx)
		if err != nil {
			return nil, err
		}
		out := &struct{ Body integrationList }{Body: integrationList{Integrations: make([]integrationJSON, len(its))}}
		for i, it := range its {
			out.Body.Integrations[i] = toIntegrationJSON(it)
		}
		return out, nil
	})

	register(api, s, huma.Operation{
		OperationID: "create-integration", Method: http.MethodPost, Path: "/api/integration", Tags: tags,
		Summary: "Register an integration", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict},
		Description: "Administrators only. ward pushes the system client a fresh JWT access token with its " +
			"registered scopes, signed with the returned secret (Standard Webhooks), now, whenever ward starts, " +
			"and before each token expires (docs/integrations.md).",
	}, func(ctx context.Context, in *struct{ Body createIntegrationBody }) (*struct {
		Location string `header:"Location"`
		Body     createdIntegrationJSON
	}, error) {
		b := in.Body
		c, err := s.ints.Create(ctx, integration.NewIntegration{ClientID: b.ClientID, URL: b.URL,
			TokenLifetime: lifetimeOf(b.TokenLifetimeSeconds)})
		if err != nil {
			return nil, err
		}
		return &struct {
			Location string `header:"Location"`
			Body     createdIntegrationJSON
		}{Location: s.base + "/api/integration/" + url.PathEscape(c.ID),
			Body: createdIntegrationJSON{integrationJSON: toIntegrationJSON(c.Integration), Secret: c.Secret}}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "get-integration", Method: http.MethodGet, Path: "/api/integration/{id}", Tags: tags,
		Summary: "One integration and its push status", Errors: []int{http.StatusNotFound},
		Description: "Administrators only. Last status, receiver answer and error, consecutive failures, last token's id and expiry, next push.",
	}, func(ctx context.Context, in *integrationPath) (*integrationOutput, error) {
		it, err := s.ints.Get(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		return &integrationOutput{Body: toIntegrationJSON(it)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "delete-integration", Method: http.MethodDelete, Path: "/api/integration/{id}", Tags: tags,
		Summary: "Delete an integration", DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound},
		Description: "Administrators only. Pushes stop, and every live token pushed to it is revoked.",
	}, func(ctx context.Context, in *integrationPath) (*emptyOutput, error) {
		_, err := s.ints.Delete(ctx, in.ID)
		return &emptyOutput{}, err
	})

	register(api, s, huma.Operation{
		OperationID: "push-integration", Method: http.MethodPost, Path: "/api/integration/{id}/push", Tags: tags,
		Summary: "Push a fresh token now", Errors: []int{http.StatusNotFound, http.StatusConflict},
		Description: "Administrators only. Mints and posts a token at once and answers the integration as it then " +
			"stands (a failed push is a 200 whose status says failed). 409 while another push is in progress or the client is disabled.",
	}, func(ctx context.Context, in *integrationPath) (*integrationOutput, error) {
		it, err := s.ints.PushNow(ctx, in.ID)
		if err != nil {
			return nil, err
		}
		return &integrationOutput{Body: toIntegrationJSON(it)}, nil
	})
}

// lifetimeOf is a lifetime in seconds as a duration; out-of-range values
// reach the service, which refuses them with the bounds.
func lifetimeOf(sec int64) time.Duration {
	const maxSec = int64(1<<62) / int64(time.Second)
	if sec < 0 || sec > maxSec {
		return -1
	}
	return time.Duration(sec) * time.Second
}
