package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// formControl is one input, select or textarea of a form, as a browser
// would see it when the form is submitted.
type formControl struct {
	Name    string
	Type    string // lower-case input type; "select" or "textarea" for those
	Value   string
	Checked bool
}

// formButton is a named submit button.
type formButton struct {
	Name, Value string
}

// htmlForm is a <form> of a page: where it goes and what it carries.
type htmlForm struct {
	Action  *url.URL // resolved against the page URL
	Method  string   // "GET" or "POST"
	ID      string
	Inputs  []formControl
	Buttons []formButton
}

// hasPassword reports whether the form has a password field (a sign-in form).
func (f *htmlForm) hasPassword() bool {
	for _, in := range f.Inputs {
		if in.Type == "password" {
			return true
		}
	}
	return false
}

// button returns the submit button with that name and value, if any.
func (f *htmlForm) button(name, value string) (formButton, bool) {
	for _, b := range f.Buttons {
		if b.Name == name && b.Value == value {
			return b, true
		}
	}
	return formButton{}, false
}

// values returns what a browser would send when submitter (nil: none, or
// an unnamed button) submits the form: every enabled control with a name,
// checkboxes and radios only when checked. A radio group with nothing
// checked sends its first choice, as a user would have picked one.
func (f *htmlForm) values(submitter *formButton) url.Values {
	v := url.Values{}
	radioChecked := map[string]bool{}
	for _, in := range f.Inputs {
		if in.Type == "radio" && in.Checked {
			radioChecked[in.Name] = true
		}
	}
	for _, in := range f.Inputs {
		if in.Name == "" {
			continue
		}
		switch in.Type {
		case "submit", "image", "button", "reset", "file":
			continue
		case "checkbox":
			if !in.Checked {
				continue
			}
		case "radio":
			if !in.Checked {
				if radioChecked[in.Name] {
					continue
				}
				radioChecked[in.Name] = true
			}
		}
		v.Add(in.Name, in.Value)
	}
	if submitter != nil && submitter.Name != "" {
		v.Add(submitter.Name, submitter.Value)
	}
	return v
}

// parseForms returns the forms of the HTML page read from r, which was
// fetched from page. Controls associated with a form by a form="id"
// attribute outside it are attached to that form.
func parseForms(r io.Reader, page *url.URL) ([]*htmlForm, error) {
	doc, err := html.Parse(r)
	if err != nil {
		return nil, fmt.Errorf("parse HTML: %w", err)
	}
	var forms []*htmlForm
	byID := map[string]*htmlForm{}
	type pending struct {
		formID string
		node   *html.Node
	}
	var detached []pending

	var walk func(n *html.Node, cur *htmlForm)
	walk = func(n *html.Node, cur *htmlForm) {
		if n.Type == html.ElementNode {
			if n.DataAtom == atom.Form {
				f := newForm(n, page)
				forms = append(forms, f)
				if f.ID != "" {
					byID[f.ID] = f
				}
				cur = f
			} else if isControl(n) {
				if id, ok := attr(n, "form"); ok {
					detached = append(detached, pending{id, n})
				} else if cur != nil {
					addControl(cur, n)
				}
				if n.DataAtom != atom.Select && n.DataAtom != atom.Button {
					return // an input has no children; a textarea's are its text
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, cur)
		}
	}
	walk(doc, nil)
	for _, p := range detached {
		if f := byID[p.formID]; f != nil {
			addControl(f, p.node)
		}
	}
	return forms, nil
}

func newForm(n *html.Node, page *url.URL) *htmlForm {
	f := &htmlForm{Action: page, Method: "GET"}
	if m, _ := attr(n, "method"); strings.EqualFold(strings.TrimSpace(m), "post") {
		f.Method = "POST"
	}
	if a, ok := attr(n, "action"); ok && strings.TrimSpace(a) != "" {
		if u, err := page.Parse(strings.TrimSpace(a)); err == nil {
			f.Action = u
		}
	}
	f.ID, _ = attr(n, "id")
	return f
}

func isControl(n *html.Node) bool {
	switch n.DataAtom {
	case atom.Input, atom.Button, atom.Select, atom.Textarea:
		return true
	}
	return false
}

// addControl records n (an input, button, select or textarea) in f.
func addControl(f *htmlForm, n *html.Node) {
	if _, disabled := attr(n, "disabled"); disabled {
		return
	}
	name, _ := attr(n, "name")
	value, hasValue := attr(n, "value")
	switch n.DataAtom {
	case atom.Button:
		typ, _ := attr(n, "type")
		typ = strings.ToLower(strings.TrimSpace(typ))
		if typ == "" || typ == "submit" {
			f.Buttons = append(f.Buttons, formButton{Name: name, Value: value})
		}
	case atom.Input:
		typ, _ := attr(n, "type")
		typ = strings.ToLower(strings.TrimSpace(typ))
		if typ == "" {
			typ = "text"
		}
		if typ == "submit" || typ == "image" {
			f.Buttons = append(f.Buttons, formButton{Name: name, Value: value})
			return
		}
		if (typ == "checkbox" || typ == "radio") && !hasValue {
			value = "on"
		}
		_, checked := attr(n, "checked")
		f.Inputs = append(f.Inputs, formControl{Name: name, Type: typ, Value: value, Checked: checked})
	case atom.Textarea:
		f.Inputs = append(f.Inputs, formControl{Name: name, Type: "textarea", Value: text(n)})
	case atom.Select:
		f.Inputs = append(f.Inputs, formControl{Name: name, Type: "select", Value: selected(n)})
	}
}

// selected returns the value of a single select: its selected option, or
// else its first enabled one.
func selected(sel *html.Node) string {
	var first, chosen *html.Node
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil && chosen == nil; c = c.NextSibling {
			if c.Type != html.ElementNode {
				continue
			}
			if c.DataAtom == atom.Option {
				if _, dis := attr(c, "disabled"); dis {
					continue
				}
				if first == nil {
					first = c
				}
				if _, sel := attr(c, "selected"); sel {
					chosen = c
				}
				continue
			}
			walk(c) // <optgroup>
		}
	}
	walk(sel)
	if chosen == nil {
		chosen = first
	}
	if chosen == nil {
		return ""
	}
	if v, ok := attr(chosen, "value"); ok {
		return v
	}
	return strings.TrimSpace(text(chosen))
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && strings.EqualFold(a.Key, key) {
			return a.Val, true
		}
	}
	return "", false
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}
