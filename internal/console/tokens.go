package console

import (
	"net/http"
	"strings"
	"time"

	"ward/internal/apperr"
	"ward/internal/client"
	"ward/internal/oauth"
)

// The token tools (seed 004): paste a token to see what it stands for and
// revoke it. The token travels in POST bodies only, never in a URL, so no
// log or browser history keeps it; the page after a revocation does not
// hold it. internal/oauth decides who may inspect what: whoever may
// manage the token's client, and the person it was issued for.

func init() {
	addNotices(map[string]string{
		"token-revoked": "The token is revoked, together with the other tokens of its grant.",
	})
}

func (h *Handler) mountTokens(mux *http.ServeMux) {
	if h.d.OAuth == nil {
		return
	}
	mux.Handle("GET /admin/tokens", h.page(h.tokenTools))
	mux.Handle("POST /admin/tokens/inspect", h.form(h.tokenInspect))
	mux.Handle("POST /admin/tokens/revoke", h.form(h.tokenRevoke))
}

// tokenToolsPage is the data of the token tools page.
type tokenToolsPage struct {
	// Error is why the pasted token could not be shown.
	Error string
	// Info is what the pasted token stands for; Token is the token itself,
	// kept only in the revoke form's hidden field.
	Info  *tokenRow
	Token string
	// Why says why an inactive token is not active.
	Why string
	// ClientName and UserName name the token's client and person when
	// the viewer may see them; ClientLink says the client's page is theirs.
	ClientName string
	ClientLink bool
	UserName   string
}

// PageTitle implements titled.
func (tokenToolsPage) PageTitle() string { return "Token tools" }

func (h *Handler) tokenTools(w http.ResponseWriter, r *http.Request, rq *request) {
	h.render(w, r, rq, http.StatusOK, "tokens", tokenToolsPage{})
}

// pastedToken reads the one token field of a token tools form.
func pastedToken(r *http.Request) (string, error) {
	if len(r.PostForm["token"]) > 1 {
		return "", apperr.New(apperr.Invalid, "paste one token at a time")
	}
	return strings.TrimSpace(r.PostForm.Get("token")), nil
}

// toolError answers a refusal on the tools page itself, so the person can
// paste again; what the console cannot explain goes to h.problem.
func (h *Handler) toolError(w http.ResponseWriter, r *http.Request, rq *request, err error) {
	status, inline := statusOf(err)
	if apperr.Is(err, apperr.NotFound) {
		// No such token: say so beside the box, to paste another.
		status, inline = http.StatusNotFound, true
	}
	if !inline {
		h.problem(w, r, rq, err)
		return
	}
	msg := apperr.Message(err)
	if status == http.StatusForbidden {
		msg = "You may not inspect or revoke that token: it belongs to a client you do not manage, and it was not issued for you."
	}
	h.render(w, r, rq, status, "tokens", tokenToolsPage{Error: msg})
}

func (h *Handler) tokenInspect(w http.ResponseWriter, r *http.Request, rq *request) {
	tok, err := pastedToken(r)
	if err != nil {
		h.toolError(w, r, rq, err)
		return
	}
	in, err := h.d.OAuth.InspectToken(r.Context(), tok)
	if err != nil {
		h.toolError(w, r, rq, err)
		return
	}
	data := tokenToolsPage{Info: &tokenRow{in}}
	// The names are a courtesy: the person a token was issued for may not
	// be allowed to see its client, nor a developer the person.
	var c *client.Client
	if h.d.Clients != nil {
		if got, err := h.d.Clients.Get(r.Context(), in.ClientID); err == nil {
			c, data.ClientName, data.ClientLink = got, got.Name, true
		}
	}
	if in.UserID != 0 {
		if u, err := h.d.Directory.GetUser(r.Context(), in.UserID); err == nil {
			data.UserName = strings.TrimSpace(u.GivenName + " " + u.FamilyName)
		}
	}
	data.Why = whyInactive(in, c, h.d.Now())
	if in.Active {
		// Only a live token needs the revoke form, and so the token.
		data.Token = tok
	}
	h.render(w, r, rq, http.StatusOK, "tokens", data)
}

// whyInactive says, as far as the console can tell, why in is not active:
// expired, its client (c, nil when unknown to the viewer) disabled, or
// revoked (which also covers a person removed or a pending client that no
// longer serves them).
func whyInactive(in *oauth.TokenInfo, c *client.Client, now time.Time) string {
	switch {
	case in.Active:
		return ""
	case !in.ExpiresAt.After(now):
		return "It has expired."
	case c != nil && c.Disabled:
		return "Its client is disabled."
	}
	return "It was revoked, or its client may no longer act for its person."
}

func (h *Handler) tokenRevoke(w http.ResponseWriter, r *http.Request, rq *request) {
	tok, err := pastedToken(r)
	if err != nil {
		h.toolError(w, r, rq, err)
		return
	}
	if _, err := h.d.OAuth.RevokeToken(r.Context(), tok); err != nil {
		h.toolError(w, r, rq, err)
		return
	}
	done(w, r, "/admin/tokens", "token-revoked")
}
