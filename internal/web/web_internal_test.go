package web

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"ward/internal/apperr"
)

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

type noSessions struct{ Sessions }

type noDirectory struct{ Directory }

// A lost database connection is a 503 page with Retry-After, not a 500.
func TestFailUnavailable(t *testing.T) {
	h, err := New(Deps{Sessions: noSessions{}, Directory: noDirectory{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		err    error
		status int
		retry  string
	}{
		{apperr.Wrap(apperr.Unavailable, io.ErrUnexpectedEOF, "the database is unavailable; retry shortly"), http.StatusServiceUnavailable, "1"},
		{errors.New("boom"), http.StatusInternalServerError, ""},
	} {
		w := httptest.NewRecorder()
		h.fail(w, httptest.NewRequest("POST", "/login", nil), tt.err)
		if w.Code != tt.status || w.Header().Get("Retry-After") != tt.retry {
			t.Errorf("%v: got %d Retry-After %q, want %d %q", tt.err, w.Code, w.Header().Get("Retry-After"), tt.status, tt.retry)
		}
	}
}
