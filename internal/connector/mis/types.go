package mis

import (
	"context"
	"time"
)

// Tokens hands out the connector's current access token. It is
// implemented by internal/connector's Service, which stores the tokens
// encrypted and refreshes them; the client never sees a refresh token.
//
// Contract:
//   - Token returns the current access token of connector name, or an
//     error at once when the connector cannot give one (unprimed,
//     disconnected): the client returns that error without retrying.
//   - Rejected is told that the MIS refused token with a 401. It refreshes
//     (unless another caller already replaced that token, in which case it
//     returns the newer one) and returns the access token to retry with,
//     or the reason there is none. The client calls it at most once per
//     call.
type Tokens interface {
	Token(ctx context.Context, name string) (string, error)
	Rejected(ctx context.Context, name, token string) (string, error)
}

// IDMap converts a ward-local person id (the seed's "Portico contact ID")
// into the MIS's profile id. ward keeps that mapping as a directory
// identifier of the person: system ProfileSystem(connector) (or a
// configured one), value the MIS profile id, so the conversion is one
// lookup (see DirectoryIDMap). ok is false, with a nil error, when the
// person has no MIS profile recorded.
type IDMap interface {
	ProfileID(ctx context.Context, localID string) (profileID string, ok bool, err error)
}

// LocalPrefix marks a profile id argument as a ward-local person id to be
// converted through the IDMap ("user:42" is ward user 42); any other value
// is taken as the MIS's own profile id. The prefix keeps the two id spaces
// (both numeric) from being confused.
const LocalPrefix = "user:"

// ProfileSystem is the default identifier system under which a person's
// MIS profile id is recorded for connector name. It equals
// connector.DefaultProfileSystem (a test keeps them in step; this package
// does not import connector), which a connector's own profile_system
// setting replaces.
func ProfileSystem(name string) string { return "urn:ward:connector:" + name + ":profile" }

// DefaultRegistrationType is the seed's default registration type.
const DefaultRegistrationType = "patient"

// Profile is a person as the MIS holds them.
type Profile struct {
	// ID is the MIS's primary key of the profile.
	ID string `json:"id"`
	// Identifier is the organization's own key for the profile (ward's
	// value), by which the seed's functions find it.
	Identifier   string `json:"identifier,omitempty"`
	GivenName    string `json:"given_name,omitempty"`
	MiddleName   string `json:"middle_name,omitempty"`
	FamilyName   string `json:"family_name,omitempty"`
	DOB          string `json:"dob,omitempty"` // ISO 8601 date
	Sex          string `json:"sex,omitempty"`
	Phase        string `json:"phase,omitempty"`
	Completeness int    `json:"completeness"`
}

// ProfileInput is what CreateOrUpdateProfile sends: empty fields are left
// out, so an update changes only the fields given. A creation needs
// GivenName and FamilyName.
type ProfileInput struct {
	GivenName  string `json:"given_name,omitempty"`
	MiddleName string `json:"middle_name,omitempty"`
	FamilyName string `json:"family_name,omitempty"`
	DOB        string `json:"dob,omitempty"`
	Sex        string `json:"sex,omitempty"`
}

// UserInput is a MIS user (a login) to create; Email, GivenName and
// FamilyName are required (the seed's User shape).
type UserInput struct {
	Email      string `json:"email"`
	GivenName  string `json:"given_name"`
	FamilyName string `json:"family_name"`
	Phone      string `json:"phone,omitempty"`
}

// User is a MIS user.
type User struct {
	Email      string `json:"email"`
	GivenName  string `json:"given_name,omitempty"`
	FamilyName string `json:"family_name,omitempty"`
}

// Registration is a profile's registration into a group.
type Registration struct {
	ID          string     `json:"id"`
	ProfileID   string     `json:"profile_id"`
	GroupID     string     `json:"group_id"`
	Type        string     `json:"type"`
	Waitlisted  bool       `json:"waitlisted"`
	GroupName   string     `json:"group_name,omitempty"`
	Deactivated *time.Time `json:"deactivated,omitempty"`
}

// Group is a division, season or session of the organization.
type Group struct {
	ID         string   `json:"id"`
	Identifier string   `json:"identifier,omitempty"`
	Name       string   `json:"name"`
	ParentID   string   `json:"parent_id,omitempty"`
	Parents    []string `json:"parents,omitempty"`
	Start      string   `json:"start,omitempty"`
	Finish     string   `json:"finish,omitempty"`
	Phase      string   `json:"phase,omitempty"`
}

// Review is one health-form review of a profile.
type Review struct {
	Status   string    `json:"status"`
	At       time.Time `json:"at"`
	Sticky   bool      `json:"sticky"`
	Provider string    `json:"provider,omitempty"`
}

// Reviews are a profile's reviews, by review name.
type Reviews struct {
	Profile Profile           `json:"profile"`
	Reviews map[string]Review `json:"reviews"`
}

// SSOLink is a single sign-on link for a MIS user.
type SSOLink struct {
	URL     string    `json:"url"`
	Expires time.Time `json:"expires,omitzero"`
}

// Page is one page of a list; Next is the cursor of the next page, ""
// on the last.
type Page[T any] struct {
	Items []T
	Next  string
}
