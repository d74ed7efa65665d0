package fhir

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"ward/internal/matching"
)

// The $match parameters (R4 OperationDefinition Patient-match, a copy in
// r4spec/operation-patient-match.json): resource 1..1, onlyCertainMatches
// 0..1, count 0..1.
const (
	MatchParamResource      = "resource"
	MatchParamOnlyCertain   = "onlyCertainMatches"
	MatchParamCount         = "count"
	MatchDefaultCount       = 10
	MatchMaxCount           = 100
	maxMatchParameterCount  = 16
	matchParametersResource = "Parameters"
)

// MatchRequest is a checked Patient/$match request.
type MatchRequest struct {
	Patient            *Patient
	OnlyCertainMatches bool
	// Count is 1..MatchMaxCount (MatchDefaultCount when not given).
	Count int
}

// matchParameters is the Parameters resource $match takes, with the value
// types its parameters have; any other member is refused.
type matchParameters struct {
	ResourceType string           `json:"resourceType"`
	ID           string           `json:"id,omitempty"`
	Meta         *Meta            `json:"meta,omitempty"`
	Parameter    []matchParameter `json:"parameter,omitempty"`
}

type matchParameter struct {
	Name         string          `json:"name"`
	ValueBoolean *bool           `json:"valueBoolean,omitempty"`
	ValueInteger *int64          `json:"valueInteger,omitempty"`
	Resource     json.RawMessage `json:"resource,omitempty"`
}

// DecodeMatchRequest reads a $match body: a Parameters resource with a
// Patient as "resource". Without a Patient, with a parameter of the wrong
// type, repeated, or unknown, it is an apperr.Invalid error naming the
// problem. A count over MatchMaxCount is lowered to it (R4 lets the server
// decide how many to return); zero or less is refused.
func DecodeMatchRequest(body []byte) (*MatchRequest, error) {
	var p matchParameters
	if err := decodeStrict(body, matchParametersResource, &p); err != nil {
		return nil, err
	}
	if len(p.Parameter) > maxMatchParameterCount {
		return nil, invalidField("Parameters.parameter", "at most %d parameters", maxMatchParameterCount)
	}
	req := &MatchRequest{Count: MatchDefaultCount}
	seen := map[string]bool{}
	for i, pa := range p.Parameter {
		where := fmt.Sprintf("Parameters.parameter[%d]", i)
		if seen[pa.Name] {
			return nil, invalidField(where, "parameter %q is given more than once (0..1)", clip(pa.Name))
		}
		seen[pa.Name] = true
		switch pa.Name {
		case MatchParamResource:
			if len(pa.Resource) == 0 || string(pa.Resource) == "null" || pa.ValueBoolean != nil || pa.ValueInteger != nil {
				return nil, invalidField(where, "parameter %q must carry a Patient as resource", MatchParamResource)
			}
			// Strict, as for a create: a Patient with an unknown member is
			// refused, and the error names it (Patient.x).
			pt, err := DecodePatient(pa.Resource)
			if err != nil {
				return nil, err
			}
			req.Patient = pt
		case MatchParamOnlyCertain:
			if pa.ValueBoolean == nil || pa.ValueInteger != nil || len(pa.Resource) > 0 {
				return nil, invalidField(where, "parameter %q must be a valueBoolean", MatchParamOnlyCertain)
			}
			req.OnlyCertainMatches = *pa.ValueBoolean
		case MatchParamCount:
			if pa.ValueInteger == nil || pa.ValueBoolean != nil || len(pa.Resource) > 0 {
				return nil, invalidField(where, "parameter %q must be a valueInteger", MatchParamCount)
			}
			if *pa.ValueInteger < 1 {
				return nil, invalidField(where, "count must be at least 1")
			}
			req.Count = int(min(*pa.ValueInteger, MatchMaxCount))
		default:
			return nil, invalidField(where, "unknown parameter %q: $match takes resource, onlyCertainMatches and count", clip(pa.Name))
		}
	}
	if req.Patient == nil {
		return nil, invalidField("Parameters.parameter", "$match needs a Patient in the parameter named %q", MatchParamResource)
	}
	return req, nil
}

// MatchRecord is the query a Patient makes for matching: its first
// official (else usual, else first) name (its parts, else its text),
// birth date, gender, identifiers,
// emails, phones (phone and sms) and addresses.
func MatchRecord(p *Patient) matching.Record {
	r := matching.Record{BirthDate: p.BirthDate, Gender: p.Gender}
	if n := preferredName(p.Name); n != nil {
		r.Family, r.Given = n.Family, n.Given
		if r.Family == "" && len(r.Given) == 0 {
			// Only the text ("José García"): its last word is taken for
			// the family name, the others for given names.
			if words := strings.Fields(n.Text); len(words) > 0 {
				r.Family, r.Given = words[len(words)-1], words[:len(words)-1]
			}
		}
	}
	for _, id := range p.Identifier {
		r.Identifiers = append(r.Identifiers, matching.Identifier{System: id.System, Value: id.Value})
	}
	for _, t := range p.Telecom {
		switch t.System {
		case "email":
			r.Emails = append(r.Emails, t.Value)
		case "phone", "sms":
			r.Phones = append(r.Phones, t.Value)
		}
	}
	for _, a := range p.Address {
		r.Addresses = append(r.Addresses, matching.Address{PostalCode: a.PostalCode, City: a.City})
	}
	// Each list is compared with every candidate's: a hostile body with
	// thousands of entries must not multiply the work.
	r.Given = r.Given[:min(len(r.Given), maxMatchValues)]
	r.Identifiers = r.Identifiers[:min(len(r.Identifiers), maxMatchValues)]
	r.Emails = r.Emails[:min(len(r.Emails), maxMatchValues)]
	r.Phones = r.Phones[:min(len(r.Phones), maxMatchValues)]
	r.Addresses = r.Addresses[:min(len(r.Addresses), maxMatchValues)]
	// And each value is cut short: names are compared by Jaro-Winkler,
	// whose cost grows with the square of the length, once per candidate.
	r.Family, r.BirthDate, r.Gender = clipMatch(r.Family), clipMatch(r.BirthDate), clipMatch(r.Gender)
	for i := range r.Given {
		r.Given[i] = clipMatch(r.Given[i])
	}
	for i := range r.Identifiers {
		r.Identifiers[i] = matching.Identifier{System: clipMatch(r.Identifiers[i].System), Value: clipMatch(r.Identifiers[i].Value)}
	}
	for i := range r.Emails {
		r.Emails[i] = clipMatch(r.Emails[i])
	}
	for i := range r.Phones {
		r.Phones[i] = clipMatch(r.Phones[i])
	}
	for i := range r.Addresses {
		r.Addresses[i] = matching.Address{PostalCode: clipMatch(r.Addresses[i].PostalCode), City: clipMatch(r.Addresses[i].City)}
	}
	return r
}

// maxMatchText bounds each value of a $match query, in bytes.
const maxMatchText = 256

// clipMatch cuts s to at most maxMatchText bytes, at a rune boundary.
func clipMatch(s string) string {
	if len(s) <= maxMatchText {
		return s
	}
	cut := maxMatchText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// maxMatchValues bounds each list of a $match query; the first ones count.
const maxMatchValues = 32

func preferredName(names []HumanName) *HumanName {
	for _, use := range []string{"official", "usual"} {
		for i := range names {
			if names[i].Use == use {
				return &names[i]
			}
		}
	}
	if len(names) > 0 {
		return &names[0]
	}
	return nil
}
