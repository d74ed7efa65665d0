package oauth

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"ward/internal/oauth/keys"
)

// JWKSMaxAge is how long verifiers may cache the JWKS. It is short because
// a rotation makes a new key sign at once; verifiers that meet an unknown
// kid refetch anyway, and retired keys stay published far longer than this.
const JWKSMaxAge = "max-age=60"

// JWKSHandler serves m's public JWKS (RFC 7517) for
// GET /.well-known/jwks.json. A failure to read the keys is logged and
// answered with a bare 500: the endpoint is public and says nothing more.
// It lives here, at the OAuth edge, rather than in keys, so that keys (and
// the SQL adapter implementing keys.Store) stays free of net/http.
func JWKSHandler(m *keys.Manager, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set, err := m.PublicJWKS(r.Context())
		if err != nil {
			logger.ErrorContext(r.Context(), "serve jwks", "err", err)
			http.Error(w, "internal server error", http.StatusInternalServerError)
			return
		}
		body, err := json.Marshal(set)
		if err != nil {
			logger.ErrorContext(r.Context(), "encode jwks", "err", err)
			http.Error(w, "internal server error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, "+JWKSMaxAge)
		_, _ = w.Write(body) // the client went away; nothing to do
	})
}
