package rest

import (
	"bytes"
	"context"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"ward/internal/apperr"
	"ward/internal/document"
	"ward/internal/fhir"
	"ward/internal/fhir/policy"
	"ward/internal/fhir/search"
	"ward/internal/store"
)

// Documents is the document store: DocumentReference metadata with its
// content, called as ward once the policy has decided.
type Documents interface {
	Create(ctx context.Context, d *document.Document, content io.Reader) (*document.Document, error)
	Get(ctx context.Context, id int64) (*document.Document, error)
	Open(ctx context.Context, id int64) (io.ReadSeekCloser, *document.Document, error)
	Update(ctx context.Context, d *document.Document) (*document.Document, error)
	Search(ctx context.Context, f document.Filter, p store.Page) ([]*document.Document, string, error)
	Count(ctx context.Context, f document.Filter) (int, error)
	MaxSize() int64
}

// documentReferenceType serves DocumentReference. Content comes inline
// (attachment.data) on create, or separately as a raw Binary upload; it is
// downloaded from Binary/{id} (the document's own id).
func (h *Handler) documentReferenceType() *resourceType {
	return &resourceType{
		name:          "DocumentReference",
		documentation: "Documents with their content (stored in the data directory, small ones in the database); the content is Binary/{id}, also at DocumentReference/{id}/Binary.",
		read: func(ctx context.Context, g policy.Grant, raw string) (*found, error) {
			d, err := h.getDocument(ctx, raw)
			if err != nil {
				return nil, err
			}
			return h.documentFound(d), nil
		},
		search: h.searchDocuments,
		create: func(ctx context.Context, g policy.Grant, body []byte) (*found, error) {
			dr, err := fhir.DecodeDocumentReference(body)
			if err != nil {
				return nil, err
			}
			d, data, err := fhir.ToDocument(dr, h.d.Base)
			if err != nil {
				return nil, err
			}
			if err := h.d.Policy.PatientAccess(ctx, g, d.PatientID, policy.Create); err != nil {
				return nil, err
			}
			out, err := h.d.Documents.Create(asWard(ctx), d, bytes.NewReader(data))
			if err != nil {
				return nil, err
			}
			return h.documentFound(out), nil
		},
		update: func(ctx context.Context, g policy.Grant, raw string, version int64, body []byte) (*found, error) {
			dr, err := fhir.DecodeDocumentReference(body)
			if err != nil {
				return nil, err
			}
			if err := checkBodyID("DocumentReference", raw, dr.ID); err != nil {
				return nil, err
			}
			cur, err := h.getDocument(ctx, raw)
			if err != nil {
				return nil, err
			}
			if err := h.d.Policy.PatientAccess(ctx, g, cur.PatientID, policy.Update); err != nil {
				return nil, err
			}
			d, _, err := fhir.ToDocument(dr, h.d.Base)
			if err != nil {
				return nil, err
			}
			d.ID, d.Version = cur.ID, version
			if version == 0 {
				d.Version = cur.Version
			}
			out, err := h.d.Documents.Update(asWard(ctx), d)
			if err != nil {
				return nil, err
			}
			return h.documentFound(out), nil
		},
	}
}

func (h *Handler) getDocument(ctx context.Context, raw string) (*document.Document, error) {
	id, err := parseID("DocumentReference", raw)
	if err != nil {
		return nil, err
	}
	d, err := h.d.Documents.Get(asWard(ctx), id)
	if err != nil {
		return nil, notFoundAs("DocumentReference", id, err)
	}
	return d, nil
}

func (h *Handler) documentFound(d *document.Document) *found {
	return &found{resource: fhir.DocumentReferenceFromDocument(d, h.d.Base), id: formatID(d.ID),
		version: d.Version, updated: d.UpdatedAt, patients: []int64{d.PatientID}}
}

func (h *Handler) searchDocuments(ctx context.Context, g policy.Grant, q search.Query) (*page, error) {
	f, err := fhir.DocumentFilter(q)
	if err != nil {
		return nil, err
	}
	if f.PatientIDs, err = h.d.Policy.Patients(ctx, g, f.PatientIDs); err != nil {
		return nil, err
	}
	wctx := asWard(ctx)
	n, err := h.d.Documents.Count(wctx, f)
	if err != nil {
		return nil, err
	}
	p := &page{total: intPtr(n)}
	if q.Summary == search.SummaryCount || (f.PatientIDs != nil && len(f.PatientIDs) == 0) {
		return p, nil
	}
	ds, next, err := h.d.Documents.Search(wctx, f, store.Page{Limit: q.Count, After: q.Cursor})
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		p.resources = append(p.resources, fhir.DocumentReferenceFromDocument(d, h.d.Base))
		p.patients = append(p.patients, d.PatientID)
	}
	p.next = next
	return p, nil
}

// binaryType is Binary: a document's content. Its routes are its own
// (raw bytes in and out), so the table lists it for the statement only.
func (h *Handler) binaryType() *resourceType {
	return &resourceType{
		name:          "Binary",
		documentation: "A document's content, in its own content type (or as FHIR JSON when Accept asks for it). Create with a raw body and X-Security-Context: Patient/{id}. Reading needs a Binary or DocumentReference read scope, or system/Document.read.",
		routes: func(mux *http.ServeMux) {
			mux.HandleFunc("GET /fhir/Binary/{id}", h.readBinary)
			mux.HandleFunc("GET /fhir/DocumentReference/{id}/Binary", h.readBinary)
			mux.HandleFunc("POST /fhir/Binary", h.createBinary)
		},
		interactions: []string{"read", "create"},
	}
}

// readBinary streams a document's content with its stored content type,
// or answers a FHIR Binary (base64) when the client asks for FHIR JSON.
func (h *Handler) readBinary(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	g, err := h.d.Policy.CanDocument(ctx)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id, err := parseID("Binary", r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d, err := h.d.Documents.Get(asWard(ctx), id)
	if err != nil {
		h.fail(w, r, notFoundAs("Binary", id, err))
		return
	}
	if err := h.d.Policy.PatientAccess(ctx, g, d.PatientID, policy.Read); err != nil {
		h.fail(w, r, err)
		return
	}
	rc, d, err := h.d.Documents.Open(asWard(ctx), id)
	if err != nil {
		h.fail(w, r, notFoundAs("Binary", id, err))
		return
	}
	defer rc.Close()
	if err := h.auditRead(ctx, "read Binary/"+formatID(id), []int64{d.PatientID}); err != nil {
		h.fail(w, r, err)
		return
	}
	if wantsFHIR(r.Header.Get("Accept")) {
		content, err := io.ReadAll(rc)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		b := fhir.BinaryFromDocument(d, content)
		WriteResource(w, r, http.StatusOK, b, d.Version, d.UpdatedAt)
		return
	}
	w.Header().Set("Content-Type", d.ContentType)
	w.Header().Set("ETag", ETag(d.Version))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// The stored type is the uploader's; a browser must not render it in
	// ward's origin (an HTML "document" would run as ward).
	w.Header().Set("Content-Disposition", "attachment")
	w.Header().Set("Content-Security-Policy", "sandbox")
	http.ServeContent(w, r, "", d.UpdatedAt, rc)
}

// wantsFHIR reports whether Accept names FHIR JSON explicitly.
func wantsFHIR(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && (mt == ContentType || mt == "application/json+fhir") {
			return true
		}
	}
	return false
}

// createBinary takes raw content (any type; FHIR JSON Binary with
// base64 data too) for the patient named by X-Security-Context, streaming
// it to the document store through its size limit.
func (h *Handler) createBinary(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	g, err := h.d.Policy.Decide(ctx, "Binary", policy.Create)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ct := r.Header.Get("Content-Type")
	d := &document.Document{ContentType: ct}
	var content io.Reader = r.Body
	if JSONType(ct) {
		body, err := ReadBody(r, h.d.MaxBody)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		b, err := fhir.DecodeBinary(body)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		data, err := b.Content()
		if err != nil {
			h.fail(w, r, err)
			return
		}
		d.ContentType, content = b.ContentType, bytes.NewReader(data)
		if b.SecurityContext != nil {
			if d.PatientID, err = fhir.ParseReferenceID(b.SecurityContext, "Patient", "Binary.securityContext", h.d.Base); err != nil {
				h.fail(w, r, err)
				return
			}
		}
	}
	if d.PatientID == 0 {
		ref := strings.TrimSpace(r.Header.Get("X-Security-Context"))
		id, ok := strings.CutPrefix(ref, "Patient/")
		if !ok {
			h.fail(w, r, apperr.New(apperr.Invalid, "name the document's patient: X-Security-Context: Patient/{id} (or Binary.securityContext)"))
			return
		}
		pid, err := strconv.ParseInt(id, 10, 64)
		if err != nil || pid <= 0 {
			h.fail(w, r, apperr.New(apperr.Invalid, "X-Security-Context must be Patient/{id}"))
			return
		}
		d.PatientID = pid
	}
	if err := h.d.Policy.PatientAccess(ctx, g, d.PatientID, policy.Create); err != nil {
		h.fail(w, r, err)
		return
	}
	out, err := h.d.Documents.Create(asWard(ctx), d, content)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", Location(h.d.Base, "Binary", formatID(out.ID), out.Version))
	res := fhir.BinaryFromDocument(out, nil)
	WriteResource(w, r, http.StatusCreated, res, out.Version, out.UpdatedAt)
}
