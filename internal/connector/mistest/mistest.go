// Package mistest is an in-process medical information system for tests:
// an httptest server that behaves as ward's CampDoc adapter documents
// (docs/connectors-campdoc.md): the authorize page, the token endpoint
// (authorization code with PKCE and the client secret, refresh with
// rotation), the V2 API of profiles, users, groups, registrations, reviews
// and SSO links, paginated lists, a 401 once an access token expires on
// its controllable clock, and faults on demand (429 with Retry-After, 5xx
// bursts, a revoked grant). It records every token, code and secret it
// issued, so that tests can scan ward's database and logs for them.
//
// Test helper only (internal/archtest lists it): never imported by
// production code.
package mistest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Default credentials and ids of Options' zero fields.
const (
	DefaultClientID  = "mistest-client"
	DefaultUsername  = "admin@mis.test"
	DefaultPassword  = "mistest-password"
	DefaultOrgID     = "12345"
	DefaultAccessTTL = time.Hour
	// MaxPageSize caps the limit query parameter of lists.
	MaxPageSize = 1000
)

// Paths of the server, relative to its URL (CampDoc's).
const (
	AuthorizePath = "/!/oauth"
	TokenPath     = "/public/v2/oauth/access_token"
	APIPrefix     = "/public/v2/organizations/"
)

// Options configure a Server; zero fields take the defaults above.
type Options struct {
	// ClientID and ClientSecret are the one OAuth client the MIS knows;
	// an empty secret is generated (and recorded in Issued).
	ClientID, ClientSecret string
	// RedirectURI, when set, is the only redirect URI accepted.
	RedirectURI string
	// Username and Password are the login of the authorize page.
	Username, Password string
	// OrgID is the organization whose API the server serves.
	OrgID string
	// AccessTTL is the lifetime of access tokens.
	AccessTTL time.Duration
	// Now is the base clock (time.Now); Advance moves the server's clock
	// ahead of it.
	Now func() time.Time
}

// Server is the test MIS. Its methods are safe for concurrent use.
type Server struct {
	srv  *httptest.Server
	opts Options

	mu       sync.Mutex
	offset   time.Duration
	issued   []string
	log      []Exchange
	faults   []*Fault
	codes    map[string]*authCode
	access   map[string]*accessToken
	refresh  map[string]*refreshToken
	grants   []*grant
	reuses   int
	nextID   int
	profiles map[int]*Profile
	groups   map[int]*Group
	regs     map[int]*Registration
	users    map[int][]User // by profile id
	reviews  map[int]map[string]Review
}

// Exchange is one request the server answered.
type Exchange struct {
	Method, Path string
	Status       int
}

// Fault makes the server answer matching requests with Status instead of
// serving them, Count times.
type Fault struct {
	// Method matches the request method; "" matches any.
	Method string
	// Path is a prefix of the API path relative to the organization root
	// ("/profiles"); "" matches every API path. Token makes the fault
	// apply to the token endpoint instead of the API.
	Path  string
	Token bool
	// Status is the answer (429, 500, 503, 400, ...).
	Status int
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// Hang, instead of answering, holds the request until the client
	// gives up (a MIS that stopped answering: the client's timeout).
	Hang bool
	// Count is how many requests the fault answers (at least 1).
	Count int
}

// New starts a server, closed when tb ends.
func New(tb testing.TB, o Options) *Server {
	tb.Helper()
	s := newServer(o)
	tb.Cleanup(s.Close)
	return s
}

func newServer(o Options) *Server {
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.Username == "" {
		o.Username = DefaultUsername
	}
	if o.Password == "" {
		o.Password = DefaultPassword
	}
	if o.OrgID == "" {
		o.OrgID = DefaultOrgID
	}
	if o.AccessTTL <= 0 {
		o.AccessTTL = DefaultAccessTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{opts: o, nextID: 1000,
		codes: map[string]*authCode{}, access: map[string]*accessToken{}, refresh: map[string]*refreshToken{},
		profiles: map[int]*Profile{}, groups: map[int]*Group{}, regs: map[int]*Registration{},
		users: map[int][]User{}, reviews: map[int]map[string]Review{}}
	if s.opts.ClientSecret == "" {
		s.opts.ClientSecret = s.newSecret("cs")
	} else {
		s.issued = append(s.issued, s.opts.ClientSecret)
	}
	mux := http.NewServeMux()
	s.routes(mux)
	s.srv = httptest.NewServer(s.record(mux))
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// URL is the server's root (CampDoc's https://app.campdoc.com).
func (s *Server) URL() string { return s.srv.URL }

// BaseURL is the organization's API root: a connector's base URL.
func (s *Server) BaseURL() string { return s.srv.URL + APIPrefix + s.opts.OrgID }

// AuthorizeURL is the authorize page.
func (s *Server) AuthorizeURL() string { return s.srv.URL + AuthorizePath }

// TokenURL is the token endpoint.
func (s *Server) TokenURL() string { return s.srv.URL + TokenPath }

// ClientID and ClientSecret are the OAuth client's credentials.
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret is the OAuth client's secret.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// Client is an HTTP client for the server (no redirects followed).
func (s *Server) Client() *http.Client {
	c := *s.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// Now is the server's clock.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

func (s *Server) now() time.Time { return s.opts.Now().Add(s.offset) }

// Advance moves the server's clock ahead by d (access tokens expire).
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

// Inject adds a fault; faults are tried in the order added.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Count < 1 {
		f.Count = 1
	}
	s.faults = append(s.faults, &f)
}

// RevokeGrants revokes every grant: its access and refresh tokens are
// refused from now on (an admin revoking ward's access at the MIS).
func (s *Server) RevokeGrants() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.grants {
		g.revoked = true
	}
}

// Issued is every secret the server issued or was given: the client
// secret, authorization codes, access and refresh tokens, SSO links.
func (s *Server) Issued() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

// Requests is every request answered so far, in order.
func (s *Server) Requests() []Exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Exchange(nil), s.log...)
}

// RefreshReuses counts refresh requests that presented a refresh token
// already spent (two refreshers racing: ward must keep this at zero).
func (s *Server) RefreshReuses() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reuses
}

// newSecret returns a fresh random token with prefix and records it;
// s.mu must be held (or s not yet shared).
func (s *Server) newSecret(prefix string) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	v := prefix + "_" + hex.EncodeToString(b)
	s.issued = append(s.issued, v)
	return v
}

// record logs each exchange and applies the faults.
func (s *Server) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		if f := s.fault(r); f != nil && f.Hang {
			<-r.Context().Done()
			sw.status = 0 // no answer
		} else if f != nil {
			if f.RetryAfter != "" {
				sw.Header().Set("Retry-After", f.RetryAfter)
			}
			writeJSON(sw, f.Status, map[string]string{"error": "injected_fault"})
		} else {
			next.ServeHTTP(sw, r)
		}
		s.mu.Lock()
		s.log = append(s.log, Exchange{Method: r.Method, Path: r.URL.Path, Status: sw.status})
		s.mu.Unlock()
	})
}

func (s *Server) fault(r *http.Request) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	rel, api := strings.CutPrefix(r.URL.Path, APIPrefix+s.opts.OrgID)
	token := r.URL.Path == TokenPath
	for i, f := range s.faults {
		if f.Method != "" && f.Method != r.Method {
			continue
		}
		if f.Token && !token || !f.Token && (!api || !strings.HasPrefix(rel, f.Path)) {
			continue
		}
		f.Count--
		if f.Count == 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		c := *f
		return &c
	}
	return nil
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
