package server

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"ward/internal/fhir/rest"
)

// walkStrings calls fn for every string (keys included) in a decoded JSON
// value.
func walkStrings(v any, fn func(string)) {
	switch x := v.(type) {
	case string:
		fn(x)
	case []any:
		for _, e := range x {
			walkStrings(e, fn)
		}
	case map[string]any:
		for k, e := range x {
			fn(k)
			walkStrings(e, fn)
		}
	}
}

// FuzzJSONHasBadText (rest.HasBadJSONText, which the edge uses): whatever passes the check decodes to strings a
// database can store.
func FuzzJSONHasBadText(f *testing.F) {
	for _, s := range []string{`{"a":"b"}`, `{"a":"\u0000"}`, `{"a":"\\u0000"}`, `{"a":"\\\u0000"}`, "{\"a\":\"\xff\"}",
		`["\u0000"]`, `{"\u0000":1}`, `"\ud800"`, `{"a":"\u00e9\u65e5"}`, `{"a":"x\\"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if rest.HasBadJSONText(b) {
			return
		}
		var v any
		if json.Unmarshal(b, &v) != nil {
			return
		}
		walkStrings(v, func(s string) {
			if badText(s) {
				t.Fatalf("%q passed the check but decodes to %q", b, s)
			}
		})
	})
}

// FuzzBadPairs: whatever passes the check parses (as a query or a form
// body) to keys and values a database can store.
func FuzzBadPairs(f *testing.F) {
	for _, s := range []string{"a=b", "a=%00", "%00=a", "a=%zz&b=%00", "a=%ff", "a=%c0%80", "a=b+c&&=&x", "a=%E6%97%A5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if badPairs("query parameter", raw) != "" {
			return
		}
		vals, _ := url.ParseQuery(raw) // it keeps the pairs it could parse
		for k, vs := range vals {
			if badText(k) {
				t.Fatalf("%q passed but parses to key %q", raw, k)
			}
			for _, v := range vs {
				if badText(v) {
					t.Fatalf("%q passed but parses to value %q", raw, v)
				}
			}
		}
	})
}

// BenchmarkBadTextCheck measures the checks on a token request's form and
// on a 1 MiB FHIR JSON body (the scan the edge adds to every such request).
func BenchmarkBadTextCheck(b *testing.B) {
	form := "grant_type=authorization_code&code=ward_ac_0123456789abcdef0123456789abcdef&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk&client_id=app"
	json := []byte(`{"resourceType":"Observation","note":[{"text":"` + strings.Repeat(`Zoë \"quoted\" 日本 `, 1<<20/24) + `"}]}`)
	b.Run("form", func(b *testing.B) {
		b.SetBytes(int64(len(form)))
		for b.Loop() {
			if badPairs("form field", form) != "" {
				b.Fatal("refused")
			}
		}
	})
	b.Run("json-1MiB", func(b *testing.B) {
		b.SetBytes(int64(len(json)))
		for b.Loop() {
			if rest.HasBadJSONText(json) {
				b.Fatal("refused")
			}
		}
	})
}
