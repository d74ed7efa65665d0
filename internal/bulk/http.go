package bulk

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/blob"
	"ward/internal/fhir"
	"ward/internal/fhir/rest"
	"ward/internal/store"
)

// JobInserter inserts a job in the caller's transaction; *jobs.Runner
// satisfies it.
type JobInserter interface {
	InsertTx(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// HandlerDeps are the Handler's collaborators; every one is required.
type HandlerDeps struct {
	Store  Store
	Tx     store.Transactor
	Blobs  blob.Store
	Source Source
	Groups Groups
	Audit  audit.Recorder
	Jobs   JobInserter
	Engine *Engine
}

// HandlerConfig tunes the Handler. Zero fields take the defaults.
type HandlerConfig struct {
	// BaseURL is the public FHIR base ("https://ward.example/fhir"), for
	// the status and file URLs. Required.
	BaseURL string
	// MaxPerClient caps a client's accepted and in-progress exports
	// (WARD_EXPORT_MAX_PER_CLIENT); default 3.
	MaxPerClient int
	// RetryAfter is the longest a running export's status tells the client
	// to wait (it starts at 1s and backs off as the export ages; see
	// pollAfter), and what a 429 tells it; default 10s.
	RetryAfter time.Duration
	// MaxBody bounds a POST kick-off body; default 1 MiB.
	MaxBody int64
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Handler serves the Bulk Data endpoints under /fhir.
type Handler struct {
	d   HandlerDeps
	cfg HandlerConfig
	log *slog.Logger
}

// NewHandler wires a Handler.
func NewHandler(d HandlerDeps, cfg HandlerConfig) (*Handler, error) {
	if d.Store == nil || d.Tx == nil || d.Blobs == nil || d.Source == nil || d.Groups == nil || d.Audit == nil ||
		d.Jobs == nil || d.Engine == nil {
		return nil, errors.New("bulk: the handler needs a store, transactor, blob store, source, groups, audit log, job inserter and engine")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bulk: base URL %q is not an absolute http(s) URL", cfg.BaseURL)
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.MaxPerClient <= 0 {
		cfg.MaxPerClient = 3
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 10 * time.Second
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Handler{d: d, cfg: cfg, log: cfg.Logger.With(slog.String("component", "bulk"))}, nil
}

// Mount registers the endpoints, each with its exact method and path.
func (h *Handler) Mount(mux *http.ServeMux) {
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		mux.HandleFunc(m+" /fhir/$export", func(w http.ResponseWriter, r *http.Request) { h.kickOff(w, r, LevelSystem, "") })
		mux.HandleFunc(m+" /fhir/Patient/$export", func(w http.ResponseWriter, r *http.Request) { h.kickOff(w, r, LevelPatient, "") })
		mux.HandleFunc(m+" /fhir/Group/{id}/$export", func(w http.ResponseWriter, r *http.Request) {
			h.kickOff(w, r, LevelGroup, r.PathValue("id"))
		})
	}
	mux.HandleFunc("GET /fhir/$bulkdata-status/{id}", h.status)
	mux.HandleFunc("DELETE /fhir/$bulkdata-status/{id}", h.cancel)
	mux.HandleFunc("GET /fhir/$bulkdata-file/{id}/{name}", h.file)
}

func (h *Handler) statusURL(id string) string { return h.cfg.BaseURL + "/$bulkdata-status/" + id }

func (h *Handler) fileURL(id, name string) string {
	return h.cfg.BaseURL + "/$bulkdata-file/" + id + "/" + name
}

// preferences reads the Prefer header (RFC 7240): whether respond-async
// and handling=lenient were asked for.
func preferences(r *http.Request) (async, lenient bool) {
	for _, line := range r.Header.Values("Prefer") {
		for _, p := range strings.Split(line, ",") {
			p = strings.ToLower(strings.TrimSpace(strings.SplitN(p, ";", 2)[0]))
			switch strings.ReplaceAll(p, " ", "") {
			case "respond-async":
				async = true
			case "handling=lenient":
				lenient = true
			}
		}
	}
	return async, lenient
}

// acceptsFHIRJSON reports whether the Accept header allows
// application/fhir+json; a missing header is taken as asking for it, as
// Bulk Data 2.0 allows.
func acceptsFHIRJSON(r *http.Request) bool {
	vals := r.Header.Values("Accept")
	if len(vals) == 0 {
		return true
	}
	for _, line := range vals {
		for _, part := range strings.Split(line, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err == nil && mt == rest.ContentType {
				return true
			}
		}
	}
	return false
}

// candidates are the types an export at level may include.
func (h *Handler) candidates(level Level) []string {
	all := h.d.Source.Types()
	if level == LevelSystem {
		return slices.Clone(all)
	}
	var out []string
	for _, t := range all {
		if h.d.Source.InPatientCompartment(t) {
			out = append(out, t)
		}
	}
	return out
}

func (h *Handler) kickOff(w http.ResponseWriter, r *http.Request, level Level, groupID string) {
	ctx := r.Context()
	a := actor.From(ctx)
	if err := authorizeLevel(a, level); err != nil {
		rest.WriteError(w, r, h.log, err)
		return
	}
	async, lenient := preferences(r)
	if !async {
		rest.WriteError(w, r, h.log, apperr.New(apperr.Invalid, "a bulk export kick-off needs the header Prefer: respond-async"))
		return
	}
	if !acceptsFHIRJSON(r) {
		rest.WriteError(w, r, h.log, apperr.New(apperr.Invalid, "a bulk export kick-off answers only %s; set Accept to it", rest.ContentType))
		return
	}
	values, patients := r.URL.Query(), []string(nil)
	if r.Method == http.MethodPost {
		if r.URL.RawQuery != "" {
			rest.WriteError(w, r, h.log, apperr.New(apperr.Invalid, "a POST kick-off takes its parameters in the Parameters body, not the URL"))
			return
		}
		body, err := rest.ReadBody(r, h.cfg.MaxBody)
		if err != nil {
			rest.WriteError(w, r, h.log, err)
			return
		}
		if values, patients, err = decodeParameters(body); err != nil {
			rest.WriteError(w, r, h.log, err)
			return
		}
	} else if values.Has(paramPatient) {
		rest.WriteError(w, r, h.log, apperr.New(apperr.Invalid, "%s is accepted only in a POST Parameters body", paramPatient))
		return
	}
	cands := h.candidates(level)
	req, err := parseRequest(level, groupID, values, patients, cands, lenient, h.cfg.BaseURL)
	if err != nil {
		rest.WriteError(w, r, h.log, err)
		return
	}
	var filterTypes []string
	for t := range req.Filters {
		filterTypes = append(filterTypes, t)
	}
	slices.Sort(filterTypes)
	types, err := authorizeTypes(a, req.Types, cands, filterTypes)
	if err != nil {
		rest.WriteError(w, r, h.log, err)
		return
	}
	id, err := newID()
	if err != nil {
		rest.WriteError(w, r, h.log, err)
		return
	}
	ex := &Export{
		ID: id, ClientID: a.ClientID, UserID: a.UserID, Level: level, GroupID: groupID, Types: types,
		Since: req.Since, TypeFilters: req.TypeFilters, Patients: req.Patients, OutputFormat: OutputFormat,
		Status: StatusAccepted, RequestURL: h.requestURL(r), CreatedAt: h.cfg.Now().UTC().Truncate(time.Microsecond),
	}
	if level == LevelGroup {
		if err := h.resolveGroup(ctx, ex); err != nil {
			rest.WriteError(w, r, h.log, err)
			return
		}
	}
	if err := h.reportIgnored(ctx, ex, req.Ignored); err != nil {
		_ = h.d.Blobs.DeletePrefix(context.WithoutCancel(ctx), prefix(ex.ID))
		rest.WriteError(w, r, h.log, err)
		return
	}
	err = h.d.Tx.InTx(ctx, func(ctx context.Context) error {
		n, err := h.d.Store.CountActiveExports(ctx, a.ClientID)
		if err != nil {
			return err
		}
		if n >= h.cfg.MaxPerClient {
			return apperr.New(apperr.RateLimited, "at most %d exports may run at once per client; wait for one to finish", h.cfg.MaxPerClient)
		}
		if err := h.d.Store.CreateExport(ctx, ex); err != nil {
			return err
		}
		comment := fmt.Sprintf("bulk export %s started: %s level, types %s", ex.ID, level, strings.Join(types, ","))
		if level == LevelGroup {
			comment += ", group " + groupID
		}
		if err := h.d.Audit.Record(ctx, audit.Change{Type: audit.ExportKickedOff, Subject: audit.Ref("Export", ex.ID),
			Fields: map[string]any{"level": level, "types": types, "group": groupID}, Comment: comment}); err != nil {
			return err
		}
		_, err = h.d.Jobs.InsertTx(ctx, exportArgs{ExportID: ex.ID}, h.d.Engine.insertOpts())
		return err
	})
	if err != nil {
		if len(ex.Errors) > 0 {
			_ = h.d.Blobs.DeletePrefix(context.WithoutCancel(ctx), prefix(ex.ID))
		}
		if apperr.Is(err, apperr.RateLimited) {
			w.Header().Set("Retry-After", h.retryAfter())
		}
		rest.WriteError(w, r, h.log, err)
		return
	}
	w.Header().Set("Content-Location", h.statusURL(ex.ID))
	msg := "the export has been accepted; poll the Content-Location for its status"
	if len(req.Ignored) > 0 {
		names := make([]string, len(req.Ignored))
		for i, ig := range req.Ignored {
			names[i] = ig.Name
		}
		msg += "; ignored parameters (also in the manifest's error file): " + strings.Join(names, ", ")
	}
	rest.WriteOutcome(w, http.StatusAccepted, fhir.NewOperationOutcome("information", "informational", msg))
}

// reportIgnored writes one OperationOutcome line per parameter ignored
// under Prefer: handling=lenient to an error file of ex, so the manifest's
// error array tells the client what was not honoured (Bulk Data 2.0
// SHOULD), not only the kick-off answer it may not keep.
func (h *Handler) reportIgnored(ctx context.Context, ex *Export, ignored []Ignored) error {
	if len(ignored) == 0 {
		return nil
	}
	var buf []byte
	for _, ig := range ignored {
		line, err := json.Marshal(fhir.NewOperationOutcome("warning", "not-supported", ig.Why, ig.Name))
		if err != nil {
			return fmt.Errorf("encode error file: %w", err)
		}
		buf = append(append(buf, line...), '\n')
	}
	name := "OperationOutcome-ignored.ndjson"
	info, err := writeBlob(ctx, h.d.Blobs, prefix(ex.ID)+"/"+name, buf)
	if err != nil {
		return err
	}
	ex.Errors = append(ex.Errors, File{Type: "OperationOutcome", Name: name, Key: info.Key, Count: int64(len(ignored)), Size: info.Size})
	return nil
}

// resolveGroup fixes a Group export's patients: the members, or those of
// the patient parameter that are members. Requested patients who are not
// members are reported in an error file, as Bulk Data 2.0 asks.
func (h *Handler) resolveGroup(ctx context.Context, ex *Export) error {
	members, err := h.d.Groups.GroupMembers(ctx, ex.GroupID)
	if err != nil {
		return err
	}
	if members == nil {
		members = []int64{}
	}
	if ex.Patients == nil {
		ex.Patients = members
		return nil
	}
	var in []int64
	var out []string
	for _, p := range ex.Patients {
		if slices.Contains(members, p) {
			in = append(in, p)
		} else {
			out = append(out, "Patient/"+strconv.FormatInt(p, 10))
		}
	}
	if in == nil {
		in = []int64{}
	}
	ex.Patients = in
	if len(out) == 0 {
		return nil
	}
	oo := fhir.NewOperationOutcome("error", "not-found",
		fmt.Sprintf("not members of Group/%s, so not exported: %s", ex.GroupID, strings.Join(out, ", ")), paramPatient)
	line, err := json.Marshal(oo)
	if err != nil {
		return fmt.Errorf("encode error file: %w", err)
	}
	name := "OperationOutcome-patient.ndjson"
	info, err := writeBlob(ctx, h.d.Blobs, prefix(ex.ID)+"/"+name, append(line, '\n'))
	if err != nil {
		return err
	}
	ex.Errors = append(ex.Errors, File{Type: "OperationOutcome", Name: name, Key: info.Key, Count: 1, Size: info.Size})
	return nil
}

// requestURL is the kick-off URL under the public base (a POST's
// parameters are in its body, so it has none).
func (h *Handler) requestURL(r *http.Request) string {
	u := h.cfg.BaseURL + strings.TrimPrefix(r.URL.Path, "/fhir")
	if r.Method == http.MethodGet && r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	return u
}

// newID returns a random (version 4) UUID.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("bulk: random export id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// validID keeps a path id to the UUID alphabet before it reaches the store
// or a blob key.
func validID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == '-') {
			return false
		}
	}
	return true
}

// lookup finds the export named in the path, as the actor may see it.
func (h *Handler) lookup(r *http.Request) (*Export, error) {
	a := actor.From(r.Context())
	if err := requireClient(a); err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	if !validID(id) {
		return nil, apperr.New(apperr.NotFound, "export not found")
	}
	ex, err := h.d.Store.GetExport(r.Context(), id)
	if err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return nil, apperr.New(apperr.NotFound, "export not found")
		}
		return nil, err
	}
	return ex, nil
}

// gone reports whether a client may no longer see ex: cancelled, or past
// its expiry (the cleanup job may not have run yet).
func (h *Handler) gone(ex *Export) bool {
	return ex.Status == StatusCancelled || !ex.ExpiresAt.IsZero() && !h.cfg.Now().Before(ex.ExpiresAt)
}

// manifest is the completion body of Bulk Data 2.0.
type manifest struct {
	TransactionTime     string         `json:"transactionTime"`
	Request             string         `json:"request"`
	RequiresAccessToken bool           `json:"requiresAccessToken"`
	Output              []manifestFile `json:"output"`
	Error               []manifestFile `json:"error"`
}

type manifestFile struct {
	Type  string `json:"type"`
	URL   string `json:"url"`
	Count int64  `json:"count"`
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	ex, err := h.lookup(r)
	if err == nil {
		err = authorizeStatus(actor.From(r.Context()), ex)
	}
	if err == nil && h.gone(ex) {
		err = apperr.New(apperr.NotFound, "export not found")
	}
	if err != nil {
		rest.WriteError(w, r, h.log, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	switch ex.Status {
	case StatusAccepted, StatusInProgress:
		w.Header().Set("X-Progress", progressText(ex))
		w.Header().Set("Retry-After", strconv.Itoa(int(h.pollAfter(ex)/time.Second)))
		w.WriteHeader(http.StatusAccepted)
	case StatusFailed:
		rest.WriteOutcome(w, http.StatusInternalServerError, fhir.NewOperationOutcome("error", "exception", ex.Failure))
	case StatusCompleted:
		m := manifest{
			TransactionTime:     ex.TransactionTime.UTC().Format(time.RFC3339Nano),
			Request:             ex.RequestURL,
			RequiresAccessToken: true,
			Output:              []manifestFile{},
			Error:               []manifestFile{},
		}
		for _, f := range ex.Output {
			m.Output = append(m.Output, manifestFile{Type: f.Type, URL: h.fileURL(ex.ID, f.Name), Count: f.Count})
		}
		for _, f := range ex.Errors {
			m.Error = append(m.Error, manifestFile{Type: f.Type, URL: h.fileURL(ex.ID, f.Name), Count: f.Count})
		}
		body, err := json.Marshal(m)
		if err != nil {
			rest.WriteError(w, r, h.log, fmt.Errorf("encode manifest: %w", err))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Expires", ex.ExpiresAt.UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(append(body, '\n'))
	}
}

// progressText is the X-Progress header: short, and only about this
// export.
func progressText(ex *Export) string {
	if ex.Status == StatusAccepted {
		return "accepted, waiting to start"
	}
	var lines int64
	done := 0
	current := ""
	for _, p := range ex.Progress {
		lines += p.Lines
		if p.Done {
			done++
		} else if current == "" {
			current = p.Type
		}
	}
	s := fmt.Sprintf("in progress: %d of %d types done, %d resources written", done, len(ex.Types), lines)
	if current != "" {
		s += ", exporting " + current
	}
	return s
}

func (h *Handler) cancel(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ex, err := h.lookup(r)
	if err == nil {
		err = authorizeStatus(actor.From(ctx), ex)
	}
	if err == nil && h.gone(ex) {
		err = apperr.New(apperr.NotFound, "export not found")
	}
	if err != nil {
		rest.WriteError(w, r, h.log, err)
		return
	}
	// A running job checkpoints concurrently; on a version clash, read the
	// export again and retry.
	for range 5 {
		err = h.d.Tx.InTx(ctx, func(ctx context.Context) error {
			now := h.cfg.Now()
			ex.Status, ex.CompletedAt, ex.ExpiresAt = StatusCancelled, now, now
			if err := h.d.Store.UpdateExport(ctx, ex); err != nil {
				return err
			}
			return h.d.Audit.Record(ctx, audit.Change{Type: audit.ExportCancelled, Subject: audit.Ref("Export", ex.ID),
				Comment: fmt.Sprintf("bulk export %s cancelled", ex.ID)})
		})
		if !apperr.Is(err, apperr.Conflict) {
			break
		}
		if ex, err = h.d.Store.GetExport(ctx, ex.ID); err != nil {
			break
		}
		if h.gone(ex) {
			err = apperr.New(apperr.NotFound, "export not found")
			break
		}
	}
	if err != nil {
		rest.WriteError(w, r, h.log, err)
		return
	}
	// Files go now; a job still running removes what it writes after this
	// once it sees the cancel, and the cleanup job removes the row.
	if err := h.d.Blobs.DeletePrefix(ctx, prefix(ex.ID)); err != nil {
		h.log.ErrorContext(ctx, "delete files of a cancelled export", slog.String("export", ex.ID), slog.Any("err", err))
	}
	rest.WriteOutcome(w, http.StatusAccepted, fhir.NewOperationOutcome("information", "informational", "the export has been cancelled and its files deleted"))
}

func (h *Handler) file(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a := actor.From(ctx)
	ex, err := h.lookup(r)
	if err == nil {
		err = authorizeOwner(a, ex)
	}
	if err == nil && (h.gone(ex) || ex.Status != StatusCompleted) {
		err = apperr.New(apperr.NotFound, "file not found")
	}
	var f *File
	isError := false
	if err == nil {
		name := r.PathValue("name")
		for li, list := range [][]File{ex.Output, ex.Errors} {
			for i := range list {
				if list[i].Name == name {
					f, isError = &list[i], li == 1
				}
			}
		}
		if f == nil {
			err = apperr.New(apperr.NotFound, "file not found")
		}
	}
	if err == nil {
		err = authorizeFile(a, ex, f, isError)
	}
	if err != nil {
		rest.WriteError(w, r, h.log, err)
		return
	}
	rc, info, err := h.d.Blobs.Open(ctx, f.Key)
	if err != nil {
		if apperr.Is(err, apperr.NotFound) {
			err = apperr.New(apperr.NotFound, "file not found")
		}
		rest.WriteError(w, r, h.log, err)
		return
	}
	defer rc.Close()
	// The download is a read of patient data: it is audited before a byte
	// is sent, and refused if the audit cannot be written.
	if err := h.d.Audit.Record(ctx, audit.Change{Type: audit.ExportDownloaded, Subject: audit.Ref("Export", ex.ID),
		Fields:  map[string]any{"file": f.Name, "count": f.Count, "type": f.Type},
		Comment: fmt.Sprintf("bulk export %s: file %s downloaded (%d %s resources)", ex.ID, f.Name, f.Count, f.Type)}); err != nil {
		rest.WriteError(w, r, h.log, err)
		return
	}
	w.Header().Set("Content-Type", OutputFormat)
	w.Header().Set("Cache-Control", "private, no-store")
	http.ServeContent(w, r, "", info.ModTime, rc)
}

// retryAfter is RetryAfter in whole seconds, at least one.
func (h *Handler) retryAfter() string {
	return strconv.Itoa(max(1, int(h.cfg.RetryAfter.Seconds())))
}

// pollAfter is the Retry-After of a running export's status: the largest
// power of two seconds not above the export's age, at least 1s and at most
// RetryAfter. A small export is followed within a second or two of its end,
// and a long one is polled about as often as it has been running, so the
// polls of any export stay logarithmic in its length until the cap.
func (h *Handler) pollAfter(ex *Export) time.Duration {
	elapsed := h.cfg.Now().Sub(ex.CreatedAt)
	d := time.Second
	for d*2 <= elapsed && d*2 <= h.cfg.RetryAfter {
		d *= 2
	}
	if elapsed >= h.cfg.RetryAfter {
		d = h.cfg.RetryAfter
	}
	return max(time.Second, d.Truncate(time.Second))
}
