package client

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/grantpolicy"
	"ward/internal/store"
)

// System clients of the legacy IdP API (seed 003, docs/idp-api.md).
//
// A trusted national system ("SHR @ DGHS MIS") registers as an organization
// and is given a client_id and a secret API token, which it sends as the
// headers client_id and X-Auth-Token. ward keeps it in the client registry
// as an OAuth client of a special kind (IDPSystem): confidential, with no
// grant type (so the token endpoint refuses it whatever it sends) and
// client_secret_post, its API token being the client secret. Reusing the
// registry means the token is hashed like every client secret (HMAC under
// the client-secret key), disabling revokes its tokens in the same
// transaction, and the access tokens the IdP API issues are ordinary ward
// tokens recorded against this client, which introspection, revocation,
// `ward token`, the janitor and the audit already understand.

// IDPScope is the one scope of the tokens the IdP API issues: it names the
// grant in token listings and grants nothing at ward's own APIs (the
// management API asks for ward:api, FHIR for SMART scopes).
const IDPScope = "idp"

// CreateSystem registers a system client of the IdP API named name, as
// organization orgID (0 for none), and returns it with its API token in
// clear, shown this once. Only an administrator (or ward itself) may: a
// system client can sign in anyone whose password it is handed.
func (s *Service) CreateSystem(ctx context.Context, name string, orgID int64) (*Client, string, error) {
	if err := s.mayManageSystems(ctx); err != nil {
		return nil, "", err
	}
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return nil, "", apperr.New(apperr.Invalid, "name is required")
	case !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0:
		return nil, "", apperr.New(apperr.Invalid, "name must be valid text without control characters")
	case utf8.RuneCountInString(name) > maxNameLen:
		return nil, "", apperr.New(apperr.Invalid, "name is longer than %d characters", maxNameLen)
	case orgID < 0:
		return nil, "", apperr.New(apperr.Invalid, "organization id must be a positive integer")
	}
	id, err := newClientID()
	if err != nil {
		return nil, "", fmt.Errorf("create system client: %w", err)
	}
	now := s.now()
	c := &Client{ID: id, Settings: Settings{
		Name: name, GrantTypes: []string{}, RedirectURIs: []string{}, Scope: IDPScope,
		AuthMethod: AuthClientSecretPost, TokenFormat: TokenOpaque,
		IDPSystem: true, OrganizationID: orgID,
	}, Status: StatusActive, CreatedAt: now, UpdatedAt: now}
	token, err := s.issueSecret(c, now)
	if err != nil {
		return nil, "", err
	}
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.CreateClient(ctx, c); err != nil {
			if apperr.Is(err, apperr.Invalid) {
				return apperr.Wrap(apperr.Invalid, err, "organization %d does not exist", orgID)
			}
			return err
		}
		return s.recordSystem(ctx, audit.IDPClientCreated, c, "IdP system client %q registered (organization %d)", c.Name, c.OrganizationID)
	})
	if err != nil {
		return nil, "", err
	}
	return c, token, nil
}

// ListSystems returns the IdP API's system clients, in registration order;
// administrators only.
func (s *Service) ListSystems(ctx context.Context, p store.Page) ([]*Client, string, error) {
	if err := s.mayManageSystems(ctx); err != nil {
		return nil, "", err
	}
	return s.store.ListClients(ctx, Filter{IDPSystem: true}, p)
}

// RotateSystem replaces a system client's API token and returns the new
// one in clear (shown once); the old one stops working at once. The tokens
// it issued to people stay valid: rotating the system's credential does not
// sign anyone out.
func (s *Service) RotateSystem(ctx context.Context, id string) (*Client, string, error) {
	if err := s.mayManageSystems(ctx); err != nil {
		return nil, "", err
	}
	var out *Client
	var token string
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		c, err := s.system(ctx, id)
		if err != nil {
			return err
		}
		now := s.now()
		if token, err = s.issueSecret(c, now); err != nil {
			return err
		}
		c.UpdatedAt = now
		if err := s.store.UpdateClient(ctx, c); err != nil {
			return err
		}
		out = c
		return s.recordSystem(ctx, audit.IDPClientRotated, c, "API token rotated")
	})
	if err != nil {
		return nil, "", err
	}
	s.notify(id)
	return out, token, nil
}

// RevokeSystem disables a system client for good and, in the same
// transaction, revokes every token it issued: its API token answers 401
// from then on and the people it signed in are signed out of it. Revoking a
// revoked client changes nothing.
func (s *Service) RevokeSystem(ctx context.Context, id string) (*Client, error) {
	if err := s.mayManageSystems(ctx); err != nil {
		return nil, err
	}
	var out *Client
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		c, err := s.system(ctx, id)
		if err != nil {
			return err
		}
		out = c
		if c.Disabled {
			return nil
		}
		c.Disabled = true
		c.UpdatedAt = s.now()
		if err := s.store.UpdateClient(ctx, c); err != nil {
			return err
		}
		n := 0
		if s.tokens != nil {
			if n, err = s.tokens.RevokeClientTokens(ctx, c.ID); err != nil {
				return fmt.Errorf("revoke tokens of client %s: %w", c.ID, err)
			}
		}
		return s.recordSystem(ctx, audit.IDPClientRevoked, c, "revoked; %d tokens revoked", n)
	})
	if err != nil {
		return nil, err
	}
	s.notify(id)
	return out, nil
}

// AuthenticateSystem checks the headers client_id and X-Auth-Token of an
// IdP API request and returns the system client. An unknown, revoked or
// ordinary client and a wrong token all get the same Unauthenticated error.
func (s *Service) AuthenticateSystem(ctx context.Context, id, token string) (*Client, error) {
	// Headers reach here unchecked by the server's text guard: an id no
	// database could store (PostgreSQL refuses NUL and invalid UTF-8 in
	// text) names no client.
	if !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
		_ = s.key.Verify(token, "")
		return nil, errBadCredentials()
	}
	c, err := s.Authenticate(ctx, id, token)
	if err != nil {
		return nil, err
	}
	if !c.IDPSystem {
		return nil, errBadCredentials()
	}
	return c, nil
}

// CheckSystem is AuthenticateSystem on a client row the caller has just
// read from the store (the IdP token look-up reads it in the token's
// statement, tokens.IDPRead): nil when token is c's current X-Auth-Token
// and c is an enabled IdP system client, else the same Unauthenticated
// error. The secret is checked with the keyed HMAC in constant time,
// whatever else is wrong, so every refusal costs the same.
func (s *Service) CheckSystem(c *Client, token string) error {
	if c == nil {
		_ = s.key.Verify(token, "")
		return errBadCredentials()
	}
	if !s.VerifySecret(c, token) || c.Disabled || !c.IDPSystem {
		return errBadCredentials()
	}
	return nil
}

func (s *Service) mayManageSystems(ctx context.Context) error {
	who, err := s.caller(ctx)
	if err != nil {
		return err
	}
	return grantpolicy.Decide(who.policy, grantpolicy.Request{Action: grantpolicy.ManageIDPClient}).Err()
}

// system loads a system client by id; an ordinary client is NotFound here.
func (s *Service) system(ctx context.Context, id string) (*Client, error) {
	c, err := s.lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	if !c.IDPSystem {
		return nil, apperr.New(apperr.NotFound, "client %s is not an IdP system client", id)
	}
	return c, nil
}

// recordSystem writes one typed audit event about system client c: never
// its token or the token's hash.
func (s *Service) recordSystem(ctx context.Context, t audit.EventType, c *Client, format string, args ...any) error {
	fields := map[string]any{"name": c.Name, "organization": c.OrganizationID, "disabled": c.Disabled}
	if err := s.audit.Record(ctx, audit.Change{Type: t, Subject: audit.Ref("Client", c.ID),
		Fields: fields, Comment: fmt.Sprintf("client %s: ", c.ID) + fmt.Sprintf(format, args...)}); err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}
