package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"ward/internal/apperr"
	"ward/internal/document"
	"ward/internal/store"
)

var _ document.Store = (*DB)(nil)

// Bounds on one document filter, so the query text (and the statement and
// rebind caches keyed by it) stays small whatever a search asks.
const (
	maxDocumentTypeMatches = 50
	maxDocumentDateBounds  = 8
)

// documentColumns are read by every document query; the inline content is
// not among them and is read only by GetDocumentContent.
const documentColumns = `id, patient_id, status, doc_status, type, category, description, doc_date,
	author_id, content_type, language, title, created, size, sha1, sha256, blob_key, created_by,
	updated_at, version, deleted_at`

func scanDocument(s scanner) (*document.Document, error) {
	var (
		d                 document.Document
		typ, cat          string
		date, created     sql.NullInt64
		author, createdBy sql.NullInt64
		sha1, sha256      []byte
		blobKey           sql.NullString
		updated           int64
		deleted           sql.NullInt64
	)
	if err := s.Scan(&d.ID, &d.PatientID, &d.Status, &d.DocStatus, &typ, &cat, &d.Description, &date,
		&author, &d.ContentType, &d.Language, &d.Title, &created, &d.Size, &sha1, &sha256, &blobKey,
		&createdBy, &updated, &d.Version, &deleted); err != nil {
		return nil, err
	}
	var err error
	if d.Type, err = fromJSON[document.Coding](typ); err != nil {
		return nil, err
	}
	if d.Category, err = fromJSON[document.Coding](cat); err != nil {
		return nil, err
	}
	if len(sha1) != len(d.SHA1) || len(sha256) != len(d.SHA256) {
		return nil, fmt.Errorf("document %d: stored digests have %d and %d bytes", d.ID, len(sha1), len(sha256))
	}
	copy(d.SHA1[:], sha1)
	copy(d.SHA256[:], sha256)
	d.Date, d.Created = fromNullMicro(date), fromNullMicro(created)
	d.AuthorID, d.CreatedBy = author.Int64, createdBy.Int64
	d.BlobKey = blobKey.String
	d.UpdatedAt = fromMicro(updated)
	d.DeletedAt = fromNullMicro(deleted)
	return &d, nil
}

// documentMetaArgs returns status through created, the metadata columns
// an update writes, in the order of the UPDATE below.
func documentMetaArgs(d *document.Document) ([]any, error) {
	typ, err := toJSON(d.Type)
	if err != nil {
		return nil, err
	}
	cat, err := toJSON(d.Category)
	if err != nil {
		return nil, err
	}
	return []any{d.Status, d.DocStatus, typ, cat, d.Description, nullMicro(d.Date), nullID(d.AuthorID),
		d.Language, d.Title, nullMicro(d.Created)}, nil
}

func normalizeDocument(d *document.Document) {
	d.Date = fromNullMicro(nullMicro(d.Date))
	d.Created = fromNullMicro(nullMicro(d.Created))
	d.DeletedAt = fromNullMicro(nullMicro(d.DeletedAt))
}

// writeTypeCodes replaces the searchable type codes of document id.
func writeTypeCodes(ctx context.Context, x q, id int64, codes []document.Coding, replace bool) error {
	if replace {
		if _, err := x.exec(ctx, `DELETE FROM document_type_codes WHERE document_id = ?`, id); err != nil {
			return classify(err, "document type codes")
		}
	}
	for _, c := range codes {
		if _, err := x.exec(ctx, `INSERT INTO document_type_codes (document_id, system, code) VALUES (?, ?, ?)`,
			id, c.System, c.Code); err != nil {
			return classify(err, "document type codes")
		}
	}
	return nil
}

// CreateDocument inserts d with Version 1, with its content inline when
// d.BlobKey is "".
func (d *DB) CreateDocument(ctx context.Context, doc *document.Document, inline []byte) error {
	var key sql.NullString
	var content any
	if doc.BlobKey != "" {
		if inline != nil {
			return apperr.New(apperr.Invalid, "create document: content is either inline or a blob, not both")
		}
		key = sql.NullString{String: doc.BlobKey, Valid: true}
	} else {
		if inline == nil {
			inline = []byte{}
		}
		content = inline
	}
	meta, err := documentMetaArgs(doc)
	if err != nil {
		return err
	}
	now := d.nowMicro()
	args := append([]any{doc.PatientID}, meta...)
	args = append(args, doc.ContentType, doc.Size, doc.SHA1[:], doc.SHA256[:], key, content,
		nullID(doc.CreatedBy), toMicro(now), nullMicro(doc.DeletedAt))
	var id int64
	err = d.inTx(ctx, func(ctx context.Context, x q) error {
		if err := x.row(ctx, `INSERT INTO documents (patient_id, status, doc_status, type, category,
			description, doc_date, author_id, language, title, created, content_type, size, sha1, sha256,
			blob_key, content, created_by, updated_at, version, deleted_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) RETURNING id`,
			args...).Scan(&id); err != nil {
			return classify(err, "create document")
		}
		return writeTypeCodes(ctx, x, id, doc.Type, false)
	})
	if err != nil {
		return err
	}
	doc.ID, doc.Version, doc.UpdatedAt = id, 1, now
	normalizeDocument(doc)
	return nil
}

// GetDocument returns the document, deleted or not.
func (d *DB) GetDocument(ctx context.Context, id int64) (*document.Document, error) {
	doc, err := scanDocument(d.rd(ctx).row(ctx, `SELECT `+documentColumns+` FROM documents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("document", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get document: %w", err)
	}
	return doc, nil
}

// GetDocumentContent returns the inline content of document id.
func (d *DB) GetDocumentContent(ctx context.Context, id int64) ([]byte, error) {
	var key sql.NullString
	var content []byte
	err := d.rd(ctx).row(ctx, `SELECT blob_key, content FROM documents WHERE id = ?`, id).Scan(&key, &content)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("document", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get document content: %w", err)
	}
	if key.Valid {
		return nil, apperr.New(apperr.Invalid, "document %d keeps its content in the blob store", id)
	}
	if len(content) == 0 {
		return nil, nil
	}
	return content, nil
}

// UpdateDocument writes doc's metadata when doc.Version is the live row's
// version.
func (d *DB) UpdateDocument(ctx context.Context, doc *document.Document) error {
	args, err := documentMetaArgs(doc)
	if err != nil {
		return err
	}
	now := d.nowMicro()
	args = append(args, toMicro(now), doc.ID, doc.Version)
	err = d.inTx(ctx, func(ctx context.Context, x q) error {
		res, err := x.exec(ctx, `UPDATE documents SET status = ?, doc_status = ?, type = ?, category = ?,
			description = ?, doc_date = ?, author_id = ?, language = ?, title = ?, created = ?,
			updated_at = ?, version = version + 1
			WHERE id = ? AND version = ? AND deleted_at IS NULL`, args...)
		if err != nil {
			return classify(err, "update document")
		}
		if err := d.versioned(res, "document", doc.ID, func() error { _, err := d.GetDocument(ctx, doc.ID); return err }); err != nil {
			return err
		}
		return writeTypeCodes(ctx, x, doc.ID, doc.Type, true)
	})
	if err != nil {
		return err
	}
	doc.Version++
	doc.UpdatedAt = now
	normalizeDocument(doc)
	return nil
}

// DeleteDocument soft-deletes the live document id at version.
func (d *DB) DeleteDocument(ctx context.Context, id, version int64, at time.Time) error {
	res, err := d.wr(ctx).exec(ctx, `UPDATE documents SET deleted_at = ?, updated_at = ?,
		version = version + 1 WHERE id = ? AND version = ? AND deleted_at IS NULL`,
		toMicro(at), toMicro(d.nowMicro()), id, version)
	if err != nil {
		return classify(err, "delete document")
	}
	return d.versioned(res, "document", id, func() error { _, err := d.GetDocument(ctx, id); return err })
}

// documentWhere renders f over live rows of documents as a WHERE
// expression with its arguments.
func (d *DB) documentWhere(f document.Filter) (string, []any, error) {
	if len(f.Types) > maxDocumentTypeMatches {
		return "", nil, apperr.New(apperr.Invalid, "a document search may match at most %d types", maxDocumentTypeMatches)
	}
	if len(f.Dates) > maxDocumentDateBounds || len(f.Updated) > maxDocumentDateBounds {
		return "", nil, apperr.New(apperr.Invalid, "a document search may give at most %d bounds per date", maxDocumentDateBounds)
	}
	conds := []string{"deleted_at IS NULL"}
	var args []any
	for _, l := range []struct {
		col string
		ids []int64
	}{{"id", f.IDs}, {"patient_id", f.PatientIDs}} {
		switch {
		case l.ids == nil:
		case len(l.ids) == 0:
			conds = append(conds, "1 = 0")
		default:
			c, a := d.int64List(l.col, l.ids)
			conds = append(conds, c)
			args = append(args, a)
		}
	}
	if len(f.Types) > 0 {
		var ors []string
		for _, m := range f.Types {
			var parts []string
			if !m.AnySystem {
				parts = append(parts, "c.system = ?")
				args = append(args, m.System)
			}
			if m.Code != "" {
				parts = append(parts, "c.code = ?")
				args = append(args, m.Code)
			}
			if len(parts) == 0 {
				parts = append(parts, "1 = 1")
			}
			ors = append(ors, "("+strings.Join(parts, " AND ")+")")
		}
		conds = append(conds, `EXISTS (SELECT 1 FROM document_type_codes c
			WHERE c.document_id = documents.id AND (`+strings.Join(ors, " OR ")+`))`)
	}
	now := d.now()
	if w, a := dateWhere("doc_date", "", f.Dates, now); w != "" {
		// A document without a date has no range to compare: no bound
		// matches it (dateWhere alone would read NULL as open-ended).
		conds = append(conds, "doc_date IS NOT NULL AND "+w)
		args = append(args, a...)
	}
	if w, a := dateWhere("updated_at", "", f.Updated, now); w != "" {
		conds = append(conds, w)
		args = append(args, a...)
	}
	return strings.Join(conds, " AND "), args, nil
}

func documentID(d *document.Document) int64 { return d.ID }

// SearchDocuments returns live documents matching f in id order.
func (d *DB) SearchDocuments(ctx context.Context, f document.Filter, p store.Page) ([]*document.Document, string, error) {
	where, args, err := d.documentWhere(f)
	if err != nil {
		return nil, "", err
	}
	return oldestFirst(ctx, d, "search documents", documentColumns, "documents", where, args,
		scanDocument, documentID, p)
}

// CountDocuments counts live documents matching f.
func (d *DB) CountDocuments(ctx context.Context, f document.Filter) (int, error) {
	where, args, err := d.documentWhere(f)
	if err != nil {
		return 0, err
	}
	var n int
	if err := d.rd(ctx).row(ctx, `SELECT COUNT(*) FROM documents WHERE `+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count documents: %w", err)
	}
	return n, nil
}

// ScanDocuments visits live documents matching f in id order, a batch at a
// time.
func (d *DB) ScanDocuments(ctx context.Context, f document.Filter, afterID int64, fn func(*document.Document) error) error {
	where, args, err := d.documentWhere(f)
	if err != nil {
		return err
	}
	query := `SELECT ` + documentColumns + ` FROM documents WHERE ` + where + ` AND id > ? ORDER BY id LIMIT ?`
	for {
		batch, err := queryList(ctx, d.rd(ctx), "scan documents", scanDocument, query,
			append(args[:len(args):len(args)], afterID, clinicalScanBatch)...)
		if err != nil {
			return err
		}
		for _, doc := range batch {
			if err := fn(doc); err != nil {
				return err
			}
			afterID = doc.ID
		}
		if len(batch) < clinicalScanBatch {
			return nil
		}
	}
}

// DocumentBlobKeys returns the blob keys of all the patient's documents.
func (d *DB) DocumentBlobKeys(ctx context.Context, patientID int64) ([]string, error) {
	return queryList(ctx, d.rd(ctx), "document blob keys", func(s scanner) (string, error) {
		var k string
		return k, s.Scan(&k)
	}, `SELECT blob_key FROM documents WHERE patient_id = ? AND blob_key IS NOT NULL ORDER BY blob_key`, patientID)
}
