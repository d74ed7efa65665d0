// Package storetest is the conformance suite every storage backend runs:
// each behaviour written on a domain Store interface is one case here. Run
// covers every Store that Backend has a field for, RunDocuments the
// document.Store of DocumentBackend; a new Store gets its field (or its own
// Run) and its cases beside them. internal/sqlstore runs both on SQLite
// and on PostgreSQL. Fixtures set every field to a non-zero value so that a
// column a backend forgets to write or read is caught.
package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/bulk"
	"ward/internal/client"
	"ward/internal/clinical"
	"ward/internal/directory"
	"ward/internal/intervention"
	"ward/internal/oauth/keys"
	"ward/internal/oauth/tokens"
	"ward/internal/session"
	"ward/internal/store"
)

// Backend is one freshly migrated, empty database behind the domain stores.
type Backend struct {
	Directory directory.Store
	Audit     audit.Store
	Session   session.Store
	Clients   client.Store
	Keys      keys.Store
	Tokens    tokens.Store
	Clinical  clinical.Store
	Exports   bulk.Store
	// Interventions is the intervention store (issue 13).
	Interventions intervention.Store
	Tx            store.Transactor
	// EnrollIntervention puts a user into a (new or existing) intervention.
	// Interventions have no Store methods yet, so the backend provides this
	// to exercise SharedIntervention and merges.
	EnrollIntervention func(ctx context.Context, userID int64, intervention string) error
	// Roles lists the stored roles, to check EnsureStaticData.
	Roles func(ctx context.Context) ([]directory.Role, error)
	// Replica opens a second handle on the same database, as a second
	// replica of ward (or the CLI beside a server) has: transactions of one
	// handle may be serialised in-process (group commit), so only two
	// handles show what the database itself guarantees.
	Replica func(t *testing.T) (directory.Store, store.Transactor)
}

// Run runs every conformance case, each on a backend from open.
func Run(t *testing.T, open func(t *testing.T) Backend) {
	cases := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"UserRoundTrip", testUserRoundTrip},
		{"UserNotFound", testUserNotFound},
		{"BadTextIsInvalid", testBadText},
		{"EmailUniqueAmongLiveUsers", testEmailUnique},
		{"UpdateUserVersion", testUpdateUserVersion},
		{"SearchUsers", testSearchUsers},
		{"Roles", testRoles},
		{"EnsureStaticDataIdempotent", testEnsureStaticData},
		{"OrganizationRoundTrip", testOrganizationRoundTrip},
		{"OrganizationIdentifierUnique", testOrganizationIdentifierUnique},
		{"OrganizationTreeVersion", testOrgTreeVersion},
		{"DeleteOrganization", testDeleteOrganization},
		{"ListOrganizations", testListOrganizations},
		{"UserOrganizations", testUserOrganizations},
		{"AddUserOrganizations", testAddUserOrganizations},
		{"LockUser", testLockUser},
		{"SetKeepsRows", testSetKeepsRows},
		{"UserIdentifiers", testUserIdentifiers},
		{"Relationships", testRelationships},
		{"Groups", testGroups},
		{"Profiles", testProfiles},
		{"Consents", testConsents},
		{"PatientsConsentedTo", testPatientsConsentedTo},
		{"ToUs", testToUs},
		{"SharedIntervention", testSharedIntervention},
		{"InterventionRoundTrip", testInterventionRoundTrip},
		{"InterventionList", testInterventionList},
		{"InterventionClient", testInterventionClient},
		{"UserIntervention", testUserIntervention},
		{"InterventionFacts", testInterventionFacts},
		{"MoveUserData", testMoveUserData},
		{"PurgeUser", testPurgeUser},
		{"Transactions", testTransactions},
		{"AuditChain", testAuditChain},
		{"AuditList", testAuditList},
		{"AuditConcurrentAppends", testAuditConcurrent},
		{"AuditBatch", testAuditBatch},
		{"AuditTyped", testAuditTyped},
		{"Sessions", testSessions},
		{"Lockout", testLockout},
		{"ThrottleBucket", testThrottleBucket},
		{"CreateTokens", testCreateTokens},
		{"ClientRoundTrip", testClientRoundTrip},
		{"ClientListFilters", testClientListFilters},
		{"ClientUpdate", testClientUpdate},
		{"ClientList", testClientList},
		{"ClientIDTokenAlg", testClientIDTokenAlg},
		{"BuiltinServiceClient", testBuiltinServiceClient},
		{"IDPSystemClients", testIDPSystemClients},
		{"LastLogin", testLastLogin},
		{"IDCard", testIDCard},
		{"ReadIDPToken", testReadIDPToken},
		{"ReadIDPTokenCardChanges", testReadIDPTokenCardChanges},
		{"SigningKeyRoundTrip", testSigningKeyRoundTrip},
		{"SigningKeyOneCurrentPerAlg", testSigningKeyOneCurrentPerAlg},
		{"SigningKeyListAndDelete", testSigningKeyListAndDelete},
		{"SigningKeyRollback", testSigningKeyRollback},
		{"SigningKeyConcurrentCreate", testSigningKeyConcurrentCreate},
		{"TokenRoundTrip", testTokenRoundTrip},
		{"TokenDeactivateAndDelete", testTokenDeactivateAndDelete},
		{"TokenDeactivateRace", testTokenDeactivateRace},
		{"TokenDeactivateRequest", testTokenDeactivateRequest},
		{"TokenDeactivateClientUser", testTokenDeactivateClientUser},
		{"TokenDeactivateByID", testTokenDeactivateByID},
		{"TokenRevokeHolders", testTokenRevokeHolders},
		{"TokenList", testTokenList},
		{"TokenClientUsers", testTokenClientUsers},
		{"TokenDeleteExpired", testTokenDeleteExpired},
		{"ServiceTokensExpiring", testServiceTokensExpiring},
		{"MarkServiceTokenAlerted", testMarkServiceTokenAlerted},
		{"MarkServiceTokenAlertedRace", testMarkServiceTokenAlertedRace},
		{"JTI", testJTI},
		{"JTIConcurrent", testJTIConcurrent},
		{"TokenConsents", testTokenConsents},
		{"TokensPurgedUser", testTokensPurgedUser},
	}
	cases = append(cases, clinicalCases...)
	cases = append(cases, exportCases...)
	cases = append(cases, accessRuleCases...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

// base is the fixtures' reference time; its sub-microsecond part checks that
// backends store microseconds and nothing finer.
var base = time.Date(2024, 3, 1, 10, 30, 15, 123456789, time.UTC)

// micro is t as a backend returns it: UTC, microsecond precision.
func micro(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()).UTC() }

func microPtr(t time.Time) *time.Time { m := micro(t); return &m }

// wantKind fails unless err carries kind k.
func wantKind(t *testing.T, err error, k apperr.Kind, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got nil error, want %v", what, k)
	}
	if got := apperr.KindOf(err); got != k {
		t.Fatalf("%s: got %v (%v), want %v", what, got, err, k)
	}
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func mustEqual(t *testing.T, got, want any, what string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

// fullUser returns a user with every field set (DeletedAt aside, which
// decides liveness) and n mixed into every string.
func fullUser(n int, gp int64) *directory.User {
	s := func(f string) string { return fmt.Sprintf(f, n) }
	return &directory.User{
		Email:        s("Person.%d@Example.org"),
		PasswordHash: s("$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaC0%d"),
		GivenName:    s("Given%d"),
		FamilyName:   s("Family%d"),
		BirthDate:    "1970-01-31",
		Gender:       "female",
		Phone:        s("+1-555-010%d"),
		AltPhone:     s("+1-555-020%d"),
		Locale:       "en-AU",
		Timezone:     "Australia/Sydney",
		Deceased:     true,
		DeceasedAt:   microPtr(base.Add(48 * time.Hour)),
		ImageURL:     s("https://img.example.org/%d.png"),
		Races:        []directory.Coding{{System: "urn:oid:2.16.840.1.113883.6.238", Code: "2106-3", Display: "White"}},
		Ethnicities:  []directory.Coding{{System: "urn:oid:2.16.840.1.113883.6.238", Code: "2186-5", Display: "Not Hispanic"}},
		Indigenous: []directory.Coding{
			{System: "http://us.truenth.org/fhir/indigenous", Code: "1", Display: "Aboriginal"},
			{System: "http://us.truenth.org/fhir/indigenous", Code: "2", Display: "Torres Strait"},
		},
		Registered:            micro(base),
		ConfirmedAt:           microPtr(base.Add(time.Hour)),
		GeneralPractitionerID: gp,
	}
}

// newUser creates a live user with email (may be "") and roles.
func newUser(t *testing.T, b Backend, email string, roles ...string) *directory.User {
	t.Helper()
	ctx := t.Context()
	u := &directory.User{Email: email, GivenName: "G " + email, FamilyName: "F", Registered: micro(base)}
	must(t, b.Directory.CreateUser(ctx, u), "create user "+email)
	if len(roles) > 0 {
		must(t, b.Directory.SetUserRoles(ctx, u.ID, roles), "set roles")
	}
	return u
}

func newOrg(t *testing.T, b Backend, name string, parent int64) *directory.Organization {
	t.Helper()
	o := &directory.Organization{Name: name, PartOfID: parent}
	must(t, b.Directory.CreateOrganization(t.Context(), o), "create organization "+name)
	return o
}
