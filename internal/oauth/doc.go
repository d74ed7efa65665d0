// Package oauth is ward's authorization server: OAuth 2.0 (authorization
// code with PKCE, refresh-token rotation with reuse detection, client
// credentials, introspection, revocation), OpenID Connect and SMART on FHIR
// App Launch and Backend Services. The protocol is ory/fosite, composed
// here and imported nowhere else; this package supplies the storage
// adapter over tokens.Store, the token strategies (opaque HMAC tokens and
// RFC 9068 JWTs signed with keys.Manager), the client adapter over the
// client registry, the policy (which scopes a client may receive, the
// private_key_jwt rules of SMART Backend Services) and the HTTP endpoints.
// A client's jwks_uri is fetched only through internal/outbound, cached and
// refetched at a bounded rate (jwks.go), never by fosite's own fetcher.
//
// Every credential ward hands out is stored only by its signature. Every
// issue, refresh, revocation and failure is audited in the same
// transaction as the change it records.
package oauth
