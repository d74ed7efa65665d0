package httpauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/session"
)

// fakeSessions knows one token.
type fakeSessions struct {
	token string
	sess  session.Session
	err   error // returned for every call when set
}

func (f *fakeSessions) lookup(tok string) (*session.Session, error) {
	if f.err != nil {
		return nil, f.err
	}
	if tok != f.token {
		return nil, apperr.New(apperr.Unauthenticated, "session expired")
	}
	s := f.sess
	return &s, nil
}

func (f *fakeSessions) Authenticate(_ context.Context, tok string) (*session.Session, error) {
	return f.lookup(tok)
}

func (f *fakeSessions) Ping(_ context.Context, tok string) (*session.Session, error) {
	return f.lookup(tok)
}

// whoami answers with the acting user id, or "anonymous".
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	a := actor.From(r.Context())
	if a.Anonymous() {
		_, _ = w.Write([]byte("anonymous"))
		return
	}
	_ = json.NewEncoder(w).Encode(a.UserID)
})

func TestMiddleware(t *testing.T) {
	sessions := &fakeSessions{token: "good", sess: session.Session{UserID: 42}}
	h := NewMiddleware(nil, SessionExtractor{Sessions: sessions}).Wrap(whoami)

	tests := []struct {
		name        string
		cookie      string
		auth        []string
		wantStatus  int
		wantBody    string
		wantCleared bool
	}{
		{name: "no credential is anonymous", wantStatus: 200, wantBody: "anonymous"},
		{name: "live session", cookie: "good", wantStatus: 200, wantBody: "42\n"},
		{name: "stale session is anonymous and cleared", cookie: "old", wantStatus: 200, wantBody: "anonymous", wantCleared: true},
		{name: "basic passes through for the token endpoint", auth: []string{"Basic Y2xpZW50OnNlY3JldA=="}, wantStatus: 200, wantBody: "anonymous"},
		{name: "scheme without credentials", auth: []string{"Bearer"}, wantStatus: 401},
		{name: "scheme with blank credentials", auth: []string{"Bearer   "}, wantStatus: 401},
		{name: "bad scheme characters", auth: []string{"Be(arer x"}, wantStatus: 401},
		{name: "two headers", auth: []string{"Bearer a", "Bearer b"}, wantStatus: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/x", nil)
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: CookieName, Value: tt.cookie})
			}
			for _, v := range tt.auth {
				req.Header.Add("Authorization", v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %q)", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantStatus == 401 {
				var p Problem
				if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("Content-Type = %q, want application/problem+json", ct)
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != 401 || p.Detail == "" {
					t.Errorf("problem = %+v (%v), want status 401 with a detail", p, err)
				}
				return
			}
			if rec.Body.String() != tt.wantBody {
				t.Errorf("body = %q, want %q", rec.Body, tt.wantBody)
			}
			cleared := false
			for _, c := range rec.Result().Cookies() {
				if c.Name == CookieName && c.MaxAge < 0 {
					cleared = true
				}
			}
			if cleared != tt.wantCleared {
				t.Errorf("cookie cleared = %v, want %v", cleared, tt.wantCleared)
			}
		})
	}
}

func TestMiddlewareStoreFailureIs500(t *testing.T) {
	sessions := &fakeSessions{err: errors.New("database is down")}
	h := NewMiddleware(nil, SessionExtractor{Sessions: sessions}).Wrap(whoami)
	req := httptest.NewRequest("GET", "/x", nil)
	req.AddCookie(&http.Cookie{Name: CookieName, Value: "good"})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
	if body := rec.Body.String(); body == "" || strings.Contains(body, "database is down") {
		t.Errorf("body = %q, want a generic problem that hides the cause", body)
	}
}

// fixed is an extractor with a fixed answer; TestMiddlewareOrder uses it to prove the extractor order: the first that finds a credential decides.
type fixed struct {
	id    int64
	found bool
}

func (f fixed) Extract(http.ResponseWriter, *http.Request) (actor.Actor, bool, error) {
	return actor.Actor{UserID: f.id}, f.found, nil
}

func TestMiddlewareOrder(t *testing.T) {
	h := NewMiddleware(nil, fixed{1, false}, fixed{2, true}, fixed{3, true}).Wrap(whoami)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Body.String() != "2\n" {
		t.Errorf("acting user = %q, want the first extractor that found one (2)", rec.Body)
	}
}

func TestCookieAttributes(t *testing.T) {
	for _, secure := range []bool{false, true} {
		rec := httptest.NewRecorder()
		Cookies{Secure: secure}.Set(rec, "tok")
		cs := rec.Result().Cookies()
		if len(cs) != 1 {
			t.Fatalf("cookies = %v, want one", cs)
		}
		c := cs[0]
		if c.Name != CookieName || c.Value != "tok" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure != secure {
			t.Errorf("cookie = %+v, want ward_session=tok HttpOnly SameSite=Lax Path=/ Secure=%v", c, secure)
		}
	}
}

func TestPing(t *testing.T) {
	created := time.Date(2025, 1, 1, 8, 0, 0, 0, time.UTC)
	sessions := &fakeSessions{token: "good", sess: session.Session{UserID: 7, CreatedAt: created, LastSeen: created.Add(11*time.Hour + 30*time.Minute)}}
	h := PingHandler{Sessions: sessions, Idle: time.Hour, Absolute: 12 * time.Hour}

	tests := []struct {
		name       string
		cookie     string
		wantStatus int
	}{
		{"signed in", "good", 200},
		{"no cookie", "", 401},
		{"expired session", "old", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/api/ping", nil)
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: CookieName, Value: tt.cookie})
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if tt.wantStatus != 200 {
				return
			}
			var got struct {
				OK        bool      `json:"ok"`
				ExpiresAt time.Time `json:"expires_at"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("decode %q: %v", rec.Body, err)
			}
			// The absolute lifetime (20:00) comes before idle expiry (20:30).
			if want := created.Add(12 * time.Hour); !got.OK || !got.ExpiresAt.Equal(want) {
				t.Errorf("ping = %+v, want ok and expires_at %v", got, want)
			}
		})
	}
}

func TestExpiresAtIdleFirst(t *testing.T) {
	created := time.Date(2025, 1, 1, 8, 0, 0, 0, time.UTC)
	s := &session.Session{CreatedAt: created, LastSeen: created.Add(time.Hour)}
	if got, want := ExpiresAt(s, time.Hour, 12*time.Hour), created.Add(2*time.Hour); !got.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v (idle expiry first)", got, want)
	}
}

// TestMiddlewareWritesErrorsInTheAPIsFormat: a refusal goes through the
// writer set with WriteErrorsWith, the default stays problem+json.
func TestMiddlewareWritesErrorsInTheAPIsFormat(t *testing.T) {
	m := NewMiddleware(nil, SessionExtractor{Sessions: &fakeSessions{token: "good"}})
	var got int
	m.WriteErrorsWith(func(w http.ResponseWriter, r *http.Request, status int, detail string) {
		if !strings.HasPrefix(r.URL.Path, "/fhir/") {
			WriteProblem(w, status, detail)
			return
		}
		got = status
		w.Header().Set("Content-Type", "application/fhir+json")
		w.WriteHeader(status)
	})
	h := m.Wrap(whoami)
	for path, want := range map[string]string{"/fhir/Patient": "application/fhir+json", "/api/me": "application/problem+json"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Add("Authorization", "Bearer")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 401 || rec.Header().Get("Content-Type") != want {
			t.Errorf("%s: %d %q, want 401 %q", path, rec.Code, rec.Header().Get("Content-Type"), want)
		}
	}
	if got != 401 {
		t.Errorf("the FHIR writer saw status %d, want 401", got)
	}
}
