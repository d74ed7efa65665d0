package mis

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"unicode"
	"unicode/utf8"

	"ward/internal/apperr"
)

// Operation names: the operation label of logs and metrics.
const (
	OpFindProfile            = "find_profile"
	OpUpdateProfile          = "update_profile"
	OpCreateProfile          = "create_profile"
	OpListProfiles           = "list_profiles"
	OpProfileRegistrations   = "get_profile_registrations"
	OpProfileReviews         = "get_profile_reviews"
	OpCreateRegistration     = "create_registration"
	OpDeactivateRegistration = "deactivate_registration"
	OpCreateUser             = "create_user"
	OpGetGroup               = "get_group"
	OpListGroups             = "list_groups"
	OpSSO                    = "sso"
)

// maxPages bounds a list: a MIS whose cursors never end is an error, not
// an endless loop.
const maxPages = 100_000

// UpsertError is CreateOrUpdateProfile's failure (the seed returned nil):
// Update is why the profile could not be found and updated, Create why it
// could not be created. Create is nil when creation was not attempted:
// the profile exists (its update failed), or the MIS could not be asked
// whether it exists. Its apperr kind is the creation's, else the update's.
type UpsertError struct {
	Update, Create error
}

func (e *UpsertError) Error() string {
	create := "not attempted"
	if e.Create != nil {
		create = e.Create.Error()
	}
	return fmt.Sprintf("create or update profile: update: %v; create: %s", e.Update, create)
}

// Unwrap lists the creation's reason first, so that apperr.KindOf (and
// errors.As) see it before the update's.
func (e *UpsertError) Unwrap() []error {
	var out []error
	for _, err := range []error{e.Create, e.Update} {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// required names the empty ones of fields (name, value pairs) in an
// Invalid error, before any call is made; it checks them as text too.
func required(what string, fields ...string) error {
	var missing []string
	for i := 0; i+1 < len(fields); i += 2 {
		if strings.TrimSpace(fields[i+1]) == "" {
			missing = append(missing, fields[i])
		}
	}
	if len(missing) > 0 {
		return apperr.New(apperr.Invalid, "%s: %s required", what, strings.Join(missing, ", "))
	}
	return text(what, fields...)
}

// text refuses values (name, value pairs) that are not valid UTF-8 or
// hold control characters: nothing the MIS should be sent, and a 400 here
// rather than whatever the MIS makes of them.
func text(what string, fields ...string) error {
	for i := 0; i+1 < len(fields); i += 2 {
		v := fields[i+1]
		if !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
			return apperr.New(apperr.Invalid, "%s: %s is not valid text", what, fields[i])
		}
	}
	return nil
}

// profileText checks every field of a profile input.
func profileText(what string, in ProfileInput) error {
	return text(what, "givenName", in.GivenName, "middleName", in.MiddleName, "familyName", in.FamilyName,
		"dob", in.DOB, "sex", in.Sex)
}

// CreateOrUpdateProfile finds the profile holding identifier and updates
// it with in; when there is none, it creates one (givenName and familyName
// then required). When that fails, the error is an *UpsertError carrying
// every reason.
func (c *Client) CreateOrUpdateProfile(ctx context.Context, identifier string, in ProfileInput) (Profile, error) {
	if err := required("create or update profile", "identifier", identifier); err != nil {
		return Profile{}, err
	}
	if err := profileText("create or update profile", in); err != nil {
		return Profile{}, err
	}
	// updateErr is why the profile was not updated: not found (by the
	// lookup, or gone by the update), the only reasons creation is tried.
	found, updateErr := run(ctx, c, OpFindProfile, c.adapter.FindProfile(identifier))
	if updateErr == nil {
		var p Profile
		if p, updateErr = run(ctx, c, OpUpdateProfile, c.adapter.UpdateProfile(found.ID, in)); updateErr == nil {
			return p, nil
		}
	}
	if !apperr.Is(updateErr, apperr.NotFound) {
		// The profile exists (creating would duplicate it), or the MIS
		// could not say whether it does.
		return Profile{}, &UpsertError{Update: updateErr}
	}
	if err := required("create profile", "givenName", in.GivenName, "familyName", in.FamilyName); err != nil {
		return Profile{}, &UpsertError{Update: updateErr, Create: err}
	}
	p, err := run(ctx, c, OpCreateProfile, c.adapter.CreateProfile(identifier, in))
	if err != nil {
		return Profile{}, &UpsertError{Update: updateErr, Create: err}
	}
	return p, nil
}

// GetProfile returns the profile holding the organization's identifier.
func (c *Client) GetProfile(ctx context.Context, identifier string) (Profile, error) {
	if err := required("get profile", "identifier", identifier); err != nil {
		return Profile{}, err
	}
	return run(ctx, c, OpFindProfile, c.adapter.FindProfile(identifier))
}

// ListProfiles yields every profile, page after page to the MIS's last,
// holding one page at a time. It stops at the first error, which it
// yields; breaking out of the loop stops the listing.
func (c *Client) ListProfiles(ctx context.Context) iter.Seq2[Profile, error] {
	return list(ctx, c, OpListProfiles, c.adapter.ListProfiles)
}

// ListGroups yields every group, as ListProfiles does.
func (c *Client) ListGroups(ctx context.Context) iter.Seq2[Group, error] {
	return list(ctx, c, OpListGroups, c.adapter.ListGroups)
}

func list[T any](ctx context.Context, c *Client, op string, page func(cursor string) Call[Page[T]]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		cursor := ""
		for range maxPages {
			p, err := run(ctx, c, op, page(cursor))
			if err != nil {
				yield(zero, err)
				return
			}
			for _, item := range p.Items {
				if !yield(item, nil) {
					return
				}
			}
			if p.Next == "" {
				return
			}
			if p.Next == cursor {
				yield(zero, apperr.New(apperr.Unavailable, "connector %q: %s: the MIS repeated the page %q", c.cfg.Name, op, cursor))
				return
			}
			cursor = p.Next
		}
		yield(zero, apperr.New(apperr.Unavailable, "connector %q: %s: more than %d pages", c.cfg.Name, op, maxPages))
	}
}

// Collect gathers a listing into a slice (for short lists such as groups;
// profiles are better streamed).
func Collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

// GetProfileRegistrations returns a profile's registrations. profileID is
// the MIS's id.
func (c *Client) GetProfileRegistrations(ctx context.Context, profileID string) ([]Registration, error) {
	if err := required("get profile registrations", "profile id", profileID); err != nil {
		return nil, err
	}
	return run(ctx, c, OpProfileRegistrations, c.adapter.ProfileRegistrations(profileID))
}

// GetProfileReviews returns a profile's reviews. profileID is the MIS's id.
func (c *Client) GetProfileReviews(ctx context.Context, profileID string) (Reviews, error) {
	if err := required("get profile reviews", "profile id", profileID); err != nil {
		return Reviews{}, err
	}
	return run(ctx, c, OpProfileReviews, c.adapter.ProfileReviews(profileID))
}

// CreateRegistration registers the profile into the group as typ
// ("patient" when empty, as the seed defaults it). profileID is the MIS's
// id, or a ward person's id with LocalPrefix ("user:42"), converted
// through the IDMap (the seed's "convert Portico contact ID into CampDoc
// profile_id").
func (c *Client) CreateRegistration(ctx context.Context, profileID, groupID, typ string) (Registration, error) {
	if err := required("create registration", "profile id", profileID, "group id", groupID); err != nil {
		return Registration{}, err
	}
	if typ == "" {
		typ = DefaultRegistrationType
	}
	if err := text("create registration", "type", typ); err != nil {
		return Registration{}, err
	}
	pid, err := c.resolve(ctx, profileID)
	if err != nil {
		return Registration{}, err
	}
	return run(ctx, c, OpCreateRegistration, c.adapter.CreateRegistration(pid, groupID, typ))
}

// DeactivateRegistration deactivates one registration of the profile
// (profileID as for CreateRegistration).
func (c *Client) DeactivateRegistration(ctx context.Context, profileID, registrationID string) error {
	if err := required("deactivate registration", "profile id", profileID, "registration id", registrationID); err != nil {
		return err
	}
	pid, err := c.resolve(ctx, profileID)
	if err != nil {
		return err
	}
	_, err = run(ctx, c, OpDeactivateRegistration, c.adapter.DeactivateRegistration(pid, registrationID))
	return err
}

// resolve converts a LocalPrefix id into the MIS's profile id.
func (c *Client) resolve(ctx context.Context, profileID string) (string, error) {
	local, ok := strings.CutPrefix(profileID, LocalPrefix)
	if !ok {
		return profileID, nil
	}
	if c.cfg.IDMap == nil {
		return "", apperr.New(apperr.Invalid, "connector %q: local ids (%s…) are not mapped for this connector", c.cfg.Name, LocalPrefix)
	}
	pid, found, err := c.cfg.IDMap.ProfileID(ctx, local)
	switch {
	case err != nil:
		return "", fmt.Errorf("connector %q: converting %s%s into a profile id: %w", c.cfg.Name, LocalPrefix, local, err)
	case !found || pid == "":
		return "", apperr.New(apperr.NotFound, "connector %q: no MIS profile is recorded for %s%s", c.cfg.Name, LocalPrefix, local)
	}
	return pid, nil
}

// CreateUser creates a MIS user with access to the profile holding the
// organization's identifier. Email, givenName and familyName are required:
// a missing one is named in an Invalid error before any call.
func (c *Client) CreateUser(ctx context.Context, identifier string, in UserInput) (User, error) {
	if err := required("create user", "identifier", identifier, "email", in.Email,
		"givenName", in.GivenName, "familyName", in.FamilyName); err != nil {
		return User{}, err
	}
	if err := text("create user", "phone", in.Phone); err != nil {
		return User{}, err
	}
	return run(ctx, c, OpCreateUser, c.adapter.CreateUser(identifier, in))
}

// GetGroup returns one group.
func (c *Client) GetGroup(ctx context.Context, groupID string) (Group, error) {
	if err := required("get group", "group id", groupID); err != nil {
		return Group{}, err
	}
	return run(ctx, c, OpGetGroup, c.adapter.Group(groupID))
}

// SSO returns a single sign-on link for the MIS user with that email.
func (c *Client) SSO(ctx context.Context, email string) (SSOLink, error) {
	if err := required("sso", "email", email); err != nil {
		return SSOLink{}, err
	}
	if !strings.Contains(email, "@") {
		return SSOLink{}, apperr.New(apperr.Invalid, "sso: email is not an email address")
	}
	return run(ctx, c, OpSSO, c.adapter.SSO(email))
}
