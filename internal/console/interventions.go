package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/intervention"
	"ward/internal/store"
)

func init() {
	addNotices(map[string]string{
		"rule-added":   "Access rule added.",
		"rule-saved":   "Access rule saved.",
		"rule-deleted": "Access rule deleted.",
	})
	funcs["stepArgs"] = stepArgs
}

// mountInterventions registers the intervention pages, when the service
// is wired.
func (h *Handler) mountInterventions(mux *http.ServeMux) {
	if h.d.Interventions == nil {
		return
	}
	mux.Handle("GET /admin/interventions", h.page(h.ivList))
	mux.Handle("GET /admin/interventions/{name}", h.page(h.ivShow))
	mux.Handle("GET /admin/interventions/{name}/explain", h.page(h.ivExplain))
	mux.Handle("POST /admin/interventions/{name}/rules", h.form(h.ruleAdd))
	mux.Handle("POST /admin/interventions/{name}/rules/{id}", h.form(h.ruleSave))
	mux.Handle("POST /admin/interventions/{name}/rules/{id}/delete", h.form(h.ruleDelete))
}

// ivListPage is the data of the interventions list.
type ivListPage struct {
	Interventions []*intervention.Intervention
}

// PageTitle implements titled.
func (ivListPage) PageTitle() string { return "Interventions" }

func (h *Handler) ivList(w http.ResponseWriter, r *http.Request, rq *request) {
	ivs, err := h.d.Interventions.List(r.Context())
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	h.render(w, r, rq, http.StatusOK, "interventions", ivListPage{Interventions: ivs})
}

// ruleView is one access rule's form: the JSON in its textarea and, after
// a refused save, why (shown next to the textarea, which keeps what was
// typed).
type ruleView struct {
	ID      int64
	Version int64
	Name    string
	Rank    *int
	Text    string
	// Error is why the last save of this form was refused.
	Error string
	// Broken is why the stored rule no longer compiles.
	Broken string
	// Stored is, after a clash with a newer version, what is stored now.
	Stored string
}

// Rows is how tall the textarea is drawn: the text's lines and one
// spare, within reason.
func (v ruleView) Rows() int {
	return min(max(strings.Count(v.Text, "\n")+2, 6), 40)
}

// ivPage is the data of one intervention's page.
type ivPage struct {
	IV    *intervention.Intervention
	Rules []ruleView
	// New is the new-rule form.
	New ruleView
}

// PageTitle implements titled.
func (p ivPage) PageTitle() string { return "Intervention " + p.IV.Name }

// ruleTemplate is what the new-rule textarea starts with: the shape of a
// rule, to be filled in.
const ruleTemplate = `{
  "name": "",
  "description": "",
  "rank": null,
  "function_details": {
    "function": "in_role_list",
    "kwargs": [{"name": "role_list", "value": ["patient"]}]
  }
}`

// ruleText is a stored rule as the JSON its textarea edits, the shape
// AddRule and UpdateRule read.
func ruleText(r *intervention.AccessRule) string {
	b, err := json.Marshal(struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Rank        *int            `json:"rank"`
		Details     json.RawMessage `json:"function_details"`
	}{r.Name, r.Description, r.Rank, r.Details})
	if err != nil {
		// A stored rule whose details are not JSON: show them as they are.
		return string(r.Details)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return string(b)
	}
	return out.String()
}

// loadIVPage reads the intervention and its rules for the page.
func (h *Handler) loadIVPage(r *http.Request, name string) (*ivPage, error) {
	ctx := r.Context()
	iv, err := h.d.Interventions.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	rules, err := h.d.Interventions.Rules(ctx, name)
	if err != nil {
		return nil, err
	}
	p := &ivPage{IV: iv, New: ruleView{Text: ruleTemplate}}
	for _, ru := range rules {
		p.Rules = append(p.Rules, ruleView{ID: ru.ID, Version: ru.Version, Name: ru.Name, Rank: ru.Rank,
			Text: ruleText(ru), Broken: ru.Error})
	}
	return p, nil
}

func (h *Handler) ivShow(w http.ResponseWriter, r *http.Request, rq *request) {
	p, err := h.loadIVPage(r, r.PathValue("name"))
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	h.render(w, r, rq, http.StatusOK, "intervention", p)
}

// ivPath is the page of intervention name.
func ivPath(name string) string { return "/admin/interventions/" + url.PathEscape(name) }

// ruleRefused re-renders the intervention page after a refused save: the
// form keeps what was typed and shows the service's reason beside the
// textarea, with the status the refusal maps to. Other errors get the
// usual pages.
func (h *Handler) ruleRefused(w http.ResponseWriter, r *http.Request, rq *request, name string, id int64, text string, err error) {
	status := http.StatusBadRequest
	switch apperr.KindOf(err) {
	case apperr.Invalid:
	case apperr.Conflict:
		status = http.StatusConflict
	case apperr.TooLarge:
		status = http.StatusRequestEntityTooLarge
	default:
		h.problem(w, r, rq, err)
		return
	}
	p, lerr := h.loadIVPage(r, name)
	if lerr != nil {
		h.problem(w, r, rq, lerr)
		return
	}
	msg := apperr.Message(err)
	if id == 0 {
		p.New.Text, p.New.Error = text, msg
	} else {
		found := false
		for i := range p.Rules {
			if p.Rules[i].ID != id {
				continue
			}
			found = true
			rv := &p.Rules[i]
			if status == http.StatusConflict {
				// Show what is stored now beside what was typed; the form
				// now carries the current version, so saving again is a
				// choice made having seen it.
				rv.Stored = rv.Text
				msg += " What is stored now is shown below the box; save again to replace it with what you typed."
			}
			rv.Text, rv.Error = text, msg
		}
		if !found {
			h.notFound(w, r, rq)
			return
		}
	}
	h.render(w, r, rq, status, "intervention", p)
}

func (h *Handler) ruleAdd(w http.ResponseWriter, r *http.Request, rq *request) {
	name, text := r.PathValue("name"), r.PostFormValue("rule")
	if _, err := h.d.Interventions.AddRule(r.Context(), name, []byte(text)); err != nil {
		h.ruleRefused(w, r, rq, name, 0, text, err)
		return
	}
	done(w, r, ivPath(name), "rule-added")
}

func (h *Handler) ruleSave(w http.ResponseWriter, r *http.Request, rq *request) {
	name, text := r.PathValue("name"), r.PostFormValue("rule")
	id, ok := h.pathID(w, r, rq, "id")
	if !ok {
		return
	}
	version, err := formVersion(r)
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	if _, err := h.d.Interventions.UpdateRule(r.Context(), name, id, version, []byte(text)); err != nil {
		h.ruleRefused(w, r, rq, name, id, text, err)
		return
	}
	// Back to the saved rule: the fragment follows done's query.
	http.Redirect(w, r, ivPath(name)+"?done=rule-saved#rule-"+strconv.FormatInt(id, 10)+"-heading", http.StatusSeeOther)
}

func (h *Handler) ruleDelete(w http.ResponseWriter, r *http.Request, rq *request) {
	name := r.PathValue("name")
	id, ok := h.pathID(w, r, rq, "id")
	if !ok {
		return
	}
	if err := h.d.Interventions.DeleteRule(r.Context(), name, id); err != nil {
		h.problem(w, r, rq, err)
		return
	}
	done(w, r, ivPath(name), "rule-deleted")
}

// explainPage is the data of "explain for this person".
type explainPage struct {
	IV     *intervention.Intervention
	Person string
	// Error is why the person could not be found, shown by the field.
	Error string
	Who   *directory.User
	Trace *intervention.CardTrace
}

// PageTitle implements titled.
func (p explainPage) PageTitle() string { return "Explain " + p.IV.Name }

// stepArgs shows a step's arguments as compact JSON.
func stepArgs(args map[string]any) string {
	if len(args) == 0 {
		return ""
	}
	b, err := json.Marshal(args)
	if err != nil {
		return fmt.Sprint(args)
	}
	return string(b)
}

func (h *Handler) ivExplain(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	iv, err := h.d.Interventions.Get(ctx, r.PathValue("name"))
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	p := explainPage{IV: iv, Person: strings.TrimSpace(r.URL.Query().Get("person"))}
	if p.Person == "" {
		h.render(w, r, rq, http.StatusOK, "intervention_explain", p)
		return
	}
	who, err := h.findPerson(r, p.Person)
	if err != nil {
		status := http.StatusBadRequest
		switch apperr.KindOf(err) {
		case apperr.Invalid:
		case apperr.NotFound:
			status = http.StatusNotFound
		default:
			h.problem(w, r, rq, err)
			return
		}
		p.Error = apperr.Message(err)
		h.render(w, r, rq, status, "intervention_explain", p)
		return
	}
	_, traces, err := h.d.Interventions.UserCards(ctx, who.ID, true)
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	p.Who = who
	for i := range traces {
		if traces[i].Intervention == iv.Name {
			p.Trace = &traces[i]
		}
	}
	h.render(w, r, rq, http.StatusOK, "intervention_explain", p)
}

// findPerson reads a person given by id or email, as the caller may see
// them (the directory decides).
func (h *Handler) findPerson(r *http.Request, v string) (*directory.User, error) {
	ctx := r.Context()
	if id, err := strconv.ParseInt(v, 10, 64); err == nil {
		if id <= 0 {
			return nil, apperr.New(apperr.Invalid, "a person's id is a positive number")
		}
		u, err := h.d.Directory.GetUser(ctx, id)
		if apperr.Is(err, apperr.NotFound) {
			return nil, apperr.New(apperr.NotFound, "there is no person %d", id)
		}
		return u, err
	}
	if !strings.Contains(v, "@") || len(v) > 320 {
		return nil, apperr.New(apperr.Invalid, "give a person's id (a number) or email address")
	}
	users, _, err := h.d.Directory.SearchUsers(ctx, directory.UserFilter{Email: v}, store.Page{Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, apperr.New(apperr.NotFound, "there is no person with the email %s whom you may see", v)
	}
	return users[0], nil
}
