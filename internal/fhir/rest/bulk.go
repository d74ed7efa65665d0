package rest

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"ward/internal/apperr"
	"ward/internal/bulk"
	"ward/internal/fhir"
)

// BulkConfig tunes the BulkHandler. Zero fields take the defaults.
type BulkConfig struct {
	// BaseURL is the public FHIR base ("https://ward.example/fhir"), for
	// the status and file URLs. Required.
	BaseURL string
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

// BulkHandler serves the Bulk Data endpoints under /fhir: the protocol of
// the export bulk.Service, which decides and writes.
type BulkHandler struct {
	svc *bulk.Service
	cfg BulkConfig
	log *slog.Logger
}

// NewBulkHandler wires a BulkHandler.
func NewBulkHandler(svc *bulk.Service, cfg BulkConfig) (*BulkHandler, error) {
	if svc == nil {
		return nil, errors.New("bulk: the handler needs the export service")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bulk: base URL %q is not an absolute http(s) URL", cfg.BaseURL)
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
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
	return &BulkHandler{svc: svc, cfg: cfg, log: cfg.Logger.With(slog.String("component", "bulk"))}, nil
}

// Mount registers the endpoints, each with its exact method and path.
func (h *BulkHandler) Mount(mux *http.ServeMux) {
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		mux.HandleFunc(m+" /fhir/$export", func(w http.ResponseWriter, r *http.Request) { h.kickOff(w, r, bulk.LevelSystem, "") })
		mux.HandleFunc(m+" /fhir/Patient/$export", func(w http.ResponseWriter, r *http.Request) { h.kickOff(w, r, bulk.LevelPatient, "") })
		mux.HandleFunc(m+" /fhir/Group/{id}/$export", func(w http.ResponseWriter, r *http.Request) {
			h.kickOff(w, r, bulk.LevelGroup, r.PathValue("id"))
		})
	}
	mux.HandleFunc("GET /fhir/$bulkdata-status/{id}", h.status)
	mux.HandleFunc("DELETE /fhir/$bulkdata-status/{id}", h.cancel)
	mux.HandleFunc("GET /fhir/$bulkdata-file/{id}/{name}", h.file)
}

func (h *BulkHandler) statusURL(id string) string { return h.cfg.BaseURL + "/$bulkdata-status/" + id }

func (h *BulkHandler) fileURL(id, name string) string {
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
			if err == nil && mt == ContentType {
				return true
			}
		}
	}
	return false
}

func (h *BulkHandler) kickOff(w http.ResponseWriter, r *http.Request, level bulk.Level, groupID string) {
	ctx := r.Context()
	if err := h.svc.MayKickOff(ctx, level); err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	async, lenient := preferences(r)
	if !async {
		WriteError(w, r, h.log, apperr.New(apperr.Invalid, "a bulk export kick-off needs the header Prefer: respond-async"))
		return
	}
	if !acceptsFHIRJSON(r) {
		WriteError(w, r, h.log, apperr.New(apperr.Invalid, "a bulk export kick-off answers only %s; set Accept to it", ContentType))
		return
	}
	values, patients := r.URL.Query(), []string(nil)
	if r.Method == http.MethodPost {
		if r.URL.RawQuery != "" {
			WriteError(w, r, h.log, apperr.New(apperr.Invalid, "a POST kick-off takes its parameters in the Parameters body, not the URL"))
			return
		}
		body, err := ReadBody(r, h.cfg.MaxBody)
		if err != nil {
			WriteError(w, r, h.log, err)
			return
		}
		if values, patients, err = bulk.DecodeParameters(body); err != nil {
			WriteError(w, r, h.log, err)
			return
		}
	}
	ex, ignored, err := h.svc.KickOff(ctx, bulk.KickOff{
		Level: level, GroupID: groupID, Values: values, Patients: patients, Lenient: lenient, RequestURL: h.requestURL(r),
	})
	if err != nil {
		if apperr.Is(err, apperr.RateLimited) {
			w.Header().Set("Retry-After", h.retryAfter())
		}
		WriteError(w, r, h.log, err)
		return
	}
	w.Header().Set("Content-Location", h.statusURL(ex.ID))
	msg := "the export has been accepted; poll the Content-Location for its status"
	if len(ignored) > 0 {
		names := make([]string, len(ignored))
		for i, ig := range ignored {
			names[i] = ig.Name
		}
		msg += "; ignored parameters (also in the manifest's error file): " + strings.Join(names, ", ")
	}
	WriteOutcome(w, http.StatusAccepted, fhir.NewOperationOutcome("information", "informational", msg))
}

// requestURL is the kick-off URL under the public base (a POST's
// parameters are in its body, so it has none).
func (h *BulkHandler) requestURL(r *http.Request) string {
	u := h.cfg.BaseURL + strings.TrimPrefix(r.URL.Path, "/fhir")
	if r.Method == http.MethodGet && r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	return u
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

func (h *BulkHandler) status(w http.ResponseWriter, r *http.Request) {
	ex, err := h.svc.Status(r.Context(), r.PathValue("id"))
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	switch ex.Status {
	case bulk.StatusAccepted, bulk.StatusInProgress:
		w.Header().Set("X-Progress", progressText(ex))
		w.Header().Set("Retry-After", strconv.Itoa(int(h.pollAfter(ex)/time.Second)))
		w.WriteHeader(http.StatusAccepted)
	case bulk.StatusFailed:
		WriteOutcome(w, http.StatusInternalServerError, fhir.NewOperationOutcome("error", "exception", ex.Failure))
	case bulk.StatusCompleted:
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
			WriteError(w, r, h.log, fmt.Errorf("encode manifest: %w", err))
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
func progressText(ex *bulk.Export) string {
	if ex.Status == bulk.StatusAccepted {
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

func (h *BulkHandler) cancel(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.Cancel(r.Context(), r.PathValue("id")); err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	WriteOutcome(w, http.StatusAccepted, fhir.NewOperationOutcome("information", "informational", "the export has been cancelled and its files deleted"))
}

func (h *BulkHandler) file(w http.ResponseWriter, r *http.Request) {
	rc, info, err := h.svc.OpenFile(r.Context(), r.PathValue("id"), r.PathValue("name"))
	if err != nil {
		WriteError(w, r, h.log, err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", bulk.OutputFormat)
	w.Header().Set("Cache-Control", "private, no-store")
	http.ServeContent(w, r, "", info.ModTime, rc)
}

// retryAfter is RetryAfter in whole seconds, at least one.
func (h *BulkHandler) retryAfter() string {
	return strconv.Itoa(max(1, int(h.cfg.RetryAfter.Seconds())))
}

// pollAfter is the Retry-After of a running export's status: the largest
// power of two seconds not above the export's age, at least 1s and at most
// RetryAfter. A small export is followed within a second or two of its end,
// and a long one is polled about as often as it has been running, so the
// polls of any export stay logarithmic in its length until the cap.
func (h *BulkHandler) pollAfter(ex *bulk.Export) time.Duration {
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
