package console

import (
	"net/http"

	"ward/internal/connector"
)

// The connectors pages: each connector's link to its remote system
// (connector.Service.List/Get decide: administrators only), with the way
// to (re)connect it, the priming page internal/web mounts at
// /admin/connectors/{name}/connect. There is no "refresh now": the
// service refreshes tokens itself ahead of expiry and offers no refresh
// to people.

func (h *Handler) mountConnectors(mux *http.ServeMux) {
	if h.d.Connectors == nil {
		return
	}
	mux.Handle("GET /admin/connectors", h.page(h.connectorList))
	mux.Handle("GET /admin/connectors/{name}", h.page(h.connectorDetail))
}

// connectorsPage is the data of the connectors list. There are few
// connectors (one per external system), so the list is not paged.
type connectorsPage struct {
	Connectors []*connector.Connector
}

// PageTitle implements titled.
func (connectorsPage) PageTitle() string { return "Connectors" }

func (h *Handler) connectorList(w http.ResponseWriter, r *http.Request, rq *request) {
	cs, err := h.d.Connectors.List(r.Context())
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	h.render(w, r, rq, http.StatusOK, "connectors", connectorsPage{Connectors: cs})
}

// connectorPage is the data of one connector's page.
type connectorPage struct {
	Connector *connector.Connector
}

// PageTitle implements titled.
func (p connectorPage) PageTitle() string { return "Connector " + p.Connector.Name }

func (h *Handler) connectorDetail(w http.ResponseWriter, r *http.Request, rq *request) {
	c, err := h.d.Connectors.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	h.render(w, r, rq, http.StatusOK, "connector", connectorPage{Connector: c})
}
