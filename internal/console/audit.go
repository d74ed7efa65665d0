package console

import (
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/store"
)

// The audit log page (issue 17, item 6): the whole chain, filtered and
// paged, and a button that verifies it. Who may is the audit log's own
// rule (audit.Log.ListAll and Verify ask the authorizer the server wires
// to directory.RequireAdmin): an administrator, no one else.

func (h *Handler) mountAudit(mux *http.ServeMux) {
	if h.d.Audit == nil {
		return
	}
	mux.Handle("GET /admin/audit", h.page(h.auditLog))
	mux.Handle("POST /admin/audit/verify", h.form(h.auditVerify))
}

// auditRow is one event as the page shows it.
type auditRow struct {
	audit.Event
	// ActorName and SubjectName are the people's emails when the
	// directory let the caller see them ("" otherwise: the id shows).
	ActorName, SubjectName string
}

// auditFilter is the filter form as typed, echoed back into it.
type auditFilter struct {
	Person, Client, Type, From, To string
}

// auditPage is the data of the audit log page.
type auditPage struct {
	Filter auditFilter
	Types  []audit.EventType
	Events []auditRow
	Pager  pager
	// Error says why the filter was refused (the page answers 400).
	Error string
	// Verified is set after "Verify chain": the result.
	Verified *chainResult
}

// chainResult is what verifying the chain found.
type chainResult struct {
	Intact bool
	Count  int64
	Head   string
	// Broken is where the chain fails, when it does.
	Broken *audit.Broken
}

// PageTitle implements titled.
func (auditPage) PageTitle() string { return "Audit log" }

// maxFilterLen bounds a filter value: longer is no id, email or time.
const maxFilterLen = 320

// timeLayouts are what the from/to fields accept: the browser's
// datetime-local value (read as UTC), and RFC 3339.
var timeLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339}

func parseFilterTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, apperr.New(apperr.Invalid, "%s: use a date and time such as 2026-01-31T14:00 (UTC)", name)
}

// auditFilterOf reads and checks the filter form; an apperr.Invalid names
// the field at fault.
func (h *Handler) auditFilterOf(r *http.Request) (auditFilter, audit.Filter, error) {
	q := r.URL.Query()
	in := auditFilter{Person: strings.TrimSpace(q.Get("person")), Client: strings.TrimSpace(q.Get("client")),
		Type: q.Get("type"), From: strings.TrimSpace(q.Get("from")), To: strings.TrimSpace(q.Get("to"))}
	// Newest first: the latest events are what an administrator opens
	// the log for.
	f := audit.Filter{NewestFirst: true}
	for _, v := range []string{in.Person, in.Client, in.Type, in.From, in.To, q.Get("after")} {
		if !validText(v) || len(v) > maxFilterLen {
			// Not echoed: the form would show it back.
			return auditFilter{}, f, apperr.New(apperr.Invalid, "a filter value is not valid text or is too long")
		}
	}
	if in.Type != "" {
		f.Type = audit.EventType(in.Type)
		if !audit.Registered(f.Type) {
			return in, f, apperr.New(apperr.Invalid, "event type: no such type %q", in.Type)
		}
	}
	f.ClientID = in.Client
	var err error
	if f.From, err = parseFilterTime("from", in.From); err != nil {
		return in, f, err
	}
	if f.To, err = parseFilterTime("to", in.To); err != nil {
		return in, f, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return in, f, apperr.New(apperr.Invalid, "to must be after from")
	}
	switch {
	case in.Person == "":
	case strings.Contains(in.Person, "@"):
		if _, err := mail.ParseAddress(in.Person); err != nil {
			return in, f, apperr.New(apperr.Invalid, "person: not an email address or a person id")
		}
		us, _, err := h.d.Directory.SearchUsers(r.Context(), directory.UserFilter{Email: in.Person, IncludeDeleted: true},
			store.Page{Limit: 1})
		if err != nil {
			return in, f, err
		}
		if len(us) == 0 {
			return in, f, apperr.New(apperr.Invalid, "person: nobody has the email %s", in.Person)
		}
		f.Involving = us[0].ID
	default:
		id, err := strconv.ParseInt(in.Person, 10, 64)
		if err != nil || id <= 0 {
			return in, f, apperr.New(apperr.Invalid, "person: not an email address or a person id")
		}
		f.Involving = id
	}
	return in, f, nil
}

func (h *Handler) auditLog(w http.ResponseWriter, r *http.Request, rq *request) {
	h.auditRender(w, r, rq, nil)
}

// auditRender lists one page of events under the filter in r and shows
// verified (when the chain was just checked) above it.
func (h *Handler) auditRender(w http.ResponseWriter, r *http.Request, rq *request, verified *chainResult) {
	data := auditPage{Types: audit.EventTypes(), Verified: verified}
	in, f, err := h.auditFilterOf(r)
	data.Filter = in
	if err != nil {
		if apperr.Is(err, apperr.Invalid) {
			// The page answers 400 with the form, so the mistake can be
			// fixed where it was made; the list stays empty.
			data.Error = apperr.Message(err)
			// The filter is refused before anyone asked the log, so a
			// refused caller must still be refused here.
			if _, _, err := h.d.Audit.ListAll(r.Context(), audit.Filter{}, store.Page{Limit: 1}); err != nil {
				h.problem(w, r, rq, err)
				return
			}
			h.render(w, r, rq, http.StatusBadRequest, "audit", data)
			return
		}
		h.problem(w, r, rq, err)
		return
	}
	events, next, err := h.d.Audit.ListAll(r.Context(), f, listPage(r))
	if err != nil {
		if apperr.Is(err, apperr.Invalid) {
			data.Error = apperr.Message(err)
			h.render(w, r, rq, http.StatusBadRequest, "audit", data)
			return
		}
		h.problem(w, r, rq, err)
		return
	}
	names := h.peopleNames(r, events)
	for _, e := range events {
		data.Events = append(data.Events, auditRow{Event: e, ActorName: names[e.UserID], SubjectName: names[e.SubjectID]})
	}
	if r.Method == http.MethodGet {
		data.Pager = newPager(r, next)
	}
	h.render(w, r, rq, http.StatusOK, "audit", data)
}

// peopleNames looks up the emails of the people a page of events names, in
// one search the directory checks; a failure only leaves the ids showing.
func (h *Handler) peopleNames(r *http.Request, events []audit.Event) map[int64]string {
	seen := map[int64]bool{}
	var ids []int64
	for _, e := range events {
		for _, id := range []int64{e.UserID, e.SubjectID} {
			if id > 0 && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	names := map[int64]string{}
	if len(ids) == 0 {
		return names
	}
	us, _, err := h.d.Directory.SearchUsers(r.Context(), directory.UserFilter{IDs: ids, IncludeDeleted: true},
		store.Page{Limit: len(ids)})
	if err != nil {
		h.d.Logger.WarnContext(r.Context(), "console: name the people of audit events", "err", err)
		return names
	}
	for _, u := range us {
		names[u.ID] = u.Email
	}
	return names
}

// auditVerify walks the chain and shows the result above the unfiltered
// log's first page (a POST answers with the page: the result is not a
// change to redirect to).
func (h *Handler) auditVerify(w http.ResponseWriter, r *http.Request, rq *request) {
	broken, err := h.d.Audit.Verify(r.Context())
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	res := &chainResult{Intact: broken == nil, Broken: broken}
	if res.Count, res.Head, err = h.d.Audit.Head(r.Context()); err != nil {
		h.problem(w, r, rq, err)
		return
	}
	// The list under the result is the log's first page, not the form's.
	r.URL.RawQuery = ""
	h.auditRender(w, r, rq, res)
}
