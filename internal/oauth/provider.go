package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	"github.com/ory/fosite/token/hmac"
	fjwt "github.com/ory/fosite/token/jwt"

	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/httpauth"
	"ward/internal/oauth/keys"
	"ward/internal/oauth/scope"
	"ward/internal/oauth/tokens"
	"ward/internal/outbound"
	"ward/internal/secrets"
	"ward/internal/session"
	"ward/internal/store"
)

// Paths of the endpoints, all advertised in discovery.
const (
	PathAuthorize   = "/oauth/authorize"
	PathToken       = "/oauth/token"
	PathIntrospect  = "/oauth/introspect"
	PathRevoke      = "/oauth/revoke"
	PathUserinfo    = "/oauth/userinfo"
	PathEndSession  = "/oauth/logout"
	PathTokenStatus = "/oauth/token-status"
	PathJWKS        = "/.well-known/jwks.json"
	PathOIDCConfig  = "/.well-known/openid-configuration"
	PathSMARTConfig = "/.well-known/smart-configuration"
)

// Config is the authorization server's policy.
type Config struct {
	// Issuer is ward's public base URL (no trailing slash).
	Issuer string
	// AccessTokenLifetime is how long access tokens live (RULES.md: 4 h
	// for interventions in the reference; SMART apps expect about 1 h).
	AccessTokenLifetime time.Duration
	// RefreshTokenLifetime bounds offline_access refresh tokens.
	RefreshTokenLifetime time.Duration
	// CodeLifetime bounds authorization codes (RFC 6749 says at most 10 min).
	CodeLifetime time.Duration
	// IDTokenLifetime is how long ID tokens live.
	IDTokenLifetime time.Duration
	// ServiceTokenLifetime is how long service-account tokens live.
	ServiceTokenLifetime time.Duration
	// SystemTokenLifetime caps an access token that carries a system/
	// scope (SMART Backend Services: SHOULD NOT exceed 300 seconds); the
	// shorter of it and AccessTokenLifetime applies.
	SystemTokenLifetime time.Duration
	// IDPTokenLifetime is how long the legacy IdP API's tokens live.
	IDPTokenLifetime time.Duration
	// ServiceTokenAlertWindow: a service token expiring within it makes
	// the token janitor alert the service account's sponsor.
	ServiceTokenAlertWindow time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// DefaultConfig is ward's default policy for issuer.
func DefaultConfig(issuer string) Config {
	return Config{
		Issuer:                  strings.TrimRight(issuer, "/"),
		AccessTokenLifetime:     time.Hour,
		RefreshTokenLifetime:    90 * 24 * time.Hour,
		CodeLifetime:            5 * time.Minute,
		IDTokenLifetime:         time.Hour,
		ServiceTokenLifetime:    365 * 24 * time.Hour,
		SystemTokenLifetime:     5 * time.Minute,
		IDPTokenLifetime:        12 * time.Hour,
		ServiceTokenAlertWindow: 6 * 7 * 24 * time.Hour,
	}
}

// FHIRBase is the audience of every access token: ward's FHIR endpoint.
func (c Config) FHIRBase() string { return c.Issuer + "/fhir" }

// Directory is what the authorization server reads about people: their
// roles (fhirUser, the patient picker), their profile (userinfo), and the
// patients a staff member may launch with.
type Directory interface {
	GetUser(ctx context.Context, id int64) (*directory.User, error)
	UserRoles(ctx context.Context, id int64) ([]string, error)
	CheckRole(ctx context.Context, perm directory.Permission, targetID int64) error
	VisiblePatients(ctx context.Context, staffID int64, afterID int64, limit int) ([]int64, error)
}

// Deps are the services the Provider is built on.
type Deps struct {
	Tokens    tokens.Store
	Tx        store.Transactor
	Clients   Clients
	Keys      KeySource
	Audit     audit.Recorder
	Directory Directory
	// MasterKey derives the global HMAC secret of opaque tokens.
	MasterKey []byte
	// SecretKey is the client-secret HMAC key (the registry's).
	SecretKey secrets.HMACKey
	Logger    *slog.Logger
	// Throttle, when set, refuses the token endpoint to a client address
	// that has used up its failed client authentications (session.Throttle).
	Throttle Throttle
	// ClientIP names a request's client address for the throttle
	// (httpauth.ClientIP with the trusted proxies); nil means the peer's.
	ClientIP func(*http.Request) string
	// Outbound is where fetches of clients' key sets may go
	// (WARD_OUTBOUND_ALLOW_PRIVATE); the zero value refuses non-public
	// addresses.
	Outbound outbound.Policy
}

// Throttle limits failed client authentications per address. The token
// endpoint succeeds far more often than it fails, so it only reads the
// address's budget before the check (Check) and writes after a failure
// (Fail): a success costs no write.
type Throttle interface {
	Check(ctx context.Context, addr string) (session.Verdict, error)
	Fail(ctx context.Context, addr string) error
}

// Provider is the authorization server.
type Provider struct {
	cfg      Config
	d        Deps
	fosite   *fosite.Fosite
	fcfg     *fosite.Config
	storage  *storage
	strategy *tokenStrategy
	clients  *clientCache
	contexts contextCache
	signer   *signer
	issue    *issueBatcher
	log      *slog.Logger
	now      func() time.Time
}

// New composes fosite with ward's storage, strategies and policy.
func New(cfg Config, d Deps) (*Provider, error) {
	if d.Tokens == nil || d.Tx == nil || d.Clients == nil || d.Keys == nil || d.Audit == nil || d.Directory == nil {
		return nil, errors.New("oauth: tokens, tx, clients, keys, audit and directory are required")
	}
	if cfg.Issuer == "" {
		return nil, errors.New("oauth: issuer is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.ClientIP == nil {
		d.ClientIP = func(r *http.Request) string { return httpauth.ClientIP(r, nil) }
	}
	global, err := secrets.DeriveKey(d.MasterKey, secrets.PurposeToken, 32)
	if err != nil {
		return nil, fmt.Errorf("oauth: derive token secret: %w", err)
	}
	if len(d.SecretKey) < 32 {
		return nil, errors.New("oauth: client secret key must be at least 32 bytes")
	}
	p := &Provider{cfg: cfg, d: d, log: d.Logger, now: cfg.Now}
	p.clients = newClientCache(d.Clients, cfg.Now)
	p.issue = newIssueBatcher(p)

	fc := &fosite.Config{
		AccessTokenLifespan:         cfg.AccessTokenLifetime,
		RefreshTokenLifespan:        cfg.RefreshTokenLifetime,
		AuthorizeCodeLifespan:       cfg.CodeLifetime,
		IDTokenLifespan:             cfg.IDTokenLifetime,
		IDTokenIssuer:               cfg.Issuer,
		AccessTokenIssuer:           cfg.Issuer,
		TokenURL:                    cfg.Issuer + PathToken,
		GlobalSecret:                global,
		ScopeStrategy:               smartScopeStrategy,
		AudienceMatchingStrategy:    fosite.DefaultAudienceMatchingStrategy,
		EnforcePKCE:                 true,
		EnforcePKCEForPublicClients: true,
		// S256 only: plain would let an eavesdropper on the authorization
		// response redeem the code.
		EnablePKCEPlainChallengeMethod: false,
		// SMART: a refresh token only for offline_access or online_access.
		RefreshTokenScopes:         []string{scope.OfflineAccess, scope.OnlineAccess},
		ClientSecretsHasher:        secretHasher{key: d.SecretKey},
		SendDebugMessagesToClients: false,
		MinParameterEntropy:        fosite.MinParameterEntropy,
		JWTScopeClaimKey:           fjwt.JWTScopeFieldString,
		AllowedPromptValues:        []string{"login", "none", "consent"},
		RedirectSecureChecker:      fosite.IsRedirectURISecureStrict,
		TokenEntropy:               32,
	}
	// Every fetch fosite could make goes through ward's outbound client: a
	// client's jwks_uri through keySetFetcher (fosite's default fetcher
	// would use a client of its own, unbounded), and fosite's HTTPClient
	// (request_uri, which no ward client registers) with no retries.
	out := outbound.New(d.Outbound, outbound.Limits{Timeout: KeySetTimeout, MaxBytes: KeySetMaxBytes})
	fc.JWKSFetcherStrategy = newKeySetFetcher(out.Get, cfg.Now, d.Logger)
	hc := retryablehttp.NewClient()
	hc.Logger = nil
	hc.RetryMax = 0
	hc.HTTPClient = out.HTTPClient()
	fc.HTTPClient = hc
	p.fcfg = fc
	sg := &signer{keys: d.Keys, alg: keys.ES256}
	p.signer = sg
	p.strategy = &tokenStrategy{
		hmac: oauth2.NewHMACSHAStrategyUnPrefixed(&hmac.HMACStrategy{Config: fc}, fc),
		now:  cfg.Now,
	}
	p.strategy.jwt = &accessJWTs{sg: sg, keys: d.Keys, issuer: cfg.Issuer, audience: cfg.FHIRBase(), now: cfg.Now}
	p.storage = &storage{
		st: d.Tokens, clients: p.clients, now: cfg.Now,
		audience: []string{cfg.FHIRBase()}, codeLifespan: cfg.CodeLifetime,
		codeSignature: p.strategy.AuthorizeCodeSignature,
	}
	p.fosite = fosite.NewOAuth2Provider(p.storage, fc)
	fc.ClientAuthenticationStrategy = p.authenticateClient

	st, strat := p.storage, p.strategy
	// ID tokens in their client's algorithm (RS256 by default); JWT access
	// tokens and id_token_hint checks keep sg (ES256 signing, verification
	// against every published key).
	oidcStrategy := newIDTokenStrategy(d.Keys, fc)
	explicit := &oauth2.AuthorizeExplicitGrantHandler{
		AccessTokenStrategy: strat, RefreshTokenStrategy: strat, AuthorizeCodeStrategy: strat,
		CoreStorage: st, TokenRevocationStorage: st, Config: fc,
	}
	cc := &oauth2.ClientCredentialsGrantHandler{
		HandleHelper: &oauth2.HandleHelper{AccessTokenStrategy: strat, AccessTokenStorage: st, Config: fc},
		Config:       fc,
	}
	refresh := &oauth2.RefreshTokenGrantHandler{
		AccessTokenStrategy: strat, RefreshTokenStrategy: strat, TokenRevocationStorage: st, Config: fc,
	}
	oidcExplicit := &openid.OpenIDConnectExplicitHandler{
		OpenIDConnectRequestStorage:   st,
		IDTokenHandleHelper:           &openid.IDTokenHandleHelper{IDTokenStrategy: oidcStrategy},
		OpenIDConnectRequestValidator: openid.NewOpenIDConnectRequestValidator(sg, fc),
		Config:                        fc,
	}
	oidcRefresh := &openid.OpenIDConnectRefreshHandler{
		IDTokenHandleHelper: &openid.IDTokenHandleHelper{IDTokenStrategy: oidcStrategy},
		Config:              fc,
	}
	pk := &pkce.Handler{AuthorizeCodeStrategy: strat, Storage: st, Config: fc}
	introspect := &oauth2.CoreValidator{CoreStrategy: strat, CoreStorage: st, Config: fc}
	revoke := &oauth2.TokenRevocationHandler{
		TokenRevocationStorage: st, AccessTokenStrategy: strat, RefreshTokenStrategy: strat,
	}
	fc.AuthorizeEndpointHandlers.Append(explicit)
	fc.AuthorizeEndpointHandlers.Append(oidcExplicit)
	fc.AuthorizeEndpointHandlers.Append(pk)
	// Assigned, not Appended: Append drops a handler whose type is already
	// listed, and every wrapper has the same type.
	for _, h := range []fosite.TokenEndpointHandler{explicit, cc, refresh, oidcExplicit, oidcRefresh, pk} {
		fc.TokenEndpointHandlers = append(fc.TokenEndpointHandlers, onlyIfHandles{h})
	}
	fc.TokenIntrospectionHandlers.Append(introspect)
	fc.RevocationHandlers.Append(revoke)
	return p, nil
}

// Close stops the provider's background writer. Requests still being
// served afterwards fail cleanly rather than hang.
func (p *Provider) Close() { p.issue.close() }

// Config returns the policy in force.
func (p *Provider) Config() Config { return p.cfg }

// InvalidateClient drops a client from this replica's cache, so a change
// made here (disable, new secret) takes effect here at once.
func (p *Provider) InvalidateClient(id string) { p.clients.Invalidate(id) }

// smartScopeStrategy is fosite's scope check: needle is allowed when one of
// the client's registered scopes covers it in the SMART model (v1 and v2
// spellings alike). Unknown or malformed scopes are covered by nothing, so
// they are refused with invalid_scope; nothing is ever granted because a
// wildcard happens to match a name.
func smartScopeStrategy(haystack []string, needle string) bool {
	n, err := scope.Parse(needle)
	if err != nil {
		return false
	}
	for _, h := range haystack {
		g, err := scope.Parse(h)
		if err == nil && scope.Covers(g, n) {
			return true
		}
	}
	return false
}

// fositeErr returns err as fosite's RFC 6749 error.
func fositeErr(err error) *fosite.RFC6749Error { return fosite.ErrorToRFC6749Error(err) }

// onlyIfHandles wraps a token endpoint handler so that it is not asked to
// handle a grant it cannot: fosite calls every handler for every request
// and each one that declines returns an error carrying a stack trace,
// which profiles of the token endpoint showed costing several percent.
type onlyIfHandles struct{ fosite.TokenEndpointHandler }

func (o onlyIfHandles) PopulateTokenEndpointResponse(ctx context.Context, r fosite.AccessRequester, w fosite.AccessResponder) error {
	if !o.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	return o.TokenEndpointHandler.PopulateTokenEndpointResponse(ctx, r, w)
}

func (o onlyIfHandles) HandleTokenEndpointRequest(ctx context.Context, r fosite.AccessRequester) error {
	if !o.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	return o.TokenEndpointHandler.HandleTokenEndpointRequest(ctx, r)
}
