package search

import (
	"slices"
	"testing"
)

func TestSplitOr(t *testing.T) {
	tests := []struct {
		in   string
		want []string // nil: refused
	}{
		{"a", []string{"a"}},
		{"a,b", []string{"a", "b"}},
		{`a\,b,c`, []string{`a\,b`, "c"}},
		{`a\\,b`, []string{`a\\`, "b"}},
		{`\$\|`, []string{`\$\|`}},
		{",", []string{"", ""}},
		{`a\`, nil},
		{`a\b`, nil},
		{`\n`, nil},
	}
	for _, tc := range tests {
		got, reason := splitOr(tc.in)
		if tc.want == nil {
			if reason == "" {
				t.Errorf("splitOr(%q) = %q, want refused", tc.in, got)
			}
			continue
		}
		if reason != "" || !slices.Equal(got, tc.want) {
			t.Errorf("splitOr(%q) = %q, %q; want %q", tc.in, got, reason, tc.want)
		}
	}
}

func TestSplitPipeAndUnescape(t *testing.T) {
	tests := []struct {
		in          string
		left, right string
		pipe, bad   bool
	}{
		{"s|c", "s", "c", true, false},
		{`s\|x|c`, `s\|x`, "c", true, false},
		{`s\\|c`, `s\\`, "c", true, false},
		{"c", "c", "", false, false},
		{"|", "", "", true, false},
		{"a|b|c", "", "", false, true},
	}
	for _, tc := range tests {
		l, r, pipe, reason := splitPipe(tc.in)
		if (reason != "") != tc.bad || l != tc.left || r != tc.right || pipe != tc.pipe {
			t.Errorf("splitPipe(%q) = %q, %q, %v, %q", tc.in, l, r, pipe, reason)
		}
	}
	for in, want := range map[string]string{`a\,b`: "a,b", `\\`: `\`, `\|\$`: "|$", "plain": "plain"} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}
