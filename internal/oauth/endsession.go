package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	fjwt "github.com/ory/fosite/token/jwt"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/httpauth"
)

// SessionEnder is what the end-session endpoint needs from session.Service.
type SessionEnder interface {
	Logout(ctx context.Context, token string) error
}

// endSession is OpenID Connect RP-Initiated Logout 1.0. An application
// signs the person out of ward by sending the browser here with the ID
// token it holds (id_token_hint), and optionally where to go afterwards
// (post_logout_redirect_uri, which must be one of the application's
// registered redirect URIs, compared exactly) and a state to echo.
//
// Without a valid id_token_hint nothing is ended: any site could otherwise
// sign people out with a link. The person is pointed at ward's own sign-out
// button instead.
func (p *Provider) endSession(w http.ResponseWriter, r *http.Request, d AuthorizeDeps) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		d.Pages.Error(w, r, http.StatusBadRequest, "Bad request", "The sign-out request could not be read.")
		return
	}
	hint := r.Form.Get("id_token_hint")
	if hint == "" {
		d.Pages.Error(w, r, http.StatusBadRequest, "Sign out of ward",
			"The application did not say who asked to sign out. Use the Sign out button on ward's home page.")
		return
	}
	tok, err := p.signer.Decode(ctx, hint)
	if err != nil && (tok == nil || tok.Claims == nil || !expiredOnly(err)) {
		d.Pages.Error(w, r, http.StatusBadRequest, "Sign out of ward", "The application's sign-out request carries an ID token ward did not issue.")
		return
	}
	clientID := audienceOf(tok.Claims["aud"])
	if c := r.Form.Get("client_id"); c != "" && c != clientID {
		d.Pages.Error(w, r, http.StatusBadRequest, "Sign out of ward", "client_id does not match the ID token.")
		return
	}
	redirect := r.Form.Get("post_logout_redirect_uri")
	if redirect != "" {
		e, err := p.clients.get(ctx, clientID)
		if err != nil || e.c.Disabled || !slices.Contains(e.c.RedirectURIs, redirect) {
			d.Pages.Error(w, r, http.StatusBadRequest, "Sign out of ward",
				"post_logout_redirect_uri is not one of the application's registered redirect URIs.")
			return
		}
	}
	if cookie := httpauth.Token(r); cookie != "" {
		if err := d.Ender.Logout(ctx, cookie); err != nil && !apperr.Is(err, apperr.NotFound) && !apperr.Is(err, apperr.Unauthenticated) {
			p.log.ErrorContext(ctx, "oauth: end session", "err", err)
			d.Pages.Error(w, r, http.StatusInternalServerError, "Something went wrong", "ward could not sign you out. The problem has been logged.")
			return
		}
		sub, _ := tok.Claims["sub"].(string)
		actx := actor.With(ctx, actor.Actor{ClientID: clientID})
		if err := p.d.Audit.Record(actx, audit.Login, 0, fmt.Sprintf("signed out of ward at the request of client %s (subject %s)", truncate(clientID, 128), truncate(sub, 64))); err != nil {
			p.log.ErrorContext(ctx, "oauth: audit end session", "err", err)
		}
	}
	d.Cookies.Clear(w)
	if redirect == "" {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	u, _ := url.Parse(redirect)
	if st := r.Form.Get("state"); st != "" {
		q := u.Query()
		q.Set("state", st)
		u.RawQuery = q.Encode()
	}
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// audienceOf returns the single client an ID token was issued to.
func audienceOf(aud any) string {
	switch v := aud.(type) {
	case string:
		return v
	case []any:
		if len(v) == 1 {
			s, _ := v[0].(string)
			return s
		}
	}
	return ""
}

// expiredOnly reports whether err says only that a JWT whose signature
// verified has expired: an expired ID token is still a fine id_token_hint.
func expiredOnly(err error) bool {
	var ve *fjwt.ValidationError
	return errors.As(err, &ve) && ve.Errors == fjwt.ValidationErrorExpired
}
