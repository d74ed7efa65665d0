package rest

import (
	"context"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/fhir"
	"ward/internal/fhir/policy"
	"ward/internal/fhir/search"
)

// Deps is what the FHIR interface runs on.
type Deps struct {
	// Base is the FHIR base URL ({issuer}/fhir): fullUrls, paging links
	// and Location headers are written under it.
	Base      string
	Policy    *policy.Policy
	Directory Directory
	Clinical  Clinical
	Documents Documents
	Audit     audit.Recorder
	Trail     AuditTrail
	Groups    Groups
	Consents  Consents
	// Workflow serves Task (seed 002's declarations); nil leaves Task
	// out of the API.
	Workflow Workflow
	// Matcher serves Patient/$match; nil leaves the operation out.
	Matcher Matcher
	// Security is the CapabilityStatement's SMART security block.
	Security *fhir.CapabilityStatementSecurity
	// Operations are extra operations mounted by other packages (bulk
	// export), listed in the CapabilityStatement.
	Operations []fhir.CapabilityStatementOperation
	// TypeOperations are per-type operations (Patient/$export,
	// Group/$export), keyed by type.
	TypeOperations map[string][]fhir.CapabilityStatementOperation
	Version        string
	Logger         *slog.Logger
	Now            func() time.Time

	// MaxBody caps a FHIR JSON request body (DefaultMaxBody when 0);
	// over it the answer is 413.
	MaxBody int64
}

// Handler serves /fhir.
type Handler struct {
	d     Deps
	types []*resourceType
}

// New returns the FHIR handler; Mount puts it on a mux.
func New(d Deps) *Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.MaxBody <= 0 {
		d.MaxBody = DefaultMaxBody
	}
	d.Base = strings.TrimRight(d.Base, "/")
	h := &Handler{d: d}
	h.types = h.resourceTypes()
	return h
}

// resourceType is one type's interactions; a nil func is an interaction
// ward does not offer on the type (and the CapabilityStatement omits).
type resourceType struct {
	name   string
	read   func(ctx context.Context, g policy.Grant, id string) (*found, error)
	search func(ctx context.Context, g policy.Grant, q search.Query) (*page, error)
	create func(ctx context.Context, g policy.Grant, body []byte) (*found, error)
	update func(ctx context.Context, g policy.Grant, id string, version int64, body []byte) (*found, error)
	// documentation goes into the CapabilityStatement.
	documentation string
	// routes, when set, mounts the type's own handlers instead of the
	// standard ones (Binary is raw bytes, not FHIR JSON), and interactions
	// lists them for the CapabilityStatement.
	routes       func(mux *http.ServeMux)
	interactions []string
	// operations, when set, mounts the type's operations beside the
	// standard routes, and typeOps lists them for the CapabilityStatement.
	operations func(mux *http.ServeMux)
	typeOps    []fhir.CapabilityStatementOperation
}

// found is one resource as a read, create or update answers it.
type found struct {
	resource any
	id       string
	version  int64
	updated  time.Time
	// patients are the patients whose data this is, for the access check
	// and the audit trail; empty for reference data.
	patients []int64
}

// page is one page of a search.
type page struct {
	resources []any
	patients  []int64 // whose data the page holds, for the audit trail
	next      string  // cursor of the next page, "" at the end
	total     *int    // nil when unknown
}

// Mount registers every FHIR route on mux. Paths are listed type by type
// (no /fhir/{type} wildcard) so that more specific routes mounted by other
// packages, such as /fhir/Group/{id}/$export, never collide.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /fhir/metadata", negotiate(h.metadata))
	if h.d.Matcher != nil {
		mux.HandleFunc("POST "+PathPatientMatch, negotiate(h.match))
		// Not "Patient/$match" read as an id: $match takes a resource,
		// which a GET cannot carry.
		mux.HandleFunc("GET "+PathPatientMatch, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", http.MethodPost)
			WriteOutcome(w, http.StatusMethodNotAllowed, fhir.NewOperationOutcome("error", "not-supported",
				"Patient/$match takes a Patient in a Parameters body: use POST"))
		})
	}
	for _, t := range h.types {
		if t.routes != nil {
			t.routes(mux)
			continue
		}
		base := "/fhir/" + t.name
		if t.read != nil {
			mux.HandleFunc("GET "+base+"/{id}", negotiate(h.readHandler(t)))
		}
		if t.search != nil {
			mux.HandleFunc("GET "+base, negotiate(h.searchHandler(t)))
			mux.HandleFunc("POST "+base+"/_search", negotiate(h.searchHandler(t)))
		}
		if t.create != nil {
			mux.HandleFunc("POST "+base, negotiate(h.createHandler(t)))
		}
		if t.update != nil {
			mux.HandleFunc("PUT "+base+"/{id}", negotiate(h.updateHandler(t)))
		}
		if t.operations != nil {
			t.operations(mux)
		}
	}
	mux.HandleFunc("/fhir/", h.unknown)
}

// negotiate refuses, with 406, a request that wants a format ward does not
// write: _format (R4 §3.1.0.1.10) or an Accept header naming only XML or
// Turtle. ward writes FHIR JSON and nothing else.
func negotiate(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if f := r.URL.Query().Get("_format"); f != "" && !jsonFormat(f) {
			WriteOutcome(w, http.StatusNotAcceptable, fhir.NewOperationOutcome("error", "not-supported",
				fmt.Sprintf("_format %q is not served: ward writes FHIR JSON (_format=json)", clipID(f))))
			return
		}
		if accept := r.Header.Get("Accept"); accept != "" && !acceptsJSON(accept) {
			WriteOutcome(w, http.StatusNotAcceptable, fhir.NewOperationOutcome("error", "not-supported",
				"ward writes "+ContentType+" only"))
			return
		}
		next(w, r)
	}
}

func jsonFormat(f string) bool {
	mt, _, err := mime.ParseMediaType(f)
	if err != nil {
		mt = f
	}
	switch mt {
	case "json", ContentType, "application/json", "application/json+fhir":
		return true
	}
	return false
}

// acceptsJSON reports whether an Accept header allows FHIR JSON: any of
// its ranges is JSON, a wildcard, or a media type the answer could not be
// anyway (browsers send text/html).
func acceptsJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch {
		case jsonFormat(mt), mt == "*/*", mt == "application/*", mt == "text/html":
			return true
		case strings.Contains(mt, "xml"), strings.Contains(mt, "turtle"):
			continue
		default:
			return true
		}
	}
	return false
}

// unknown answers any other /fhir path in FHIR's format, not the mux's
// plain-text 404 or 405.
func (h *Handler) unknown(w http.ResponseWriter, r *http.Request) {
	typ, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/fhir/"), "/")
	for _, t := range h.types {
		if t.name == typ {
			WriteOutcome(w, http.StatusMethodNotAllowed, fhir.NewOperationOutcome("error", "not-supported",
				fmt.Sprintf("%s %s is not supported on %s (see /fhir/metadata)", r.Method, r.URL.Path, typ)))
			return
		}
	}
	WriteOutcome(w, http.StatusNotFound, fhir.NewOperationOutcome("error", "not-supported",
		fmt.Sprintf("ward serves no resource type %q (see /fhir/metadata)", typ)))
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	WriteError(w, r, h.d.Logger, err)
}

func (h *Handler) readHandler(t *resourceType) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		g, err := h.d.Policy.Decide(ctx, t.name, policy.Read)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		f, err := t.read(ctx, g, r.PathValue("id"))
		if err == nil {
			err = h.reach(ctx, g, f.patients, policy.Read)
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if err := h.auditRead(ctx, "read "+t.name+"/"+f.id, f.patients); err != nil {
			h.fail(w, r, err)
			return
		}
		WriteResource(w, r, http.StatusOK, f.resource, f.version, f.updated)
	}
}

// reach checks that g reaches every patient whose data a resource holds.
func (h *Handler) reach(ctx context.Context, g policy.Grant, patients []int64, in policy.Interaction) error {
	for _, p := range patients {
		if err := h.d.Policy.PatientAccess(ctx, g, p, in); err != nil {
			return err
		}
	}
	return nil
}

// auditRead records that the actor read these patients' data: one event
// per patient, so "who saw my record" is a query on the subject.
func (h *Handler) auditRead(ctx context.Context, what string, patients []int64) error {
	if len(patients) == 0 {
		return nil
	}
	a := actor.From(ctx)
	seen := make(map[int64]bool, len(patients))
	entries := make([]audit.Entry, 0, len(patients))
	for _, p := range patients {
		if p == 0 || seen[p] {
			continue
		}
		seen[p] = true
		entries = append(entries, audit.Entry{Actor: a, Change: audit.Change{Type: audit.RecordRead,
			Subject: audit.UserRef(p), SubjectID: p, Comment: "FHIR " + what}})
	}
	return h.d.Audit.RecordEach(ctx, entries)
}

func (h *Handler) searchHandler(t *resourceType) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		params := r.URL.Query()
		if r.Method == http.MethodPost {
			// POST _search carries its parameters as a form (R4 §3.1.0.8.1).
			if err := r.ParseForm(); err != nil {
				h.fail(w, r, apperr.Wrap(apperr.Invalid, err, "the search form could not be read"))
				return
			}
			params = r.Form
		}
		g, err := h.d.Policy.Decide(ctx, t.name, policy.Search)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		q, err := search.Parse(t.name, params)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if q.Count == 0 {
			q.Count = defaultCount
		}
		if err := checkSort(q); err != nil {
			h.fail(w, r, err)
			return
		}
		p, err := t.search(ctx, g, q)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if q.Summary == search.SummaryCount {
			p.resources, p.next = nil, ""
		} else if err := h.auditRead(ctx, "search "+t.name, p.patients); err != nil {
			h.fail(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, h.bundle(t.name, q, p))
	}
}

// defaultCount is a page's size when _count is absent.
const defaultCount = 50

// bundle is the searchset for one page, with self and next links in the
// parser's canonical form (so a next link parses back to the same query).
func (h *Handler) bundle(typ string, q search.Query, p *page) *fhir.Bundle {
	self := h.link(typ, q, q.Cursor)
	next := ""
	if p.next != "" {
		next = h.link(typ, q, p.next)
	}
	b := fhir.SearchsetBundle(h.d.Base, self, next, p.total, p.resources)
	b.Timestamp = h.d.Now().UTC().Format(time.RFC3339)
	return b
}

func (h *Handler) link(typ string, q search.Query, cursor string) string {
	q.Cursor = cursor
	v := q.Values()
	if len(v) == 0 {
		return h.d.Base + "/" + typ
	}
	return h.d.Base + "/" + typ + "?" + v.Encode()
}

// writeRequest decides a write and reads its body; on refusal it has
// answered and ok is false. The body is read only once the scopes allow
// the write, so a caller who may not write cannot make ward read a large
// upload.
func (h *Handler) writeRequest(w http.ResponseWriter, r *http.Request, typ string, in policy.Interaction) (policy.Grant, []byte, bool) {
	g, err := h.d.Policy.Decide(r.Context(), typ, in)
	if err != nil {
		h.fail(w, r, err)
		return g, nil, false
	}
	body, err := ReadBody(r, h.d.MaxBody)
	if err != nil {
		h.fail(w, r, err)
		return g, nil, false
	}
	return g, body, true
}

func (h *Handler) createHandler(t *resourceType) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		g, body, ok := h.writeRequest(w, r, t.name, policy.Create)
		if !ok {
			return
		}
		f, err := t.create(ctx, g, body)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		w.Header().Set("Location", Location(h.d.Base, t.name, f.id, f.version))
		WriteResource(w, r, http.StatusCreated, f.resource, f.version, f.updated)
	}
}

func (h *Handler) updateHandler(t *resourceType) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		version, err := IfMatchVersion(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		g, body, ok := h.writeRequest(w, r, t.name, policy.Update)
		if !ok {
			return
		}
		f, err := t.update(ctx, g, r.PathValue("id"), version, body)
		if version != 0 && apperr.Is(err, apperr.Conflict) {
			// A version-aware update whose If-Match is stale (R4
			// §3.1.0.5.3): 412, so the client re-reads and retries.
			WriteOutcome(w, http.StatusPreconditionFailed, fhir.NewOperationOutcome("error", "conflict",
				"the resource has changed since the version in If-Match; read it again"))
			return
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		w.Header().Set("Location", Location(h.d.Base, t.name, f.id, f.version))
		WriteResource(w, r, http.StatusOK, f.resource, f.version, f.updated)
	}
}

// parseID reads a logical id ward issued (a positive integer). Anything
// else names no resource: 404, as for an id that does not exist.
func parseID(typ, s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != s {
		return 0, apperr.New(apperr.NotFound, "%s/%s not found", typ, clipID(s))
	}
	return id, nil
}

func clipID(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return url.PathEscape(s)
}

// checkBodyID enforces R4 §3.1.0.4 on an update: the body's id must be the
// URL's (400 otherwise); on a create any id in the body is ignored.
func checkBodyID(typ, urlID, bodyID string) error {
	if bodyID == "" {
		return apperr.New(apperr.Invalid, "%s.id is required on update and must be %q", typ, urlID)
	}
	if bodyID != urlID {
		return apperr.New(apperr.Invalid, "%s.id %q does not match the id in the URL (%q)", typ, clipID(bodyID), urlID)
	}
	return nil
}

// referenceIDs returns the numeric ids of a reference clause's values of
// type typ; ids ward cannot have issued match nothing and are dropped.
func referenceIDs(c search.Clause, typ string) []int64 {
	out := []int64{}
	for _, ref := range c.References {
		if ref.Type != "" && ref.Type != typ {
			continue
		}
		if id, err := strconv.ParseInt(ref.ID, 10, 64); err == nil && id > 0 {
			out = append(out, id)
		}
	}
	return out
}

func intPtr(n int) *int { return &n }

// checkSort refuses sort orders ward does not serve. Every search pages in
// ascending id order (ids are issued in time order), which keeps cursors
// stable while rows change; _sort=_id says so explicitly.
func checkSort(q search.Query) error {
	for _, k := range q.Sort {
		if k.Param != "_id" || k.Descending {
			return apperr.New(apperr.Invalid, "_sort supports only _id (ascending); results are always in that order")
		}
	}
	return nil
}

func formatID(id int64) string { return strconv.FormatInt(id, 10) }
