package mis

import "net/url"

// Call is one HTTP exchange an Adapter describes and the Client performs.
type Call[T any] struct {
	// Method is the HTTP method.
	Method string
	// Route is the path template ("/profiles/{id}"): what logs and
	// errors name, since the real path may carry PHI (an identifier, an
	// email address).
	Route string
	// Path is the real path, escaped, relative to the connector's base
	// URL.
	Path string
	// Query is added to the URL; it may carry PHI too, and is never logged.
	Query url.Values
	// Body, when not nil, is sent as JSON.
	Body any
	// Decode turns a 2xx response body (possibly empty) into the result.
	Decode func(body []byte) (T, error)
}

// Adapter is the wire format of one kind of MIS: one method per exchange
// the Client's methods need. Implementations are pure (no I/O, no state);
// ids and identifiers arrive unescaped and the adapter escapes them. List
// methods take a cursor ("" for the first page) and return the next one in
// Page.Next ("" after the last page): pagination is the adapter's to model.
type Adapter interface {
	// FindProfile fetches the profile with the organization's identifier;
	// a missing one must come back as a 404.
	FindProfile(identifier string) Call[Profile]
	// UpdateProfile changes the fields set in in of the profile with the
	// MIS id profileID.
	UpdateProfile(profileID string, in ProfileInput) Call[Profile]
	// CreateProfile creates a profile carrying identifier.
	CreateProfile(identifier string, in ProfileInput) Call[Profile]
	// ListProfiles is one page of every profile.
	ListProfiles(cursor string) Call[Page[Profile]]
	// ProfileRegistrations lists the registrations of a profile (MIS id).
	ProfileRegistrations(profileID string) Call[[]Registration]
	// ProfileReviews fetches the reviews of a profile (MIS id).
	ProfileReviews(profileID string) Call[Reviews]
	// CreateRegistration registers a profile (MIS id) into a group.
	CreateRegistration(profileID, groupID, typ string) Call[Registration]
	// DeactivateRegistration deactivates one registration of a profile.
	DeactivateRegistration(profileID, registrationID string) Call[struct{}]
	// CreateUser creates a user with access to the profile holding the
	// organization's identifier.
	CreateUser(profileIdentifier string, in UserInput) Call[User]
	// Group fetches one group.
	Group(groupID string) Call[Group]
	// ListGroups is one page of every group.
	ListGroups(cursor string) Call[Page[Group]]
	// SSO creates a single sign-on link for the user with that email.
	SSO(email string) Call[SSOLink]
}
