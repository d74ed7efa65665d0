// Package intervention is seed 001's interventions: the apps ("cards") a
// person may be shown, with their display settings, and the OAuth client
// that acts for each. It holds the types, the Store contract and the
// Service; internal/sqlstore implements the Store and internal/api serves
// the Service over HTTP. No HTTP and no SQL here.
//
// Card HTML, link labels and status texts are stored exactly as given: they
// are the intervention's own content. ward never renders them into its own
// pages; every API answer carries them as JSON strings, and a page that
// shows one must sanitise it (docs/interventions.md).
package intervention
