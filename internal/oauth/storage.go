package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/ory/fosite"
	foauth2 "github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"

	"ward/internal/apperr"
	"ward/internal/oauth/tokens"
)

// storage adapts tokens.Store and the client registry to fosite's storage
// interfaces. It does not implement fosite's Transactional: the HTTP
// handlers run each token response inside store.InTx, so every call here
// joins that one transaction through ctx, together with the audit event.
type storage struct {
	st      tokens.Store
	clients *clientCache
	now     func() time.Time
	// audience is granted to every client (the FHIR base URL).
	audience []string
	// codeLifespan dates PKCE and OIDC rows, which fosite gives no expiry.
	codeLifespan time.Duration
	// codeSignature maps an authorization code to its stored signature:
	// fosite hands the OpenID Connect storage the code itself, which must
	// not reach the database in clear.
	codeSignature func(ctx context.Context, code string) string
}

var (
	_ fosite.ClientManager               = (*storage)(nil)
	_ foauth2.CoreStorage                = (*storage)(nil)
	_ foauth2.TokenRevocationStorage     = (*storage)(nil)
	_ pkce.PKCERequestStorage            = (*storage)(nil)
	_ openid.OpenIDConnectRequestStorage = (*storage)(nil)
)

// formKept lists the request parameters stored with a grant: what later
// steps read (nonce and max_age for the ID token, the PKCE challenge, the
// redirect URI to compare at the token endpoint). Credentials (secrets,
// assertions, codes, verifiers, refresh tokens) are never stored.
var formKept = []string{"nonce", "max_age", "prompt", "redirect_uri", "response_type", "scope",
	"code_challenge", "code_challenge_method", "acr_values", "launch", "aud", "grant_type"}

// record is a fosite request as stored in tokens.Token.Data.
type record struct {
	ID          string     `json:"id"`
	RequestedAt time.Time  `json:"at"`
	ClientID    string     `json:"client"`
	Requested   []string   `json:"scopes,omitempty"`
	Granted     []string   `json:"granted,omitempty"`
	ReqAud      []string   `json:"req_aud,omitempty"`
	GrantedAud  []string   `json:"aud,omitempty"`
	Form        url.Values `json:"form,omitempty"`
	Session     *Session   `json:"session"`
}

type assertionAlgKey struct{}

// deferredWrites collects the rows a token response would write, so that
// fosite's work (generating and signing the token, encoding the request)
// runs outside the database transaction and the transaction only inserts
// the rows: SQLite has one writer, and whatever runs inside a transaction
// runs one request at a time. Only grants whose storage calls are plain
// inserts (client credentials) defer their writes.
type deferredWrites struct{ rows []*tokens.Token }

type deferredKey struct{}

func withDeferredWrites(ctx context.Context, w *deferredWrites) context.Context {
	return context.WithValue(ctx, deferredKey{}, w)
}

// withAssertionAlg tells GetClient which alg the client assertion in this
// request uses, once ward's rules have accepted it.
func withAssertionAlg(ctx context.Context, alg string) context.Context {
	return context.WithValue(ctx, assertionAlgKey{}, alg)
}

// GetClient returns the client for fosite. A disabled client is not found:
// it can neither authenticate nor redeem anything.
func (s *storage) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	e, err := s.clients.get(ctx, id)
	if notFound(err) {
		return nil, fosite.ErrNotFound.WithDebug("unknown client")
	}
	if err != nil {
		return nil, err
	}
	if e.c.Disabled {
		return nil, fosite.ErrNotFound.WithDebug("client disabled")
	}
	alg, _ := ctx.Value(assertionAlgKey{}).(string)
	return &fositeClient{c: e.c, jwks: e.jwks, audience: s.audience, assertionAlg: alg}, nil
}

// ClientAssertionJWTValid fails when jti was already used and is unexpired.
func (s *storage) ClientAssertionJWTValid(ctx context.Context, jti string) error {
	known, err := s.st.JTIKnown(ctx, jti, s.now())
	if err != nil {
		return err
	}
	if known {
		return fosite.ErrJTIKnown
	}
	return nil
}

// SetClientAssertionJWT records jti until exp; a racing second use loses.
func (s *storage) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	err := s.st.UseJTI(ctx, jti, exp, s.now())
	if apperr.Is(err, apperr.Conflict) {
		return fosite.ErrJTIKnown
	}
	return err
}

func (s *storage) create(ctx context.Context, kind tokens.Kind, signature string, r fosite.Requester, tt fosite.TokenType) error {
	sess, _ := r.GetSession().(*Session)
	if sess == nil {
		return fmt.Errorf("store %s: session is %T, not *oauth.Session", kind, r.GetSession())
	}
	form := url.Values{}
	for _, k := range formKept {
		if v, ok := r.GetRequestForm()[k]; ok {
			form[k] = v
		}
	}
	granted := []string(r.GetGrantedScopes())
	if kind == tokens.KindAccess && sess.AccessScopes != nil {
		granted = sess.AccessScopes // a narrowing refresh
	}
	rec := record{
		ID: r.GetID(), RequestedAt: r.GetRequestedAt(), ClientID: r.GetClient().GetID(),
		Requested: r.GetRequestedScopes(), Granted: granted,
		ReqAud: r.GetRequestedAudience(), GrantedAud: r.GetGrantedAudience(),
		Form: form, Session: sess,
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode %s: %w", kind, err)
	}
	exp := sess.GetExpiresAt(tt)
	if exp.IsZero() {
		exp = r.GetRequestedAt().Add(s.codeLifespan)
	}
	t := &tokens.Token{
		Signature: signature, Kind: kind, RequestID: r.GetID(), ClientID: rec.ClientID,
		UserID: sess.UserID, Scopes: rec.Granted, RequestedAt: rec.RequestedAt, ExpiresAt: exp,
		Active: true, Service: sess.Service, Data: data,
	}
	if sess.Patient != "" {
		// Written by ward at consent time; a launch patient that is not a
		// user id would be a bug, and is refused rather than stored blind.
		pid, err := strconv.ParseInt(sess.Patient, 10, 64)
		if err != nil || pid <= 0 {
			return fmt.Errorf("store %s: launch patient %q is not a user id", kind, sess.Patient)
		}
		t.PatientID = pid
	}
	if kind == tokens.KindAccess {
		t.Format = "opaque"
		if usesJWT(r) {
			t.Format = "jwt"
		}
	}
	if w, ok := ctx.Value(deferredKey{}).(*deferredWrites); ok {
		w.rows = append(w.rows, t)
		return nil
	}
	return s.st.CreateToken(ctx, t)
}

// get loads a row and rebuilds its request into sess. An inactive row comes
// back with the request and inactiveErr, as fosite's reuse detection needs.
func (s *storage) get(ctx context.Context, kind tokens.Kind, signature string, sess fosite.Session, inactiveErr error) (fosite.Requester, error) {
	t, err := s.st.GetToken(ctx, kind, signature)
	if notFound(err) {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	req, err := s.rebuild(ctx, t, sess)
	if err != nil {
		return nil, err
	}
	if t.UserDeleted {
		// holdersLive's rule, taken apart where fosite redeems a code or a
		// refresh token: a deleted person's grant is dead (invalid_grant);
		// a disabled client was refused by rebuild (GetClient); whether
		// the client may serve the person is asked by the token endpoint
		// with the grant type (mayUse), to answer unauthorized_client.
		return nil, fosite.ErrNotFound
	}
	if !t.Active {
		return req, inactiveErr
	}
	return req, nil
}

func (s *storage) rebuild(ctx context.Context, t *tokens.Token, sess fosite.Session) (*fosite.Request, error) {
	var rec record
	into, _ := sess.(*Session)
	if into == nil {
		into = newSession()
	}
	rec.Session = into
	if err := json.Unmarshal(t.Data, &rec); err != nil {
		return nil, fmt.Errorf("decode stored %s %d: %w", t.Kind, t.ID, err)
	}
	c, err := s.GetClient(ctx, rec.ClientID)
	if err != nil {
		// A deleted or disabled client's grants are dead.
		return nil, fosite.ErrNotFound
	}
	return &fosite.Request{
		ID: rec.ID, RequestedAt: rec.RequestedAt, Client: c,
		RequestedScope: rec.Requested, GrantedScope: rec.Granted,
		RequestedAudience: rec.ReqAud, GrantedAudience: rec.GrantedAud,
		Form: rec.Form, Session: rec.Session,
	}, nil
}

func (s *storage) deactivate(ctx context.Context, kind tokens.Kind, signature string) error {
	ok, err := s.st.DeactivateToken(ctx, kind, signature)
	if err != nil {
		return err
	}
	if !ok {
		// Lost a race with a concurrent use of the same code or token.
		return fosite.ErrSerializationFailure
	}
	return nil
}

func (s *storage) del(ctx context.Context, kind tokens.Kind, signature string) error {
	return s.st.DeleteToken(ctx, kind, signature)
}

func (s *storage) CreateAuthorizeCodeSession(ctx context.Context, code string, r fosite.Requester) error {
	return s.create(ctx, tokens.KindCode, code, r, fosite.AuthorizeCode)
}

func (s *storage) GetAuthorizeCodeSession(ctx context.Context, code string, sess fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, tokens.KindCode, code, sess, fosite.ErrInvalidatedAuthorizeCode)
}

func (s *storage) InvalidateAuthorizeCodeSession(ctx context.Context, code string) error {
	return s.deactivate(ctx, tokens.KindCode, code)
}

func (s *storage) CreateAccessTokenSession(ctx context.Context, sig string, r fosite.Requester) error {
	return s.create(ctx, tokens.KindAccess, sig, r, fosite.AccessToken)
}

func (s *storage) GetAccessTokenSession(ctx context.Context, sig string, sess fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, tokens.KindAccess, sig, sess, fosite.ErrInactiveToken)
}

func (s *storage) DeleteAccessTokenSession(ctx context.Context, sig string) error {
	return s.del(ctx, tokens.KindAccess, sig)
}

func (s *storage) CreateRefreshTokenSession(ctx context.Context, sig, _ string, r fosite.Requester) error {
	return s.create(ctx, tokens.KindRefresh, sig, r, fosite.RefreshToken)
}

func (s *storage) GetRefreshTokenSession(ctx context.Context, sig string, sess fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, tokens.KindRefresh, sig, sess, fosite.ErrInactiveToken)
}

// DeleteRefreshTokenSession is called on a detected reuse; the row is kept,
// inactive, so that a further replay is still recognised as one.
func (s *storage) DeleteRefreshTokenSession(ctx context.Context, sig string) error {
	_, err := s.st.DeactivateToken(ctx, tokens.KindRefresh, sig)
	return err
}

// RotateRefreshToken retires the refresh token being redeemed, and the
// access tokens issued before it, exactly once: a concurrent second
// redemption of the same token fails.
func (s *storage) RotateRefreshToken(ctx context.Context, requestID, sig string) error {
	if err := s.deactivate(ctx, tokens.KindRefresh, sig); err != nil {
		return err
	}
	_, err := s.st.DeactivateRequest(ctx, requestID, tokens.KindAccess)
	return err
}

func (s *storage) RevokeRefreshToken(ctx context.Context, requestID string) error {
	_, err := s.st.DeactivateRequest(ctx, requestID, tokens.KindRefresh)
	return err
}

func (s *storage) RevokeAccessToken(ctx context.Context, requestID string) error {
	_, err := s.st.DeactivateRequest(ctx, requestID, tokens.KindAccess)
	return err
}

func (s *storage) CreatePKCERequestSession(ctx context.Context, sig string, r fosite.Requester) error {
	return s.create(ctx, tokens.KindPKCE, sig, r, fosite.AuthorizeCode)
}

func (s *storage) GetPKCERequestSession(ctx context.Context, sig string, sess fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, tokens.KindPKCE, sig, sess, fosite.ErrNotFound)
}

func (s *storage) DeletePKCERequestSession(ctx context.Context, sig string) error {
	return s.del(ctx, tokens.KindPKCE, sig)
}

func (s *storage) CreateOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) error {
	return s.create(ctx, tokens.KindOIDC, s.codeSignature(ctx, code), r, fosite.AuthorizeCode)
}

func (s *storage) GetOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) (fosite.Requester, error) {
	return s.get(ctx, tokens.KindOIDC, s.codeSignature(ctx, code), r.GetSession(), fosite.ErrNotFound)
}

func (s *storage) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	return s.del(ctx, tokens.KindOIDC, s.codeSignature(ctx, code))
}
