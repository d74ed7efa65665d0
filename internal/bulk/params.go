package bulk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"ward/internal/apperr"
	"ward/internal/fhir"
	"ward/internal/fhir/search"
)

// OutputFormat is the one output format ward writes; the spec's
// abbreviations of it are accepted at kick-off.
const OutputFormat = "application/fhir+ndjson"

// outputFormats are the _outputFormat values Bulk Data 2.0 says a server
// must accept for NDJSON.
var outputFormats = map[string]bool{OutputFormat: true, "application/ndjson": true, "ndjson": true}

// Kick-off parameter names (Bulk Data 2.0, "Query Parameters").
const (
	paramOutputFormat = "_outputFormat"
	paramSince        = "_since"
	paramType         = "_type"
	paramTypeFilter   = "_typeFilter"
	paramPatient      = "patient"
)

// Limits on a kick-off, so a hostile request stays cheap.
const (
	// maxPatients bounds the patient parameter.
	maxPatients = 1000
	// maxTypeFilters bounds the _typeFilter values.
	maxTypeFilters = 50
	// maxValueLen bounds one parameter value.
	maxValueLen = 4096
)

// Request is a checked kick-off request.
type Request struct {
	Level   Level
	GroupID string
	Since   time.Time
	// Types are the _type values, deduplicated, in the order given; nil
	// when _type was not given.
	Types []string
	// TypeFilters are the _typeFilter values as given; Filters the same
	// parsed, by type.
	TypeFilters []string
	Filters     map[string][]search.Query
	// Patients are the patient parameter's ids; nil when not given.
	Patients []int64
	// Ignored lists the parameters skipped under Prefer: handling=lenient,
	// in name order; each is reported in the manifest's error array.
	Ignored []Ignored
}

// Ignored is one kick-off parameter skipped under Prefer: handling=lenient.
type Ignored struct {
	// Name is the parameter's name.
	Name string
	// Why says why it was skipped, for the client.
	Why string
}

// instantRE is FHIR R4's instant: a date-time with seconds and a zone.
var instantRE = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$`)

// parseInstant reads a FHIR instant. A query string's unescaped '+' arrives
// as a space; at the zone's position it can only have been a '+', so it is
// read as one.
func parseInstant(v string) (time.Time, error) {
	if n := len(v); n > 6 && v[n-6] == ' ' {
		v = v[:n-6] + "+" + v[n-5:]
	}
	if !instantRE.MatchString(v) {
		return time.Time{}, apperr.New(apperr.Invalid, "%s must be a FHIR instant such as 2024-01-31T09:00:00Z, got %s", paramSince, quote(v))
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, apperr.New(apperr.Invalid, "%s %s is not a valid instant", paramSince, quote(v))
	}
	return t.UTC(), nil
}

// quote shows a client value in an error: quoted, escaped, cut short.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return fmt.Sprintf("%q", strings.ToValidUTF8(s, "\uFFFD"))
}

// parseRequest checks the kick-off parameters. values holds every
// parameter but patient, whose references come in patients (POST only).
// exportable are the types this level may export; lenient skips unknown
// parameters instead of refusing them. base is the server's FHIR base URL:
// a patient reference must be on this server.
func parseRequest(level Level, groupID string, values url.Values, patients []string, exportable []string, lenient bool, base string) (*Request, error) {
	req := &Request{Level: level, GroupID: groupID}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		vs := values[k]
		for _, v := range vs {
			if len(v) > maxValueLen {
				return nil, apperr.New(apperr.Invalid, "parameter %s is longer than %d bytes", quote(k), maxValueLen)
			}
		}
		switch k {
		case paramOutputFormat:
			if len(vs) != 1 {
				return nil, apperr.New(apperr.Invalid, "%s may be given once", paramOutputFormat)
			}
			if !outputFormats[vs[0]] {
				// Under lenient handling the export is written in the one
				// format ward has, and the client is told so.
				if lenient {
					req.Ignored = append(req.Ignored, Ignored{Name: k,
						Why: fmt.Sprintf("%s %s is not supported; the files are %s", paramOutputFormat, quote(vs[0]), OutputFormat)})
					continue
				}
				return nil, apperr.New(apperr.Invalid, "%s %s is not supported; use %s", paramOutputFormat, quote(vs[0]), OutputFormat)
			}
		case paramSince:
			if len(vs) != 1 {
				return nil, apperr.New(apperr.Invalid, "%s may be given once", paramSince)
			}
			t, err := parseInstant(vs[0])
			if err != nil {
				return nil, err
			}
			req.Since = t
		case paramType:
			for _, v := range vs {
				for _, typ := range strings.Split(v, ",") {
					typ = strings.TrimSpace(typ)
					if !slices.Contains(exportable, typ) {
						if level != LevelSystem && typ != "" {
							return nil, apperr.New(apperr.Invalid, "%s %s is not a resource type a %s-level export can include", paramType, quote(typ), level)
						}
						return nil, apperr.New(apperr.Invalid, "%s %s is not a supported resource type", paramType, quote(typ))
					}
					if !slices.Contains(req.Types, typ) {
						req.Types = append(req.Types, typ)
					}
				}
			}
		case paramTypeFilter:
			// Filters are parsed once every _type is known.
		default:
			if lenient {
				req.Ignored = append(req.Ignored, Ignored{Name: k, Why: fmt.Sprintf("parameter %s is not supported and was ignored", quote(k))})
				continue
			}
			return nil, apperr.New(apperr.Invalid, "parameter %s is not supported", quote(k))
		}
	}
	if err := req.parseTypeFilters(values[paramTypeFilter], exportable); err != nil {
		return nil, err
	}
	if len(patients) > 0 {
		if level == LevelSystem {
			return nil, apperr.New(apperr.Invalid, "%s applies only to Patient- and Group-level exports", paramPatient)
		}
		if len(patients) > maxPatients {
			return nil, apperr.New(apperr.Invalid, "at most %d %s values are accepted", maxPatients, paramPatient)
		}
		req.Patients = []int64{}
		for _, ref := range patients {
			id, err := fhir.ParseReferenceID(&fhir.Reference{Reference: ref}, "Patient", paramPatient, base)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(req.Patients, id) {
				req.Patients = append(req.Patients, id)
			}
		}
	}
	return req, nil
}

// parseTypeFilters reads each "Type?query" value with the FHIR search
// parser. Result parameters (_count, _sort, ...) make no sense in an export
// and are refused with the rest.
func (req *Request) parseTypeFilters(values []string, exportable []string) error {
	if len(values) > maxTypeFilters {
		return apperr.New(apperr.Invalid, "at most %d %s values are accepted", maxTypeFilters, paramTypeFilter)
	}
	for _, v := range values {
		typ, query, ok := strings.Cut(v, "?")
		if !ok || typ == "" {
			return apperr.New(apperr.Invalid, "%s %s must be a resource type, '?' and search parameters", paramTypeFilter, quote(v))
		}
		if !slices.Contains(exportable, typ) {
			return apperr.New(apperr.Invalid, "%s %s names %s, which this export cannot include", paramTypeFilter, quote(v), quote(typ))
		}
		if req.Types != nil && !slices.Contains(req.Types, typ) {
			return apperr.New(apperr.Invalid, "%s %s names %s, which is not among %s", paramTypeFilter, quote(v), typ, paramType)
		}
		q, err := parseFilter(typ, query)
		if err != nil {
			return apperr.New(apperr.Invalid, "%s %s: %s", paramTypeFilter, quote(v), apperr.Message(err))
		}
		if req.Filters == nil {
			req.Filters = map[string][]search.Query{}
		}
		req.Filters[typ] = append(req.Filters[typ], q)
		req.TypeFilters = append(req.TypeFilters, v)
	}
	return nil
}

// parseFilter parses one _typeFilter query for typ.
func parseFilter(typ, query string) (search.Query, error) {
	vals, err := url.ParseQuery(query)
	if err != nil {
		return search.Query{}, apperr.New(apperr.Invalid, "the search parameters are not a valid query string")
	}
	if len(vals) == 0 {
		return search.Query{}, apperr.New(apperr.Invalid, "no search parameters")
	}
	q, err := search.Parse(typ, vals)
	if err != nil {
		return search.Query{}, err
	}
	if q.Count != 0 || q.Summary != search.SummaryNone || q.Sort != nil || q.Cursor != "" {
		return search.Query{}, apperr.New(apperr.Invalid, "only filter parameters are allowed, not _count, _summary, _sort or _cursor")
	}
	return q, nil
}

// parseFilters parses an export's stored _typeFilter values again, for the
// job.
func parseFilters(raw []string) (map[string][]search.Query, error) {
	out := map[string][]search.Query{}
	for _, v := range raw {
		typ, query, _ := strings.Cut(v, "?")
		q, err := parseFilter(typ, query)
		if err != nil {
			return nil, fmt.Errorf("stored %s %s: %w", paramTypeFilter, quote(v), err)
		}
		out[typ] = append(out[typ], q)
	}
	return out, nil
}

// parameters is the Parameters resource of a POST kick-off, with the value
// types Bulk Data 2.0 gives its parameters.
type parameters struct {
	ResourceType string          `json:"resourceType"`
	ID           string          `json:"id,omitempty"`
	Meta         json.RawMessage `json:"meta,omitempty"`
	Parameter    []parameter     `json:"parameter"`
}

type parameter struct {
	Name           string          `json:"name"`
	ValueString    *string         `json:"valueString,omitempty"`
	ValueInstant   *string         `json:"valueInstant,omitempty"`
	ValueCode      *string         `json:"valueCode,omitempty"`
	ValueBoolean   *bool           `json:"valueBoolean,omitempty"`
	ValueReference *fhir.Reference `json:"valueReference,omitempty"`
}

// DecodeParameters reads a POST kick-off's Parameters body into the
// values and patient references KickOff takes.
func DecodeParameters(body []byte) (url.Values, []string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var p parameters
	if err := dec.Decode(&p); err != nil {
		return nil, nil, apperr.New(apperr.Invalid, "the body must be a FHIR Parameters resource: %s", quote(err.Error()))
	}
	if dec.More() {
		return nil, nil, apperr.New(apperr.Invalid, "the body holds more than one JSON value")
	}
	if p.ResourceType != "Parameters" {
		return nil, nil, apperr.New(apperr.Invalid, "the body must be a Parameters resource, not %s", quote(p.ResourceType))
	}
	values := url.Values{}
	var patients []string
	for i, pa := range p.Parameter {
		set := 0
		for _, ok := range []bool{pa.ValueString != nil, pa.ValueInstant != nil, pa.ValueCode != nil,
			pa.ValueBoolean != nil, pa.ValueReference != nil} {
			if ok {
				set++
			}
		}
		if pa.Name == "" || set != 1 {
			return nil, nil, apperr.New(apperr.Invalid, "Parameters.parameter[%d] needs a name and exactly one value", i)
		}
		want := func(ok bool, kind string) error {
			if !ok {
				return apperr.New(apperr.Invalid, "parameter %s must have a %s", pa.Name, kind)
			}
			return nil
		}
		var err error
		switch pa.Name {
		case paramSince:
			if err = want(pa.ValueInstant != nil, "valueInstant"); err == nil {
				values.Add(pa.Name, *pa.ValueInstant)
			}
		case paramOutputFormat, paramType, paramTypeFilter:
			if err = want(pa.ValueString != nil, "valueString"); err == nil {
				values.Add(pa.Name, *pa.ValueString)
			}
		case paramPatient:
			if err = want(pa.ValueReference != nil, "valueReference"); err == nil {
				patients = append(patients, pa.ValueReference.Reference)
			}
		default:
			// Unknown (or unsupported, like _elements) parameters go on to
			// parseRequest, which refuses or, when lenient, ignores them.
			values.Add(pa.Name, "")
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return values, patients, nil
}
