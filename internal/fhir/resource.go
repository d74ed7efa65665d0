package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"ward/internal/apperr"
)

// Resource is implemented by every resource type in this package, so that
// generic code (bundles, handlers) can name a resource without reflection.
type Resource interface {
	// ResourceType is the R4 resourceType, e.g. "Patient".
	ResourceType() string
	// ResourceID is the logical id, "" before the resource is stored.
	ResourceID() string
}

// FieldError names the element an Invalid error is about as a FHIRPath
// expression (e.g. "Patient.birthDate"). It travels as the cause of an
// apperr error so that OutcomeFromError can fill issue.expression.
type FieldError struct {
	Expression string
	Err        error
}

func (e *FieldError) Error() string {
	if e.Err == nil {
		return e.Expression
	}
	return e.Expression + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

// invalidField returns an Invalid error whose safe message is msg and whose
// cause names the element at expr.
func invalidField(expr, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return apperr.Wrap(apperr.Invalid, &FieldError{Expression: expr, Err: errors.New(msg)}, "%s", msg)
}

// maxDecodeErrorField bounds how much of an offending field name is echoed
// back, so a hostile body cannot make the error message arbitrarily large.
const maxDecodeErrorField = 64

// decodeStrict decodes data, which must hold one JSON object whose
// resourceType is want, into v (a pointer to the resource's wire form, which
// must declare every allowed top-level member including resourceType).
// Unknown members, wrong types, malformed JSON and trailing data are all
// apperr.Invalid with a message naming the problem.
func decodeStrict(data []byte, want string, v any) error {
	rt, err := probeResourceType(data)
	if err != nil {
		return err
	}
	switch {
	case rt == nil:
		return invalidField(want, "resourceType is required and must be %s", want)
	case *rt != want:
		return invalidField(want+".resourceType", "resourceType must be %s, got %s", want, clip(*rt))
	}

	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(want, err)
	}
	// A second value after the object is not a resource; refuse it rather
	// than ignore what the client may think it sent.
	if _, err := dec.Token(); err != io.EOF {
		return apperr.New(apperr.Invalid, "unexpected data after the %s resource at byte offset %d", want, dec.InputOffset())
	}
	// encoding/json matches member names case-insensitively, so "Gender"
	// would fill gender; FHIR names are case-sensitive, and the update rule
	// reads presence by exact name, so such a member must be refused.
	var generic any
	if err := json.Unmarshal(data, &generic); err != nil {
		return decodeError(want, err)
	}
	return checkExactNames(generic, reflect.TypeOf(v), want)
}

// checkExactNames walks the decoded JSON value alongside the Go type it was
// decoded into and refuses any object member whose name is not exactly a
// declared JSON name. Values held as raw JSON or interfaces are not walked.
func checkExactNames(v any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch x := v.(type) {
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return nil
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				name := clip(k)
				return apperr.Wrap(apperr.Invalid, &FieldError{Expression: path + "." + name, Err: errors.New("unknown field")},
					"unknown field %q in %s (FHIR names are case-sensitive)", name, clip(path))
			}
			if err := checkExactNames(x[k], ft, path+"."+k); err != nil {
				return err
			}
		}
	case []any:
		if t.Kind() != reflect.Slice || t == rawMessageType {
			return nil
		}
		for i, item := range x {
			if err := checkExactNames(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

var rawMessageType = reflect.TypeOf(json.RawMessage(nil))

// jsonFields maps each JSON member name of struct type t to its field type,
// following encoding/json: embedded structs without a name promote their
// fields, and a shallower field wins over a promoted one.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	var embedded []reflect.Type
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				embedded = append(embedded, ft)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	for _, et := range embedded {
		for name, ft := range jsonFields(et) {
			if _, ok := out[name]; !ok {
				out[name] = ft
			}
		}
	}
	return out
}

// probeResourceType checks that data is one well-formed JSON object and
// returns its resourceType (nil when absent or null).
func probeResourceType(data []byte) (*string, error) {
	if !json.Valid(data) {
		// json.Valid does not say where; Unmarshal's SyntaxError does.
		var x any
		err := json.Unmarshal(data, &x)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, apperr.Wrap(apperr.Invalid, err, "malformed JSON at byte offset %d: %s", se.Offset, se.Error())
		}
		return nil, apperr.Wrap(apperr.Invalid, err, "malformed JSON")
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, apperr.Wrap(apperr.Invalid, err, "a resource must be a JSON object")
	}
	raw, ok := probe["resourceType"]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	var rt string
	if err := json.Unmarshal(raw, &rt); err != nil {
		return nil, invalidField("resourceType", "resourceType must be a string")
	}
	return &rt, nil
}

// decodeError turns an encoding/json error into an Invalid error naming the
// field and, where known, the byte offset.
func decodeError(rt string, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return apperr.Wrap(apperr.Invalid, err, "malformed JSON at byte offset %d", se.Offset)
	case errors.As(err, &te):
		expr := rt
		if f := fieldPath(te.Field); f != "" {
			expr = rt + "." + f
		}
		if te.Offset == 0 {
			// Raised by a type's own UnmarshalJSON (Decimal), which does
			// not know where it is in the input.
			return apperr.Wrap(apperr.Invalid, &FieldError{Expression: expr, Err: err},
				"%s: expected %s, got JSON %s", clip(expr), jsonKind(te.Type.String()), te.Value)
		}
		return apperr.Wrap(apperr.Invalid, &FieldError{Expression: expr, Err: err},
			"%s: expected %s, got JSON %s at byte offset %d", clip(expr), jsonKind(te.Type.String()), te.Value, te.Offset)
	}
	// encoding/json reports unknown members only as text:
	// `json: unknown field "name"`.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if f, uerr := strconv.Unquote(name); uerr == nil {
			name = f
		}
		name = clip(name)
		return apperr.Wrap(apperr.Invalid, &FieldError{Expression: rt + "." + name, Err: err},
			"unknown field %q in %s", name, rt)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return apperr.Wrap(apperr.Invalid, err, "malformed JSON: unexpected end of input")
	}
	return apperr.Wrap(apperr.Invalid, err, "invalid %s resource", rt)
}

// fieldPath turns encoding/json's Go field path into the JSON element path
// by dropping the embedded structs (DomainResource and the codec's wire
// types), which have no JSON name of their own.
func fieldPath(goPath string) string {
	var parts []string
	for _, p := range strings.Split(goPath, ".") {
		if p == "" || p == "DomainResource" || strings.HasSuffix(p, "Wire") {
			continue
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ".")
}

// jsonKind names a Go type the way a FHIR client thinks of it.
func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case goType == "fhir.Decimal":
		return "a number"
	case goType == "string" || goType == "json.Number":
		return "a string"
	case goType == "bool" || goType == "*bool":
		return "a boolean"
	case strings.Contains(goType, "int"):
		return "an integer"
	default:
		return "an object"
	}
}

// clip shortens s for inclusion in an error message.
func clip(s string) string {
	if len(s) <= maxDecodeErrorField {
		return s
	}
	return s[:maxDecodeErrorField] + "…"
}

// PresentFields returns the set of top-level member names in data, a JSON
// object. A member that is present with a null or empty value is in the set:
// for ward's update rule ("a field that is present replaces what was stored;
// absent fields keep their value") null and [] mean "clear".
func PresentFields(data []byte) (map[string]bool, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, apperr.Wrap(apperr.Invalid, err, "malformed JSON at byte offset %d", se.Offset)
		}
		return nil, apperr.Wrap(apperr.Invalid, err, "a resource must be a JSON object")
	}
	if top == nil {
		return nil, apperr.New(apperr.Invalid, "a resource must be a JSON object")
	}
	present := make(map[string]bool, len(top))
	for k := range top {
		present[k] = true
	}
	return present, nil
}

// referenceTo returns a Reference to type/id, made absolute under base when
// base is not empty.
func referenceTo(base, typ string, id int64) *Reference {
	ref := typ + "/" + strconv.FormatInt(id, 10)
	if base != "" {
		ref = strings.TrimRight(base, "/") + "/" + ref
	}
	return &Reference{Reference: ref}
}

// ParseReferenceID returns the numeric id of a literal reference to a
// resource of type typ on this server: "Organization/5", or the same under
// base (this server's FHIR base URL, "https://host/fhir/Organization/5"),
// either with "/_history/N". Every other absolute reference is Invalid
// naming expr: a URL on another server names another server's resource,
// which must never be read as the local resource with the same id, and ward
// has no transactions, so a urn:uuid: reference resolves to nothing. So are
// relative references with more segments than type/id and ids that are not
// positive integers (or overflow int64).
//
// Every mapping from FHIR into ward's domain reads references through this
// one function.
func ParseReferenceID(ref *Reference, typ, expr, base string) (int64, error) {
	if ref == nil || ref.Reference == "" {
		return 0, invalidField(expr, "%s must be a literal reference to %s/{id}", expr, typ)
	}
	gotType, rawID, err := localReference(ref.Reference, base)
	if err != nil {
		return 0, invalidField(expr, "%s must reference %s/{id} on this server: %v, got %q", expr, typ, err, clip(ref.Reference))
	}
	if gotType != typ {
		return 0, invalidField(expr, "%s must reference %s/{id}, got %q", expr, typ, clip(ref.Reference))
	}
	if ref.Type != "" && ref.Type != typ {
		return 0, invalidField(expr, "%s.type must be %s, got %q", expr, typ, clip(ref.Type))
	}
	id, err := parseID(rawID)
	if err != nil {
		return 0, invalidField(expr, "%s must reference %s/{id} with a numeric id, got %q", expr, typ, clip(ref.Reference))
	}
	return id, nil
}

// localReference splits a literal reference to a resource on this server
// into its type and id (see ParseReferenceID); the error says why anything
// else is not one.
func localReference(s, base string) (typ, id string, err error) {
	if i := strings.Index(s, "/_history/"); i >= 0 {
		s = s[:i]
	}
	if rest, ok := strings.CutPrefix(s, strings.TrimRight(base, "/")+"/"); ok && base != "" {
		s = rest
	} else if strings.Contains(s, ":") || strings.HasPrefix(s, "/") || strings.HasPrefix(s, "#") {
		// A scheme (https:, urn:), a host-relative or a contained
		// reference: nothing this server holds. A relative type/id has
		// no colon, since neither part may contain one.
		return "", "", errors.New("an absolute reference must start with this server's FHIR base")
	}
	typ, id, ok := strings.Cut(s, "/")
	if !ok || typ == "" || strings.Contains(id, "/") {
		return "", "", errors.New("a relative reference is type/id")
	}
	return typ, id, nil
}

// parseID parses a ward logical id: a positive decimal integer.
func parseID(s string) (int64, error) {
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, fmt.Errorf("id %q is not a positive integer", s)
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("id %q is not a positive integer", s)
	}
	return id, nil
}

// formatID renders a stored id as a FHIR id; 0 (not yet stored) is "".
func formatID(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}
