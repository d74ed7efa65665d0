package directory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"ward/internal/apperr"
	"ward/internal/audit"
)

// UserIdentifiers returns the identifiers of a user the caller may view.
func (s *Service) UserIdentifiers(ctx context.Context, id int64) ([]Identifier, error) {
	if _, err := s.newRequest(ctx).check(ctx, View, id); err != nil {
		return nil, err
	}
	return s.store.UserIdentifiers(ctx, id)
}

// AddUserIdentifier attaches an identifier to a user the caller may edit.
// Conflict when the system is unique (see IdentifierSystemUnique) and
// another live user holds the same value. Returns every identifier after.
func (s *Service) AddUserIdentifier(ctx context.Context, id int64, ident Identifier) ([]Identifier, error) {
	ident.System, ident.Value = strings.TrimSpace(ident.System), strings.TrimSpace(ident.Value)
	if err := validateIdentifier(ident); err != nil {
		return nil, err
	}
	r := s.newRequest(ctx)
	var out []Identifier
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if _, err := r.check(ctx, Edit, id); err != nil {
			return err
		}
		if err := s.store.LockUser(ctx, id); err != nil {
			return err
		}
		cur, err := s.store.UserIdentifiers(ctx, id)
		if err != nil {
			return err
		}
		for _, c := range cur {
			if c.System == ident.System && c.Value == ident.Value {
				return apperr.New(apperr.Conflict, "user %d already has identifier %s|%s", id, ident.System, ident.Value)
			}
		}
		if err := s.store.AddUserIdentifier(ctx, id, ident, IdentifierSystemUnique(ident.System)); err != nil {
			return err
		}
		if err := s.record(ctx, audit.Change{Type: audit.IdentifierAdded, Subject: audit.UserRef(id), SubjectID: id,
			Fields: map[string]any{"system": ident.System, "value": ident.Value}}, "added identifier %s|%s to user %d", ident.System, ident.Value, id); err != nil {
			return err
		}
		out, err = s.store.UserIdentifiers(ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Relationships returns the relationships where a user the caller may view
// is either side.
func (s *Service) Relationships(ctx context.Context, id int64) ([]UserRelationship, error) {
	if _, err := s.newRequest(ctx).check(ctx, View, id); err != nil {
		return nil, err
	}
	return s.store.Relationships(ctx, id)
}

// SetRelationships replaces the relationships in which the user is the
// subject. Each must name a static relationship and another existing user;
// a zero UserID is taken to mean the subject.
func (s *Service) SetRelationships(ctx context.Context, id int64, rels []UserRelationship) ([]UserRelationship, error) {
	rels = slices.Clone(rels)
	seen := map[UserRelationship]bool{}
	for i := range rels {
		rel := &rels[i]
		if rel.UserID == 0 {
			rel.UserID = id
		}
		if rel.UserID != id {
			return nil, apperr.New(apperr.Invalid, "relationship subject %d is not user %d", rel.UserID, id)
		}
		if rel.Relationship != RelPartner && rel.Relationship != RelSponsor {
			return nil, apperr.New(apperr.Invalid, "unknown relationship %q", rel.Relationship)
		}
		if rel.OtherUserID <= 0 || rel.OtherUserID == id {
			return nil, apperr.New(apperr.Invalid, "a relationship needs another user")
		}
		if seen[*rel] {
			return nil, apperr.New(apperr.Invalid, "relationship %s with user %d listed twice", rel.Relationship, rel.OtherUserID)
		}
		seen[*rel] = true
	}
	r := s.newRequest(ctx)
	var out []UserRelationship
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if _, err := r.check(ctx, Edit, id); err != nil {
			return err
		}
		if err := s.store.LockUser(ctx, id); err != nil {
			return err
		}
		for _, rel := range rels {
			other, err := s.store.GetUser(ctx, rel.OtherUserID)
			if apperr.Is(err, apperr.NotFound) || (err == nil && !other.Active()) {
				return apperr.New(apperr.Invalid, "related user %d does not exist", rel.OtherUserID)
			}
			if err != nil {
				return err
			}
		}
		if err := s.store.SetRelationships(ctx, id, rels); err != nil {
			return err
		}
		if err := s.record(ctx, audit.Change{Type: audit.RelationshipsSet, Subject: audit.UserRef(id), SubjectID: id,
			Fields: map[string]any{"relationships": describeRelationships(rels)}}, "relationships of user %d set to %s", id, describeRelationships(rels)); err != nil {
			return err
		}
		var err error
		out, err = s.store.Relationships(ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func describeRelationships(rels []UserRelationship) string {
	parts := make([]string, 0, len(rels))
	for _, r := range rels {
		parts = append(parts, fmt.Sprintf("%s of %d", r.Relationship, r.OtherUserID))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Groups lists every group to any signed-in caller.
func (s *Service) Groups(ctx context.Context) ([]Group, error) {
	r := s.newRequest(ctx)
	if !r.who.System {
		if _, err := r.actorParty(ctx); err != nil {
			return nil, err
		}
	}
	return s.store.Groups(ctx)
}

// CreateGroup adds a group (admins only). Conflict on a duplicate name.
func (s *Service) CreateGroup(ctx context.Context, g *Group) (*Group, error) {
	r := s.newRequest(ctx)
	if err := r.requireAdmin(ctx, "create groups"); err != nil {
		return nil, err
	}
	c := *g
	c.ID = 0
	c.Name = strings.TrimSpace(c.Name)
	if c.Name == "" || len(c.Name) > maxNameLength || !utf8.ValidString(c.Name) {
		return nil, apperr.New(apperr.Invalid, "group name must be non-empty text of at most %d bytes", maxNameLength)
	}
	if len(c.Description) > 4096 || !utf8.ValidString(c.Description) {
		return nil, apperr.New(apperr.Invalid, "group description must be text of at most 4096 bytes")
	}
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.CreateGroup(ctx, &c); err != nil {
			return err
		}
		return s.record(ctx, audit.Change{Type: audit.GroupCreated, Subject: audit.Ref("Group", c.ID),
			Fields: map[string]any{"name": c.Name}}, "created group %d (%s)", c.ID, c.Name)
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// UserGroups returns the groups of a user the caller may view.
func (s *Service) UserGroups(ctx context.Context, id int64) ([]Group, error) {
	if _, err := s.newRequest(ctx).check(ctx, View, id); err != nil {
		return nil, err
	}
	return s.store.UserGroups(ctx, id)
}

// SetUserGroups makes the named groups exactly the user's groups; Invalid
// naming the first unknown group.
func (s *Service) SetUserGroups(ctx context.Context, id int64, names []string) ([]Group, error) {
	r := s.newRequest(ctx)
	var out []Group
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if _, err := r.check(ctx, Edit, id); err != nil {
			return err
		}
		if err := s.store.LockUser(ctx, id); err != nil {
			return err
		}
		all, err := s.store.Groups(ctx)
		if err != nil {
			return err
		}
		byName := make(map[string]Group, len(all))
		for _, g := range all {
			byName[g.Name] = g
		}
		var ids []int64
		for _, n := range names {
			g, ok := byName[n]
			if !ok {
				return apperr.New(apperr.Invalid, "unknown group %q", n)
			}
			ids = append(ids, g.ID)
		}
		ids = dedupeIDs(ids)
		if err := s.store.SetUserGroups(ctx, id, ids); err != nil {
			return err
		}
		sorted := slices.Clone(names)
		slices.Sort(sorted)
		if err := s.record(ctx, audit.Change{Type: audit.UserGroupsSet, Subject: audit.UserRef(id), SubjectID: id,
			Fields: map[string]any{"groups": slices.Compact(sorted)}}, "groups of user %d set to [%s]", id, strings.Join(slices.Compact(sorted), ", ")); err != nil {
			return err
		}
		out, err = s.store.UserGroups(ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UserProfiles returns the typed profiles of a user the caller may view.
func (s *Service) UserProfiles(ctx context.Context, id int64) ([]Profile, error) {
	if _, err := s.newRequest(ctx).check(ctx, View, id); err != nil {
		return nil, err
	}
	return s.store.UserProfiles(ctx, id)
}

// SetUserProfiles replaces the user's typed profiles (seed 003: provider,
// admin, facility, patient, each with catchment codes).
func (s *Service) SetUserProfiles(ctx context.Context, id int64, ps []Profile) ([]Profile, error) {
	if err := ValidateProfiles(ps); err != nil {
		return nil, err
	}
	r := s.newRequest(ctx)
	var out []Profile
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if _, err := r.check(ctx, Edit, id); err != nil {
			return err
		}
		if err := s.store.LockUser(ctx, id); err != nil {
			return err
		}
		if err := s.store.SetUserProfiles(ctx, id, ps); err != nil {
			return err
		}
		if err := s.record(ctx, audit.Change{Type: audit.UserProfilesSet, Subject: audit.UserRef(id), SubjectID: id,
			Fields: map[string]any{"profiles": len(ps)}}, "profiles of user %d set (%d profiles)", id, len(ps)); err != nil {
			return err
		}
		var err error
		out, err = s.store.UserProfiles(ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
