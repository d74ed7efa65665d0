package bench

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"ward/internal/actor"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/server"
	"ward/internal/testutil"
)

// BenchmarkIDPTokenLookup is GET /api/1.0/sso/token/{token} of the legacy
// IdP API (seed 003) through the whole handler chain at concurrency 8 (as
// BenchmarkIntrospection, its yardstick): the system client's headers are
// checked, the token resolved, and the person, groups, profiles and last
// sign-in read.
func BenchmarkIDPTokenLookup(b *testing.B) {
	for _, backend := range testutil.Backends() {
		b.Run(backend, func(b *testing.B) {
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
			u, err := svc.Directory.CreateUser(ctx, directory.NewUser{
				User:     directory.User{Email: "xyz@example.org", GivenName: "X", FamilyName: "Z"},
				Password: "orange-kite-1", Roles: []string{directory.RoleClinician}})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := svc.Directory.CreateGroup(ctx, &directory.Group{Name: "MCI Admin", Description: "x"}); err != nil {
				b.Fatal(err)
			}
			if _, err := svc.Directory.SetUserGroups(ctx, u.ID, []string{"MCI Admin"}); err != nil {
				b.Fatal(err)
			}
			if _, err := svc.Directory.SetUserProfiles(ctx, u.ID, []directory.Profile{
				{Type: "provider", ID: "123", Catchment: []string{"302618", "302614"}}}); err != nil {
				b.Fatal(err)
			}
			c, key, err := svc.Clients.CreateSystem(ctx, "SHR @ DGHS MIS", 0)
			if err != nil {
				b.Fatal(err)
			}
			h := srv.Handler()
			req := httptest.NewRequest(http.MethodPost, "/api/1.0/sso/signin",
				strings.NewReader(url.Values{"email": {"xyz@example.org"}, "password": {"orange-kite-1"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("client_id", c.ID)
			req.Header.Set("X-Auth-Token", key)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var out struct {
				AccessToken string `json:"access_token"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.AccessToken == "" {
				b.Fatalf("signin: %d %s", rec.Code, rec.Body)
			}
			path := "/api/1.0/sso/token/" + out.AccessToken
			b.ReportAllocs()
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodGet, path, nil)
					req.Header.Set("client_id", c.ID)
					req.Header.Set("X-Auth-Token", key)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("lookup: %d %s", rec.Code, rec.Body)
					}
				}
			})
		})
	}
}
