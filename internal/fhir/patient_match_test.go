package fhir

import (
	"strings"
	"testing"
	"unicode/utf8"

	"ward/internal/apperr"
	"ward/internal/matching"
)

func TestDecodeMatchRequest(t *testing.T) {
	req, err := DecodeMatchRequest([]byte(`{"resourceType":"Parameters","parameter":[
		{"name":"resource","resource":{"resourceType":"Patient","name":[{"use":"nickname","family":"Jo"},{"use":"official","family":"García","given":["José","Luis"]}],
		 "birthDate":"1975-04-08","gender":"male","identifier":[{"system":"urn:nhi","value":"N1"}],
		 "telecom":[{"system":"email","value":"a@b.org"},{"system":"phone","value":"555 010 2030"},{"system":"url","value":"http://x"}],
		 "address":[{"city":"Lyon","postalCode":"69001"}]}},
		{"name":"onlyCertainMatches","valueBoolean":true},
		{"name":"count","valueInteger":500}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !req.OnlyCertainMatches || req.Count != MatchMaxCount {
		t.Errorf("request %+v: count is capped at %d", req, MatchMaxCount)
	}
	r := MatchRecord(req.Patient)
	if r.Family != "García" || len(r.Given) != 2 || r.BirthDate != "1975-04-08" || r.Gender != "male" ||
		len(r.Identifiers) != 1 || len(r.Emails) != 1 || len(r.Phones) != 1 ||
		len(r.Addresses) != 1 || r.Addresses[0] != (matching.Address{PostalCode: "69001", City: "Lyon"}) {
		t.Errorf("record %+v", r)
	}
	if r := MatchRecord(&Patient{Name: []HumanName{{Text: "  José  Luis García "}}}); r.Family != "García" || len(r.Given) != 2 {
		t.Errorf("name from text: %+v", r)
	}
	long := MatchRecord(&Patient{Name: []HumanName{{Family: strings.Repeat("ż", 1000)}}})
	if len(long.Family) > maxMatchText || !utf8.ValidString(long.Family) {
		t.Errorf("a long name is kept at %d bytes (valid UTF-8: %v)", len(long.Family), utf8.ValidString(long.Family))
	}
	req, err = DecodeMatchRequest([]byte(`{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient"}}]}`))
	if err != nil || req.Count != MatchDefaultCount || req.OnlyCertainMatches {
		t.Errorf("defaults: %+v %v", req, err)
	}
}

// FuzzDecodeMatchRequest: never a panic, only Invalid errors, and a
// decoded request always holds a Patient and a count in range.
func FuzzDecodeMatchRequest(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient"}}]}`,
		`{"resourceType":"Parameters","parameter":[{"name":"count","valueInteger":3},{"name":"resource","resource":{"resourceType":"Patient","birthDate":"1980"}}]}`,
		`{"resourceType":"Parameters","parameter":[{"name":"onlyCertainMatches","valueBoolean":false}]}`,
		`{"resourceType":"Parameters"}`, `[]`, `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":[]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := DecodeMatchRequest(data)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("error is not Invalid: %v", err)
			}
			return
		}
		if req.Patient == nil || req.Count < 1 || req.Count > MatchMaxCount {
			t.Fatalf("request %+v", req)
		}
		matching.Score(MatchRecord(req.Patient), MatchRecord(req.Patient))
		matching.KeysFor(MatchRecord(req.Patient))
	})
}
