package bench

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"ward/internal/actor"
	"ward/internal/client"
	"ward/internal/config"
	"ward/internal/server"
	"ward/internal/testutil"
)

// oauthFixture is an in-process ward with one confidential client, for
// profiling the token and introspection endpoints without the network.
type oauthFixture struct {
	h          http.Handler
	id, secret string
}

func newOAuthFixture(b *testing.B, backend, format string) *oauthFixture {
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
	c, secret, err := srv.Services().Clients.Create(actor.System(context.Background()), client.Settings{
		Name: "bench", GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/*.rs", TokenFormat: format})
	if err != nil {
		b.Fatal(err)
	}
	return &oauthFixture{h: srv.Handler(), id: c.ID, secret: secret}
}

func (f *oauthFixture) token(b *testing.B) string {
	req := httptest.NewRequest(http.MethodPost, "/oauth/token",
		strings.NewReader("grant_type=client_credentials&scope=system%2FPatient.rs"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(f.id, f.secret)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		b.Fatal(err)
	}
	return out.AccessToken
}

// BenchmarkClientCredentials issues client-credentials tokens through the
// whole handler chain (durable: every token and its audit event commit).
func BenchmarkClientCredentials(b *testing.B) {
	for _, backend := range testutil.Backends() {
		for _, format := range []string{client.TokenOpaque, client.TokenJWT} {
			b.Run(backend+"/"+format, func(b *testing.B) {
				f := newOAuthFixture(b, backend, format)
				b.ReportAllocs()
				b.SetParallelism(4)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						f.token(b)
					}
				})
			})
		}
	}
}

// BenchmarkIntrospection answers RFC 7662 introspection of a live token,
// opaque and JWT (whose signature, issuer, audience, expiry and type are
// verified before its row is read).
func BenchmarkIntrospection(b *testing.B) {
	for _, backend := range testutil.Backends() {
		for _, format := range []string{client.TokenOpaque, client.TokenJWT} {
			b.Run(backend+"/"+format, func(b *testing.B) {
				benchIntrospection(b, backend, format)
			})
		}
	}
}

func benchIntrospection(b *testing.B, backend, format string) {
	f := newOAuthFixture(b, backend, format)
	tok := f.token(b)
	body := url.Values{"token": {tok}}.Encode()
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/oauth/introspect", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(f.id, f.secret)
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"active":true`) {
				b.Fatalf("introspect: %d %s", rec.Code, rec.Body)
			}
		}
	})
}

// BenchmarkIntrospectionLoopback is BenchmarkIntrospection over a real
// loopback connection (server.Serve and keep-alive clients in one process),
// to see what HTTP itself costs next to the work.
func BenchmarkIntrospectionLoopback(b *testing.B) {
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	cfg.LogLevel = "error"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	cfg.Addr = ln.Addr().String()
	cfg.Issuer = "http://" + cfg.Addr
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	b.Cleanup(func() { cancel(); <-done; _ = srv.Close() })
	c, secret, err := srv.Services().Clients.Create(actor.System(context.Background()), client.Settings{
		Name: "bench", GrantTypes: []string{client.GrantClientCredentials}, Scope: "system/*.rs"})
	if err != nil {
		b.Fatal(err)
	}
	f := &oauthFixture{h: srv.Handler(), id: c.ID, secret: secret}
	tok := f.token(b)
	body := url.Values{"token": {tok}}.Encode()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, cfg.Issuer+"/oauth/introspect", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(c.ID, secret)
			res, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Fatalf("introspect: %d", res.StatusCode)
			}
		}
	})
}
