// Package connector keeps ward's long-lived OAuth links to external
// systems (seed 000: the medical information system, CampDoc's V2 API).
// An administrator registers a connector (base URL, authorize and token
// URLs, client id and secret, redirect URI, scopes), then "primes" it once
// through a browser login; from then on the Service hands callers (the MIS
// client in ./mis) a valid access token, refreshing it before it expires
// and after the remote refuses it.
//
// The room holds the types, the Store contract, the Service and the River
// worker that refreshes ahead of expiry. It speaks no HTTP itself: the
// token endpoint is reached through a TokenEndpoint (./tokenclient, on
// ward's outbound policy) and the browser steps live in internal/web.
//
// Secrets never leave the Service in clear but to the token endpoint and
// the caller of Token: the client secret and both tokens are sealed with
// ward's tink keyset, bound to the connector's name, before they reach the
// Store, so the database holds nothing usable without the master key. A
// refresh is claimed through the database (a lease written by version
// compare-and-swap), so one replica at a time spends a refresh token and
// the rotated one is stored before the claim ends.
package connector
