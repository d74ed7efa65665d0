package oauth

import (
	"context"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"ward/internal/client"
)

// idTokenStrategy signs every ID token with the algorithm its client
// registered (id_token_signed_response_alg), RS256 unless the client chose
// ES256: OpenID Connect Core section 3.1.3.7 makes RS256 the default, and
// relying-party libraries expect it unless told otherwise. It serves every
// flow that mints an ID token (the code exchange and refresh), since both
// go through fosite's IDTokenHandleHelper with the requester's client.
// JWT access tokens do not pass here and keep their own algorithm.
type idTokenStrategy struct {
	byAlg map[string]openid.OpenIDConnectTokenStrategy
}

var _ openid.OpenIDConnectTokenStrategy = (*idTokenStrategy)(nil)

// newIDTokenStrategy returns the strategy over fosite's default ID token
// strategy, one per algorithm in client.IDTokenAlgs, each signing with the
// current key of its algorithm.
func newIDTokenStrategy(keys KeySource, cfg *fosite.Config) *idTokenStrategy {
	s := &idTokenStrategy{byAlg: map[string]openid.OpenIDConnectTokenStrategy{}}
	for _, alg := range client.IDTokenAlgs {
		s.byAlg[alg] = &openid.DefaultStrategy{Signer: &signer{keys: keys, alg: alg}, Config: cfg}
	}
	return s
}

// GenerateIDToken signs requester's ID token with its client's algorithm.
// A client ward did not load itself, or an algorithm without a signer, is a
// server error rather than a token in an algorithm the client did not ask
// for (which its library would reject anyway, with a less clear message).
func (s *idTokenStrategy) GenerateIDToken(ctx context.Context, lifespan time.Duration, requester fosite.Requester) (string, error) {
	fc, ok := requester.GetClient().(*fositeClient)
	if !ok {
		return "", fosite.ErrServerError.WithDebugf("ID token for a client of type %T", requester.GetClient())
	}
	alg := fc.c.IDTokenSigningAlg()
	st, ok := s.byAlg[alg]
	if !ok {
		return "", fosite.ErrServerError.WithDebugf("client %s registered ID token algorithm %q, which ward cannot sign with", fc.c.ID, alg)
	}
	return st.GenerateIDToken(ctx, lifespan, requester)
}
