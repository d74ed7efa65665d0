package oauth

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/directory"
	"ward/internal/httpauth"
	"ward/internal/oauth/flow"
	"ward/internal/oauth/scope"
	"ward/internal/oauth/tokens"
	"ward/internal/session"
)

// Sessions is what the authorize endpoint needs from session.Service: the
// browser's session, for who is signed in and since when.
type Sessions interface {
	Authenticate(ctx context.Context, token string) (*session.Session, error)
}

// ScopeLine is one requested scope on the consent page, in plain words.
type ScopeLine struct {
	Scope       string
	Description string
}

// PatientOption is a patient a staff member may launch an app with.
type PatientOption struct {
	ID   int64
	Name string
}

// Param is one hidden field that carries the authorization request
// through the consent form.
type Param struct{ Name, Value string }

// ConsentPage is what the consent page shows.
type ConsentPage struct {
	Action     string
	ClientID   string
	ClientName string
	UserName   string
	Scopes     []ScopeLine
	Params     []Param
	// PickPatient asks the person to choose the launch patient.
	PickPatient bool
	Patients    []PatientOption
	Error       string
}

// LogoutPage is what the sign-out confirmation page shows: a form that
// posts Params back to Action with confirm=yes.
type LogoutPage struct {
	Action     string
	ClientName string
	Params     []Param
}

// Pages renders the authorize endpoint's HTML (internal/web implements it).
type Pages interface {
	Consent(w http.ResponseWriter, r *http.Request, p *ConsentPage)
	ConfirmLogout(w http.ResponseWriter, r *http.Request, p *LogoutPage)
	Error(w http.ResponseWriter, r *http.Request, status int, title, message string)
}

// AuthorizeDeps are what the authorize endpoint needs besides the Provider.
type AuthorizeDeps struct {
	Sessions Sessions
	Pages    Pages
	// CSRF checks the consent form's answer (cross-origin POSTs of a bare
	// authorization request stay allowed: SMART's authorize-post).
	CSRF *http.CrossOriginProtection
	// Ender and Cookies end the browser session at the end-session
	// endpoint (whose confirmation form CSRF checks too).
	Ender   SessionEnder
	Cookies httpauth.Cookies
}

// loginAfterParam marks an authorization request that sent the browser to
// sign in again (prompt=login, max_age): its value is the unix time after
// which a sign-in counts. fosite ignores parameters it does not know.
const loginAfterParam = "ward_login_after"

// MountAuthorize registers the authorize endpoint and the end-session
// endpoint (GET and POST each).
func (p *Provider) MountAuthorize(mux *http.ServeMux, d AuthorizeDeps) {
	h := func(w http.ResponseWriter, r *http.Request) { p.authorize(w, r, d) }
	mux.HandleFunc("GET "+PathAuthorize, h)
	mux.HandleFunc("POST "+PathAuthorize, h)
	end := func(w http.ResponseWriter, r *http.Request) { p.endSession(w, r, d) }
	mux.HandleFunc("GET "+PathEndSession, end)
	mux.HandleFunc("POST "+PathEndSession, end)
}

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request, d AuthorizeDeps) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		d.Pages.Error(w, r, http.StatusBadRequest, "Bad request", "The authorization request could not be read.")
		return
	}
	decision := flow.Decision(r.PostForm.Get("decision"))
	if decision != flow.Undecided {
		if decision != flow.Grant && decision != flow.Refuse {
			d.Pages.Error(w, r, http.StatusBadRequest, "Bad request", "Unknown decision.")
			return
		}
		if err := d.CSRF.Check(r); err != nil {
			d.Pages.Error(w, r, http.StatusForbidden, "Request refused", "The consent form must be sent from ward's own page.")
			return
		}
	}
	ar, err := p.fosite.NewAuthorizeRequest(ctx, r)
	if err != nil {
		p.auditFailure(ctx, "authorization request", r.Form.Get("client_id"), err)
		p.authorizeError(w, r, d, ar, err)
		return
	}
	fc, _ := ar.GetClient().(*fositeClient)
	if fc == nil {
		p.authorizeError(w, r, d, ar, fosite.ErrServerError)
		return
	}
	// SMART's aud names the FHIR server the app means to use; a token for
	// another server must not be issued here (it would leak to whoever
	// runs that URL).
	if aud := r.Form.Get("aud"); aud != "" && strings.TrimRight(aud, "/") != p.cfg.FHIRBase() {
		p.auditFailure(ctx, "authorization request", fc.GetID(), fosite.ErrInvalidRequest)
		p.authorizeError(w, r, d, ar, fosite.ErrInvalidRequest.WithHintf("aud must be this server's FHIR base URL, %s.", p.cfg.FHIRBase()))
		return
	}

	var sess *session.Session
	if tok := httpauth.Token(r); tok != "" {
		s, err := d.Sessions.Authenticate(ctx, tok)
		switch {
		case err == nil:
			sess = s
		case apperr.Is(err, apperr.Unauthenticated), apperr.Is(err, apperr.NotFound):
		default:
			p.authorizeError(w, r, d, ar, fosite.ErrServerError.WithWrap(err))
			return
		}
	}
	requested := ar.GetRequestedScopes()
	in := flow.Input{SignedIn: sess != nil, Now: p.now(), Prompt: map[string]bool{}, Decision: decision,
		NeedPatient: requested.Has(scope.LaunchPatient)}
	for _, v := range strings.Fields(r.Form.Get("prompt")) {
		in.Prompt[v] = true
	}
	if v := r.Form.Get("max_age"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			p.authorizeError(w, r, d, ar, fosite.ErrInvalidRequest.WithHint("max_age must be a non-negative integer."))
			return
		}
		in.MaxAgeSet, in.MaxAge = true, time.Duration(n)*time.Second
	}
	if v, err := strconv.ParseInt(r.Form.Get(loginAfterParam), 10, 64); err == nil {
		in.LoginAfter = time.Unix(v, 0)
	}

	var (
		userID  int64
		roles   []string
		patient int64
	)
	if sess != nil {
		in.AuthTime = sess.AuthTime
		userID = sess.UserID
		uctx := actor.With(ctx, actor.Actor{UserID: userID})
		if roles, err = p.d.Directory.UserRoles(uctx, userID); err != nil {
			p.authorizeError(w, r, d, ar, fosite.ErrServerError.WithWrap(err))
			return
		}
		c, err := p.d.Tokens.FindConsent(ctx, userID, fc.GetID(), requested)
		switch {
		case err == nil && c != nil:
			in.Remembered = true
		case err == nil, notFound(err):
		default:
			p.authorizeError(w, r, d, ar, fosite.ErrServerError.WithWrap(err))
			return
		}
		if in.NeedPatient {
			patient, in.PatientKnown, err = p.launchPatient(uctx, userID, roles, r.PostForm.Get("patient"))
			if err != nil {
				p.authorizeError(w, r, d, ar, fosite.ErrServerError.WithWrap(err))
				return
			}
		}
	}

	step := flow.Next(in)
	if step == flow.Consent || step == flow.Issue {
		// Now that ward knows who is signed in: a pending client serves
		// its owner only, so nobody else is even asked to consent.
		if dec := mayUse(fc.c, userID, client.GrantAuthorizationCode); !dec.Allowed {
			err := fosite.ErrAccessDenied.WithHint(dec.Reason)
			p.auditFailure(ctx, "authorization request", fc.GetID(), err)
			p.authorizeError(w, r, d, ar, err)
			return
		}
	}
	switch step {
	case flow.Login:
		p.toLogin(w, r, in)
	case flow.LoginRequired:
		p.authorizeError(w, r, d, ar, fosite.ErrLoginRequired)
	case flow.ConsentRequired:
		p.authorizeError(w, r, d, ar, fosite.ErrConsentRequired)
	case flow.Deny:
		p.recordAuthorize(ctx, userID, fc.GetID(), "consent refused for client "+fc.GetID())
		p.authorizeError(w, r, d, ar, fosite.ErrAccessDenied.WithHint("The person refused the request."))
	case flow.Consent:
		page, err := p.consentPage(actor.With(ctx, actor.Actor{UserID: userID}), r, fc, requested, userID, in)
		if err != nil {
			p.authorizeError(w, r, d, ar, fosite.ErrServerError.WithWrap(err))
			return
		}
		d.Pages.Consent(w, r, page)
	case flow.Issue:
		p.issueCode(w, r, d, ar, fc, sess, roles, patient, in.LoginAfter, decision == flow.Grant && !in.Remembered)
	}
}

// launchPatient settles the SMART launch patient: a patient launches with
// their own record; anyone else must pick a patient they may see.
func (p *Provider) launchPatient(ctx context.Context, userID int64, roles []string, picked string) (int64, bool, error) {
	if slices.Contains(roles, directory.RolePatient) {
		return userID, true, nil
	}
	if picked == "" {
		return 0, false, nil
	}
	id, err := strconv.ParseInt(picked, 10, 64)
	if err != nil || id <= 0 {
		return 0, false, nil
	}
	if err := p.d.Directory.CheckRole(ctx, directory.View, id); err != nil {
		if k := apperr.KindOf(err); k == apperr.Forbidden || k == apperr.NotFound || k == apperr.Invalid || k == apperr.Unauthenticated {
			return 0, false, nil
		}
		return 0, false, err
	}
	proles, err := p.d.Directory.UserRoles(ctx, id)
	if err != nil {
		if apperr.Is(err, apperr.NotFound) || apperr.Is(err, apperr.Forbidden) {
			return 0, false, nil
		}
		return 0, false, err
	}
	if !slices.Contains(proles, directory.RolePatient) {
		return 0, false, nil
	}
	return id, true, nil
}

// toLogin sends the browser to sign in, then back to this request. For a
// forced re-authentication the request is marked, so that the sign-in that
// follows is recognised as fresh.
func (p *Provider) toLogin(w http.ResponseWriter, r *http.Request, in flow.Input) {
	q := url.Values{}
	for k, v := range r.Form {
		if k == "decision" || k == "patient" || k == loginAfterParam {
			continue
		}
		q[k] = v
	}
	reauth := in.SignedIn
	if reauth {
		q.Set(loginAfterParam, strconv.FormatInt(p.now().Unix(), 10))
	}
	next := PathAuthorize + "?" + q.Encode()
	target := "/login?next=" + url.QueryEscape(next)
	if reauth {
		target += "&reauth=1"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (p *Provider) consentPage(ctx context.Context, r *http.Request, fc *fositeClient, requested fosite.Arguments,
	userID int64, in flow.Input) (*ConsentPage, error) {
	page := &ConsentPage{Action: PathAuthorize, ClientID: fc.GetID(), ClientName: fc.c.Name}
	if u, err := p.d.Directory.GetUser(ctx, userID); err == nil {
		page.UserName = strings.TrimSpace(u.GivenName + " " + u.FamilyName)
		if page.UserName == "" {
			page.UserName = u.Email
		}
	}
	for _, s := range requested {
		line := ScopeLine{Scope: s, Description: s}
		if sc, err := scope.Parse(s); err == nil {
			line.Description = scope.Describe(sc)
		}
		page.Scopes = append(page.Scopes, line)
	}
	for k, vs := range r.Form {
		if k == "decision" || k == "patient" {
			continue
		}
		for _, v := range vs {
			page.Params = append(page.Params, Param{Name: k, Value: v})
		}
	}
	slices.SortFunc(page.Params, func(a, b Param) int { return strings.Compare(a.Name, b.Name) })
	if in.NeedPatient && !in.PatientKnown {
		page.PickPatient = true
		if in.Decision == flow.Grant {
			page.Error = "Choose a patient you may see."
		}
		ids, err := p.d.Directory.VisiblePatients(ctx, userID, 0, 100)
		if err != nil && !apperr.Is(err, apperr.Forbidden) {
			return nil, err
		}
		for _, id := range ids {
			u, err := p.d.Directory.GetUser(ctx, id)
			if err != nil {
				continue
			}
			page.Patients = append(page.Patients, PatientOption{ID: id,
				Name: strings.TrimSpace(u.GivenName + " " + u.FamilyName + " (" + u.BirthDate + ")")})
		}
	}
	return page, nil
}

// fhirUserOf is the FHIR resource URL of a person: Patient for patients,
// Practitioner for everyone else.
func (p *Provider) fhirUserOf(userID int64, roles []string) string {
	typ := "Practitioner"
	if slices.Contains(roles, directory.RolePatient) {
		typ = "Patient"
	}
	return fmt.Sprintf("%s/%s/%d", p.cfg.FHIRBase(), typ, userID)
}

func (p *Provider) issueCode(w http.ResponseWriter, r *http.Request, d AuthorizeDeps, ar fosite.AuthorizeRequester,
	fc *fositeClient, sess *session.Session, roles []string, patient int64, loginAfter time.Time, remember bool) {
	ctx := r.Context()
	s := newSession()
	s.UserID, s.ClientID, s.AuthTime = sess.UserID, fc.GetID(), sess.AuthTime
	s.SID = sessionSID(httpauth.Token(r))
	s.Issuer = p.cfg.Issuer
	s.FhirUser = p.fhirUserOf(sess.UserID, roles)
	if patient != 0 {
		s.Patient = strconv.FormatInt(patient, 10)
	}
	for _, sc := range ar.GetRequestedScopes() {
		ar.GrantScope(sc)
	}
	ar.GrantAudience(p.cfg.FHIRBase())
	s.Audience = ar.GetGrantedAudience()
	if s.ID == nil {
		s.IDTokenClaims()
	}
	// fosite checks prompt=login as "signed in at or after the request";
	// the request that forced the new sign-in is the one that counts.
	s.ID.RequestedAt = ar.GetRequestedAt()
	if !loginAfter.IsZero() {
		s.ID.RequestedAt = loginAfter
	}

	var resp fosite.AuthorizeResponder
	actx := actor.With(ctx, actor.Actor{UserID: sess.UserID, ClientID: fc.GetID()})
	err := p.d.Tx.InTx(actx, func(ctx context.Context) error {
		var err error
		if resp, err = p.fosite.NewAuthorizeResponse(ctx, ar, s); err != nil {
			return err
		}
		if remember {
			c := &tokens.Consent{UserID: sess.UserID, ClientID: fc.GetID(), Scopes: sortedUnique(ar.GetRequestedScopes()), GrantedAt: p.now()}
			if err := p.d.Tokens.SaveConsent(ctx, c); err != nil {
				return err
			}
			if err := p.d.Audit.Record(ctx, audit.Change{Type: audit.AuthorizationSaved, Subject: audit.Ref("Client", fc.GetID()),
				SubjectID: sess.UserID, Fields: map[string]any{"scope": strings.Join(c.Scopes, " ")},
				Comment: fmt.Sprintf("consent given to client %s for %q", fc.GetID(), strings.Join(c.Scopes, " "))}); err != nil {
				return err
			}
		}
		return p.d.Audit.Record(ctx, audit.Change{Type: audit.CodeIssued, Subject: audit.Ref("Client", fc.GetID()),
			SubjectID: sess.UserID, Fields: map[string]any{"scope": strings.Join(ar.GetGrantedScopes(), " ")},
			Comment: fmt.Sprintf("authorization code issued to client %s (scope %q)", fc.GetID(), strings.Join(ar.GetGrantedScopes(), " "))})
	})
	if err != nil {
		p.auditFailure(ctx, "authorization request", fc.GetID(), err)
		p.authorizeError(w, r, d, ar, err)
		return
	}
	// RFC 9207: the response names its issuer, so a client talking to
	// several servers can tell a mix-up attacker's answer from ours.
	resp.AddParameter("iss", p.cfg.Issuer)
	p.fosite.WriteAuthorizeResponse(ctx, w, ar, resp)
}

func (p *Provider) recordAuthorize(ctx context.Context, userID int64, clientID, comment string) {
	actx := actor.With(ctx, actor.Actor{UserID: userID, ClientID: clientID})
	if err := p.d.Audit.Record(actx, audit.Change{Type: audit.AuthorizationRefused, Subject: audit.Ref("Client", clientID),
		SubjectID: userID, Comment: comment}); err != nil {
		p.log.ErrorContext(ctx, "oauth: audit consent", "err", err)
	}
}

// authorizeError answers a failed authorization request: to the client's
// redirect URI once fosite has verified it, else (unknown client, bad
// redirect URI) on a page of ward's own, never redirecting to an
// unverified address.
func (p *Provider) authorizeError(w http.ResponseWriter, r *http.Request, d AuthorizeDeps, ar fosite.AuthorizeRequester, err error) {
	err = unavailable(w, err)
	rfc := fositeErr(err)
	if rfc.CodeField >= 500 {
		p.log.ErrorContext(r.Context(), "oauth: authorize failure", "err", rfc.WithExposeDebug(true).GetDescription(), "cause", rfc.Cause())
	}
	if ar != nil && ar.IsRedirectURIValid() {
		p.writeAuthorizeError(r.Context(), w, ar, err)
		return
	}
	status := rfc.CodeField
	if status < 400 {
		status = http.StatusBadRequest
	}
	d.Pages.Error(w, r, status, "The application's request was refused", rfc.ErrorField+": "+rfc.GetDescription())
}

func sortedUnique(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

// writeAuthorizeError is fosite's WriteAuthorizeError (for a verified
// redirect URI) with RFC 9207's iss among the parameters, as on a
// success: fosite has no way to add one to an error. The response mode
// is honoured as fosite would (ward's clients use query; fragment and
// form_post carry iss too).
func (p *Provider) writeAuthorizeError(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, err error) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	params := fositeErr(err).WithExposeDebug(false).ToValues()
	params.Set("state", ar.GetState())
	params.Set("iss", p.cfg.Issuer)
	redir := *ar.GetRedirectURI()
	redir.Fragment = "" // a redirect URI must not carry one
	var loc string
	switch ar.GetResponseMode() {
	case fosite.ResponseModeFormPost:
		w.Header().Set("Content-Type", "text/html;charset=UTF-8")
		fosite.WriteAuthorizeFormPostResponse(redir.String(), params, fosite.GetPostFormHTMLTemplate(ctx, p.fosite), w)
		return
	case fosite.ResponseModeFragment:
		loc = redir.String() + "#" + params.Encode()
	default:
		for k, vs := range redir.Query() {
			for _, v := range vs {
				params.Add(k, v)
			}
		}
		redir.RawQuery = params.Encode()
		loc = redir.String()
	}
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusSeeOther)
}
