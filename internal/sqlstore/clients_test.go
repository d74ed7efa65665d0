package sqlstore_test

import (
	"context"
	"math"
	"testing"

	"ward/internal/client"
	"ward/internal/sqlstore"
	"ward/internal/testutil"
)

// TestClientStatusMigration: a client registered before migration 00011
// (client approval) is active after it, and the migration goes down and up
// again cleanly.
func TestClientStatusMigration(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := testutil.NewStore(t, url)
		if err := sqlstore.MigrateSchemaTo(ctx, db, 10); err != nil {
			t.Fatalf("down to 10: %v", err)
		}
		if _, err := db.Writer().ExecContext(ctx, `INSERT INTO oauth_clients (client_id, name, auth_method,
			created_at, updated_at) VALUES ('old-client', 'Old', 'none', 0, 0)`); err != nil {
			t.Fatalf("insert as of 00010: %v", err)
		}
		// Up to the newest schema: GetClient reads the later columns too.
		if err := sqlstore.MigrateSchemaTo(ctx, db, math.MaxInt64); err != nil {
			t.Fatalf("up from 10: %v", err)
		}
		c, err := db.GetClient(ctx, "old-client")
		if err != nil || c.Status != client.StatusActive {
			t.Fatalf("client registered before approvals: %v %+v, want active", err, c)
		}
		if _, err := db.Writer().ExecContext(ctx, `UPDATE oauth_clients SET status = 'approved' WHERE client_id = 'old-client'`); err == nil {
			t.Fatal("the database accepts a status that is neither pending nor active")
		}
		if err := sqlstore.MigrateSchemaTo(ctx, db, 10); err != nil {
			t.Fatalf("down to 10 again: %v", err)
		}
		if err := sqlstore.MigrateSchemaTo(ctx, db, 11); err != nil {
			t.Fatalf("up to 11 again: %v", err)
		}
	})
}
