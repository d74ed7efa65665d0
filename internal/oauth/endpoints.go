package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/ory/fosite"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/directory"
	"ward/internal/oauth/scope"
	"ward/internal/oauth/tokens"
)

// Mount registers the protocol endpoints on mux. The authorize endpoint is
// mounted by MountAuthorize, since it needs the sign-in and consent pages.
func (p *Provider) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST "+PathToken, p.token)
	mux.HandleFunc("POST "+PathIntrospect, p.introspect)
	mux.HandleFunc("POST "+PathRevoke, p.revoke)
	mux.HandleFunc("GET "+PathUserinfo, p.userinfo)
	mux.HandleFunc("POST "+PathUserinfo, p.userinfo)
	mux.HandleFunc("GET "+PathTokenStatus, p.tokenStatus)
	mux.HandleFunc("GET "+PathOIDCConfig, p.openIDConfiguration)
	mux.HandleFunc("GET "+PathSMARTConfig, p.smartConfiguration)
	// SMART App Launch 2.0 puts the document under the FHIR base; apps
	// discover it there from the base URL alone.
	mux.HandleFunc("GET /fhir"+PathSMARTConfig, p.smartConfiguration)
}

// writeAccessError writes an RFC 6749 section 5.2 error. invalid_client
// answers 401 with a WWW-Authenticate challenge (section 5.2 requires one
// when the client tried HTTP Basic; ward always sends it).
func (p *Provider) writeAccessError(ctx context.Context, w http.ResponseWriter, ar fosite.AccessRequester, err error) {
	err = unavailable(w, err)
	rfc := fositeErr(err)
	if rfc.ErrorField == fosite.ErrInvalidClient.ErrorField {
		w.Header().Set("WWW-Authenticate", `Basic realm="ward", charset="UTF-8"`)
	}
	if rfc.CodeField >= 500 {
		p.log.ErrorContext(ctx, "oauth: token endpoint failure", "err", rfc.WithExposeDebug(true).GetDescription(), "cause", rfc.Cause())
	}
	p.fosite.WriteAccessError(ctx, w, ar, err)
}

// clientIDOf names the client a failed request claimed to be, for audit.
func clientIDOf(r *http.Request, ar fosite.AccessRequester) string {
	if ar != nil && ar.GetClient() != nil {
		return ar.GetClient().GetID()
	}
	if id, _, ok := r.BasicAuth(); ok {
		return id
	}
	return r.PostForm.Get("client_id")
}

// auditFailure records a refused protocol request in its own transaction
// (the refused change wrote nothing). The claimed client id is recorded as
// text only: it may not exist.
func (p *Provider) auditFailure(ctx context.Context, what, clientID string, err error) {
	rfc := fositeErr(err)
	comment := fmt.Sprintf("%s refused: %s", what, rfc.ErrorField)
	if h := rfc.HintField; h != "" {
		comment += " (" + h + ")"
	}
	subject := ""
	if clientID != "" {
		comment += "; client " + truncate(clientID, 128)
		subject = audit.Ref("Client", truncate(clientID, 128))
	}
	ctx = actor.System(ctx)
	if aerr := p.d.Audit.Record(ctx, audit.Change{Type: audit.RequestRefused, Subject: subject,
		Fields: map[string]any{"request": what, "error": rfc.ErrorField}, Comment: comment}); aerr != nil {
		p.log.ErrorContext(ctx, "oauth: audit refused request", "err", aerr)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// token is the token endpoint (RFC 6749 section 3.2).
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// An address that has used up its failed client authentications is
	// refused before its credential is looked at; only a failed one
	// (invalid_client) counts, so busy clients are never slowed.
	addr := p.d.ClientIP(r)
	if p.d.Throttle != nil {
		v, err := p.d.Throttle.Check(ctx, addr)
		if err != nil {
			p.writeAccessError(ctx, w, nil, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
			return
		}
		if !v.Allowed {
			w.Header().Set("Retry-After", strconv.Itoa(int(v.RetryAfter/time.Second)))
			e := fosite.ErrTemporarilyUnavailable.WithHint("Too many failed client authentications from this address; retry later.")
			e.CodeField = http.StatusTooManyRequests
			p.writeAccessError(ctx, w, nil, e)
			return
		}
	}
	// fosite answers an unknown grant type with invalid_request; RFC 6749
	// section 5.2 says unsupported_grant_type.
	if err := r.ParseForm(); err == nil {
		if g := r.PostForm.Get("grant_type"); g != "" && !slices.Contains(client.GrantTypes, g) {
			err := fosite.ErrUnsupportedGrantType.WithHintf("ward supports the grant types %s.", strings.Join(client.GrantTypes, ", "))
			p.auditFailure(ctx, "token request", clientIDOf(r, nil), err)
			p.writeAccessError(ctx, w, nil, err)
			return
		}
	}
	sess := newSession()
	ar, err := p.fosite.NewAccessRequest(ctx, r, sess)
	if err != nil {
		if p.d.Throttle != nil && fositeErr(err).ErrorField == fosite.ErrInvalidClient.ErrorField {
			if ferr := p.d.Throttle.Fail(ctx, addr); ferr != nil {
				p.log.WarnContext(ctx, "oauth: count failed client authentication", "err", ferr)
			}
		}
		p.auditFailure(ctx, "token request", clientIDOf(r, ar), err)
		p.writeAccessError(ctx, w, ar, err)
		return
	}
	s, _ := ar.GetSession().(*Session)
	if s == nil {
		p.writeAccessError(ctx, w, ar, fosite.ErrServerError.WithDebug("session type"))
		return
	}
	grant := strings.Join(ar.GetGrantTypes(), " ")
	if fc, ok := ar.GetClient().(*fositeClient); ok {
		// Before anything is issued or a code or refresh token is spent.
		if d := mayUse(fc.c, s.UserID, grant); !d.Allowed {
			err := fosite.ErrUnauthorizedClient.WithHint(d.Reason)
			p.auditFailure(ctx, "token request", fc.GetID(), err)
			p.writeAccessError(ctx, w, ar, err)
			return
		}
	}
	if ar.GetGrantTypes().ExactOne("client_credentials") {
		// A token with "scope":"" grants nothing a client could use, and
		// clients (and the Bulk Data test suite) expect invalid_scope for a
		// missing or blank scope rather than such a token.
		if len(ar.GetRequestedScopes()) == 0 {
			err := fosite.ErrInvalidScope.WithHint("The scope parameter is missing or empty; a client credentials request must name the scopes it needs.")
			p.auditFailure(ctx, "token request", ar.GetClient().GetID(), err)
			p.writeAccessError(ctx, w, ar, err)
			return
		}
		s.ClientID = ar.GetClient().GetID()
		for _, sc := range ar.GetRequestedScopes() {
			ar.GrantScope(sc)
		}
	}
	p.capSystemToken(ar)
	s.Issuer = p.cfg.Issuer
	if len(ar.GetGrantedAudience()) == 0 {
		ar.GrantAudience(p.cfg.FHIRBase())
	}
	s.Audience = ar.GetGrantedAudience()

	scopes := ar.GetGrantedScopes()
	if grant == "refresh_token" {
		// Both before the refresh token is spent: a refused refresh
		// leaves the grant as it was.
		if err := p.launchStillVisible(ctx, s); err != nil {
			if !writeUnavailable(w, err) {
				p.auditFailure(ctx, "token request", s.ClientID, err)
				p.writeAccessError(ctx, w, ar, err)
			}
			return
		}
		narrow, err := narrowRefresh(ar)
		if err != nil {
			p.auditFailure(ctx, "token request", s.ClientID, err)
			p.writeAccessError(ctx, w, ar, err)
			return
		}
		if narrow != nil {
			s.AccessScopes, scopes = narrow, narrow
		}
	}
	var resp fosite.AccessResponder
	actx := actor.With(ctx, actor.Actor{UserID: s.UserID, ClientID: s.ClientID, Scopes: scopes})
	verb := "issued"
	if grant == "refresh_token" {
		verb = "refreshed"
	}
	comment := fmt.Sprintf("token %s to client %s (grant %s, scope %q)", verb, s.ClientID, grant,
		strings.Join(scopes, " "))
	issued := audit.Change{Type: audit.TokenIssued, Subject: audit.Ref("Client", s.ClientID), SubjectID: s.UserID,
		Fields:  map[string]any{"grant": grant, "scope": strings.Join(scopes, " "), "refreshed": grant == "refresh_token"},
		Comment: comment}
	if grant == "client_credentials" {
		// A time-ordered request id keeps the request index's inserts at
		// its end instead of on a random page each.
		if id, err := uuid.NewV7(); err == nil {
			ar.SetID(id.String())
		}
		// The token is made outside any transaction; its row and audit
		// event are written with those of concurrent requests.
		w := &deferredWrites{}
		if resp, err = p.fosite.NewAccessResponse(withDeferredWrites(actx, w), ar); err == nil {
			err = p.issue.write(ctx, w.rows, audit.Entry{Actor: actor.From(actx), SourceIP: actor.Addr(ctx), Change: issued})
		}
	} else {
		err = p.d.Tx.InTx(actx, func(ctx context.Context) error {
			var err error
			if resp, err = p.fosite.NewAccessResponse(ctx, ar); err != nil {
				return err
			}
			return p.d.Audit.Record(ctx, issued)
		})
	}
	if err != nil {
		p.auditFailure(ctx, "token request", s.ClientID, err)
		p.writeAccessError(ctx, w, ar, err)
		return
	}
	// The code grant's scopes are only settled by NewAccessResponse.
	scopes = ar.GetGrantedScopes()
	if s.AccessScopes != nil {
		scopes = s.AccessScopes
		resp.SetScopes(scopes)
	}
	if s.Patient != "" && scopes.Has(scope.LaunchPatient) {
		resp.SetExtra("patient", s.Patient)
	}
	p.fosite.WriteAccessResponse(ctx, w, ar, resp)
}

// capSystemToken shortens the access token of a request whose scopes
// include a system/ scope to SystemTokenLifetime (SMART Backend Services:
// SHOULD NOT exceed 300 seconds). fosite set the session's expiry while
// handling the request; the token, its stored row and expires_in all
// read it from there.
func (p *Provider) capSystemToken(ar fosite.AccessRequester) {
	if p.cfg.SystemTokenLifetime <= 0 {
		return
	}
	system := false
	for _, sc := range append(ar.GetRequestedScopes(), ar.GetGrantedScopes()...) {
		if strings.HasPrefix(sc, "system/") {
			system = true
			break
		}
	}
	if !system {
		return
	}
	sess := ar.GetSession()
	// time.Now, as fosite's own expiry and expires_in use; truncated, so
	// expires_in never rounds up past the cap.
	limit := time.Now().UTC().Add(p.cfg.SystemTokenLifetime).Truncate(time.Second)
	if exp := sess.GetExpiresAt(fosite.AccessToken); exp.IsZero() || exp.After(limit) {
		sess.SetExpiresAt(fosite.AccessToken, limit)
	}
}

// launchStillVisible judges a refresh of someone's launch on another
// person (a staff member's on a patient) again: check_role must still let
// them see the launch patient. A patient/ scope is checked at launch only
// (internal/fhir/policy), and what ends a staff member's reach without a
// transaction to revoke in (a consent expiring, the staff member leaving
// the organization) would otherwise let the launch be refreshed for the
// refresh token's whole lifetime; with this it lasts at most one access
// token. A refused refresh is invalid_grant.
func (p *Provider) launchStillVisible(ctx context.Context, s *Session) error {
	if s.Patient == "" || s.UserID == 0 || s.Patient == strconv.FormatInt(s.UserID, 10) {
		return nil
	}
	id, err := strconv.ParseInt(s.Patient, 10, 64)
	if err != nil || id <= 0 {
		return fosite.ErrInvalidGrant.WithHint("The grant's launch patient is unreadable.")
	}
	err = p.d.Directory.CheckRole(actor.With(ctx, actor.Actor{UserID: s.UserID}), directory.View, id)
	switch k := apperr.KindOf(err); {
	case err == nil:
		return nil
	case k == apperr.Forbidden || k == apperr.NotFound || k == apperr.Unauthenticated || k == apperr.Invalid:
		return fosite.ErrInvalidGrant.WithHint("You may no longer see the launch patient; launch the app again.")
	default:
		return err
	}
}

// narrowRefresh reads the scope a refresh request asks for (RFC 6749
// section 6): none or the same keeps the grant's scopes (nil); a subset is
// the new access token's scopes, while the refresh token keeps the grant's;
// any scope the grant does not hold is invalid_scope.
func narrowRefresh(ar fosite.AccessRequester) (fosite.Arguments, error) {
	asked := strings.Fields(ar.GetRequestForm().Get("scope"))
	if len(asked) == 0 {
		return nil, nil
	}
	granted := ar.GetGrantedScopes()
	for _, sc := range asked {
		if !slices.Contains(granted, sc) {
			return nil, fosite.ErrInvalidScope.WithHintf("The scope %q was not granted; a refresh may only narrow the grant's scopes (RFC 6749 section 6).", truncate(sc, 64))
		}
	}
	var out fosite.Arguments
	for _, sc := range granted { // the grant's order, without duplicates
		if slices.Contains(asked, sc) && !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	if len(out) == len(granted) {
		return nil, nil
	}
	return out, nil
}

// introspect is RFC 7662 token introspection, for authenticated
// confidential clients (section 2.1: the endpoint must not answer an
// unauthenticated caller, or anyone could test stolen or guessed tokens).
// The caller authenticates as at the token endpoint (client secret or
// private_key_jwt); a public client, which has nothing to authenticate
// with, is invalid_client. The token is then checked as ward's own resource
// endpoints check bearer tokens (lookup, which reads one row, and the
// liveness rules), without rebuilding the whole stored request. A client
// learns only about tokens issued to it, unless an administrator marked it
// a resource server (client.Settings.ResourceServer): any other token is
// {"active":false}, as section 4 recommends, so the answer does not even
// tell that the token exists. Beyond the standard members the answer
// carries the SMART context (patient, fhirUser).
func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		p.fosite.WriteIntrospectionError(ctx, w, fosite.ErrInvalidRequest.WithHint("The request body could not be read."))
		return
	}
	caller, err := p.fosite.AuthenticateClient(ctx, r, r.PostForm)
	if err == nil && (caller.IsPublic() || authMethodOf(caller) == client.AuthNone) {
		err = fosite.ErrInvalidClient.WithHint("Introspection needs an authenticated confidential client (RFC 7662 section 2.1); a public client cannot introspect.")
	}
	if err != nil {
		if writeUnavailable(w, err) {
			return
		}
		err = asInvalidClient(err)
		p.auditFailure(ctx, "introspection", clientIDOf(r, nil), err)
		// Not WriteIntrospectionError: fosite answers a failed client
		// authentication there with 200 {"active":false}, which hides
		// from the caller that it was refused.
		p.writeAccessError(ctx, w, nil, err)
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		p.fosite.WriteIntrospectionError(ctx, w, fosite.ErrInvalidRequest.WithHint("The token parameter is missing."))
		return
	}
	in, err := p.checkAny(ctx, token)
	if err != nil {
		if apperr.Is(err, apperr.Unauthenticated) {
			writeJSON(w, http.StatusOK, inactive{})
			return
		}
		if writeUnavailable(w, err) {
			return
		}
		p.log.ErrorContext(ctx, "oauth: introspection", "err", err)
		p.fosite.WriteIntrospectionError(ctx, w, fosite.ErrServerError)
		return
	}
	if in.ClientID != caller.GetID() && !isResourceServer(caller) {
		writeJSON(w, http.StatusOK, inactive{})
		return
	}
	out := introspection{Active: true, ClientID: in.ClientID, Scope: strings.Join(in.Scopes, " "),
		Sub: in.Subject(), Iat: in.IssuedAt.Unix(), Exp: in.ExpiresAt.Unix(), Iss: p.cfg.Issuer,
		TokenType: "Bearer", Patient: in.Patient, FhirUser: in.FhirUser, Aud: in.Audience}
	if in.Kind == tokens.KindRefresh {
		out.TokenType = "refresh_token"
	}
	writeJSON(w, http.StatusOK, out)
}

// authMethodOf is the client's token endpoint authentication method.
func authMethodOf(c fosite.Client) string {
	if oc, ok := c.(fosite.OpenIDConnectClient); ok {
		return oc.GetTokenEndpointAuthMethod()
	}
	return ""
}

// isResourceServer reports whether an administrator let the client
// introspect tokens issued to other clients.
func isResourceServer(c fosite.Client) bool {
	fc, ok := c.(*fositeClient)
	return ok && fc.c.ResourceServer
}

// inactive is RFC 7662's answer for any token that is not active.
type inactive struct {
	Active bool `json:"active"`
}

// introspection is RFC 7662's answer for an active token.
type introspection struct {
	Active    bool     `json:"active"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope"`
	Sub       string   `json:"sub"`
	Iat       int64    `json:"iat"`
	Exp       int64    `json:"exp"`
	Iss       string   `json:"iss"`
	Aud       []string `json:"aud,omitempty"`
	TokenType string   `json:"token_type"`
	Patient   string   `json:"patient,omitempty"`
	FhirUser  string   `json:"fhirUser,omitempty"`
}

// revoke is RFC 7009 token revocation: the client must own the token.
func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var err error
	txErr := p.d.Tx.InTx(actor.System(ctx), func(tctx context.Context) error {
		if err = p.fosite.NewRevocationRequest(tctx, r); err != nil {
			return err
		}
		id, _, _ := r.BasicAuth()
		if id == "" {
			id = r.PostForm.Get("client_id")
		}
		return p.d.Audit.Record(tctx, audit.Change{Type: audit.TokenRevoked, Subject: audit.Ref("Client", truncate(id, 128)),
			Comment: "token revoked by client " + truncate(id, 128)})
	})
	if err == nil && txErr != nil {
		err = fosite.ErrServerError.WithWrap(txErr)
	}
	if err != nil {
		p.auditFailure(ctx, "revocation", clientIDOf(r, nil), err)
		if fositeErr(err).ErrorField == fosite.ErrInvalidClient.ErrorField {
			w.Header().Set("WWW-Authenticate", `Basic realm="ward", charset="UTF-8"`)
		}
	}
	if writeUnavailable(w, err) {
		return
	}
	p.fosite.WriteRevocationResponse(ctx, w, err)
}

// bearerOf returns the token of an "Authorization: Bearer" header.
func bearerOf(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// bearerChallenge answers a request without a usable bearer token (RFC
// 6750 section 3).
func bearerChallenge(w http.ResponseWriter, code, desc string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="ward", error=%q, error_description=%q`, code, desc))
	status := http.StatusUnauthorized
	if code == "insufficient_scope" {
		status = http.StatusForbidden
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// userinfo is the OpenID Connect UserInfo endpoint.
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tok := bearerOf(r)
	if tok == "" {
		bearerChallenge(w, "invalid_request", "a bearer token is required")
		return
	}
	info, err := p.Check(ctx, tok)
	if err != nil {
		bearerChallenge(w, "invalid_token", "the access token is not active")
		return
	}
	if info.UserID == 0 || !contains(info.Scopes, scope.OpenID) {
		bearerChallenge(w, "insufficient_scope", "userinfo needs a token issued to a person with scope openid")
		return
	}
	u, err := p.d.Directory.GetUser(actor.System(ctx), info.UserID)
	if err != nil {
		bearerChallenge(w, "invalid_token", "the token's user no longer exists")
		return
	}
	out := map[string]any{"sub": strconv.FormatInt(u.ID, 10)}
	if contains(info.Scopes, scope.Profile) || contains(info.Scopes, scope.FHIRUser) {
		out["name"] = strings.TrimSpace(u.GivenName + " " + u.FamilyName)
		out["given_name"] = u.GivenName
		out["family_name"] = u.FamilyName
	}
	if contains(info.Scopes, scope.Email) && u.Email != "" {
		out["email"] = u.Email
	}
	if info.FhirUser != "" && contains(info.Scopes, scope.FHIRUser) {
		out["fhirUser"] = info.FhirUser
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

// tokenStatus is the reference system's /oauth/token-status: what the
// bearer token itself is (for interventions checking their own token).
func (p *Provider) tokenStatus(w http.ResponseWriter, r *http.Request) {
	tok := bearerOf(r)
	if tok == "" {
		bearerChallenge(w, "invalid_request", "a bearer token is required")
		return
	}
	info, err := p.Check(r.Context(), tok)
	if err != nil {
		bearerChallenge(w, "invalid_token", "the access token is not active")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type": "Bearer",
		"expires_in": max(0, int64(info.ExpiresAt.Sub(p.now()).Seconds())),
		"scopes":     info.Scopes,
		"client_id":  info.ClientID,
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// grantTypes and authMethods are what discovery advertises.
var authMethods = []string{client.AuthClientSecretBasic, client.AuthClientSecretPost, client.AuthPrivateKeyJWT, client.AuthNone}

func (p *Provider) scopesSupported() []string {
	return []string{scope.OpenID, scope.FHIRUser, scope.Profile, scope.Email, scope.LaunchPatient,
		scope.OfflineAccess, scope.OnlineAccess,
		"patient/*.rs", "user/*.rs", "system/*.rs", "patient/*.read", "user/*.read", "system/*.read",
		"system/*.$export", "system/Patient.$export", "system/Group.$export", "system/*.$bulkdata-status", ScopeAPI,
		// Seed 002's workflow: one scope per action on Task, never implied
		// by a read or write scope (docs/workflow.md).
		"system/Task.validate", "system/Task.register", "system/Task.certify", "system/Task.issue", "system/Task.reject"}
}

func (p *Provider) openIDConfiguration(w http.ResponseWriter, _ *http.Request) {
	iss := p.cfg.Issuer
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSONCached(w, map[string]any{
		"issuer":                                           iss,
		"authorization_endpoint":                           iss + PathAuthorize,
		"token_endpoint":                                   iss + PathToken,
		"userinfo_endpoint":                                iss + PathUserinfo,
		"jwks_uri":                                         iss + PathJWKS,
		"introspection_endpoint":                           iss + PathIntrospect,
		"revocation_endpoint":                              iss + PathRevoke,
		"end_session_endpoint":                             iss + PathEndSession,
		"scopes_supported":                                 p.scopesSupported(),
		"response_types_supported":                         []string{"code"},
		"response_modes_supported":                         []string{"query"},
		"grant_types_supported":                            client.GrantTypes,
		"subject_types_supported":                          []string{"public"},
		"id_token_signing_alg_values_supported":            client.IDTokenAlgs,
		"token_endpoint_auth_methods_supported":            authMethods,
		"token_endpoint_auth_signing_alg_values_supported": AssertionAlgs,
		"introspection_endpoint_auth_methods_supported":    authMethods[:3],
		"revocation_endpoint_auth_methods_supported":       authMethods,
		"code_challenge_methods_supported":                 []string{"S256"},
		"claims_supported":                                 []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "fhirUser", "name", "given_name", "family_name", "email"},
		"prompt_values_supported":                          []string{"none", "login", "consent"},
		"request_parameter_supported":                      false,
		"claims_parameter_supported":                       false,
		"authorization_response_iss_parameter_supported":   true,
		"backchannel_logout_supported":                     false,
		"frontchannel_logout_supported":                    false,
	})
}

// smartConfiguration is SMART App Launch 2.x discovery (section 2.0.x,
// "Conformance"): what ward actually supports, no more.
func (p *Provider) smartConfiguration(w http.ResponseWriter, _ *http.Request) {
	iss := p.cfg.Issuer
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSONCached(w, map[string]any{
		"issuer":                                iss,
		"jwks_uri":                              iss + PathJWKS,
		"authorization_endpoint":                iss + PathAuthorize,
		"token_endpoint":                        iss + PathToken,
		"introspection_endpoint":                iss + PathIntrospect,
		"revocation_endpoint":                   iss + PathRevoke,
		"userinfo_endpoint":                     iss + PathUserinfo,
		"grant_types_supported":                 client.GrantTypes,
		"token_endpoint_auth_methods_supported": authMethods,
		"token_endpoint_auth_signing_alg_values_supported": AssertionAlgs,
		"scopes_supported":                 p.scopesSupported(),
		"response_types_supported":         []string{"code"},
		"code_challenge_methods_supported": []string{"S256"},
		// RFC 9207: every authorization response carries iss.
		"authorization_response_iss_parameter_supported": true,
		"capabilities": []string{
			"launch-standalone", "authorize-post",
			"client-public", "client-confidential-symmetric", "client-confidential-asymmetric",
			"sso-openid-connect", "context-standalone-patient",
			"permission-offline", "permission-online", "permission-patient", "permission-user",
			"permission-v1", "permission-v2",
		},
	})
}

func writeJSONCached(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}
