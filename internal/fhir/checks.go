package fhir

import (
	"encoding/base64"
	"strings"
)

// choice is one variant of a choice element (value[x], effective[x]...):
// its JSON name and whether the decoded resource set it.
type choice struct {
	name string
	set  bool
}

// checkChoice refuses a resource that gives more than one variant of the
// choice element expr: R4 allows at most one, and the JSON Schema does not
// say so.
func checkChoice(expr string, variants ...choice) error {
	var got []string
	for _, v := range variants {
		if v.set {
			got = append(got, v.name)
		}
	}
	if len(got) > 1 {
		return invalidField(expr, "%s takes one variant, got %s", expr, strings.Join(got, " and "))
	}
	return nil
}

// checkBase64 refuses a base64Binary value that is not base64 (standard
// alphabet, padded; R4 allows whitespace between the groups).
func checkBase64(expr, s string) error {
	if s == "" {
		return nil
	}
	if _, err := decodeBase64(s); err != nil {
		return invalidField(expr, "%s is not valid base64", expr)
	}
	return nil
}

// decodeBase64 decodes an R4 base64Binary value.
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
	return base64.StdEncoding.Strict().DecodeString(s)
}

// nonNegative refuses a negative value of an R4 unsignedInt element (the
// JSON Schema gives unsignedInt only a pattern, which a number escapes).
func nonNegative(expr string, n *int64) error {
	if n != nil && *n < 0 {
		return invalidField(expr, "%s must not be negative", expr)
	}
	return nil
}

// base64Encode encodes content as an R4 base64Binary value.
func base64Encode(content []byte) string {
	return base64.StdEncoding.EncodeToString(content)
}
