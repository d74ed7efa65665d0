package console

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"ward/internal/store"
)

// pageSize is how many rows a console list shows at once.
const pageSize = 25

// listPage reads the page a list request asks for: ?after= is the cursor
// the service returned for the previous page (opaque to the console).
func listPage(r *http.Request) store.Page {
	p := store.Page{Limit: pageSize, After: r.URL.Query().Get("after")}
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 && n <= 200 {
		p.Limit = n
	}
	return p
}

// pager is the paging links under a list: the next page when the service
// says there is one, and the first page when this is not it. Every list in
// the console uses it, so every list pages the same way.
type pager struct {
	Next  string
	First string
}

// newPager builds the links for the list r showed, keeping its filters.
func newPager(r *http.Request, next string) pager {
	var p pager
	q := r.URL.Query()
	q.Del("done")
	if next != "" {
		q.Set("after", next)
		p.Next = r.URL.Path + "?" + q.Encode()
	}
	if r.URL.Query().Get("after") != "" {
		q.Del("after")
		p.First = r.URL.Path
		if enc := q.Encode(); enc != "" {
			p.First += "?" + enc
		}
	}
	return p
}

// funcs are the template helpers every console page may use.
var funcs = map[string]any{
	// when formats a time for people: UTC, to the minute.
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return "—"
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		case *time.Time:
			if v == nil || v.IsZero() {
				return "—"
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		default:
			return "—"
		}
	},
	// pathEscape escapes one path segment (a client id, a name).
	"pathEscape": url.PathEscape,
}
