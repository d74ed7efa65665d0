package document

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // FHIR R4 Attachment.hash is SHA-1 by definition.
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/blob"
	"ward/internal/directory"
	"ward/internal/store"
)

// Permissions decides whether the caller may view or edit a patient: the
// one place authorization is decided (check_role), satisfied by
// *directory.Service. It returns nil when allowed and an apperr error
// (Unauthenticated, NotFound, Forbidden) otherwise.
type Permissions interface {
	CheckRole(ctx context.Context, perm directory.Permission, targetID int64) error
}

// Size defaults and limits.
const (
	// DefaultMaxSize is the largest content accepted unless configured.
	DefaultMaxSize = 32 << 20
	// DefaultInlineMax is the largest content kept in the database row.
	DefaultInlineMax = 64 << 10
	// MaxInlineMax caps InlineMax: an upload is buffered up to InlineMax
	// bytes before ward knows where it goes, so this bounds that memory.
	MaxInlineMax = 1 << 20
	// MaxMaxSize caps MaxSize, far above any sensible limit, so the
	// arithmetic on it cannot overflow.
	MaxMaxSize = 1 << 40
	// MaxSearchPatients bounds how many patients one search may name, each
	// costing a permission check.
	MaxSearchPatients = 1000
)

// BlobPrefix is where document content lives in the blob store: one folder
// per patient, "documents/{patientID}/{random}", so a purged patient's
// content goes with one DeletePrefix.
const BlobPrefix = "documents"

// Deps are the collaborators a Service cannot work without.
type Deps struct {
	Store Store
	Tx    store.Transactor
	Perm  Permissions
	Audit audit.Recorder
	// Blobs holds content too large to keep inline.
	Blobs blob.Store
}

// Config is how a Service behaves. Zero fields take their defaults.
type Config struct {
	// MaxSize is the largest content accepted (DefaultMaxSize); a larger
	// upload is apperr.TooLarge.
	MaxSize int64
	// InlineMax is the largest content kept in the database
	// (DefaultInlineMax, at most MaxInlineMax); negative keeps every
	// content in the blob store.
	InlineMax int64
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Service is the documents' use cases. Every read requires View on the
// document's patient and every write Edit; each write and its audit event
// (about the patient) commit in one transaction.
type Service struct {
	store     Store
	tx        store.Transactor
	perm      Permissions
	audit     audit.Recorder
	blobs     blob.Store
	maxSize   int64
	inlineMax int64
	now       func() time.Time
}

// NewService wires a Service.
func NewService(d Deps, o Config) (*Service, error) {
	s := &Service{store: d.Store, tx: d.Tx, perm: d.Perm, audit: d.Audit, blobs: d.Blobs,
		maxSize: o.MaxSize, inlineMax: o.InlineMax, now: o.Now}
	if s.maxSize == 0 {
		s.maxSize = DefaultMaxSize
	}
	if s.maxSize < 0 || s.maxSize > MaxMaxSize {
		return nil, fmt.Errorf("document service: MaxSize %d is not between 0 and %d", o.MaxSize, int64(MaxMaxSize))
	}
	switch {
	case s.inlineMax == 0:
		s.inlineMax = DefaultInlineMax
	case s.inlineMax < 0:
		s.inlineMax = -1
	case s.inlineMax > MaxInlineMax:
		return nil, fmt.Errorf("document service: InlineMax %d is over %d", o.InlineMax, MaxInlineMax)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// MaxSize returns the largest content the Service accepts, for callers that
// limit a request body before decoding it.
func (s *Service) MaxSize() int64 { return s.maxSize }

// record writes one typed audit event about document id of patientID (in
// the patient's trail) in the transaction in ctx.
func (s *Service) record(ctx context.Context, t audit.EventType, id, patientID int64, fields map[string]any,
	format string, args ...any) error {
	if err := s.audit.Record(ctx, audit.Change{Type: t, Subject: audit.Ref("DocumentReference", id), SubjectID: patientID,
		Fields: fields, Comment: fmt.Sprintf(format, args...)}); err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

func checkID(id int64) error {
	if id <= 0 {
		return apperr.New(apperr.Invalid, "document id must be a positive integer")
	}
	return nil
}

func notFound(id int64) error { return apperr.New(apperr.NotFound, "document %d not found", id) }

func newBlobKey(patientID int64) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return BlobPrefix + "/" + strconv.FormatInt(patientID, 10) + "/" + hex.EncodeToString(b[:])
}

func tooLarge(max int64) error {
	return apperr.New(apperr.TooLarge, "document content is larger than %d bytes", max)
}

// Create stores a new document of d.PatientID with content read from
// content. The caller needs Edit on the patient. Status defaults to
// current, CreatedBy is the acting user, and Size and the hashes are
// computed from the bytes read (whatever d says). Content of at most the
// inline threshold is kept in the row; larger content streams to the blob
// store, never whole in memory, through the MaxSize limit (TooLarge past
// it). The blob is written first and removed again if the row and its
// audit event do not commit.
func (s *Service) Create(ctx context.Context, d *Document, content io.Reader) (*Document, error) {
	if d == nil || content == nil {
		return nil, apperr.New(apperr.Invalid, "a document needs metadata and content")
	}
	n := *d
	n.ID, n.Version, n.DeletedAt, n.UpdatedAt, n.BlobKey = 0, 0, nil, time.Time{}, ""
	n.CreatedBy = actor.From(ctx).UserID
	if n.Status == "" {
		n.Status = StatusCurrent
	}
	if err := Validate(&n); err != nil {
		return nil, err
	}
	// Refuse before reading a byte: an upload from someone who may not
	// write here must not fill the disk.
	if err := s.perm.CheckRole(ctx, directory.Edit, n.PatientID); err != nil {
		return nil, err
	}
	inline, err := s.receive(ctx, &n, content)
	if err != nil {
		return nil, err
	}
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.perm.CheckRole(ctx, directory.Edit, n.PatientID); err != nil {
			return err
		}
		if err := s.store.CreateDocument(ctx, &n, inline); err != nil {
			return err
		}
		where := "inline"
		if !n.Inline() {
			where = "blob " + n.BlobKey
		}
		return s.record(ctx, audit.DocumentCreated, n.ID, n.PatientID,
			map[string]any{"content_type": n.ContentType, "size": n.Size, "version": n.Version}, "created document %d (%s, %d bytes, %s) for patient %d",
			n.ID, n.ContentType, n.Size, where, n.PatientID)
	})
	if err != nil {
		if !n.Inline() {
			// Nothing refers to the blob; a failure here leaves an orphan
			// that only costs space.
			_ = s.blobs.Delete(context.WithoutCancel(ctx), n.BlobKey)
		}
		return nil, err
	}
	return &n, nil
}

// receive reads content, setting d's size and hashes. Content up to the
// inline threshold is returned; anything larger is committed to a new blob
// whose key goes into d.BlobKey, and nil is returned.
func (s *Service) receive(ctx context.Context, d *Document, content io.Reader) ([]byte, error) {
	h1, h256 := sha1.New(), sha256.New() //nolint:gosec // see Document.SHA1
	limited := io.LimitReader(content, s.maxSize+1)
	src := io.TeeReader(limited, io.MultiWriter(h1, h256))
	sum := func(size int64) {
		d.Size = size
		copy(d.SHA1[:], h1.Sum(nil))
		copy(d.SHA256[:], h256.Sum(nil))
	}

	// Read up to one byte past the threshold to learn which side it is on.
	var head []byte
	if s.inlineMax >= 0 {
		buf := make([]byte, s.inlineMax+1)
		n, err := io.ReadFull(src, buf)
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			if int64(n) > s.maxSize {
				return nil, tooLarge(s.maxSize)
			}
			sum(int64(n))
			return bytes.Clone(buf[:n]), nil
		case err != nil:
			return nil, apperr.Wrap(apperr.Invalid, err, "reading the document content failed")
		}
		head = buf[:n]
		if int64(n) > s.maxSize {
			return nil, tooLarge(s.maxSize)
		}
	}

	key := newBlobKey(d.PatientID)
	w, err := s.blobs.Create(ctx, key, blob.WithContentType(d.ContentType), blob.WithMaxBytes(s.maxSize))
	if err != nil {
		return nil, err
	}
	defer func() { _ = w.Abort() }()
	if _, err := w.Write(head); err != nil {
		return nil, err
	}
	n, err := io.Copy(w, src)
	if err != nil {
		if apperr.KindOf(err) == apperr.TooLarge {
			return nil, tooLarge(s.maxSize)
		}
		var ae *apperr.Error
		if errors.As(err, &ae) || ctx.Err() != nil {
			return nil, err
		}
		return nil, apperr.Wrap(apperr.Invalid, err, "reading the document content failed")
	}
	size := int64(len(head)) + n
	if size > s.maxSize {
		return nil, tooLarge(s.maxSize)
	}
	info, err := w.Commit()
	if err != nil {
		return nil, err
	}
	sum(size)
	if info.Size != size || info.SHA256 != d.SHA256 {
		_ = s.blobs.Delete(context.WithoutCancel(ctx), key)
		return nil, apperr.New(apperr.Internal, "blob store kept %d bytes of %d", info.Size, size)
	}
	d.BlobKey = key
	return nil, nil
}

// Get returns a live document of a patient the caller may view. A deleted
// one is NotFound.
func (s *Service) Get(ctx context.Context, id int64) (*Document, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	d, err := s.store.GetDocument(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.perm.CheckRole(ctx, directory.View, d.PatientID); err != nil {
		return nil, err
	}
	if d.Deleted() {
		return nil, notFound(id)
	}
	return d, nil
}

// Open returns the content of a live document the caller may view, with
// the document (whose ContentType and Size a download answers with). The
// reader is seekable, so range requests can be served; the caller closes
// it.
func (s *Service) Open(ctx context.Context, id int64) (io.ReadSeekCloser, *Document, error) {
	d, err := s.Get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if d.Inline() {
		b, err := s.store.GetDocumentContent(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		return nopCloser{bytes.NewReader(b)}, d, nil
	}
	r, _, err := s.blobs.Open(ctx, d.BlobKey)
	if err != nil {
		if apperr.KindOf(err) == apperr.NotFound {
			// The row promises content the store does not have.
			return nil, nil, apperr.Wrap(apperr.Internal, err, "content of document %d is missing", id)
		}
		return nil, nil, err
	}
	return r, d, nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

var bookkeeping = []string{"ID", "PatientID", "ContentType", "Size", "SHA1", "SHA256", "BlobKey",
	"CreatedBy", "UpdatedAt", "Version", "DeletedAt"}

// changed names the metadata fields that differ, for audit comments.
func changed(old, updated Document) string {
	a, b := reflect.ValueOf(old), reflect.ValueOf(updated)
	var names []string
	for i := range a.NumField() {
		name := a.Type().Field(i).Name
		if slices.Contains(bookkeeping, name) {
			continue
		}
		if !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			names = append(names, strings.ToLower(name))
		}
	}
	if len(names) == 0 {
		return "nothing"
	}
	return strings.Join(names, ", ")
}

// Update replaces the metadata of document d.ID when d.Version is the
// current version (else Conflict). The caller needs Edit on the patient.
// The patient and the content cannot change: a different PatientID,
// ContentType, Size or hash is Invalid (zero values mean "as stored").
func (s *Service) Update(ctx context.Context, d *Document) (*Document, error) {
	if d == nil {
		return nil, apperr.New(apperr.Invalid, "no document given")
	}
	if err := checkID(d.ID); err != nil {
		return nil, err
	}
	n := *d
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		old, err := s.store.GetDocument(ctx, n.ID)
		if err != nil {
			return err
		}
		if err := s.perm.CheckRole(ctx, directory.Edit, old.PatientID); err != nil {
			return err
		}
		if old.Deleted() {
			return notFound(n.ID)
		}
		var p problems
		if n.PatientID != 0 && n.PatientID != old.PatientID {
			p.add("patient", "cannot be changed")
		}
		if n.ContentType != "" && n.ContentType != old.ContentType {
			p.add("contentType", "the content cannot be changed; create a new document")
		}
		if n.Size != 0 && n.Size != old.Size || n.SHA1 != ([sha1.Size]byte{}) && n.SHA1 != old.SHA1 ||
			n.SHA256 != ([sha256.Size]byte{}) && n.SHA256 != old.SHA256 {
			p.add("content", "cannot be changed; create a new document")
		}
		if err := p.err(); err != nil {
			return err
		}
		n.PatientID, n.ContentType, n.Size, n.SHA1, n.SHA256 = old.PatientID, old.ContentType, old.Size, old.SHA1, old.SHA256
		n.BlobKey, n.CreatedBy, n.DeletedAt = old.BlobKey, old.CreatedBy, nil
		if err := Validate(&n); err != nil {
			return err
		}
		what := changed(*old, n)
		if err := s.store.UpdateDocument(ctx, &n); err != nil {
			return err
		}
		return s.record(ctx, audit.DocumentUpdated, n.ID, n.PatientID,
			map[string]any{"changed": what, "version": n.Version}, "updated document %d to version %d: %s", n.ID, n.Version, what)
	})
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// Delete soft-deletes document id at version (Conflict when stale). The
// caller needs Edit on the patient. The content stays, as history.
func (s *Service) Delete(ctx context.Context, id, version int64) error {
	if err := checkID(id); err != nil {
		return err
	}
	return s.tx.InTx(ctx, func(ctx context.Context) error {
		d, err := s.store.GetDocument(ctx, id)
		if err != nil {
			return err
		}
		if err := s.perm.CheckRole(ctx, directory.Edit, d.PatientID); err != nil {
			return err
		}
		if d.Deleted() {
			return notFound(id)
		}
		if err := s.store.DeleteDocument(ctx, id, version, s.now()); err != nil {
			return err
		}
		return s.record(ctx, audit.DocumentDeleted, id, d.PatientID,
			map[string]any{"version": version}, "deleted document %d (version %d)", id, version)
	})
}

// checkSearch requires View on every patient f names. A filter over every
// patient (PatientIDs nil) is only for ward itself (bulk export jobs): any
// other caller works out the patients it may see and names them.
func (s *Service) checkSearch(ctx context.Context, f Filter) error {
	if f.PatientIDs == nil {
		if !actor.From(ctx).System {
			return apperr.New(apperr.Forbidden, "a document search must name the patients it covers")
		}
		return nil
	}
	if len(f.PatientIDs) > MaxSearchPatients {
		return apperr.New(apperr.Invalid, "a document search may name at most %d patients", MaxSearchPatients)
	}
	for _, id := range f.PatientIDs {
		if err := s.perm.CheckRole(ctx, directory.View, id); err != nil {
			return err
		}
	}
	return nil
}

// Search returns a page of the live documents matching f, oldest first.
// The caller needs View on every patient in f.PatientIDs; see checkSearch.
func (s *Service) Search(ctx context.Context, f Filter, p store.Page) ([]*Document, string, error) {
	if err := s.checkSearch(ctx, f); err != nil {
		return nil, "", err
	}
	return s.store.SearchDocuments(ctx, f, p.Normalize())
}

// Count returns how many live documents match f (a searchset's total),
// under the same access rule as Search.
func (s *Service) Count(ctx context.Context, f Filter) (int, error) {
	if err := s.checkSearch(ctx, f); err != nil {
		return 0, err
	}
	return s.store.CountDocuments(ctx, f)
}

// RemovePurgedContent deletes the stored content of a patient the
// directory has purged (PurgeUser removes the rows; blobs are outside the
// database, so they go here, after the purge has committed). It refuses
// with Conflict while any document row of the patient remains, so it
// cannot take content a document still refers to.
func (s *Service) RemovePurgedContent(ctx context.Context, patientID int64) error {
	if patientID <= 0 {
		return apperr.New(apperr.Invalid, "patient id must be a positive integer")
	}
	keys, err := s.store.DocumentBlobKeys(ctx, patientID)
	if err != nil {
		return err
	}
	if len(keys) > 0 {
		return apperr.New(apperr.Conflict, "patient %d still has %d stored documents", patientID, len(keys))
	}
	return s.blobs.DeletePrefix(ctx, BlobPrefix+"/"+strconv.FormatInt(patientID, 10))
}
