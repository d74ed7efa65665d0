// Package idpcompat is the legacy IdP API of seed 003 (the DGHS HRM
// identity provider), kept request for request and byte-shape for shape so
// that systems already calling it (shared health record, client registry)
// move over to ward without a change:
//
//	POST /api/1.0/sso/signin               form email, password -> {"access_token": …}
//	POST /api/1.0/sso/signout/{access_token}
//	GET  /api/1.0/sso/token/{access_token} -> the person, groups and profiles
//
// Every request carries the headers client_id and X-Auth-Token of a system
// client (internal/client, CreateSystem). The edge only translates: sign-in
// is internal/session's (lockout, audit, last login), the tokens are
// internal/oauth's, the person, groups and profiles internal/directory's.
// docs/idp-api.md describes the API and where ward differs from the seed.
package idpcompat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/client"
	"ward/internal/directory"
	"ward/internal/oauth/tokens"
	"ward/internal/session"
)

// Paths of the API (the seed's).
const (
	PathSignIn  = "/api/1.0/sso/signin"
	PathSignOut = "/api/1.0/sso/signout/{access_token}"
	PathToken   = "/api/1.0/sso/token/{access_token}"
	// Prefix is what every path of the API starts with.
	Prefix = "/api/1.0/sso/"
)

// Header names (the seed's; HTTP header names are case-insensitive).
const (
	HeaderClientID  = "client_id"
	HeaderAuthToken = "X-Auth-Token"
)

// MaxFormBytes caps a sign-in form: an email and a password fit in far
// less; anything bigger is refused with 413 before it is parsed.
const MaxFormBytes = 8 << 10

// TimeLayout is the seed's timestamp form, written in UTC.
const TimeLayout = "2006-01-02 15:04:05"

// maxTokenLen bounds the token path segment (a ward opaque token is under
// 100 characters, a JWT a few hundred).
const maxTokenLen = 4096

// Clients authenticates system clients (client.Service).
type Clients interface {
	AuthenticateSystem(ctx context.Context, id, token string) (*client.Client, error)
	// CheckSystem is AuthenticateSystem on a client row already read.
	CheckSystem(c *client.Client, token string) error
}

// Sessions signs people in with the browser form's rules (session.Service).
type Sessions interface {
	SignIn(ctx context.Context, email, password string, issue session.Issuer) (int64, error)
}

// Tokens issues, resolves and revokes the API's access tokens (oauth.Provider).
type Tokens interface {
	IssueIDPToken(ctx context.Context, clientID string, userID int64, now time.Time) (string, error)
	ResolveIDPToken(ctx context.Context, text string) (userID int64, err error)
	SignOutIDPToken(ctx context.Context, text string) error
	// ReadIDPToken and ResolveIDPRead are a token look-up in one database
	// round trip: the calling client (from the provider's client cache),
	// the token, its client and the person's ID card read together, then
	// decided (see lookupInOne).
	ReadIDPToken(ctx context.Context, callerID, text string) (*tokens.IDPRead, error)
	ResolveIDPRead(ctx context.Context, read *tokens.IDPRead) (userID int64, err error)
}

// Directory reads the person behind a token, with their groups, profiles
// and last sign-in in one read (directory.Service).
type Directory interface {
	IDCard(ctx context.Context, id int64) (*directory.IDCard, error)
}

// Throttle limits failed credential checks per client address
// (session.Throttle), as at the sign-in form and the token endpoint.
type Throttle interface {
	Reserve(ctx context.Context, addr string) (session.Verdict, error)
	Refund(ctx context.Context, addr string) error
	Check(ctx context.Context, addr string) (session.Verdict, error)
	Fail(ctx context.Context, addr string) error
}

// Deps are what the handler needs. Throttle may be nil (no limit).
type Deps struct {
	Clients   Clients
	Sessions  Sessions
	Tokens    Tokens
	Directory Directory
	Throttle  Throttle
	ClientIP  func(*http.Request) string
	Logger    *slog.Logger
}

// Handler serves the IdP API.
type Handler struct{ d Deps }

// New returns the handler; every dependency but Throttle is required.
func New(d Deps) (*Handler, error) {
	if d.Clients == nil || d.Sessions == nil || d.Tokens == nil || d.Directory == nil || d.ClientIP == nil {
		return nil, errors.New("idpcompat: clients, sessions, tokens, directory and client address are required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{d: d}, nil
}

// Mount registers the API's routes on mux. Other methods on its paths and
// unknown paths under Prefix answer in the API's error shape.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST "+PathSignIn, h.signIn)
	mux.HandleFunc("POST "+PathSignOut, h.signOut)
	mux.HandleFunc("GET "+PathToken, h.token)
	mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusNotFound, "Not found")
	})
}

// Error is the seed's error body: {"error": true, "message": …, "code": …}.
type Error struct {
	Error   bool   `json:"error"`
	Message string `json:"message"`
	Code    int    `json:"code"`
}

// Messages of the seed's error bodies.
const (
	MsgNotAuthenticated = "Not authenticated"
	msgTokenNotActive   = "Token not found or no longer active"
)

// WriteError answers status with the seed's error body, code equal to the
// HTTP status (the seed shows 404 beside a body saying 401 for a failed
// sign-in; ward answers 401 for both, see docs/idp-api.md).
func WriteError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, Error{Error: true, Message: message, Code: status})
}

// Header values of every answer, shared: set by assignment rather than
// Header.Set, which allocates a slice per header on every request (the
// token look-up is the API's hot path); nothing writes into them.
var (
	headerJSON    = []string{"application/json"}
	headerNoStore = []string{"no-store"}
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h["Content-Type"] = headerJSON
	h["Cache-Control"] = headerNoStore
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fail answers an unexpected error as 500 with nothing internal in it,
// logging the cause.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.d.Logger.ErrorContext(r.Context(), "idp api", "path", r.URL.Path, "err", err)
	WriteError(w, http.StatusInternalServerError, "Internal error")
}

// system authenticates the request's system client: any mismatch of
// client_id and X-Auth-Token is 401. A wrong token counts against the
// address's failure budget, as a wrong client secret does at the token
// endpoint; a right one costs no write. It returns the request's context
// carrying the system client as the actor, or false after answering.
func (h *Handler) system(w http.ResponseWriter, r *http.Request) (context.Context, *client.Client, bool) {
	cred, ok := h.admit(w, r)
	if !ok {
		return nil, nil, false
	}
	return h.authenticate(w, r, cred)
}

// credentials are a request's system-client headers and address.
type credentials struct{ id, token, addr string }

// admit reads the headers client_id and X-Auth-Token (both required,
// else 401) and asks the throttle whether the address may make a
// credential check (a read only, mostly of an in-process entry). It
// answers and returns false when the request goes no further.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request) (credentials, bool) {
	cred := credentials{id: r.Header.Get(HeaderClientID), token: r.Header.Get(HeaderAuthToken)}
	if cred.id == "" || cred.token == "" {
		WriteError(w, http.StatusUnauthorized, MsgNotAuthenticated)
		return credentials{}, false
	}
	cred.addr = h.d.ClientIP(r)
	if h.d.Throttle != nil {
		v, err := h.d.Throttle.Check(r.Context(), cred.addr)
		if err != nil {
			h.fail(w, r, err)
			return credentials{}, false
		}
		if !v.Allowed {
			throttled(w, v)
			return credentials{}, false
		}
	}
	return cred, true
}

// authenticate reads the system client cred names and checks its token.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request, cred credentials) (context.Context, *client.Client, bool) {
	c, err := h.d.Clients.AuthenticateSystem(r.Context(), cred.id, cred.token)
	if apperr.Is(err, apperr.Unauthenticated) {
		h.refuse(w, r, cred)
		return nil, nil, false
	}
	if err != nil {
		h.fail(w, r, fmt.Errorf("authenticate system client: %w", err))
		return nil, nil, false
	}
	return actor.With(r.Context(), actor.Actor{ClientID: c.ID}), c, true
}

// refuse answers a failed system-client check with 401, counting it
// against the address's failure budget.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, cred credentials) {
	if h.d.Throttle != nil {
		if ferr := h.d.Throttle.Fail(r.Context(), cred.addr); ferr != nil {
			h.d.Logger.WarnContext(r.Context(), "count failed IdP client check", "err", ferr)
		}
	}
	WriteError(w, http.StatusUnauthorized, MsgNotAuthenticated)
}

func throttled(w http.ResponseWriter, v session.Verdict) {
	w.Header().Set("Retry-After", strconv.Itoa(int(v.RetryAfter/time.Second)))
	WriteError(w, http.StatusTooManyRequests, "Too many failed attempts from this address; try again later")
}

// SignInResponse is the seed's successful sign-in body.
type SignInResponse struct {
	AccessToken string `json:"access_token"`
}

func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	ctx, c, ok := h.system(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("The form is larger than %d bytes", MaxFormBytes))
			return
		}
		WriteError(w, http.StatusBadRequest, "The form could not be read: send email and password as application/x-www-form-urlencoded")
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	password := r.PostForm.Get("password")
	if email == "" || password == "" {
		WriteError(w, http.StatusBadRequest, "The form fields email and password are required")
		return
	}
	// The address's failure budget is taken before the password is
	// checked, as at the sign-in form, so a burst cannot outrun it.
	addr := h.d.ClientIP(r)
	if h.d.Throttle != nil {
		v, err := h.d.Throttle.Reserve(ctx, addr)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if !v.Allowed {
			throttled(w, v)
			return
		}
	}
	var token string
	_, err := h.d.Sessions.SignIn(ctx, email, password, func(ctx context.Context, userID int64, now time.Time) error {
		var err error
		token, err = h.d.Tokens.IssueIDPToken(ctx, c.ID, userID, now)
		return err
	})
	failed := apperr.Is(err, apperr.Unauthenticated) || apperr.Is(err, apperr.Invalid)
	if !failed && h.d.Throttle != nil {
		// Only failed credential checks count against the address.
		if rerr := h.d.Throttle.Refund(ctx, addr); rerr != nil {
			h.d.Logger.WarnContext(ctx, "refund IdP sign-in throttle", "err", rerr)
		}
	}
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, SignInResponse{AccessToken: token})
	case failed:
		// Unknown email, wrong password, locked account: one answer.
		WriteError(w, http.StatusUnauthorized, MsgNotAuthenticated)
	default:
		h.fail(w, r, fmt.Errorf("IdP sign-in: %w", err))
	}
}

// tokenSegment returns the path's access token, or false after answering
// 400 when the segment cannot be a token (ward's tokens are URL-safe
// base64 with dots, '_' and '-').
func tokenSegment(w http.ResponseWriter, r *http.Request) (string, bool) {
	t := r.PathValue("access_token")
	if !tokenShaped(t) {
		WriteError(w, http.StatusBadRequest, "The path does not end in an access token")
		return "", false
	}
	return t, true
}

func tokenShaped(t string) bool {
	return t != "" && len(t) <= maxTokenLen && strings.IndexFunc(t, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '~')
	}) < 0
}

// SignOutResponse is the answer to a sign-out (the seed shows none; ward
// says what happened in the seed's style).
type SignOutResponse struct {
	Error   bool   `json:"error"`
	Message string `json:"message"`
}

func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) {
	ctx, _, ok := h.system(w, r)
	if !ok {
		return
	}
	token, ok := tokenSegment(w, r)
	if !ok {
		return
	}
	err := h.d.Tokens.SignOutIDPToken(ctx, token)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, SignOutResponse{Error: false, Message: "Signed out"})
	case apperr.Is(err, apperr.NotFound):
		WriteError(w, http.StatusNotFound, msgTokenNotActive)
	default:
		h.fail(w, r, fmt.Errorf("IdP sign-out: %w", err))
	}
}

// Profile is one of a person's profiles in the seed's shape.
type Profile struct {
	Type      string   `json:"type"`
	ID        string   `json:"id"`
	Catchment []string `json:"catchment"`
}

// UserInfo is the seed's answer to a token look-up: exactly its keys, in
// its order. Timestamps are TimeLayout in UTC, null when unset.
type UserInfo struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Email       string    `json:"email"`
	IsActive    bool      `json:"is_active"`
	Activated   bool      `json:"activated"`
	ActivatedAt *string   `json:"activated_at"`
	LastLogin   *string   `json:"last_login"`
	AccessToken string    `json:"access_token"`
	CreatedAt   *string   `json:"created_at"`
	UpdatedAt   *string   `json:"updated_at"`
	DeletedAt   *string   `json:"deleted_at"`
	Groups      []string  `json:"groups"`
	Profiles    []Profile `json:"profiles"`
}

// stamps formats ts in TimeLayout, UTC, into text and returns pointers to
// the results, nil for an unset time. The texts share one string, so a
// look-up's five timestamps cost one allocation rather than two each.
func stamps(text *[5]string, ts [5]*time.Time) (out [5]*string) {
	var buf [5 * len(TimeLayout)]byte
	b := buf[:0]
	var ends [5]int
	for i, t := range ts {
		if t != nil && !t.IsZero() {
			b = t.UTC().AppendFormat(b, TimeLayout)
		}
		ends[i] = len(b)
	}
	all, start := string(b), 0
	for i, end := range ends {
		if end > start {
			text[i] = all[start:end]
			out[i] = &text[i]
		}
		start = end
	}
	return out
}

func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	cred, ok := h.admit(w, r)
	if !ok || h.lookupInOne(w, r, cred) {
		return
	}
	ctx, c, ok := h.authenticate(w, r, cred)
	if !ok {
		return
	}
	token, ok := tokenSegment(w, r)
	if !ok {
		return
	}
	userID, err := h.d.Tokens.ResolveIDPToken(ctx, token)
	if apperr.Is(err, apperr.NotFound) {
		WriteError(w, http.StatusNotFound, msgTokenNotActive)
		return
	}
	if err != nil {
		h.fail(w, r, fmt.Errorf("IdP token look-up: %w", err))
		return
	}
	out, err := h.userInfo(ctx, c, userID, token)
	if apperr.Is(err, apperr.NotFound) {
		// The person was deleted between the token check and the read.
		WriteError(w, http.StatusNotFound, msgTokenNotActive)
		return
	}
	if err != nil {
		h.fail(w, r, fmt.Errorf("IdP token look-up: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// lookupInOne answers a token look-up from one database round trip, and
// reports whether it answered: the system client's row from the
// provider's client cache, the token's, its client's and the person's ID
// card read in one statement (Tokens.ReadIDPToken), then the X-Auth-Token
// checked against the client's row (Clients.CheckSystem, on every
// request) and the token decided on the rows read
// (Tokens.ResolveIDPRead). The token and person rows are the database's
// current ones, so a revoked or expired token and a deleted person are
// refused at once on every replica; the client's row follows the rule of
// every client authentication in ward (oauth.ClientCacheTTL), so a
// rotated or revoked system is refused at once on the replica that
// changed it and within that time on the others. A miss (an unknown
// client id or token, a path segment or client_id that cannot name one)
// returns false without answering: the step-by-step path (authenticate,
// ResolveIDPToken, IDCard) then gives the exact answer, in the same order
// of checks as before.
func (h *Handler) lookupInOne(w http.ResponseWriter, r *http.Request, cred credentials) bool {
	text := r.PathValue("access_token")
	if !tokenShaped(text) || !utf8.ValidString(cred.id) || strings.ContainsRune(cred.id, 0) {
		return false
	}
	read, err := h.d.Tokens.ReadIDPToken(r.Context(), cred.id, text)
	if apperr.Is(err, apperr.NotFound) {
		return false
	}
	if err != nil {
		h.fail(w, r, fmt.Errorf("IdP token look-up: %w", err))
		return true
	}
	if err := h.d.Clients.CheckSystem(read.Caller, cred.token); err != nil {
		h.refuse(w, r, cred)
		return true
	}
	ctx := actor.With(r.Context(), actor.Actor{ClientID: read.Caller.ID})
	if _, err := h.d.Tokens.ResolveIDPRead(ctx, read); err != nil {
		if apperr.Is(err, apperr.NotFound) {
			WriteError(w, http.StatusNotFound, msgTokenNotActive)
		} else {
			h.fail(w, r, fmt.Errorf("IdP token look-up: %w", err))
		}
		return true
	}
	out, err := cardInfo(read.Card, text)
	if err != nil {
		// Not reached: ResolveIDPRead refuses a deleted person's token.
		WriteError(w, http.StatusNotFound, msgTokenNotActive)
		return true
	}
	writeJSON(w, http.StatusOK, out)
	return true
}

// userInfo reads the person, groups, profiles and last sign-in. The token the system
// holds is the person's authority to be identified to it, so the reads run
// as ward itself, with the system client still named as the actor.
func (h *Handler) userInfo(ctx context.Context, c *client.Client, userID int64, token string) (*UserInfo, error) {
	ctx = actor.With(ctx, actor.Actor{System: true, ClientID: c.ID})
	card, err := h.d.Directory.IDCard(ctx, userID)
	if err != nil {
		return nil, err
	}
	return cardInfo(card, token)
}

// cardInfo is the seed's answer for card; a deleted person is NotFound.
func cardInfo(card *directory.IDCard, token string) (*UserInfo, error) {
	u, groups, profiles := card.User, card.Groups, card.Profiles
	if u.Deleted() {
		return nil, apperr.New(apperr.NotFound, "user %d is deleted", u.ID)
	}
	// The answer and its timestamps' text in one allocation.
	buf := new(struct {
		info UserInfo
		text [5]string
	})
	at := stamps(&buf.text, [5]*time.Time{u.ConfirmedAt, card.LastLogin, &u.Registered, &u.UpdatedAt, u.DeletedAt})
	out := &buf.info
	*out = UserInfo{
		ID:          u.ID,
		Name:        strings.TrimSpace(u.GivenName + " " + u.FamilyName),
		Email:       u.Email,
		IsActive:    u.Active(),
		Activated:   true, // they signed in with a password: the account is in use
		ActivatedAt: at[0],
		LastLogin:   at[1],
		AccessToken: token,
		CreatedAt:   at[2],
		UpdatedAt:   at[3],
		DeletedAt:   at[4],
		Groups:      make([]string, 0, len(groups)),
		Profiles:    make([]Profile, 0, len(profiles)),
	}
	for _, g := range groups {
		out.Groups = append(out.Groups, g.Name)
	}
	for _, p := range profiles {
		cat := p.Catchment
		if cat == nil {
			cat = []string{}
		}
		out.Profiles = append(out.Profiles, Profile{Type: p.Type, ID: p.ID, Catchment: cat})
	}
	return out, nil
}
