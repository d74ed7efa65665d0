package console

import (
	"net/http"
)

// homePage is the data of the console's home page.
type homePage struct {
	Sections []navItem
}

// PageTitle implements titled.
func (homePage) PageTitle() string { return "Home" }

func (h *Handler) home(w http.ResponseWriter, r *http.Request, rq *request) {
	h.render(w, r, rq, http.StatusOK, "home", homePage{Sections: rq.Nav[1:]})
}
