package bulk

import (
	"net/url"
	"testing"

	"ward/internal/apperr"
)

var fuzzTypes = []string{"Patient", "Observation", "Organization"}

// The kick-off parser takes any query string without panicking, and
// refuses what it refuses as apperr.Invalid (a 400), never anything else.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"_type=Patient,Observation&_since=2024-01-01T00:00:00Z",
		"_typeFilter=Observation%3Fcode%3Da&_outputFormat=ndjson",
		"_since=2024-01-01T00:00:00 01:00",
		"_typeFilter=Observation%3F_count%3D5",
		"_elements=id",
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, raw string, lenient bool) {
		vals, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for _, level := range []Level{LevelSystem, LevelPatient} {
			req, err := parseRequest(level, "", vals, []string{"Patient/1"}, fuzzTypes, lenient, "https://ward.test/fhir")
			if err != nil {
				if !apperr.Is(err, apperr.Invalid) {
					t.Fatalf("%q: error of kind %v: %v", raw, apperr.KindOf(err), err)
				}
				continue
			}
			// What was accepted can be parsed again by the job.
			if _, err := parseFilters(req.TypeFilters); err != nil {
				t.Fatalf("%q: accepted filters do not parse again: %v", raw, err)
			}
		}
	})
}

// The POST body decoder takes any bytes without panicking.
func FuzzDecodeParameters(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Parameters","parameter":[{"name":"_type","valueString":"Patient"}]}`,
		`{"resourceType":"Parameters","parameter":[{"name":"patient","valueReference":{"reference":"Patient/1"}}]}`,
		`{"resourceType":"Parameters","parameter":[{"name":"_since","valueInstant":"2024-01-01T00:00:00Z"}]}`,
		`{"resourceType":"Patient"}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		vals, patients, err := DecodeParameters(body)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("error of kind %v: %v", apperr.KindOf(err), err)
			}
			return
		}
		if _, err := parseRequest(LevelPatient, "", vals, patients, fuzzTypes, false, "https://ward.test/fhir"); err != nil && !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("error of kind %v: %v", apperr.KindOf(err), err)
		}
	})
}
