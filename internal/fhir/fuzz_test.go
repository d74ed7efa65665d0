package fhir

import (
	"bytes"
	"encoding/json"
	"testing"

	"ward/internal/apperr"
	"ward/internal/directory"
)

// The seed corpus lives in testdata/fuzz/<FuzzName>/ (the spec examples and
// hand-picked edge cases); `go test` runs it as ordinary cases.

// FuzzDecodePatient: decoding never panics and fails only with Invalid; what
// decodes re-encodes to JSON that decodes to the same encoding; and the
// mapping onto a user never panics and fails only with Invalid.
func FuzzDecodePatient(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodePatient(data)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("decode error is not Invalid: %v", err)
			}
			return
		}
		reencode(t, p, func(b []byte) (any, error) { return DecodePatient(b) })

		present, err := PresentFields(data)
		if err != nil {
			t.Fatalf("PresentFields failed on a body DecodePatient accepted: %v", err)
		}
		u := &directory.User{ID: 1}
		if err := ApplyPatient(u, p, present, testBase); err != nil && !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("ApplyPatient error is not Invalid: %v", err)
		}
		if _, err := PatientOrganizationIDs(p, testBase); err != nil && !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("PatientOrganizationIDs error is not Invalid: %v", err)
		}
	})
}

// FuzzDecodeOrganization is FuzzDecodePatient for Organization.
func FuzzDecodeOrganization(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := DecodeOrganization(data)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("decode error is not Invalid: %v", err)
			}
			return
		}
		reencode(t, o, func(b []byte) (any, error) { return DecodeOrganization(b) })
		d, err := ToDirectoryOrganization(o, testBase)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("ToDirectoryOrganization error is not Invalid: %v", err)
			}
			return
		}
		// What the directory accepted renders back without error.
		if _, err := json.Marshal(OrganizationFromDirectory(d, "")); err != nil {
			t.Fatalf("encode mapped organization: %v", err)
		}
	})
}

// reencode checks that v encodes, that the encoding decodes, and that the
// second encoding is byte-identical to the first; it returns the encoding.
func reencode(t *testing.T, v any, decode func([]byte) (any, error)) []byte {
	t.Helper()
	once, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode decoded resource: %v", err)
	}
	v2, err := decode(once)
	if err != nil {
		t.Fatalf("decode of own encoding failed: %v\nencoding: %s", err, once)
	}
	twice, err := json.Marshal(v2)
	if err != nil {
		t.Fatalf("re-encode: %v", err)
	}
	if !bytes.Equal(once, twice) {
		t.Fatalf("encoding is not stable:\n once: %s\ntwice: %s", once, twice)
	}
	return once
}
