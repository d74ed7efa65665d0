package oauth_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/config"
	"ward/internal/directory"
	"ward/internal/oauth"
	"ward/internal/oauth/tokens"
	"ward/internal/server"
	"ward/internal/store"
	"ward/internal/testutil"
)

// janitorClock is a clock the janitor tests move by hand.
type janitorClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *janitorClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *janitorClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// janitorLog is a log sink safe for concurrent writers.
type janitorLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *janitorLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *janitorLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// janitorServices are ward's services on a fresh database with a movable
// clock and a captured log.
func janitorServices(t *testing.T, dbURL string, clock *janitorClock, logs *janitorLog) *server.Services {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = dbURL
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	svc, err := server.OpenServices(context.Background(), cfg, server.WithClock(clock.now), server.WithLogger(logger))
	if err != nil {
		t.Fatalf("open services: %v", err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	if err := svc.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return svc
}

func TestTokenJanitor(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
		clock := &janitorClock{t: start}
		logs := &janitorLog{}
		svc := janitorServices(t, dbURL, clock, logs)
		p := svc.OAuth
		sys := actor.System(context.Background())
		ctx := context.Background()
		life, window := p.Config().ServiceTokenLifetime, p.Config().ServiceTokenAlertWindow
		if life != 365*24*time.Hour || window != 6*7*24*time.Hour {
			t.Fatalf("defaults: lifetime %v, alert window %v", life, window)
		}

		dev, err := svc.Directory.CreateUser(sys, directory.NewUser{
			User: directory.User{Email: "dev@example.org"}, Roles: []string{directory.RoleApplicationDeveloper}})
		if err != nil {
			t.Fatal(err)
		}
		sa, err := p.CreateServiceAccount(sys, dev.ID)
		if err != nil {
			t.Fatal(err)
		}

		// Far from expiry: nothing to alert, nothing to purge.
		if n, err := p.AlertExpiringServiceTokens(ctx, window); err != nil || n != 0 {
			t.Fatalf("alert a year ahead: %d %v", n, err)
		}
		if n, err := p.PurgeExpiredTokens(ctx); err != nil || n != 0 {
			t.Fatalf("purge with nothing expired: %d %v", n, err)
		}
		_, err = p.AlertExpiringServiceTokens(ctx, 0)
		wantToolErr(t, err, apperr.Invalid, "alert window 0")

		// Inside the window: alerted once, however often the janitor runs.
		clock.set(start.Add(life - window + time.Hour))
		if n, err := p.AlertExpiringServiceTokens(ctx, window); err != nil || n != 1 {
			t.Fatalf("alert inside the window: %d %v", n, err)
		}
		for range 2 {
			if n, err := p.AlertExpiringServiceTokens(ctx, window); err != nil || n != 0 {
				t.Fatalf("alert again: %d %v", n, err)
			}
		}
		evs, _, err := svc.Audit.List(sys, audit.Filter{SubjectID: dev.ID}, store.Page{Limit: store.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		alerts := 0
		for _, ev := range evs {
			if strings.Contains(ev.Comment, fmt.Sprintf("service token %d of service account %d (sponsor %d) expires",
				sa.Info.ID, sa.User.ID, dev.ID)) {
				alerts++
			}
		}
		if alerts != 1 {
			t.Fatalf("%d alert events about the sponsor, want 1", alerts)
		}
		if out := logs.String(); strings.Count(out, "service token expiring soon") != 1 ||
			!strings.Contains(out, "sponsor_email=dev@example.org") ||
			!strings.Contains(out, fmt.Sprintf("service_user=%d", sa.User.ID)) {
			t.Fatalf("log:\n%s", out)
		}

		// A fresh token is a new row: alerted in its own time, not now.
		fresh, err := p.CreateServiceAccount(sys, dev.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := p.AlertExpiringServiceTokens(ctx, window); err != nil || n != 0 {
			t.Fatalf("alert after a fresh token: %d %v", n, err)
		}

		// Past the first token's expiry: it (revoked) and nothing else goes.
		clock.set(start.Add(life + time.Hour))
		if n, err := p.PurgeExpiredTokens(ctx); err != nil || n != 1 {
			t.Fatalf("purge the expired token: %d %v", n, err)
		}
		_, err = p.InspectToken(sys, sa.Token)
		wantToolErr(t, err, apperr.NotFound, "inspect a purged token")
		if in, err := p.InspectToken(sys, fresh.Token); err != nil || !in.Active {
			t.Fatalf("the fresh token after the purge: %+v %v", in, err)
		}

		// Many expired rows are purged in batches, all in one call.
		const many = 2500
		err = svc.DB.InTx(ctx, func(ctx context.Context) error {
			for i := range many {
				if err := svc.DB.CreateToken(ctx, &tokens.Token{Signature: fmt.Sprintf("old-%d", i),
					Kind: tokens.KindCode, RequestID: "r", ClientID: oauth.ServiceAccountClientID,
					RequestedAt: start, ExpiresAt: start.Add(time.Minute), Data: []byte("{}")}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := p.PurgeExpiredTokens(ctx); err != nil || n != many {
			t.Fatalf("purge %d expired rows: %d %v", many, n, err)
		}
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := p.PurgeExpiredTokens(cancelled); err == nil {
			t.Fatal("purge with a cancelled context succeeded")
		}
	})
}
