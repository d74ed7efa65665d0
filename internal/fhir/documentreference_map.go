package fhir

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // R4 defines Attachment.hash as SHA-1.
	"crypto/sha256"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"ward/internal/apperr"
	"ward/internal/document"
)

// BinaryURL is where a document's content is downloaded: "{base}/Binary/{id}",
// or the relative "Binary/{id}" when base is "".
func BinaryURL(base string, id int64) string {
	return referenceTo(base, "Binary", id).Reference
}

// DocumentReferenceFromDocument renders a document as a DocumentReference
// whose one content points at its Binary (see BinaryURL) and carries the
// content's type, language, size, SHA-1 hash, title and creation time.
// References (subject, author) are relative when base is "", else
// absolute under base. An author who is the patient is a Patient
// reference, any other user a Practitioner.
func DocumentReferenceFromDocument(d *document.Document, base string) *DocumentReference {
	dr := &DocumentReference{
		DomainResource: DomainResource{ID: formatID(d.ID), Meta: metaFor(d.Version, d.UpdatedAt)},
		Status:         d.Status,
		DocStatus:      d.DocStatus,
		Description:    d.Description,
	}
	if len(d.Type) > 0 {
		dr.Type = &CodeableConcept{Coding: toFHIRCodings(d.Type)}
	}
	// The domain keeps categories as a flat list of codings: one concept
	// each, which ToDocument reads back to the same list.
	for _, c := range d.Category {
		dr.Category = append(dr.Category, CodeableConcept{Coding: toFHIRCodings([]document.Coding{c})})
	}
	if d.PatientID != 0 {
		dr.Subject = referenceTo(base, "Patient", d.PatientID)
	}
	if d.Date != nil {
		dr.Date = formatInstant(*d.Date)
	}
	if d.AuthorID != 0 {
		typ := "Practitioner"
		if d.AuthorID == d.PatientID {
			typ = "Patient"
		}
		dr.Author = []Reference{*referenceTo(base, typ, d.AuthorID)}
	}
	a := Attachment{
		ContentType: d.ContentType,
		Language:    d.Language,
		Size:        d.Size,
		Hash:        base64Encode(d.SHA1[:]),
		Title:       d.Title,
	}
	if d.ID != 0 {
		a.URL = BinaryURL(base, d.ID)
	}
	if d.Created != nil {
		a.Creation = formatInstant(*d.Created)
	}
	dr.Content = []DocumentReferenceContent{{Attachment: a}}
	return dr
}

// BinaryFromDocument renders a document's content as a Binary with the
// document's id, version and content type; its securityContext is the
// patient, so access to it is decided as access to the patient's data.
func BinaryFromDocument(d *document.Document, content []byte) *Binary {
	b := NewBinary(d.ContentType, content)
	b.ID = formatID(d.ID)
	b.Meta = metaFor(d.Version, d.UpdatedAt)
	if d.PatientID != 0 {
		b.SecurityContext = referenceTo("", "Patient", d.PatientID)
	}
	return b
}

func toFHIRCodings(cs []document.Coding) []Coding {
	out := make([]Coding, len(cs))
	for i, c := range cs {
		out[i] = Coding{System: c.System, Code: c.Code, Display: c.Display}
	}
	return out
}

// conceptCodings returns the codings of a concept for the domain, which
// keeps codings only: a concept given only as text would be lost, so it
// is refused; a text next to codings is the codings' display and dropped.
func conceptCodings(cc *CodeableConcept, expr string) ([]document.Coding, error) {
	if len(cc.Coding) == 0 {
		if cc.Text != "" {
			return nil, invalidField(expr+".text", "%s must be coded: ward keeps codings, not free text", expr)
		}
		return nil, nil
	}
	out := make([]document.Coding, 0, len(cc.Coding))
	for i, c := range cc.Coding {
		if c.Code == "" {
			return nil, invalidField(fmt.Sprintf("%s.coding[%d].code", expr, i), "%s.coding[%d] needs a code", expr, i)
		}
		out = append(out, document.Coding{System: c.System, Code: c.Code, Display: c.Display})
	}
	return out, nil
}

// authorID reads the one author ward keeps: a Practitioner or Patient
// reference to a user.
func authorID(refs []Reference, base string) (int64, error) {
	switch len(refs) {
	case 0:
		return 0, nil
	case 1:
	default:
		return 0, invalidField("DocumentReference.author[1]", "ward keeps one author per document")
	}
	const expr = "DocumentReference.author[0]"
	s := refs[0].Reference
	if i := strings.Index(s, "/_history/"); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, "/")
	typ := "Practitioner"
	if len(parts) >= 2 && parts[len(parts)-2] == "Patient" {
		typ = "Patient"
	}
	return ParseReferenceID(&refs[0], typ, expr, base)
}

// ToDocument reads a DocumentReference sent to create or update a
// document: the metadata, and the content's bytes from its one
// attachment's data (nil when the data is empty). On an update (dr.ID
// set) the attachment may instead point at the document's own Binary URL,
// as DocumentReferenceFromDocument wrote it: then no content is returned
// and Size and SHA1 are the stated ones, for Service.Update to compare
// with what is stored. It refuses, with a FieldError naming the element,
// what the domain cannot hold or ward will not do: more or fewer than one
// content, an attachment without contentType, an attachment that points
// at any other URL instead of carrying data (ward does not fetch content),
// a size or hash that does not match the data, more than one author, and
// the elements documents do not keep (identifiers, relatesTo,
// securityLabel, context, authenticator, custodian, content.format,
// contained resources, modifier extensions). With data, Size and the
// hashes describe it (Service.Create recomputes them while storing). It reads
// references through ParseReferenceID against base, this server's FHIR base
// URL, so a reference to another server is refused.
func ToDocument(dr *DocumentReference, base string) (*document.Document, []byte, error) {
	if dr == nil {
		return nil, nil, apperr.New(apperr.Internal, "ToDocument: nil resource")
	}
	if err := refuseUnkept(dr); err != nil {
		return nil, nil, err
	}
	d := &document.Document{Status: dr.Status, DocStatus: dr.DocStatus, Description: dr.Description}
	if dr.ID != "" {
		id, err := parseID(dr.ID)
		if err != nil {
			return nil, nil, invalidField("DocumentReference.id", "DocumentReference.id must be a positive integer")
		}
		d.ID = id
	}
	if dr.Meta != nil && dr.Meta.VersionID != "" {
		v, err := strconv.ParseInt(dr.Meta.VersionID, 10, 64)
		if err != nil || v <= 0 {
			return nil, nil, invalidField("DocumentReference.meta.versionId", "meta.versionId must be a positive integer")
		}
		d.Version = v
	}
	if !slices.Contains(document.Statuses, d.Status) {
		return nil, nil, invalidField("DocumentReference.status", "DocumentReference.status must be one of %s",
			strings.Join(document.Statuses, ", "))
	}
	if d.DocStatus != "" && !slices.Contains(document.DocStatuses, d.DocStatus) {
		return nil, nil, invalidField("DocumentReference.docStatus", "DocumentReference.docStatus must be one of %s",
			strings.Join(document.DocStatuses, ", "))
	}
	var err error
	if dr.Subject == nil {
		return nil, nil, invalidField("DocumentReference.subject", "DocumentReference.subject is required: the patient the document is about")
	}
	if d.PatientID, err = ParseReferenceID(dr.Subject, "Patient", "DocumentReference.subject", base); err != nil {
		return nil, nil, err
	}
	if dr.Type != nil {
		if d.Type, err = conceptCodings(dr.Type, "DocumentReference.type"); err != nil {
			return nil, nil, err
		}
	}
	for i := range dr.Category {
		cs, err := conceptCodings(&dr.Category[i], fmt.Sprintf("DocumentReference.category[%d]", i))
		if err != nil {
			return nil, nil, err
		}
		d.Category = append(d.Category, cs...)
	}
	if dr.Date != "" {
		t, err := time.Parse(time.RFC3339Nano, dr.Date)
		if err != nil {
			return nil, nil, invalidField("DocumentReference.date", "DocumentReference.date must be an instant")
		}
		d.Date = &t
	}
	if d.AuthorID, err = authorID(dr.Author, base); err != nil {
		return nil, nil, err
	}

	content, err := attachmentOf(dr, d)
	if err != nil {
		return nil, nil, err
	}
	if err := document.Validate(d); err != nil {
		return nil, nil, err
	}
	return d, content, nil
}

// refuseUnkept refuses the elements a document has no place for, so they
// are not silently dropped.
func refuseUnkept(dr *DocumentReference) error {
	for _, e := range []struct {
		name string
		set  bool
	}{
		{"modifierExtension", len(dr.ModifierExtension) > 0},
		{"contained", len(dr.Contained) > 0},
		{"masterIdentifier", dr.MasterIdentifier != nil},
		{"identifier", len(dr.Identifier) > 0},
		{"authenticator", dr.Authenticator != nil},
		{"custodian", dr.Custodian != nil},
		{"relatesTo", len(dr.RelatesTo) > 0},
		{"securityLabel", len(dr.SecurityLabel) > 0},
		{"context", dr.Context != nil},
	} {
		if e.set {
			return invalidField("DocumentReference."+e.name, "DocumentReference.%s is not supported by ward's documents", e.name)
		}
	}
	return nil
}

// attachmentOf reads the one content's attachment into d and returns its
// bytes.
func attachmentOf(dr *DocumentReference, d *document.Document) ([]byte, error) {
	switch len(dr.Content) {
	case 0:
		return nil, invalidField("DocumentReference.content", "DocumentReference.content is required")
	case 1:
	default:
		return nil, invalidField("DocumentReference.content[1]", "ward keeps one content per document; send one DocumentReference per rendition")
	}
	const expr = "DocumentReference.content[0]"
	c := dr.Content[0]
	if c.Format != nil {
		return nil, invalidField(expr+".format", "%s.format is not supported", expr)
	}
	a := c.Attachment
	if a.ContentType == "" {
		return nil, invalidField(expr+".attachment.contentType", "%s.attachment.contentType is required", expr)
	}
	d.ContentType, d.Language, d.Title = a.ContentType, a.Language, a.Title
	if a.Creation != "" {
		t, err := ParseDateTime(a.Creation)
		if err != nil {
			return nil, invalidField(expr+".attachment.creation", "%s.attachment.creation must be a dateTime", expr)
		}
		d.Created = &t
	}
	if a.URL != "" && a.Data == "" {
		// An update sends back the document's own Binary URL: the content
		// stays as stored, and the size and hash it states let the Service
		// refuse an attempt to change it.
		if dr.ID == "" || a.URL != "Binary/"+dr.ID && !strings.HasSuffix(a.URL, "/Binary/"+dr.ID) {
			return nil, invalidField(expr+".attachment.url",
				"%s.attachment must carry the content as data: ward does not fetch it from a URL", expr)
		}
		d.Size = a.Size
		if a.Hash != "" {
			sum, err := decodeBase64(a.Hash)
			if err != nil || len(sum) != len(d.SHA1) {
				return nil, invalidField(expr+".attachment.hash", "%s.attachment.hash must be a base64 SHA-1", expr)
			}
			copy(d.SHA1[:], sum)
		}
		return nil, nil
	}
	content, err := decodeBase64(a.Data)
	if err != nil {
		return nil, invalidField(expr+".attachment.data", "%s.attachment.data is not valid base64", expr)
	}
	if a.Size != 0 && a.Size != int64(len(content)) {
		return nil, invalidField(expr+".attachment.size", "%s.attachment.size is %d but the data has %d bytes",
			expr, a.Size, len(content))
	}
	if a.Hash != "" {
		want, err := decodeBase64(a.Hash)
		sum := sha1.Sum(content) //nolint:gosec // R4's hash
		if err != nil || !bytes.Equal(want, sum[:]) {
			return nil, invalidField(expr+".attachment.hash", "%s.attachment.hash is not the base64 SHA-1 of the data", expr)
		}
	}
	// Create recomputes these from the bytes it stores; Update compares
	// them with the stored content, so different data is refused there.
	d.Size, d.SHA1, d.SHA256 = int64(len(content)), sha1.Sum(content), sha256.Sum256(content) //nolint:gosec
	if len(content) == 0 {
		return nil, nil
	}
	return content, nil
}
