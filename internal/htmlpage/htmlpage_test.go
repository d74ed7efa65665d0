package htmlpage_test

import (
	"html/template"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"ward/internal/htmlpage"
)

func TestWrite(t *testing.T) {
	tmpl := template.Must(template.New("x").Parse(`{{define "layout"}}<p>{{.Name}}</p>{{end}}`))
	for _, tc := range []struct {
		name       string
		data       any
		wantStatus int
		wantBody   string
		wantType   string
	}{
		{"a page", struct{ Name string }{"<Ada>"}, http.StatusTeapot, "<p>&lt;Ada&gt;</p>", "text/html; charset=utf-8"},
		// A template that fails halfway writes nothing of itself.
		{"a template error", struct{}{}, http.StatusInternalServerError, "internal error\n", "text/plain; charset=utf-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			htmlpage.Write(rec, httptest.NewRequest("GET", "/", nil), slog.New(slog.DiscardHandler), tmpl, "x", http.StatusTeapot, "default-src 'none'", tc.data)
			if rec.Code != tc.wantStatus || rec.Body.String() != tc.wantBody || rec.Header().Get("Content-Type") != tc.wantType {
				t.Errorf("got %d %q (%s), want %d %q (%s)", rec.Code, rec.Body, rec.Header().Get("Content-Type"), tc.wantStatus, tc.wantBody, tc.wantType)
			}
			if tc.wantStatus != http.StatusInternalServerError {
				if got := rec.Header().Get("Content-Security-Policy"); got != "default-src 'none'" {
					t.Errorf("CSP = %q", got)
				}
				if got := rec.Header().Get("Cache-Control"); !strings.Contains(got, "no-store") {
					t.Errorf("Cache-Control = %q", got)
				}
			}
		})
	}
}
