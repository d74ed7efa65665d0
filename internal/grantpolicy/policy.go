package grantpolicy

import (
	"fmt"
	"slices"
	"strings"

	"ward/internal/apperr"
	"ward/internal/oauth/scope"
)

// Role names the rule refers to (internal/directory's static set).
const (
	RoleAdmin                = "admin"
	RoleService              = "service"
	RoleStaffAdmin           = "staff_admin"
	RoleStaff                = "staff"
	RoleClinician            = "clinician"
	RoleApplicationDeveloper = "application_developer"
	RolePatient              = "patient"
	RolePartner              = "partner"
	RoleTest                 = "test"
	RoleWriteOnly            = "write_only"
	RoleAccessOnVerify       = "access_on_verify"
	RolePromoteWithoutID     = "promote_without_identity_challenge"
)

// GrantClientCredentials is the grant that lets a client act for nobody
// (internal/client's name for it).
const GrantClientCredentials = "client_credentials"

// Client statuses (internal/client stores them).
const (
	// StatusPending is a developer's client awaiting an administrator: it
	// serves its owner only.
	StatusPending = "pending"
	// StatusActive is a client anyone may authorize.
	StatusActive = "active"
)

// Action is the kind of request.
type Action int

// The requests the rule decides.
const (
	// RegisterClient registers Request.Client.
	RegisterClient Action = iota + 1
	// UpdateClient changes Request.Before into Request.Client.
	UpdateClient
	// ApproveClient moves a pending client to active.
	ApproveClient
	// CreateServiceAccount creates (or re-issues the token of) a service
	// user, which holds the service role.
	CreateServiceAccount
	// GrantRoles grants or revokes Request.Roles.
	GrantRoles
	// UseClient issues a token of Request.Client by Request.Grant for the
	// person Caller (Caller.UserID 0: the client acting for nobody).
	UseClient
	// EnableClient lets the disabled Request.Client obtain tokens again.
	EnableClient
	// ManageIDPClient creates, rotates or revokes a system client of the
	// legacy IdP API (seed 003), which signs in anyone whose password it is
	// handed and looks up any token it is handed.
	ManageIDPClient
)

func (a Action) String() string {
	switch a {
	case RegisterClient:
		return "register a client"
	case UpdateClient:
		return "change a client"
	case ApproveClient:
		return "approve a client"
	case CreateServiceAccount:
		return "create a service account"
	case GrantRoles:
		return "grant or revoke roles"
	case UseClient:
		return "use a client"
	case EnableClient:
		return "enable a client"
	case ManageIDPClient:
		return "manage an IdP system client"
	}
	return "unknown action"
}

// Caller is who asks.
type Caller struct {
	// System is ward itself: the CLI and ward's own internal steps.
	System bool
	// UserID is the signed-in person; 0 for nobody.
	UserID int64
	// Roles are the person's roles.
	Roles []string
}

// Admin reports whether the caller holds every power: ward itself or an
// administrator.
func (c Caller) Admin() bool { return c.System || slices.Contains(c.Roles, RoleAdmin) }

func (c Caller) has(role string) bool { return slices.Contains(c.Roles, role) }

// Client is what the rule looks at in a client.
type Client struct {
	GrantTypes   []string
	Scopes       []string
	RedirectURIs []string
	// OwnerID is the application developer who manages it; 0 for none.
	OwnerID int64
	// Status is StatusPending or StatusActive ("" counts as active: every
	// client registered before approvals existed).
	Status string
}

func (c *Client) status() string {
	if c.Status == "" {
		return StatusActive
	}
	return c.Status
}

// Request is what is asked for. Only the fields of its Action count.
type Request struct {
	Action Action
	// Client is the client registered, as changed, approved or used.
	Client Client
	// Before is the client before an UpdateClient.
	Before *Client
	// Roles are the roles granted or revoked by GrantRoles.
	Roles []string
	// Grant is the grant type a UseClient token is issued by.
	Grant string
}

// Decision is the answer.
type Decision struct {
	Allowed bool
	// Reason says why not, or which rule allowed.
	Reason string
	// Status is the client's status after a RegisterClient, UpdateClient
	// or ApproveClient that is allowed.
	Status string
}

// Err is nil when the request is allowed, else a Forbidden error saying why.
func (d Decision) Err() error {
	if d.Allowed {
		return nil
	}
	return apperr.New(apperr.Forbidden, "%s", d.Reason)
}

func allow(reason string) Decision { return Decision{Allowed: true, Reason: reason} }

func deny(format string, args ...any) Decision {
	return Decision{Reason: fmt.Sprintf(format, args...)}
}

// Decide is the rule: whether c may make r, and why not.
func Decide(c Caller, r Request) Decision {
	switch r.Action {
	case RegisterClient:
		return decideRegister(c, r)
	case UpdateClient:
		return decideUpdate(c, r)
	case ApproveClient:
		if !c.Admin() {
			return deny("only an administrator may approve a client")
		}
		d := allow("administrator")
		d.Status = StatusActive
		return d
	case CreateServiceAccount:
		if !c.Admin() {
			return deny("only an administrator may create a service account: a service account may act on anyone")
		}
		return allow("administrator")
	case GrantRoles:
		return decideRoles(c, r.Roles)
	case UseClient:
		return decideUse(c, r)
	case EnableClient:
		return decideEnable(c, r)
	case ManageIDPClient:
		// A system client signs people in and reads their groups and
		// profiles: power only an administrator holds.
		if !c.Admin() {
			return deny("only an administrator may manage an IdP system client")
		}
		return allow("administrator")
	}
	return deny("unknown request %d", int(r.Action))
}

func decideRegister(c Caller, r Request) Decision {
	if c.Admin() {
		d := allow("administrator")
		d.Status = StatusActive
		return d
	}
	if !c.has(RoleApplicationDeveloper) || c.UserID == 0 {
		return deny("only an administrator or an application developer may register clients")
	}
	if r.Client.OwnerID != c.UserID {
		return deny("an application developer may only register clients they own")
	}
	if why := beyondDeveloper(r.Client.GrantTypes, r.Client.Scopes); why != "" {
		return deny("%s", why)
	}
	d := allow("application developer, pending an administrator's approval")
	d.Status = StatusPending
	return d
}

func decideUpdate(c Caller, r Request) Decision {
	if r.Before == nil {
		return deny("a client change needs the client as it was")
	}
	before := r.Before
	if c.Admin() {
		d := allow("administrator")
		d.Status = before.status()
		return d
	}
	if !c.has(RoleApplicationDeveloper) || c.UserID == 0 || before.OwnerID != c.UserID {
		return deny("you may not manage this client")
	}
	if r.Client.OwnerID != before.OwnerID {
		return deny("only an administrator may change a client's owner")
	}
	// What an administrator gave the client may stay; only what the
	// developer adds must lie within their own reach.
	if why := beyondDeveloper(added(before.GrantTypes, r.Client.GrantTypes), added(before.Scopes, r.Client.Scopes)); why != "" {
		return deny("%s", why)
	}
	d := allow("owning application developer")
	d.Status = before.status()
	if d.Status == StatusActive && widens(before, &r.Client) {
		d.Status = StatusPending
		d.Reason = "owning application developer; the change widens the client, so it waits for approval again"
	}
	return d
}

// widens reports whether next adds a grant type, scope or redirect URI to
// prev: an approved client must not change what it reaches or where its
// codes go without an administrator seeing it.
func widens(prev, next *Client) bool {
	return len(added(prev.GrantTypes, next.GrantTypes)) > 0 ||
		len(added(prev.Scopes, next.Scopes)) > 0 ||
		len(added(prev.RedirectURIs, next.RedirectURIs)) > 0
}

// added returns what is in next and not in prev.
func added(prev, next []string) []string {
	var out []string
	for _, x := range next {
		if !slices.Contains(prev, x) {
			out = append(out, x)
		}
	}
	return out
}

// beyondDeveloper says what in grants and scopes an application developer
// may not give a client, "" when nothing.
func beyondDeveloper(grants, scopes []string) string {
	if slices.Contains(grants, GrantClientCredentials) {
		return "only an administrator may register a client for the client_credentials grant: it acts for nobody, with no person's rights to bound it"
	}
	var bad []string
	for _, s := range scopes {
		if !DeveloperScope(s) {
			bad = append(bad, s)
		}
	}
	if len(bad) > 0 {
		return fmt.Sprintf("only an administrator may give a client the scopes %s: an application developer's clients may ask for "+
			"openid, fhirUser, profile, email, launch, launch/…, offline_access, online_access, patient/… and user/… scopes",
			strings.Join(bad, " "))
	}
	return ""
}

// DeveloperScope reports whether an application developer's client may
// carry s: the scopes whose reach, at use, is bounded by the signed-in
// person's own rights (identity, launch context, refresh, patient/ and
// user/ data). system/ scopes, ward:api and anything ward does not know are
// administrators' to give.
func DeveloperScope(s string) bool {
	sc, err := scope.Parse(s)
	if err != nil {
		return false
	}
	switch sc.Kind {
	case scope.KindOpenID, scope.KindLaunch:
		return true
	case scope.KindResource:
		// A workflow action (user/Task.certify) is a registrar's power
		// over other people's declarations: an administrator's to give.
		return sc.Action == "" && (sc.Context == scope.ContextPatient || sc.Context == scope.ContextUser)
	}
	return s == scope.OfflineAccess || s == scope.OnlineAccess
}

// reservedRoles are the roles only an administrator grants or revokes: each
// reaches people beyond the holder's own organizations (admin, service) or
// hands out staff rights to others (staff_admin).
func reservedRoles() []string { return []string{RoleAdmin, RoleService, RoleStaffAdmin} }

// patientRoles give their holder no power over anyone else: any staff
// member manages them for the patients of their clinic.
func patientRoles() []string {
	return []string{RolePatient, RolePartner, RoleTest, RoleWriteOnly, RoleAccessOnVerify, RolePromoteWithoutID}
}

// GrantableRoles returns the roles a holder of held may grant or revoke;
// all is true for an administrator, who may grant every role. Below admin,
// a role is grantable only when a role the holder has covers its power:
// staff, staff_admin and clinician cover the patient-account roles; a staff
// admin (over their clinic's staff, RULES.md rule 5) and a service account
// (acting on anyone) cover staff and clinician too. staff_admin itself,
// admin and service are never grantable below admin.
func GrantableRoles(held []string) (all bool, names []string) {
	c := Caller{Roles: held}
	switch {
	case c.has(RoleAdmin):
		return true, nil
	case c.has(RoleStaffAdmin), c.has(RoleService):
		return false, append(patientRoles(), RoleStaff, RoleClinician)
	case c.has(RoleStaff), c.has(RoleClinician):
		return false, patientRoles()
	}
	return false, nil
}

func decideRoles(c Caller, roles []string) Decision {
	if c.Admin() {
		return allow("administrator")
	}
	for _, role := range roles {
		if slices.Contains(reservedRoles(), role) {
			return deny("only an administrator may grant or revoke the role %q", role)
		}
	}
	_, names := GrantableRoles(c.Roles)
	for _, role := range roles {
		if !slices.Contains(names, role) {
			return deny("you may not grant or revoke the role %q: none of your roles covers it", role)
		}
	}
	return allow("covered by the caller's roles")
}

// decideEnable: an administrator's disable is a kill switch its owner
// cannot undo alone. The owning developer may enable their client, but it
// then waits for an administrator's approval again.
func decideEnable(c Caller, r Request) Decision {
	if c.Admin() {
		d := allow("administrator")
		d.Status = r.Client.status()
		return d
	}
	if !c.has(RoleApplicationDeveloper) || c.UserID == 0 || r.Client.OwnerID != c.UserID {
		return deny("you may not manage this client")
	}
	d := allow("owning application developer; the client waits for approval again")
	d.Status = StatusPending
	return d
}

// decideUse is the approval gate at the authorization server: an active
// client serves anyone who authorizes it; a pending one its owner only,
// and never for the client_credentials grant.
func decideUse(c Caller, r Request) Decision {
	if r.Client.status() == StatusActive {
		return allow("active client")
	}
	if r.Grant == GrantClientCredentials || c.UserID == 0 {
		return deny("the client awaits an administrator's approval and may not act for nobody")
	}
	if c.UserID != r.Client.OwnerID {
		return deny("the client awaits an administrator's approval: until then only its owner may use it")
	}
	return allow("pending client used by its owner")
}
