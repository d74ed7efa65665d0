package document

import (
	"context"
	"time"

	"ward/internal/store"
	"ward/internal/timerange"
)

// CodeMatch is one token search value on a coding, in the four forms of R4
// §3.1.1.4.10: "code" (AnySystem, Code), "system|code" (System, Code),
// "|code" (Code with System "": codings without a system) and "system|"
// (System with Code "": any code of the system).
type CodeMatch struct {
	System    string
	Code      string
	AnySystem bool
}

// Matches reports whether c satisfies m; it is the reference the stores
// are tested against.
func (m CodeMatch) Matches(c Coding) bool {
	if !m.AnySystem && c.System != m.System {
		return false
	}
	return m.Code == "" || c.Code == m.Code
}

// Filter selects live documents; every set field must hold. For IDs and
// PatientIDs nil means any and an empty (non-nil) list means none, so a
// caller that computed "the patients this client may see" and found none
// gets nothing rather than everything.
type Filter struct {
	IDs        []int64
	PatientIDs []int64
	// Types match when any value matches any of the document's type
	// codings (the values of one search parameter are ORed).
	Types []CodeMatch
	// Dates match Document.Date, an instant; a document without a date
	// matches no date bound. Bounds are ANDed (date=ge2024&date=lt2025).
	Dates []timerange.Bound
	// Updated match UpdatedAt (FHIR _lastUpdated), ANDed.
	Updated []timerange.Bound
}

// Store persists documents. Every method joins the transaction carried in
// ctx, if any (see store.Transactor). Contract for every implementation,
// checked by internal/sqlstore/storetest:
//
//   - Times come back in UTC with microsecond precision; UpdatedAt is set
//     by the store on every write.
//   - Lookups of a missing row return apperr NotFound; a patient, author or
//     uploader that is not a user is apperr Invalid.
//   - The content is written once, at creation, either inline (the bytes
//     given to CreateDocument, BlobKey "") or as a blob key; nothing
//     changes it afterwards.
//   - Updates are optimistic: the caller's Version must equal the stored
//     one, else apperr Conflict (NotFound when the row does not exist).
//   - Deletion is soft: the row and its content stay (Get returns it with
//     DeletedAt set) but Search, Count and Scan no longer see it. Purging
//     the patient removes their rows; purging an author or uploader
//     clears the reference.
type Store interface {
	// CreateDocument inserts d, setting d.ID, d.Version=1 and d.UpdatedAt.
	// When d.BlobKey is "" inline is the content (nil for an empty one);
	// otherwise inline must be nil (Invalid) and the content is the blob.
	CreateDocument(ctx context.Context, d *Document, inline []byte) error
	// GetDocument returns the document, including a soft-deleted one.
	GetDocument(ctx context.Context, id int64) (*Document, error)
	// GetDocumentContent returns the inline content of document id
	// (deleted or not); a document whose content is a blob is Invalid.
	GetDocumentContent(ctx context.Context, id int64) ([]byte, error)
	// UpdateDocument writes d's metadata (Status, DocStatus, Type,
	// Category, Description, Date, AuthorID, Language, Title, Created),
	// bumping d.Version and setting d.UpdatedAt. The other fields are not
	// written. A deleted document cannot be updated (Conflict).
	UpdateDocument(ctx context.Context, d *Document) error
	// DeleteDocument soft-deletes the live document id at version
	// (Conflict when stale or already deleted), bumping its version and
	// UpdatedAt so an incremental export sees the change.
	DeleteDocument(ctx context.Context, id, version int64, at time.Time) error
	// SearchDocuments returns the live documents matching f oldest first
	// (by ascending id, the order every FHIR search pages in) after the cursor, and the cursor of the next page
	// ("" at the end). A malformed cursor is Invalid.
	SearchDocuments(ctx context.Context, f Filter, p store.Page) ([]*Document, string, error)
	// CountDocuments returns how many live documents match f.
	CountDocuments(ctx context.Context, f Filter) (int, error)
	// ScanDocuments calls fn for every live document matching f with id >
	// afterID, in id order. It is what bulk export runs on: rows are read
	// in batches so memory stays bounded, fn may call the store, and an
	// error from fn stops the scan and is returned.
	ScanDocuments(ctx context.Context, f Filter, afterID int64, fn func(*Document) error) error
	// DocumentBlobKeys returns the blob keys of every document of the
	// patient, deleted ones included, sorted.
	DocumentBlobKeys(ctx context.Context, patientID int64) ([]string, error)
}
