package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"ward/internal/fhir"
	"ward/internal/fhir/rest"
	"ward/internal/httpauth"
	"ward/internal/idpcompat"
	"ward/internal/oauth"
)

// dataHeaders are the request headers whose values ward reads as data (looks
// up, compares or stores), so they are held to the same rule as the URL.
// Other headers (User-Agent and the like) are only logged or ignored, and may
// carry legacy bytes; so may the cookies of other sites on the same host
// (net/http drops a cookie value with such bytes, so ward's session cookie
// never carries them). HTTP Basic credentials are checked decoded
// (badBasic).
var dataHeaders = []string{
	"Authorization", "If-Match", "If-None-Match", "X-Security-Context", "Prefer", "X-Auth-Token",
}

// rejectBadText refuses, with 400 in the error format of the API the path
// belongs to, a request whose text holds a NUL byte or is not valid UTF-8:
// in the path, a query parameter, a data header, a form field or a JSON
// body. PostgreSQL cannot store either in a text column (SQLSTATE 22021)
// and SQLite would keep them verbatim, so such input is refused at the edge,
// the same way on both databases, before any handler reads it.
//
// Form and JSON bodies are read here (within limitBody's cap, so a body too
// large is a 413 in the API's format) and handed on from memory.
func (s *Server) rejectBadText(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if where := badRequestText(r); where != "" {
			s.refuseInput(w, r, http.StatusBadRequest, where+" contains a NUL byte or is not valid UTF-8")
			return
		}
		kind := bodyKind(r)
		if kind == bodyOther {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				s.refuseInput(w, r, http.StatusRequestEntityTooLarge,
					fmt.Sprintf("request body is larger than %d bytes", tooLarge.Limit))
				return
			}
			if timedOut(err) {
				// The connection is closed after this answer: the rest of
				// the body is not waited for.
				w.Header().Set("Connection", "close")
				s.refuseInput(w, r, http.StatusRequestTimeout, "the request body did not arrive in time")
				return
			}
			s.refuseInput(w, r, http.StatusBadRequest, "the request body could not be read")
			return
		}
		if where := badBodyText(r, kind, body); where != "" {
			s.refuseInput(w, r, http.StatusBadRequest, where+" contains a NUL byte or is not valid UTF-8")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// badText reports whether s holds a NUL byte or invalid UTF-8 (overlong
// forms and surrogates included: utf8.ValidString refuses both).
func badText(s string) bool {
	return strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s)
}

// badRequestText names the part of the request line or headers that holds
// bad text, or returns "".
func badRequestText(r *http.Request) string {
	if badText(r.URL.Path) {
		return "the path"
	}
	if where := badPairs("query parameter", r.URL.RawQuery); where != "" {
		return where
	}
	for _, name := range dataHeaders {
		for _, v := range r.Header.Values(name) {
			if badText(v) {
				return "header " + name
			}
		}
	}
	if badBasic(r) {
		return "the Basic credentials"
	}
	return ""
}

// badBasic reports whether HTTP Basic credentials decode to bad text: the
// token endpoint looks the client_id up, form-decoded (RFC 6749 §2.3.1).
func badBasic(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	for _, s := range []string{user, pass} {
		if badText(s) {
			return true
		}
		if u, err := url.QueryUnescape(s); err == nil && badText(u) {
			return true
		}
	}
	return false
}

// badPairs checks the keys and values of an application/x-www-form-urlencoded
// string (a query or a form body) one pair at a time, as url.ParseQuery
// splits it: a pair that does not decode is skipped here because the parser
// skips it too, and must not shield a bad pair beside it.
func badPairs(what, raw string) string {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			continue
		}
		if badText(key) {
			return "a " + what + " name"
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			continue
		}
		if badText(val) {
			return fmt.Sprintf("%s %q", what, key)
		}
	}
	return ""
}

type bodyType int

const (
	bodyOther bodyType = iota // binary content: not text, passed through unread
	bodyForm
	bodyMultipart
	bodyJSON
	bodyText // any other type sent where no binary content is taken
)

// bodyKind says how a request body is read as text. JSON is also assumed
// when no type is given, as the management API does. A body of another type
// is still held to be text, so a handler that reads it whatever its
// declared type cannot be handed bad text. The document uploads are passed
// on unread: they may be binary, and are far larger than other bodies, so
// the handler decides on access before reading them (rest.ReadBody checks
// their JSON then); reading them here would buffer them for anyone.
func bodyKind(r *http.Request) bodyType {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 || uploadPath(r) {
		return bodyOther
	}
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(ct))
	}
	switch {
	case mt == "application/x-www-form-urlencoded":
		return bodyForm
	case mt == "multipart/form-data":
		return bodyMultipart
	case mt == "", mt == "application/json", mt == "text/json",
		strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"):
		return bodyJSON
	}
	return bodyText
}

// badBodyText names the part of a form or JSON body that holds bad text, or
// returns "".
func badBodyText(r *http.Request, kind bodyType, body []byte) string {
	switch kind {
	case bodyForm:
		return badPairs("form field", string(body))
	case bodyMultipart:
		_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || params["boundary"] == "" {
			return "" // the handler refuses a form it cannot parse
		}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				return ""
			}
			if badText(p.FormName()) {
				return "a form field name"
			}
			if p.FileName() != "" {
				continue // file content is data, not text
			}
			v, err := io.ReadAll(p)
			if err != nil {
				return ""
			}
			if badText(string(v)) {
				return fmt.Sprintf("form field %q", p.FormName())
			}
		}
	case bodyJSON:
		if rest.HasBadJSONText(body) {
			return "the JSON body"
		}
	case bodyText:
		if badText(string(body)) {
			return "the request body"
		}
	}
	return ""
}

// refuseInput answers bad input before it reaches a handler, in the error
// format of the API the path belongs to: OperationOutcome for FHIR,
// problem+json for the management API, RFC 6749 JSON for the OAuth
// endpoints a client calls, and a page for what a browser shows (the
// sign-in form, the authorize and sign-out pages). detail must be safe to
// show.
func (s *Server) refuseInput(w http.ResponseWriter, r *http.Request, status int, detail string) {
	path := r.URL.Path
	switch {
	case isFHIR(path):
		code := "invalid"
		if status == http.StatusRequestEntityTooLarge {
			code = "too-costly"
		}
		rest.WriteOutcome(w, status, fhir.NewOperationOutcome("error", code, detail))
	case strings.HasPrefix(path, idpcompat.Prefix):
		idpcompat.WriteError(w, status, detail)
	case strings.HasPrefix(path, "/api/"):
		httpauth.WriteProblem(w, status, detail)
	case path == oauth.PathAuthorize || path == oauth.PathEndSession:
		// The redirect URI of a request this broken cannot be trusted:
		// the error is shown, never redirected (RFC 6749 §4.1.2.1).
		s.pages.Error(w, r, status, http.StatusText(status), "The request could not be read: "+detail+".")
	case strings.HasPrefix(path, "/oauth/") || strings.HasPrefix(path, "/.well-known/"):
		writeOAuthError(w, status, detail)
	default:
		s.pages.BadInput(w, r, status, "The request could not be read: "+detail+".")
	}
}

// writeOAuthError answers in RFC 6749 §5.2's format.
func writeOAuthError(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, map[string]string{"error": "invalid_request", "error_description": detail})
}
