package oauth

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ory/fosite"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/directory"
	"ward/internal/grantpolicy"
	"ward/internal/oauth/tokens"
	"ward/internal/secrets"
)

// Service accounts (seed 001, RULES.md "Lifetimes"): for automated access to
// ward's management API, a person (the sponsor) gets a service user, holding
// only the service role and linked to them by the sponsor relationship, and
// a long-lived bearer token for it.
//
// The token is an ordinary opaque access token row (Service set, scope
// ScopeAPI, a grant of its own), so bearer authentication, introspection,
// revocation and the token tools treat it like any other. It is issued on
// ward's built-in client ServiceAccountClientID, which Migrate registers
// (internal/sqlstore): confidential, with no grant types, no secret and no
// keys, it can never authenticate or obtain a token through an endpoint;
// only CreateServiceAccount issues on it. Disabling that client (ward
// client disable ward-service-accounts, or POST
// /api/client/ward-service-accounts/disable) stops every service token at
// once, and refuses new ones until it is enabled again.

// ServiceAccountClientID is the built-in client service tokens are issued to.
const ServiceAccountClientID = tokens.ServiceClientID

// ServiceAccount is a service user and the token just issued for it.
type ServiceAccount struct {
	User      *directory.User
	SponsorID int64
	// Created is true when this call created the service user.
	Created bool
	// Token is the bearer token in clear. It is shown this once: ward
	// keeps only its signature.
	Token string
	// Info describes Token (its row id, scope, expiry).
	Info *TokenInfo
	// Revoked counts the service user's earlier tokens this call revoked.
	Revoked int
}

// serviceDirectory is what service accounts need from the directory beyond
// Directory: *directory.Service provides it (with its permission checks).
type serviceDirectory interface {
	Directory
	CreateUser(ctx context.Context, in directory.NewUser) (*directory.User, error)
	Relationships(ctx context.Context, id int64) ([]directory.UserRelationship, error)
	SetRelationships(ctx context.Context, id int64, rels []directory.UserRelationship) ([]directory.UserRelationship, error)
}

var _ serviceDirectory = (*directory.Service)(nil)

func (p *Provider) serviceDirectory() (serviceDirectory, error) {
	d, ok := p.d.Directory.(serviceDirectory)
	if !ok {
		return nil, fmt.Errorf("oauth: the directory (%T) cannot create service users", p.d.Directory)
	}
	return d, nil
}

// mayHoldServiceToken is RULES.md's rule: only a user whose single role is
// service may hold a service token.
func mayHoldServiceToken(roles []string) bool {
	return len(roles) == 1 && roles[0] == directory.RoleService
}

// maySponsor says who may sponsor a service account: administrators and
// application developers, as the reference offered service tokens only on
// its client page, and never another service user. Who may create one is
// grantpolicy's question (administrators only): a service user may act on
// anyone in the directory (RULES.md rule 3).
func maySponsor(roles []string) bool {
	return !slices.Contains(roles, directory.RoleService) &&
		(slices.Contains(roles, directory.RoleAdmin) || slices.Contains(roles, directory.RoleApplicationDeveloper))
}

// CreateServiceAccount returns the service user sponsored by sponsorID,
// creating it on first use, and issues it a fresh service token (lifetime
// Config.ServiceTokenLifetime, scope ScopeAPI), revoking the previous one:
// a service user holds one token at a time, so calling this again is also
// how a token is rotated. Only an administrator (or ward itself) may call
// it (grantpolicy); the sponsor, who is told when the token nears expiry,
// must be an administrator or an application developer. The service user, its relationship, the
// token and their audit events commit together.
//
// Two concurrent first calls for one sponsor on PostgreSQL can each create
// a service user (SQLite serializes writers): the next call finds and
// keeps the lower id.
func (p *Provider) CreateServiceAccount(ctx context.Context, sponsorID int64) (*ServiceAccount, error) {
	if sponsorID <= 0 {
		return nil, apperr.New(apperr.Invalid, "sponsor id must be a positive integer")
	}
	dir, err := p.serviceDirectory()
	if err != nil {
		return nil, err
	}
	a := actor.From(ctx)
	if a.Anonymous() {
		return nil, apperr.New(apperr.Unauthenticated, "sign in first")
	}
	if err := p.mayCreateServiceAccount(ctx, dir, a); err != nil {
		return nil, err
	}
	if err := dir.CheckRole(ctx, directory.Edit, sponsorID); err != nil {
		return nil, err
	}
	if p.cfg.ServiceTokenLifetime <= 0 {
		return nil, fmt.Errorf("oauth: service token lifetime %v is not positive", p.cfg.ServiceTokenLifetime)
	}
	// The caller may edit the sponsor; granting the service role and
	// linking the new user are ward's own steps on their behalf, so they
	// run as ward, with the caller still named in every audit event.
	elevated := actor.With(ctx, actor.Actor{System: true, UserID: a.UserID, ClientID: a.ClientID, Scopes: a.Scopes})
	roles, err := dir.UserRoles(elevated, sponsorID)
	if err != nil {
		return nil, fmt.Errorf("read the sponsor's roles: %w", err)
	}
	if !maySponsor(roles) {
		return nil, apperr.New(apperr.Forbidden,
			"user %d may not sponsor a service account: only an administrator or an application developer may", sponsorID)
	}
	fc, err := p.serviceClient(ctx)
	if err != nil {
		return nil, err
	}
	out := &ServiceAccount{SponsorID: sponsorID}
	err = p.d.Tx.InTx(elevated, func(ctx context.Context) error {
		u, err := p.sponsoredUser(ctx, dir, sponsorID)
		if err != nil {
			return err
		}
		if u == nil {
			if u, err = p.createServiceUser(ctx, dir, sponsorID); err != nil {
				return err
			}
			out.Created = true
		}
		out.User = u
		if out.Revoked, err = p.d.Tokens.DeactivateClientUser(ctx, ServiceAccountClientID, u.ID); err != nil {
			return fmt.Errorf("revoke the earlier service token: %w", err)
		}
		if out.Token, out.Info, err = p.issueServiceToken(ctx, fc, u.ID); err != nil {
			return err
		}
		return p.auditTool(ctx, audit.Change{Type: audit.ServiceTokenIssued, Subject: audit.Ref("Token", out.Info.ID), SubjectID: u.ID,
			Fields: map[string]any{"service_account": u.ID, "sponsor": sponsorID, "expires": out.Info.ExpiresAt.UTC().Format(time.RFC3339),
				"revoked": out.Revoked, "created": out.Created}},
			"service token %d issued to service account %d (sponsor %d), expires %s; %d earlier token(s) revoked",
			out.Info.ID, u.ID, sponsorID, out.Info.ExpiresAt.UTC().Format(time.RFC3339), out.Revoked)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// mayCreateServiceAccount asks grantpolicy whether the caller may create a
// service account: a service user may act on anyone (RULES.md rule 3), so
// only an administrator or ward itself may bring one into being, whoever
// sponsors it (issue 9, finding 2: a developer sponsored their own).
func (p *Provider) mayCreateServiceAccount(ctx context.Context, dir serviceDirectory, a actor.Actor) error {
	who := grantpolicy.Caller{System: a.System, UserID: a.UserID}
	if !a.System && a.UserID != 0 {
		roles, err := dir.UserRoles(ctx, a.UserID)
		if k := apperr.KindOf(err); k == apperr.NotFound || k == apperr.Forbidden {
			return apperr.Wrap(apperr.Unauthenticated, err, "the signed-in account is no longer active")
		}
		if err != nil {
			return fmt.Errorf("read the caller's roles: %w", err)
		}
		who.Roles = roles
	}
	return grantpolicy.Decide(who, grantpolicy.Request{Action: grantpolicy.CreateServiceAccount}).Err()
}

// serviceClient returns the built-in client for fosite, refusing when an
// administrator has disabled it.
func (p *Provider) serviceClient(ctx context.Context) (fosite.Client, error) {
	e, err := p.clients.get(ctx, ServiceAccountClientID)
	if notFound(err) {
		return nil, fmt.Errorf("oauth: the built-in client %s is missing: run ward migrate", ServiceAccountClientID)
	}
	if err != nil {
		return nil, fmt.Errorf("look up client %s: %w", ServiceAccountClientID, err)
	}
	if e.c.Disabled {
		return nil, apperr.New(apperr.Conflict,
			"service tokens are stopped: client %s is disabled (an administrator may enable it)", ServiceAccountClientID)
	}
	return p.storage.GetClient(ctx, ServiceAccountClientID)
}

// sponsoredUser returns the live service user sponsorID sponsors, or nil.
// One that has gained other roles since is Conflict: it may not hold a
// service token, and ward will not quietly make a second.
func (p *Provider) sponsoredUser(ctx context.Context, dir serviceDirectory, sponsorID int64) (*directory.User, error) {
	rels, err := dir.Relationships(ctx, sponsorID)
	if err != nil {
		return nil, fmt.Errorf("read the sponsor's relationships: %w", err)
	}
	var ids []int64
	for _, r := range rels {
		if r.Relationship == directory.RelSponsor && r.OtherUserID == sponsorID && r.UserID != sponsorID {
			ids = append(ids, r.UserID)
		}
	}
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		u, err := dir.GetUser(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("read service user %d: %w", id, err)
		}
		if !u.Active() {
			continue
		}
		roles, err := dir.UserRoles(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("read the roles of service user %d: %w", id, err)
		}
		if !mayHoldServiceToken(roles) {
			return nil, apperr.New(apperr.Conflict,
				"user %d, sponsored by user %d, holds roles %v: only a user whose single role is %s may hold a service token",
				id, sponsorID, roles, directory.RoleService)
		}
		return u, nil
	}
	return nil, nil
}

func (p *Provider) createServiceUser(ctx context.Context, dir serviceDirectory, sponsorID int64) (*directory.User, error) {
	u, err := dir.CreateUser(ctx, directory.NewUser{
		User:  directory.User{GivenName: "Service account", FamilyName: fmt.Sprintf("of user %d", sponsorID)},
		Roles: []string{directory.RoleService},
	})
	if err != nil {
		return nil, fmt.Errorf("create the service user: %w", err)
	}
	rel := directory.UserRelationship{UserID: u.ID, Relationship: directory.RelSponsor, OtherUserID: sponsorID}
	if _, err := dir.SetRelationships(ctx, u.ID, []directory.UserRelationship{rel}); err != nil {
		return nil, fmt.Errorf("link the service user to its sponsor: %w", err)
	}
	return u, nil
}

// issueServiceToken issues and stores a service token for userID through
// the same strategy and storage as the token endpoint, on a grant of its
// own (a random request id), and returns it with its description.
func (p *Provider) issueServiceToken(ctx context.Context, fc fosite.Client, userID int64) (string, *TokenInfo, error) {
	reqID, err := secrets.RandomToken(16)
	if err != nil {
		return "", nil, fmt.Errorf("service token request id: %w", err)
	}
	now := p.now()
	sess := newSession()
	sess.UserID, sess.ClientID, sess.Service = userID, ServiceAccountClientID, true
	sess.Issuer, sess.Audience = p.cfg.Issuer, []string{p.cfg.FHIRBase()}
	sess.SetExpiresAt(fosite.AccessToken, now.Add(p.cfg.ServiceTokenLifetime))
	r := fosite.NewRequest()
	r.ID, r.RequestedAt, r.Client = reqID, now, fc
	r.SetRequestedScopes(fosite.Arguments{ScopeAPI})
	r.GrantScope(ScopeAPI)
	r.SetRequestedAudience(fosite.Arguments{p.cfg.FHIRBase()})
	r.GrantAudience(p.cfg.FHIRBase())
	r.SetSession(sess)
	token, sig, err := p.strategy.GenerateAccessToken(ctx, r)
	if err != nil {
		return "", nil, fmt.Errorf("generate service token: %w", err)
	}
	if err := p.storage.CreateAccessTokenSession(ctx, sig, r); err != nil {
		return "", nil, fmt.Errorf("store service token: %w", err)
	}
	t, err := p.d.Tokens.GetToken(ctx, tokens.KindAccess, sig)
	if err != nil {
		return "", nil, fmt.Errorf("read back the service token: %w", err)
	}
	var sc *client.Client // nil (not active) only if fosite's client were not ward's
	if f, ok := fc.(*fositeClient); ok {
		sc = f.c
	}
	info, err := p.tokenView(t, now, sc)
	if err != nil {
		return "", nil, err
	}
	return token, info, nil
}

// sponsorOf returns the sponsor of service user id, 0 and "" when it has
// none (or the sponsor is gone).
func (p *Provider) sponsorOf(ctx context.Context, id int64) (int64, string, error) {
	dir, err := p.serviceDirectory()
	if err != nil {
		return 0, "", err
	}
	ctx = actor.System(ctx)
	rels, err := dir.Relationships(ctx, id)
	if notFound(err) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("read the relationships of service user %d: %w", id, err)
	}
	for _, r := range rels {
		if r.Relationship != directory.RelSponsor || r.UserID != id {
			continue
		}
		u, err := dir.GetUser(ctx, r.OtherUserID)
		if notFound(err) {
			return r.OtherUserID, "", nil
		}
		if err != nil {
			return 0, "", fmt.Errorf("read sponsor %d: %w", r.OtherUserID, err)
		}
		return u.ID, u.Email, nil
	}
	return 0, "", nil
}
