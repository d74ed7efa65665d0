package console

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"ward/internal/apperr"
	"ward/internal/directory"
)

// The organization tree can hold 100,000 organizations, so the tree page
// draws one page of top-level organizations and, below each, at most
// treeDepth levels and treeNodes organizations in all; what is left out is
// counted and reached through the organization's own page, whose children
// are paged.
const (
	treeDepth = 6
	treeNodes = 400
	// crumbs is how many ancestors an organization's page names.
	crumbs = 20
)

func init() {
	addNotices(map[string]string{
		"org-created":            "Organization created.",
		"org-renamed":            "Organization renamed.",
		"org-identifier-added":   "Identifier added.",
		"org-identifier-removed": "Identifier removed.",
		"org-moved":              "Organization moved.",
	})
}

// mountOrganizations registers the organization pages and forms.
func (h *Handler) mountOrganizations(mux *http.ServeMux) {
	mux.Handle("GET /admin/organizations", h.page(h.orgTree))
	mux.Handle("POST /admin/organizations", h.form(h.orgCreate))
	mux.Handle("GET /admin/organizations/{id}", h.page(h.orgShow))
	mux.Handle("POST /admin/organizations/{id}/name", h.form(h.orgRename))
	mux.Handle("POST /admin/organizations/{id}/identifiers", h.form(h.orgAddIdentifier))
	mux.Handle("POST /admin/organizations/{id}/identifiers/delete", h.form(h.orgRemoveIdentifier))
	mux.Handle("POST /admin/organizations/{id}/move", h.form(h.orgMove))
}

// orgNode is one organization drawn in the tree.
type orgNode struct {
	ID   int64
	Name string
	// Below counts every organization below this one.
	Below    int
	Children []*orgNode
	// Hidden counts the organizations below this one the page leaves out
	// (too deep, or past the page's budget).
	Hidden int
}

// orgTreePage is the data of the organization tree.
type orgTreePage struct {
	Total     int
	TopLevel  int
	Nodes     []*orgNode
	Pager     pager
	CanManage bool
	Depth     int
	Budget    int
}

// PageTitle implements titled.
func (orgTreePage) PageTitle() string { return "Organizations" }

func (h *Handler) orgTree(w http.ResponseWriter, r *http.Request, rq *request) {
	ctx := r.Context()
	tree, err := h.d.Directory.Tree(ctx)
	if err != nil {
		h.problem(w, r, rq, fmt.Errorf("load the organization tree: %w", err))
		return
	}
	p := listPage(r)
	var after int64
	if p.After != "" {
		if after, err = strconv.ParseInt(p.After, 10, 64); err != nil || after < 0 {
			h.problem(w, r, rq, apperr.New(apperr.Invalid, "the page cursor is not valid; start from the first page"))
			return
		}
	}
	tops := tree.TopLevel()
	start, _ := slices.BinarySearch(tops, after+1)
	tops = tops[start:]
	next := ""
	if len(tops) > p.Limit {
		tops = tops[:p.Limit]
		next = strconv.FormatInt(tops[len(tops)-1], 10)
	}
	nodes, ids := drawTree(tree, tops)
	if err := h.nameNodes(r, nodes, ids); err != nil {
		h.problem(w, r, rq, err)
		return
	}
	may, err := h.d.Directory.MayManageOrganizations(ctx)
	if err != nil {
		h.problem(w, r, rq, fmt.Errorf("may the caller manage organizations: %w", err))
		return
	}
	h.render(w, r, rq, http.StatusOK, "organizations", orgTreePage{Total: tree.Len(), TopLevel: len(tree.TopLevel()),
		Nodes: nodes, Pager: newPager(r, next), CanManage: may, Depth: treeDepth, Budget: treeNodes})
}

// drawTree builds the nodes under tops, within treeDepth and treeNodes,
// and returns them with every id drawn. It walks each subtree once in
// preorder, where a node's descendants follow it contiguously, so a
// subtree left out is skipped by its size.
func drawTree(tree *directory.OrgTree, tops []int64) ([]*orgNode, []int64) {
	budget := treeNodes
	var roots []*orgNode
	var ids []int64
	for _, top := range tops {
		sub := tree.AtOrBelow(top)
		// Sizes below each node: children come after their parent in
		// preorder, so a reverse pass adds each to its parent.
		below := make(map[int64]int, len(sub))
		for i := len(sub) - 1; i > 0; i-- {
			below[tree.Parent(sub[i])] += below[sub[i]] + 1
		}
		root := &orgNode{ID: top, Below: below[top]}
		roots, ids = append(roots, root), append(ids, top)
		budget--
		drawn := map[int64]*orgNode{top: root}
		depth := map[int64]int{top: 0}
		for i := 1; i < len(sub); {
			id := sub[i]
			parent := tree.Parent(id)
			pn, d := drawn[parent], depth[parent]+1
			if pn == nil || d > treeDepth || budget <= 0 {
				// Left out with its whole subtree, counted on the
				// nearest drawn ancestor.
				for a := parent; a != 0; a = tree.Parent(a) {
					if n := drawn[a]; n != nil {
						n.Hidden += below[id] + 1
						break
					}
				}
				i += below[id] + 1
				continue
			}
			n := &orgNode{ID: id, Below: below[id]}
			pn.Children = append(pn.Children, n)
			drawn[id], depth[id] = n, d
			ids = append(ids, id)
			budget--
			i++
		}
	}
	return roots, ids
}

// nameNodes fills in the names of the drawn organizations.
func (h *Handler) nameNodes(r *http.Request, nodes []*orgNode, ids []int64) error {
	orgs, err := h.d.Directory.OrganizationsByID(r.Context(), ids)
	if err != nil {
		return fmt.Errorf("name the organizations of the tree: %w", err)
	}
	names := make(map[int64]string, len(orgs))
	for _, o := range orgs {
		names[o.ID] = o.Name
	}
	var walk func([]*orgNode)
	walk = func(ns []*orgNode) {
		for _, n := range ns {
			n.Name = names[n.ID]
			walk(n.Children)
		}
	}
	walk(nodes)
	return nil
}

// orgShowPage is the data of one organization's page.
type orgShowPage struct {
	Org *directory.Organization
	// Path is the organization's ancestors, top level first; Cut says
	// more lie above the first shown.
	Path []*directory.Organization
	Cut  bool
	// Parent is the organization directly above, nil at the top level.
	Parent *directory.Organization
	// Children is a page of the organizations directly below.
	Children   []*directory.Organization
	ChildCount int
	Below      int
	Pager      pager
	// People counts the organization's members when the caller may count
	// people (administrators); PeopleCounted says whether it could.
	People        int
	PeopleCounted bool
	CanManage     bool
}

// PageTitle implements titled.
func (p orgShowPage) PageTitle() string { return p.Org.Name }

func (h *Handler) orgShow(w http.ResponseWriter, r *http.Request, rq *request) {
	id, ok := h.pathID(w, r, rq, "id")
	if !ok {
		return
	}
	ctx := r.Context()
	o, err := h.d.Directory.GetOrganization(ctx, id)
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	tree, err := h.d.Directory.Tree(ctx)
	if err != nil {
		h.problem(w, r, rq, fmt.Errorf("load the organization tree: %w", err))
		return
	}
	pg := orgShowPage{Org: o}
	sub := tree.AtOrBelow(id)
	pg.Below = max(len(sub)-1, 0)
	var kids []int64
	for _, c := range sub {
		if tree.Parent(c) == id {
			kids = append(kids, c)
		}
	}
	pg.ChildCount = len(kids)
	p := listPage(r)
	var after int64
	if p.After != "" {
		if after, err = strconv.ParseInt(p.After, 10, 64); err != nil || after < 0 {
			h.problem(w, r, rq, apperr.New(apperr.Invalid, "the page cursor is not valid; start from the first page"))
			return
		}
	}
	slices.Sort(kids)
	start, _ := slices.BinarySearch(kids, after+1)
	kids = kids[start:]
	next := ""
	if len(kids) > p.Limit {
		kids = kids[:p.Limit]
		next = strconv.FormatInt(kids[len(kids)-1], 10)
	}
	pg.Pager = newPager(r, next)
	if pg.Children, err = h.d.Directory.OrganizationsByID(ctx, kids); err != nil {
		h.problem(w, r, rq, fmt.Errorf("load the children of organization %d: %w", id, err))
		return
	}
	above := tree.AtAndAbove(id)
	if len(above) > 0 {
		above = above[1:]
	}
	if len(above) > crumbs {
		above, pg.Cut = above[:crumbs], true
	}
	path, err := h.d.Directory.OrganizationsByID(ctx, above)
	if err != nil {
		h.problem(w, r, rq, fmt.Errorf("load the ancestors of organization %d: %w", id, err))
		return
	}
	// Top level first: order by place in the chain, not by id.
	rank := make(map[int64]int, len(above))
	for i, a := range above {
		rank[a] = -i
	}
	slices.SortFunc(path, func(a, b *directory.Organization) int { return rank[a.ID] - rank[b.ID] })
	pg.Path = path
	if len(path) > 0 {
		pg.Parent = path[len(path)-1]
	}
	n, err := h.d.Directory.CountUsers(ctx, directory.UserFilter{OrganizationID: id})
	switch {
	case err == nil:
		pg.People, pg.PeopleCounted = n, true
	case !apperr.Is(err, apperr.Forbidden):
		h.problem(w, r, rq, fmt.Errorf("count the people of organization %d: %w", id, err))
		return
	}
	if pg.CanManage, err = h.d.Directory.MayManageOrganizations(ctx); err != nil {
		h.problem(w, r, rq, fmt.Errorf("may the caller manage organizations: %w", err))
		return
	}
	h.render(w, r, rq, http.StatusOK, "organization", pg)
}

// orgPath is the page of organization id.
func orgPath(id int64) string { return "/admin/organizations/" + strconv.FormatInt(id, 10) }

// resolveParent reads a parent given as an organization id or shortcut
// alias; "" is none (top level). An organization that does not exist is
// bad input here, not a missing page.
func (h *Handler) resolveParent(r *http.Request, v string) (int64, error) {
	v = strings.TrimSpace(v)
	if v == "" || v == "0" {
		return 0, nil
	}
	o, err := h.d.Directory.ResolveOrganization(r.Context(), v)
	if apperr.Is(err, apperr.NotFound) {
		return 0, apperr.New(apperr.Invalid, "there is no organization %q to be part of", v)
	}
	if err != nil {
		return 0, err
	}
	return o.ID, nil
}

// formVersion reads the version field a form carries for optimistic
// concurrency.
func formVersion(r *http.Request) (int64, error) {
	v, err := strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	if err != nil || v <= 0 {
		return 0, apperr.New(apperr.Invalid, "the form's version is missing or not a positive number; reload the page")
	}
	return v, nil
}

func (h *Handler) orgCreate(w http.ResponseWriter, r *http.Request, rq *request) {
	parent, err := h.resolveParent(r, r.PostFormValue("parent"))
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	o, err := h.d.Directory.CreateOrganization(r.Context(), &directory.Organization{
		Name: strings.TrimSpace(r.PostFormValue("name")), PartOfID: parent})
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	done(w, r, orgPath(o.ID), "org-created")
}

// orgChange loads the organization of the path at the form's version,
// lets change edit it and stores it, then answers 303 with notice.
func (h *Handler) orgChange(w http.ResponseWriter, r *http.Request, rq *request, notice string,
	change func(o *directory.Organization) error) {
	id, ok := h.pathID(w, r, rq, "id")
	if !ok {
		return
	}
	version, err := formVersion(r)
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	ctx := r.Context()
	// The service decides first, so a caller who may not manage
	// organizations is refused before anything about the form is judged.
	if may, err := h.d.Directory.MayManageOrganizations(ctx); err != nil || !may {
		if err == nil {
			err = apperr.New(apperr.Forbidden, "your roles do not allow you to manage organizations")
		}
		h.problem(w, r, rq, err)
		return
	}
	o, err := h.d.Directory.GetOrganization(ctx, id)
	if err != nil {
		h.problem(w, r, rq, err)
		return
	}
	o.Version = version
	if err := change(o); err != nil {
		h.problem(w, r, rq, err)
		return
	}
	if _, err := h.d.Directory.UpdateOrganization(ctx, o); err != nil {
		h.problem(w, r, rq, err)
		return
	}
	done(w, r, orgPath(id), notice)
}

func (h *Handler) orgRename(w http.ResponseWriter, r *http.Request, rq *request) {
	h.orgChange(w, r, rq, "org-renamed", func(o *directory.Organization) error {
		o.Name = strings.TrimSpace(r.PostFormValue("name"))
		return nil
	})
}

func (h *Handler) orgAddIdentifier(w http.ResponseWriter, r *http.Request, rq *request) {
	h.orgChange(w, r, rq, "org-identifier-added", func(o *directory.Organization) error {
		o.Identifiers = append(o.Identifiers, directory.Identifier{
			System: strings.TrimSpace(r.PostFormValue("system")), Value: strings.TrimSpace(r.PostFormValue("value"))})
		return nil
	})
}

func (h *Handler) orgRemoveIdentifier(w http.ResponseWriter, r *http.Request, rq *request) {
	h.orgChange(w, r, rq, "org-identifier-removed", func(o *directory.Organization) error {
		sys, val := r.PostFormValue("system"), r.PostFormValue("value")
		n := len(o.Identifiers)
		o.Identifiers = slices.DeleteFunc(o.Identifiers, func(i directory.Identifier) bool { return i.System == sys && i.Value == val })
		if len(o.Identifiers) == n {
			return apperr.New(apperr.Invalid, "the organization has no identifier %s|%s", sys, val)
		}
		return nil
	})
}

func (h *Handler) orgMove(w http.ResponseWriter, r *http.Request, rq *request) {
	h.orgChange(w, r, rq, "org-moved", func(o *directory.Organization) error {
		parent, err := h.resolveParent(r, r.PostFormValue("parent"))
		if err != nil {
			return err
		}
		o.PartOfID = parent
		return nil
	})
}
