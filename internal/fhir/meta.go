package fhir

import "time"

// MetaFor is the meta of a resource at version, last changed at updated
// (nil when both are unknown), for resources assembled outside this
// package's mappings.
func MetaFor(version int64, updated time.Time) *Meta { return metaFor(version, updated) }
