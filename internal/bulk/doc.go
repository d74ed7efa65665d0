// Package bulk is FHIR Bulk Data Access 2.0 export
// (https://hl7.org/fhir/uv/bulkdata/) as a feature: the Export, its Store,
// the Service behind the $export kick-off at the system, Patient and Group
// levels, the $bulkdata-status polling and cancelling, and the download of
// the NDJSON files, and the River jobs that write and expire them. The HTTP
// protocol is internal/fhir/rest (bulk.go); bulk/bulksource implements
// Source and Groups over the stores.
//
// An export is a row (Store) and a River job (kind "bulk_export") inserted
// in the kick-off transaction with its audit event. The job streams every
// type from a Source to NDJSON blobs, one resource at a time, starting a new
// file every EngineConfig.LinesPerFile lines and checkpointing after each file it
// commits, so a job killed mid-way resumes where the last checkpoint left
// it and every resource lands in exactly one file. A periodic job deletes
// the files and rows of expired and cancelled exports. A job runs in
// slices (EngineConfig.Slice) that snooze and resume, so River never takes a
// long export for a stuck job, and a server stopped mid-export leaves the
// job to the next one.
//
// Who may do what is decided in access.go alone.
package bulk
