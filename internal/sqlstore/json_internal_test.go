package sqlstore

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestPlainStringsAgreesWithEncodingJSON(t *testing.T) {
	for _, in := range []string{`[]`, `["a"]`, `["openid","patient/*.rs"]`, `["a","b","c"]`, `[""]`,
		`["a\"b"]`, `["\u00e9"]`, `[ "a" ]`, `["a",]`, `["a"`, `[1]`, `null`, `["a""b"]`, "[\"\t\"]"} {
		got, ok := plainStrings(in)
		var want []string
		err := json.Unmarshal([]byte(in), &want)
		if !ok {
			// Anything refused goes to encoding/json, which then decides.
			continue
		}
		if err != nil {
			t.Errorf("plainStrings(%q) accepted what encoding/json refuses: %v", in, err)
			continue
		}
		if len(want) == 0 {
			want = nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("plainStrings(%q) = %q, encoding/json says %q", in, got, want)
		}
	}
	if _, ok := plainStrings(`["openid","fhirUser"]`); !ok {
		t.Error("a plain list took the slow path")
	}
}

func FuzzPlainStrings(f *testing.F) {
	for _, s := range []string{`["a","b"]`, `[]`, `["a\"b"]`, `[""]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := plainStrings(in)
		if !ok {
			return
		}
		var want []string
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", in, err)
		}
		if len(want) == 0 {
			want = nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("plainStrings(%q) = %q, want %q", in, got, want)
		}
	})
}
