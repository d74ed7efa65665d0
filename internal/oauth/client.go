package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	josev3 "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"

	"ward/internal/apperr"
	"ward/internal/client"
	"ward/internal/grantpolicy"
	"ward/internal/secrets"
)

// Clients is what the authorization server needs from the client
// registry (client.Service): a lookup with no permission check.
type Clients interface {
	Lookup(ctx context.Context, id string) (*client.Client, error)
}

// ClientCacheTTL bounds how long a replica trusts its copy of a client:
// a client disabled or changed on another replica stops (or changes)
// there within this time; on the replica that made the change at once,
// since it invalidates its own copy.
const ClientCacheTTL = time.Second

// clientCache answers the token and introspection endpoints' client lookups,
// which would otherwise read the same row on every request.
type clientCache struct {
	src Clients
	now func() time.Time
	mu  sync.RWMutex
	m   map[string]cachedClient
	// gen counts invalidations: a row read while one happened may be
	// the row from before the change, and is answered but not kept.
	gen uint64
}

type cachedClient struct {
	c    *client.Client
	jwks *josev3.JSONWebKeySet // parsed inline JWKS, nil without
	at   time.Time
}

func newClientCache(src Clients, now func() time.Time) *clientCache {
	return &clientCache{src: src, now: now, m: map[string]cachedClient{}}
}

// get returns the client, fresh within ClientCacheTTL. Unknown ids are
// NotFound and are not cached (so registering a client takes effect at once).
func (cc *clientCache) get(ctx context.Context, id string) (cachedClient, error) {
	now := cc.now()
	cc.mu.RLock()
	e, ok := cc.m[id]
	gen := cc.gen
	cc.mu.RUnlock()
	if ok && now.Sub(e.at) < ClientCacheTTL && !now.Before(e.at) {
		return e, nil
	}
	c, err := cc.src.Lookup(ctx, id)
	if err != nil {
		return cachedClient{}, err
	}
	e = cachedClient{c: c, at: now}
	if c.JWKS != "" {
		var set josev3.JSONWebKeySet
		if err := json.Unmarshal([]byte(c.JWKS), &set); err != nil {
			return cachedClient{}, fmt.Errorf("client %s: stored JWKS unreadable: %w", c.ID, err)
		}
		e.jwks = &set
	}
	cc.mu.Lock()
	if cc.gen == gen {
		// Kept only when no change was reported during the read: a read
		// that raced a change (begun before its commit, ended after its
		// Invalidate) may hold the old row, which would otherwise stay
		// trusted for up to ClientCacheTTL on this replica too.
		if len(cc.m) > 10000 {
			// Bounded: a flood of distinct client ids cannot grow it forever.
			clear(cc.m)
		}
		cc.m[id] = e
	}
	cc.mu.Unlock()
	return e, nil
}

// Invalidate drops a client from the cache (after a local change), and
// keeps any read in flight from storing what it read.
func (cc *clientCache) Invalidate(id string) {
	cc.mu.Lock()
	delete(cc.m, id)
	cc.gen++
	cc.mu.Unlock()
}

// fositeClient presents a registered client to fosite.
type fositeClient struct {
	c        *client.Client
	jwks     *josev3.JSONWebKeySet
	audience []string
	// assertionAlg is the alg of the client assertion being checked, once
	// ward's own rules have accepted it (see assertion.go): fosite insists
	// on one alg per client, SMART lets a client use any of several.
	assertionAlg string
}

var (
	_ fosite.Client              = (*fositeClient)(nil)
	_ fosite.OpenIDConnectClient = (*fositeClient)(nil)
)

func (f *fositeClient) GetID() string { return f.c.ID }

// GetHashedSecret is the HMAC of the secret; see secretHasher.
func (f *fositeClient) GetHashedSecret() []byte   { return []byte(f.c.SecretHash) }
func (f *fositeClient) GetRedirectURIs() []string { return f.c.RedirectURIs }
func (f *fositeClient) GetGrantTypes() fosite.Arguments {
	return fosite.Arguments(f.c.GrantTypes)
}

// GetResponseTypes: ward supports the authorization code flow only (no
// implicit or hybrid flows, RFC 9700 section 2.1.2).
func (f *fositeClient) GetResponseTypes() fosite.Arguments {
	if f.c.HasGrant(client.GrantAuthorizationCode) {
		return fosite.Arguments{"code"}
	}
	return fosite.Arguments{}
}
func (f *fositeClient) GetScopes() fosite.Arguments   { return fosite.Arguments(f.c.Scopes()) }
func (f *fositeClient) IsPublic() bool                { return f.c.Public }
func (f *fositeClient) GetAudience() fosite.Arguments { return fosite.Arguments(f.audience) }
func (f *fositeClient) GetRequestURIs() []string      { return nil }
func (f *fositeClient) GetJSONWebKeys() *josev3.JSONWebKeySet {
	return f.jwks
}
func (f *fositeClient) GetJSONWebKeysURI() string                { return f.c.JWKSURI }
func (f *fositeClient) GetRequestObjectSigningAlgorithm() string { return "" }
func (f *fositeClient) GetTokenEndpointAuthMethod() string       { return f.c.AuthMethod }
func (f *fositeClient) GetTokenEndpointAuthSigningAlgorithm() string {
	if f.assertionAlg != "" {
		return f.assertionAlg
	}
	return "RS384"
}

// secretHasher is fosite's Hasher over ward's keyed client-secret hash: a
// client secret is 256 random bits, so HMAC-SHA-256 under a server key is
// as strong as a password hash would be and costs microseconds instead of
// the tens of milliseconds that would cap the token endpoint.
type secretHasher struct{ key secrets.HMACKey }

func (h secretHasher) Compare(_ context.Context, hash, data []byte) error {
	if len(hash) == 0 || !h.key.Verify(string(data), string(hash)) {
		return fosite.ErrInvalidClient
	}
	return nil
}

func (h secretHasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	return []byte(h.key.Sign(string(data))), nil
}

// mayUse is grantpolicy's approval gate: whether client c may issue or
// honour a token by grant for userID (0: the client acting for nobody). An
// active client serves anyone; a pending one (an application developer's
// client before an administrator approved it) serves its owner's own
// sign-in only, so the developer can test it without reaching anyone
// else's data. The Reason says why not.
func mayUse(c *client.Client, userID int64, grant string) grantpolicy.Decision {
	if !c.Pending() {
		// The common case on every token request, decided without the
		// allocations of c.Policy(): grantpolicy allows every active client.
		return grantpolicy.Decision{Allowed: true}
	}
	return grantpolicy.Decide(grantpolicy.Caller{UserID: userID},
		grantpolicy.Request{Action: grantpolicy.UseClient, Client: c.Policy(), Grant: grant})
}

// notFound reports whether err means "no such thing".
func notFound(err error) bool { return apperr.Is(err, apperr.NotFound) }
