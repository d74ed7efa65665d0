package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/ory/fosite"
)

// clientAssertionType is RFC 7523's client_assertion_type for JWTs.
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// MaxAssertionLifetime is how far ahead a client assertion's exp may lie:
// SMART Backend Services says at most five minutes, which also bounds how
// long ward must remember its jti.
const MaxAssertionLifetime = 5 * time.Minute

// assertionSkew tolerates clocks a little apart.
const assertionSkew = 30 * time.Second

// maxAssertionBytes bounds a client assertion before any parsing.
const maxAssertionBytes = 16 << 10

// AssertionAlgs are the signature algorithms ward accepts on client
// assertions: SMART requires RS384 and ES384; the 256 variants are common.
// Never none, never an HMAC (which a server holding only a public key would
// verify with the public key as the secret).
var AssertionAlgs = []string{"RS384", "ES384", "RS256", "ES256", "RS512", "ES512", "PS256", "PS384", "PS512"}

// assertionFacts are what ward checks of an assertion before fosite
// verifies its signature and its iss, sub, aud and jti.
type assertionFacts struct {
	Alg string
	Exp time.Time
	// JKU is the header's jku ("" when absent): ward never fetches it,
	// but SMART Backend Services says an assertion whose jku is not the
	// client's registered JWKS URL fails verification.
	JKU string
}

// checkAssertion parses an unverified client assertion and applies ward's
// own rules: a known alg, and an exp present and at most
// MaxAssertionLifetime ahead. It returns a fosite error for the client.
func checkAssertion(raw string, now time.Time) (assertionFacts, error) {
	var f assertionFacts
	if len(raw) > maxAssertionBytes {
		return f, fosite.ErrInvalidClient.WithHint("The client_assertion is too large.")
	}
	algs := make([]jose.SignatureAlgorithm, len(AssertionAlgs))
	for i, a := range AssertionAlgs {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	tok, err := josejwt.ParseSigned(raw, algs)
	if err != nil {
		return f, fosite.ErrInvalidClient.WithHint("The client_assertion is not a JWT signed with an accepted algorithm (" + joinAlgs() + ").")
	}
	if len(tok.Headers) != 1 {
		return f, fosite.ErrInvalidClient.WithHint("The client_assertion must have exactly one signature.")
	}
	f.Alg = tok.Headers[0].Algorithm
	if v, present := tok.Headers[0].ExtraHeaders["jku"]; present {
		jku, ok := v.(string)
		if !ok || jku == "" {
			return f, fosite.ErrInvalidClient.WithHint("The client_assertion jku header is not a URL.")
		}
		f.JKU = jku
	}
	var claims map[string]any
	if err := tok.UnsafeClaimsWithoutVerification(&claims); err != nil {
		return f, fosite.ErrInvalidClient.WithHint("The client_assertion claims are unreadable.")
	}
	exp, ok := claims["exp"].(float64)
	if !ok {
		return f, fosite.ErrInvalidClient.WithHint("The client_assertion has no numeric exp claim.")
	}
	if exp > 1e12 || exp < 0 {
		return f, fosite.ErrInvalidClient.WithHint("The client_assertion exp claim is out of range.")
	}
	f.Exp = time.Unix(int64(exp), 0)
	// fosite's JWT library refuses, after the signature check, an
	// assertion whose exp has passed or whose iat or nbf lies ahead (to
	// the second, with no leeway), with an error that is no RFC 6749 error
	// and answered 500. Decided here first, the client gets
	// invalid_client. exp must lie beyond this very second, so a second
	// that ticks over between here and there cannot expire it there.
	if int64(exp) <= now.Unix() {
		return f, fosite.ErrInvalidClient.WithHint("The client_assertion has expired.")
	}
	for _, claim := range []string{"iat", "nbf"} {
		v, present := claims[claim]
		if !present {
			continue
		}
		t, ok := v.(float64)
		if !ok {
			return f, fosite.ErrInvalidClient.WithHintf("The client_assertion %s claim is not a number.", claim)
		}
		if int64(t) > now.Unix() {
			return f, fosite.ErrInvalidClient.WithHintf("The client_assertion %s claim lies in the future; check the client's clock.", claim)
		}
	}
	if f.Exp.After(now.Add(MaxAssertionLifetime + assertionSkew)) {
		return f, fosite.ErrInvalidClient.WithHint("The client_assertion exp is more than five minutes ahead.")
	}
	return f, nil
}

// checkJKU refuses an assertion whose jku header names a key set other
// than the client's registered jwks_uri (SMART Backend Services: such an
// assertion SHALL fail verification). ward verifies with the registered
// keys only, so a foreign jku never picks a key; refusing it tells the
// client that its configuration disagrees with its registration. A client
// registered with an inline JWKS has no jwks_uri, so any jku is foreign.
func checkJKU(c fosite.Client, jku string) error {
	if jku == "" {
		return nil
	}
	kc, ok := c.(interface{ GetJSONWebKeysURI() string })
	if !ok || kc.GetJSONWebKeysURI() == "" || kc.GetJSONWebKeysURI() != jku {
		return fosite.ErrInvalidClient.WithHint("The client_assertion jku header is not the client's registered jwks_uri.")
	}
	return nil
}

func joinAlgs() string { return strings.Join(AssertionAlgs, ", ") }

// authenticateClient is fosite's client authentication with ward's rules
// for client assertions in front: checked here, then fosite verifies the
// signature against the client's JWKS and iss = sub = client_id, aud = the
// token endpoint, and a jti never used before.
func (p *Provider) authenticateClient(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
	if n := authMethodsIn(r, form); n > 1 {
		// fosite would pick one and ignore the rest, so a wrong or unknown
		// Basic credential beside a good assertion went unnoticed.
		return nil, fosite.ErrInvalidRequest.WithHint("The request uses more than one client authentication method (HTTP Basic, client_secret in the body, client_assertion); RFC 6749 section 2.3 allows one.").
			WithWrap(errTwoAuthMethods)
	}
	if form.Get("client_assertion_type") == clientAssertionType {
		f, err := checkAssertion(form.Get("client_assertion"), p.now())
		if err != nil {
			return nil, err
		}
		ctx = withAssertionAlg(ctx, f.Alg)
		c, err := p.fosite.DefaultClientAuthenticationStrategy(ctx, r, form)
		if err != nil {
			return nil, asInvalidClient(err)
		}
		if err := checkJKU(c, f.JKU); err != nil {
			return nil, err
		}
		return c, nil
	}
	return p.fosite.DefaultClientAuthenticationStrategy(ctx, r, form)
}

// errTwoAuthMethods marks the invalid_request of a request that
// authenticates its client in more than one way, so that the endpoints
// that report other failures as invalid_client keep it.
var errTwoAuthMethods = errors.New("more than one client authentication method")

// authMethodsIn counts the client authentication methods a request uses:
// an Authorization: Basic header, a client_secret in the body, a client
// assertion. A client_id in the body alone authenticates nothing.
func authMethodsIn(r *http.Request, form url.Values) int {
	n := 0
	// The header's scheme alone, without decoding it (fosite does that):
	// even a malformed Basic credential is a second method.
	if h := r.Header.Get("Authorization"); len(h) >= 6 && strings.EqualFold(h[:6], "basic ") {
		n++
	}
	if _, ok := form["client_secret"]; ok {
		n++
	}
	_, assertion := form["client_assertion"]
	_, assertionType := form["client_assertion_type"]
	if assertion || assertionType {
		n++
	}
	return n
}

// asInvalidClient reports a failed client assertion as RFC 6749's
// invalid_client, whatever fosite called it (jti_known, invalid_request
// for an unknown kid): the client failed to authenticate. Server errors stay
// server errors, and a request with two authentication methods stays
// invalid_request.
func asInvalidClient(err error) error {
	if errors.Is(err, errTwoAuthMethods) {
		return err
	}
	rfc := fositeErr(err)
	if rfc.CodeField >= 500 || rfc.ErrorField == fosite.ErrInvalidClient.ErrorField {
		return err
	}
	return fosite.ErrInvalidClient.WithHint(rfc.GetDescription()).WithWrap(err)
}
