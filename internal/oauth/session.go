package oauth

import (
	"maps"
	"strconv"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/token/jwt"
)

// Session is what ward keeps with every grant: who it is for, how they
// signed in, and the SMART launch context. fosite stores it with each code
// and token (serialised as JSON by the storage adapter) and hands it back on
// refresh and introspection.
type Session struct {
	// UserID is the person the grant acts for; 0 for client credentials.
	UserID int64 `json:"uid,omitempty"`
	// ClientID is the client the grant was issued to.
	ClientID string `json:"cid"`
	// AuthTime is when the person last proved their password.
	AuthTime time.Time `json:"auth_time,omitzero"`
	// SID names the browser session the grant was made in (the ID
	// token's sid claim, OpenID Front-Channel Logout §3): the end-session
	// endpoint signs out without asking only for a hint from the session
	// that is signing out.
	SID string `json:"sid,omitempty"`
	// Patient is the SMART launch patient (a directory user id), if any.
	Patient string `json:"patient,omitempty"`
	// FhirUser is the FHIR resource URL of the person (OIDC fhirUser).
	FhirUser string `json:"fhir_user,omitempty"`
	// Service marks a service-account token (long-lived, no refresh).
	Service bool `json:"service,omitempty"`
	// Issuer and Audience are stamped on JWT access tokens.
	Issuer   string   `json:"iss,omitempty"`
	Audience []string `json:"aud,omitempty"`

	// AccessScopes, when set, are the scopes of the access token being
	// issued, narrower than the grant's: a refresh that asked for fewer
	// scopes (RFC 6749 section 6). The refresh token keeps the grant's
	// scopes. Set by the token endpoint for the one response; never stored.
	AccessScopes []string `json:"-"`

	ExpiresAt map[fosite.TokenType]time.Time `json:"exp"`
	ID        *jwt.IDTokenClaims             `json:"id_token,omitempty"`
	Headers   *jwt.Headers                   `json:"id_headers,omitempty"`
}

// newSession returns an empty session ready for fosite.
func newSession() *Session {
	return &Session{ExpiresAt: map[fosite.TokenType]time.Time{}}
}

// SetExpiresAt implements fosite.Session.
func (s *Session) SetExpiresAt(key fosite.TokenType, exp time.Time) {
	if s.ExpiresAt == nil {
		s.ExpiresAt = map[fosite.TokenType]time.Time{}
	}
	s.ExpiresAt[key] = exp
}

// GetExpiresAt implements fosite.Session.
func (s *Session) GetExpiresAt(key fosite.TokenType) time.Time {
	return s.ExpiresAt[key]
}

// GetUsername implements fosite.Session: ward has no user names, only ids.
func (s *Session) GetUsername() string { return s.GetSubject() }

// SetSubject implements fosite.Session; ward derives the subject from
// UserID and ClientID, so it is ignored.
func (s *Session) SetSubject(string) {}

// GetSubject is the user id for a person's grant, else the client id.
func (s *Session) GetSubject() string {
	if s.UserID != 0 {
		return strconv.FormatInt(s.UserID, 10)
	}
	return s.ClientID
}

// Clone implements fosite.Session with a deep copy.
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	c := *s
	c.ExpiresAt = maps.Clone(s.ExpiresAt)
	c.Audience = append([]string(nil), s.Audience...)
	if s.ID != nil {
		id := *s.ID
		id.Extra = maps.Clone(s.ID.Extra)
		id.Audience = append([]string(nil), s.ID.Audience...)
		c.ID = &id
	}
	if s.Headers != nil {
		c.Headers = &jwt.Headers{Extra: maps.Clone(s.Headers.Extra)}
	}
	return &c
}

// IDTokenClaims implements openid.Session.
func (s *Session) IDTokenClaims() *jwt.IDTokenClaims {
	if s.ID == nil {
		s.ID = &jwt.IDTokenClaims{}
	}
	s.ID.Subject = s.GetSubject()
	if !s.AuthTime.IsZero() {
		s.ID.AuthTime = s.AuthTime.UTC().Truncate(time.Second)
	}
	if s.FhirUser != "" {
		if s.ID.Extra == nil {
			s.ID.Extra = map[string]any{}
		}
		s.ID.Extra["fhirUser"] = s.FhirUser
	}
	if s.SID != "" {
		if s.ID.Extra == nil {
			s.ID.Extra = map[string]any{}
		}
		s.ID.Extra["sid"] = s.SID
	}
	return s.ID
}

// IDTokenHeaders implements openid.Session.
func (s *Session) IDTokenHeaders() *jwt.Headers {
	if s.Headers == nil {
		s.Headers = &jwt.Headers{Extra: map[string]any{}}
	}
	return s.Headers
}

// GetJWTClaims implements oauth2.JWTSessionContainer: the claims of an
// RFC 9068 access token, besides the exp, scope, aud, iat and iss that
// fosite adds.
func (s *Session) GetJWTClaims() jwt.JWTClaimsContainer { return s.accessClaims() }

// accessClaims are GetJWTClaims as their concrete type, so that the token
// strategy can set the jti it stores the token under.
func (s *Session) accessClaims() *jwt.JWTClaims {
	extra := map[string]any{"client_id": s.ClientID}
	if s.Patient != "" {
		extra["patient"] = s.Patient
	}
	if s.FhirUser != "" {
		extra["fhirUser"] = s.FhirUser
	}
	if !s.AuthTime.IsZero() {
		extra["auth_time"] = s.AuthTime.Unix()
	}
	return &jwt.JWTClaims{
		Subject:  s.GetSubject(),
		Issuer:   s.Issuer,
		Audience: s.Audience,
		Extra:    extra,
	}
}

// GetJWTHeader implements oauth2.JWTSessionContainer: RFC 9068 section 2.1
// types access tokens as at+jwt so they cannot pass for ID tokens.
func (s *Session) GetJWTHeader() *jwt.Headers {
	return &jwt.Headers{Extra: map[string]any{"typ": "at+jwt"}}
}
