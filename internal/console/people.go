package console

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/intervention"
	"ward/internal/store"
)

// The People section: search the directory, create a person, and a
// person's page with everything ward knows of them and the actions on
// their account. Every read and change goes through the directory (and
// session, intervention, audit) services as the signed-in person, so what
// a staff admin sees and may do is what the API gives them.

func init() {
	addNotices(map[string]string{
		"person-created":     "The person was created.",
		"person-unlocked":    "The sign-in lockout was cleared.",
		"person-deactivated": "The account was deactivated: it can no longer sign in, and its sessions and tokens were revoked.",
		"person-reactivated": "The account was reactivated.",
		"person-password":    "The password was set. Tell the person their temporary password by a safe channel.",
		"person-role-added":  "The role was granted.",
		"person-role-gone":   "The role was removed; the person's sessions and tokens were revoked.",
		"person-org-added":   "The person was added to the organization.",
		"person-id-added":    "The identifier was added.",
	})
}

// mountPeople registers the People section's pages and actions.
func (h *Handler) mountPeople(mux *http.ServeMux) {
	mux.Handle("GET /admin/people", h.page(h.peopleList))
	mux.Handle("GET /admin/people/new", h.page(h.personNew))
	mux.Handle("POST /admin/people", h.form(h.personCreate))
	mux.Handle("GET /admin/people/{id}", h.page(h.personShow))
	for action, fn := range map[string]personAction{
		"unlock":        h.personUnlock,
		"deactivate":    h.personDeactivate,
		"reactivate":    h.personReactivate,
		"password":      h.personPassword,
		"roles":         h.personGrantRole,
		"roles/remove":  h.personRemoveRole,
		"organizations": h.personAddOrg,
		"identifiers":   h.personAddIdentifier,
	} {
		mux.Handle("POST /admin/people/{id}/"+action, h.form(h.personPost(action, fn)))
	}
}

// Limits on what the People forms and search accept, in bytes; the
// directory checks the values again.
const (
	maxNameLen       = 256
	maxEmailLen      = 254
	maxIdentifierLen = 1024
	maxShortLen      = 64
	maxPasswordLen   = 1024
)

// resolveOrg reads an organization id or alias typed into a form: one
// that names nothing is the form's mistake (400), not a missing page.
func (h *Handler) resolveOrg(ctx context.Context, ref string) (*directory.Organization, error) {
	o, err := h.d.Directory.ResolveOrganization(ctx, ref)
	if apperr.Is(err, apperr.NotFound) {
		return nil, apperr.New(apperr.Invalid, "there is no organization %q", ref)
	}
	return o, err
}

// orgOption is one organization in a select.
type orgOption struct {
	ID       int64
	Name     string
	Selected bool
}

// maxOrgOptions is how many organizations a select lists; with more, the
// form offers a field for an organization id (or alias) instead.
const maxOrgOptions = 200

// orgChoices lists organizations for a select, marking selected; more is
// true when there are too many to list (organizations are public, so any
// signed-in person may read them).
func (h *Handler) orgChoices(ctx context.Context, selected string) (opts []orgOption, more bool, err error) {
	orgs, next, err := h.d.Directory.ListOrganizations(ctx, store.Page{Limit: maxOrgOptions})
	if err != nil {
		return nil, false, fmt.Errorf("list organizations: %w", err)
	}
	for _, o := range orgs {
		opts = append(opts, orgOption{ID: o.ID, Name: o.Name, Selected: strconv.FormatInt(o.ID, 10) == selected})
	}
	return opts, next != "", nil
}

// roleOption is one role in a select or a checkbox list.
type roleOption struct {
	Name        string
	Description string
	Selected    bool
}

// roleChoices is every role ward knows (the source of /api/roles); the
// directory refuses those the caller may not grant.
func roleChoices(selected ...string) []roleOption {
	out := make([]roleOption, len(directory.StaticRoles))
	for i, r := range directory.StaticRoles {
		out[i] = roleOption{Name: r.Name, Description: r.Description, Selected: slices.Contains(selected, r.Name)}
	}
	return out
}

// peopleSearch is the search form's values.
type peopleSearch struct {
	Name, Email, Identifier, Organization, Role string
	Deactivated                                 bool
}

// personRow is one person in the results.
type personRow struct {
	User  *directory.User
	Roles []string
	// LockedUntil is when their sign-in lockout ends; zero when not
	// locked or not the caller's to know.
	LockedUntil time.Time
}

// peopleListPage is the data of /admin/people.
type peopleListPage struct {
	Search  peopleSearch
	Orgs    []orgOption
	MoreOrg bool
	Roles   []roleOption
	People  []personRow
	Pager   pager
	// Searched is true when any filter was given.
	Searched bool
}

// PageTitle implements titled.
func (peopleListPage) PageTitle() string { return "People" }

// peopleFilter reads the search form into the filter the search-users API
// builds from the same parameters.
func (h *Handler) peopleFilter(r *http.Request) (peopleSearch, directory.UserFilter, error) {
	q := r.URL.Query()
	s := peopleSearch{
		Name: strings.TrimSpace(q.Get("name")), Email: strings.TrimSpace(q.Get("email")),
		Identifier: strings.TrimSpace(q.Get("identifier")), Organization: strings.TrimSpace(q.Get("organization")),
		Role: q.Get("role"), Deactivated: q.Get("deactivated") == "1",
	}
	var f directory.UserFilter
	for _, c := range []struct {
		field, v string
		max      int
	}{{"name", s.Name, maxNameLen}, {"email", s.Email, maxEmailLen}, {"identifier", s.Identifier, maxIdentifierLen},
		{"organization", s.Organization, maxNameLen}, {"role", s.Role, maxShortLen}, {"page", q.Get("after"), maxShortLen}} {
		if err := checkText(c.field, c.v, c.max); err != nil {
			return s, f, err
		}
	}
	f.Name, f.Email, f.Role, f.IncludeDeleted = s.Name, s.Email, s.Role, s.Deactivated
	if s.Role != "" && !directory.IsRole(s.Role) {
		return s, f, apperr.New(apperr.Invalid, "unknown role %q", s.Role)
	}
	if s.Identifier != "" {
		id, err := directory.ParseIdentifier(s.Identifier)
		if err != nil {
			return s, f, err
		}
		f.Identifier = &id
	}
	if s.Organization != "" {
		o, err := h.resolveOrg(r.Context(), s.Organization)
		if err != nil {
			return s, f, err
		}
		f.OrganizationID = o.ID
	}
	return s, f, nil
}

func (h *Handler) peopleList(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	if err := h.d.Directory.CheckManagesAccounts(ctx); err != nil {
		h.problem(w, r, rq, err)
		return
	}
	s, f, err := h.peopleFilter(r)
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	users, next, err := h.d.Directory.SearchUsers(ctx, f, listPage(r))
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	data := peopleListPage{Search: s, Roles: roleChoices(s.Role), Pager: newPager(r, next),
		Searched: s != (peopleSearch{})}
	if data.Orgs, data.MoreOrg, err = h.orgChoices(ctx, s.Organization); err != nil {
		h.fail(w, r, rq, err)
		return
	}
	for _, u := range users {
		row := personRow{User: u}
		if u.Active() {
			if row.Roles, err = h.d.Directory.UserRoles(ctx, u.ID); err != nil {
				h.problem(w, r, rq, err)
				return
			}
		}
		if row.LockedUntil, err = h.lockedUntil(ctx, u); err != nil {
			h.problem(w, r, rq, err)
			return
		}
		data.People = append(data.People, row)
	}
	h.render(w, r, rq, http.StatusOK, "people", data)
}

// lockedUntil asks when u's lockout ends; those who may not unlock them
// are not told (zero), as the API's unlock refuses them.
func (h *Handler) lockedUntil(ctx context.Context, u *directory.User) (time.Time, error) {
	if h.d.Sessions == nil || !u.Active() || u.Email == "" {
		return time.Time{}, nil
	}
	t, err := h.d.Sessions.SignInLockout(ctx, u.ID)
	if apperr.Is(err, apperr.Forbidden) {
		return time.Time{}, nil
	}
	return t, err
}

// newPersonForm is the create form's values (never the password).
type newPersonForm struct {
	Email, GivenName, FamilyName, BirthDate, Gender, Organization string
}

// personNewPage is the data of /admin/people/new.
type personNewPage struct {
	Form    newPersonForm
	Orgs    []orgOption
	MoreOrg bool
	Roles   []roleOption
	Genders []string
	// Error is why the last submission was refused.
	Error string
}

// PageTitle implements titled.
func (personNewPage) PageTitle() string { return "New person" }

// genders are the FHIR administrative genders the directory accepts.
var genders = []string{"male", "female", "other", "unknown"}

func (h *Handler) personNew(w http.ResponseWriter, r *http.Request, rq *request) {
	if err := h.d.Directory.CheckManagesAccounts(r.Context()); err != nil {
		h.problem(w, r, rq, err)
		return
	}
	h.renderPersonNew(w, r, rq, http.StatusOK, newPersonForm{}, nil, "")
}

func (h *Handler) renderPersonNew(w http.ResponseWriter, r *http.Request, rq *request, status int,
	f newPersonForm, roles []string, msg string) {
	data := personNewPage{Form: f, Roles: roleChoices(roles...), Genders: genders, Error: msg}
	var err error
	if data.Orgs, data.MoreOrg, err = h.orgChoices(r.Context(), f.Organization); err != nil {
		h.fail(w, r, rq, err)
		return
	}
	h.render(w, r, rq, status, "people_new", data)
}

func (h *Handler) personCreate(w http.ResponseWriter, r *http.Request, rq *request) {
	pf := r.PostForm
	f := newPersonForm{
		Email: strings.TrimSpace(pf.Get("email")), GivenName: strings.TrimSpace(pf.Get("given_name")),
		FamilyName: strings.TrimSpace(pf.Get("family_name")), BirthDate: strings.TrimSpace(pf.Get("birthdate")),
		Gender: pf.Get("gender"), Organization: strings.TrimSpace(pf.Get("organization")),
	}
	roles := pf["role"]
	u, err := h.createPerson(r.Context(), f, pf.Get("password"), roles)
	if err == nil {
		done(w, r, "/admin/people/"+strconv.FormatInt(u.ID, 10), "person-created")
		return
	}
	status, inline := statusOf(err)
	if !inline {
		h.problem(w, r, rq, err)
		return
	}
	// Entered values go back into the form (escaped by the template), so
	// a refused create costs no retyping; values that are not text at all
	// are dropped rather than echoed.
	if checkText("form", f.Email+f.GivenName+f.FamilyName+f.BirthDate+f.Gender+f.Organization, 4*maxIdentifierLen) != nil {
		f, roles = newPersonForm{}, nil
	}
	h.renderPersonNew(w, r, rq, status, f, roles, apperr.Message(err))
}

// createPerson checks the form's text and calls CreateUser as the caller,
// as the create-account API does.
func (h *Handler) createPerson(ctx context.Context, f newPersonForm, password string, roles []string) (*directory.User, error) {
	for _, c := range []struct {
		field, v string
		max      int
	}{{"email", f.Email, maxEmailLen}, {"given name", f.GivenName, maxNameLen}, {"family name", f.FamilyName, maxNameLen},
		{"birth date", f.BirthDate, maxShortLen}, {"gender", f.Gender, maxShortLen}, {"organization", f.Organization, maxNameLen},
		{"password", password, maxPasswordLen}} {
		if err := checkText(c.field, c.v, c.max); err != nil {
			return nil, err
		}
	}
	if len(roles) > len(directory.StaticRoles) {
		return nil, apperr.New(apperr.Invalid, "too many roles")
	}
	for _, name := range roles {
		if !directory.IsRole(name) {
			return nil, apperr.New(apperr.Invalid, "unknown role %q", name)
		}
	}
	var orgs []int64
	if f.Organization != "" {
		o, err := h.resolveOrg(ctx, f.Organization)
		if err != nil {
			return nil, err
		}
		orgs = []int64{o.ID}
	}
	u, err := h.d.Directory.CreateUser(ctx, directory.NewUser{
		User: directory.User{Email: f.Email, GivenName: f.GivenName, FamilyName: f.FamilyName,
			BirthDate: f.BirthDate, Gender: f.Gender},
		Password: password, Roles: roles, OrgIDs: orgs,
	})
	if apperr.Is(err, apperr.Conflict) && f.Email != "" {
		// As the API says: a new user holds nothing else unique.
		return nil, apperr.Wrap(apperr.Conflict, err, "a person with email %q already exists", f.Email)
	}
	return u, err
}

// consentRow is a consent with its organization's name.
type consentRow struct {
	directory.Consent
	OrgName string
}

// cardRow is one intervention as the person sees it, with the trace.
type cardRow struct {
	Card  intervention.Card
	Trace *intervention.CardTrace
}

// personPage is the data of /admin/people/{id}.
type personPage struct {
	User          *directory.User
	Roles         []string
	Organizations []*directory.Organization
	Identifiers   []directory.Identifier
	Consents      []consentRow
	Relationships []directory.UserRelationship
	// Cards is nil when interventions are not served here.
	Cards     []cardRow
	HasCards  bool
	Events    []audit.Event
	Pager     pager
	AuditLink string
	// LockKnown is whether the caller may see (and clear) the lockout.
	LockKnown   bool
	LockedUntil time.Time
	// Choices for the action forms.
	AllRoles []roleOption
	Orgs     []orgOption
	MoreOrg  bool
	// Error is the refusal of the last action, shown beside its form
	// (ErrorFor names the form).
	Error, ErrorFor string
}

// PageTitle implements titled.
func (p personPage) PageTitle() string { return personName(p.User) }

// personName is how a person is named in titles: their name, else their
// email, else their number.
func personName(u *directory.User) string {
	if n := strings.TrimSpace(u.GivenName + " " + u.FamilyName); n != "" {
		return n
	}
	if u.Email != "" {
		return u.Email
	}
	return "Person " + strconv.FormatInt(u.ID, 10)
}

func (h *Handler) personShow(w http.ResponseWriter, r *http.Request, rq *request) {
	id, ok := h.pathID(w, r, rq, "id")
	if !ok {
		return
	}
	if err := checkText("page", r.URL.Query().Get("after"), maxShortLen); err != nil {
		h.problem(w, r, rq, err)
		return
	}
	p, err := h.loadPerson(r, rq, id)
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	h.render(w, r, rq, http.StatusOK, "person", p)
}

// loadPerson reads everything the person's page shows, each part through
// the service that guards it; the first refusal ends it.
func (h *Handler) loadPerson(r *http.Request, rq *request, id int64) (*personPage, error) {
	ctx := r.Context()
	if err := h.d.Directory.CheckManagesAccounts(ctx); err != nil {
		return nil, err
	}
	// A deactivated person is refused to all but admins, who find them
	// with the search's "include deactivated" and may reactivate them.
	u, err := h.d.Directory.GetUser(ctx, id)
	if err != nil {
		return nil, err
	}
	p := &personPage{User: u, AllRoles: roleChoices(), AuditLink: "/admin/audit?user=" + strconv.FormatInt(id, 10)}
	if p.Roles, err = h.d.Directory.UserRoles(ctx, id); err != nil {
		return nil, err
	}
	if p.Organizations, err = h.d.Directory.UserOrganizations(ctx, id); err != nil {
		return nil, err
	}
	if p.Identifiers, err = h.d.Directory.UserIdentifiers(ctx, id); err != nil {
		return nil, err
	}
	consents, err := h.d.Directory.Consents(ctx, id)
	if err != nil {
		return nil, err
	}
	names := map[int64]string{}
	for _, o := range p.Organizations {
		names[o.ID] = o.Name
	}
	for _, c := range consents {
		name, ok := names[c.OrganizationID]
		if !ok {
			o, err := h.d.Directory.GetOrganization(ctx, c.OrganizationID)
			if err != nil && !apperr.Is(err, apperr.NotFound) {
				return nil, err
			}
			if o != nil {
				name = o.Name
			}
			names[c.OrganizationID] = name
		}
		p.Consents = append(p.Consents, consentRow{Consent: c, OrgName: name})
	}
	if p.Relationships, err = h.d.Directory.Relationships(ctx, id); err != nil {
		return nil, err
	}
	if h.d.Interventions != nil {
		cards, traces, err := h.d.Interventions.UserCards(ctx, id, true)
		if err != nil {
			return nil, err
		}
		p.HasCards = true
		for i, c := range cards {
			row := cardRow{Card: c}
			if i < len(traces) {
				row.Trace = &traces[i]
			}
			p.Cards = append(p.Cards, row)
		}
	}
	if h.d.Audit != nil {
		if p.Events, p.Pager, err = h.personAudit(r, rq, id); err != nil {
			return nil, err
		}
	}
	if h.d.Sessions != nil && u.Active() && u.Email != "" {
		p.LockedUntil, err = h.d.Sessions.SignInLockout(ctx, id)
		switch {
		case err == nil:
			p.LockKnown = true
		case apperr.Is(err, apperr.Forbidden):
			err = nil
		default:
			return nil, err
		}
	}
	if p.Orgs, p.MoreOrg, err = h.orgChoices(ctx, ""); err != nil {
		return nil, err
	}
	return p, nil
}

// personAudit reads a page of the person's audit events as the API's
// /api/user/{id}/audit does: the caller has view permission (GetUser
// checked it); the person themself and admins see what the person did as
// well as what was done to them, anyone else only the latter, because
// what a person did can name other people.
func (h *Handler) personAudit(r *http.Request, rq *request, id int64) ([]audit.Event, pager, error) {
	all, self, err := h.d.Directory.AuditScope(r.Context())
	if err != nil {
		return nil, pager{}, err
	}
	f := audit.Filter{SubjectID: id}
	if all || self == id {
		f = audit.Filter{Involving: id}
	}
	events, next, err := h.d.Audit.List(r.Context(), f, listPage(r))
	if err != nil {
		return nil, pager{}, fmt.Errorf("audit of user %d: %w", id, err)
	}
	return events, newPager(r, next), nil
}

// personAction is one POST on a person's page; a nil error answers 303
// back to the page with the notice named by the returned key.
type personAction func(r *http.Request, id int64) (notice string, err error)

// personPost runs an action on the person in the path. A refusal the
// person could correct or should read (invalid, forbidden, conflict)
// shows the page again with the message beside the form, when the caller
// may still see the page; otherwise the error page.
func (h *Handler) personPost(name string, fn personAction) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, rq *request) {
		id, ok := h.pathID(w, r, rq, "id")
		if !ok {
			return
		}
		notice, err := fn(r, id)
		if err == nil {
			done(w, r, "/admin/people/"+strconv.FormatInt(id, 10), notice)
			return
		}
		status, inline := statusOf(err)
		if !inline {
			h.problem(w, r, rq, err)
			return
		}
		p, lerr := h.loadPerson(r, rq, id)
		if lerr != nil {
			h.problem(w, r, rq, err)
			return
		}
		p.Error, p.ErrorFor = apperr.Message(err), name
		h.render(w, r, rq, status, "person", p)
	}
}

func (h *Handler) personUnlock(r *http.Request, id int64) (string, error) {
	if h.d.Sessions == nil {
		return "", apperr.New(apperr.NotFound, "sign-in lockouts are not managed here")
	}
	return "person-unlocked", h.d.Sessions.Unlock(r.Context(), id)
}

func (h *Handler) personDeactivate(r *http.Request, id int64) (string, error) {
	return "person-deactivated", h.d.Directory.DeleteUser(r.Context(), id)
}

func (h *Handler) personReactivate(r *http.Request, id int64) (string, error) {
	_, err := h.d.Directory.ReactivateUser(r.Context(), id)
	return "person-reactivated", err
}

func (h *Handler) personPassword(r *http.Request, id int64) (string, error) {
	pw := r.PostForm.Get("password")
	if err := checkText("password", pw, maxPasswordLen); err != nil {
		return "", err
	}
	return "person-password", h.d.Directory.SetPassword(r.Context(), id, pw)
}

// formRole reads the one role a role form names.
func formRole(r *http.Request) (string, error) {
	name := r.PostForm.Get("role")
	if err := checkText("role", name, maxShortLen); err != nil {
		return "", err
	}
	if !directory.IsRole(name) {
		return "", apperr.New(apperr.Invalid, "choose a role ward knows")
	}
	return name, nil
}

func (h *Handler) personGrantRole(r *http.Request, id int64) (string, error) {
	name, err := formRole(r)
	if err != nil {
		return "", err
	}
	_, err = h.d.Directory.AddRoles(r.Context(), id, []string{name})
	return "person-role-added", err
}

func (h *Handler) personRemoveRole(r *http.Request, id int64) (string, error) {
	name, err := formRole(r)
	if err != nil {
		return "", err
	}
	_, err = h.d.Directory.DeleteRoles(r.Context(), id, []string{name})
	return "person-role-gone", err
}

func (h *Handler) personAddOrg(r *http.Request, id int64) (string, error) {
	ref := strings.TrimSpace(r.PostForm.Get("organization"))
	if err := checkText("organization", ref, maxNameLen); err != nil {
		return "", err
	}
	if ref == "" {
		return "", apperr.New(apperr.Invalid, "choose an organization")
	}
	o, err := h.resolveOrg(r.Context(), ref)
	if err != nil {
		return "", err
	}
	_, err = h.d.Directory.AddUserOrganizations(r.Context(), id, []int64{o.ID})
	return "person-org-added", err
}

func (h *Handler) personAddIdentifier(r *http.Request, id int64) (string, error) {
	sys, val := r.PostForm.Get("system"), r.PostForm.Get("value")
	if err := checkText("system", sys, maxIdentifierLen); err != nil {
		return "", err
	}
	if err := checkText("value", val, maxIdentifierLen); err != nil {
		return "", err
	}
	_, err := h.d.Directory.AddUserIdentifier(r.Context(), id, directory.Identifier{System: sys, Value: val})
	return "person-id-added", err
}
