package search

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Values writes q back as search parameters in one canonical form, for the
// self and next links of a searchset Bundle (the spec asks the self link to
// show the parameters the server actually used). Parse(q.ResourceType,
// q.Values()) gives q back for every q that Parse returned, and the
// canonical form is never longer than what was parsed, so it stays within
// the limits. Dates are written in UTC at the precision they were given.
func (q Query) Values() url.Values {
	v := url.Values{}
	for _, c := range q.Clauses {
		key := c.Param
		if c.Modifier != ModifierNone {
			key += ":" + string(c.Modifier)
		}
		parts := make([]string, 0, max(len(c.Strings), len(c.Tokens), len(c.References), len(c.Dates)))
		switch c.Kind {
		case KindString:
			for _, s := range c.Strings {
				// Only '\' and ',' need escaping in a string: '|' and '$'
				// are delimiters in tokens and composites, not here.
				parts = append(parts, escape(s, `\,`))
			}
		case KindToken:
			for _, t := range c.Tokens {
				parts = append(parts, encodeToken(t))
			}
		case KindReference:
			for _, r := range c.References {
				if r.Type == "" {
					parts = append(parts, r.ID)
				} else {
					parts = append(parts, r.Type+"/"+r.ID)
				}
			}
		case KindDate:
			for _, d := range c.Dates {
				parts = append(parts, encodeDate(d))
			}
		}
		v[key] = append(v[key], strings.Join(parts, ","))
	}
	if q.Count > 0 {
		v.Set("_count", strconv.Itoa(q.Count))
	}
	switch q.Summary {
	case SummaryCount:
		v.Set("_summary", "count")
	case SummaryFalse:
		v.Set("_summary", "false")
	}
	if len(q.Sort) > 0 {
		keys := make([]string, len(q.Sort))
		for i, k := range q.Sort {
			keys[i] = k.Param
			if k.Descending {
				keys[i] = "-" + k.Param
			}
		}
		v.Set("_sort", strings.Join(keys, ","))
	}
	if q.Cursor != "" {
		v.Set("_cursor", q.Cursor)
	}
	return v
}

func encodeToken(t Token) string {
	const special = `\,|`
	switch t.Match {
	case TokenSystemAndCode:
		return escape(t.System, special) + "|" + escape(t.Code, special)
	case TokenNoSystem:
		return "|" + escape(t.Code, special)
	case TokenSystemOnly:
		return escape(t.System, special) + "|"
	default:
		return escape(t.Code, special)
	}
}

// escape puts a '\' before each byte of s found in special.
func escape(s, special string) string {
	if !strings.ContainsAny(s, special) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(special, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func encodeDate(d Date) string {
	s := d.Start.UTC()
	var out string
	switch d.Precision {
	case PrecisionYear:
		out = s.Format("2006")
	case PrecisionMonth:
		out = s.Format("2006-01")
	case PrecisionDay:
		out = s.Format("2006-01-02")
	case PrecisionMinute:
		out = s.Format("2006-01-02T15:04Z")
	case PrecisionSecond:
		out = s.Format("2006-01-02T15:04:05Z")
	default:
		// The range is one unit of the last digit written; count digits
		// from it so that .50 stays .50 (a 10 ms range), not .5.
		n := 0
		for unit := d.End.Sub(d.Start); unit < time.Second && n < 9; unit *= 10 {
			n++
		}
		out = s.Format("2006-01-02T15:04:05." + strings.Repeat("0", n) + "Z")
	}
	if d.Prefix == PrefixEq {
		return out
	}
	return string(d.Prefix) + out
}
