package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/audit"
	"ward/internal/client"
	"ward/internal/clinical"
	"ward/internal/config"
	"ward/internal/connector"
	"ward/internal/directory"
	"ward/internal/document"
	"ward/internal/integration"
	"ward/internal/intervention"
	"ward/internal/oauth"
	"ward/internal/testutil"
	"ward/internal/webhook"
	"ward/internal/workflow"
)

// writePrefixes name the service methods that change state. A new exported
// method starting with one of them must be in TestEveryWriteRecordsAnEvent's
// table (or, when it records nothing by design, in notAuditedWrites).
var writePrefixes = []string{"Create", "Update", "Delete", "Add", "Remove", "Grant", "Revoke", "Set",
	"Withdraw", "Approve", "Disable", "Enable", "Rotate", "Reactivate", "Lock", "Unlock", "Merge", "Purge",
	"Accept", "Replace", "Login", "Logout"}

// notAuditedWrites are the write-named methods that record no event, and why.
var notAuditedWrites = map[string]string{
	"directory.Service.RevokeWith":         "wiring at start-up, not a change",
	"client.Service.RevokeWith":            "wiring at start-up, not a change",
	"document.Service.RemovePurgedContent": "removes blobs after directory.PurgeUser, which records user.purged",
	"session.Service.PurgeExpired":         "housekeeping of expired sessions, no one's change",
	"oauth.Provider.PurgeExpiredTokens":    "housekeeping of expired tokens, no one's change",
	"keys.Manager.PruneRetired":            "records signing_key.deleted per key past its publish window; none is due in a fresh database",
}

// TestEveryWriteRecordsAnEvent runs every write method of the domain
// services against a real database inside a transaction, and checks that the
// event of the expected type is in the chain within that transaction (so it
// commits or rolls back with the change). A reflection check makes sure
// every write-named method is in the table.
func TestEveryWriteRecordsAnEvent(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		srv := newServer(t, dbURL, nil)
		svc := srv.Services()
		sys := actor.WithAddr(actor.System(context.Background()), "192.0.2.10")
		dir := svc.Directory

		var (
			patient, other, staff, orgID, obsID, procID, docID     int64
			clientID, token, idpClientID, webhookID, integrationID string
			secrets                                                = []string{"a long enough passphrase 1"}
			obsVersion, procVersion, docVersion                    int64
			serviceUser, serviceTokenID                            int64
			ruleID                                                 int64
			taskID                                                 int64
		)
		at := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
		cases := []struct {
			method string
			want   audit.EventType
			run    func(ctx context.Context) error
		}{
			{"directory.Service.CreateOrganization", audit.OrganizationCreated, func(ctx context.Context) error {
				o, err := dir.CreateOrganization(ctx, &directory.Organization{Name: "Clinic"})
				if err == nil {
					orgID = o.ID
				}
				return err
			}},
			{"directory.Service.UpdateOrganization", audit.OrganizationUpdated, func(ctx context.Context) error {
				_, err := dir.UpdateOrganization(ctx, &directory.Organization{ID: orgID, Name: "Clinic A"})
				return err
			}},
			{"directory.Service.CreateUser", audit.UserCreated, func(ctx context.Context) error {
				u, err := dir.CreateUser(ctx, directory.NewUser{User: directory.User{Email: "p@example.org"},
					Roles: []string{directory.RolePatient}})
				if err != nil {
					return err
				}
				patient = u.ID
				u, err = dir.CreateUser(ctx, directory.NewUser{User: directory.User{Email: "o@example.org"},
					Roles: []string{directory.RolePatient}})
				if err != nil {
					return err
				}
				other = u.ID
				u, err = dir.CreateUser(ctx, directory.NewUser{User: directory.User{Email: "dev@example.org"},
					Roles: []string{directory.RoleApplicationDeveloper}})
				if err == nil {
					staff = u.ID
				}
				return err
			}},
			{"directory.Service.UpdateUser", audit.UserUpdated, func(ctx context.Context) error {
				_, err := dir.UpdateUser(ctx, patient, func(u *directory.User) error { u.GivenName = "Pat"; return nil })
				return err
			}},
			{"directory.Service.SetPassword", audit.UserPasswordChanged, func(ctx context.Context) error {
				return dir.SetPassword(ctx, patient, "a long enough passphrase 1")
			}},
			{"directory.Service.AddRoles", audit.RoleGranted, func(ctx context.Context) error {
				_, err := dir.AddRoles(ctx, other, []string{directory.RolePartner})
				return err
			}},
			{"directory.Service.DeleteRoles", audit.RoleRevoked, func(ctx context.Context) error {
				_, err := dir.DeleteRoles(ctx, other, []string{directory.RolePartner})
				return err
			}},
			{"directory.Service.ReplaceRoles", audit.RoleChanged, func(ctx context.Context) error {
				// patient out, test in: one event for both.
				if _, err := dir.ReplaceRoles(ctx, other, []string{directory.RoleTest}); err != nil {
					return err
				}
				_, err := dir.ReplaceRoles(ctx, other, []string{directory.RolePatient})
				return err
			}},
			{"directory.Service.SetUserOrganizations", audit.UserOrgsChanged, func(ctx context.Context) error {
				_, err := dir.SetUserOrganizations(ctx, patient, []int64{orgID})
				return err
			}},
			{"directory.Service.AddUserOrganizations", audit.UserOrgsChanged, func(ctx context.Context) error {
				_, err := dir.AddUserOrganizations(ctx, other, []int64{orgID})
				return err
			}},
			{"directory.Service.AddConsent", audit.ConsentCreated, func(ctx context.Context) error {
				_, err := dir.AddConsent(ctx, &directory.Consent{UserID: patient, OrganizationID: orgID,
					Status: directory.ConsentConsented, AcceptanceDate: at})
				return err
			}},
			{"directory.Service.WithdrawConsent", audit.ConsentWithdrawn, func(ctx context.Context) error {
				_, err := dir.WithdrawConsent(ctx, patient, orgID)
				return err
			}},
			{"directory.Service.DeleteConsent", audit.ConsentDeleted, func(ctx context.Context) error {
				return dir.DeleteConsent(ctx, patient, orgID)
			}},
			{"directory.Service.AcceptToU", audit.TermsAccepted, func(ctx context.Context) error {
				_, err := dir.AcceptToU(ctx, &directory.ToU{UserID: patient, Type: "website terms of use", URL: "https://example.org/tou"})
				return err
			}},
			{"directory.Service.AddUserIdentifier", audit.IdentifierAdded, func(ctx context.Context) error {
				_, err := dir.AddUserIdentifier(ctx, patient, directory.Identifier{System: "urn:mrn", Value: "42"})
				return err
			}},
			{"directory.Service.SetRelationships", audit.RelationshipsSet, func(ctx context.Context) error {
				_, err := dir.SetRelationships(ctx, patient, []directory.UserRelationship{
					{Relationship: directory.RelPartner, OtherUserID: other}})
				return err
			}},
			{"directory.Service.CreateGroup", audit.GroupCreated, func(ctx context.Context) error {
				_, err := dir.CreateGroup(ctx, &directory.Group{Name: "Study"})
				return err
			}},
			{"directory.Service.SetUserGroups", audit.UserGroupsSet, func(ctx context.Context) error {
				_, err := dir.SetUserGroups(ctx, patient, []string{"Study"})
				return err
			}},
			{"directory.Service.SetUserProfiles", audit.UserProfilesSet, func(ctx context.Context) error {
				_, err := dir.SetUserProfiles(ctx, patient, []directory.Profile{{Type: directory.ProfilePatient, ID: "p-1"}})
				return err
			}},
			{"clinical.Observations.Create", audit.ObservationCreated, func(ctx context.Context) error {
				o, err := svc.Clinical.Observations().Create(ctx, clinical.Observation{PatientID: patient, Status: clinical.ObsFinal,
					Code:      []clinical.Coding{{System: "http://loinc.org", Code: "2345-7"}},
					Value:     clinical.Value{Kind: clinical.ValueQuantity, Quantity: &clinical.Quantity{Value: "5.4", Unit: "mmol/L"}},
					Effective: clinical.Occurrence{DateTime: &at}, Issued: at})
				if err == nil {
					obsID, obsVersion = o.ID, o.Version
				}
				return err
			}},
			{"clinical.Observations.Update", audit.ObservationUpdated, func(ctx context.Context) error {
				o, err := svc.Clinical.Observations().Get(ctx, obsID)
				if err != nil {
					return err
				}
				o.Status = clinical.ObsAmended
				o, err = svc.Clinical.Observations().Update(ctx, *o)
				if err == nil {
					obsVersion = o.Version
				}
				return err
			}},
			{"clinical.Observations.Delete", audit.ObservationDeleted, func(ctx context.Context) error {
				return svc.Clinical.Observations().Delete(ctx, obsID, obsVersion)
			}},
			{"clinical.Procedures.Create", audit.ProcedureCreated, func(ctx context.Context) error {
				p, err := svc.Clinical.Procedures().Create(ctx, clinical.Procedure{PatientID: patient, Status: clinical.ProcCompleted,
					Code:      []clinical.Coding{{System: clinical.SNOMEDSystem, Code: "26294005"}},
					Performed: clinical.Occurrence{DateTime: &at}})
				if err == nil {
					procID, procVersion = p.ID, p.Version
				}
				return err
			}},
			{"clinical.Procedures.Update", audit.ProcedureUpdated, func(ctx context.Context) error {
				p, err := svc.Clinical.Procedures().Get(ctx, procID)
				if err != nil {
					return err
				}
				p.Status = clinical.ProcEnteredInError
				p, err = svc.Clinical.Procedures().Update(ctx, *p)
				if err == nil {
					procVersion = p.Version
				}
				return err
			}},
			{"clinical.Procedures.Delete", audit.ProcedureDeleted, func(ctx context.Context) error {
				return svc.Clinical.Procedures().Delete(ctx, procID, procVersion)
			}},
			{"document.Service.Create", audit.DocumentCreated, func(ctx context.Context) error {
				d, err := svc.Documents.Create(ctx, &document.Document{PatientID: patient,
					Type:        []document.Coding{{System: "http://loinc.org", Code: "34133-9"}},
					ContentType: "text/plain", Title: "note.txt"}, strings.NewReader("hello"))
				if err == nil {
					docID, docVersion = d.ID, d.Version
				}
				return err
			}},
			{"document.Service.Update", audit.DocumentUpdated, func(ctx context.Context) error {
				d, err := svc.Documents.Get(ctx, docID)
				if err != nil {
					return err
				}
				d.Title = "renamed.txt"
				d, err = svc.Documents.Update(ctx, d)
				if err == nil {
					docVersion = d.Version
				}
				return err
			}},
			{"document.Service.Delete", audit.DocumentDeleted, func(ctx context.Context) error {
				return svc.Documents.Delete(ctx, docID, docVersion)
			}},
			{"client.Service.Create", audit.ClientCreated, func(ctx context.Context) error {
				c, secret, err := svc.Clients.Create(ctx, client.Settings{Name: "App", GrantTypes: []string{client.GrantAuthorizationCode},
					RedirectURIs: []string{"https://app.example.org/cb"}, Scope: "openid patient/*.rs", OwnerID: staff})
				if err == nil {
					clientID, secrets = c.ID, append(secrets, secret, c.SecretHash)
				}
				return err
			}},
			{"client.Service.Update", audit.ClientUpdated, func(ctx context.Context) error {
				_, _, err := svc.Clients.Update(ctx, clientID, func(s *client.Settings) error { s.Name = "App 2"; return nil })
				return err
			}},
			{"client.Service.Disable", audit.ClientDisabled, func(ctx context.Context) error {
				_, err := svc.Clients.Disable(ctx, clientID)
				return err
			}},
			{"client.Service.Enable", audit.ClientEnabled, func(ctx context.Context) error {
				_, err := svc.Clients.Enable(ctx, clientID)
				return err
			}},
			{"client.Service.RotateSecret", audit.ClientSecretRotated, func(ctx context.Context) error {
				c, secret, err := svc.Clients.RotateSecret(ctx, clientID)
				if err == nil {
					secrets = append(secrets, secret, c.SecretHash)
				}
				return err
			}},
			{"client.Service.CreateSystem", audit.IDPClientCreated, func(ctx context.Context) error {
				c, token, err := svc.Clients.CreateSystem(ctx, "SHR @ DGHS MIS", 0)
				if err == nil {
					idpClientID, secrets = c.ID, append(secrets, token, c.SecretHash)
				}
				return err
			}},
			{"client.Service.RotateSystem", audit.IDPClientRotated, func(ctx context.Context) error {
				c, token, err := svc.Clients.RotateSystem(ctx, idpClientID)
				if err == nil {
					secrets = append(secrets, token, c.SecretHash)
				}
				return err
			}},
			{"client.Service.RevokeSystem", audit.IDPClientRevoked, func(ctx context.Context) error {
				_, err := svc.Clients.RevokeSystem(ctx, idpClientID)
				return err
			}},
			{"client.Service.Approve", audit.ClientApproved, func(ctx context.Context) error {
				// A developer's registration awaits an administrator.
				dev := actor.With(ctx, actor.Actor{UserID: staff})
				c, _, err := svc.Clients.Create(dev, client.Settings{Name: "Dev app", GrantTypes: []string{client.GrantAuthorizationCode},
					RedirectURIs: []string{"https://dev.example.org/cb"}, Scope: "openid patient/*.rs"})
				if err != nil {
					return err
				}
				if !c.Pending() {
					return errors.New("a developer's client should await approval")
				}
				_, err = svc.Clients.Approve(ctx, c.ID)
				return err
			}},
			{"session.Service.Login", audit.SigninSucceeded, func(ctx context.Context) error {
				u, err := dir.GetUser(ctx, patient)
				if err != nil {
					return err
				}
				token, _, err = svc.Sessions.Login(ctx, "p@example.org", "a long enough passphrase 1")
				secrets = append(secrets, u.PasswordHash, token)
				return err
			}},
			{"session.Service.Logout", audit.Signout, func(ctx context.Context) error {
				return svc.Sessions.Logout(ctx, token)
			}},
			{"session.Service.Unlock", audit.SigninUnlocked, func(ctx context.Context) error {
				return svc.Sessions.Unlock(ctx, patient)
			}},
			{"oauth.Provider.CreateServiceAccount", audit.ServiceTokenIssued, func(ctx context.Context) error {
				sa, err := svc.OAuth.CreateServiceAccount(ctx, staff)
				if err == nil {
					serviceUser, serviceTokenID, secrets = sa.User.ID, sa.Info.ID, append(secrets, sa.Token)
				}
				return err
			}},
			{"oauth.Provider.RevokeTokenByID", audit.TokenRevoked, func(ctx context.Context) error {
				_, err := svc.OAuth.RevokeTokenByID(ctx, oauth.ServiceAccountClientID, serviceTokenID)
				return err
			}},
			{"oauth.Provider.RevokeToken", audit.TokenRevoked, func(ctx context.Context) error {
				sa, err := svc.OAuth.CreateServiceAccount(ctx, staff)
				if err != nil {
					return err
				}
				secrets = append(secrets, sa.Token)
				_, err = svc.OAuth.RevokeToken(ctx, sa.Token)
				return err
			}},
			{"oauth.Provider.RevokePushedToken", audit.TokenRevoked, func(ctx context.Context) error {
				c, secret, err := svc.Clients.Create(ctx, client.Settings{Name: "Integration", GrantTypes: []string{client.GrantClientCredentials},
					Scope: "system/Patient.rs"})
				if err != nil {
					return err
				}
				secrets = append(secrets, secret, c.SecretHash)
				pt, err := svc.OAuth.MintPushedToken(ctx, c.ID, time.Hour, "events-test")
				if err != nil {
					return err
				}
				secrets = append(secrets, pt.Token)
				return svc.OAuth.RevokePushedToken(ctx, c.ID, pt.Info.ID)
			}},
			{"oauth.Provider.RevokeClientUser", audit.AuthorizationRevoked, func(ctx context.Context) error {
				if _, err := svc.OAuth.CreateServiceAccount(ctx, staff); err != nil {
					return err
				}
				_, err := svc.OAuth.RevokeClientUser(ctx, oauth.ServiceAccountClientID, serviceUser)
				return err
			}},
			{"oauth.Provider.WithdrawConsent", audit.AuthorizationRevoked, func(ctx context.Context) error {
				if _, err := svc.OAuth.CreateServiceAccount(ctx, staff); err != nil {
					return err
				}
				_, err := svc.OAuth.WithdrawConsent(ctx, serviceUser, oauth.ServiceAccountClientID)
				return err
			}},
			{"intervention.Service.Create", audit.InterventionCreated, func(ctx context.Context) error {
				_, err := svc.Interventions.Create(ctx, intervention.Intervention{Name: "care_plan", PublicAccess: true})
				return err
			}},
			{"intervention.Service.Update", audit.InterventionUpdated, func(ctx context.Context) error {
				_, err := svc.Interventions.Update(ctx, "care_plan", 0, func(iv *intervention.Intervention) error {
					iv.PublicAccess = false
					return nil
				})
				return err
			}},
			{"intervention.Service.SetUserAccess", audit.InterventionAccessChanged, func(ctx context.Context) error {
				granted := intervention.AccessGranted
				_, err := svc.Interventions.SetUserAccess(ctx, "care_plan", patient, intervention.UserAccessChange{Access: &granted})
				return err
			}},
			{"intervention.Service.Communicate", audit.InterventionMessageSent, func(ctx context.Context) error {
				_, err := svc.Interventions.Communicate(ctx, "care_plan", intervention.CommunicateRequest{
					Protocol: intervention.ProtocolEmail, Users: []int64{patient}, Subject: "Hello", Message: "See you soon."})
				return err
			}},
			{"intervention.Service.AddRule", audit.AccessRuleCreated, func(ctx context.Context) error {
				r, err := svc.Interventions.AddRule(ctx, "care_plan",
					[]byte(`{"name":"patients","function_details":{"function":"in_role_list","kwargs":[{"name":"role_list","value":["patient"]}]}}`))
				if err == nil {
					ruleID = r.ID
				}
				return err
			}},
			{"intervention.Service.UpdateRule", audit.AccessRuleUpdated, func(ctx context.Context) error {
				_, err := svc.Interventions.UpdateRule(ctx, "care_plan", ruleID, 0,
					[]byte(`{"name":"not begun","function_details":{"function":"tx_begun","kwargs":[{"name":"boolean_value","value":"false"}]}}`))
				return err
			}},
			{"intervention.Service.DeleteRule", audit.AccessRuleDeleted, func(ctx context.Context) error {
				return svc.Interventions.DeleteRule(ctx, "care_plan", ruleID)
			}},
			{"intervention.Service.Delete", audit.InterventionDeleted, func(ctx context.Context) error {
				return svc.Interventions.Delete(ctx, "care_plan")
			}},
			{"connector.Service.Create", audit.ConnectorCreated, func(ctx context.Context) error {
				_, err := svc.Connectors.Create(ctx, connector.Settings{Name: "campdoc",
					BaseURL: "https://mis.example.org/api/v2", AuthorizeURL: "https://mis.example.org/oauth/authorize",
					TokenURL: "https://mis.example.org/oauth/token", ClientID: "ward", ClientSecret: "connector secret 77",
					RedirectURI: "https://ward.example.org/admin/connectors/campdoc/callback"})
				secrets = append(secrets, "connector secret 77")
				return err
			}},
			{"connector.Service.Delete", audit.ConnectorDeleted, func(ctx context.Context) error {
				return svc.Connectors.Delete(ctx, "campdoc")
			}},
			{"keys.Manager.Rotate", audit.SigningKeyRotated, func(ctx context.Context) error {
				_, err := svc.Keys.Rotate(ctx, time.Hour)
				return err
			}},
			{"keys.Manager.RotateIfOlder", audit.SigningKeyRotated, func(ctx context.Context) error {
				rotated, err := svc.Keys.RotateIfOlder(ctx, time.Nanosecond, time.Hour)
				if err == nil && !rotated {
					return errors.New("keys older than a nanosecond were not rotated")
				}
				return err
			}},
			{"directory.Service.DeleteUser", audit.UserDeleted, func(ctx context.Context) error {
				return dir.DeleteUser(ctx, other)
			}},
			{"directory.Service.ReactivateUser", audit.UserReactivated, func(ctx context.Context) error {
				_, err := dir.ReactivateUser(ctx, other)
				return err
			}},
			{"directory.Service.MergeUsers", audit.UserMerged, func(ctx context.Context) error {
				return dir.MergeUsers(ctx, other, patient)
			}},
			{"directory.Service.PurgeUser", audit.UserPurged, func(ctx context.Context) error {
				return dir.PurgeUser(ctx, other)
			}},
			{"directory.Service.DeleteOrganization", audit.OrganizationDeleted, func(ctx context.Context) error {
				o, err := dir.CreateOrganization(ctx, &directory.Organization{Name: "Short-lived"})
				if err != nil {
					return err
				}
				return dir.DeleteOrganization(ctx, o.ID)
			}},
			// Workflow records (issue 15): a declaration and one step.
			{"workflow.Service.Create", audit.TaskCreated, func(ctx context.Context) error {
				tk, err := svc.Workflow.Create(ctx, workflow.Declaration{Resource: []byte(`{"intent":"order"}`)})
				if err == nil {
					taskID = tk.ID
				}
				return err
			}},
			{"workflow.Service.Act", audit.TaskStatusChanged, func(ctx context.Context) error {
				_, err := svc.Workflow.Act(ctx, taskID, workflow.Validate, "", nil)
				return err
			}},
			// Webhooks and integrations (issue 15).
			{"webhook.Service.Create", audit.WebhookCreated, func(ctx context.Context) error {
				w, secret, err := svc.Webhooks.Create(ctx, webhook.NewSubscription{ClientID: clientID,
					URL: "https://receiver.example.org/ward", Events: []string{string(audit.UserUpdated)}})
				if err == nil {
					webhookID, secrets = w.ID, append(secrets, secret)
				}
				return err
			}},
			{"webhook.Service.Update", audit.WebhookUpdated, func(ctx context.Context) error {
				d := "changed"
				_, err := svc.Webhooks.Update(ctx, webhookID, webhook.Changes{Description: &d})
				return err
			}},
			{"webhook.Service.RotateSecret", audit.WebhookSecretRotated, func(ctx context.Context) error {
				_, secret, err := svc.Webhooks.RotateSecret(ctx, webhookID, nil)
				secrets = append(secrets, secret)
				return err
			}},
			{"webhook.Service.Delete", audit.WebhookDeleted, func(ctx context.Context) error {
				return svc.Webhooks.Delete(ctx, webhookID)
			}},
			{"integration.Service.Create", audit.IntegrationCreated, func(ctx context.Context) error {
				c, secret, err := svc.Clients.Create(ctx, client.Settings{Name: "Registry", GrantTypes: []string{client.GrantClientCredentials},
					Scope: "system/Patient.rs"})
				if err != nil {
					return err
				}
				secrets = append(secrets, secret, c.SecretHash)
				in, err := svc.Integrations.Create(ctx, integration.NewIntegration{ClientID: c.ID, URL: "https://registry.example.org/token"})
				if err == nil {
					integrationID, secrets = in.ID, append(secrets, in.Secret)
				}
				return err
			}},
			{"integration.Service.Delete", audit.IntegrationDeleted, func(ctx context.Context) error {
				_, err := svc.Integrations.Delete(ctx, integrationID)
				return err
			}},
		}

		listed := map[string]bool{}
		for _, c := range cases {
			listed[c.method] = true
			headID, _, err := svc.DB.AuditHead(sys)
			if err != nil {
				t.Fatal(err)
			}
			err = svc.DB.InTx(sys, func(ctx context.Context) error {
				if err := c.run(ctx); err != nil {
					return err
				}
				// Read inside the transaction: the event is written in it.
				var types []audit.EventType
				if err := svc.DB.ScanAudit(ctx, headID, func(e audit.Event) error {
					types = append(types, e.Type)
					if e.Type == c.want && e.SourceIP != "192.0.2.10" {
						t.Errorf("%s: event %d has source %q, want the request's", c.method, e.ID, e.SourceIP)
					}
					return nil
				}); err != nil {
					return err
				}
				if !slices.Contains(types, c.want) {
					t.Errorf("%s recorded %v in its transaction, want %s", c.method, types, c.want)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%s: %v", c.method, err)
			}
		}
		if b, err := svc.Audit.Verify(sys); err != nil || b != nil {
			t.Fatalf("verify the chain: %v, %v", b, err)
		}
		// Every event is typed, and no password, password hash, client
		// secret, its hash or session token reached any (payload or comment).
		if err := svc.DB.ScanAudit(sys, 0, func(e audit.Event) error {
			if !audit.Registered(e.Type) {
				t.Errorf("event %d (%q) has no registered type", e.ID, e.Comment)
			}
			for _, secret := range secrets {
				if secret != "" && (strings.Contains(e.Payload, secret) || strings.Contains(e.Comment, secret)) {
					t.Errorf("event %d (%s) holds a secret: payload %s", e.ID, e.Type, e.Payload)
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(secrets) < 6 {
			t.Fatalf("collected %d secrets to look for, want the password, its hash, a token and two client secrets with hashes", len(secrets))
		}

		// The clinical records' use cases live on clinical.Kind[T], one
		// value per kind, named here as the table names them.
		services := []struct {
			name string // "" for the type's name
			v    any
		}{{"", dir}, {"", svc.Clinical}, {"clinical.Observations", svc.Clinical.Observations()},
			{"clinical.Procedures", svc.Clinical.Procedures()}, {"", svc.Documents}, {"", svc.Clients},
			{"", svc.Sessions}, {"", svc.OAuth}, {"", svc.Keys}, {"", svc.Interventions},
			{"", svc.Connectors}, {"", svc.Workflow}, {"", svc.Webhooks}, {"", svc.Integrations}}
		for _, sv := range services {
			typ := reflect.TypeOf(sv.v)
			name := sv.name
			if name == "" {
				name = strings.TrimPrefix(typ.String(), "*")
			}
			for i := range typ.NumMethod() {
				m := name + "." + typ.Method(i).Name
				if !hasWritePrefix(typ.Method(i).Name) || listed[m] {
					continue
				}
				if _, ok := notAuditedWrites[m]; !ok {
					t.Errorf("%s changes state but is not in this test's table: record a typed event and add it", m)
				}
			}
		}
	})
}

func hasWritePrefix(name string) bool {
	for _, p := range writePrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// TestEventsNameTheSourceAddress: an event recorded while serving a request
// carries the client address as the sign-in throttle reads it: the peer's,
// or with WARD_TRUSTED_PROXIES the forwarded one, never one a client made up.
func TestEventsNameTheSourceAddress(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		srv := newServer(t, dbURL, func(c *config.Config) { c.TrustedProxies = "10.0.0.0/8" })
		svc := srv.Services()
		for _, tt := range []struct{ peer, forwarded, want string }{
			{"10.1.2.3:4000", "198.51.100.7", "198.51.100.7"}, // through the trusted proxy
			{"192.0.2.50:4000", "198.51.100.7", "192.0.2.50"}, // a client naming itself: ignored
		} {
			headID, _, err := svc.DB.AuditHead(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodGet, "/api/me", nil)
			req.RemoteAddr = tt.peer
			req.Header.Set("X-Forwarded-For", tt.forwarded)
			req.Header.Set("Authorization", "Bearer ward_at_forged")
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("forged token: %d", rec.Code)
			}
			var got []audit.Event
			if err := svc.DB.ScanAudit(context.Background(), headID, func(e audit.Event) error {
				got = append(got, e)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Type != audit.RequestRefused || got[0].SourceIP != tt.want {
				t.Fatalf("peer %s forwarding %s: events %+v, want one request.refused from %s", tt.peer, tt.forwarded, got, tt.want)
			}
		}
	})
}
