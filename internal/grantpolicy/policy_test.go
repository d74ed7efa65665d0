package grantpolicy_test

import (
	"slices"
	"strings"
	"testing"

	"ward/internal/apperr"
	"ward/internal/client"
	"ward/internal/directory"
	. "ward/internal/grantpolicy"
)

// me is the user id of every signed-in caller in the table.
const me = 7

// callers is the static role set that matters, one caller each.
var callers = map[string]Caller{
	"system":    {System: true},
	"admin":     {UserID: me, Roles: []string{RoleAdmin}},
	"developer": {UserID: me, Roles: []string{RoleApplicationDeveloper}},
	"staffadm":  {UserID: me, Roles: []string{RoleStaffAdmin}},
	"staff":     {UserID: me, Roles: []string{RoleStaff}},
	"clinician": {UserID: me, Roles: []string{RoleClinician}},
	"patient":   {UserID: me, Roles: []string{RolePatient}},
	"service":   {UserID: me, Roles: []string{RoleService}},
	"norole":    {UserID: me},
	"anonymous": {},
}

var (
	appGrants = []string{"authorization_code", "refresh_token"}
	appScopes = []string{"openid", "fhirUser", "profile", "launch", "launch/patient", "offline_access", "patient/*.rs", "user/Observation.cruds"}
	redirect  = []string{"https://app.example.org/cb"}
)

func devClient(status string) *Client {
	return &Client{GrantTypes: appGrants, Scopes: appScopes, RedirectURIs: redirect, OwnerID: me, Status: status}
}

func TestDecide(t *testing.T) {
	admins := []string{"system", "admin"}
	adminsAndDev := []string{"system", "admin", "developer"}
	tests := []struct {
		name    string
		req     Request
		allowed []string
		// status is the client status after an allowed request, by caller
		// kind ("" when the request sets none).
		adminStatus, devStatus string
	}{
		{name: "register app client",
			req:     Request{Action: RegisterClient, Client: *devClient("")},
			allowed: adminsAndDev, adminStatus: StatusActive, devStatus: StatusPending},
		{name: "register client owned by someone else",
			req:     Request{Action: RegisterClient, Client: Client{GrantTypes: appGrants, Scopes: []string{"openid"}, OwnerID: me + 1}},
			allowed: admins, adminStatus: StatusActive},
		// Finding 1: client_credentials with system/*.cruds.
		{name: "register client_credentials system/*.cruds",
			req:     Request{Action: RegisterClient, Client: Client{GrantTypes: []string{"client_credentials"}, Scopes: []string{"system/*.cruds"}, OwnerID: me}},
			allowed: admins, adminStatus: StatusActive},
		{name: "register client_credentials with patient scopes",
			req:     Request{Action: RegisterClient, Client: Client{GrantTypes: []string{"client_credentials"}, Scopes: []string{"patient/*.rs"}, OwnerID: me}},
			allowed: admins, adminStatus: StatusActive},
		{name: "register system scope on authorization_code",
			req:     Request{Action: RegisterClient, Client: Client{GrantTypes: appGrants, Scopes: []string{"openid", "system/Patient.rs"}, OwnerID: me}},
			allowed: admins, adminStatus: StatusActive},
		{name: "register export scope",
			req:     Request{Action: RegisterClient, Client: Client{GrantTypes: appGrants, Scopes: []string{"system/*.$export"}, OwnerID: me}},
			allowed: admins, adminStatus: StatusActive},
		{name: "register ward:api",
			req:     Request{Action: RegisterClient, Client: Client{GrantTypes: appGrants, Scopes: []string{"ward:api"}, OwnerID: me}},
			allowed: admins, adminStatus: StatusActive},
		{name: "update without widening keeps active",
			req:     Request{Action: UpdateClient, Before: devClient(StatusActive), Client: Client{GrantTypes: appGrants[:1], Scopes: appScopes[:2], RedirectURIs: redirect, OwnerID: me}},
			allowed: adminsAndDev, adminStatus: StatusActive, devStatus: StatusActive},
		{name: "update adding a patient scope returns to pending",
			req:     Request{Action: UpdateClient, Before: devClient(StatusActive), Client: Client{GrantTypes: appGrants, Scopes: append(slices.Clone(appScopes), "patient/Procedure.rs"), RedirectURIs: redirect, OwnerID: me}},
			allowed: adminsAndDev, adminStatus: StatusActive, devStatus: StatusPending},
		{name: "update adding a redirect URI returns to pending",
			req:     Request{Action: UpdateClient, Before: devClient(StatusActive), Client: Client{GrantTypes: appGrants, Scopes: appScopes, RedirectURIs: append(slices.Clone(redirect), "https://evil.example/cb"), OwnerID: me}},
			allowed: adminsAndDev, adminStatus: StatusActive, devStatus: StatusPending},
		{name: "update of a pending client stays pending",
			req:     Request{Action: UpdateClient, Before: devClient(StatusPending), Client: Client{GrantTypes: appGrants, Scopes: appScopes, RedirectURIs: append(slices.Clone(redirect), "https://app.example.org/cb2"), OwnerID: me}},
			allowed: adminsAndDev, adminStatus: StatusPending, devStatus: StatusPending},
		{name: "update adding system scope",
			req:     Request{Action: UpdateClient, Before: devClient(StatusActive), Client: Client{GrantTypes: appGrants, Scopes: append(slices.Clone(appScopes), "system/*.rs"), RedirectURIs: redirect, OwnerID: me}},
			allowed: admins, adminStatus: StatusActive},
		{name: "update adding client_credentials",
			req:     Request{Action: UpdateClient, Before: devClient(StatusActive), Client: Client{GrantTypes: append(slices.Clone(appGrants), "client_credentials"), Scopes: appScopes, RedirectURIs: redirect, OwnerID: me}},
			allowed: admins, adminStatus: StatusActive},
		{name: "update keeping what an admin gave",
			req: Request{Action: UpdateClient,
				Before: &Client{GrantTypes: []string{"client_credentials"}, Scopes: []string{"system/Patient.rs"}, OwnerID: me, Status: StatusActive},
				Client: Client{GrantTypes: []string{"client_credentials"}, Scopes: []string{"system/Patient.rs"}, OwnerID: me}},
			allowed: adminsAndDev, adminStatus: StatusActive, devStatus: StatusActive},
		{name: "update of someone else's client",
			req:     Request{Action: UpdateClient, Before: &Client{GrantTypes: appGrants, Scopes: appScopes, OwnerID: me + 1}, Client: Client{GrantTypes: appGrants, Scopes: appScopes, OwnerID: me + 1}},
			allowed: admins, adminStatus: StatusActive},
		{name: "update moving the owner",
			req:     Request{Action: UpdateClient, Before: devClient(StatusActive), Client: Client{GrantTypes: appGrants, Scopes: appScopes, RedirectURIs: redirect, OwnerID: me + 1}},
			allowed: admins, adminStatus: StatusActive},
		{name: "approve", req: Request{Action: ApproveClient, Client: *devClient(StatusPending)},
			allowed: admins, adminStatus: StatusActive},
		{name: "enable", req: Request{Action: EnableClient, Client: *devClient(StatusActive)},
			allowed: adminsAndDev, adminStatus: StatusActive, devStatus: StatusPending},
		{name: "enable someone else's client", req: Request{Action: EnableClient, Client: Client{OwnerID: me + 1}},
			allowed: admins, adminStatus: StatusActive},
		// Finding 2.
		{name: "create service account", req: Request{Action: CreateServiceAccount}, allowed: admins},
		{name: "grant admin", req: Request{Action: GrantRoles, Roles: []string{RoleAdmin}}, allowed: admins},
		{name: "grant service", req: Request{Action: GrantRoles, Roles: []string{RoleService}}, allowed: admins},
		{name: "grant staff_admin", req: Request{Action: GrantRoles, Roles: []string{RoleStaffAdmin}}, allowed: admins},
		{name: "grant application_developer", req: Request{Action: GrantRoles, Roles: []string{RoleApplicationDeveloper}}, allowed: admins},
		{name: "grant staff", req: Request{Action: GrantRoles, Roles: []string{RoleStaff}},
			allowed: []string{"system", "admin", "staffadm", "service"}},
		{name: "grant clinician and patient", req: Request{Action: GrantRoles, Roles: []string{RoleClinician, RolePatient}},
			allowed: []string{"system", "admin", "staffadm", "service"}},
		{name: "grant patient", req: Request{Action: GrantRoles, Roles: []string{RolePatient}},
			allowed: []string{"system", "admin", "staffadm", "staff", "clinician", "service"}},
		{name: "grant patient and staff_admin", req: Request{Action: GrantRoles, Roles: []string{RolePatient, RoleStaffAdmin}}, allowed: admins},
		{name: "grant nothing", req: Request{Action: GrantRoles},
			allowed: []string{"system", "admin", "developer", "staffadm", "staff", "clinician", "patient", "service", "norole", "anonymous"}},
		{name: "unknown action", req: Request{Action: 0}},
	}
	for _, tt := range tests {
		for name, c := range callers {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				d := Decide(c, tt.req)
				want := slices.Contains(tt.allowed, name)
				if d.Allowed != want || d.Reason == "" {
					t.Fatalf("Decide = %+v, want allowed %v", d, want)
				}
				if err := d.Err(); (err == nil) != want || (err != nil && !apperr.Is(err, apperr.Forbidden)) {
					t.Fatalf("Err() = %v", err)
				}
				if !d.Allowed {
					if d.Status != "" {
						t.Fatalf("a refusal sets status %q", d.Status)
					}
					return
				}
				wantStatus := tt.adminStatus
				if !c.Admin() {
					wantStatus = tt.devStatus
				}
				if d.Status != wantStatus {
					t.Fatalf("status %q, want %q", d.Status, wantStatus)
				}
			})
		}
	}
}

// TestUseClient is the approval gate: a pending client serves its owner's
// own sign-in and nothing else.
func TestUseClient(t *testing.T) {
	const owner, other = 7, 8
	tests := []struct {
		name   string
		status string
		user   int64
		grant  string
		want   bool
	}{
		{"active, anyone", StatusActive, other, "authorization_code", true},
		{"active, client credentials", StatusActive, 0, "client_credentials", true},
		{"registered before approvals", "", other, "authorization_code", true},
		{"pending, owner", StatusPending, owner, "authorization_code", true},
		{"pending, owner refreshes", StatusPending, owner, "refresh_token", true},
		{"pending, someone else", StatusPending, other, "authorization_code", false},
		{"pending, someone else refreshes", StatusPending, other, "refresh_token", false},
		{"pending, client credentials", StatusPending, 0, "client_credentials", false},
		{"pending, owner by client credentials", StatusPending, owner, "client_credentials", false},
		{"pending, nobody", StatusPending, 0, "authorization_code", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(Caller{UserID: tt.user}, Request{Action: UseClient, Grant: tt.grant,
				Client: Client{OwnerID: owner, Status: tt.status}})
			if d.Allowed != tt.want || d.Reason == "" {
				t.Fatalf("Decide = %+v, want allowed %v", d, tt.want)
			}
		})
	}
}

func TestDeveloperScope(t *testing.T) {
	for s, want := range map[string]bool{
		"openid": true, "fhirUser": true, "profile": true, "email": true, "launch": true,
		"launch/patient": true, "launch/encounter": true, "offline_access": true, "online_access": true,
		"patient/*.rs": true, "patient/Observation.cruds": true, "user/*.read": true, "user/Patient.$export": true,
		"patient/Patient.rs?identifier=x|1": true,
		"system/*.rs":                       false, "system/*.cruds": false, "system/*.$export": false, "system/Document.read": false,
		"ward:api": false, "admin": false, "": false, "patient/": false, "other/x.rs": false,
	} {
		if got := DeveloperScope(s); got != want {
			t.Errorf("DeveloperScope(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestNamesMatch keeps the wire names here in step with the packages that
// own them.
func TestNamesMatch(t *testing.T) {
	for _, r := range []string{RoleAdmin, RoleService, RoleStaffAdmin, RoleStaff, RoleClinician,
		RoleApplicationDeveloper, RolePatient, RolePartner, RoleTest, RoleWriteOnly, RoleAccessOnVerify, RolePromoteWithoutID} {
		if !directory.IsRole(r) {
			t.Errorf("%q is not a directory role", r)
		}
	}
	if GrantClientCredentials != client.GrantClientCredentials {
		t.Errorf("client_credentials is %q in internal/client", client.GrantClientCredentials)
	}
	// Every role below admin is grantable by nobody but an admin unless a
	// covering role lists it.
	for _, held := range [][]string{{RoleStaffAdmin}, {RoleService}, {RoleStaff}, {RoleClinician}, {RolePatient}} {
		_, names := GrantableRoles(held)
		for _, n := range names {
			if slices.Contains([]string{RoleAdmin, RoleService, RoleStaffAdmin}, n) || !directory.IsRole(n) {
				t.Errorf("%v may grant %q", held, n)
			}
		}
		if strings.Join(held, "") == RolePatient && len(names) != 0 {
			t.Errorf("a patient may grant %v", names)
		}
	}
}
