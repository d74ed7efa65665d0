package storetest

import (
	"context"
	"crypto/sha1" //nolint:gosec // FHIR's Attachment.hash is SHA-1
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/document"
	"ward/internal/store"
	"ward/internal/timerange"
)

// DocumentBackend is a Backend with the document store. The document
// cases run through RunDocuments rather than Run so that they need no
// field in Backend, which other stores' work is changing at the same time.
type DocumentBackend struct {
	Backend
	Documents document.Store
}

// RunDocuments runs every document.Store conformance case, each on a
// backend from open.
func RunDocuments(t *testing.T, open func(t *testing.T) DocumentBackend) {
	for _, c := range documentCases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

// documentCases are the conformance cases of document.Store.
var documentCases = []struct {
	name string
	fn   func(t *testing.T, b DocumentBackend)
}{
	{"DocumentRoundTrip", testDocumentRoundTrip},
	{"DocumentContent", testDocumentContent},
	{"DocumentUpdateAndDelete", testDocumentUpdateAndDelete},
	{"DocumentConcurrentUpdate", testDocumentConcurrentUpdate},
	{"DocumentSearchFilters", testDocumentSearchFilters},
	{"DocumentSearchDates", testDocumentSearchDates},
	{"DocumentSearchPaging", testDocumentSearchPaging},
	{"DocumentScan", testDocumentScan},
	{"DocumentPurgedUsers", testDocumentPurgedUsers},
}

// fullDocument returns a blob-stored document with every field set
// (DeletedAt aside) and n mixed into every string.
func fullDocument(n int, patient, author, uploader int64) *document.Document {
	s := func(f string) string { return fmt.Sprintf(f, n) }
	content := []byte(s("content %d"))
	return &document.Document{
		PatientID: patient,
		Status:    document.StatusSuperseded,
		DocStatus: "amended",
		Type: []document.Coding{
			{System: "http://loinc.org", Code: s("34133-%d"), Display: s("Summary %d")},
			{System: "http://example.org/local", Code: s("SUM-%d")},
		},
		Category: []document.Coding{{System: "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
			Code: "clinical-note", Display: s("Clinical Note %d")}},
		Description: s("Discharge summary — ünïcode %d"),
		Date:        microPtr(base.Add(time.Duration(n) * time.Hour)),
		AuthorID:    author,
		ContentType: s("Text/Plain; charset=UTF-8; x=%d"),
		Language:    "en-AU",
		Title:       s("summary-%d.txt"),
		Created:     microPtr(base.Add(time.Duration(n)*time.Hour - time.Minute)),
		Size:        int64(len(content)),
		SHA1:        sha1.Sum(content), //nolint:gosec
		SHA256:      sha256.Sum256(content),
		BlobKey:     s("documents/%d/") + fmt.Sprintf("%032x", n+1),
		CreatedBy:   uploader,
	}
}

// documentUsers creates a patient, an author and an uploader.
func documentUsers(t *testing.T, b DocumentBackend) (patient, author, uploader int64) {
	t.Helper()
	return newUser(t, b.Backend, "patient@example.org", "patient").ID, newUser(t, b.Backend, "dr@example.org", "clinician").ID,
		newUser(t, b.Backend, "clerk@example.org", "staff").ID
}

func getDocument(t *testing.T, b DocumentBackend, id int64) *document.Document {
	t.Helper()
	d, err := b.Documents.GetDocument(t.Context(), id)
	must(t, err, "get document")
	return d
}

func createDocument(t *testing.T, b DocumentBackend, d *document.Document, inline []byte) *document.Document {
	t.Helper()
	must(t, b.Documents.CreateDocument(t.Context(), d, inline), "create document")
	return d
}

func testDocumentRoundTrip(t *testing.T, b DocumentBackend) {
	ctx := t.Context()
	pat, author, up := documentUsers(t, b)
	d := fullDocument(1, pat, author, up)
	// Unrounded times in another zone go in; microseconds, UTC come back.
	date := d.Date.Add(789 * time.Nanosecond).In(time.FixedZone("X", -5*3600))
	d.Date = &date
	must(t, b.Documents.CreateDocument(ctx, d, nil), "create")
	if d.ID == 0 || d.Version != 1 || d.UpdatedAt.IsZero() {
		t.Fatalf("create set id %d, version %d, updated %v", d.ID, d.Version, d.UpdatedAt)
	}
	want := fullDocument(1, pat, author, up)
	want.ID, want.Version, want.UpdatedAt = d.ID, 1, d.UpdatedAt
	mustEqual(t, d, want, "document after create")
	mustEqual(t, getDocument(t, b, d.ID), want, "document read back")
	if d.UpdatedAt != micro(d.UpdatedAt) || d.UpdatedAt.Location() != time.UTC {
		t.Fatalf("UpdatedAt %v is not UTC microseconds", d.UpdatedAt)
	}

	// Optional fields may be empty.
	bare := &document.Document{PatientID: pat, Status: document.StatusCurrent, ContentType: "application/pdf"}
	createDocument(t, b, bare, nil)
	mustEqual(t, getDocument(t, b, bare.ID), bare, "bare document read back")

	_, err := b.Documents.GetDocument(ctx, 999999)
	wantKind(t, err, apperr.NotFound, "unknown document")
	other := func(n int) *document.Document {
		o := fullDocument(n, pat, author, up)
		return o
	}
	noPatient := other(2)
	noPatient.PatientID = 999999
	wantKind(t, b.Documents.CreateDocument(ctx, noPatient, nil), apperr.Invalid, "unknown patient")
	noAuthor := other(3)
	noAuthor.AuthorID = 999999
	wantKind(t, b.Documents.CreateDocument(ctx, noAuthor, nil), apperr.Invalid, "unknown author")
	noUploader := other(4)
	noUploader.CreatedBy = 999999
	wantKind(t, b.Documents.CreateDocument(ctx, noUploader, nil), apperr.Invalid, "unknown uploader")
	badStatus := other(5)
	badStatus.Status = "bogus"
	wantKind(t, b.Documents.CreateDocument(ctx, badStatus, nil), apperr.Invalid, "unknown status")
	sameKey := other(6)
	sameKey.BlobKey = d.BlobKey
	wantKind(t, b.Documents.CreateDocument(ctx, sameKey, nil), apperr.Conflict, "a blob key used twice")
	both := other(7)
	wantKind(t, b.Documents.CreateDocument(ctx, both, []byte("x")), apperr.Invalid, "inline content and a blob key")

	// A failed transaction leaves no document behind.
	boom := errors.New("boom")
	rolled := other(8)
	err = b.Tx.InTx(ctx, func(ctx context.Context) error {
		must(t, b.Documents.CreateDocument(ctx, rolled, nil), "create in transaction")
		if _, err := b.Documents.GetDocument(ctx, rolled.ID); err != nil {
			t.Fatalf("document not visible inside its transaction: %v", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx returned %v, want the fn error", err)
	}
	_, err = b.Documents.GetDocument(ctx, rolled.ID)
	wantKind(t, err, apperr.NotFound, "document of a rolled-back transaction")
	n, err := b.Documents.CountDocuments(ctx, document.Filter{Types: []document.CodeMatch{{AnySystem: true, Code: "34133-8"}}})
	must(t, err, "count")
	if n != 0 {
		t.Fatalf("type codes of a rolled-back document are searchable (%d)", n)
	}
}

func testDocumentContent(t *testing.T, b DocumentBackend) {
	ctx := t.Context()
	pat, author, up := documentUsers(t, b)
	// Every byte value survives inline storage.
	content := make([]byte, 70000)
	for i := range content {
		content[i] = byte(i * 7)
	}
	in := fullDocument(1, pat, author, up)
	in.BlobKey = ""
	createDocument(t, b, in, content)
	if !getDocument(t, b, in.ID).Inline() {
		t.Fatal("inline document reads back with a blob key")
	}
	got, err := b.Documents.GetDocumentContent(ctx, in.ID)
	must(t, err, "get inline content")
	if !slices.Equal(got, content) {
		t.Fatalf("inline content: got %d bytes, want %d identical ones", len(got), len(content))
	}

	empty := fullDocument(2, pat, author, up)
	empty.BlobKey = ""
	createDocument(t, b, empty, nil)
	got, err = b.Documents.GetDocumentContent(ctx, empty.ID)
	must(t, err, "get empty content")
	if len(got) != 0 {
		t.Fatalf("empty content reads back as %d bytes", len(got))
	}

	blobbed := createDocument(t, b, fullDocument(3, pat, author, up), nil)
	_, err = b.Documents.GetDocumentContent(ctx, blobbed.ID)
	wantKind(t, err, apperr.Invalid, "inline content of a blob-stored document")
	_, err = b.Documents.GetDocumentContent(ctx, 999999)
	wantKind(t, err, apperr.NotFound, "content of an unknown document")

	// Content stays readable after a soft delete (history).
	must(t, b.Documents.DeleteDocument(ctx, in.ID, 1, base), "delete")
	got, err = b.Documents.GetDocumentContent(ctx, in.ID)
	must(t, err, "content of a deleted document")
	if !slices.Equal(got, content) {
		t.Fatal("content of a deleted document changed")
	}
}

func testDocumentUpdateAndDelete(t *testing.T, b DocumentBackend) {
	ctx := t.Context()
	pat, author, up := documentUsers(t, b)
	d := createDocument(t, b, fullDocument(1, pat, author, up), nil)
	stale := *d

	// Every metadata field changes; content fields sent differently are
	// not written.
	next := fullDocument(7, pat, up, up)
	next.ID, next.Version = d.ID, d.Version
	next.Status, next.DocStatus = document.StatusEnteredInError, "final"
	next.Date, next.Created = nil, microPtr(base)
	must(t, b.Documents.UpdateDocument(ctx, next), "update")
	if next.Version != 2 {
		t.Fatalf("version after update %d, want 2", next.Version)
	}
	got := getDocument(t, b, d.ID)
	want := *next
	want.ContentType, want.Size, want.SHA1, want.SHA256, want.BlobKey, want.CreatedBy =
		d.ContentType, d.Size, d.SHA1, d.SHA256, d.BlobKey, d.CreatedBy
	mustEqual(t, got, &want, "document after update")
	if got.UpdatedAt.Before(d.UpdatedAt) {
		t.Fatalf("UpdatedAt went back: %v before %v", got.UpdatedAt, d.UpdatedAt)
	}
	// The searchable type codes follow the update.
	count := func(f document.Filter) int {
		t.Helper()
		n, err := b.Documents.CountDocuments(ctx, f)
		must(t, err, "count")
		return n
	}
	if n := count(document.Filter{Types: []document.CodeMatch{{AnySystem: true, Code: "34133-1"}}}); n != 0 {
		t.Fatalf("old type code still matches %d documents", n)
	}
	if n := count(document.Filter{Types: []document.CodeMatch{{AnySystem: true, Code: "34133-7"}}}); n != 1 {
		t.Fatalf("new type code matches %d documents, want 1", n)
	}

	wantKind(t, b.Documents.UpdateDocument(ctx, &stale), apperr.Conflict, "stale update")
	missing := fullDocument(8, pat, author, up)
	missing.ID, missing.Version = 999999, 1
	wantKind(t, b.Documents.UpdateDocument(ctx, missing), apperr.NotFound, "update of a missing document")
	noAuthor := *got
	noAuthor.AuthorID = 999999
	wantKind(t, b.Documents.UpdateDocument(ctx, &noAuthor), apperr.Invalid, "update to an unknown author")
	mustEqual(t, getDocument(t, b, d.ID), got, "document after refused updates")

	wantKind(t, b.Documents.DeleteDocument(ctx, d.ID, 1, base), apperr.Conflict, "stale delete")
	wantKind(t, b.Documents.DeleteDocument(ctx, 999999, 1, base), apperr.NotFound, "delete of a missing document")
	must(t, b.Documents.DeleteDocument(ctx, d.ID, 2, base.Add(time.Hour)), "delete")
	del := getDocument(t, b, d.ID)
	wantDel := *got
	wantDel.Version, wantDel.DeletedAt, wantDel.UpdatedAt = 3, microPtr(base.Add(time.Hour)), del.UpdatedAt
	mustEqual(t, del, &wantDel, "deleted document keeps its fields")
	wantKind(t, b.Documents.DeleteDocument(ctx, d.ID, 3, base), apperr.Conflict, "delete twice")
	again := *del
	again.DeletedAt = nil
	wantKind(t, b.Documents.UpdateDocument(ctx, &again), apperr.Conflict, "update of a deleted document")
	if n := count(document.Filter{}); n != 0 {
		t.Fatalf("a deleted document is counted (%d)", n)
	}
}

// Two writers holding the same version: exactly one wins, the other gets
// Conflict, and the stored version moved by one.
func testDocumentConcurrentUpdate(t *testing.T, b DocumentBackend) {
	ctx := t.Context()
	pat, author, up := documentUsers(t, b)
	d := createDocument(t, b, fullDocument(1, pat, author, up), nil)
	const writers = 4
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := *d
			mine.Title = fmt.Sprintf("writer %d", i)
			errs[i] = b.Documents.UpdateDocument(ctx, &mine)
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if won >= 0 {
				t.Fatalf("writers %d and %d both updated version 1", won, i)
			}
			won = i
		case apperr.KindOf(err) != apperr.Conflict:
			t.Fatalf("writer %d: %v, want Conflict", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no writer won")
	}
	got := getDocument(t, b, d.ID)
	if got.Version != 2 || got.Title != fmt.Sprintf("writer %d", won) {
		t.Fatalf("stored version %d title %q, want 2 and the winner's", got.Version, got.Title)
	}
}

func searchIDs(t *testing.T, b DocumentBackend, f document.Filter) []int64 {
	t.Helper()
	var ids []int64
	p := store.Page{Limit: store.MaxLimit}
	for {
		page, next, err := b.Documents.SearchDocuments(t.Context(), f, p)
		must(t, err, "search")
		for _, d := range page {
			ids = append(ids, d.ID)
		}
		if next == "" {
			break
		}
		p.After = next
	}
	n, err := b.Documents.CountDocuments(t.Context(), f)
	must(t, err, "count")
	if n != len(ids) {
		t.Fatalf("count %d, but search found %d", n, len(ids))
	}
	return ids
}

func testDocumentSearchFilters(t *testing.T, b DocumentBackend) {
	ctx := t.Context()
	pat, author, up := documentUsers(t, b)
	other := newUser(t, b.Backend, "other@example.org", "patient").ID
	loinc := "http://loinc.org"
	mk := func(n int, patient int64, types ...document.Coding) int64 {
		d := fullDocument(n, patient, author, up)
		d.Type = types
		return createDocument(t, b, d, nil).ID
	}
	a := mk(1, pat, document.Coding{System: loinc, Code: "11488-4"}, document.Coding{System: "urn:local", Code: "X"})
	bb := mk(2, pat, document.Coding{System: loinc, Code: "18842-5"})
	c := mk(3, other, document.Coding{Code: "11488-4"}) // no system
	dd := mk(4, other)                                  // no type
	gone := mk(5, pat, document.Coding{System: loinc, Code: "11488-4"})
	must(t, b.Documents.DeleteDocument(ctx, gone, 1, base), "delete")

	for _, tc := range []struct {
		name string
		f    document.Filter
		want []int64
	}{
		{"everything live", document.Filter{}, []int64{a, bb, c, dd}},
		{"ids", document.Filter{IDs: []int64{999999, gone, c, a}}, []int64{a, c}},
		{"no ids", document.Filter{IDs: []int64{}}, nil},
		{"patient", document.Filter{PatientIDs: []int64{pat}}, []int64{a, bb}},
		{"patients", document.Filter{PatientIDs: []int64{other, pat}}, []int64{a, bb, c, dd}},
		{"no patients", document.Filter{PatientIDs: []int64{}}, nil},
		{"unknown patient", document.Filter{PatientIDs: []int64{999999}}, nil},
		{"code in any system", document.Filter{Types: []document.CodeMatch{{AnySystem: true, Code: "11488-4"}}}, []int64{a, c}},
		{"system and code", document.Filter{Types: []document.CodeMatch{{System: loinc, Code: "11488-4"}}}, []int64{a}},
		{"code without system", document.Filter{Types: []document.CodeMatch{{Code: "11488-4"}}}, []int64{c}},
		{"any code of a system", document.Filter{Types: []document.CodeMatch{{System: loinc}}}, []int64{a, bb}},
		{"types are ORed", document.Filter{Types: []document.CodeMatch{{System: "urn:local", Code: "X"}, {System: loinc, Code: "18842-5"}}}, []int64{a, bb}},
		{"unknown code", document.Filter{Types: []document.CodeMatch{{AnySystem: true, Code: "nope"}}}, nil},
		{"filters are ANDed", document.Filter{PatientIDs: []int64{other}, Types: []document.CodeMatch{{AnySystem: true, Code: "11488-4"}}}, []int64{c}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustEqual(t, searchIDs(t, b, tc.f), tc.want, "ids")
		})
	}
	// Searches return whole documents.
	page, _, err := b.Documents.SearchDocuments(ctx, document.Filter{IDs: []int64{a}}, store.Page{})
	must(t, err, "search one")
	mustEqual(t, page, []*document.Document{getDocument(t, b, a)}, "searched document has every field")
	_, _, err = b.Documents.SearchDocuments(ctx, document.Filter{}, store.Page{After: "not a cursor!"})
	wantKind(t, err, apperr.Invalid, "malformed cursor")
}

func testDocumentSearchDates(t *testing.T, b DocumentBackend) {
	pat, author, up := documentUsers(t, b)
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		must(t, err, "parse")
		return d
	}
	mk := func(n int, date *time.Time) int64 {
		d := fullDocument(n, pat, author, up)
		d.Date = date
		return createDocument(t, b, d, nil).ID
	}
	at := func(s string) *time.Time { d := day(s).Add(12 * time.Hour); return &d }
	feb := mk(1, at("2024-02-29"))
	mar := mk(2, at("2024-03-15"))
	marEnd := mk(3, microPtr(day("2024-04-01").Add(-time.Microsecond))) // last instant of March
	apr := mk(4, at("2024-04-01"))
	undated := mk(5, nil)
	_ = undated
	march := func(p timerange.Prefix) timerange.Bound {
		return timerange.Bound{Prefix: p, Start: day("2024-03-01"), End: day("2024-04-01")}
	}
	now := time.Now()
	for _, tc := range []struct {
		name  string
		bound []timerange.Bound
		want  []int64
	}{
		{"eq", []timerange.Bound{march(timerange.Eq)}, []int64{mar, marEnd}},
		{"ne", []timerange.Bound{march(timerange.Ne)}, []int64{feb, apr}},
		{"gt", []timerange.Bound{march(timerange.Gt)}, []int64{apr}},
		{"ge", []timerange.Bound{march(timerange.Ge)}, []int64{mar, marEnd, apr}},
		{"lt", []timerange.Bound{march(timerange.Lt)}, []int64{feb}},
		{"le", []timerange.Bound{march(timerange.Le)}, []int64{feb, mar, marEnd}},
		{"sa", []timerange.Bound{march(timerange.Sa)}, []int64{apr}},
		{"eb", []timerange.Bound{march(timerange.Eb)}, []int64{feb}},
		{"bounds are ANDed", []timerange.Bound{march(timerange.Ge),
			{Prefix: timerange.Lt, Start: day("2024-04-01"), End: day("2024-04-02")}}, []int64{mar, marEnd}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := searchIDs(t, b, document.Filter{Dates: tc.bound})
			mustEqual(t, got, tc.want, "ids")
			// The store agrees with timerange's reference semantics.
			var ref []int64
			for _, id := range []int64{feb, mar, marEnd, apr} {
				d := getDocument(t, b, id)
				lo, hi := timerange.Instant(*d.Date)
				ok := true
				for _, bd := range tc.bound {
					ok = ok && bd.Matches(lo, hi, now)
				}
				if ok {
					ref = append(ref, id)
				}
			}
			mustEqual(t, got, ref, "ids by timerange.Matches")
		})
	}

	// _lastUpdated reads UpdatedAt.
	time.Sleep(2 * time.Millisecond) // let the clock move past the inserts
	changed := getDocument(t, b, feb)
	changed.Title = "touched"
	must(t, b.Documents.UpdateDocument(t.Context(), changed), "update")
	since := timerange.Bound{Prefix: timerange.Ge, Start: changed.UpdatedAt, End: changed.UpdatedAt.Add(time.Microsecond)}
	mustEqual(t, searchIDs(t, b, document.Filter{Updated: []timerange.Bound{since}}), []int64{feb}, "updated ge")
	before := since
	before.Prefix = timerange.Lt
	mustEqual(t, searchIDs(t, b, document.Filter{Updated: []timerange.Bound{before}}),
		[]int64{mar, marEnd, apr, undated}, "updated lt")
	exact := since
	exact.Prefix = timerange.Eq
	mustEqual(t, searchIDs(t, b, document.Filter{Updated: []timerange.Bound{exact}}), []int64{feb}, "updated eq")
}

func testDocumentSearchPaging(t *testing.T, b DocumentBackend) {
	ctx := t.Context()
	pat, author, up := documentUsers(t, b)
	var ids []int64
	for i := range 7 {
		ids = append(ids, createDocument(t, b, fullDocument(i, pat, author, up), nil).ID)
	}
	must(t, b.Documents.DeleteDocument(ctx, ids[3], 1, base), "delete one")
	want := []int64{ids[0], ids[1], ids[2], ids[4], ids[5], ids[6]}
	var seen []int64
	p := store.Page{Limit: 4}
	pages := 0
	for {
		page, next, err := b.Documents.SearchDocuments(ctx, document.Filter{PatientIDs: []int64{pat}}, p)
		must(t, err, "search")
		if len(page) > 4 {
			t.Fatalf("page of %d, limit 4", len(page))
		}
		for _, d := range page {
			seen = append(seen, d.ID)
		}
		pages++
		if next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		p.After = next
	}
	mustEqual(t, seen, want, "ids over pages")
	if pages != 2 {
		t.Fatalf("%d pages, want 2", pages)
	}
	// A cursor stays valid when rows are added after it was issued: the
	// next page continues where the last one ended.
	first, next, err := b.Documents.SearchDocuments(ctx, document.Filter{}, store.Page{Limit: 2})
	must(t, err, "first page")
	createDocument(t, b, fullDocument(9, pat, author, up), nil)
	second, _, err := b.Documents.SearchDocuments(ctx, document.Filter{}, store.Page{Limit: 2, After: next})
	must(t, err, "second page")
	if len(first) != 2 || len(second) != 2 || second[0].ID != want[2] {
		t.Fatalf("pages after an insert: %d then %d, second starts at %d, want %d", len(first), len(second), second[0].ID, want[2])
	}
}

func testDocumentScan(t *testing.T, b DocumentBackend) {
	ctx := t.Context()
	pat, author, up := documentUsers(t, b)
	other := newUser(t, b.Backend, "other@example.org", "patient").ID
	// More rows than one batch, so the scan must continue across batches.
	const n = 520
	var all []*document.Document
	must(t, b.Tx.InTx(ctx, func(ctx context.Context) error {
		for i := range n {
			patient := pat
			if i%5 == 0 {
				patient = other
			}
			d := fullDocument(i, patient, author, up)
			if err := b.Documents.CreateDocument(ctx, d, nil); err != nil {
				return err
			}
			all = append(all, d)
		}
		return nil
	}), "create many")
	must(t, b.Documents.DeleteDocument(ctx, all[11].ID, 1, base), "delete one")

	scan := func(f document.Filter, afterID int64) []int64 {
		t.Helper()
		var ids []int64
		must(t, b.Documents.ScanDocuments(ctx, f, afterID, func(d *document.Document) error {
			if d.Deleted() {
				t.Fatalf("scan returned deleted document %d", d.ID)
			}
			// fn may use the store while the scan runs.
			if _, err := b.Documents.GetDocument(ctx, d.ID); err != nil {
				return err
			}
			ids = append(ids, d.ID)
			return nil
		}), "scan")
		return ids
	}
	var want, wantPat []int64
	for i, d := range all {
		if i == 11 {
			continue
		}
		want = append(want, d.ID)
		if d.PatientID == pat {
			wantPat = append(wantPat, d.ID)
		}
	}
	mustEqual(t, scan(document.Filter{}, 0), want, "scan of everything in id order")
	mustEqual(t, scan(document.Filter{}, all[100].ID), want[100:], "scan after an id")
	mustEqual(t, scan(document.Filter{}, all[n-1].ID), []int64(nil), "scan after the last id")
	mustEqual(t, scan(document.Filter{PatientIDs: []int64{pat}}, 0), wantPat, "scan of one patient")
	mustEqual(t, scan(document.Filter{PatientIDs: []int64{}}, 0), []int64(nil), "scan of no patients")

	boom := errors.New("boom")
	calls := 0
	err := b.Documents.ScanDocuments(ctx, document.Filter{}, 0, func(*document.Document) error {
		calls++
		return boom
	})
	if !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("scan returned %v after %d calls, want boom after 1", err, calls)
	}
}

func testDocumentPurgedUsers(t *testing.T, b DocumentBackend) {
	ctx := t.Context()
	pat, author, up := documentUsers(t, b)
	other := newUser(t, b.Backend, "other@example.org", "patient").ID
	mine := createDocument(t, b, fullDocument(1, pat, author, up), nil)
	deleted := createDocument(t, b, fullDocument(2, pat, author, up), nil)
	must(t, b.Documents.DeleteDocument(ctx, deleted.ID, 1, base), "delete")
	inline := fullDocument(3, pat, author, up)
	inline.BlobKey = ""
	createDocument(t, b, inline, []byte("x"))
	theirs := createDocument(t, b, fullDocument(4, other, author, up), nil)

	keys, err := b.Documents.DocumentBlobKeys(ctx, pat)
	must(t, err, "blob keys")
	wantKeys := []string{mine.BlobKey, deleted.BlobKey}
	slices.Sort(wantKeys)
	mustEqual(t, keys, wantKeys, "blob keys of the patient, deleted included, inline left out")

	// Purging the author and uploader keeps the document without them.
	must(t, b.Directory.PurgeUser(ctx, author), "purge author")
	must(t, b.Directory.PurgeUser(ctx, up), "purge uploader")
	got := getDocument(t, b, theirs.ID)
	if got.AuthorID != 0 || got.CreatedBy != 0 {
		t.Fatalf("after purges author %d, uploader %d; want 0", got.AuthorID, got.CreatedBy)
	}
	// Purging the patient takes their documents.
	must(t, b.Directory.PurgeUser(ctx, pat), "purge patient")
	for _, id := range []int64{mine.ID, deleted.ID, inline.ID} {
		_, err := b.Documents.GetDocument(ctx, id)
		wantKind(t, err, apperr.NotFound, "document of a purged patient")
	}
	keys, err = b.Documents.DocumentBlobKeys(ctx, pat)
	must(t, err, "blob keys after purge")
	if len(keys) != 0 {
		t.Fatalf("a purged patient still has blob keys %v", keys)
	}
	mustEqual(t, searchIDs(t, b, document.Filter{}), []int64{theirs.ID}, "documents left")
}
