package scope

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"ward/internal/apperr"
)

// Kind says which family a scope belongs to.
type Kind int

const (
	// KindOther is any well-formed scope token ward does not interpret
	// (including offline_access and online_access): it is granted only when
	// registered verbatim.
	KindOther Kind = iota
	// KindResource is a SMART clinical-data scope: context/Type.perms, or an
	// operation scope such as system/*.$export.
	KindResource
	// KindLaunch is "launch" (EHR launch) or "launch/<context>" (standalone
	// launch asking for a context such as the patient to be chosen).
	KindLaunch
	// KindOpenID is an identity scope: openid, fhirUser, profile, email.
	KindOpenID
)

// String names the kind for logs and tests.
func (k Kind) String() string {
	switch k {
	case KindResource:
		return "resource"
	case KindLaunch:
		return "launch"
	case KindOpenID:
		return "openid"
	default:
		return "other"
	}
}

// Context is the first part of a resource scope: whose data it reaches.
type Context string

const (
	// ContextPatient limits access to the patient in context.
	ContextPatient Context = "patient"
	// ContextUser gives what the signed-in user may see.
	ContextUser Context = "user"
	// ContextSystem is for backend services acting with no user.
	ContextSystem Context = "system"
)

// Perm is a set of SMART v2 permissions.
type Perm uint8

// The permissions, in the order SMART v2 requires them to be written.
const (
	PermCreate Perm = 1 << iota
	PermRead
	PermUpdate
	PermDelete
	PermSearch

	// PermAll is every permission: v2 "cruds", v1 "*".
	PermAll = PermCreate | PermRead | PermUpdate | PermDelete | PermSearch
)

// permLetters is the v2 alphabet; index i is the letter of bit 1<<i.
const permLetters = "cruds"

// String gives the v2 letters of p in canonical order ("" for none).
func (p Perm) String() string {
	var b strings.Builder
	for i := range len(permLetters) {
		if p&(1<<i) != 0 {
			b.WriteByte(permLetters[i])
		}
	}
	return b.String()
}

// DocumentType is the one non-FHIR type a scope may name: OpenEMR's
// system/Document.read, the right to download exported documents' content.
const DocumentType = "Document"

// WildcardType is the resource type that stands for every type.
const WildcardType = "*"

// TaskType is the one resource type whose scopes may name a workflow
// action instead of permissions (system/Task.certify, seed 002).
const TaskType = "Task"

// TaskActions are the workflow actions a Task scope may name, one scope
// each: system/Task.validate, .register, .certify, .issue, .reject (and the
// user/ forms). An action scope grants that action only, never read or
// write, and no cruds scope grants an action: certifying a birth is a
// decision of its own, not an update. internal/workflow's transition table
// names the same actions (its tests check the two agree).
var TaskActions = []string{"validate", "register", "certify", "issue", "reject"}

// IsTaskAction reports whether name is one of TaskActions.
func IsTaskAction(name string) bool { return slices.Contains(TaskActions, name) }

// Bulk Data operation names as they appear in scopes (seed 004).
const (
	OpExport         = "$export"
	OpBulkDataStatus = "$bulkdata-status"
)

// Well-known non-resource scope names.
const (
	OpenID        = "openid"
	FHIRUser      = "fhirUser"
	Profile       = "profile"
	Email         = "email"
	Launch        = "launch"
	LaunchPatient = "launch/patient"
	OfflineAccess = "offline_access"
	OnlineAccess  = "online_access"
)

// Limits that keep a hostile scope parameter from costing much; no real
// scope comes near them.
const (
	MaxScopeLen  = 1024
	MaxListLen   = 16 << 10
	MaxListCount = 256
	maxTypeLen   = 64
)

// Scope is one parsed scope. Compare scopes with Equal, not ==: Query is a map.
type Scope struct {
	Kind Kind
	// Name is the whole token for every kind but KindResource ("openid",
	// "launch/patient", "offline_access"); empty for resource scopes.
	Name string
	// LaunchContext is what a KindLaunch scope asks for ("patient" for
	// launch/patient); empty for the bare EHR "launch" scope.
	LaunchContext string

	// The fields below are set for KindResource only.

	Context Context
	// ResourceType is a FHIR resource type name or WildcardType.
	ResourceType string
	// Perms is empty exactly when Operation or Action is set.
	Perms Perm
	// Operation is a FHIR operation name with its "$" (OpExport); an
	// operation scope grants that operation only, never read or write.
	Operation string
	// Action is a workflow action on Task (one of TaskActions, no "$"):
	// system/Task.certify. Like an operation it grants that action only.
	// Exactly one of Perms, Operation and Action is set.
	Action string
	// Query is the v2 search-parameter restriction: access is limited to
	// resources that match all of it. Nil when unrestricted.
	Query url.Values

	// Raw is the text the scope was parsed from (v1 or v2), kept for error
	// messages and for echoing a request back; String is the canonical form.
	Raw string
}

// String gives the canonical form: v2 permissions, query parameters sorted.
func (s Scope) String() string {
	if s.Kind != KindResource {
		return s.Name
	}
	var b strings.Builder
	b.WriteString(string(s.Context))
	b.WriteByte('/')
	b.WriteString(s.ResourceType)
	b.WriteByte('.')
	switch {
	case s.Operation != "":
		b.WriteString(s.Operation)
	case s.Action != "":
		b.WriteString(s.Action)
	default:
		b.WriteString(s.Perms.String())
	}
	if len(s.Query) > 0 {
		b.WriteByte('?')
		b.WriteString(encodeQuery(s.Query))
	}
	return b.String()
}

// Equal reports whether s and o mean the same thing, whatever syntax they
// were written in (Raw is ignored).
func (s Scope) Equal(o Scope) bool {
	return s.Kind == o.Kind && s.Name == o.Name && s.LaunchContext == o.LaunchContext &&
		s.Context == o.Context && s.ResourceType == o.ResourceType &&
		s.Perms == o.Perms && s.Operation == o.Operation && s.Action == o.Action &&
		encodeQuery(s.Query) == encodeQuery(o.Query)
}

// ParseError says which scope was refused and which part of it was wrong.
// It unwraps to an apperr.Invalid so the edges map it to invalid_scope or a
// 400 without knowing this type.
type ParseError struct {
	Scope  string // the offending scope, as given
	Part   string // "scope", "context", "resource type", "permissions", "operation", "action", "query", "launch context"
	Value  string // the offending part's text
	Reason string
}

// Error names the scope, the bad part and why it is bad.
func (e *ParseError) Error() string {
	if e.Part == "scope" {
		return fmt.Sprintf("invalid scope %q: %s", e.Scope, e.Reason)
	}
	return fmt.Sprintf("invalid scope %q: %s %q: %s", e.Scope, e.Part, e.Value, e.Reason)
}

// Unwrap exposes the error as apperr.Invalid.
func (e *ParseError) Unwrap() error {
	return &apperr.Error{Kind: apperr.Invalid, Message: e.Error()}
}

func perr(s, part, value, reason string) error {
	return &ParseError{Scope: s, Part: part, Value: value, Reason: reason}
}

// Parse reads one scope token. It accepts SMART v1 and v2 resource scopes,
// operation scopes, launch and identity scopes, and any other token RFC 6749
// §3.3 allows (as KindOther). A token that starts like a resource scope
// ("word/...") but is not a valid one is an error, never KindOther, so a
// typo cannot pass as an opaque scope.
func Parse(s string) (Scope, error) {
	if s == "" {
		return Scope{}, perr(s, "scope", s, "empty scope")
	}
	if len(s) > MaxScopeLen {
		return Scope{}, perr(s[:32]+"…", "scope", "", fmt.Sprintf("longer than %d bytes", MaxScopeLen))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c == '"' || c == '\\' || c > 0x7e {
			return Scope{}, perr(s, "scope", "", fmt.Sprintf("character %q at byte %d is not allowed in a scope (RFC 6749 §3.3)", c, i))
		}
	}
	switch s {
	case OpenID, FHIRUser, Profile, Email:
		return Scope{Kind: KindOpenID, Name: s, Raw: s}, nil
	case Launch:
		return Scope{Kind: KindLaunch, Name: s, Raw: s}, nil
	}
	slash := strings.IndexByte(s, '/')
	if slash < 0 || !isLetters(s[:slash]) {
		return Scope{Kind: KindOther, Name: s, Raw: s}, nil
	}
	if s[:slash] == "launch" {
		ctx := s[slash+1:]
		if ctx == "" || !isLower(ctx) {
			return Scope{}, perr(s, "launch context", ctx, "must be lower-case letters, as in launch/patient")
		}
		return Scope{Kind: KindLaunch, Name: s, LaunchContext: ctx, Raw: s}, nil
	}
	return parseResource(s, s[:slash], s[slash+1:])
}

func parseResource(raw, ctx, rest string) (Scope, error) {
	sc := Scope{Kind: KindResource, Raw: raw}
	switch Context(ctx) {
	case ContextPatient, ContextUser, ContextSystem:
		sc.Context = Context(ctx)
	default:
		return Scope{}, perr(raw, "context", ctx, "unknown context; want patient, user or system")
	}
	rest, query, hasQuery := strings.Cut(rest, "?")
	typ, perms, ok := strings.Cut(rest, ".")
	if !ok {
		return Scope{}, perr(raw, "scope", "", `missing "." between resource type and permissions`)
	}
	if err := checkType(raw, typ); err != nil {
		return Scope{}, err
	}
	sc.ResourceType = typ
	switch {
	case perms == "":
		return Scope{}, perr(raw, "permissions", perms, "missing; want v2 letters from cruds or v1 read, write or *")
	case perms[0] == '$':
		if !isOperationName(perms[1:]) {
			return Scope{}, perr(raw, "operation", perms, "must be $ followed by a letter, then letters, digits or hyphens")
		}
		if hasQuery {
			return Scope{}, perr(raw, "query", query, "operation scopes take no query")
		}
		sc.Operation = perms
		return sc, nil
	case IsTaskAction(perms):
		if typ != TaskType {
			return Scope{}, perr(raw, "action", perms, "workflow actions are scopes on Task only, as in system/Task."+perms)
		}
		if sc.Context == ContextPatient {
			// A workflow action is a registrar's decision about a
			// declaration, never the declarant's own.
			return Scope{}, perr(raw, "action", perms, "workflow actions are system/ or user/ scopes, not patient/")
		}
		if hasQuery {
			return Scope{}, perr(raw, "query", query, "action scopes take no query")
		}
		sc.Action = perms
		return sc, nil
	case perms == "read" || perms == "write" || perms == "*":
		if hasQuery {
			return Scope{}, perr(raw, "query", query, "query restrictions need v2 permissions (cruds)")
		}
		sc.Perms = v1Perms(perms)
	default:
		p, err := parseV2Perms(raw, perms)
		if err != nil {
			return Scope{}, err
		}
		sc.Perms = p
	}
	if hasQuery {
		q, err := parseQuery(raw, query)
		if err != nil {
			return Scope{}, err
		}
		sc.Query = q
		// Decoding and re-encoding can lengthen a query; refuse what would
		// not parse back, so String is always a valid scope.
		if len(sc.String()) > MaxScopeLen {
			return Scope{}, perr(raw, "query", query, fmt.Sprintf("canonical form longer than %d bytes", MaxScopeLen))
		}
	}
	return sc, nil
}

func checkType(raw, typ string) error {
	if typ == WildcardType {
		return nil
	}
	if typ == "" {
		return perr(raw, "resource type", typ, "missing; want a FHIR resource type or *")
	}
	if len(typ) > maxTypeLen || typ[0] < 'A' || typ[0] > 'Z' || !isAlnum(typ) {
		return perr(raw, "resource type", typ, "want a FHIR resource type name (a capital letter, then letters and digits) or *")
	}
	if !r4Types[typ] && typ != DocumentType {
		return perr(raw, "resource type", typ, "not a FHIR R4 resource type")
	}
	return nil
}

// v1Perms maps SMART v1 permissions to v2 as the spec's migration table
// does: read is read+search, write is create+update+delete.
func v1Perms(perms string) Perm {
	switch perms {
	case "read":
		return PermRead | PermSearch
	case "write":
		return PermCreate | PermUpdate | PermDelete
	default: // "*"
		return PermAll
	}
}

// parseV2Perms enforces the SMART v2 rule that each of c, r, u, d, s appears
// at most once and in that order: "sr" is refused, not reordered, because the
// spec makes it invalid and a lenient parser invites confusion about intent.
func parseV2Perms(raw, perms string) (Perm, error) {
	var p Perm
	last := -1
	for i := 0; i < len(perms); i++ {
		pos := strings.IndexByte(permLetters, perms[i])
		if pos < 0 {
			return 0, perr(raw, "permissions", perms, fmt.Sprintf("%q is not one of c, r, u, d, s (or v1 read, write, *)", perms[i]))
		}
		if pos <= last {
			return 0, perr(raw, "permissions", perms, "letters must appear at most once each, in the order c, r, u, d, s")
		}
		last = pos
		p |= 1 << pos
	}
	return p, nil
}

func parseQuery(raw, query string) (url.Values, error) {
	if query == "" {
		return nil, perr(raw, "query", query, `empty query after "?"`)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, perr(raw, "query", query, err.Error())
	}
	if len(q) == 0 {
		return nil, perr(raw, "query", query, "no search parameters")
	}
	for k, vs := range q {
		if k == "" || !isParamName(k) {
			return nil, perr(raw, "query", query, fmt.Sprintf("parameter name %q: want letters, digits, _ . : -", k))
		}
		for _, v := range vs {
			if v == "" {
				return nil, perr(raw, "query", query, fmt.Sprintf("parameter %q has no value", k))
			}
			if !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				return nil, perr(raw, "query", query, fmt.Sprintf("parameter %q has a value with invalid characters", k))
			}
		}
	}
	return q, nil
}

// ParseList parses a space-separated scope parameter (RFC 6749 §3.3).
// Repeated spaces are tolerated; scopes that mean the same (v1 and v2
// spellings of one grant) are kept once, first spelling wins. Every bad
// token is reported, joined into one error. An empty string gives no scopes.
func ParseList(s string) ([]Scope, error) {
	if len(s) > MaxListLen {
		return nil, apperr.New(apperr.Invalid, "scope list longer than %d bytes", MaxListLen)
	}
	var (
		out  []Scope
		errs []error
		seen = map[string]bool{}
	)
	for tok := range strings.SplitSeq(s, " ") {
		if tok == "" {
			continue
		}
		if len(out)+len(errs) >= MaxListCount {
			return nil, apperr.New(apperr.Invalid, "more than %d scopes", MaxListCount)
		}
		sc, err := Parse(tok)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if key := sc.String(); !seen[key] {
			seen[key] = true
			out = append(out, sc)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// Join gives the canonical, space-separated form of scopes, as a token
// response's scope field carries it.
func Join(scopes []Scope) string {
	parts := make([]string, len(scopes))
	for i, s := range scopes {
		parts[i] = s.String()
	}
	return strings.Join(parts, " ")
}

// Contains reports whether scopes hold the non-resource scope name
// (OpenID, OfflineAccess, LaunchPatient, …).
func Contains(scopes []Scope, name string) bool {
	return slices.ContainsFunc(scopes, func(s Scope) bool { return s.Kind != KindResource && s.Name == name })
}

// encodeQuery is url.Values.Encode with a smaller escape set, so the common
// token form system|code stays readable in a canonical scope. Keys are
// sorted; values keep their order.
func encodeQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			escapeTo(&b, k)
			b.WriteByte('=')
			escapeTo(&b, v)
		}
	}
	return b.String()
}

// escapeTo percent-encodes every byte that url.ParseQuery would not give
// back unchanged or that a scope token may not hold.
func escapeTo(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlnumByte(c) || strings.IndexByte("-._~:/|,@!$'()*", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
}

func isAlnumByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnumByte(s[i]) {
			return false
		}
	}
	return true
}

func isLetters(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func isLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

func isOperationName(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isAlnumByte(s[i]) && s[i] != '-' {
			return false
		}
	}
	return true
}

func isParamName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnumByte(s[i]) && strings.IndexByte("_.:-", s[i]) < 0 {
			return false
		}
	}
	return true
}
