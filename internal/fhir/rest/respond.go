package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"ward/internal/apperr"
	"ward/internal/fhir"
	"ward/internal/fhir/search"
	"ward/internal/httpauth"
)

// ContentType is the media type of every FHIR JSON body ward writes.
const ContentType = "application/fhir+json"

// contentTypeHeader is ContentType with its charset, as R4 §3.1.0.1.11
// recommends.
const contentTypeHeader = ContentType + "; charset=utf-8"

// WriteJSON answers with status and v as FHIR JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Every value ward writes is its own struct; failing to encode one
		// is a programming error, reported as such rather than half-sent.
		WriteOutcome(w, http.StatusInternalServerError,
			fhir.NewOperationOutcome("fatal", "exception", "the response could not be encoded"))
		return
	}
	w.Header().Set("Content-Type", contentTypeHeader)
	if w.Header().Get("Cache-Control") == "" {
		// Search results carry health data as reads do (WriteResource).
		w.Header().Set("Cache-Control", "no-store")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// WriteOutcome answers with status and an OperationOutcome.
func WriteOutcome(w http.ResponseWriter, status int, oo *fhir.OperationOutcome) {
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ward"`)
	}
	WriteJSON(w, status, oo)
}

// WriteError answers err as an OperationOutcome with the status of its
// apperr kind. A search-parameter error names every refused parameter, one
// issue each. Internal errors are logged with their cause and answered
// with a generic message.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if errors.Is(err, errTimedOut) || errors.Is(err, os.ErrDeadlineExceeded) {
		// The rest of the body is not waited for: the connection closes.
		w.Header().Set("Connection", "close")
		WriteOutcome(w, http.StatusRequestTimeout, fhir.NewOperationOutcome("error", "timeout", errTimedOut.Error()))
		return
	}
	k := apperr.KindOf(err)
	status := httpauth.StatusOf(k)
	if status == http.StatusInternalServerError {
		if log != nil {
			log.ErrorContext(r.Context(), "fhir request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		WriteOutcome(w, status, fhir.NewOperationOutcome("error", "exception", "internal error; the problem has been logged"))
		return
	}
	if issues := search.Issues(err); len(issues) > 0 {
		oo := &fhir.OperationOutcome{}
		for _, is := range issues {
			oo.Issue = append(oo.Issue, fhir.OperationOutcomeIssue{
				Severity: "error", Code: "invalid", Diagnostics: fmt.Sprintf("parameter %q: %s", is.Param, is.Reason), Expression: []string{is.Param},
			})
		}
		WriteOutcome(w, status, oo)
		return
	}
	if k == apperr.RateLimited && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "10")
	}
	if k == apperr.Unavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", httpauth.RetryAfterUnavailable)
	}
	WriteOutcome(w, status, fhir.OutcomeFromError(err))
}

// ETag is the weak entity tag of a resource version, as R4 §3.1.0.5.4
// writes it.
func ETag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// WriteResource answers a read: the resource with its ETag and
// Last-Modified, or 304 when the caller's If-None-Match already names this
// version (a conditional read, R4 §3.1.0.5.5).
func WriteResource(w http.ResponseWriter, r *http.Request, status int, res any, version int64, updated time.Time) {
	etag := ETag(version)
	w.Header().Set("ETag", etag)
	if !updated.IsZero() {
		w.Header().Set("Last-Modified", updated.UTC().Format(http.TimeFormat))
	}
	// Health data is stored in no cache, not even the caller's own (a
	// shared computer's browser, an app's disk cache); a caller holding a
	// copy may still ask If-None-Match.
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusOK && etagMatches(r.Header.Get("If-None-Match"), version) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	WriteJSON(w, status, res)
}

// etagMatches reports whether an If-None-Match header names version, in
// weak comparison (RFC 9110 §13.1.2), so W/"3" and "3" both match.
func etagMatches(header string, version int64) bool {
	if header == "" {
		return false
	}
	want := strconv.FormatInt(version, 10)
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" {
			return true
		}
		tag = strings.TrimPrefix(tag, "W/")
		if strings.Trim(tag, `"`) == want {
			return true
		}
	}
	return false
}

// IfMatchVersion reads an If-Match header (a version-aware update, R4
// §3.1.0.5.3): 0 when absent, else the version it names.
func IfMatchVersion(r *http.Request) (int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(h, "W/"), `"`), 10, 64)
	if err != nil || v <= 0 {
		return 0, apperr.New(apperr.Invalid, "If-Match must be an ETag such as W/\"3\"")
	}
	return v, nil
}

// DefaultMaxBody is the largest FHIR JSON body ward reads unless
// Deps.MaxBody says otherwise: every resource, a DocumentReference with
// inline content and a FHIR JSON Binary included. Decoding JSON takes
// several times the body's size in memory, so large content goes up as a
// raw Binary instead, which streams to the blob store.
const DefaultMaxBody = 1 << 20

// JSONType reports whether a Content-Type names FHIR JSON (or plain JSON):
// a body of such a type is a resource, held to the JSON limit; a Binary
// upload of any other type is raw content, streamed.
func JSONType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == ContentType || mt == "application/json" || mt == "application/json+fhir")
}

// ReadBody reads a FHIR JSON request body of at most limit bytes. The
// media type must be FHIR's or plain JSON; anything else is refused before
// the body is read.
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	if err := checkJSONContentType(r.Header.Get("Content-Type")); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLargeBody(mbe.Limit)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, errTimedOut
		}
		return nil, apperr.Wrap(apperr.Invalid, err, "the request body could not be read")
	}
	if int64(len(body)) > limit {
		return nil, tooLargeBody(limit)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, apperr.New(apperr.Invalid, "the request body is empty")
	}
	if HasBadJSONText(body) {
		return nil, apperr.New(apperr.Invalid, "the JSON body contains a NUL byte or is not valid UTF-8")
	}
	return body, nil
}

// HasBadJSONText reports whether a JSON text is not valid UTF-8 (RFC 8259
// §8.1 requires it; encoding/json would silently replace the bytes) or
// holds a NUL, raw or as the escape \u0000, which decodes to one: text no
// database column can take (PostgreSQL refuses both, SQLSTATE 22021).
func HasBadJSONText(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 || !utf8.Valid(b) {
		return true
	}
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\\')
		if j < 0 {
			return false
		}
		i += j
		// A backslash appears only inside strings, as an escape; the
		// escaped character is skipped so "\\u0000" (a backslash, then
		// text) is not mistaken for the escape.
		if i+5 < len(b) && b[i+1] == 'u' && string(b[i+2:i+6]) == "0000" {
			return true
		}
		i += 2
		if i >= len(b) {
			return false
		}
	}
}

// tooLargeBody is the 413 for a JSON body over the limit, with the way
// round it.
func tooLargeBody(limit int64) error {
	return apperr.New(apperr.TooLarge, "the request body is larger than %d bytes; send large document content as a raw Binary upload (POST /fhir/Binary with the content's own Content-Type)", limit)
}

// errTimedOut marks a body that did not arrive within the connection's
// read deadline; WriteError answers it 408.
var errTimedOut = errors.New("the request body did not arrive in time")

func checkJSONContentType(ct string) error {
	if ct == "" {
		return apperr.New(apperr.Invalid, "Content-Type must be %s", ContentType)
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return apperr.New(apperr.Invalid, "Content-Type %q is not a media type", ct)
	}
	switch mt {
	case ContentType, "application/json", "application/json+fhir":
		return nil
	}
	return apperr.New(apperr.Invalid, "Content-Type must be %s, not %s", ContentType, mt)
}

// Location is the versioned URL of a created or updated resource.
func Location(base, typ, id string, version int64) string {
	return fmt.Sprintf("%s/%s/%s/_history/%d", base, typ, id, version)
}
