package search

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"ward/internal/apperr"
)

// Limits that keep a hostile query cheap. They are checked on the raw
// url.Values before any value is split or parsed. Real searches stay far
// below them: the longest value ward expects is an identifier system URL
// with its value.
const (
	// MaxParams bounds the number of name=value pairs in one query,
	// repeats included.
	MaxParams = 50
	// MaxOrValues bounds the comma-separated values in one pair.
	MaxOrValues = 20
	// MaxValueLen bounds one value, in bytes, before unescaping.
	MaxValueLen = 1024
	// MaxNameLen bounds a parameter name with its modifier.
	MaxNameLen = 64
	// MaxCount is the largest page size _count may ask for.
	MaxCount = 1000
	// MaxCursorLen bounds _cursor; ward's cursors are a few dozen bytes.
	MaxCursorLen = 512
)

// Parse checks the search parameters q for resourceType and returns them as
// a Query. Any problem (an unknown parameter or modifier, a bad prefix,
// date, reference or escape, an empty value, _count out of range, a limit
// passed) makes it return an apperr.Invalid error that names every refused
// parameter; Issues lists them one by one. q is not modified.
func Parse(resourceType string, q url.Values) (Query, error) {
	if _, ok := typeParams[resourceType]; !ok {
		return Query{}, apperr.New(apperr.Invalid, "resource type %s is not searchable", quote(resourceType))
	}
	if issues := checkLimits(q); len(issues) > 0 {
		return Query{}, invalid(issues)
	}

	p := parser{q: Query{ResourceType: resourceType}}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p.param(k, q[k])
	}
	if len(p.issues) > 0 {
		return Query{}, invalid(p.issues)
	}
	slices.SortStableFunc(p.q.Clauses, func(a, b Clause) int { return strings.Compare(a.Param, b.Param) })
	return p.q, nil
}

// checkLimits looks only at sizes and characters, so that the cost of a
// refused query is one pass over its bytes.
func checkLimits(q url.Values) IssueList {
	n := 0
	for _, vs := range q {
		n += len(vs)
	}
	if n > MaxParams || len(q) > MaxParams {
		return IssueList{{Param: "(query)", Reason: "has " + strconv.Itoa(n) + " parameters; at most " + strconv.Itoa(MaxParams) + " are allowed"}}
	}
	var l IssueList
	for k, vs := range q {
		if len(k) > MaxNameLen {
			l = append(l, Issue{Param: cutName(k), Reason: "parameter name is longer than " + strconv.Itoa(MaxNameLen) + " bytes"})
			continue
		}
		if r := badChars(k); r != "" {
			l = append(l, Issue{Param: k, Reason: "parameter name " + r})
			continue
		}
		for _, v := range vs {
			switch {
			case len(v) > MaxValueLen:
				l = append(l, Issue{Param: k, Reason: "value is longer than " + strconv.Itoa(MaxValueLen) + " bytes"})
			case strings.Count(v, ",") >= MaxOrValues:
				l = append(l, Issue{Param: k, Reason: "has more than " + strconv.Itoa(MaxOrValues) + " comma-separated values"})
			default:
				if r := badChars(v); r != "" {
					l = append(l, Issue{Param: k, Reason: "value " + r})
				}
			}
		}
	}
	sortIssues(l)
	return l
}

// badChars refuses invalid UTF-8 and control characters: no search value
// needs them, PostgreSQL refuses NUL in text (which would surface as a 500),
// and they make log lines and messages lie.
func badChars(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return "holds a control character"
		}
	}
	return ""
}

// cutName shortens an over-long parameter name for an Issue, at a rune
// boundary, so an OperationOutcome never echoes kilobytes back.
func cutName(k string) string {
	cut := MaxNameLen
	for cut > 0 && !utf8.RuneStart(k[cut]) {
		cut--
	}
	return k[:cut] + "…"
}

func sortIssues(l IssueList) {
	slices.SortStableFunc(l, func(a, b Issue) int { return strings.Compare(a.Param, b.Param) })
}

// parser gathers the Query and every issue, so the client hears about all
// its mistakes at once rather than one per round trip.
type parser struct {
	q      Query
	issues IssueList
}

func (p *parser) fail(key, reason string) {
	p.issues = append(p.issues, Issue{Param: key, Reason: reason})
}

// param handles every value of one query key.
func (p *parser) param(key string, values []string) {
	code, mod, hasMod := strings.Cut(key, ":")
	if code == "" {
		p.fail(key, "parameter has no name")
		return
	}
	switch code {
	case "_format", "_pretty":
		// Response shaping, read by the handler (which serves only JSON and
		// may pretty-print); accepted so that clients that always send them
		// are not refused.
		if hasMod {
			p.fail(key, code+" takes no modifier")
		}
		return
	case "_count", "_summary", "_sort", "_cursor":
		if hasMod {
			p.fail(key, code+" takes no modifier")
			return
		}
		if len(values) != 1 {
			p.fail(key, "may be given only once")
			return
		}
		if values[0] == "" {
			p.fail(key, "has an empty value")
			return
		}
		p.result(key, code, values[0])
		return
	}
	def, ok := lookup(p.q.ResourceType, code)
	if !ok {
		switch {
		case strings.Contains(code, "."):
			p.fail(key, "chained parameters are not supported")
		default:
			p.fail(key, "is not a search parameter ward supports on "+p.q.ResourceType+" (supported: "+supported(p.q.ResourceType)+")")
		}
		return
	}
	c := Clause{Param: code, Kind: def.Kind}
	var refType string
	if hasMod {
		switch {
		case def.Kind == KindString && (mod == string(ModifierExact) || mod == string(ModifierContains)):
			c.Modifier = Modifier(mod)
		case def.Kind == KindReference && slices.Contains(def.Targets, mod):
			refType = mod
		case def.Kind == KindString:
			p.fail(key, "has unknown modifier "+quote(mod)+" (string parameters take :exact or :contains)")
			return
		case def.Kind == KindReference:
			p.fail(key, "has unknown modifier "+quote(mod)+" (the only modifier is the target type: "+strings.Join(def.Targets, ", ")+")")
			return
		default:
			p.fail(key, "has unknown modifier "+quote(mod)+" ("+def.Kind.String()+" parameters take none)")
			return
		}
	}
	for _, v := range values {
		if v == "" {
			// Ignoring it, as some servers do, would widen the search.
			p.fail(key, "has an empty value")
			continue
		}
		parts, reason := splitOr(v)
		if reason != "" {
			p.fail(key, "value "+quote(v)+" "+reason)
			continue
		}
		cl := c
		if reason := cl.fill(def, refType, parts); reason != "" {
			p.fail(key, reason)
			continue
		}
		p.q.Clauses = append(p.q.Clauses, cl)
	}
}

// fill parses the ORed parts of one value into c, or gives the reason the
// first bad part is refused.
func (c *Clause) fill(def Param, refType string, parts []string) string {
	for _, raw := range parts {
		if raw == "" {
			return "has an empty value between commas"
		}
		switch def.Kind {
		case KindString:
			c.Strings = append(c.Strings, unescape(raw))
		case KindToken:
			t, reason := parseToken(def, raw)
			if reason != "" {
				return "value " + quote(unescape(raw)) + " " + reason
			}
			c.Tokens = append(c.Tokens, t)
		case KindReference:
			r, reason := parseReference(def, refType, unescape(raw))
			if reason != "" {
				return "value " + quote(unescape(raw)) + " " + reason
			}
			c.References = append(c.References, r)
		case KindDate:
			d, reason := parseDate(unescape(raw))
			if reason != "" {
				return "value " + quote(unescape(raw)) + " " + reason
			}
			c.Dates = append(c.Dates, d)
		}
	}
	return ""
}

func parseToken(def Param, raw string) (Token, string) {
	left, right, pipe, reason := splitPipe(raw)
	if reason != "" {
		return Token{}, reason
	}
	if def.Code == "_id" {
		if pipe {
			return Token{}, "must be a resource id, without a system"
		}
		id := unescape(left)
		if !validID(id) {
			return Token{}, "is not a resource id (1 to 64 of A-Z a-z 0-9 - .)"
		}
		return Token{Match: TokenCode, Code: id}, ""
	}
	var t Token
	sys, code := unescape(left), unescape(right)
	switch {
	case !pipe:
		t = Token{Match: TokenCode, Code: sys}
	case sys == "" && code == "":
		return Token{}, `gives neither a system nor a code around "|"`
	case sys == "":
		t = Token{Match: TokenNoSystem, Code: code}
	case code == "":
		t = Token{Match: TokenSystemOnly, System: sys}
	default:
		t = Token{Match: TokenSystemAndCode, System: sys, Code: code}
	}
	if def.check != nil {
		if reason := def.check(t); reason != "" {
			return Token{}, "is refused: " + reason
		}
	}
	return t, ""
}

// parseReference reads a local reference, id or Type/id. Absolute URLs and
// versioned references are refused: ward answers only for its own
// resources, and comparing base URLs is the handler's job if it ever is.
func parseReference(def Param, refType, v string) (Reference, string) {
	if strings.Contains(v, "://") || strings.HasPrefix(v, "urn:") {
		return Reference{}, "is an absolute reference; give id or Type/id"
	}
	typ, id, typed := strings.Cut(v, "/")
	if !typed {
		typ, id = "", v
	}
	if strings.Contains(id, "/") {
		return Reference{}, "must be id or Type/id"
	}
	if typed && !slices.Contains(def.Targets, typ) {
		return Reference{}, "refers to " + quote(typ) + "; " + def.Code + " may refer only to " + strings.Join(def.Targets, ", ")
	}
	if refType != "" {
		if typed && typ != refType {
			return Reference{}, "refers to " + quote(typ) + " but the modifier says " + refType
		}
		typ = refType
	}
	if typ == "" && len(def.Targets) == 1 {
		typ = def.Targets[0]
	}
	if !validID(id) {
		return Reference{}, "does not end in a resource id (1 to 64 of A-Z a-z 0-9 - .)"
	}
	return Reference{Type: typ, ID: id}, ""
}

// validID is the FHIR id syntax: [A-Za-z0-9\-\.]{1,64}.
func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// result handles the parameters that shape the result rather than filter it.
func (p *parser) result(key, code, v string) {
	switch code {
	case "_count":
		n, err := strconv.Atoi(v)
		if len(v) > 4 || err != nil || !allDigits(v) || n < 1 || n > MaxCount {
			p.fail(key, "must be a whole number from 1 to "+strconv.Itoa(MaxCount))
			return
		}
		p.q.Count = n
	case "_summary":
		switch v {
		case "count":
			p.q.Summary = SummaryCount
		case "false":
			p.q.Summary = SummaryFalse
		default:
			p.fail(key, "value "+quote(v)+" is not supported; use count or false")
		}
	case "_sort":
		var keys []SortKey
		for f := range strings.SplitSeq(v, ",") {
			var k SortKey
			switch f {
			case "_lastUpdated":
				k = SortKey{Param: "_lastUpdated"}
			case "-_lastUpdated":
				k = SortKey{Param: "_lastUpdated", Descending: true}
			case "_id":
				k = SortKey{Param: "_id"}
			default:
				p.fail(key, "cannot sort by "+quote(f)+"; use _lastUpdated, -_lastUpdated or _id")
				return
			}
			if slices.ContainsFunc(keys, func(o SortKey) bool { return o.Param == k.Param }) {
				p.fail(key, "names "+k.Param+" twice")
				return
			}
			keys = append(keys, k)
		}
		p.q.Sort = keys
	case "_cursor":
		if len(v) > MaxCursorLen || !cursorChars(v) {
			p.fail(key, "is not a cursor this server handed out")
			return
		}
		p.q.Cursor = v
	}
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// cursorChars is the URL-safe alphabet ward's cursors are written in
// (base64url and a few separators), so a cursor never needs escaping in
// the Bundle's next link.
func cursorChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || strings.IndexByte("-_.~=", c) >= 0) {
			return false
		}
	}
	return true
}

// supported lists the parameters of a type for the "unknown parameter"
// message, so the client learns what it could have asked.
func supported(resourceType string) string {
	names := []string{"_count", "_cursor", "_sort", "_summary"}
	for _, p := range Params(resourceType) {
		names = append(names, p.Code)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
