package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"ward/internal/apperr"
	"ward/internal/client"
	"ward/internal/directory"
	"ward/internal/oauth"
	"ward/internal/oauth/tokens"
)

// The API clients pages (issue 17, item 4; seed 004): the client registry
// of internal/client and the grants internal/oauth's token tools show, as
// the management API's /api/client handlers drive them. The services
// decide everything: an administrator manages every client, an application
// developer their own, and a developer's client waits for approval.

func init() {
	addNotices(map[string]string{
		"client-disabled":      "The client is disabled: it can obtain no tokens, and the tokens it held are revoked.",
		"client-enabled":       "The client is enabled again.",
		"client-approved":      "The client is approved: anyone may now authorize it.",
		"client-user-revoked":  "That person's authorization is revoked: their tokens for this client are revoked and their consent withdrawn.",
		"client-token-revoked": "The token is revoked, together with the other tokens of its grant.",
		"system-revoked":       "The system client is revoked for good; the tokens it issued are revoked.",
	})
}

// maxClientField bounds one text field of the client form before it
// reaches the service, which has its own, finer limits.
const maxClientField = 64 << 10

func (h *Handler) mountClients(mux *http.ServeMux) {
	if h.d.Clients == nil || h.d.OAuth == nil {
		return
	}
	mux.Handle("GET /admin/clients", h.page(h.clientList))
	mux.Handle("GET /admin/clients/new", h.page(h.clientNew))
	mux.Handle("POST /admin/clients", h.form(h.clientCreate))
	mux.Handle("GET /admin/clients/{client_id}", h.page(h.clientShow))
	mux.Handle("POST /admin/clients/{client_id}/disable", h.form(h.clientDisable))
	mux.Handle("POST /admin/clients/{client_id}/enable", h.form(h.clientEnable))
	mux.Handle("POST /admin/clients/{client_id}/approve", h.form(h.clientApprove))
	mux.Handle("POST /admin/clients/{client_id}/rotate-secret", h.form(h.clientRotate))
	mux.Handle("POST /admin/clients/{client_id}/users/{user_id}/revoke", h.form(h.clientUserRevoke))
	mux.Handle("POST /admin/clients/{client_id}/tokens/{token_id}/revoke", h.form(h.clientTokenRevoke))
	mux.Handle("POST /admin/clients/systems", h.form(h.systemCreate))
	mux.Handle("POST /admin/clients/systems/{client_id}/rotate", h.form(h.systemRotate))
	mux.Handle("POST /admin/clients/systems/{client_id}/revoke", h.form(h.systemRevoke))
}

// clientRow is one client as the pages show it.
type clientRow struct {
	*client.Client
}

// Kind is "public" or "confidential".
func (c clientRow) Kind() string {
	if c.Public {
		return "public"
	}
	return "confidential"
}

// State is what the client may do now, in one word.
func (c clientRow) State() string {
	switch {
	case c.Disabled:
		return "disabled"
	case c.Pending():
		return "pending approval"
	default:
		return "active"
	}
}

func rows(cs []*client.Client) []clientRow {
	out := make([]clientRow, len(cs))
	for i, c := range cs {
		out[i] = clientRow{c}
	}
	return out
}

// clientListPage is the data of the clients list.
type clientListPage struct {
	Clients []clientRow
	Pager   pager
	// Owner, State and Name are the filters as typed ("" for none).
	Owner  string
	State  string
	Name   string
	States []string
	// Admin says whether the viewer holds the admin role: it only picks
	// which sections the page offers (the services still decide).
	Admin bool
	// Systems are the legacy IdP API's system clients (administrators).
	Systems      []clientRow
	SystemsPager pager
}

// PageTitle implements titled.
func (clientListPage) PageTitle() string { return "API clients" }

func isAdmin(rq *request) bool { return slices.Contains(rq.Roles, directory.RoleAdmin) }

func (h *Handler) clientList(w http.ResponseWriter, r *http.Request, rq *request) {
	q := r.URL.Query()
	data := clientListPage{Owner: strings.TrimSpace(q.Get("owner")), State: q.Get("state"),
		Name: strings.TrimSpace(q.Get("name")), States: client.States, Admin: isAdmin(rq)}
	// The service checks state and name (Invalid: a 400 page).
	f := client.Filter{State: data.State, Name: data.Name}
	if data.Owner != "" {
		id, err := strconv.ParseInt(data.Owner, 10, 64)
		if err != nil || id <= 0 {
			h.render(w, r, rq, http.StatusBadRequest, "error", errorPage{Title: "That did not work",
				Message: "The owner filter must be a user id (a positive whole number)."})
			return
		}
		f.OwnerID = id
	}
	cs, next, err := h.d.Clients.List(r.Context(), f, listPage(r))
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	data.Clients, data.Pager = rows(cs), newPager(r, next)
	if data.Admin {
		// The system clients page on their own cursor, so the two lists
		// do not move each other.
		p := listPage(r)
		p.After = q.Get("systems_after")
		ss, snext, err := h.d.Clients.ListSystems(r.Context(), p)
		if err != nil {
			h.problem(w, r, rq, err)
			return
		}
		data.Systems = rows(ss)
		data.SystemsPager = keyedPager(r, "systems_after", snext)
	}
	h.render(w, r, rq, http.StatusOK, "clients", data)
}

// keyedPager is newPager for a second list on a page, whose cursor is the
// query parameter key rather than "after".
func keyedPager(r *http.Request, key, next string) pager {
	var p pager
	q := r.URL.Query()
	q.Del("done")
	if next != "" {
		q.Set(key, next)
		p.Next = r.URL.Path + "?" + q.Encode()
	}
	if r.URL.Query().Get(key) != "" {
		q.Del(key)
		p.First = r.URL.Path
		if enc := q.Encode(); enc != "" {
			p.First += "?" + enc
		}
	}
	return p
}

// clientForm is the registration form: what was typed, and what the
// service said about it.
type clientForm struct {
	Name         string
	Public       bool
	GrantTypes   []string
	RedirectURIs string
	Scope        string
	AuthMethod   string
	JWKSURI      string
	JWKS         string
	TokenFormat  string
	IDTokenAlg   string
	Owner        string
	Intervention string
	// Error is the service's refusal, shown above the form.
	Error string
	// The choices the form offers.
	AllGrants      []string
	AllAuthMethods []string
	AllAlgs        []string
}

// PageTitle implements titled.
func (clientForm) PageTitle() string { return "Register an API client" }

// Has reports whether grant g is ticked.
func (f clientForm) Has(g string) bool { return slices.Contains(f.GrantTypes, g) }

func newClientForm() clientForm {
	return clientForm{
		GrantTypes:     []string{client.GrantAuthorizationCode, client.GrantRefreshToken},
		AllGrants:      client.GrantTypes,
		AllAuthMethods: client.AuthMethods,
		AllAlgs:        client.IDTokenAlgs,
		TokenFormat:    client.TokenOpaque,
	}
}

func (h *Handler) clientNew(w http.ResponseWriter, r *http.Request, rq *request) {
	h.render(w, r, rq, http.StatusOK, "client_new", newClientForm())
}

// readClientForm reads the posted form into f and the settings the service
// takes; a problem it can see itself (too long, not a number) is returned
// as an Invalid error.
func readClientForm(r *http.Request) (clientForm, client.Settings, error) {
	f := newClientForm()
	pf := r.PostForm
	for _, k := range []string{"name", "redirect_uris", "scope", "auth_method", "jwks_uri", "jwks",
		"token_format", "id_token_alg", "owner_id", "intervention", "kind"} {
		if len(pf[k]) > 1 {
			return f, client.Settings{}, apperr.New(apperr.Invalid, "the field %s was sent more than once", k)
		}
		if len(pf.Get(k)) > maxClientField {
			return f, client.Settings{}, apperr.New(apperr.Invalid, "the field %s is longer than %d bytes", k, maxClientField)
		}
	}
	f.Name, f.Public = pf.Get("name"), pf.Get("kind") == "public"
	f.GrantTypes = pf["grant_types"]
	if len(f.GrantTypes) > len(client.GrantTypes) {
		return f, client.Settings{}, apperr.New(apperr.Invalid, "too many grant types")
	}
	f.RedirectURIs, f.Scope, f.AuthMethod = pf.Get("redirect_uris"), pf.Get("scope"), pf.Get("auth_method")
	f.JWKSURI, f.JWKS, f.TokenFormat, f.IDTokenAlg = pf.Get("jwks_uri"), pf.Get("jwks"), pf.Get("token_format"), pf.Get("id_token_alg")
	f.Owner, f.Intervention = strings.TrimSpace(pf.Get("owner_id")), pf.Get("intervention")
	set := client.Settings{Name: f.Name, Public: f.Public, GrantTypes: f.GrantTypes, Scope: f.Scope,
		AuthMethod: f.AuthMethod, JWKSURI: f.JWKSURI, JWKS: f.JWKS, TokenFormat: f.TokenFormat,
		IDTokenAlg: f.IDTokenAlg, Intervention: f.Intervention}
	if k := pf.Get("kind"); k != "" && k != "public" && k != "confidential" {
		return f, set, apperr.New(apperr.Invalid, "the client type must be confidential or public")
	}
	// One redirect URI a line; blank lines are nothing.
	for _, line := range strings.Split(f.RedirectURIs, "\n") {
		if u := strings.TrimSpace(line); u != "" {
			set.RedirectURIs = append(set.RedirectURIs, u)
		}
	}
	if f.Owner != "" {
		id, err := strconv.ParseInt(f.Owner, 10, 64)
		if err != nil || id < 0 {
			return f, set, apperr.New(apperr.Invalid, "the owner must be a user id (a whole number), or empty")
		}
		set.OwnerID = id
	}
	return f, set, nil
}

// clientCreatedPage answers a registration or a rotation: the client and,
// this once, its secret.
type clientCreatedPage struct {
	Client clientRow
	Secret string
	// Rotated is true when the secret replaces an old one.
	Rotated bool
}

// PageTitle implements titled.
func (p clientCreatedPage) PageTitle() string {
	if p.Rotated {
		return "New client secret"
	}
	return "Client registered"
}

func (h *Handler) clientCreate(w http.ResponseWriter, r *http.Request, rq *request) {
	f, set, err := readClientForm(r)
	if err == nil {
		var c *client.Client
		var secret string
		c, secret, err = h.d.Clients.Create(r.Context(), set)
		if err == nil {
			h.render(w, r, rq, http.StatusCreated, "client_created", clientCreatedPage{Client: clientRow{c}, Secret: secret})
			return
		}
	}
	// A refusal the person can act on is shown above the form they filled.
	status, inline := statusOf(err)
	if !inline {
		h.problem(w, r, rq, err)
		return
	}
	f.Error = apperr.Message(err)
	h.render(w, r, rq, status, "client_new", f)
}

// clientUserRow is one person who authorized the client.
type clientUserRow struct {
	tokens.ClientUser
	// Name is their name, when the viewer may see it.
	Name string
}

// tokenRow is one token as the pages show it.
type tokenRow struct {
	*oauth.TokenInfo
}

// ScopeList is the token's scopes, space-separated.
func (t tokenRow) ScopeList() string { return strings.Join(t.Scopes, " ") }

// clientPage is the data of one client's page.
type clientPage struct {
	Client       clientRow
	Admin        bool
	Users        []clientUserRow
	UsersPager   pager
	Tokens       []tokenRow
	TokensPager  pager
	RedirectURIs string
}

// PageTitle implements titled.
func (p clientPage) PageTitle() string { return "API client " + p.Client.Name }

// usersPageSize is how many of a client's people its page lists at once.
const usersPageSize = pageSize

func (h *Handler) clientShow(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("client_id")
	c, err := h.d.Clients.Get(r.Context(), id)
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	data := clientPage{Client: clientRow{c}, Admin: isAdmin(rq)}
	us, err := h.d.OAuth.ClientUsers(r.Context(), id)
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	// ClientUsers answers in user-id order, whole; the page shows it a
	// page at a time with the last user id shown as the cursor.
	var after int64
	if s := r.URL.Query().Get("users_after"); s != "" {
		if after, err = strconv.ParseInt(s, 10, 64); err != nil || after < 0 {
			h.problem(w, r, rq, apperr.New(apperr.Invalid, "users_after must be a user id"))
			return
		}
	}
	start, _ := slices.BinarySearchFunc(us, after+1, func(u tokens.ClientUser, id int64) int {
		switch {
		case u.UserID < id:
			return -1
		case u.UserID > id:
			return 1
		}
		return 0
	})
	us = us[start:]
	next := ""
	if len(us) > usersPageSize {
		us = us[:usersPageSize]
		next = strconv.FormatInt(us[len(us)-1].UserID, 10)
	}
	for _, u := range us {
		row := clientUserRow{ClientUser: u}
		// The name is a courtesy: a developer may not be allowed to see
		// the person, and then the id is all the page shows.
		if p, err := h.d.Directory.GetUser(r.Context(), u.UserID); err == nil {
			row.Name = strings.TrimSpace(p.GivenName + " " + p.FamilyName)
		}
		data.Users = append(data.Users, row)
	}
	data.UsersPager = keyedPager(r, "users_after", next)
	ts, tnext, err := h.d.OAuth.ClientTokens(r.Context(), id, listPage(r))
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	for _, t := range ts {
		data.Tokens = append(data.Tokens, tokenRow{t})
	}
	data.TokensPager = newPager(r, tnext)
	h.render(w, r, rq, http.StatusOK, "client", data)
}

// clientPath is the page of client id.
func clientPath(id string) string { return "/admin/clients/" + url.PathEscape(id) }

func (h *Handler) clientDisable(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("client_id")
	if _, err := h.d.Clients.Disable(r.Context(), id); err != nil {
		h.problem(w, r, rq, err)
		return
	}
	done(w, r, clientPath(id), "client-disabled")
}

func (h *Handler) clientEnable(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("client_id")
	if _, err := h.d.Clients.Enable(r.Context(), id); err != nil {
		h.problem(w, r, rq, err)
		return
	}
	done(w, r, clientPath(id), "client-enabled")
}

func (h *Handler) clientApprove(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("client_id")
	if _, err := h.d.Clients.Approve(r.Context(), id); err != nil {
		h.problem(w, r, rq, err)
		return
	}
	done(w, r, clientPath(id), "client-approved")
}

// clientRotate answers with the new secret on the page itself: it is
// shown this once, so it is never behind a redirect.
func (h *Handler) clientRotate(w http.ResponseWriter, r *http.Request, rq *request) {
	c, secret, err := h.d.Clients.RotateSecret(r.Context(), r.PathValue("client_id"))
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	h.render(w, r, rq, http.StatusOK, "client_created", clientCreatedPage{Client: clientRow{c}, Secret: secret, Rotated: true})
}

func (h *Handler) clientUserRevoke(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("client_id")
	uid, ok := h.pathID(w, r, rq, "user_id")
	if !ok {
		return
	}
	if _, err := h.d.OAuth.RevokeClientUser(r.Context(), id, uid); err != nil {
		h.problem(w, r, rq, err)
		return
	}
	done(w, r, clientPath(id), "client-user-revoked")
}

func (h *Handler) clientTokenRevoke(w http.ResponseWriter, r *http.Request, rq *request) {
	id := r.PathValue("client_id")
	tid, ok := h.pathID(w, r, rq, "token_id")
	if !ok {
		return
	}
	if _, err := h.d.OAuth.RevokeTokenByID(r.Context(), id, tid); err != nil {
		h.problem(w, r, rq, err)
		return
	}
	done(w, r, clientPath(id), "client-token-revoked")
}

// systemSecretPage answers the creation or rotation of an IdP system
// client: its id and, this once, its API token.
type systemSecretPage struct {
	Client clientRow
	Token  string
}

// PageTitle implements titled.
func (systemSecretPage) PageTitle() string { return "IdP system client token" }

func (h *Handler) systemCreate(w http.ResponseWriter, r *http.Request, rq *request) {
	var org int64
	if s := strings.TrimSpace(r.PostForm.Get("organization_id")); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			h.problem(w, r, rq, apperr.New(apperr.Invalid, "the organization must be an organization id (a whole number), or empty"))
			return
		}
		org = n
	}
	name := r.PostForm.Get("name")
	if len(name) > maxClientField {
		h.problem(w, r, rq, apperr.New(apperr.Invalid, "the name is longer than %d bytes", maxClientField))
		return
	}
	c, token, err := h.d.Clients.CreateSystem(r.Context(), name, org)
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	h.render(w, r, rq, http.StatusCreated, "client_system", systemSecretPage{Client: clientRow{c}, Token: token})
}

func (h *Handler) systemRotate(w http.ResponseWriter, r *http.Request, rq *request) {
	c, token, err := h.d.Clients.RotateSystem(r.Context(), r.PathValue("client_id"))
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	h.render(w, r, rq, http.StatusOK, "client_system", systemSecretPage{Client: clientRow{c}, Token: token})
}

func (h *Handler) systemRevoke(w http.ResponseWriter, r *http.Request, rq *request) {
	if _, err := h.d.Clients.RevokeSystem(r.Context(), r.PathValue("client_id")); err != nil {
		h.problem(w, r, rq, err)
		return
	}
	done(w, r, "/admin/clients", "system-revoked")
}
