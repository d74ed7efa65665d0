package web

import "testing"

func TestSafeNext(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "/"},
		{"/", "/"},
		{"/admin/users?page=2", "/admin/users?page=2"},
		{"/oauth/authorize?client_id=a&redirect_uri=https%3A%2F%2Fapp.example%2Fcb", "/oauth/authorize?client_id=a&redirect_uri=https%3A%2F%2Fapp.example%2Fcb"},
		// Refused: anything a browser could read as another site.
		{"https://evil.example/", "/"},
		{"//evil.example/x", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"evil.example", "/"},
		{"http:/evil.example", "/"},
	}
	for _, tt := range tests {
		if got := SafeNext(tt.in); got != tt.want {
			t.Errorf("SafeNext(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "//x", "/a?b=c", "https://x", "/\\x", "/%2F%2Fx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := SafeNext(in)
		if got == "/" {
			return
		}
		if got != in {
			t.Fatalf("SafeNext(%q) = %q: must return the input or /", in, got)
		}
		if len(got) < 1 || got[0] != '/' || (len(got) > 1 && (got[1] == '/' || got[1] == '\\')) {
			t.Fatalf("SafeNext(%q) = %q: not a local path", in, got)
		}
	})
}
