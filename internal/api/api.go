// Package api is ward's management JSON API: users, roles, organizations,
// consents, demographics and the audit log, served with huma on the stdlib
// mux, described by an OpenAPI 3.1 document at /api/openapi.json, with
// every error an RFC 9457 problem document (see errors.go, the one place
// errors are mapped).
//
// Authentication happens upstream: the server's middleware puts the caller
// in the request context (internal/actor) before these handlers run. The
// handlers only refuse anonymous callers (401) and leave every permission
// decision to the domain services, which return apperr errors.
//
// Paths keep the reference system's REST paths where ward offers the same
// thing (see RULES.md), so existing integrations can move over. Where the
// reference used FHIR bodies (organizations, demographics) so does ward.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/connector"
	"ward/internal/directory"
	"ward/internal/integration"
	"ward/internal/intervention"
	"ward/internal/oauth"
	"ward/internal/session"
	"ward/internal/webhook"
)

// MaxBodyBytes caps every request body this API reads. The server also
// limits bodies upstream; this is the API's own guard, so a route mounted
// without that middleware is still bounded.
const MaxBodyBytes = 1 << 20

// Deps is what the API needs from the rest of ward.
type Deps struct {
	Directory *directory.Service
	Audit     *audit.Log
	// Sessions serves POST /api/user/{id}/unlock (sign-in, sign-out and
	// /api/ping belong to the server's session middleware, internal/httpauth).
	// Without it that route is not mounted.
	Sessions *session.Service
	// Clients is the OAuth2 client registry; without it the /api/client
	// routes are not mounted.
	Clients *client.Service
	// OAuth is the authorization server; without it the token tools and
	// service-account routes (tokens.go) are not mounted.
	OAuth *oauth.Provider
	// Interventions manages interventions; without it the
	// /api/intervention routes are not mounted.
	Interventions *intervention.Service
	// Connectors manages connectors (issue 16); without it the
	// /api/connector routes are not mounted.
	Connectors *connector.Service
	// Integrations pushes tokens to integrations (issue 15 part 2);
	// without it the /api/integration routes are not mounted.
	Integrations *integration.Service
	// MIS builds a connector's MIS client for the pass-through routes
	// (/api/connector/{name}/groups, /profiles, ...); without it they
	// answer 503.
	MIS MISClients
	// Webhooks manages webhook subscriptions (issue 15); without it the
	// /api/webhook routes are not mounted.
	Webhooks *webhook.Service
	// Base is ward's public base URL (no trailing slash), used for FHIR
	// fullUrl values and Location headers.
	Base string
	// Logger receives internal errors; nil means slog.Default().
	Logger *slog.Logger
}

// server holds the dependencies every handler shares.
type server struct {
	dir     *directory.Service
	clients *client.Service
	oauth   *oauth.Provider
	sess    *session.Service
	ivs     *intervention.Service
	conns   *connector.Service
	ints    *integration.Service
	// misClients builds a connector's MIS client (Deps.MIS).
	misClients MISClients
	aud        *audit.Log
	base       string
	log        *slog.Logger

	// hooks is Deps.Webhooks (issue 15).
	hooks *webhook.Service
}

// Mount registers the management API on mux and returns the huma API (for
// tests and for tools that want the OpenAPI document).
func Mount(mux *http.ServeMux, d Deps) huma.API {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &server{dir: d.Directory, clients: d.Clients, oauth: d.OAuth, sess: d.Sessions, ivs: d.Interventions, conns: d.Connectors, ints: d.Integrations, misClients: d.MIS, aud: d.Audit, base: strings.TrimRight(d.Base, "/"), log: log}
	s.hooks = d.Webhooks // issue 15

	cfg := huma.DefaultConfig("ward management API", "1")
	cfg.Info.Description = "Users, roles, organizations, consents, demographics and audit log. " +
		"Errors are RFC 9457 problem documents; bad input is always 400."
	cfg.OpenAPIPath = "/api/openapi"
	// The built-in docs page loads scripts from a CDN, which the strict CSP
	// forbids; the schema routes and the $schema link transformer add fields
	// to every response body that clients of the reference would not expect.
	cfg.DocsPath = ""
	cfg.SchemasPath = ""
	cfg.CreateHooks = nil
	// A fresh map: huma.DefaultFormats is shared package state.
	cfg.Formats = map[string]huma.Format{
		"application/json":      huma.DefaultJSONFormat,
		"json":                  huma.DefaultJSONFormat,
		"application/fhir+json": huma.DefaultJSONFormat,
	}
	cfg.Transformers = []huma.Transformer{errorTransformer(log)}
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer":  {Type: "http", Scheme: "bearer", Description: "An OAuth2 access token issued by ward."},
		"session": {Type: "apiKey", In: "cookie", Name: "ward_session", Description: "A signed-in browser session."},
	}
	cfg.Security = []map[string][]string{{"bearer": {}}, {"session": {}}}
	// FHIR and directory types share names (Identifier, Address...).
	cfg.Components.Schemas = huma.NewMapRegistry("#/components/schemas/", schemaNamer)
	cfg.OnAddOperation = append(cfg.OnAddOperation, documentOperation)

	api := humago.New(mux, cfg)
	api.UseMiddleware(errorMiddleware)

	s.registerUsers(api)
	s.registerMembership(api)
	s.registerConsents(api)
	s.registerOrganizations(api)
	s.registerDemographics(api)
	s.registerAudit(api)
	if d.Clients != nil {
		s.registerClients(api)
		s.registerIDPClients(api)
	}
	if d.Sessions != nil {
		s.registerUnlock(api)
	}
	if d.OAuth != nil {
		s.registerTokens(api)
	}
	if d.Connectors != nil {
		s.registerConnectors(api)
		s.registerConnectorCalls(api)
	}
	if d.Integrations != nil {
		s.registerIntegrations(api)
	}
	if d.Interventions != nil {
		s.registerInterventions(api)
		s.registerUserAccess(api)
		s.registerCards(api)
		s.registerCommunicate(api)
		s.registerAccessRules(api)
	}
	if d.Webhooks != nil { // issue 15
		s.registerWebhooks(api)
	}
	s.registerValueSets(api)
	return api
}

// Common error statuses documented for every operation; register adds them.
var commonErrors = []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden}

// register adds an operation whose handler runs only for a signed-in caller
// and whose errors all go through problem. Every route uses it, so no
// handler can forget either step.
func register[I, O any](api huma.API, s *server, op huma.Operation, h func(context.Context, *I) (*O, error)) {
	if op.MaxBodyBytes == 0 {
		op.MaxBodyBytes = MaxBodyBytes
	}
	op.Errors = append(append([]int(nil), commonErrors...), op.Errors...)
	huma.Register(api, op, func(ctx context.Context, in *I) (*O, error) {
		if err := signedIn(ctx); err != nil {
			return nil, problem(ctx, s.log, err)
		}
		out, err := h(ctx, in)
		if err != nil {
			return nil, problem(ctx, s.log, err)
		}
		return out, nil
	})
}

// signedIn is the one check for anonymous callers: 401 for them, nil for a
// person, a client or the system.
func signedIn(ctx context.Context) error {
	if actor.From(ctx).Anonymous() {
		return apperr.New(apperr.Unauthenticated, "sign in required")
	}
	return nil
}

// documentOperation tidies an operation's OpenAPI entry: huma documents a
// 422 that this API never sends (see errors.go), and raw FHIR bodies need
// their FHIR content types and schemas in place of "binary string".
func documentOperation(oapi *huma.OpenAPI, op *huma.Operation) {
	if r, ok := op.Responses["422"]; ok {
		delete(op.Responses, "422")
		if _, has := op.Responses["400"]; !has {
			op.Responses["400"] = r
		}
	}
	documentFHIR(oapi, op)
}

// schemaNamer names component schemas as huma does, prefixing FHIR types
// with "FHIR" so FHIR's Identifier and the directory's do not collide.
func schemaNamer(t reflect.Type, hint string) string {
	name := huma.DefaultSchemaNamer(t, hint)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if strings.HasSuffix(t.PkgPath(), "/internal/fhir") {
		return "FHIR" + name
	}
	return name
}

// parseID parses a path or query id: a positive decimal integer.
func parseID(name, raw string) (int64, error) {
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.New(apperr.Invalid, "%s must be a positive integer", name)
	}
	return id, nil
}

// userPath is the input of /api/user/{id}/... routes without other
// parameters. Inputs are flat structs: huma ignores embedded unexported
// structs, so path and query fields cannot be shared by embedding.
type userPath struct {
	ID string `path:"id" doc:"User id (a positive integer)." example:"42"`
}

// emptyOutput is the output of routes that answer 204 No Content.
type emptyOutput struct{}
