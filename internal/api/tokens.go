package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"ward/internal/oauth"
	"ward/internal/oauth/tokens"
	"ward/internal/store"
)

// The revocation and token tools (seed 004) and service accounts (seed
// 001), over internal/oauth's Provider, which decides every permission:
// a client's users and tokens are for whoever may manage the client; a
// person's own authorizations are always theirs to see and withdraw. No
// answer ever holds a token's signature or stored request; a service
// token is in the one answer that issued it.

// tokenJSON is an issued access or refresh token as the tools show it.
type tokenJSON struct {
	ID        int64     `json:"id" doc:"The token's handle: what /api/client/{client_id}/tokens/{token_id} takes."`
	Kind      string    `json:"kind" enum:"access,refresh"`
	ClientID  string    `json:"client_id"`
	UserID    int64     `json:"user_id,omitempty" doc:"The person the token acts for; absent for a client's own token."`
	Scopes    []string  `json:"scopes"`
	Format    string    `json:"format,omitempty" enum:"opaque,jwt" doc:"Access tokens only."`
	Service   bool      `json:"service" doc:"A long-lived service-account token."`
	Active    bool      `json:"active" doc:"Whether a resource server would accept it now: not revoked, not expired, its client enabled."`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Patient   string    `json:"patient,omitempty" doc:"The SMART launch patient."`
	FhirUser  string    `json:"fhirUser,omitempty"`
}

func toTokenJSON(in *oauth.TokenInfo) tokenJSON {
	out := tokenJSON{
		ID: in.ID, Kind: string(in.Kind), ClientID: in.ClientID, UserID: in.UserID, Scopes: in.Scopes,
		Format: in.Format, Service: in.Service, Active: in.Active, IssuedAt: in.IssuedAt,
		ExpiresAt: in.ExpiresAt, Patient: in.Patient, FhirUser: in.FhirUser,
	}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	return out
}

type tokenOutput struct {
	Body tokenJSON
}

// pastedTokenInput is what the token tools take: a token as a client
// holds it. It travels in a POST body, never in a URL, so it is not logged.
type pastedTokenInput struct {
	Body struct {
		Token string `json:"token" maxLength:"16384" doc:"An access token (ward_at_… or a JWT) or a refresh token (ward_rt_…)."`
	}
}

// oauthConsentJSON is a person's remembered consent to a client.
type oauthConsentJSON struct {
	ID          int64      `json:"id"`
	ClientID    string     `json:"client_id"`
	ClientName  string     `json:"client_name,omitempty"`
	Scopes      []string   `json:"scopes"`
	GrantedAt   time.Time  `json:"granted_at"`
	WithdrawnAt *time.Time `json:"withdrawn_at,omitempty" doc:"Absent while the consent is live."`
}

func toOAuthConsentJSON(c *tokens.Consent, name string) oauthConsentJSON {
	out := oauthConsentJSON{ID: c.ID, ClientID: c.ClientID, ClientName: name, Scopes: c.Scopes,
		GrantedAt: c.GrantedAt, WithdrawnAt: c.WithdrawnAt}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	return out
}

// clientUserJSON is one person who authorized a client.
type clientUserJSON struct {
	UserID     int64             `json:"user_id"`
	LiveTokens int               `json:"live_tokens" doc:"Their active, unexpired access and refresh tokens."`
	LastIssued *time.Time        `json:"last_issued,omitempty" doc:"When their newest token was issued."`
	Consent    *oauthConsentJSON `json:"consent,omitempty" doc:"Their live remembered consent, if any."`
}

type clientUsersBody struct {
	Users []clientUserJSON `json:"users"`
}

// revocationJSON says what withdrawing an authorization changed.
type revocationJSON struct {
	TokensRevoked     int `json:"tokens_revoked"`
	ConsentsWithdrawn int `json:"consents_withdrawn"`
}

type revocationOutput struct {
	Body revocationJSON
}

func toRevocation(r *oauth.Revocation) *revocationOutput {
	return &revocationOutput{Body: revocationJSON{TokensRevoked: r.Tokens, ConsentsWithdrawn: r.Consents}}
}

type clientUserInput struct {
	ClientID string `path:"client_id" maxLength:"128" doc:"The client_id."`
	UserID   string `path:"user_id" doc:"User id (a positive integer)." example:"42"`
}

type clientTokensInput struct {
	ClientID string `path:"client_id" maxLength:"128" doc:"The client_id."`
	Cursor   string `query:"cursor" doc:"The next value of the previous page."`
	Limit    int    `query:"limit" minimum:"0" maximum:"1000" doc:"Page size (default 50)."`
}

type tokenPage struct {
	Tokens []tokenJSON `json:"tokens"`
	Next   string      `json:"next,omitempty" doc:"Cursor of the next page; absent on the last page."`
}

type clientTokenInput struct {
	ClientID string `path:"client_id" maxLength:"128" doc:"The client_id."`
	TokenID  string `path:"token_id" doc:"Token id, as the token list shows it." example:"7"`
}

type userClientInput struct {
	ID       string `path:"id" doc:"User id (a positive integer)." example:"42"`
	ClientID string `path:"client_id" maxLength:"128" doc:"The client_id."`
}

type authorizationsBody struct {
	Authorizations []oauthConsentJSON `json:"authorizations" doc:"Remembered consents, live and withdrawn, newest first."`
}

// serviceAccountJSON is a service user and the token just issued for it.
type serviceAccountJSON struct {
	ServiceUserID int64     `json:"service_user_id"`
	SponsorID     int64     `json:"sponsor_id"`
	Created       bool      `json:"created" doc:"Whether this request created the service user."`
	AccessToken   string    `json:"access_token" doc:"The bearer token, shown this once: ward keeps only its signature."`
	TokenType     string    `json:"token_type" enum:"Bearer"`
	Scope         string    `json:"scope"`
	ExpiresIn     int64     `json:"expires_in" doc:"Seconds until the token expires."`
	Token         tokenJSON `json:"token"`
	RevokedTokens int       `json:"revoked_tokens" doc:"Earlier tokens of the service user this request revoked."`
}

type serviceAccountOutput struct {
	Status       int
	CacheControl string `header:"Cache-Control"`
	Body         serviceAccountJSON
}

func (s *server) registerTokens(api huma.API) {
	clientTags, tokenTags, userTags := []string{"clients"}, []string{"tokens"}, []string{"users"}

	register(api, s, huma.Operation{
		OperationID: "list-client-users", Method: http.MethodGet, Path: "/api/client/{client_id}/users",
		Tags: clientTags, Summary: "People who authorized a client", Errors: []int{http.StatusNotFound},
		Description: "Everyone with a live token of the client or a remembered consent to it. " +
			"For administrators and the client's owning application developer.",
	}, func(ctx context.Context, in *clientPath) (*struct{ Body clientUsersBody }, error) {
		us, err := s.oauth.ClientUsers(ctx, in.ClientID)
		if err != nil {
			return nil, err
		}
		out := &struct{ Body clientUsersBody }{Body: clientUsersBody{Users: make([]clientUserJSON, len(us))}}
		for i, u := range us {
			j := clientUserJSON{UserID: u.UserID, LiveTokens: u.LiveTokens}
			if !u.LastIssued.IsZero() {
				last := u.LastIssued
				j.LastIssued = &last
			}
			if u.Consent != nil {
				c := toOAuthConsentJSON(u.Consent, "")
				j.Consent = &c
			}
			out.Body.Users[i] = j
		}
		return out, nil
	})

	register(api, s, huma.Operation{
		OperationID: "revoke-client-user", Method: http.MethodDelete, Path: "/api/client/{client_id}/users/{user_id}",
		Tags: clientTags, Summary: "Revoke one person's authorization of a client", Errors: []int{http.StatusNotFound},
		Description: "Revokes every live access and refresh token the client holds for the person and " +
			"withdraws their remembered consents, so the consent page asks again. 404 when they hold neither.",
	}, func(ctx context.Context, in *clientUserInput) (*revocationOutput, error) {
		uid, err := parseID("user_id", in.UserID)
		if err != nil {
			return nil, err
		}
		r, err := s.oauth.RevokeClientUser(ctx, in.ClientID, uid)
		if err != nil {
			return nil, err
		}
		return toRevocation(r), nil
	})

	register(api, s, huma.Operation{
		OperationID: "list-client-tokens", Method: http.MethodGet, Path: "/api/client/{client_id}/tokens",
		Tags: clientTags, Summary: "A client's live tokens", Errors: []int{http.StatusNotFound},
		Description: "The client's active, unexpired access and refresh tokens, newest first, by id.",
	}, func(ctx context.Context, in *clientTokensInput) (*struct{ Body tokenPage }, error) {
		ts, next, err := s.oauth.ClientTokens(ctx, in.ClientID, store.Page{Limit: in.Limit, After: in.Cursor})
		if err != nil {
			return nil, err
		}
		out := &struct{ Body tokenPage }{Body: tokenPage{Tokens: make([]tokenJSON, len(ts)), Next: next}}
		for i, t := range ts {
			out.Body.Tokens[i] = toTokenJSON(t)
		}
		return out, nil
	})

	register(api, s, huma.Operation{
		OperationID: "revoke-client-token", Method: http.MethodDelete, Path: "/api/client/{client_id}/tokens/{token_id}",
		Tags: clientTags, Summary: "Revoke one of a client's tokens", Errors: []int{http.StatusNotFound},
		Description: "Revokes the token and its grant (the access and refresh tokens of the same " +
			"authorization). Answers the token as it now stands.",
	}, func(ctx context.Context, in *clientTokenInput) (*tokenOutput, error) {
		id, err := parseID("token_id", in.TokenID)
		if err != nil {
			return nil, err
		}
		t, err := s.oauth.RevokeTokenByID(ctx, in.ClientID, id)
		if err != nil {
			return nil, err
		}
		return &tokenOutput{Body: toTokenJSON(t)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "inspect-token", Method: http.MethodPost, Path: "/api/token/inspect",
		Tags: tokenTags, Summary: "What a pasted token stands for", Errors: []int{http.StatusNotFound},
		Description: "Its client, person, scopes, issue and expiry times, and whether it is active. " +
			"Revoked and expired tokens are shown until they are deleted. For whoever may manage " +
			"the token's client, and for the person it was issued for.",
	}, func(ctx context.Context, in *pastedTokenInput) (*tokenOutput, error) {
		t, err := s.oauth.InspectToken(ctx, in.Body.Token)
		if err != nil {
			return nil, err
		}
		return &tokenOutput{Body: toTokenJSON(t)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "revoke-token", Method: http.MethodPost, Path: "/api/token/revoke",
		Tags: tokenTags, Summary: "Revoke a pasted token", Errors: []int{http.StatusNotFound},
		Description: "Revokes the token and its grant; revoking a revoked token succeeds. Permission as inspect.",
	}, func(ctx context.Context, in *pastedTokenInput) (*tokenOutput, error) {
		t, err := s.oauth.RevokeToken(ctx, in.Body.Token)
		if err != nil {
			return nil, err
		}
		return &tokenOutput{Body: toTokenJSON(t)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "create-service-account", Method: http.MethodPost, Path: "/api/user/{id}/service-account",
		Tags: userTags, Summary: "Issue a service-account token", DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusNotFound, http.StatusConflict},
		Description: "Returns the service user sponsored by the user (creating it, 201, on first use; " +
			"200 after) and a long-lived bearer token for it with scope " + oauth.ScopeAPI + ", shown in " +
			"this answer only; the service user's previous token is revoked. Administrators only: a service " +
			"account may act on anyone. The sponsor must be an administrator or an application developer.",
	}, func(ctx context.Context, in *userPath) (*serviceAccountOutput, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		sa, err := s.oauth.CreateServiceAccount(ctx, id)
		if err != nil {
			return nil, err
		}
		status := http.StatusOK
		if sa.Created {
			status = http.StatusCreated
		}
		return &serviceAccountOutput{Status: status, CacheControl: "no-store", Body: serviceAccountJSON{
			ServiceUserID: sa.User.ID, SponsorID: sa.SponsorID, Created: sa.Created,
			AccessToken: sa.Token, TokenType: "Bearer", Scope: oauth.ScopeAPI,
			ExpiresIn: int64(sa.Info.ExpiresAt.Sub(sa.Info.IssuedAt).Seconds()),
			Token:     toTokenJSON(sa.Info), RevokedTokens: sa.Revoked,
		}}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "list-user-authorizations", Method: http.MethodGet, Path: "/api/user/{id}/authorizations",
		Tags: userTags, Summary: "The clients a person authorized", Errors: []int{http.StatusNotFound},
		Description: "The person's remembered consents to clients, live and withdrawn, newest first. " +
			"For the person themselves and administrators.",
	}, func(ctx context.Context, in *userPath) (*struct{ Body authorizationsBody }, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		as, err := s.oauth.UserConsents(ctx, id)
		if err != nil {
			return nil, err
		}
		out := &struct{ Body authorizationsBody }{Body: authorizationsBody{Authorizations: make([]oauthConsentJSON, len(as))}}
		for i := range as {
			out.Body.Authorizations[i] = toOAuthConsentJSON(&as[i].Consent, as[i].ClientName)
		}
		return out, nil
	})

	register(api, s, huma.Operation{
		OperationID: "withdraw-user-authorization", Method: http.MethodDelete, Path: "/api/user/{id}/authorizations/{client_id}",
		Tags: userTags, Summary: "Withdraw a person's authorization of a client", Errors: []int{http.StatusNotFound},
		Description: "Withdraws the person's consents to the client and revokes the client's tokens for " +
			"them. For the person, administrators and the client's owner. 404 when there is nothing to withdraw.",
	}, func(ctx context.Context, in *userClientInput) (*revocationOutput, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		r, err := s.oauth.WithdrawConsent(ctx, id, in.ClientID)
		if err != nil {
			return nil, err
		}
		return toRevocation(r), nil
	})
}
