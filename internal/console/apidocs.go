package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"ward/internal/actor"
)

// The API docs page (issue 17, item 8): the management API's OpenAPI
// document drawn server-side as one HTML page, with ward's stylesheet and
// no script, so it holds under the console's CSP and needs no CDN. It is
// for integrators, so it answers signed-out browsers too (with no console
// navigation); a signed-in person gets their navigation.

func (h *Handler) mountAPIDocs(mux *http.ServeMux) {
	if h.d.OpenAPI == nil {
		return
	}
	// A route of its own under /api/, so the server's answer for API paths
	// no operation claims (an RFC 9457 problem) does not take it.
	mux.Handle("GET /api/docs", http.HandlerFunc(h.apiDocs))
}

// openAPI is the part of an OpenAPI 3.1 document the page shows.
type openAPI struct {
	Info struct {
		Title       string `json:"title"`
		Version     string `json:"version"`
		Description string `json:"description"`
	} `json:"info"`
	Tags []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"tags"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Security   []map[string][]string                 `json:"security"`
	Components struct {
		SecuritySchemes map[string]struct {
			Type        string `json:"type"`
			Scheme      string `json:"scheme"`
			In          string `json:"in"`
			Name        string `json:"name"`
			Description string `json:"description"`
		} `json:"securitySchemes"`
	} `json:"components"`
}

// oaSchema is a schema as far as the page names it.
type oaSchema struct {
	Ref    string          `json:"$ref"`
	Type   json.RawMessage `json:"type"`
	Format string          `json:"format"`
	Items  *oaSchema       `json:"items"`
	Enum   []any           `json:"enum"`
}

// name is how the page writes a schema: its component name, "array of
// X", or its type.
func (s *oaSchema) name() string {
	if s == nil {
		return ""
	}
	if s.Ref != "" {
		return s.Ref[strings.LastIndex(s.Ref, "/")+1:]
	}
	var t string
	if err := json.Unmarshal(s.Type, &t); err != nil {
		// 3.1 allows a list of types (["string", "null"]).
		var ts []string
		if json.Unmarshal(s.Type, &ts) == nil {
			t = strings.Join(ts, " or ")
		}
	}
	if t == "array" && s.Items != nil {
		return "array of " + s.Items.name()
	}
	if s.Format != "" {
		t += " (" + s.Format + ")"
	}
	if len(s.Enum) > 0 {
		vs := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			vs[i] = fmt.Sprint(v)
		}
		t += ": " + strings.Join(vs, ", ")
	}
	return t
}

type oaContent map[string]struct {
	Schema *oaSchema `json:"schema"`
}

// bodies lists each media type with its schema's name.
func (c oaContent) bodies() []docBody {
	var out []docBody
	for mt, v := range c {
		out = append(out, docBody{MediaType: mt, Schema: v.Schema.name()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MediaType < out[j].MediaType })
	return out
}

type oaOperation struct {
	OperationID string   `json:"operationId"`
	Summary     string   `json:"summary"`
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
	Deprecated  bool     `json:"deprecated"`
	Parameters  []struct {
		Name        string    `json:"name"`
		In          string    `json:"in"`
		Required    bool      `json:"required"`
		Description string    `json:"description"`
		Schema      *oaSchema `json:"schema"`
	} `json:"parameters"`
	RequestBody *struct {
		Required bool      `json:"required"`
		Content  oaContent `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Description string    `json:"description"`
		Content     oaContent `json:"content"`
	} `json:"responses"`
	Security *[]map[string][]string `json:"security"`
}

// docBody is a request or response body: media type and schema.
type docBody struct {
	MediaType, Schema string
}

// docParam is one parameter of an operation.
type docParam struct {
	Name, In, Type, Description string
	Required                    bool
}

// docResponse is one answer of an operation.
type docResponse struct {
	Status, Description string
	Bodies              []docBody
}

// docOperation is one operation as the page shows it.
type docOperation struct {
	Anchor, ID, Method, Path, Summary, Description string
	Deprecated                                     bool
	Params                                         []docParam
	Body                                           []docBody
	BodyRequired                                   bool
	Responses                                      []docResponse
	// Security names the schemes that may authenticate it (any one of
	// them, each with its scopes); empty means none is needed.
	Security []string
}

// docTag is a group of operations.
type docTag struct {
	Name, Anchor, Description string
	Operations                []docOperation
}

// apiDocsPage is the data of the page.
type apiDocsPage struct {
	Title, Version, Description string
	Tags                        []docTag
	Schemes                     []docScheme
}

// docScheme is a security scheme.
type docScheme struct {
	Name, Description string
}

// PageTitle implements titled.
func (apiDocsPage) PageTitle() string { return "API docs" }

// methods are the HTTP methods an OpenAPI path item may hold, in the order
// the page lists them.
var methods = []string{"get", "put", "post", "patch", "delete", "head", "options", "trace"}

// anchorOf makes a fragment id of s: letters, digits and '-' only.
func anchorOf(prefix, s string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// buildAPIDocs turns the document into the page's data.
func buildAPIDocs(raw []byte) (apiDocsPage, error) {
	var doc openAPI
	if err := json.Unmarshal(raw, &doc); err != nil {
		return apiDocsPage{}, fmt.Errorf("parse the OpenAPI document: %w", err)
	}
	p := apiDocsPage{Title: doc.Info.Title, Version: doc.Info.Version, Description: doc.Info.Description}
	tagIndex := map[string]int{}
	addTag := func(name, desc string) int {
		if i, ok := tagIndex[name]; ok {
			return i
		}
		tagIndex[name] = len(p.Tags)
		p.Tags = append(p.Tags, docTag{Name: name, Anchor: anchorOf("tag-", name), Description: desc})
		return len(p.Tags) - 1
	}
	for _, t := range doc.Tags {
		addTag(t.Name, t.Description)
	}
	paths := make([]string, 0, len(doc.Paths))
	for path := range doc.Paths {
		paths = append(paths, path)
	}
	slices.Sort(paths)
	for _, path := range paths {
		item := doc.Paths[path]
		for _, m := range methods {
			rawOp, ok := item[m]
			if !ok {
				continue
			}
			var op oaOperation
			if err := json.Unmarshal(rawOp, &op); err != nil {
				return apiDocsPage{}, fmt.Errorf("parse operation %s %s: %w", m, path, err)
			}
			d := docOperation{ID: op.OperationID, Method: strings.ToUpper(m), Path: path, Summary: op.Summary,
				Description: op.Description, Deprecated: op.Deprecated}
			d.Anchor = anchorOf("op-", d.ID)
			if d.ID == "" {
				d.Anchor = anchorOf("op-", m+" "+path)
			}
			for _, pa := range op.Parameters {
				d.Params = append(d.Params, docParam{Name: pa.Name, In: pa.In, Type: pa.Schema.name(),
					Description: pa.Description, Required: pa.Required})
			}
			if op.RequestBody != nil {
				d.Body, d.BodyRequired = op.RequestBody.Content.bodies(), op.RequestBody.Required
			}
			codes := make([]string, 0, len(op.Responses))
			for c := range op.Responses {
				codes = append(codes, c)
			}
			slices.Sort(codes)
			for _, c := range codes {
				r := op.Responses[c]
				d.Responses = append(d.Responses, docResponse{Status: c, Description: r.Description, Bodies: r.Content.bodies()})
			}
			sec := doc.Security
			if op.Security != nil {
				sec = *op.Security
			}
			for _, req := range sec {
				var names []string
				for name, scopes := range req {
					if len(scopes) > 0 {
						name += " (" + strings.Join(scopes, ", ") + ")"
					}
					names = append(names, name)
				}
				slices.Sort(names)
				if len(names) > 0 {
					d.Security = append(d.Security, strings.Join(names, " and "))
				}
			}
			tags := op.Tags
			if len(tags) == 0 {
				tags = []string{"other"}
			}
			// An operation is listed under its first tag only.
			i := addTag(tags[0], "")
			p.Tags[i].Operations = append(p.Tags[i].Operations, d)
		}
	}
	// Tags that no operation uses are dropped.
	p.Tags = slices.DeleteFunc(p.Tags, func(t docTag) bool { return len(t.Operations) == 0 })
	names := make([]string, 0, len(doc.Components.SecuritySchemes))
	for n := range doc.Components.SecuritySchemes {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		s := doc.Components.SecuritySchemes[n]
		desc := s.Description
		if desc == "" {
			desc = strings.TrimSpace(s.Type + " " + s.Scheme + " " + s.In + " " + s.Name)
		}
		p.Schemes = append(p.Schemes, docScheme{Name: n, Description: desc})
	}
	return p, nil
}

func (h *Handler) apiDocs(w http.ResponseWriter, r *http.Request) {
	rq := h.visitor(r)
	p, err := h.docs()
	if err != nil {
		h.fail(w, r, rq, err)
		return
	}
	h.render(w, r, rq, http.StatusOK, "apidocs", p)
}

// visitor is the signed-in person at a browser, for a page that does not
// need one (nil for anyone else, or when they cannot be read: the page
// then shows no navigation).
func (h *Handler) visitor(r *http.Request) *request {
	a := actor.From(r.Context())
	if a.Anonymous() || a.UserID == 0 || a.ClientID != "" || a.Scopes != nil {
		return nil
	}
	me, err := h.d.Directory.Me(r.Context())
	if err != nil {
		return nil
	}
	roles, err := h.d.Directory.UserRoles(r.Context(), me.ID)
	if err != nil {
		return nil
	}
	rq := &request{Me: me, Roles: roles}
	rq.Nav, rq.Active = h.nav(roles, r.URL.Path)
	return rq
}
