// Package bench holds ward's benchmark scenarios; they are not tests. Run
// with `go test -run '^$' -bench . ./bench/` (add WARD_TEST_POSTGRES_URL to
// include PostgreSQL); figures go to docs/benchmarks.md.
package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/server"
	"ward/internal/testutil"
)

// apiFixture is an in-process ward with a signed-in admin.
type apiFixture struct {
	h      http.Handler
	cookie *http.Cookie
	svc    *server.Services
}

func newAPIFixture(b *testing.B, backend string) *apiFixture {
	b.Helper()
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	cfg.DatabaseURL = testutil.URLFor(b, backend)
	cfg.LogLevel = "error"
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		b.Fatalf("server.New: %v", err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	svc := srv.Services()
	ctx := actor.System(context.Background())
	if _, err := svc.Directory.CreateUser(ctx, directory.NewUser{
		User:     directory.User{Email: "admin@example.org"},
		Password: "benchmark password",
		Roles:    []string{directory.RoleAdmin},
	}); err != nil {
		b.Fatalf("create admin: %v", err)
	}
	token, _, err := svc.Sessions.Login(context.Background(), "admin@example.org", "benchmark password")
	if err != nil {
		b.Fatalf("login: %v", err)
	}
	return &apiFixture{h: srv.Handler(), cookie: &http.Cookie{Name: "ward_session", Value: token}, svc: svc}
}

func (f *apiFixture) do(b *testing.B, method, path, body string, want int) {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.AddCookie(f.cookie)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body.String())
	}
}

// reportLatency adds p50 and p99 of the per-request latencies to the result.
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkDemographicsRead is GET /api/demographics/{id} as an admin,
// through the whole middleware chain, in-process.
func BenchmarkDemographicsRead(b *testing.B) {
	for _, backend := range testutil.Backends() {
		b.Run(backend, func(b *testing.B) {
			f := newAPIFixture(b, backend)
			u, err := f.svc.Directory.CreateUser(actor.System(context.Background()), directory.NewUser{
				User:  directory.User{Email: "pat@example.org", GivenName: "Pat", FamilyName: "Doe", BirthDate: "1961-07-04", Gender: "female"},
				Roles: []string{directory.RolePatient},
			})
			if err != nil {
				b.Fatalf("create patient: %v", err)
			}
			path := fmt.Sprintf("/api/demographics/%d", u.ID)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				f.do(b, http.MethodGet, path, "", http.StatusOK)
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			reportLatency(b, lat)
		})
	}
}

// BenchmarkUserCreate is POST /api/account as an admin (one transaction with
// its audit event per request), in-process.
func BenchmarkUserCreate(b *testing.B) {
	for _, backend := range testutil.Backends() {
		b.Run(backend, func(b *testing.B) {
			f := newAPIFixture(b, backend)
			var n atomic.Int64
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				body := fmt.Sprintf(`{"email":"user%d@example.org","first_name":"U","last_name":"Ser","roles":[{"name":"patient"}]}`, n.Add(1))
				start := time.Now()
				f.do(b, http.MethodPost, "/api/account", body, http.StatusCreated)
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			reportLatency(b, lat)
		})
	}
}
