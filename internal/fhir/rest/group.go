package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/fhir"
	"ward/internal/fhir/policy"
	"ward/internal/fhir/search"
	"ward/internal/oauth/scope"
	"ward/internal/timerange"
)

// Groups is the directory's computed Groups (one per organization, one
// per practitioner), read with the caller's own rights: the directory
// decides who may list whose patients.
type Groups interface {
	Group(ctx context.Context, g directory.GroupRef) (*directory.GroupInfo, error)
	GroupMembers(ctx context.Context, g directory.GroupRef, afterID int64, limit int) ([]int64, error)
	ListGroups(ctx context.Context, after directory.GroupRef, limit int) ([]directory.GroupRef, error)
	CountGroups(ctx context.Context) (int, error)
}

// memberBatch is how many member ids are read at a time.
const memberBatch = 1000

// groupType serves Group: computed from the directory at every read, so
// always current. A patient's token reads none (a Group lists other
// patients).
func (h *Handler) groupType() *resourceType {
	return &resourceType{
		name:          "Group",
		documentation: "One Group per organization (its consented patients, at or below it) and one per practitioner (the patients who name them as general practitioner); ids org-{id} and practitioner-{id}.",
		read: func(ctx context.Context, g policy.Grant, raw string) (*found, error) {
			if g.Context == scope.ContextPatient {
				return nil, apperr.New(apperr.NotFound, "Group/%s not found", clipID(raw))
			}
			ref, err := fhir.ParseGroupID(raw)
			if err != nil {
				return nil, apperr.New(apperr.NotFound, "Group/%s not found", clipID(raw))
			}
			res, err := h.groupResource(groupCtx(ctx, g), ref, true)
			if err != nil {
				return nil, err
			}
			if err := h.auditGroup(ctx, "read Group/"+raw); err != nil {
				return nil, err
			}
			// A computed Group has no stored version: its version is a hash
			// of its content, so an ETag changes exactly when the members
			// (or the name) do and a conditional read stays correct.
			v, err := contentVersion(res)
			if err != nil {
				return nil, err
			}
			res.Meta = fhir.MetaFor(v, time.Time{})
			return &found{resource: res, id: raw, version: v}, nil
		},
		search: h.searchGroups,
	}
}

// groupCtx is the context the directory reads a Group in: ward itself
// for system grants, the person for user grants. A patient grant reaches
// no Group.
func groupCtx(ctx context.Context, g policy.Grant) context.Context {
	if g.Admin || actor.From(ctx).System {
		return asWard(ctx)
	}
	return ctx
}

// groupResource renders a Group, with its members when withMembers.
func (h *Handler) groupResource(ctx context.Context, ref directory.GroupRef, withMembers bool) (*fhir.Group, error) {
	info, err := h.d.Groups.Group(ctx, ref)
	if err != nil {
		return nil, groupNotFound(err)
	}
	var members []int64
	if withMembers {
		after := int64(0)
		for {
			batch, err := h.d.Groups.GroupMembers(ctx, ref, after, memberBatch)
			if err != nil {
				return nil, groupNotFound(err)
			}
			members = append(members, batch...)
			if len(batch) < memberBatch {
				break
			}
			after = batch[len(batch)-1]
		}
	}
	return fhir.GroupFor(ref, info.Name, info.Size, members, h.d.Base), nil
}

// groupNotFound hides whether a Group the caller may not read exists.
func groupNotFound(err error) error {
	switch apperr.KindOf(err) {
	case apperr.Forbidden, apperr.NotFound, apperr.Invalid:
		return apperr.New(apperr.NotFound, "Group not found")
	}
	return err
}

// auditGroup records a read of a Group's membership, which says which
// patients belong to an organization or a practitioner.
func (h *Handler) auditGroup(ctx context.Context, what string) error {
	return h.d.Audit.RecordEach(ctx, []audit.Entry{{Actor: actor.From(ctx),
		Change: audit.Change{Type: audit.RecordRead, Comment: "FHIR " + what}}})
}

// searchGroups lists Groups; _id, name and type filter the page. Entries
// carry no members (read the Group for them), as _summary would.
func (h *Handler) searchGroups(ctx context.Context, g policy.Grant, q search.Query) (*page, error) {
	if g.Context == scope.ContextPatient {
		return &page{total: intPtr(0)}, nil
	}
	dctx := groupCtx(ctx, g)
	var ids []directory.GroupRef
	filtered := false
	for _, c := range q.Clauses {
		switch c.Param {
		case "_id":
			filtered = true
			var these []directory.GroupRef
			for _, t := range c.Tokens {
				if ref, err := fhir.ParseGroupID(t.Code); err == nil {
					these = append(these, ref)
				}
			}
			ids = these
		case "type":
			// Every ward Group is a group of persons (patients).
			for _, t := range c.Tokens {
				if t.Code != "person" {
					return &page{total: intPtr(0)}, nil
				}
			}
		case "name", "_lastUpdated":
			filtered = true
		}
	}
	if !filtered {
		n, err := h.d.Groups.CountGroups(dctx)
		if err != nil {
			return nil, err
		}
		p := &page{total: intPtr(n)}
		if q.Summary == search.SummaryCount {
			return p, nil
		}
		after, err := parseGroupCursor(q.Cursor)
		if err != nil {
			return nil, err
		}
		refs, err := h.d.Groups.ListGroups(dctx, after, q.Count)
		if err != nil {
			return nil, err
		}
		for _, ref := range refs {
			res, err := h.groupResource(dctx, ref, false)
			if err != nil {
				return nil, err
			}
			p.resources = append(p.resources, res)
		}
		if len(refs) == q.Count {
			p.next = fhir.GroupID(refs[len(refs)-1])
		}
		return p, h.auditGroup(ctx, "search Group")
	}
	return h.filterGroups(ctx, dctx, q, ids)
}

// filterGroups answers a filtered Group search by walking the Groups the
// caller may read (organizations and practitioners: directory-sized).
func (h *Handler) filterGroups(ctx, dctx context.Context, q search.Query, ids []directory.GroupRef) (*page, error) {
	var matches []*fhir.Group
	visit := func(ref directory.GroupRef) error {
		res, err := h.groupResource(dctx, ref, false)
		if apperr.Is(err, apperr.NotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if groupMatches(res, q, h) {
			matches = append(matches, res)
		}
		return nil
	}
	if ids != nil {
		for _, ref := range ids {
			if err := visit(ref); err != nil {
				return nil, err
			}
		}
	} else {
		after := directory.GroupRef{}
		for {
			refs, err := h.d.Groups.ListGroups(dctx, after, memberBatch)
			if err != nil {
				return nil, err
			}
			for _, ref := range refs {
				if err := visit(ref); err != nil {
					return nil, err
				}
			}
			if len(refs) < memberBatch {
				break
			}
			after = refs[len(refs)-1]
		}
	}
	p := &page{total: intPtr(len(matches))}
	if q.Summary == search.SummaryCount {
		return p, nil
	}
	start := 0
	if q.Cursor != "" {
		for i, m := range matches {
			if m.ID == q.Cursor {
				start = i + 1
			}
		}
	}
	end := min(start+q.Count, len(matches))
	for _, m := range matches[start:end] {
		p.resources = append(p.resources, m)
	}
	if end < len(matches) {
		p.next = matches[end-1].ID
	}
	return p, h.auditGroup(ctx, "search Group")
}

func groupMatches(g *fhir.Group, q search.Query, h *Handler) bool {
	for _, c := range q.Clauses {
		switch c.Param {
		case "name":
			ok := false
			for _, s := range c.Strings {
				ok = ok || stringMatches(c.Modifier, g.Name, s)
			}
			if !ok {
				return false
			}
		case "_lastUpdated":
			// A computed Group changes whenever its members do; it is
			// as new as the request.
			now := h.d.Now()
			lo, hi := timerange.Instant(now)
			if !allDates(c, lo, hi, now) {
				return false
			}
		}
	}
	return true
}

// parseGroupCursor reads a Group search cursor: the last Group's id.
func parseGroupCursor(s string) (directory.GroupRef, error) {
	if s == "" {
		return directory.GroupRef{}, nil
	}
	ref, err := fhir.ParseGroupID(strings.TrimSpace(s))
	if err != nil {
		return directory.GroupRef{}, apperr.New(apperr.Invalid, "_cursor is not a cursor this server issued")
	}
	return ref, nil
}

// contentVersion is a positive version number derived from a resource's
// JSON, below 2^53 so that any JSON reader keeps it exact.
func contentVersion(res any) (int64, error) {
	b, err := json.Marshal(res)
	if err != nil {
		return 0, fmt.Errorf("encode %T: %w", res, err)
	}
	h := fnv.New64a()
	_, _ = h.Write(b)
	return int64(h.Sum64()>>11) + 1, nil
}
