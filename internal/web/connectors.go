package web

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/connector"
	"ward/internal/httpauth"
)

// Connectors is what the priming pages need from connector.Service.
type Connectors interface {
	BeginConnect(ctx context.Context, name, session string) (string, error)
	CompleteConnect(ctx context.Context, name, session, state, code string) (*connector.Connector, error)
}

// connectorPage is the data of the page a successful priming ends on.
type connectorPage struct {
	Name   string
	Expiry string
}

// signInFirst sends an anonymous browser (or one holding no session
// cookie: priming is bound to a browser session) to the sign-in page and
// back here.
func (h *Handler) signInFirst(w http.ResponseWriter, r *http.Request) bool {
	if actor.From(r.Context()).UserID != 0 && httpauth.Token(r) != "" {
		return false
	}
	http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.Path), http.StatusSeeOther)
	return true
}

// connectorFail shows the page for a refused priming step.
func (h *Handler) connectorFail(w http.ResponseWriter, r *http.Request, err error) {
	switch apperr.KindOf(err) {
	case apperr.Forbidden, apperr.Unauthenticated:
		h.render(w, r, http.StatusForbidden, "error", errorPage{Title: "Not allowed",
			Message: "Only an administrator may connect ward to an external system."})
	case apperr.NotFound:
		h.render(w, r, http.StatusNotFound, "error", errorPage{Title: "No such connector",
			Message: "ward has no connector of that name."})
	case apperr.Invalid:
		h.render(w, r, http.StatusBadRequest, "error", errorPage{Title: "Could not connect", Message: apperr.Message(err)})
	case apperr.Unavailable:
		h.d.Logger.WarnContext(r.Context(), "web: connector priming failed", "err", err)
		h.render(w, r, http.StatusBadGateway, "error", errorPage{Title: "Could not connect", Message: apperr.Message(err)})
	default:
		h.fail(w, r, err)
	}
}

// connect starts priming: an administrator's browser goes to the remote's
// sign-in with a state bound to their session and a PKCE challenge.
func (h *Handler) connect(w http.ResponseWriter, r *http.Request) {
	if h.signInFirst(w, r) {
		return
	}
	to, err := h.d.Connectors.BeginConnect(r.Context(), r.PathValue("name"), httpauth.Token(r))
	if err != nil {
		h.connectorFail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// connectCallback is where the remote sends the browser back: the code is
// exchanged for tokens when the state is this session's, unused and fresh.
func (h *Handler) connectCallback(w http.ResponseWriter, r *http.Request) {
	if h.signInFirst(w, r) {
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		h.render(w, r, http.StatusBadRequest, "error", errorPage{Title: "Could not connect",
			Message: "The external system did not grant access. Start again from the connector's connect link."})
		return
	}
	if q.Get("state") == "" || q.Get("code") == "" {
		h.render(w, r, http.StatusBadRequest, "error", errorPage{Title: "Could not connect",
			Message: "The link back from the external system has no state or no code. Start again from the connector's connect link."})
		return
	}
	c, err := h.d.Connectors.CompleteConnect(r.Context(), r.PathValue("name"), httpauth.Token(r), q.Get("state"), q.Get("code"))
	if err != nil {
		h.connectorFail(w, r, err)
		return
	}
	page := connectorPage{Name: c.Name}
	if !c.Expiry.IsZero() {
		page.Expiry = c.Expiry.UTC().Format(time.RFC1123)
	}
	h.render(w, r, http.StatusOK, "connector", page)
}

// mountConnectors adds the priming pages when the service is wired.
func (h *Handler) mountConnectors(mux *http.ServeMux) {
	if h.d.Connectors == nil {
		return
	}
	mux.HandleFunc("GET /admin/connectors/{name}/connect", h.connect)
	mux.HandleFunc("GET /admin/connectors/{name}/callback", h.connectCallback)
}
