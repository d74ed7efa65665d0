package fhir

import (
	"testing"

	"ward/internal/apperr"
)

// fuzzDecoder is the property every decoder of this package holds:
// decoding never panics and fails only with Invalid, and what decodes
// re-encodes to JSON that decodes to the same encoding.
func fuzzDecoder(f *testing.F, typ string) {
	decode := decoders[typ]
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decode(data)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("decode error is not Invalid: %v", err)
			}
			return
		}
		reencode(t, v, decode)
	})
}

// FuzzDecodePractitioner fuzzes DecodePractitioner (seeds in testdata/fuzz).
func FuzzDecodePractitioner(f *testing.F) { fuzzDecoder(f, "Practitioner") }

// FuzzDecodeGroup fuzzes DecodeGroup.
func FuzzDecodeGroup(f *testing.F) { fuzzDecoder(f, "Group") }

// FuzzDecodeObservation fuzzes DecodeObservation.
func FuzzDecodeObservation(f *testing.F) { fuzzDecoder(f, "Observation") }

// FuzzDecodeProcedure fuzzes DecodeProcedure.
func FuzzDecodeProcedure(f *testing.F) { fuzzDecoder(f, "Procedure") }

// FuzzDecodeConsent fuzzes DecodeConsent.
func FuzzDecodeConsent(f *testing.F) { fuzzDecoder(f, "Consent") }

// FuzzDecodeDocumentReference fuzzes DecodeDocumentReference.
func FuzzDecodeDocumentReference(f *testing.F) { fuzzDecoder(f, "DocumentReference") }

// FuzzDecodeBinary fuzzes DecodeBinary; what decodes also yields its content.
func FuzzDecodeBinary(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBinary(data)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("decode error is not Invalid: %v", err)
			}
			return
		}
		reencode(t, b, decoders["Binary"])
		content, err := b.Content()
		if err != nil {
			t.Fatalf("Content of a decoded Binary: %v", err)
		}
		if again := NewBinary(b.ContentType, content); again.Data != "" {
			if got, err := again.Content(); err != nil || string(got) != string(content) {
				t.Fatalf("content does not survive re-encoding: %v", err)
			}
		}
	})
}

// FuzzDecodeCapabilityStatement fuzzes DecodeCapabilityStatement.
func FuzzDecodeCapabilityStatement(f *testing.F) { fuzzDecoder(f, "CapabilityStatement") }

// FuzzDecodeTask fuzzes DecodeTask.
func FuzzDecodeTask(f *testing.F) { fuzzDecoder(f, "Task") }
