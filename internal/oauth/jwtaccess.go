package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
	"github.com/ory/fosite"
	fjwt "github.com/ory/fosite/token/jwt"
)

// typAccessJWT is RFC 9068's media type of a JWT access token. A verifier
// must refuse any other typ (section 4), so an ID token, signed by the same
// key, never passes for an access token.
const typAccessJWT = "at+jwt"

// maxAccessJWTBytes bounds a presented JWT before any parsing: ward's own
// are well under 2 KiB.
const maxAccessJWTBytes = 8 << 10

// accessJWTAlgs are the algorithms ward signs access tokens with.
var accessJWTAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256}

// accessJWTs issues and verifies RFC 9068 JWT access tokens. A token is
// stored under its jti, never under anything read from an unverified
// token: verify checks the signature against ward's published keys (the
// current ones and those retired by a rotation but still published, read
// from keys.Manager's in-memory copy, not the database), then typ, iss,
// aud and exp, and only then hands back the jti to look the row up by.
type accessJWTs struct {
	sg       *signer
	keys     KeySource
	issuer   string
	audience string
	now      func() time.Time

	// seen remembers tokens already verified, by their SHA-256, so that a
	// token presented again (a bearer token is presented on every request
	// it makes) costs a hash instead of a public-key operation. Only what
	// verified is entered; a hit is still refused once its exp passes or
	// its key is no longer published.
	mu   sync.RWMutex
	seen map[[sha256.Size]byte]seenJWT
}

// seenJWT is a verified token's entry in accessJWTs.seen.
type seenJWT struct {
	v   verified
	exp time.Time
	kid string
}

// maxSeenJWTs bounds accessJWTs.seen (about 100 bytes an entry); past it
// the cache starts over.
const maxSeenJWTs = 100_000

// generate signs the access token of r and returns it and its stored key,
// its jti: a UUIDv7 in hex, so that new rows land at the end of the index
// as opaque tokens' handles do.
func (a *accessJWTs) generate(ctx context.Context, r fosite.Requester) (string, string, error) {
	sess, ok := r.GetSession().(*Session)
	if !ok {
		return "", "", fmt.Errorf("JWT access token: session is %T, not *oauth.Session", r.GetSession())
	}
	id, err := uuid.NewV7()
	if err != nil {
		return "", "", fmt.Errorf("JWT access token id: %w", err)
	}
	jti := hex.EncodeToString(id[:])
	c := sess.accessClaims()
	c.JTI = jti
	claims := c.With(sess.GetExpiresAt(fosite.AccessToken), r.GetGrantedScopes(), r.GetGrantedAudience()).
		WithDefaults(a.now().UTC(), a.issuer).
		WithScopeField(fjwt.JWTScopeFieldString)
	raw, _, err := a.sg.Generate(ctx, claims.ToMapClaims(), sess.GetJWTHeader())
	if err != nil {
		return "", "", err
	}
	return raw, jti, nil
}

// verified is what a verified JWT access token says that its row is
// checked against.
type verified struct {
	jti      string
	clientID string
}

// accessClaimsJSON are the claims ward reads besides the registered ones.
type accessClaimsJSON struct {
	josejwt.Claims
	ClientID string `json:"client_id"`
}

// verify checks raw as a JWT access token ward issued and returns its jti.
// Any failure is errInactive (the caller learns nothing about which check
// failed); only a failure to read the key set is another error.
func (a *accessJWTs) verify(ctx context.Context, raw string) (verified, error) {
	if len(raw) > maxAccessJWTBytes {
		return verified{}, errInactive()
	}
	sum := sha256.Sum256([]byte(raw))
	a.mu.RLock()
	e, ok := a.seen[sum]
	a.mu.RUnlock()
	if ok {
		if !e.exp.After(a.now()) {
			return verified{}, errInactive()
		}
		set, err := a.keys.PublicJWKS(ctx)
		if err != nil {
			return verified{}, fmt.Errorf("verify access token: %w", err)
		}
		if len(set.Key(e.kid)) == 0 {
			return verified{}, errInactive()
		}
		return e.v, nil
	}
	tok, err := josejwt.ParseSigned(raw, accessJWTAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return verified{}, errInactive()
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !isAccessJWTType(typ) {
		return verified{}, errInactive()
	}
	set, err := a.keys.PublicJWKS(ctx)
	if err != nil {
		return verified{}, fmt.Errorf("verify access token: %w", err)
	}
	var key any
	for _, k := range set.Key(h.KeyID) {
		if k.Algorithm == h.Algorithm {
			key = k.Key
			break
		}
	}
	if key == nil {
		return verified{}, errInactive()
	}
	var c accessClaimsJSON
	if err := tok.Claims(key, &c); err != nil {
		return verified{}, errInactive()
	}
	// exp is checked on this clock without leeway, as the row's expiry is;
	// iat is not checked: another replica's clock may run a little ahead,
	// and ward itself wrote it.
	if c.Expiry == nil || !c.Expiry.Time().After(a.now()) || c.ID == "" || c.ClientID == "" ||
		c.Issuer != a.issuer || !c.Audience.Contains(a.audience) {
		return verified{}, errInactive()
	}
	v := verified{jti: c.ID, clientID: c.ClientID}
	a.mu.Lock()
	if a.seen == nil || len(a.seen) >= maxSeenJWTs {
		a.seen = make(map[[sha256.Size]byte]seenJWT)
	}
	a.seen[sum] = seenJWT{v: v, exp: c.Expiry.Time(), kid: h.KeyID}
	a.mu.Unlock()
	return v, nil
}

// isAccessJWTType accepts at+jwt and its full media type (RFC 9068 section
// 4: compared case-insensitively, with or without "application/").
func isAccessJWTType(typ string) bool {
	typ = strings.ToLower(typ)
	return typ == typAccessJWT || typ == "application/"+typAccessJWT
}
