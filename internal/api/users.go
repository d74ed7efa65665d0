package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/store"
)

// userJSON is a user as the management API shows it. Demographics in FHIR
// form are at /api/demographics/{id}.
type userJSON struct {
	ID         int64      `json:"id"`
	Email      string     `json:"email,omitempty"`
	FirstName  string     `json:"first_name,omitempty"`
	LastName   string     `json:"last_name,omitempty"`
	BirthDate  string     `json:"birthdate,omitempty" format:"date"`
	Gender     string     `json:"gender,omitempty"`
	Phone      string     `json:"phone,omitempty"`
	Locale     string     `json:"locale,omitempty"`
	Timezone   string     `json:"timezone,omitempty"`
	Registered time.Time  `json:"registered"`
	Updated    time.Time  `json:"updated"`
	Deleted    *time.Time `json:"deleted,omitempty" doc:"Set when the account is soft-deleted."`
	Version    int64      `json:"version"`
}

func toUserJSON(u *directory.User) userJSON {
	return userJSON{
		ID: u.ID, Email: u.Email, FirstName: u.GivenName, LastName: u.FamilyName,
		BirthDate: u.BirthDate, Gender: u.Gender, Phone: u.Phone, Locale: u.Locale,
		Timezone: u.Timezone, Registered: u.Registered, Updated: u.UpdatedAt,
		Deleted: u.DeletedAt, Version: u.Version,
	}
}

type userOutput struct {
	Body userJSON
}

type createdUserOutput struct {
	Location string `header:"Location"`
	Body     userJSON
}

// roleRef names a role, as the reference's bodies do: {"name": "staff"}.
type roleRef struct {
	Name string `json:"name" doc:"A role name from GET /api/roles." example:"patient"`
}

// orgRef names an organization by id, as the reference's bodies do.
type orgRef struct {
	OrganizationID int64 `json:"organization_id" minimum:"1" example:"1001"`
}

type accountBody struct {
	Email         string    `json:"email,omitempty" maxLength:"254" format:"email" example:"jo@example.org"`
	Password      string    `json:"password,omitempty" maxLength:"1024" writeOnly:"true" doc:"Optional; without one the user cannot sign in with a password."`
	FirstName     string    `json:"first_name,omitempty" maxLength:"256"`
	LastName      string    `json:"last_name,omitempty" maxLength:"256"`
	BirthDate     string    `json:"birthdate,omitempty" format:"date" example:"1970-01-31"`
	Gender        string    `json:"gender,omitempty" enum:"male,female,other,unknown"`
	Phone         string    `json:"phone,omitempty" maxLength:"64"`
	Locale        string    `json:"locale,omitempty" maxLength:"35"`
	Timezone      string    `json:"timezone,omitempty" maxLength:"64"`
	Roles         []roleRef `json:"roles,omitempty" maxItems:"32"`
	Organizations []orgRef  `json:"organizations,omitempty" maxItems:"256"`
}

type accountInput struct {
	Body accountBody
}

type searchUsersInput struct {
	Email        string `query:"email" doc:"Exact email, case-insensitive."`
	Name         string `query:"name" doc:"Part of the first or last name, case-insensitive."`
	Identifier   string `query:"identifier" doc:"system|value" example:"http://example.org/mrn|12345"`
	Organization string `query:"organization" doc:"Organization id or shortcut alias."`
	Role         string `query:"role"`
	Cursor       string `query:"cursor" doc:"The next value of the previous page."`
	Limit        int    `query:"limit" minimum:"0" maximum:"1000" doc:"Page size (default 50)."`
}

type userPage struct {
	Users []userJSON `json:"users"`
	Next  string     `json:"next,omitempty" doc:"Cursor of the next page; absent on the last page."`
}

type mergeInput struct {
	ID   string `path:"id" doc:"User id (a positive integer)." example:"42"`
	Body struct {
		From int64 `json:"from" minimum:"1" doc:"The user merged into this one; soft-deleted afterwards."`
	}
}

type uniqueEmailInput struct {
	Email  string `query:"email" required:"true" maxLength:"254"`
	UserID int64  `query:"user_id" doc:"A user whose own address does not count (when editing an account)."`
}

func (s *server) registerUsers(api huma.API) {
	register(api, s, huma.Operation{
		OperationID: "get-me", Method: http.MethodGet, Path: "/api/me", Tags: []string{"users"},
		Summary: "The signed-in user",
	}, func(ctx context.Context, _ *struct{}) (*userOutput, error) {
		u, err := s.dir.Me(ctx)
		if err != nil {
			return nil, err
		}
		return &userOutput{Body: toUserJSON(u)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "create-account", Method: http.MethodPost, Path: "/api/account", Tags: []string{"users"},
		Summary: "Create a user", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict},
		Description: "Creates a user with optional password, roles and organizations. A live user with the same email is a 409.",
	}, func(ctx context.Context, in *accountInput) (*createdUserOutput, error) {
		b := in.Body
		roles, err := roleNames(b.Roles)
		if err != nil {
			return nil, err
		}
		orgs := make([]int64, len(b.Organizations))
		for i, o := range b.Organizations {
			orgs[i] = o.OrganizationID
		}
		u, err := s.dir.CreateUser(ctx, directory.NewUser{
			User: directory.User{
				Email: b.Email, GivenName: b.FirstName, FamilyName: b.LastName, BirthDate: b.BirthDate,
				Gender: b.Gender, Phone: b.Phone, Locale: b.Locale, Timezone: b.Timezone,
			},
			Password: b.Password, Roles: roles, OrgIDs: orgs,
		})
		if apperr.Is(err, apperr.Conflict) && b.Email != "" {
			// A new user holds nothing else unique, so the clash is the
			// email; say so, the store's message cannot know.
			return nil, apperr.Wrap(apperr.Conflict, err, "a user with email %q already exists", b.Email)
		}
		if err != nil {
			return nil, err
		}
		return &createdUserOutput{Location: s.base + "/api/user/" + strconv.FormatInt(u.ID, 10), Body: toUserJSON(u)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "search-users", Method: http.MethodGet, Path: "/api/user", Tags: []string{"users"},
		Summary:     "Search users",
		Description: "Returns only users the caller may view, in id order, a page at a time.",
	}, func(ctx context.Context, in *searchUsersInput) (*struct{ Body userPage }, error) {
		f := directory.UserFilter{Email: in.Email, Name: in.Name, Role: in.Role}
		if in.Role != "" && !directory.IsRole(in.Role) {
			return nil, apperr.New(apperr.Invalid, "unknown role %q", in.Role)
		}
		if in.Identifier != "" {
			id, err := directory.ParseIdentifier(in.Identifier)
			if err != nil {
				return nil, err
			}
			f.Identifier = &id
		}
		if in.Organization != "" {
			o, err := s.dir.ResolveOrganization(ctx, in.Organization)
			if err != nil {
				return nil, err
			}
			f.OrganizationID = o.ID
		}
		users, next, err := s.dir.SearchUsers(ctx, f, store.Page{Limit: in.Limit, After: in.Cursor})
		if err != nil {
			return nil, err
		}
		out := &struct{ Body userPage }{Body: userPage{Users: make([]userJSON, len(users)), Next: next}}
		for i, u := range users {
			out.Body.Users[i] = toUserJSON(u)
		}
		return out, nil
	})

	register(api, s, huma.Operation{
		OperationID: "get-user", Method: http.MethodGet, Path: "/api/user/{id}", Tags: []string{"users"},
		Summary: "Get a user", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *userPath) (*userOutput, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		u, err := s.dir.GetUser(ctx, id)
		if err != nil {
			return nil, err
		}
		return &userOutput{Body: toUserJSON(u)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "delete-user", Method: http.MethodDelete, Path: "/api/user/{id}", Tags: []string{"users"},
		Summary: "Soft-delete a user", DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound},
		Description: "The account is kept (and can be reactivated); it can no longer sign in and is hidden from searches.",
	}, func(ctx context.Context, in *userPath) (*emptyOutput, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		return &emptyOutput{}, s.dir.DeleteUser(ctx, id)
	})

	register(api, s, huma.Operation{
		OperationID: "reactivate-user", Method: http.MethodPost, Path: "/api/user/{id}/reactivate", Tags: []string{"users"},
		Summary: "Reactivate a soft-deleted user", Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *userPath) (*userOutput, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		u, err := s.dir.ReactivateUser(ctx, id)
		if err != nil {
			return nil, err
		}
		return &userOutput{Body: toUserJSON(u)}, nil
	})

	// Permanent removal is its own path rather than a flag on DELETE, so a
	// stray query parameter can never turn a soft delete into a purge, and a
	// proxy can restrict it by path.
	register(api, s, huma.Operation{
		OperationID: "purge-user", Method: http.MethodPost, Path: "/api/user/{id}/purge", Tags: []string{"users"},
		Summary: "Permanently remove a user (admin only)", DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound},
		Description: "Removes the user and everything that belongs to them, except audit events, which keep the id.",
	}, func(ctx context.Context, in *userPath) (*emptyOutput, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		return &emptyOutput{}, s.dir.PurgeUser(ctx, id)
	})

	register(api, s, huma.Operation{
		OperationID: "merge-user", Method: http.MethodPost, Path: "/api/user/{id}/merge", Tags: []string{"users"},
		Summary:     "Merge another user into this one (admin only)",
		Description: "Moves roles, organizations, identifiers, consents and the rest from the user in `from` to this one, then soft-deletes `from`.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *mergeInput) (*userOutput, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		if in.Body.From == id {
			return nil, apperr.New(apperr.Invalid, "cannot merge a user into itself")
		}
		if err := s.dir.MergeUsers(ctx, in.Body.From, id); err != nil {
			return nil, err
		}
		u, err := s.dir.GetUser(ctx, id)
		if err != nil {
			return nil, err
		}
		return &userOutput{Body: toUserJSON(u)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "unique-email", Method: http.MethodGet, Path: "/api/unique_email", Tags: []string{"users"},
		Summary: "Is an email address free?",
		Description: "True when no live user other than user_id has this address (compared case-insensitively). " +
			"Whether an address is taken tells that a person has an account, so only administrators and service " +
			"accounts may ask about any address; staff, staff_admin and clinicians about an unused address or one " +
			"held by someone they may view (and user_id must be such a person). Anyone else is refused (403); " +
			"ward has no self-registration, so anonymous callers are refused too (401).",
	}, func(ctx context.Context, in *uniqueEmailInput) (*struct {
		Body struct {
			Unique bool `json:"unique"`
		}
	}, error) {
		unique, err := s.dir.EmailAvailable(ctx, in.Email, in.UserID)
		if err != nil {
			return nil, err
		}
		out := &struct {
			Body struct {
				Unique bool `json:"unique"`
			}
		}{}
		out.Body.Unique = unique
		return out, nil
	})
}

// roleNames checks that every role exists, naming the first unknown one, so
// the caller learns which name was wrong and nothing is written.
func roleNames(refs []roleRef) ([]string, error) {
	names := make([]string, len(refs))
	for i, r := range refs {
		if !directory.IsRole(r.Name) {
			return nil, apperr.New(apperr.Invalid, "unknown role %q", r.Name)
		}
		names[i] = r.Name
	}
	return names, nil
}

// actingUser returns the signed-in person's id, or Invalid when the caller
// is a client or the system acting for nobody and the route needs a person.
func actingUser(ctx context.Context) (int64, error) {
	a := actor.From(ctx)
	if a.UserID == 0 {
		return 0, apperr.New(apperr.Invalid, "this request needs a user; none is signed in for this client")
	}
	return a.UserID, nil
}
