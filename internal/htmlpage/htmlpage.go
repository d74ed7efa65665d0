// Package htmlpage writes ward's server-rendered pages (the sign-in and
// consent pages, the admin console) the one way they must all be written:
// the template runs into a buffer first, so a template error becomes a
// clean 500 rather than half a page, and every page carries its
// Content-Security-Policy and is kept by no cache.
package htmlpage

import (
	"bytes"
	"html/template"
	"log/slog"
	"net/http"
)

// Write executes tmpl's "layout" template with data and writes it with
// status and csp. A template error is logged with page and answered 500.
func Write(w http.ResponseWriter, r *http.Request, log *slog.Logger, tmpl *template.Template, page string, status int, csp string, data any) {
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, "layout", data); err != nil {
		log.ErrorContext(r.Context(), "render page", "page", page, "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("internal error\n"))
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", csp)
	// Pages show personal data; no shared or browser cache may keep them.
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
