package fhir_test

import (
	"crypto/sha1" //nolint:gosec // R4's Attachment.hash
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/document"
	"ward/internal/fhir"
	"ward/internal/testutil"
)

// fullDocument sets every field a DocumentReference carries.
func fullDocument(content []byte) *document.Document {
	date := time.Date(2024, 3, 1, 10, 30, 15, 123456000, time.UTC)
	created := date.Add(-time.Hour)
	return &document.Document{
		ID:        7,
		PatientID: 42,
		Status:    document.StatusCurrent,
		DocStatus: "final",
		Type: []document.Coding{
			{System: "http://loinc.org", Code: "18842-5", Display: "Discharge summary"},
			{System: "http://example.org/local", Code: "DS"},
		},
		Category: []document.Coding{
			{System: "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category", Code: "clinical-note", Display: "Clinical Note"},
			{Code: "no-system"},
		},
		Description: "Discharge summary, ward 3",
		Date:        &date,
		AuthorID:    9,
		ContentType: "application/pdf; version=1.7",
		Language:    "en-AU",
		Title:       "discharge.pdf",
		Created:     &created,
		Size:        int64(len(content)),
		SHA1:        sha1.Sum(content), //nolint:gosec
		SHA256:      sha256.Sum256(content),
		BlobKey:     "documents/42/abc",
		CreatedBy:   5,
		UpdatedAt:   date.Add(time.Minute),
		Version:     3,
	}
}

func TestDocumentReferenceFromDocument(t *testing.T) {
	content := []byte("%PDF-1.7 hello")
	d := fullDocument(content)
	dr := fhir.DocumentReferenceFromDocument(d, "https://ward.test/fhir/")
	testutil.ValidateFHIR(t, dr)
	sum := sha1.Sum(content) //nolint:gosec
	want := fhir.Attachment{
		ContentType: "application/pdf; version=1.7", Language: "en-AU",
		URL: "https://ward.test/fhir/Binary/7", Size: int64(len(content)),
		Hash: base64.StdEncoding.EncodeToString(sum[:]), Title: "discharge.pdf",
		Creation: "2024-03-01T09:30:15.123456Z",
	}
	if len(dr.Content) != 1 || dr.Content[0].Attachment != want {
		t.Fatalf("content %+v\nwant %+v", dr.Content, want)
	}
	if dr.Subject.Reference != "https://ward.test/fhir/Patient/42" || len(dr.Author) != 1 ||
		dr.Author[0].Reference != "https://ward.test/fhir/Practitioner/9" {
		t.Fatalf("subject %+v author %+v", dr.Subject, dr.Author)
	}
	if dr.ID != "7" || dr.Meta.VersionID != "3" || dr.Meta.LastUpdated != "2024-03-01T10:31:15.123456Z" ||
		dr.Date != "2024-03-01T10:30:15.123456Z" || dr.Status != "current" || dr.DocStatus != "final" {
		t.Fatalf("resource %+v", dr)
	}

	// Relative references without a base; the patient as author.
	d.AuthorID = d.PatientID
	dr = fhir.DocumentReferenceFromDocument(d, "")
	testutil.ValidateFHIR(t, dr)
	if dr.Content[0].Attachment.URL != "Binary/7" || dr.Subject.Reference != "Patient/42" ||
		dr.Author[0].Reference != "Patient/42" {
		t.Fatalf("relative: url %q subject %q author %q", dr.Content[0].Attachment.URL, dr.Subject.Reference, dr.Author[0].Reference)
	}

	// The least a document has is still valid R4.
	bare := &document.Document{ID: 1, PatientID: 2, Status: document.StatusEnteredInError, ContentType: "text/plain",
		SHA1: sha1.Sum(nil), Version: 1, UpdatedAt: time.Unix(0, 0)} //nolint:gosec
	testutil.ValidateFHIR(t, fhir.DocumentReferenceFromDocument(bare, ""))
}

func TestBinaryFromDocument(t *testing.T) {
	content := []byte{0, 1, 2, 250, 255}
	d := fullDocument(content)
	b := fhir.BinaryFromDocument(d, content)
	testutil.ValidateFHIR(t, b)
	got, err := b.Content()
	if err != nil || string(got) != string(content) {
		t.Fatalf("content %v, %v", got, err)
	}
	if b.ID != "7" || b.ContentType != d.ContentType || b.SecurityContext == nil ||
		b.SecurityContext.Reference != "Patient/42" || b.Meta.VersionID != "3" {
		t.Fatalf("binary %+v", b)
	}
	empty := fhir.BinaryFromDocument(d, nil)
	testutil.ValidateFHIR(t, empty)
	if empty.Data != "" {
		t.Fatalf("empty content encoded as %q", empty.Data)
	}
}

// A document rendered with its content inline reads back as the same
// document and the same bytes.
func TestDocumentRoundTrip(t *testing.T) {
	content := []byte("line one\nline two\n")
	d := fullDocument(content)
	dr := fhir.DocumentReferenceFromDocument(d, "https://ward.test/fhir")
	dr.Content[0].Attachment.Data = base64.StdEncoding.EncodeToString(content)
	// Through JSON and the strict decoder, as a client would send it.
	raw, err := json.Marshal(dr)
	if err != nil {
		t.Fatal(err)
	}
	testutil.ValidateFHIR(t, raw)
	back, err := fhir.DecodeDocumentReference(raw)
	if err != nil {
		t.Fatal(err)
	}
	got, data, err := fhir.ToDocument(back, testBase)
	if err != nil {
		t.Fatalf("ToDocument: %v", err)
	}
	if string(data) != string(content) {
		t.Fatalf("data %q, want %q", data, content)
	}
	want := *d
	// What the resource does not carry: where the content lives, who
	// uploaded it, when it changed, its deletion.
	want.BlobKey, want.CreatedBy, want.UpdatedAt = "", 0, time.Time{}
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("round trip:\n got  %+v\n want %+v", got, &want)
	}

	// An update may point at its own Binary instead of resending the data.
	noData := fhir.DocumentReferenceFromDocument(d, "https://ward.test/fhir")
	got, data, err = fhir.ToDocument(noData, testBase)
	if err != nil {
		t.Fatalf("ToDocument of an update by URL: %v", err)
	}
	if data != nil || got.Size != d.Size || got.SHA1 != d.SHA1 || got.ContentType != d.ContentType {
		t.Fatalf("update by URL: data %v, size %d, sha1 match %v", data, got.Size, got.SHA1 == d.SHA1)
	}
}

func TestToDocumentRefuses(t *testing.T) {
	data := base64.StdEncoding.EncodeToString([]byte("hello"))
	valid := func() *fhir.DocumentReference {
		return &fhir.DocumentReference{
			Status:  "current",
			Subject: &fhir.Reference{Reference: "Patient/42"},
			Content: []fhir.DocumentReferenceContent{{Attachment: fhir.Attachment{ContentType: "text/plain", Data: data}}},
		}
	}
	d, content, err := fhir.ToDocument(valid(), testBase)
	if err != nil || string(content) != "hello" || d.PatientID != 42 || d.ContentType != "text/plain" {
		t.Fatalf("valid resource: %+v, %q, %v", d, content, err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*fhir.DocumentReference)
		expr   string
	}{
		{"two contents", func(dr *fhir.DocumentReference) { dr.Content = append(dr.Content, dr.Content[0]) }, "DocumentReference.content[1]"},
		{"no content", func(dr *fhir.DocumentReference) { dr.Content = nil }, "DocumentReference.content"},
		{"url without data", func(dr *fhir.DocumentReference) {
			dr.Content[0].Attachment.Data = ""
			dr.Content[0].Attachment.URL = "https://elsewhere.example/doc.pdf"
		}, "DocumentReference.content[0].attachment.url"},
		{"own url on create", func(dr *fhir.DocumentReference) {
			dr.Content[0].Attachment.Data = ""
			dr.Content[0].Attachment.URL = "Binary/7"
		}, "DocumentReference.content[0].attachment.url"},
		{"another document's url on update", func(dr *fhir.DocumentReference) {
			dr.ID = "8"
			dr.Content[0].Attachment.Data = ""
			dr.Content[0].Attachment.URL = "Binary/7"
		}, "DocumentReference.content[0].attachment.url"},
		{"no contentType", func(dr *fhir.DocumentReference) { dr.Content[0].Attachment.ContentType = "" }, "DocumentReference.content[0].attachment.contentType"},
		{"wrong size", func(dr *fhir.DocumentReference) { dr.Content[0].Attachment.Size = 6 }, "DocumentReference.content[0].attachment.size"},
		{"wrong hash", func(dr *fhir.DocumentReference) { dr.Content[0].Attachment.Hash = "AAAA" }, "DocumentReference.content[0].attachment.hash"},
		{"format", func(dr *fhir.DocumentReference) { dr.Content[0].Format = &fhir.Coding{Code: "urn:x"} }, "DocumentReference.content[0].format"},
		{"bad creation", func(dr *fhir.DocumentReference) { dr.Content[0].Attachment.Creation = "yesterday" }, "DocumentReference.content[0].attachment.creation"},
		{"no subject", func(dr *fhir.DocumentReference) { dr.Subject = nil }, "DocumentReference.subject"},
		{"subject not a patient", func(dr *fhir.DocumentReference) { dr.Subject = &fhir.Reference{Reference: "Group/1"} }, "DocumentReference.subject"},
		{"bad status", func(dr *fhir.DocumentReference) { dr.Status = "final" }, "DocumentReference.status"},
		{"bad docStatus", func(dr *fhir.DocumentReference) { dr.DocStatus = "current" }, "DocumentReference.docStatus"},
		{"date not an instant", func(dr *fhir.DocumentReference) { dr.Date = "2024-03-01" }, "DocumentReference.date"},
		{"two authors", func(dr *fhir.DocumentReference) {
			dr.Author = []fhir.Reference{{Reference: "Practitioner/1"}, {Reference: "Practitioner/2"}}
		}, "DocumentReference.author[1]"},
		{"author an organization", func(dr *fhir.DocumentReference) { dr.Author = []fhir.Reference{{Reference: "Organization/1"}} }, "DocumentReference.author[0]"},
		{"type as text only", func(dr *fhir.DocumentReference) { dr.Type = &fhir.CodeableConcept{Text: "letter"} }, "DocumentReference.type.text"},
		{"category coding without code", func(dr *fhir.DocumentReference) {
			dr.Category = []fhir.CodeableConcept{{Coding: []fhir.Coding{{System: "urn:x"}}}}
		}, "DocumentReference.category[0].coding[0].code"},
		{"relatesTo", func(dr *fhir.DocumentReference) {
			dr.RelatesTo = []fhir.DocumentReferenceRelatesTo{{Code: "replaces", Target: fhir.Reference{Reference: "DocumentReference/1"}}}
		}, "DocumentReference.relatesTo"},
		{"securityLabel", func(dr *fhir.DocumentReference) { dr.SecurityLabel = []fhir.CodeableConcept{{Text: "R"}} }, "DocumentReference.securityLabel"},
		{"context", func(dr *fhir.DocumentReference) { dr.Context = &fhir.DocumentReferenceContext{} }, "DocumentReference.context"},
		{"identifier", func(dr *fhir.DocumentReference) { dr.Identifier = []fhir.Identifier{{Value: "x"}} }, "DocumentReference.identifier"},
		{"modifierExtension", func(dr *fhir.DocumentReference) { dr.ModifierExtension = []fhir.Extension{{URL: "urn:x"}} }, "DocumentReference.modifierExtension"},
		{"bad id", func(dr *fhir.DocumentReference) { dr.ID = "abc" }, "DocumentReference.id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dr := valid()
			tc.mutate(dr)
			_, _, err := fhir.ToDocument(dr, testBase)
			if apperr.KindOf(err) != apperr.Invalid {
				t.Fatalf("got %v, want Invalid", err)
			}
			var fe *fhir.FieldError
			if !errors.As(err, &fe) || fe.Expression != tc.expr {
				t.Fatalf("error %v names %+v, want %s", err, fe, tc.expr)
			}
		})
	}
	// The domain's own checks still apply.
	bad := valid()
	bad.Content[0].Attachment.ContentType = "not a media type"
	if _, _, err := fhir.ToDocument(bad, testBase); apperr.KindOf(err) != apperr.Invalid {
		t.Fatalf("bad content type: %v", err)
	}
}

// Whatever a client sends, decoding and mapping it ends in a document or
// an Invalid error, never a panic or another kind.
func FuzzToDocument(f *testing.F) {
	f.Add(`{"resourceType":"DocumentReference","status":"current","subject":{"reference":"Patient/1"},` +
		`"content":[{"attachment":{"contentType":"text/plain","data":"aGVsbG8=","size":5}}]}`)
	f.Add(`{"resourceType":"DocumentReference","id":"3","status":"current","subject":{"reference":"Patient/1"},` +
		`"author":[{"reference":"Patient/1"}],"content":[{"attachment":{"contentType":"text/plain","url":"Binary/3","hash":"AAAA"}}]}`)
	f.Add(`{"resourceType":"DocumentReference","status":"superseded","date":"2024-01-01T00:00:00Z",` +
		`"type":{"coding":[{"code":"x"}],"text":"t"},"category":[{"text":"c"}],"content":[]}`)
	f.Fuzz(func(t *testing.T, body string) {
		dr, err := fhir.DecodeDocumentReference([]byte(body))
		if err != nil {
			return
		}
		d, _, err := fhir.ToDocument(dr, testBase)
		if err != nil {
			if apperr.KindOf(err) != apperr.Invalid {
				t.Fatalf("ToDocument: %v is not Invalid", err)
			}
			return
		}
		if err := document.Validate(d); err != nil {
			t.Fatalf("ToDocument returned an invalid document: %v", err)
		}
	})
}
