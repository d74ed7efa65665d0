// Package blob is where ward keeps files that do not belong in the
// database: FHIR Bulk Data export output (NDJSON, written streaming, possibly
// gigabytes, downloaded later and then expired) and DocumentReference/Binary
// content (size-limited uploads whose content type must survive).
//
// Callers see only the Store interface, so replicas can share an object
// store instead of a disk without any caller changing. Dir, the default,
// keeps blobs under a directory (normally inside the data directory) with
// owner-only modes, since what it holds is patient data.
//
// Everything streams: a blob is never read whole into memory, a write is
// invisible until it is committed, and a crash leaves either the previous
// version or nothing, never half a file. Keys are validated here once, so no
// caller-supplied name can reach outside the store.
package blob
