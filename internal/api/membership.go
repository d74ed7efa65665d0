package api

import (
	"context"
	"net/http"
	"slices"

	"github.com/danielgtaylor/huma/v2"

	"ward/internal/apperr"
	"ward/internal/directory"
)

// roleJSON is a role with its description.
type roleJSON struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

type rolesBody struct {
	Roles []roleJSON `json:"roles"`
}

type rolesInput struct {
	ID   string `path:"id" doc:"User id (a positive integer)." example:"42"`
	Body struct {
		Roles []roleRef `json:"roles" maxItems:"32"`
	}
}

func describeRoles(names []string) rolesBody {
	out := rolesBody{Roles: make([]roleJSON, 0, len(names))}
	for _, n := range names {
		r := roleJSON{Name: n}
		for _, sr := range directory.StaticRoles {
			if sr.Name == n {
				r.Description = sr.Description
				break
			}
		}
		out.Roles = append(out.Roles, r)
	}
	return out
}

// orgJSON is one of a user's organizations.
type orgJSON struct {
	OrganizationID int64  `json:"organization_id"`
	Name           string `json:"name,omitempty"`
}

type userOrgsBody struct {
	Organizations []orgJSON `json:"organizations"`
}

type userOrgsInput struct {
	ID   string `path:"id" doc:"User id (a positive integer)." example:"42"`
	Body struct {
		Organizations []orgRef `json:"organizations" maxItems:"256"`
	}
}

func toUserOrgs(orgs []*directory.Organization) userOrgsBody {
	out := userOrgsBody{Organizations: make([]orgJSON, len(orgs))}
	for i, o := range orgs {
		out.Organizations[i] = orgJSON{OrganizationID: o.ID, Name: o.Name}
	}
	return out
}

type relationshipsBody struct {
	Relationships []directory.UserRelationship `json:"relationships"`
}

type relationshipsInput struct {
	ID   string `path:"id" doc:"User id (a positive integer)." example:"42"`
	Body relationshipsBody
}

type groupsBody struct {
	Groups []directory.Group `json:"groups"`
}

type groupRef struct {
	Name string `json:"name" minLength:"1" maxLength:"128"`
}

type userGroupsInput struct {
	ID   string `path:"id" doc:"User id (a positive integer)." example:"42"`
	Body struct {
		Groups []groupRef `json:"groups" maxItems:"256"`
	}
}

type createGroupInput struct {
	Body struct {
		Name        string `json:"name" minLength:"1" maxLength:"128"`
		Description string `json:"description,omitempty" maxLength:"1024"`
	}
}

type identifiersBody struct {
	Identifier []directory.Identifier `json:"identifier"`
}

type identifierInput struct {
	ID   string `path:"id" doc:"User id (a positive integer)." example:"42"`
	Body directory.Identifier
}

type profilesBody struct {
	Profiles []directory.Profile `json:"profiles"`
}

type profilesInput struct {
	ID   string `path:"id" doc:"User id (a positive integer)." example:"42"`
	Body profilesBody
}

func (s *server) registerMembership(api huma.API) {
	tags := []string{"roles and membership"}

	register(api, s, huma.Operation{
		OperationID: "list-roles", Method: http.MethodGet, Path: "/api/roles", Tags: tags,
		Summary: "Every role ward knows, with its description",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body rolesBody }, error) {
		out := rolesBody{Roles: make([]roleJSON, len(directory.StaticRoles))}
		for i, r := range directory.StaticRoles {
			out.Roles[i] = roleJSON(r)
		}
		return &struct{ Body rolesBody }{out}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "list-relationships", Method: http.MethodGet, Path: "/api/relationships", Tags: tags,
		Summary: "Every relationship type ward knows",
	}, func(ctx context.Context, _ *struct{}) (*struct {
		Body struct {
			Relationships []roleJSON `json:"relationships"`
		}
	}, error) {
		out := &struct {
			Body struct {
				Relationships []roleJSON `json:"relationships"`
			}
		}{}
		for _, r := range directory.StaticRelationships {
			out.Body.Relationships = append(out.Body.Relationships, roleJSON(r))
		}
		return out, nil
	})

	// Roles: GET lists, POST adds (409 if any is already held), DELETE
	// removes (409 if any is not held), PUT replaces.
	register(api, s, huma.Operation{
		OperationID: "get-user-roles", Method: http.MethodGet, Path: "/api/user/{id}/roles", Tags: tags,
		Summary: "A user's roles", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *userPath) (*struct{ Body rolesBody }, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		names, err := s.dir.UserRoles(ctx, id)
		if err != nil {
			return nil, err
		}
		return &struct{ Body rolesBody }{describeRoles(names)}, nil
	})
	roleChange := func(opID, method, summary string, apply func(context.Context, int64, []string) ([]string, error)) {
		register(api, s, huma.Operation{
			OperationID: opID, Method: method, Path: "/api/user/{id}/roles", Tags: tags,
			Summary: summary, Errors: []int{http.StatusNotFound, http.StatusConflict},
		}, func(ctx context.Context, in *rolesInput) (*struct{ Body rolesBody }, error) {
			id, err := parseID("id", in.ID)
			if err != nil {
				return nil, err
			}
			names, err := roleNames(in.Body.Roles)
			if err != nil {
				return nil, err
			}
			held, err := apply(ctx, id, names)
			if err != nil {
				return nil, err
			}
			return &struct{ Body rolesBody }{describeRoles(held)}, nil
		})
	}
	roleChange("add-user-roles", http.MethodPost, "Add roles (409 if any is already held)", s.dir.AddRoles)
	roleChange("delete-user-roles", http.MethodDelete, "Remove roles (409 if any is not held)", s.dir.DeleteRoles)
	roleChange("replace-user-roles", http.MethodPut, "Replace a user's roles", s.dir.ReplaceRoles)

	// Organizations, at the reference's singular path.
	register(api, s, huma.Operation{
		OperationID: "get-user-organizations", Method: http.MethodGet, Path: "/api/user/{id}/organization", Tags: tags,
		Summary: "A user's organizations", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *userPath) (*struct{ Body userOrgsBody }, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		orgs, err := s.dir.UserOrganizations(ctx, id)
		if err != nil {
			return nil, err
		}
		return &struct{ Body userOrgsBody }{toUserOrgs(orgs)}, nil
	})
	register(api, s, huma.Operation{
		OperationID: "add-user-organizations", Method: http.MethodPost, Path: "/api/user/{id}/organization", Tags: tags,
		Summary: "Add organizations to a user (409 if the user already has one of them)",
		Errors:  []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *userOrgsInput) (*struct{ Body userOrgsBody }, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		// The service checks and adds in one transaction: reading the
		// current set here and writing it back whole lost concurrent adds.
		ids := make([]int64, 0, len(in.Body.Organizations))
		for _, o := range in.Body.Organizations {
			if slices.Contains(ids, o.OrganizationID) {
				return nil, apperr.New(apperr.Invalid, "organization %d is listed twice", o.OrganizationID)
			}
			ids = append(ids, o.OrganizationID)
		}
		orgs, err := s.dir.AddUserOrganizations(ctx, id, ids)
		if err != nil {
			return nil, err
		}
		return &struct{ Body userOrgsBody }{toUserOrgs(orgs)}, nil
	})
	register(api, s, huma.Operation{
		OperationID: "replace-user-organizations", Method: http.MethodPut, Path: "/api/user/{id}/organization", Tags: tags,
		Summary: "Replace a user's organizations", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *userOrgsInput) (*struct{ Body userOrgsBody }, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		ids := make([]int64, len(in.Body.Organizations))
		for i, o := range in.Body.Organizations {
			ids[i] = o.OrganizationID
		}
		orgs, err := s.dir.SetUserOrganizations(ctx, id, ids)
		if err != nil {
			return nil, err
		}
		return &struct{ Body userOrgsBody }{toUserOrgs(orgs)}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "get-user-relationships", Method: http.MethodGet, Path: "/api/user/{id}/relationships", Tags: tags,
		Summary: "Relationships where the user is either side", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *userPath) (*struct{ Body relationshipsBody }, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		rels, err := s.dir.Relationships(ctx, id)
		if err != nil {
			return nil, err
		}
		return &struct{ Body relationshipsBody }{relationshipsBody{Relationships: nonNil(rels)}}, nil
	})
	register(api, s, huma.Operation{
		OperationID: "replace-user-relationships", Method: http.MethodPut, Path: "/api/user/{id}/relationships", Tags: tags,
		Summary: "Replace the relationships where the user is the subject", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *relationshipsInput) (*struct{ Body relationshipsBody }, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		rels, err := s.dir.SetRelationships(ctx, id, in.Body.Relationships)
		if err != nil {
			return nil, err
		}
		return &struct{ Body relationshipsBody }{relationshipsBody{Relationships: nonNil(rels)}}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "list-groups", Method: http.MethodGet, Path: "/api/group", Tags: tags,
		Summary: "Every group",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body groupsBody }, error) {
		gs, err := s.dir.Groups(ctx)
		if err != nil {
			return nil, err
		}
		return &struct{ Body groupsBody }{groupsBody{Groups: nonNil(gs)}}, nil
	})
	register(api, s, huma.Operation{
		OperationID: "create-group", Method: http.MethodPost, Path: "/api/group", Tags: tags,
		Summary: "Create a group (admin only)", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict},
	}, func(ctx context.Context, in *createGroupInput) (*struct{ Body directory.Group }, error) {
		g, err := s.dir.CreateGroup(ctx, &directory.Group{Name: in.Body.Name, Description: in.Body.Description})
		if err != nil {
			return nil, err
		}
		return &struct{ Body directory.Group }{*g}, nil
	})
	register(api, s, huma.Operation{
		OperationID: "get-user-groups", Method: http.MethodGet, Path: "/api/user/{id}/groups", Tags: tags,
		Summary: "A user's groups", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *userPath) (*struct{ Body groupsBody }, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		gs, err := s.dir.UserGroups(ctx, id)
		if err != nil {
			return nil, err
		}
		return &struct{ Body groupsBody }{groupsBody{Groups: nonNil(gs)}}, nil
	})
	register(api, s, huma.Operation{
		OperationID: "replace-user-groups", Method: http.MethodPut, Path: "/api/user/{id}/groups", Tags: tags,
		Summary: "Replace a user's groups (by name)", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *userGroupsInput) (*struct{ Body groupsBody }, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		names := make([]string, len(in.Body.Groups))
		for i, g := range in.Body.Groups {
			names[i] = g.Name
		}
		gs, err := s.dir.SetUserGroups(ctx, id, names)
		if err != nil {
			return nil, err
		}
		return &struct{ Body groupsBody }{groupsBody{Groups: nonNil(gs)}}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "get-user-identifiers", Method: http.MethodGet, Path: "/api/user/{id}/identifier", Tags: tags,
		Summary: "A user's identifiers in other systems", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *userPath) (*struct{ Body identifiersBody }, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		ids, err := s.dir.UserIdentifiers(ctx, id)
		if err != nil {
			return nil, err
		}
		return &struct{ Body identifiersBody }{identifiersBody{Identifier: nonNil(ids)}}, nil
	})
	register(api, s, huma.Operation{
		OperationID: "add-user-identifier", Method: http.MethodPost, Path: "/api/user/{id}/identifier", Tags: tags,
		Summary:     "Add one identifier to a user",
		Description: "One identifier per request, so a conflict never leaves half of a list written. 409 when another live user holds a unique identifier.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *identifierInput) (*struct{ Body identifiersBody }, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		if in.Body.System == "" || in.Body.Value == "" {
			return nil, apperr.New(apperr.Invalid, "identifier needs both system and value")
		}
		ids, err := s.dir.AddUserIdentifier(ctx, id, in.Body)
		if err != nil {
			return nil, err
		}
		return &struct{ Body identifiersBody }{identifiersBody{Identifier: nonNil(ids)}}, nil
	})

	register(api, s, huma.Operation{
		OperationID: "get-user-profiles", Method: http.MethodGet, Path: "/api/user/{id}/profiles", Tags: tags,
		Summary: "A user's typed profiles with catchments", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *userPath) (*struct{ Body profilesBody }, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		ps, err := s.dir.UserProfiles(ctx, id)
		if err != nil {
			return nil, err
		}
		return &struct{ Body profilesBody }{profilesBody{Profiles: nonNil(ps)}}, nil
	})
	register(api, s, huma.Operation{
		OperationID: "replace-user-profiles", Method: http.MethodPut, Path: "/api/user/{id}/profiles", Tags: tags,
		Summary: "Replace a user's profiles", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *profilesInput) (*struct{ Body profilesBody }, error) {
		id, err := parseID("id", in.ID)
		if err != nil {
			return nil, err
		}
		ps, err := s.dir.SetUserProfiles(ctx, id, in.Body.Profiles)
		if err != nil {
			return nil, err
		}
		return &struct{ Body profilesBody }{profilesBody{Profiles: nonNil(ps)}}, nil
	})
}

// nonNil turns a nil slice into an empty one, so JSON shows [] not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
