package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/config"
	"ward/internal/testutil"
)

// TestAuditCheckpoints: a serving ward checkpoints the audit chain's head
// into the data directory when its jobs start (and then every interval),
// and once more on shutdown, so the events of its last minutes are covered.
func TestAuditCheckpoints(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		var path string
		srv := newServer(t, dbURL, func(c *config.Config) {
			c.Addr = "127.0.0.1:0"
			c.AuditCheckpointInterval = time.Hour
			path = c.AuditCheckpointPath()
		})
		svc := srv.Services()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()

		key := svc.Checkpoints.Key()
		deadline := time.Now().Add(30 * time.Second)
		for {
			cp, err := audit.LatestCheckpoint(path, key)
			if err == nil && cp != nil {
				break
			}
			if err != nil && !apperr.Is(err, apperr.NotFound) {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				t.Fatal("no checkpoint taken when the jobs started")
			}
			time.Sleep(20 * time.Millisecond)
		}

		if err := svc.Audit.Record(actor.System(context.Background()), audit.Change{Type: audit.SigningKeyCreated, SubjectID: 0, Comment: "the last event before shutdown"}); err != nil {
			t.Fatal(err)
		}
		head, hash, err := svc.DB.AuditHead(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("run: %v", err)
		}
		cp, err := audit.LatestCheckpoint(path, key)
		if err != nil || cp.Seq != head || cp.Hash != hash {
			t.Fatalf("latest checkpoint after shutdown = %+v, %v; want the head %d %s", cp, err, head, hash)
		}
	})
}
