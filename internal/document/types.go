package document

import (
	"crypto/sha1" //nolint:gosec // FHIR R4 Attachment.hash is SHA-1 by definition; SHA256 is kept too.
	"crypto/sha256"
	"time"
)

// Coding is a FHIR Coding (system + code + display).
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// Document statuses (FHIR R4 document-reference-status).
const (
	StatusCurrent        = "current"
	StatusSuperseded     = "superseded"
	StatusEnteredInError = "entered-in-error"
)

// Statuses lists every valid Status.
var Statuses = []string{StatusCurrent, StatusSuperseded, StatusEnteredInError}

// DocStatuses lists every valid DocStatus but "" (none given): FHIR R4
// composition-status.
var DocStatuses = []string{"preliminary", "final", "amended", "entered-in-error"}

// Document is one DocumentReference of a patient (a directory user) and the
// description of its one content. The content itself is immutable: an
// update changes the metadata only, so Size, the hashes and where the bytes
// live never change after creation.
type Document struct {
	ID          int64
	PatientID   int64
	Status      string // one of Statuses
	DocStatus   string // one of DocStatuses, or ""
	Type        []Coding
	Category    []Coding
	Description string
	Date        *time.Time // when the reference was made (FHIR DocumentReference.date)
	AuthorID    int64      // a directory user, 0 when none

	// ContentType is the media type of the content, kept exactly as given
	// (parameters and case included) so a download answers with it.
	ContentType string
	Language    string     // BCP-47 language of the content, or ""
	Title       string     // the content's title (Attachment.title)
	Created     *time.Time // when the content was made (Attachment.creation)
	Size        int64
	SHA1        [sha1.Size]byte // FHIR Attachment.hash (base64 of it)
	SHA256      [sha256.Size]byte
	// BlobKey names the content in the blob store; "" means the content is
	// kept inline in the database row (Store.GetDocumentContent).
	BlobKey string

	CreatedBy int64 // the user who uploaded it, 0 for ward itself
	UpdatedAt time.Time
	Version   int64      // incremented on every change; FHIR meta.versionId
	DeletedAt *time.Time // soft delete; the content is kept
}

// Deleted reports whether the document has been soft-deleted.
func (d *Document) Deleted() bool { return d.DeletedAt != nil }

// Inline reports whether the content is kept in the database row.
func (d *Document) Inline() bool { return d.BlobKey == "" }
