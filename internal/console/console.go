// Package console is ward's admin console: server-rendered pages under
// /admin for administrators, staff administrators and application
// developers. It is a face on the same domain services the management API
// calls, with the signed-in person as the actor, so every refusal comes from
// the services (and the directory's one permission function) and the
// console never decides on its own who may do what. Which sections the
// navigation lists is presentation only: a section hidden from someone is
// still refused by its service if they type its address.
//
// Pages are html/template with embedded templates and the site's one
// stylesheet; there is no script, so the strict Content-Security-Policy of
// the rest of ward holds, and every form works as a plain form post (a
// state change answers 303 to the page that shows the result).
package console

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/bulk"
	"ward/internal/client"
	"ward/internal/connector"
	"ward/internal/directory"
	"ward/internal/htmlpage"
	"ward/internal/httpauth"
	"ward/internal/intervention"
	"ward/internal/jobs"
	"ward/internal/oauth"
	"ward/internal/session"
	"ward/internal/webhook"
)

//go:embed templates/*.html
var templateFiles embed.FS

// CSP is the Content-Security-Policy of every console page: the site's
// stylesheet and images only, no script, forms post back to ward only, no
// framing.
const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// Deps are the services the console drives. Each may be nil in a test
// that does not reach its pages; a page whose service is missing answers
// 404 like any unknown page.
type Deps struct {
	Directory     *directory.Service
	Sessions      *session.Service
	Clients       *client.Service
	OAuth         *oauth.Provider
	Audit         *audit.Log
	Interventions *intervention.Service
	Exports       *bulk.Service
	Webhooks      *webhook.Service
	Connectors    *connector.Service
	// Jobs is River's runner, whose queue health the home page shows.
	Jobs *jobs.Runner
	// OpenAPI returns the management API's OpenAPI document (JSON), which
	// /api/docs renders.
	OpenAPI func() ([]byte, error)
	// CSRF guards every form post (the server's cross-origin protection).
	CSRF   *http.CrossOriginProtection
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Handler serves the console.
type Handler struct {
	d     Deps
	pages map[string]*template.Template
	// docs is /api/docs' data, built on the first request: the
	// document is complete once the server serves and never changes, and
	// the page is open to anyone, so no visitor makes ward redo the work.
	docs func() (apiDocsPage, error)
}

// New parses the templates and returns the handler.
func New(d Deps) (*Handler, error) {
	if d.Directory == nil {
		return nil, errors.New("console: Directory is required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.CSRF == nil {
		d.CSRF = http.NewCrossOriginProtection()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	h := &Handler{d: d, pages: map[string]*template.Template{}}
	h.docs = sync.OnceValues(func() (apiDocsPage, error) {
		raw, err := h.d.OpenAPI()
		if err != nil {
			return apiDocsPage{}, fmt.Errorf("the OpenAPI document: %w", err)
		}
		return buildAPIDocs(raw)
	})
	// Every template but the layout is a page, parsed with the layout into
	// its own set, so pages may reuse block names; "x.html" renders as "x".
	files, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console: list templates: %w", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", f)
		if err != nil {
			return nil, fmt.Errorf("console: parse template %s: %w", name, err)
		}
		h.pages[name] = t
	}
	return h, nil
}

// Mount registers the console's pages on mux. Every page goes through
// h.page (GET) or h.form (POST), which let only a signed-in browser
// session in.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.Handle("GET /admin", h.page(h.home))
	h.mountAudit(mux)
	h.mountWebhooks(mux)
	h.mountAPIDocs(mux)
	h.mountExports(mux)
	h.mountConnectors(mux)
	mux.Handle("GET /admin/{$}", http.RedirectHandler("/admin", http.StatusMovedPermanently))
	h.mountOrganizations(mux)
	h.mountInterventions(mux)
	h.mountPeople(mux)
	h.mountClients(mux)
	h.mountTokens(mux)
	// Anything else under /admin that no page claims: the console's 404.
	mux.Handle("/admin/", h.page(func(w http.ResponseWriter, r *http.Request, rq *request) {
		h.notFound(w, r, rq)
	}))
	// The reference's and other consoles' paths lead to the pages here.
	for from, to := range map[string]string{"/users": "/admin/people", "/clients": "/admin/clients", "/audit": "/admin/audit"} {
		mux.Handle("GET "+from, http.RedirectHandler(to, http.StatusSeeOther))
	}
}

// request is what every console handler knows of the signed-in person.
type request struct {
	Me    *directory.User
	Roles []string
	// Nav is the navigation the layout shows, Active the current section.
	Nav    []navItem
	Active string
}

// handlerFunc is a console page: the usual pair and the signed-in person.
type handlerFunc func(w http.ResponseWriter, r *http.Request, rq *request)

// page wraps a GET page: anonymous browsers go to sign in and back; bearer
// tokens are refused (the console is for people at a browser, and a token
// scoped for an app must not reach it); everyone else gets the page, whose
// services decide what they may see.
func (h *Handler) page(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rq, ok := h.enter(w, r)
		if !ok {
			return
		}
		fn(w, r, rq)
	})
}

// form wraps a POST: the cross-origin check, then as page.
func (h *Handler) form(fn handlerFunc) http.Handler {
	return h.d.CSRF.Handler(h.page(func(w http.ResponseWriter, r *http.Request, rq *request) {
		if err := r.ParseForm(); err != nil {
			h.formError(w, r, rq, err)
			return
		}
		fn(w, r, rq)
	}))
}

func (h *Handler) enter(w http.ResponseWriter, r *http.Request) (*request, bool) {
	a := actor.From(r.Context())
	if a.Anonymous() {
		next := r.URL.RequestURI()
		if r.Method != http.MethodGet {
			next = "/admin"
		}
		http.Redirect(w, r, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
		return nil, false
	}
	if a.UserID == 0 || a.ClientID != "" || a.Scopes != nil {
		h.render(w, r, nil, http.StatusForbidden, "error", errorPage{Title: "Forbidden",
			Message: "The admin console is for people signed in with a browser; use the management API with a token."})
		return nil, false
	}
	me, err := h.d.Directory.Me(r.Context())
	if err != nil {
		h.fail(w, r, nil, fmt.Errorf("load the signed-in person: %w", err))
		return nil, false
	}
	roles, err := h.d.Directory.UserRoles(r.Context(), me.ID)
	if err != nil {
		h.fail(w, r, nil, fmt.Errorf("load the roles of user %d: %w", me.ID, err))
		return nil, false
	}
	rq := &request{Me: me, Roles: roles}
	rq.Nav, rq.Active = h.nav(roles, r.URL.Path)
	return rq, true
}

// navItem is one link of the console's navigation.
type navItem struct {
	Path  string
	Label string
}

// section is a part of the console and the roles whose services give them
// anything there: it decides only what the navigation lists.
type section struct {
	navItem
	roles []string
	// needs reports whether the section's service is wired.
	needs func(d *Deps) bool
}

var sections = []section{
	{navItem{"/admin", "Home"}, nil, nil},
	{navItem{"/admin/people", "People"}, []string{directory.RoleAdmin, directory.RoleStaffAdmin}, nil},
	{navItem{"/admin/organizations", "Organizations"}, []string{directory.RoleAdmin}, nil},
	{navItem{"/admin/clients", "API clients"}, []string{directory.RoleAdmin, directory.RoleApplicationDeveloper},
		func(d *Deps) bool { return d.Clients != nil }},
	{navItem{"/admin/tokens", "Token tools"}, []string{directory.RoleAdmin, directory.RoleApplicationDeveloper},
		func(d *Deps) bool { return d.OAuth != nil }},
	{navItem{"/admin/interventions", "Interventions"}, []string{directory.RoleAdmin},
		func(d *Deps) bool { return d.Interventions != nil }},
	{navItem{"/admin/audit", "Audit log"}, []string{directory.RoleAdmin}, func(d *Deps) bool { return d.Audit != nil }},
	{navItem{"/admin/exports", "Bulk exports"}, []string{directory.RoleAdmin}, func(d *Deps) bool { return d.Exports != nil }},
	{navItem{"/admin/webhooks", "Webhooks"}, []string{directory.RoleAdmin}, func(d *Deps) bool { return d.Webhooks != nil }},
	{navItem{"/admin/connectors", "Connectors"}, []string{directory.RoleAdmin}, func(d *Deps) bool { return d.Connectors != nil }},
	{navItem{"/api/docs", "API docs"}, nil, func(d *Deps) bool { return d.OpenAPI != nil }},
}

// nav lists the sections for roles and names the one path is in.
func (h *Handler) nav(roles []string, path string) ([]navItem, string) {
	var items []navItem
	active := ""
	for _, s := range sections {
		if s.needs != nil && !s.needs(&h.d) {
			continue
		}
		if s.roles != nil && !slices.ContainsFunc(s.roles, func(r string) bool { return slices.Contains(roles, r) }) {
			continue
		}
		items = append(items, s.navItem)
		if path == s.Path || (s.Path != "/admin" && strings.HasPrefix(path, s.Path+"/")) {
			active = s.Path
		}
	}
	return items, active
}

// view is what the layout renders: the chrome, then the page's own data.
type view struct {
	Title  string
	Me     *directory.User
	Nav    []navItem
	Active string
	// Notice is a one-line confirmation of the change just made.
	Notice string
	Data   any
}

// titled is implemented by page data that names its page.
type titled interface{ PageTitle() string }

// render executes page into a buffer first, so a template error becomes a
// clean 500 rather than half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, rq *request, status int, page string, data any) {
	v := view{Data: data, Notice: notices[r.URL.Query().Get("done")]}
	if t, ok := data.(titled); ok {
		v.Title = t.PageTitle()
	}
	if rq != nil {
		v.Me, v.Nav, v.Active = rq.Me, rq.Nav, rq.Active
	}
	tmpl, ok := h.pages[page]
	if !ok {
		h.d.Logger.ErrorContext(r.Context(), "console: no such page template", "page", page)
		tmpl, v.Data, status = h.pages["error"], errorPage{Title: "Something went wrong", Message: "ward could not draw this page. The problem has been logged."}, http.StatusInternalServerError
	}
	htmlpage.Write(w, r, h.d.Logger, tmpl, page, status, CSP, v)
}

// notices are the confirmations a redirect after a change may name with
// ?done=KEY; only these fixed texts are ever shown, so the query cannot
// inject words into the page.
var notices = map[string]string{}

// addNotices registers confirmations; each page file adds its own in an
// init function.
func addNotices(m map[string]string) {
	for k, v := range m {
		if _, dup := notices[k]; dup {
			panic("console: notice registered twice: " + k)
		}
		notices[k] = v
	}
}

// done redirects (303) to path with the confirmation key.
func done(w http.ResponseWriter, r *http.Request, path, key string) {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	http.Redirect(w, r, path+sep+"done="+url.QueryEscape(key), http.StatusSeeOther)
}

// errorPage is the data of the error page.
type errorPage struct {
	Title   string
	Message string
}

// PageTitle implements titled.
func (p errorPage) PageTitle() string { return p.Title }

// problem answers an error from a service: its kind picks the page, and
// its message (safe to show by apperr's contract) says what went wrong.
func (h *Handler) problem(w http.ResponseWriter, r *http.Request, rq *request, err error) {
	switch apperr.KindOf(err) {
	case apperr.Invalid:
		h.render(w, r, rq, http.StatusBadRequest, "error", errorPage{Title: "That did not work", Message: apperr.Message(err)})
	case apperr.Conflict:
		h.render(w, r, rq, http.StatusConflict, "error", errorPage{Title: "That clashes with what is there", Message: apperr.Message(err)})
	case apperr.NotFound:
		h.notFound(w, r, rq)
	case apperr.Forbidden:
		h.forbidden(w, r, rq)
	case apperr.Unauthenticated:
		http.Redirect(w, r, "/login?next="+url.QueryEscape("/admin"), http.StatusSeeOther)
	case apperr.TooLarge:
		h.render(w, r, rq, http.StatusRequestEntityTooLarge, "error", errorPage{Title: "Too large", Message: apperr.Message(err)})
	case apperr.RateLimited:
		h.render(w, r, rq, http.StatusTooManyRequests, "error", errorPage{Title: "Slow down", Message: apperr.Message(err)})
	default:
		h.fail(w, r, rq, err)
	}
}

// statusOf is the HTTP status of a refusal a page shows inline, beside the
// form the person filled, so they can correct it there; ok is false for
// what only h.problem can answer.
func statusOf(err error) (int, bool) {
	switch apperr.KindOf(err) {
	case apperr.Invalid:
		return http.StatusBadRequest, true
	case apperr.Forbidden:
		return http.StatusForbidden, true
	case apperr.Conflict:
		return http.StatusConflict, true
	case apperr.TooLarge:
		return http.StatusRequestEntityTooLarge, true
	}
	return 0, false
}

// forbidden is the console's 403 page.
func (h *Handler) forbidden(w http.ResponseWriter, r *http.Request, rq *request) {
	h.render(w, r, rq, http.StatusForbidden, "error", errorPage{Title: "Not allowed",
		Message: "Your account may not see or change this. If you need it, ask an administrator to grant you the role that does."})
}

// notFound is the console's 404 page.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request, rq *request) {
	h.render(w, r, rq, http.StatusNotFound, "error", errorPage{Title: "Not found",
		Message: "There is no such page, or what it showed no longer exists. Use the navigation to find your way."})
}

// formError answers a form that could not be read: too large, or malformed.
func (h *Handler) formError(w http.ResponseWriter, r *http.Request, rq *request, err error) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		h.render(w, r, rq, http.StatusRequestEntityTooLarge, "error",
			errorPage{Title: "Request too large", Message: "The form sent more data than ward accepts."})
		return
	}
	h.render(w, r, rq, http.StatusBadRequest, "error",
		errorPage{Title: "Bad request", Message: "The form could not be read."})
}

// fail logs an unexpected error and shows a generic page; the cause may
// name internals and is never shown.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, rq *request, err error) {
	if apperr.Is(err, apperr.Unavailable) {
		w.Header().Set("Retry-After", httpauth.RetryAfterUnavailable)
		h.render(w, r, rq, http.StatusServiceUnavailable, "error",
			errorPage{Title: "Try again in a moment", Message: "ward could not reach its database. Please try again shortly."})
		return
	}
	h.d.Logger.ErrorContext(r.Context(), "console: internal error", "err", err)
	h.render(w, r, rq, http.StatusInternalServerError, "error",
		errorPage{Title: "Something went wrong", Message: "ward could not complete the request. The problem has been logged."})
}

// pathID reads a numeric path value; ok is false (and a 404 is written)
// when it is not a positive integer.
func (h *Handler) pathID(w http.ResponseWriter, r *http.Request, rq *request, name string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		h.notFound(w, r, rq)
		return 0, false
	}
	return id, true
}
