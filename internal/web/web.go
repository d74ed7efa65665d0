// Package web is ward's server-rendered browser interface: sign-in, sign-out
// and the signed-in home page (the admin UI grows here). Pages are
// html/template with embedded templates and one embedded stylesheet; there
// is no inline script or style, so the Content-Security-Policy stays strict.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/htmlpage"
	"ward/internal/httpauth"
	"ward/internal/oauth"
	"ward/internal/oauth/scope"
	"ward/internal/session"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// CSP is the Content-Security-Policy of every page: resources from ward
// only, styles from the stylesheet only, no scripts at all, forms post only
// back to ward, and no framing (clickjacking).
const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// Sessions is what the pages need from session.Service.
type Sessions interface {
	Login(ctx context.Context, email, password string) (token string, s *session.Session, err error)
	Logout(ctx context.Context, token string) error
}

// Throttle limits failed sign-ins per client address (session.Throttle):
// Reserve before the password check, Refund after a success.
type Throttle interface {
	Reserve(ctx context.Context, addr string) (session.Verdict, error)
	Refund(ctx context.Context, addr string) error
}

// Directory is what the pages need from directory.Service.
type Directory interface {
	Me(ctx context.Context) (*directory.User, error)
	UserRoles(ctx context.Context, id int64) ([]string, error)
}

// Grants is what the pages need from the authorization server: the apps a
// person has allowed, and withdrawing one (which revokes its tokens).
type Grants interface {
	UserConsents(ctx context.Context, userID int64) ([]oauth.Authorization, error)
	WithdrawConsent(ctx context.Context, userID int64, clientID string) (*oauth.Revocation, error)
}

// Deps are the services the pages use.
type Deps struct {
	Sessions  Sessions
	Directory Directory
	// Grants, when set, lists the apps a person allowed on the signed-in
	// page, each with a button to withdraw it.
	Grants  Grants
	Cookies httpauth.Cookies
	// CSRF guards the state-changing forms; sign-in needs it even though
	// the browser has no session yet (login CSRF signs a victim into the
	// attacker's account).
	CSRF   *http.CrossOriginProtection
	Logger *slog.Logger
	// Throttle, when set, limits failed sign-ins per client address.
	Throttle Throttle
	// ClientIP names a request's client address for the throttle
	// (httpauth.ClientIP with the trusted proxies); nil means the peer's.
	ClientIP func(*http.Request) string
	// Connectors, when set, serves the priming pages of connectors
	// (/admin/connectors/{name}/connect and /callback).
	Connectors Connectors
}

// Handler serves the pages.
type Handler struct {
	d     Deps
	pages map[string]*template.Template
}

// New parses the templates and returns the handler.
func New(d Deps) (*Handler, error) {
	if d.Sessions == nil || d.Directory == nil {
		return nil, errors.New("web: Sessions and Directory are required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.CSRF == nil {
		d.CSRF = http.NewCrossOriginProtection()
	}
	if d.ClientIP == nil {
		d.ClientIP = func(r *http.Request) string { return httpauth.ClientIP(r, nil) }
	}
	h := &Handler{d: d, pages: map[string]*template.Template{}}
	for _, name := range []string{"login", "home", "error", "consent", "logout", "connector"} {
		t, err := template.ParseFS(templateFiles, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parse template %s: %w", name, err)
		}
		h.pages[name] = t
	}
	return h, nil
}

// Mount registers the pages on mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		// The embed directive above guarantees the folder exists.
		panic(fmt.Sprintf("web: static files: %v", err))
	}
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		files.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /login", h.loginForm)
	mux.Handle("POST /login", h.d.CSRF.Handler(http.HandlerFunc(h.login)))
	mux.Handle("POST /logout", h.d.CSRF.Handler(http.HandlerFunc(h.logout)))
	mux.HandleFunc("GET /{$}", h.home)
	mux.Handle("POST /authorizations/withdraw", h.d.CSRF.Handler(http.HandlerFunc(h.withdraw)))
	h.mountConnectors(mux)
}

// loginPage is the data of the sign-in page.
type loginPage struct {
	Next  string
	Email string
	Error string
}

// Messages shown on the sign-in page. A failed password, an unknown email
// and a locked account (whatever password was typed) read exactly alike, so
// the page reveals neither who has an account nor which guess was right.
const (
	msgBadCredentials = "The email address or password is incorrect, or the account is locked for a while after too many failed attempts."
	msgMissing        = "Enter your email address and password."
	msgThrottled      = "Too many failed sign-in attempts from your network. Wait a while, then try again."
)

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	next := SafeNext(r.URL.Query().Get("next"))
	// reauth=1 is the authorize endpoint asking for a fresh sign-in
	// (prompt=login, max_age): the form is shown even to a signed-in person.
	if !actor.From(r.Context()).Anonymous() && r.URL.Query().Get("reauth") != "1" {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	h.renderCSP(w, r, http.StatusOK, "login", loginPage{Next: next}, cspFor(authorizeRedirect(next)))
}

// authorizeRedirect returns the redirect_uri of an authorization request
// that next leads back to, or "".
func authorizeRedirect(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Path != oauth.PathAuthorize {
		return ""
	}
	return u.Query().Get("redirect_uri")
}

// cspFor is CSP, letting forms end in a redirect to redirectURI's origin:
// browsers apply form-action to the redirects that follow a form post, and
// signing in or consenting ends at the application.
func cspFor(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if redirectURI == "" || err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") ||
		strings.ContainsAny(u.Host, " ;,'\"") {
		return CSP
	}
	return strings.Replace(CSP, "form-action 'self'", "form-action 'self' "+u.Scheme+"://"+u.Host, 1)
}

// Consent renders the authorize endpoint's consent page (oauth.Pages).
func (h *Handler) Consent(w http.ResponseWriter, r *http.Request, p *oauth.ConsentPage) {
	redirect := ""
	for _, prm := range p.Params {
		if prm.Name == "redirect_uri" {
			redirect = prm.Value
		}
	}
	h.renderCSP(w, r, http.StatusOK, "consent", p, cspFor(redirect))
}

// ConfirmLogout renders the end-session endpoint's confirmation page
// (oauth.Pages): its form ends in a redirect to the application.
func (h *Handler) ConfirmLogout(w http.ResponseWriter, r *http.Request, p *oauth.LogoutPage) {
	redirect := ""
	for _, prm := range p.Params {
		if prm.Name == "post_logout_redirect_uri" {
			redirect = prm.Value
		}
	}
	h.renderCSP(w, r, http.StatusOK, "logout", p, cspFor(redirect))
}

// Error renders an error page (oauth.Pages).
func (h *Handler) Error(w http.ResponseWriter, r *http.Request, status int, title, message string) {
	h.render(w, r, status, "error", errorPage{Title: title, Message: message})
}

// BadInput answers a browser request refused before it reached a page
// (text no database can store, a body too large): the sign-in form again,
// empty, for the sign-in path, so the person can retry; the error page for
// any other. message must be safe to show.
func (h *Handler) BadInput(w http.ResponseWriter, r *http.Request, status int, message string) {
	if r.URL.Path == "/login" {
		h.render(w, r, status, "login", loginPage{Next: "/", Error: message})
		return
	}
	h.render(w, r, status, "error", errorPage{Title: http.StatusText(status), Message: message})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.formError(w, r, err)
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	password := r.PostForm.Get("password")
	page := loginPage{Next: SafeNext(r.PostForm.Get("next")), Email: email}
	if email == "" || password == "" {
		page.Error = msgMissing
		h.render(w, r, http.StatusBadRequest, "login", page)
		return
	}
	// The address's failure budget is taken before the password is
	// checked, so a burst from one address cannot outrun it.
	addr := h.d.ClientIP(r)
	if h.d.Throttle != nil {
		v, err := h.d.Throttle.Reserve(r.Context(), addr)
		if err != nil {
			h.fail(w, r, fmt.Errorf("sign in: %w", err))
			return
		}
		if !v.Allowed {
			w.Header().Set("Retry-After", strconv.Itoa(int(v.RetryAfter/time.Second)))
			page.Error = msgThrottled
			h.render(w, r, http.StatusTooManyRequests, "login", page)
			return
		}
	}
	token, _, err := h.d.Sessions.Login(r.Context(), email, password)
	if !apperr.Is(err, apperr.Unauthenticated) && !apperr.Is(err, apperr.Invalid) && h.d.Throttle != nil {
		// Only failed credential checks count against the address.
		if rerr := h.d.Throttle.Refund(r.Context(), addr); rerr != nil {
			h.d.Logger.WarnContext(r.Context(), "refund sign-in throttle", "err", rerr)
		}
	}
	switch {
	case err == nil:
	case apperr.Is(err, apperr.Unauthenticated), apperr.Is(err, apperr.Invalid):
		// A malformed email is answered like a wrong one: the page
		// must not become an oracle for which addresses exist.
		page.Error = msgBadCredentials
		h.render(w, r, http.StatusUnauthorized, "login", page)
		return
	default:
		h.fail(w, r, fmt.Errorf("sign in: %w", err))
		return
	}
	// A new sign-in replaces any earlier session of this browser, so a
	// session token planted before sign-in (fixation) never becomes valid.
	if old := httpauth.Token(r); old != "" {
		if err := h.d.Sessions.Logout(r.Context(), old); err != nil && !apperr.Is(err, apperr.NotFound) && !apperr.Is(err, apperr.Unauthenticated) {
			h.d.Logger.WarnContext(r.Context(), "end previous session at sign-in", "err", err)
		}
	}
	h.d.Cookies.Set(w, token)
	http.Redirect(w, r, page.Next, http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if tok := httpauth.Token(r); tok != "" {
		if err := h.d.Sessions.Logout(r.Context(), tok); err != nil && !apperr.Is(err, apperr.NotFound) && !apperr.Is(err, apperr.Unauthenticated) {
			h.fail(w, r, fmt.Errorf("sign out: %w", err))
			return
		}
	}
	h.d.Cookies.Clear(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// homePage is the data of the signed-in page.
type homePage struct {
	ID    int64
	Email string
	Name  string
	Roles []string
	Apps  []appGrant
	// Console is whether to offer the admin console: the person holds a
	// role it has pages for (its services still decide each page).
	Console bool
}

// appGrant is an app the person allowed, as the signed-in page lists it.
type appGrant struct {
	ClientID string
	Name     string
	Granted  string
	Scopes   []string
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	a := actor.From(r.Context())
	if a.UserID == 0 {
		http.Redirect(w, r, "/login?next="+url.QueryEscape("/"), http.StatusSeeOther)
		return
	}
	u, err := h.d.Directory.Me(r.Context())
	if err != nil {
		h.fail(w, r, fmt.Errorf("load signed-in user: %w", err))
		return
	}
	roles, err := h.d.Directory.UserRoles(r.Context(), u.ID)
	if err != nil {
		h.fail(w, r, fmt.Errorf("load roles of user %d: %w", u.ID, err))
		return
	}
	name := strings.TrimSpace(u.GivenName + " " + u.FamilyName)
	page := homePage{ID: u.ID, Email: u.Email, Name: name, Roles: roles,
		Console: slices.ContainsFunc(roles, func(r string) bool {
			return r == directory.RoleAdmin || r == directory.RoleStaffAdmin || r == directory.RoleApplicationDeveloper
		})}
	if h.d.Grants != nil {
		gs, err := h.d.Grants.UserConsents(r.Context(), u.ID)
		if err != nil {
			h.fail(w, r, fmt.Errorf("load the apps user %d allowed: %w", u.ID, err))
			return
		}
		for _, g := range gs {
			if g.WithdrawnAt != nil {
				continue
			}
			app := appGrant{ClientID: g.ClientID, Name: g.ClientName, Granted: g.GrantedAt.UTC().Format("2 Jan 2006")}
			if app.Name == "" {
				app.Name = g.ClientID
			}
			for _, s := range g.Scopes {
				if sc, err := scope.Parse(s); err == nil {
					app.Scopes = append(app.Scopes, scope.Describe(sc))
				} else {
					app.Scopes = append(app.Scopes, s)
				}
			}
			page.Apps = append(page.Apps, app)
		}
	}
	h.render(w, r, http.StatusOK, "home", page)
}

// withdraw takes back what the signed-in person allowed an app: the
// remembered consent, and every token of theirs the app holds.
func (h *Handler) withdraw(w http.ResponseWriter, r *http.Request) {
	a := actor.From(r.Context())
	if a.UserID == 0 {
		http.Redirect(w, r, "/login?next="+url.QueryEscape("/"), http.StatusSeeOther)
		return
	}
	if err := r.ParseForm(); err != nil {
		h.formError(w, r, err)
		return
	}
	clientID := r.PostForm.Get("client_id")
	if h.d.Grants == nil || clientID == "" {
		h.render(w, r, http.StatusBadRequest, "error", errorPage{Title: "Bad request", Message: "Which app? The form named none."})
		return
	}
	if _, err := h.d.Grants.WithdrawConsent(r.Context(), a.UserID, clientID); err != nil && !apperr.Is(err, apperr.NotFound) {
		h.fail(w, r, fmt.Errorf("withdraw user %d's authorization of client %s: %w", a.UserID, clientID, err))
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// errorPage is the data of the error page.
type errorPage struct {
	Title   string
	Message string
}

// formError answers a form that could not be read: too large, or malformed.
func (h *Handler) formError(w http.ResponseWriter, r *http.Request, err error) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		h.render(w, r, http.StatusRequestEntityTooLarge, "error",
			errorPage{Title: "Request too large", Message: "The form sent more data than ward accepts."})
		return
	}
	h.render(w, r, http.StatusBadRequest, "error",
		errorPage{Title: "Bad request", Message: "The form could not be read."})
}

// fail logs an unexpected error and shows a generic page; the cause may name
// internals and is never shown.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if apperr.Is(err, apperr.Unavailable) {
		// The database was out of reach for a moment: say so, and when to
		// try again, rather than report a fault.
		w.Header().Set("Retry-After", httpauth.RetryAfterUnavailable)
		h.render(w, r, http.StatusServiceUnavailable, "error",
			errorPage{Title: "Try again in a moment", Message: "ward could not reach its database. Please try again shortly."})
		return
	}
	h.d.Logger.ErrorContext(r.Context(), "web: internal error", "err", err)
	h.render(w, r, http.StatusInternalServerError, "error",
		errorPage{Title: "Something went wrong", Message: "ward could not complete the request. The problem has been logged."})
}

// render executes a page into a buffer first, so a template error becomes a
// clean 500 instead of half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	h.renderCSP(w, r, status, page, data, CSP)
}

func (h *Handler) renderCSP(w http.ResponseWriter, r *http.Request, status int, page string, data any, csp string) {
	htmlpage.Write(w, r, h.d.Logger, h.pages[page], page, status, csp, data)
}

// SafeNext returns next when it is a path on this site, else "/". Only a
// single leading slash is accepted: "//evil.example" and "/\evil.example"
// are read by browsers as another host, and any scheme or host is refused,
// so the sign-in page can never redirect off-site (open redirect).
func SafeNext(next string) string {
	if next == "" || len(next) > 8192 || next[0] != '/' {
		return "/"
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return "/"
	}
	for _, c := range next {
		// Control characters (tab, newline) are stripped by browsers,
		// which can turn "/\t/evil" into "//evil".
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}
