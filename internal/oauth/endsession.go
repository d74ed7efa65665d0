package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

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
// (post_logout_redirect_uri, which must be one of the registered redirect
// URIs of the client the hint was issued to, compared exactly) and a state
// to echo.
//
// Without a valid id_token_hint nothing is ended: any site could otherwise
// sign people out with a link. The person is pointed at ward's own sign-out
// button instead. A hint is taken as the person's wish only when it was
// issued in the browser session that is signing out (its sid claim is that
// session's, and its subject the session's person): any other hint, such
// as an ID token from an earlier session replayed by another site, gets a
// confirmation page whose form posts back here with confirm=yes, checked
// against cross-origin requests (§2: the OP asks the person).
func (p *Provider) endSession(w http.ResponseWriter, r *http.Request, d AuthorizeDeps) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		d.Pages.Error(w, r, http.StatusBadRequest, "Bad request", "The sign-out request could not be read.")
		return
	}
	// Only ward's own form confirms, and only by POST: a link cannot.
	confirmed := r.PostForm.Get("confirm") == "yes"
	if confirmed && d.CSRF != nil {
		if err := d.CSRF.Check(r); err != nil {
			d.Pages.Error(w, r, http.StatusForbidden, "Request refused", "The sign-out form must be sent from ward's own page.")
			return
		}
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
	clientName, registered := clientID, []string(nil)
	if e, err := p.clients.get(ctx, clientID); err == nil && !e.c.Disabled {
		clientName, registered = e.c.Name, e.c.RedirectURIs
	}
	redirect := r.Form.Get("post_logout_redirect_uri")
	if redirect != "" && !slices.Contains(registered, redirect) {
		d.Pages.Error(w, r, http.StatusBadRequest, "Sign out of ward",
			"post_logout_redirect_uri is not one of the application's registered redirect URIs.")
		return
	}
	cookie := httpauth.Token(r)
	signedIn := false
	if cookie != "" {
		sess, err := d.Sessions.Authenticate(ctx, cookie)
		switch {
		case err == nil:
			signedIn = true
			if !confirmed && !hintFromSession(tok.Claims, cookie, sess.UserID) {
				var params []Param
				for _, k := range []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state"} {
					if v := r.Form.Get(k); v != "" {
						params = append(params, Param{Name: k, Value: v})
					}
				}
				d.Pages.ConfirmLogout(w, r, &LogoutPage{Action: PathEndSession, ClientName: clientName, Params: params})
				return
			}
		case apperr.Is(err, apperr.Unauthenticated), apperr.Is(err, apperr.NotFound):
			// Nobody is signed in: there is nothing to end or to ask.
		default:
			p.log.ErrorContext(ctx, "oauth: end session", "err", err)
			d.Pages.Error(w, r, http.StatusInternalServerError, "Something went wrong", "ward could not sign you out. The problem has been logged.")
			return
		}
	}
	if signedIn {
		if err := d.Ender.Logout(ctx, cookie); err != nil && !apperr.Is(err, apperr.NotFound) && !apperr.Is(err, apperr.Unauthenticated) {
			p.log.ErrorContext(ctx, "oauth: end session", "err", err)
			d.Pages.Error(w, r, http.StatusInternalServerError, "Something went wrong", "ward could not sign you out. The problem has been logged.")
			return
		}
		sub, _ := tok.Claims["sub"].(string)
		how := "its ID token from this session"
		if confirmed {
			how = "confirmed by the person"
		}
		actx := actor.With(ctx, actor.Actor{ClientID: clientID})
		if err := p.d.Audit.Record(actx, audit.Change{Type: audit.Signout, Subject: audit.Ref("Client", truncate(clientID, 128)),
			Fields: map[string]any{"confirmed": confirmed},
			Comment: fmt.Sprintf("signed out of ward at the request of client %s (subject %s; %s)",
				truncate(clientID, 128), truncate(sub, 64), how)}); err != nil {
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

// sessionSID is the sid of the browser session whose cookie is token: a
// one-way function of it, so the ID token names the session without
// carrying anything that could be used as, or to find, the cookie.
func sessionSID(token string) string {
	if token == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("ward sid\x00" + token))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// hintFromSession reports whether ID token claims were issued in the
// browser session of cookie, to its person.
func hintFromSession(claims map[string]any, cookie string, userID int64) bool {
	sid, _ := claims["sid"].(string)
	sub, _ := claims["sub"].(string)
	return sid != "" && subtle.ConstantTimeCompare([]byte(sid), []byte(sessionSID(cookie))) == 1 &&
		sub == strconv.FormatInt(userID, 10)
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
