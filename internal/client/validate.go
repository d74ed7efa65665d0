package client

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"ward/internal/apperr"
	"ward/internal/oauth/scope"
)

// Limits on what one registration may hold. They bound storage and the work
// the token endpoint does per request; real clients stay far below them.
const (
	maxNameLen        = 200
	maxRedirectURIs   = 20
	maxURILen         = 2000
	maxScopes         = 200
	maxScopeLen       = 8000
	maxJWKSBytes      = 64 << 10
	maxJWKSKeys       = 20
	maxInterventionLn = 100
)

// normalize checks s and returns it with defaults filled in (auth method,
// token format) and whitespace trimmed where it cannot matter. Every problem
// is reported at once in a single Invalid error, so a caller fixes a
// registration in one round trip. The owner and intervention are checked
// against the database by the Service.
func normalize(s Settings) (Settings, error) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	s.Name = strings.TrimSpace(s.Name)
	switch {
	case s.Name == "":
		bad("name is required")
	case utf8.RuneCountInString(s.Name) > maxNameLen:
		bad("name is longer than %d characters", maxNameLen)
	case !utf8.ValidString(s.Name) || strings.IndexFunc(s.Name, unicode.IsControl) >= 0:
		bad("name must be valid text without control characters")
	}

	grants, gprobs := checkGrants(s.GrantTypes, s.Public)
	s.GrantTypes = grants
	problems = append(problems, gprobs...)

	problems = append(problems, checkRedirectURIs(s.RedirectURIs, slices.Contains(grants, GrantAuthorizationCode))...)

	scope, sprobs := checkScope(s.Scope)
	s.Scope = scope
	problems = append(problems, sprobs...)

	s.JWKSURI = strings.TrimSpace(s.JWKSURI)
	s.JWKS = strings.TrimSpace(s.JWKS)
	if s.AuthMethod == "" {
		switch {
		case s.Public:
			s.AuthMethod = AuthNone
		case s.JWKSURI != "" || s.JWKS != "":
			s.AuthMethod = AuthPrivateKeyJWT
		default:
			s.AuthMethod = AuthClientSecretBasic
		}
	}
	problems = append(problems, checkAuth(s)...)

	switch s.TokenFormat {
	case "":
		s.TokenFormat = TokenOpaque
	case TokenOpaque, TokenJWT:
	default:
		bad("token format %q is not one of %s, %s", s.TokenFormat, TokenOpaque, TokenJWT)
	}
	switch s.IDTokenAlg {
	case "":
		s.IDTokenAlg = IDTokenRS256
	case IDTokenRS256, IDTokenES256:
	default:
		// Quoted (so NUL or broken UTF-8 shows escaped) and cut short: the
		// message echoes what the caller sent.
		v := s.IDTokenAlg
		if len(v) > 32 {
			v = v[:32] + "..."
		}
		bad("id_token_signed_response_alg %q is not one of %s", v, strings.Join(IDTokenAlgs, ", "))
	}
	if s.OwnerID < 0 {
		bad("owner must be a user id")
	}
	s.Intervention = strings.TrimSpace(s.Intervention)
	if len(s.Intervention) > maxInterventionLn {
		bad("intervention name is longer than %d characters", maxInterventionLn)
	}

	if s.ResourceServer && s.Public {
		bad("a resource server must be a confidential client: introspection needs client authentication")
	}

	if len(problems) > 0 {
		return s, apperr.New(apperr.Invalid, "invalid client: %s", strings.Join(problems, "; "))
	}
	return s, nil
}

// checkGrants returns the grant types deduplicated in their given order.
func checkGrants(in []string, public bool) ([]string, []string) {
	var problems []string
	var out []string
	if len(in) == 0 {
		return nil, []string{"at least one grant type is required"}
	}
	for _, g := range in {
		if !slices.Contains(GrantTypes, g) {
			problems = append(problems, fmt.Sprintf("grant type %q is not one of %s", g, strings.Join(GrantTypes, ", ")))
			continue
		}
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	code := slices.Contains(out, GrantAuthorizationCode)
	if slices.Contains(out, GrantRefreshToken) && !code {
		// Refresh tokens are only ever issued alongside an authorization
		// code exchange; client_credentials gets none (RFC 6749 §4.4.3).
		problems = append(problems, "grant type refresh_token needs authorization_code")
	}
	if public {
		if !code {
			problems = append(problems, "a public client must use the authorization_code grant")
		}
		if slices.Contains(out, GrantClientCredentials) {
			problems = append(problems, "a public client cannot use client_credentials: it has no credentials")
		}
	}
	return out, problems
}

// checkRedirectURIs enforces what exact-match redirect validation needs:
// absolute URIs without fragments (RFC 6749 §3.1.2), https except for the
// loopback interface, where native apps listen on http (RFC 8252 §7.3).
func checkRedirectURIs(uris []string, code bool) []string {
	var problems []string
	if code && len(uris) == 0 {
		return []string{"the authorization_code grant needs at least one redirect URI"}
	}
	if !code && len(uris) > 0 {
		return []string{"redirect URIs are only used by the authorization_code grant"}
	}
	if len(uris) > maxRedirectURIs {
		return []string{fmt.Sprintf("at most %d redirect URIs are allowed", maxRedirectURIs)}
	}
	seen := map[string]bool{}
	for _, raw := range uris {
		if err := checkRedirectURI(raw); err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if seen[raw] {
			problems = append(problems, fmt.Sprintf("redirect URI %q is listed twice", raw))
		}
		seen[raw] = true
	}
	return problems
}

func checkRedirectURI(raw string) error {
	if raw == "" || len(raw) > maxURILen {
		return fmt.Errorf("redirect URI must be 1 to %d characters", maxURILen)
	}
	if strings.TrimSpace(raw) != raw || strings.ContainsAny(raw, " \t\r\n") {
		return fmt.Errorf("redirect URI %q contains whitespace", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("redirect URI %q does not parse", raw)
	}
	if !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("redirect URI %q must be absolute", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("redirect URI %q must not have a fragment", raw)
	}
	if u.User != nil {
		return fmt.Errorf("redirect URI %q must not carry user information", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("redirect URI %q must use https (http only for 127.0.0.1, [::1] or localhost)", raw)
	default:
		return fmt.Errorf("redirect URI %q must use https", raw)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback))
}

// checkScope accepts a space-separated list of scopes, separated by single
// spaces, each at most once, each one ward understands (SMART v1 or v2
// resource scopes, launch and OpenID scopes, bulk operations: see
// internal/oauth/scope), so that a typo is refused at registration rather
// than silently never granted.
func checkScope(list string) (string, []string) {
	if list == "" {
		return "", []string{"scope is required"}
	}
	if len(list) > maxScopeLen {
		return list, []string{fmt.Sprintf("scope is longer than %d characters", maxScopeLen)}
	}
	tokens := strings.Split(list, " ")
	if len(tokens) > maxScopes {
		return list, []string{fmt.Sprintf("at most %d scopes are allowed", maxScopes)}
	}
	var problems []string
	seen := map[string]bool{}
	for _, t := range tokens {
		if t == "" {
			return list, []string{"scope must be scope tokens separated by single spaces"}
		}
		if _, err := scope.Parse(t); err != nil {
			problems = append(problems, apperr.Message(err))
		} else if seen[t] {
			problems = append(problems, fmt.Sprintf("scope %q is listed twice", t))
		}
		seen[t] = true
	}
	return list, problems
}

// checkAuth ties the authentication method to the client type and keys.
func checkAuth(s Settings) []string {
	var problems []string
	if !slices.Contains(AuthMethods, s.AuthMethod) {
		return []string{fmt.Sprintf("token endpoint auth method %q is not one of %s", s.AuthMethod, strings.Join(AuthMethods, ", "))}
	}
	if s.Public != (s.AuthMethod == AuthNone) {
		if s.Public {
			problems = append(problems, "a public client must use token endpoint auth method none")
		} else {
			problems = append(problems, "a confidential client cannot use token endpoint auth method none")
		}
	}
	if s.AuthMethod != AuthPrivateKeyJWT {
		if s.JWKSURI != "" || s.JWKS != "" {
			problems = append(problems, "keys (jwks_uri, jwks) are only used with private_key_jwt")
		}
		return problems
	}
	switch {
	case s.JWKSURI == "" && s.JWKS == "":
		problems = append(problems, "private_key_jwt needs a jwks_uri or an inline jwks")
	case s.JWKSURI != "" && s.JWKS != "":
		problems = append(problems, "give either a jwks_uri or an inline jwks, not both")
	case s.JWKSURI != "":
		if err := checkJWKSURI(s.JWKSURI); err != nil {
			problems = append(problems, err.Error())
		}
	default:
		if err := checkJWKS(s.JWKS); err != nil {
			problems = append(problems, err.Error())
		}
	}
	return problems
}

func checkJWKSURI(raw string) error {
	if len(raw) > maxURILen {
		return fmt.Errorf("jwks_uri is longer than %d characters", maxURILen)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("jwks_uri %q must be an absolute URL without user information or fragment", raw)
	}
	if u.Scheme != "https" && (u.Scheme != "http" || !isLoopback(u.Hostname())) {
		return fmt.Errorf("jwks_uri %q must use https", raw)
	}
	return nil
}

// checkJWKS accepts a JSON Web Key Set of public signing keys. A private or
// symmetric key is refused: ward must never hold the client's signing key.
func checkJWKS(raw string) error {
	if len(raw) > maxJWKSBytes {
		return fmt.Errorf("jwks is larger than %d bytes", maxJWKSBytes)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(raw), &set); err != nil {
		return fmt.Errorf("jwks is not a JSON Web Key Set: %v", err)
	}
	if len(set.Keys) == 0 {
		return fmt.Errorf("jwks holds no keys")
	}
	if len(set.Keys) > maxJWKSKeys {
		return fmt.Errorf("jwks holds more than %d keys", maxJWKSKeys)
	}
	for i := range set.Keys {
		k := &set.Keys[i]
		if !k.Valid() || !k.IsPublic() {
			return fmt.Errorf("jwks key %d is not a valid public key (private and symmetric keys are refused)", i)
		}
		if k.Use != "" && k.Use != "sig" {
			return fmt.Errorf("jwks key %d has use %q, want sig", i, k.Use)
		}
	}
	return nil
}
