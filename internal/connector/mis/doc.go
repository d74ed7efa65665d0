// Package mis is ward's client of an external medical information system
// (seed 000's Z.MIS; as of the seed, CampDoc's V2 API): one method per
// function the seed lists, each with the seed's behaviour, over a long-lived
// OAuth link whose tokens another room keeps (internal/connector, reached
// through the Tokens interface declared here).
//
// The package has two layers. Client owns everything that does not depend
// on the MIS's wire format: the bearer token, the per-attempt timeout,
// retries with backoff on 429 and 5xx (honouring Retry-After), the one
// token refresh after a 401, logs without secrets or PHI, and Prometheus
// metrics. An Adapter owns the wire: paths, query parameters, JSON field
// names and pagination. CampDoc is the one adapter today (campdoc.go, its
// assumed API documented in docs/connectors-campdoc.md); another MIS is one
// more Adapter.
//
// This is an outbound HTTP edge (internal/archtest lists it): the domain
// room internal/connector must not import it; the wiring does.
package mis
