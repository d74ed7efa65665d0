package audit

import (
	"fmt"
	"slices"
	"strconv"
)

// This file is the one registry of typed change events. Every event ward
// records names one of these types; Record refuses any other, so a
// consumer (webhooks, the activity feed, FHIR AuditEvent) can switch on
// the type and trust the list below to be complete.

// EventType says what happened, as data: "<thing>.<what happened>", e.g.
// "user.created". The strings are stable: they are stored in the chain
// (and hashed) and shown to API clients.
type EventType string

// Action is what an event did to its subject, as FHIR AuditEvent.action
// codes it: C(reate), R(ead), U(pdate), D(elete), E(xecute: anything else,
// such as a sign-in).
type Action string

// Actions.
const (
	ActionCreate  Action = "C"
	ActionRead    Action = "R"
	ActionUpdate  Action = "U"
	ActionDelete  Action = "D"
	ActionExecute Action = "E"
)

// Event types. The subject reference each one carries is named beside it
// ("Patient/12" is a user: ward serves every user as a Patient).
const (
	UserCreated          EventType = "user.created"           // Patient/{id}
	UserUpdated          EventType = "user.updated"           // Patient/{id}
	UserDeleted          EventType = "user.deleted"           // Patient/{id}: marked deleted
	UserPurged           EventType = "user.purged"            // Patient/{id}: removed for good
	UserReactivated      EventType = "user.reactivated"       // Patient/{id}
	UserMerged           EventType = "user.merged"            // Patient/{id}, once per side
	UserPasswordChanged  EventType = "user.password_changed"  // Patient/{id}
	UserProfilesSet      EventType = "user.profiles_set"      // Patient/{id}
	UserOrgsChanged      EventType = "user.organizations_set" // Patient/{id}
	UserGroupsSet        EventType = "user.groups_set"        // Patient/{id}
	RoleGranted          EventType = "role.granted"           // Patient/{id}: roles only added
	RoleRevoked          EventType = "role.revoked"           // Patient/{id}: roles only removed
	RoleChanged          EventType = "role.changed"           // Patient/{id}: roles added and removed
	IdentifierAdded      EventType = "identifier.added"       // Patient/{id}
	IdentifierRemoved    EventType = "identifier.removed"     // Patient/{id}
	RelationshipsSet     EventType = "relationship.set"       // Patient/{id}: the whole list replaced
	OrganizationCreated  EventType = "organization.created"   // Organization/{id}
	OrganizationUpdated  EventType = "organization.updated"   // Organization/{id}
	OrganizationDeleted  EventType = "organization.deleted"   // Organization/{id}
	GroupCreated         EventType = "group.created"          // Group/{id}
	ConsentCreated       EventType = "consent.created"        // Consent/{id}
	ConsentWithdrawn     EventType = "consent.withdrawn"      // Consent/{id}
	ConsentDeleted       EventType = "consent.deleted"        // Consent/{id}
	TermsAccepted        EventType = "terms.accepted"         // Patient/{id}
	ObservationCreated   EventType = "observation.created"    // Observation/{id}
	ObservationUpdated   EventType = "observation.updated"    // Observation/{id}
	ObservationDeleted   EventType = "observation.deleted"    // Observation/{id}
	ProcedureCreated     EventType = "procedure.created"      // Procedure/{id}
	ProcedureUpdated     EventType = "procedure.updated"      // Procedure/{id}
	ProcedureDeleted     EventType = "procedure.deleted"      // Procedure/{id}
	DocumentCreated      EventType = "document.created"       // DocumentReference/{id}
	DocumentUpdated      EventType = "document.updated"       // DocumentReference/{id}
	DocumentDeleted      EventType = "document.deleted"       // DocumentReference/{id}
	ClientCreated        EventType = "client.created"         // Client/{client_id}
	ClientUpdated        EventType = "client.updated"         // Client/{client_id}
	ClientApproved       EventType = "client.approved"        // Client/{client_id}
	ClientDisabled       EventType = "client.disabled"        // Client/{client_id}
	ClientEnabled        EventType = "client.enabled"         // Client/{client_id}
	ClientSecretRotated  EventType = "client.secret_rotated"  // Client/{client_id}
	TokenIssued          EventType = "token.issued"           // Client/{client_id}
	TokenRevoked         EventType = "token.revoked"          // Token/{id}, or Client/{client_id} at /oauth/revoke
	TokenExpiring        EventType = "token.expiring"         // Token/{id}: a service token's alert
	CodeIssued           EventType = "authorization.code_issued"
	AuthorizationSaved   EventType = "authorization.remembered" // Client/{client_id}
	AuthorizationRefused EventType = "authorization.refused"    // Client/{client_id}
	AuthorizationRevoked EventType = "authorization.revoked"    // Client/{client_id}
	RequestRefused       EventType = "request.refused"          // Client/{client_id} when named
	ServiceTokenIssued   EventType = "service_account.token_issued"
	IDPClientCreated     EventType = "idp_client.created"  // Client/{client_id}
	IDPClientRotated     EventType = "idp_client.rotated"  // Client/{client_id}
	IDPClientRevoked     EventType = "idp_client.revoked"  // Client/{client_id}
	IDPTokenLookedUp     EventType = "idp_token.looked_up" // Token/{id}: a system looked up another system's token
	SigninSucceeded      EventType = "signin.succeeded"    // Patient/{id}
	SigninFailed         EventType = "signin.failed"       // Patient/{id} when the email is known
	SigninLocked         EventType = "signin.locked"       // Patient/{id}: refused while locked out
	SigninUnlocked       EventType = "signin.unlocked"     // Patient/{id}
	Signout              EventType = "signout"             // Patient/{id}, or Client/{client_id} (end session)
	ExportKickedOff      EventType = "export.kicked_off"
	ExportCompleted      EventType = "export.completed"
	ExportFailed         EventType = "export.failed"
	ExportCancelled      EventType = "export.cancelled"
	ExportDownloaded     EventType = "export.downloaded" // Export/{id}
	SigningKeyCreated    EventType = "signing_key.created"
	SigningKeyRotated    EventType = "signing_key.rotated"
	SigningKeyDeleted    EventType = "signing_key.deleted" // SigningKey/{kid}
	RecordRead           EventType = "record.read"         // Patient/{id}, or Group/{id}: a FHIR read

	// Interventions (issue 13). An intervention's reference is its name.
	InterventionCreated       EventType = "intervention.created"        // Intervention/{name}
	InterventionUpdated       EventType = "intervention.updated"        // Intervention/{name}
	InterventionDeleted       EventType = "intervention.deleted"        // Intervention/{name}
	InterventionAccessChanged EventType = "intervention.access_changed" // Patient/{id}: a UserIntervention row
	AccessRuleCreated         EventType = "access_rule.created"         // AccessRule/{id}
	AccessRuleUpdated         EventType = "access_rule.updated"         // AccessRule/{id}
	AccessRuleDeleted         EventType = "access_rule.deleted"         // AccessRule/{id}
	InterventionMessageSent   EventType = "intervention.message_sent"   // Intervention/{name}

	// Connectors (issue 16). A connector's reference is its name.
	ConnectorCreated      EventType = "connector.created"      // Connector/{name}
	ConnectorDeleted      EventType = "connector.deleted"      // Connector/{name}
	ConnectorPrimed       EventType = "connector.primed"       // Connector/{name}: an administrator's login gave it tokens
	ConnectorRefreshed    EventType = "connector.refreshed"    // Connector/{name}
	ConnectorDisconnected EventType = "connector.disconnected" // Connector/{name}: the remote refused a refresh for good
	ConnectorCalled       EventType = "connector.called"       // Connector/{name}: an administrator's pass-through call (operation, never a body)

	// Webhooks (issue 15). A subscription's reference is its id.
	WebhookCreated          EventType = "webhook.created"           // Webhook/{id}
	WebhookUpdated          EventType = "webhook.updated"           // Webhook/{id}
	WebhookDeleted          EventType = "webhook.deleted"           // Webhook/{id}
	WebhookSecretRotated    EventType = "webhook.secret_rotated"    // Webhook/{id}
	WebhookEnabled          EventType = "webhook.enabled"           // Webhook/{id}: by a person
	WebhookDisabled         EventType = "webhook.disabled"          // Webhook/{id}: by a person, or by ward after a run of failures
	WebhookDeliveryReplayed EventType = "webhook.delivery_replayed" // Webhook/{id}

	// Pushed integration tokens (issue 15 part 2). An integration's
	// reference is its id; fields name the token's row id, jti and expiry,
	// never the token.
	IntegrationCreated     EventType = "integration.created"      // Integration/{id}
	IntegrationDeleted     EventType = "integration.deleted"      // Integration/{id}
	IntegrationTokenPushed EventType = "integration.token_pushed" // Integration/{id}: the receiver answered 2xx
	IntegrationPushFailed  EventType = "integration.push_failed"  // Integration/{id}: its token was revoked

	// Workflow records (issue 15, seed 002): FHIR Task declarations.
	TaskCreated       EventType = "task.created"        // Task/{id}: a declaration submitted
	TaskStatusChanged EventType = "task.status_changed" // Task/{id}: fields from, to, action (reason)
)

// eventInfo is what the registry knows about a type: the audit context it
// files under (today's coarse filter) and its FHIR action.
type eventInfo struct {
	context Context
	action  Action
}

// registry is every EventType ward records.
var registry = map[EventType]eventInfo{
	UserCreated:          {Account, ActionCreate},
	UserUpdated:          {User, ActionUpdate},
	UserDeleted:          {Account, ActionDelete},
	UserPurged:           {Account, ActionDelete},
	UserReactivated:      {Account, ActionUpdate},
	UserMerged:           {Account, ActionUpdate},
	UserPasswordChanged:  {Account, ActionUpdate},
	UserProfilesSet:      {User, ActionUpdate},
	UserOrgsChanged:      {Organization, ActionUpdate},
	UserGroupsSet:        {Group, ActionUpdate},
	RoleGranted:          {Role, ActionUpdate},
	RoleRevoked:          {Role, ActionUpdate},
	RoleChanged:          {Role, ActionUpdate},
	IdentifierAdded:      {User, ActionUpdate},
	IdentifierRemoved:    {User, ActionUpdate},
	RelationshipsSet:     {Relationship, ActionUpdate},
	OrganizationCreated:  {Organization, ActionCreate},
	OrganizationUpdated:  {Organization, ActionUpdate},
	OrganizationDeleted:  {Organization, ActionDelete},
	GroupCreated:         {Group, ActionCreate},
	ConsentCreated:       {ConsentCtx, ActionCreate},
	ConsentWithdrawn:     {ConsentCtx, ActionUpdate},
	ConsentDeleted:       {ConsentCtx, ActionDelete},
	TermsAccepted:        {ToU, ActionCreate},
	ObservationCreated:   {Observation, ActionCreate},
	ObservationUpdated:   {Observation, ActionUpdate},
	ObservationDeleted:   {Observation, ActionDelete},
	ProcedureCreated:     {Procedure, ActionCreate},
	ProcedureUpdated:     {Procedure, ActionUpdate},
	ProcedureDeleted:     {Procedure, ActionDelete},
	DocumentCreated:      {Document, ActionCreate},
	DocumentUpdated:      {Document, ActionUpdate},
	DocumentDeleted:      {Document, ActionDelete},
	ClientCreated:        {Intervention, ActionCreate},
	ClientUpdated:        {Intervention, ActionUpdate},
	ClientApproved:       {Intervention, ActionUpdate},
	ClientDisabled:       {Intervention, ActionUpdate},
	ClientEnabled:        {Intervention, ActionUpdate},
	ClientSecretRotated:  {Intervention, ActionUpdate},
	TokenIssued:          {Authentication, ActionCreate},
	TokenRevoked:         {Authentication, ActionDelete},
	TokenExpiring:        {Authentication, ActionExecute},
	CodeIssued:           {Authentication, ActionCreate},
	AuthorizationSaved:   {ConsentCtx, ActionCreate},
	AuthorizationRefused: {ConsentCtx, ActionExecute},
	AuthorizationRevoked: {ConsentCtx, ActionDelete},
	RequestRefused:       {Authentication, ActionExecute},
	ServiceTokenIssued:   {Authentication, ActionCreate},
	IDPClientCreated:     {Intervention, ActionCreate},
	IDPClientRotated:     {Intervention, ActionUpdate},
	IDPClientRevoked:     {Intervention, ActionUpdate},
	IDPTokenLookedUp:     {Access, ActionRead},
	SigninSucceeded:      {Login, ActionExecute},
	SigninFailed:         {Login, ActionExecute},
	SigninLocked:         {Login, ActionExecute},
	SigninUnlocked:       {Login, ActionUpdate},
	Signout:              {Login, ActionExecute},
	ExportKickedOff:      {Export, ActionCreate},
	ExportCompleted:      {Export, ActionUpdate},
	ExportFailed:         {Export, ActionUpdate},
	ExportCancelled:      {Export, ActionUpdate},
	ExportDownloaded:     {Access, ActionRead},
	SigningKeyCreated:    {Other, ActionCreate},
	SigningKeyRotated:    {Other, ActionUpdate},
	SigningKeyDeleted:    {Other, ActionDelete},
	RecordRead:           {Access, ActionRead},

	InterventionCreated:       {Intervention, ActionCreate},
	InterventionUpdated:       {Intervention, ActionUpdate},
	InterventionDeleted:       {Intervention, ActionDelete},
	InterventionAccessChanged: {Intervention, ActionUpdate},
	AccessRuleCreated:         {Intervention, ActionCreate},
	AccessRuleUpdated:         {Intervention, ActionUpdate},
	AccessRuleDeleted:         {Intervention, ActionDelete},
	InterventionMessageSent:   {Intervention, ActionExecute},

	ConnectorCreated:      {Other, ActionCreate},
	ConnectorDeleted:      {Other, ActionDelete},
	ConnectorPrimed:       {Other, ActionUpdate},
	ConnectorRefreshed:    {Other, ActionUpdate},
	ConnectorDisconnected: {Other, ActionUpdate},
	ConnectorCalled:       {Other, ActionExecute},

	WebhookCreated:          {Other, ActionCreate},
	WebhookUpdated:          {Other, ActionUpdate},
	WebhookDeleted:          {Other, ActionDelete},
	WebhookSecretRotated:    {Other, ActionUpdate},
	WebhookEnabled:          {Other, ActionUpdate},
	WebhookDisabled:         {Other, ActionUpdate},
	WebhookDeliveryReplayed: {Other, ActionExecute},

	// Pushed integration tokens (issue 15 part 2).
	IntegrationCreated:     {Other, ActionCreate},
	IntegrationDeleted:     {Other, ActionDelete},
	IntegrationTokenPushed: {Other, ActionExecute},
	IntegrationPushFailed:  {Other, ActionExecute},

	TaskCreated:       {Other, ActionCreate},
	TaskStatusChanged: {Other, ActionUpdate},
}

// Registered reports whether t is in the registry.
func Registered(t EventType) bool {
	_, ok := registry[t]
	return ok
}

// ContextOf returns the audit context events of type t file under ("" for
// an unregistered type).
func ContextOf(t EventType) Context { return registry[t].context }

// ActionOf returns the FHIR action of type t: E for an unregistered or
// empty type (events written before types existed).
func ActionOf(t EventType) Action {
	if info, ok := registry[t]; ok {
		return info.action
	}
	return ActionExecute
}

// EventTypes lists every registered type, sorted.
func EventTypes() []EventType {
	out := make([]EventType, 0, len(registry))
	for t := range registry {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Ref is a subject reference in its plain string form, "<Kind>/<id>":
// a FHIR resource type and id where ward serves the thing as one
// (Patient, Organization, Observation, ...), and otherwise ward's own kind
// (Client, Token, Export, SigningKey). The id is written as given.
func Ref(kind string, id any) string { return fmt.Sprintf("%s/%v", kind, id) }

// UserRef is the reference of user id: ward serves every user as a Patient.
func UserRef(id int64) string { return "Patient/" + strconv.FormatInt(id, 10) }
