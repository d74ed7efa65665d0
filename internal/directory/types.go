package directory

import (
	"time"

	"ward/internal/timerange"
)

// Coding is a FHIR Coding (system + code + display).
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// Identifier is a (system, value) pair naming a user or organization in
// another system. Use is the FHIR identifier use (usual, official, secondary...).
type Identifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
	Use    string `json:"use,omitempty"`
}

// ContactPoint is a FHIR ContactPoint (phone, email, fax, url...).
type ContactPoint struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
	Use    string `json:"use,omitempty"`
}

// Address is a FHIR Address.
type Address struct {
	Use        string   `json:"use,omitempty"`
	Type       string   `json:"type,omitempty"`
	Text       string   `json:"text,omitempty"`
	Line       []string `json:"line,omitempty"`
	City       string   `json:"city,omitempty"`
	District   string   `json:"district,omitempty"`
	State      string   `json:"state,omitempty"`
	PostalCode string   `json:"postalCode,omitempty"`
	Country    string   `json:"country,omitempty"`
}

// User is a person known to ward: a patient, a staff member, a developer, a
// service account. Email is unique among live users, compared case-insensitively.
type User struct {
	ID                    int64
	Email                 string // may be empty for patients known only by identifiers
	PasswordHash          string // argon2id PHC string; empty when no password is set
	GivenName             string
	FamilyName            string
	BirthDate             string // YYYY-MM-DD, or "" when unknown
	Gender                string // FHIR administrative gender: male, female, other, unknown
	Phone                 string
	AltPhone              string
	Locale                string // BCP-47, e.g. en-US
	Timezone              string // IANA name
	Deceased              bool
	DeceasedAt            *time.Time
	ImageURL              string
	Races                 []Coding
	Ethnicities           []Coding
	Indigenous            []Coding
	Registered            time.Time
	ConfirmedAt           *time.Time
	DeletedAt             *time.Time // soft delete; deleted users are hidden and forbidden
	UpdatedAt             time.Time
	Version               int64 // incremented on every update; FHIR meta.versionId
	GeneralPractitionerID int64 // a practitioner user, 0 when none
}

// Active reports whether the user has not been soft-deleted.
func (u *User) Active() bool { return u.DeletedAt == nil }

// Deleted reports whether the user has been soft-deleted (the opposite of
// Active, for callers that ask it that way round).
func (u *User) Deleted() bool { return u.DeletedAt != nil }

// Role is one of the static roles (see StaticRoles).
type Role struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Role names, the static set from the reference system.
const (
	RoleAccessOnVerify                  = "access_on_verify"
	RoleAdmin                           = "admin"
	RoleAnalyst                         = "analyst"
	RoleAnon                            = "anon"
	RoleApplicationDeveloper            = "application_developer"
	RoleClinician                       = "clinician"
	RoleContentManager                  = "content_manager"
	RoleInterventionStaff               = "intervention_staff"
	RolePartner                         = "partner"
	RolePatient                         = "patient"
	RolePrimaryInvestigator             = "primary_investigator"
	RolePromoteWithoutIdentityChallenge = "promote_without_identity_challenge"
	RoleResearcher                      = "researcher"
	RoleService                         = "service"
	RoleStaff                           = "staff"
	RoleStaffAdmin                      = "staff_admin"
	RoleTest                            = "test"
	RoleWriteOnly                       = "write_only"
)

// StaticRoles is the complete, fixed role set seeded by migrate.
var StaticRoles = []Role{
	{RoleAccessOnVerify, "Provides access prior to registration, on verification"},
	{RoleAdmin, "Administrator privileges, i.e. carte blanche"},
	{RoleAnalyst, "Grants view permissions for reporting data (does not include PHI)"},
	{RoleAnon, "Anonymous role - exclusive to accounts generated prior to user authentication"},
	{RoleApplicationDeveloper, "Gives users permission to add/view/edit client applications"},
	{RoleClinician, "Clinical staff, with access to the patients of their organizations"},
	{RoleContentManager, "Gives user permission to add/view/edit associated content"},
	{RoleInterventionStaff, "Grants user permission to view patient information (name, DOB, etc) from relevant intervention patients"},
	{RolePartner, "An intimate partner, use the partner relationship to define whom the patient's partner is"},
	{RolePatient, "Default role for all patients, may only view their own patient data"},
	{RolePrimaryInvestigator, "Primary investigator of a research study, with the access of staff"},
	{RolePromoteWithoutIdentityChallenge, "Users with 'access_on_verify' will be promoted without an identity challenge"},
	{RoleResearcher, "Gives user access to the Research page"},
	{RoleService, "Reserved for automated service accounts needing API access"},
	{RoleStaff, "Health care provider or staff at a TrueNTH-collaborating clinic"},
	{RoleStaffAdmin, "Staff administrator, with access to both patients and staff from their organization tree"},
	{RoleTest, "Designates a testing user"},
	{RoleWriteOnly, "Limited access account, write only, cannot view data from previous sessions"},
}

// IsRole reports whether name is a static role.
func IsRole(name string) bool {
	for _, r := range StaticRoles {
		if r.Name == name {
			return true
		}
	}
	return false
}

// Relationship names (static set).
const (
	RelPartner = "partner"
	RelSponsor = "sponsor"
)

// StaticRelationships is the fixed relationship set seeded by migrate.
var StaticRelationships = []Role{
	{RelPartner, "An intimate partner relationship"},
	{RelSponsor, "A sponsor relationship, to link a service account with the user who created it"},
}

// UserRelationship says User has relationship Relationship with OtherUser
// (e.g. a service user's sponsor).
type UserRelationship struct {
	UserID       int64  `json:"user"`
	Relationship string `json:"relationship"`
	OtherUserID  int64  `json:"other_user"`
}

// CodingOptions are the race/ethnicity/indigenous coding choices an
// organization offers; see Service.EffectiveCodingOptions for inheritance.
type CodingOptions struct {
	UseSpecificCodings bool
	RaceCodings        bool
	EthnicityCodings   bool
	IndigenousCodings  bool
}

// ShortcutAliasSystem is the identifier system whose value is an
// organization's short alias (usable in place of its id in URLs).
const ShortcutAliasSystem = "http://us.truenth.org/identity-codes/shortcut-alias"

// Organization is a FHIR Organization: a clinic, a hospital, a ministry,
// arranged in a tree through PartOfID.
type Organization struct {
	ID            int64
	Name          string
	PartOfID      int64 // 0 for a top-level organization
	Identifiers   []Identifier
	Type          []Coding
	Telecom       []ContactPoint
	Addresses     []Address
	Timezone      string
	DefaultLocale string
	Coding        CodingOptions
	UpdatedAt     time.Time
	Version       int64
}

// Group is a named group of users (seed 001 groups; seed 003 "groups").
type Group struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Profile types (seed 003).
const (
	ProfileProvider = "provider"
	ProfileAdmin    = "admin"
	ProfileFacility = "facility"
	ProfilePatient  = "patient"
)

// Profile is a typed profile of a user with hierarchical catchment codes:
// a catchment "3026" covers "302618".
type Profile struct {
	Type      string   `json:"type"`
	ID        string   `json:"id"`
	Catchment []string `json:"catchment"`
}

// Consent statuses.
const (
	ConsentConsented = "consented"
	ConsentSuspended = "suspended"
	ConsentDeleted   = "deleted"
)

// Consent links a user to an organization: the user agreed to share data
// with it. Deleting or withdrawing keeps the row.
type Consent struct {
	ID               int64
	UserID           int64
	OrganizationID   int64
	AgreementURL     string
	Status           string
	StaffEditable    bool
	IncludeInReports bool
	SendReminders    bool
	AcceptanceDate   time.Time
	ExpiresAt        time.Time
	DeletedAt        *time.Time
	DeletedBy        int64
}

// Valid reports whether the consent counts for access at now: consented,
// not expired, not deleted.
func (c *Consent) Valid(now time.Time) bool {
	return c.Status == ConsentConsented && c.DeletedAt == nil && now.Before(c.ExpiresAt)
}

// DefaultConsentLifetime is how long a consent lasts when no expiry is given.
const DefaultConsentLifetime = 5 * 365 * 24 * time.Hour

// ToU is a terms-of-use agreement accepted by a user.
type ToU struct {
	ID             int64     `json:"id"`
	UserID         int64     `json:"user_id"`
	Type           string    `json:"type"`
	URL            string    `json:"agreement_url"`
	AcceptedAt     time.Time `json:"accepted"`
	Active         bool      `json:"active"`
	OrganizationID int64     `json:"organization_id,omitempty"`
}

// UserFilter selects users for Search. Zero fields do not filter; every
// field that is set must hold (AND).
type UserFilter struct {
	Email          string // exact, case-insensitive
	Name           string // substring of given or family name, case-insensitive
	Identifier     *Identifier
	OrganizationID int64
	Role           string
	IDs            []int64 // restrict to these ids (nil = no restriction)
	IncludeDeleted bool

	// Names are FHIR string matches on the given or family name: each
	// clause must hold, and a clause holds when any of its values matches
	// either name.
	Names []NameClause
	// Identifiers are clauses that must each hold; a clause holds when the
	// user has an identifier matching any of its entries. An entry with an
	// empty System matches that value in any system; one with an empty
	// Value matches any value in the system.
	Identifiers [][]Identifier
	// Roles, when non-nil, keeps users holding at least one of them (an
	// empty non-nil slice matches nobody).
	Roles []string
	// Genders, when non-nil, keeps users whose gender is one of them.
	Genders []string
	// Organizations are clauses that must each hold; a clause holds when
	// the user belongs to at least one of its organizations (FHIR Patient's
	// organization). An empty clause matches nobody.
	Organizations [][]int64
	// BirthDate are FHIR date bounds on the birth date (a whole UTC day),
	// all of which must hold; a user with no birth date matches none.
	BirthDate []timerange.Bound
	// Updated are FHIR date bounds on UpdatedAt (_lastUpdated), all of
	// which must hold.
	Updated []timerange.Bound
	// Now is the clock the "ap" prefix reads; zero means the store's now.
	Now time.Time
}

// NameMatch is how a NameClause compares (FHIR string search modifiers).
type NameMatch int

// The FHIR string matches.
const (
	// NameStartsWith is the default: the name starts with the value,
	// case-insensitively.
	NameStartsWith NameMatch = iota
	// NameExact is :exact: the whole name, case-sensitively.
	NameExact
	// NameContains is :contains: anywhere in the name, case-insensitively.
	NameContains
)

// NameClause is one FHIR name parameter: it holds when any of Values
// matches the given or the family name under Match.
type NameClause struct {
	Match  NameMatch
	Values []string
}
