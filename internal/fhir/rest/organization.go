package rest

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"ward/internal/apperr"
	"ward/internal/directory"
	"ward/internal/fhir"
	"ward/internal/fhir/policy"
	"ward/internal/fhir/search"
	"ward/internal/oauth/scope"
	"ward/internal/store"
	"ward/internal/timerange"
)

// organizationType serves Organization: the directory's organizations.
// They are reference data: every grant that allows reading the type reads
// them all.
func (h *Handler) organizationType() *resourceType {
	return &resourceType{
		name:          "Organization",
		documentation: "The directory's organization tree; partof is the parent.",
		read: func(ctx context.Context, _ policy.Grant, raw string) (*found, error) {
			id, err := parseID("Organization", raw)
			if err != nil {
				return nil, err
			}
			o, err := h.d.Directory.GetOrganization(asWard(ctx), id)
			if err != nil {
				return nil, notFoundAs("Organization", id, err)
			}
			return &found{resource: fhir.OrganizationFromDirectory(o, h.d.Base), id: raw, version: o.Version, updated: o.UpdatedAt}, nil
		},
		search: h.searchOrganizations,
		create: h.createOrganization,
		update: h.updateOrganization,
	}
}

// orgCtx is the context an organization is written in: ward itself for a
// system grant; the person otherwise, so the directory's own rule (only an
// administrator changes the tree) decides, as for the management API.
func orgCtx(ctx context.Context, g policy.Grant) context.Context {
	if g.Context == scope.ContextSystem {
		return asWard(ctx)
	}
	return ctx
}

func (h *Handler) createOrganization(ctx context.Context, g policy.Grant, body []byte) (*found, error) {
	fo, err := fhir.DecodeOrganization(body)
	if err != nil {
		return nil, err
	}
	fo.ID = "" // R4 §3.1.0.3: a create ignores any id in the body
	o, err := fhir.ToDirectoryOrganization(fo, h.d.Base)
	if err != nil {
		return nil, err
	}
	out, err := h.d.Directory.CreateOrganization(orgCtx(ctx, g), o)
	if err != nil {
		return nil, err
	}
	return &found{resource: fhir.OrganizationFromDirectory(out, h.d.Base), id: formatID(out.ID), version: out.Version, updated: out.UpdatedAt}, nil
}

func (h *Handler) updateOrganization(ctx context.Context, g policy.Grant, raw string, version int64, body []byte) (*found, error) {
	fo, err := fhir.DecodeOrganization(body)
	if err != nil {
		return nil, err
	}
	if err := checkBodyID("Organization", raw, fo.ID); err != nil {
		return nil, err
	}
	id, err := parseID("Organization", raw)
	if err != nil {
		return nil, err
	}
	cur, err := h.d.Directory.GetOrganization(asWard(ctx), id)
	if err != nil {
		return nil, notFoundAs("Organization", id, err)
	}
	if version != 0 && cur.Version != version {
		return nil, apperr.New(apperr.Conflict, "Organization/%d is at version %d, not %d", id, cur.Version, version)
	}
	present, err := fhir.PresentFields(body)
	if err != nil {
		return nil, err
	}
	o, err := fhir.ApplyOrganization(cur, fo, present, h.d.Base)
	if err != nil {
		return nil, err
	}
	out, err := h.d.Directory.UpdateOrganization(orgCtx(ctx, g), o)
	if err != nil {
		return nil, err
	}
	return &found{resource: fhir.OrganizationFromDirectory(out, h.d.Base), id: raw, version: out.Version, updated: out.UpdatedAt}, nil
}

// searchOrganizations filters the organization list in memory. A
// directory holds thousands of organizations, not millions of rows, and
// the filters (name prefix, identifier, parent) are cheap on each; an
// unfiltered search pages straight from the store.
func (h *Handler) searchOrganizations(ctx context.Context, _ policy.Grant, q search.Query) (*page, error) {
	ctx = asWard(ctx)
	p := &page{}
	if len(q.Clauses) == 0 {
		n, err := h.d.Directory.CountOrganizations(ctx)
		if err != nil {
			return nil, err
		}
		p.total = intPtr(n)
		if q.Summary == search.SummaryCount {
			return p, nil
		}
		orgs, next, err := h.d.Directory.ListOrganizations(ctx, store.Page{Limit: q.Count, After: q.Cursor})
		if err != nil {
			return nil, err
		}
		for _, o := range orgs {
			p.resources = append(p.resources, fhir.OrganizationFromDirectory(o, h.d.Base))
		}
		p.next = next
		return p, nil
	}
	tree, err := h.d.Directory.Tree(ctx)
	if err != nil {
		return nil, err
	}
	after, err := store.DecodeCursor(q.Cursor)
	if err != nil {
		return nil, err
	}
	now := h.d.Now()
	var matches []*directory.Organization
	cursor := ""
	for {
		orgs, next, err := h.d.Directory.ListOrganizations(ctx, store.Page{Limit: store.MaxLimit, After: cursor})
		if err != nil {
			return nil, err
		}
		for _, o := range orgs {
			if orgMatches(o, q, tree, now) {
				matches = append(matches, o)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	p.total = intPtr(len(matches))
	if q.Summary == search.SummaryCount {
		return p, nil
	}
	for _, o := range matches {
		if o.ID <= after {
			continue
		}
		if len(p.resources) == q.Count {
			p.next = store.EncodeCursor(after)
			break
		}
		p.resources = append(p.resources, fhir.OrganizationFromDirectory(o, h.d.Base))
		after = o.ID
	}
	return p, nil
}

// orgMatches applies every clause (AND) with its values OR-ed.
func orgMatches(o *directory.Organization, q search.Query, tree *directory.OrgTree, now time.Time) bool {
	for _, c := range q.Clauses {
		ok := false
		switch c.Param {
		case "_id":
			ok = slices.ContainsFunc(c.Tokens, func(t search.Token) bool { return t.Code == strconv.FormatInt(o.ID, 10) })
		case "_lastUpdated":
			lo, hi := timerange.Instant(o.UpdatedAt)
			ok = allDates(c, lo, hi, now)
		case "name":
			ok = slices.ContainsFunc(c.Strings, func(s string) bool { return stringMatches(c.Modifier, o.Name, s) })
		case "identifier":
			ok = slices.ContainsFunc(c.Tokens, func(t search.Token) bool {
				return slices.ContainsFunc(o.Identifiers, func(id directory.Identifier) bool { return tokenMatches(t, id.System, id.Value) })
			})
		case "partof":
			for _, id := range referenceIDs(c, "Organization") {
				if tree.Contains(o.ID) && tree.Parent(o.ID) == id {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// stringMatches is R4 string search (§3.1.1.4.13): by default a
// case-insensitive prefix, :exact the exact string, :contains a substring.
func stringMatches(m search.Modifier, have, want string) bool {
	switch m {
	case search.ModifierExact:
		return have == want
	case search.ModifierContains:
		return strings.Contains(strings.ToLower(have), strings.ToLower(want))
	}
	return strings.HasPrefix(strings.ToLower(have), strings.ToLower(want))
}

// tokenMatches is R4 token search against one (system, code) pair.
func tokenMatches(t search.Token, system, code string) bool {
	switch t.Match {
	case search.TokenSystemAndCode:
		return system == t.System && code == t.Code
	case search.TokenNoSystem:
		return system == "" && code == t.Code
	case search.TokenSystemOnly:
		return system == t.System
	}
	return code == t.Code
}

// allDates reports whether the stored range matches the clause: one of
// its values (OR) matches.
func allDates(c search.Clause, lo, hi, now time.Time) bool {
	return slices.ContainsFunc(c.Dates, func(d search.Date) bool { return d.Bound().Matches(lo, hi, now) })
}
