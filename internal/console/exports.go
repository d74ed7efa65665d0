package console

import (
	"net/http"
	"net/url"

	"ward/internal/bulk"
)

// The bulk exports pages: every FHIR $export, whoever kicked it off, for
// an administrator (bulk.Service.List/Get/Cancel decide; anyone else is
// refused there), and cancelling one.

func init() {
	addNotices(map[string]string{"export-cancelled": "The export was cancelled and its files deleted."})
}

func (h *Handler) mountExports(mux *http.ServeMux) {
	if h.d.Exports == nil {
		return
	}
	mux.Handle("GET /admin/exports", h.page(h.exportList))
	mux.Handle("GET /admin/exports/{id}", h.page(h.exportDetail))
	mux.Handle("POST /admin/exports/{id}/cancel", h.form(h.exportCancel))
}

// exportsPage is the data of the exports list.
type exportsPage struct {
	Exports []*bulk.Export
	Pager   pager
}

// PageTitle implements titled.
func (exportsPage) PageTitle() string { return "Bulk exports" }

func (h *Handler) exportList(w http.ResponseWriter, r *http.Request, rq *request) {
	exs, next, err := h.d.Exports.List(r.Context(), listPage(r))
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	h.render(w, r, rq, http.StatusOK, "exports", exportsPage{Exports: exs, Pager: newPager(r, next)})
}

// exportPage is the data of one export's page.
type exportPage struct {
	Export *bulk.Export
	// Cancellable is whether the export may still be cancelled.
	Cancellable bool
}

// PageTitle implements titled.
func (p exportPage) PageTitle() string { return "Export " + p.Export.ID }

func (h *Handler) exportDetail(w http.ResponseWriter, r *http.Request, rq *request) {
	ex, err := h.d.Exports.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	h.render(w, r, rq, http.StatusOK, "export", exportPage{Export: ex,
		Cancellable: ex.Status != bulk.StatusCancelled && (ex.ExpiresAt.IsZero() || h.d.Now().Before(ex.ExpiresAt))})
}

func (h *Handler) exportCancel(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("id")
	if err := h.d.Exports.Cancel(r.Context(), id); err != nil {
		h.problem(w, r, rq, err)
		return
	}
	done(w, r, "/admin/exports/"+url.PathEscape(id), "export-cancelled")
}
