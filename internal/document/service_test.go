package document_test

import (
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // FHIR's Attachment.hash is SHA-1
	"crypto/sha256"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/blob"
	"ward/internal/directory"
	"ward/internal/document"
	"ward/internal/sqlstore"
	"ward/internal/store"
	"ward/internal/testutil"
)

// grants is a Permissions that allows exactly the listed (perm, patient)
// pairs, and ward itself everything as directory.Service does; anything
// else is Forbidden.
type grants map[directory.Permission][]int64

func (g grants) CheckRole(ctx context.Context, perm directory.Permission, targetID int64) error {
	if actor.From(ctx).System || slices.Contains(g[perm], targetID) {
		return nil
	}
	return apperr.New(apperr.Forbidden, "you may not %s user %d", perm, targetID)
}

type event struct {
	subject int64
	comment string
	inTx    bool
}

// memAudit records events, noting whether each ran inside a transaction;
// fail makes Record fail.
type memAudit struct {
	db     *sqlstore.DB
	events []event
	fail   error
}

func (a *memAudit) Record(ctx context.Context, ch audit.Change) error {
	if a.fail != nil {
		return a.fail
	}
	if c := audit.ContextOf(ch.Type); c != audit.Document {
		return errors.New("unexpected audit context " + string(c))
	}
	a.events = append(a.events, event{ch.SubjectID, ch.Comment, a.db.Tx(ctx) != nil})
	return nil
}

func (a *memAudit) RecordEach(context.Context, []audit.Entry) error {
	return errors.New("unexpected RecordEach")
}

type world struct {
	db      *sqlstore.DB
	blobs   *blob.Dir
	log     *memAudit
	svc     *document.Service
	ctx     context.Context
	patient int64
	other   int64
	staffer int64
}

const inlineMax = 1024

// newWorld wires a Service on SQLite and a blob directory, with InlineMax
// 1 KiB and MaxSize 8 KiB unless opts says otherwise. perms gets the ids
// of the patient and the other patient.
func newWorld(t *testing.T, perms func(patient, other int64) grants, opts ...func(*document.Config)) *world {
	t.Helper()
	db := testutil.NewStore(t, testutil.SQLiteURL(t))
	blobs, err := blob.NewDir(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blobs.Close() })
	w := &world{db: db, blobs: blobs, log: &memAudit{db: db}}
	for _, id := range []*int64{&w.patient, &w.other, &w.staffer} {
		u := &directory.User{GivenName: "G", FamilyName: "F"}
		if err := db.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		*id = u.ID
	}
	o := document.Config{InlineMax: inlineMax, MaxSize: 8 << 10}
	for _, f := range opts {
		f(&o)
	}
	w.svc, err = document.NewService(document.Deps{Store: db, Tx: db, Perm: perms(w.patient, w.other), Audit: w.log, Blobs: blobs}, o)
	if err != nil {
		t.Fatal(err)
	}
	w.ctx = actor.With(t.Context(), actor.Actor{UserID: w.staffer})
	return w
}

func viewer(p, _ int64) grants { return grants{directory.View: {p}} }
func editor(p, _ int64) grants { return grants{directory.View: {p}, directory.Edit: {p}} }
func nobody(_, _ int64) grants { return grants{} }

func (w *world) doc() *document.Document {
	return &document.Document{
		PatientID:   w.patient,
		Type:        []document.Coding{{System: "http://loinc.org", Code: "34133-9", Display: "Summary"}},
		ContentType: "Application/PDF; Version=1.7",
		Title:       "summary.pdf",
	}
}

func wantKind(t *testing.T, err error, k apperr.Kind, what string) {
	t.Helper()
	if got := apperr.KindOf(err); err == nil || got != k {
		t.Fatalf("%s: got %v (%v), want %v", what, got, err, k)
	}
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// blobKeys lists every blob stored.
func (w *world) blobKeys(t *testing.T) []string {
	t.Helper()
	keys, err := w.blobs.List(t.Context(), "")
	must(t, err, "list blobs")
	return keys
}

func (w *world) rows(t *testing.T) int {
	t.Helper()
	n, err := w.db.CountDocuments(t.Context(), document.Filter{})
	must(t, err, "count")
	return n
}

func content(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i/256)
	}
	return b
}

func readAll(t *testing.T, w *world, id int64) ([]byte, *document.Document) {
	t.Helper()
	r, d, err := w.svc.Open(w.ctx, id)
	must(t, err, "open")
	defer r.Close()
	b, err := io.ReadAll(r)
	must(t, err, "read")
	return b, d
}

func TestCreateKeepsSmallContentInline(t *testing.T) {
	w := newWorld(t, editor)
	body := content(inlineMax)
	d, err := w.svc.Create(w.ctx, w.doc(), bytes.NewReader(body))
	must(t, err, "create")
	if !d.Inline() || d.Size != inlineMax || d.SHA1 != sha1.Sum(body) || d.SHA256 != sha256.Sum256(body) { //nolint:gosec
		t.Fatalf("created inline %v size %d, hashes match %v", d.Inline(), d.Size, d.SHA256 == sha256.Sum256(body))
	}
	if d.Status != document.StatusCurrent || d.CreatedBy != w.staffer {
		t.Fatalf("status %q created by %d, want current by %d", d.Status, d.CreatedBy, w.staffer)
	}
	if keys := w.blobKeys(t); len(keys) != 0 {
		t.Fatalf("inline content also went to the blob store: %v", keys)
	}
	got, stored := readAll(t, w, d.ID)
	if !bytes.Equal(got, body) || stored.ContentType != "Application/PDF; Version=1.7" {
		t.Fatalf("downloaded %d bytes as %q", len(got), stored.ContentType)
	}
	if len(w.log.events) != 1 || w.log.events[0].subject != w.patient || !w.log.events[0].inTx ||
		!strings.Contains(w.log.events[0].comment, "inline") {
		t.Fatalf("audit events %+v, want one about the patient inside the transaction", w.log.events)
	}
}

func TestCreateStreamsLargeContentToABlob(t *testing.T) {
	w := newWorld(t, editor)
	body := content(inlineMax + 1)
	// One byte at a time: the service must not depend on read sizes.
	d, err := w.svc.Create(w.ctx, w.doc(), iotest.OneByteReader(bytes.NewReader(body)))
	must(t, err, "create")
	if d.Inline() || !strings.HasPrefix(d.BlobKey, "documents/") || d.Size != int64(len(body)) ||
		d.SHA1 != sha1.Sum(body) || d.SHA256 != sha256.Sum256(body) { //nolint:gosec
		t.Fatalf("created with key %q size %d", d.BlobKey, d.Size)
	}
	if keys := w.blobKeys(t); !slices.Equal(keys, []string{d.BlobKey}) {
		t.Fatalf("blobs %v, want just %s", keys, d.BlobKey)
	}
	stored, err := w.db.GetDocument(t.Context(), d.ID)
	must(t, err, "get")
	if stored.BlobKey != d.BlobKey {
		t.Fatalf("row names blob %q, want %q", stored.BlobKey, d.BlobKey)
	}
	got, meta := readAll(t, w, d.ID)
	if !bytes.Equal(got, body) || meta.ContentType != w.doc().ContentType {
		t.Fatalf("downloaded %d bytes as %q", len(got), meta.ContentType)
	}
	// The reader seeks, for range requests.
	r, _, err := w.svc.Open(w.ctx, d.ID)
	must(t, err, "open")
	defer r.Close()
	if _, err := r.Seek(int64(len(body)-3), io.SeekStart); err != nil {
		t.Fatal(err)
	}
	tail, _ := io.ReadAll(r)
	if !bytes.Equal(tail, body[len(body)-3:]) {
		t.Fatal("seek into a blob reads the wrong bytes")
	}
}

func TestCreateSizeLimit(t *testing.T) {
	for _, tc := range []struct {
		name      string
		inlineMax int64
		maxSize   int64
		size      int
		ok        bool
	}{
		{"exactly the limit, in a blob", inlineMax, 4096, 4096, true},
		{"one byte over, in a blob", inlineMax, 4096, 4097, false},
		{"far over, in a blob", inlineMax, 4096, 1 << 20, false},
		{"limit below the inline threshold, at it", inlineMax, 100, 100, true},
		{"limit below the inline threshold, over it", inlineMax, 100, 101, false},
		{"everything in blobs, over", -1, 100, 101, false},
		{"everything in blobs, small", -1, 100, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, editor, func(o *document.Config) { o.InlineMax, o.MaxSize = tc.inlineMax, tc.maxSize })
			body := content(tc.size)
			d, err := w.svc.Create(w.ctx, w.doc(), bytes.NewReader(body))
			if !tc.ok {
				wantKind(t, err, apperr.TooLarge, "create over the limit")
				if keys := w.blobKeys(t); len(keys) != 0 || w.rows(t) != 0 || len(w.log.events) != 0 {
					t.Fatalf("a refused upload left blobs %v, %d rows, %d events", keys, w.rows(t), len(w.log.events))
				}
				return
			}
			must(t, err, "create")
			got, _ := readAll(t, w, d.ID)
			if !bytes.Equal(got, body) {
				t.Fatalf("read back %d bytes, want %d", len(got), len(body))
			}
			if tc.inlineMax < 0 && d.Inline() {
				t.Fatal("InlineMax -1 kept content inline")
			}
		})
	}
}

// A failed transaction (the audit event here) leaves neither the row nor
// the blob, and neither does an upload that breaks off.
func TestCreateLeavesNothingOnFailure(t *testing.T) {
	w := newWorld(t, editor)
	w.log.fail = errors.New("audit down")
	_, err := w.svc.Create(w.ctx, w.doc(), bytes.NewReader(content(inlineMax*3)))
	if !errors.Is(err, w.log.fail) {
		t.Fatalf("create with a failing audit: %v", err)
	}
	if keys := w.blobKeys(t); len(keys) != 0 || w.rows(t) != 0 {
		t.Fatalf("a rolled-back create left blobs %v and %d rows", keys, w.rows(t))
	}

	w.log.fail = nil
	broken := io.MultiReader(bytes.NewReader(content(inlineMax*2)), iotest.ErrReader(errors.New("connection reset")))
	_, err = w.svc.Create(w.ctx, w.doc(), broken)
	wantKind(t, err, apperr.Invalid, "upload that breaks off")
	if keys := w.blobKeys(t); len(keys) != 0 || w.rows(t) != 0 {
		t.Fatalf("a broken upload left blobs %v and %d rows", keys, w.rows(t))
	}

	// A patient that does not exist: the insert fails after the blob.
	d := w.doc()
	d.PatientID = 999999
	w.svc, err = document.NewService(document.Deps{Store: w.db, Tx: w.db, Perm: grants{directory.Edit: {999999}}, Audit: w.log, Blobs: w.blobs},
		document.Config{InlineMax: inlineMax})
	must(t, err, "service")
	_, err = w.svc.Create(w.ctx, d, bytes.NewReader(content(inlineMax*2)))
	wantKind(t, err, apperr.Invalid, "document of an unknown patient")
	if keys := w.blobKeys(t); len(keys) != 0 {
		t.Fatalf("a refused insert left blobs %v", keys)
	}
}

func TestCreateValidates(t *testing.T) {
	w := newWorld(t, editor)
	for name, mutate := range map[string]func(*document.Document){
		"no content type":  func(d *document.Document) { d.ContentType = "" },
		"bad content type": func(d *document.Document) { d.ContentType = "pdf" },
		"bad status":       func(d *document.Document) { d.Status = "final" },
		"bad docStatus":    func(d *document.Document) { d.DocStatus = "current" },
		"bad language":     func(d *document.Document) { d.Language = "en_AU" },
		"coding sans code": func(d *document.Document) { d.Type = []document.Coding{{System: "http://loinc.org"}} },
		"no patient":       func(d *document.Document) { d.PatientID = 0 },
	} {
		t.Run(name, func(t *testing.T) {
			d := w.doc()
			mutate(d)
			_, err := w.svc.Create(w.ctx, d, strings.NewReader("x"))
			wantKind(t, err, apperr.Invalid, name)
		})
	}
	_, err := w.svc.Create(w.ctx, w.doc(), nil)
	wantKind(t, err, apperr.Invalid, "no content reader")
}

func TestCreateNeedsEdit(t *testing.T) {
	for _, perms := range []func(p, o int64) grants{viewer, nobody} {
		w := newWorld(t, perms)
		read := 0
		body := readerFunc(func(p []byte) (int, error) { read++; return 0, io.EOF })
		_, err := w.svc.Create(w.ctx, w.doc(), body)
		wantKind(t, err, apperr.Forbidden, "create without Edit")
		if read != 0 || w.rows(t) != 0 || len(w.blobKeys(t)) != 0 || len(w.log.events) != 0 {
			t.Fatalf("a refused create read the upload (%d reads) or stored something", read)
		}
	}
	w := newWorld(t, editor)
	d := w.doc()
	d.PatientID = w.other
	_, err := w.svc.Create(w.ctx, d, strings.NewReader("x"))
	wantKind(t, err, apperr.Forbidden, "create for a patient the caller may not edit")
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// stored creates one inline and one blob document for the patient with
// System rights, returning them.
func (w *world) stored(t *testing.T) (inline, blobbed *document.Document) {
	t.Helper()
	svc, err := document.NewService(document.Deps{Store: w.db, Tx: w.db, Perm: grants{}, Audit: &memAudit{db: w.db}, Blobs: w.blobs}, document.Config{InlineMax: inlineMax})
	must(t, err, "service")
	sys := actor.System(t.Context())
	inline, err = svc.Create(sys, w.doc(), strings.NewReader("small"))
	must(t, err, "create inline")
	blobbed, err = svc.Create(sys, w.doc(), bytes.NewReader(content(inlineMax*2)))
	must(t, err, "create blob")
	return inline, blobbed
}

func TestReadsNeedView(t *testing.T) {
	w := newWorld(t, viewer)
	in, bl := w.stored(t)
	for _, d := range []*document.Document{in, bl} {
		got, err := w.svc.Get(w.ctx, d.ID)
		must(t, err, "get as viewer")
		if got.ID != d.ID {
			t.Fatalf("got document %d", got.ID)
		}
		b, _ := readAll(t, w, d.ID)
		if int64(len(b)) != d.Size {
			t.Fatalf("opened %d bytes, want %d", len(b), d.Size)
		}
	}
	_, err := w.svc.Get(w.ctx, 999999)
	wantKind(t, err, apperr.NotFound, "unknown document")
	_, err = w.svc.Get(w.ctx, -1)
	wantKind(t, err, apperr.Invalid, "bad id")

	denied := newWorld(t, nobody)
	in, bl = denied.stored(t)
	for _, d := range []*document.Document{in, bl} {
		_, err := denied.svc.Get(denied.ctx, d.ID)
		wantKind(t, err, apperr.Forbidden, "get without View")
		_, _, err = denied.svc.Open(denied.ctx, d.ID)
		wantKind(t, err, apperr.Forbidden, "open without View")
	}
}

func TestUpdate(t *testing.T) {
	w := newWorld(t, editor)
	_, bl := w.stored(t)
	up := *bl
	up.Title, up.Status, up.Description = "renamed.pdf", document.StatusSuperseded, "replaced"
	got, err := w.svc.Update(w.ctx, &up)
	must(t, err, "update")
	if got.Version != 2 || got.Title != "renamed.pdf" || got.BlobKey != bl.BlobKey || got.Size != bl.Size {
		t.Fatalf("updated to %+v", got)
	}
	last := w.log.events[len(w.log.events)-1]
	if !last.inTx || last.comment != "updated document "+itoa(bl.ID)+" to version 2: status, description, title" {
		t.Fatalf("audit comment %q", last.comment)
	}
	_, err = w.svc.Update(w.ctx, &up) // version 1 again
	wantKind(t, err, apperr.Conflict, "stale update")

	for name, mutate := range map[string]func(*document.Document){
		"patient":      func(d *document.Document) { d.PatientID = w.other },
		"content type": func(d *document.Document) { d.ContentType = "text/plain" },
		"size":         func(d *document.Document) { d.Size++ },
		"hash":         func(d *document.Document) { d.SHA256[0]++ },
		"status":       func(d *document.Document) { d.Status = "bogus" },
	} {
		c := *got
		mutate(&c)
		_, err := w.svc.Update(w.ctx, &c)
		wantKind(t, err, apperr.Invalid, "changing the "+name)
	}

	denied := newWorld(t, viewer)
	_, bl = denied.stored(t)
	c := *bl
	c.Title = "x"
	_, err = denied.svc.Update(denied.ctx, &c)
	wantKind(t, err, apperr.Forbidden, "update without Edit")
	if len(denied.log.events) != 0 {
		t.Fatal("a refused update was audited")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestDeleteKeepsContent(t *testing.T) {
	w := newWorld(t, editor)
	in, bl := w.stored(t)
	must(t, w.svc.Delete(w.ctx, bl.ID, bl.Version), "delete")
	_, err := w.svc.Get(w.ctx, bl.ID)
	wantKind(t, err, apperr.NotFound, "get of a deleted document")
	_, _, err = w.svc.Open(w.ctx, bl.ID)
	wantKind(t, err, apperr.NotFound, "open of a deleted document")
	if keys := w.blobKeys(t); !slices.Equal(keys, []string{bl.BlobKey}) {
		t.Fatalf("blobs after a soft delete %v, want the deleted document's kept", keys)
	}
	err = w.svc.Delete(w.ctx, bl.ID, bl.Version+1)
	wantKind(t, err, apperr.NotFound, "delete twice")
	err = w.svc.Delete(w.ctx, in.ID, 7)
	wantKind(t, err, apperr.Conflict, "stale delete")

	denied := newWorld(t, viewer)
	_, bl = denied.stored(t)
	wantKind(t, denied.svc.Delete(denied.ctx, bl.ID, bl.Version), apperr.Forbidden, "delete without Edit")
	if _, err := denied.svc.Get(denied.ctx, bl.ID); err != nil {
		t.Fatalf("a refused delete deleted: %v", err)
	}
}

func TestSearchAndCount(t *testing.T) {
	w := newWorld(t, viewer)
	in, bl := w.stored(t)
	f := document.Filter{PatientIDs: []int64{w.patient}}
	page, next, err := w.svc.Search(w.ctx, f, store.Page{})
	must(t, err, "search as viewer")
	if len(page) != 2 || page[0].ID != in.ID || page[1].ID != bl.ID || next != "" {
		t.Fatalf("search found %d documents, next %q", len(page), next)
	}
	n, err := w.svc.Count(w.ctx, f)
	must(t, err, "count as viewer")
	if n != 2 {
		t.Fatalf("count %d, want 2", n)
	}

	for name, f := range map[string]document.Filter{
		"another patient":    {PatientIDs: []int64{w.other}},
		"one of two":         {PatientIDs: []int64{w.patient, w.other}},
		"every patient":      {},
		"every patient, ids": {IDs: []int64{in.ID}},
	} {
		_, _, err := w.svc.Search(w.ctx, f, store.Page{})
		wantKind(t, err, apperr.Forbidden, "search of "+name)
		_, err = w.svc.Count(w.ctx, f)
		wantKind(t, err, apperr.Forbidden, "count of "+name)
	}
	// ward itself (bulk export) may search every patient.
	n, err = w.svc.Count(actor.System(t.Context()), document.Filter{})
	must(t, err, "count as ward")
	if n != 2 {
		t.Fatalf("count as ward %d, want 2", n)
	}
}

func TestRemovePurgedContent(t *testing.T) {
	w := newWorld(t, editor)
	_, bl := w.stored(t)
	d := w.doc()
	d.PatientID = w.other
	sys := actor.System(t.Context())
	wsys, err := document.NewService(document.Deps{Store: w.db, Tx: w.db, Perm: grants{}, Audit: w.log, Blobs: w.blobs}, document.Config{InlineMax: inlineMax})
	must(t, err, "service")
	theirs, err := wsys.Create(sys, d, bytes.NewReader(content(inlineMax*2)))
	must(t, err, "create other's")

	wantKind(t, w.svc.RemovePurgedContent(sys, w.patient), apperr.Conflict, "remove content of a live patient")
	if keys := w.blobKeys(t); len(keys) != 2 {
		t.Fatalf("a refused removal removed blobs: %v", keys)
	}
	must(t, w.db.PurgeUser(t.Context(), w.patient), "purge")
	must(t, w.svc.RemovePurgedContent(sys, w.patient), "remove content of a purged patient")
	if keys := w.blobKeys(t); !slices.Equal(keys, []string{theirs.BlobKey}) {
		t.Fatalf("blobs after removal %v, want only %s (not %s)", keys, theirs.BlobKey, bl.BlobKey)
	}
}

func TestNewServiceRefusesBadOptions(t *testing.T) {
	for _, o := range []document.Config{{MaxSize: -1}, {MaxSize: document.MaxMaxSize + 1}, {InlineMax: document.MaxInlineMax + 1}} {
		if _, err := document.NewService(document.Deps{}, o); err == nil {
			t.Fatalf("options %+v accepted", o)
		}
	}
}
