package sqlstore_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"ward/internal/oauth/tokens"
	"ward/internal/sqlstore"
	"ward/internal/testutil"
)

// TestTokenPatientMigration: migration 00015 copies the launch patient of
// grants issued before it from the stored session into the new column (so
// a consent withdrawal reaches them too), skips a launch patient who no
// longer exists and data that is not JSON, and goes down and up cleanly.
func TestTokenPatientMigration(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := testutil.NewStore(t, url)
		if err := sqlstore.MigrateSchemaTo(ctx, db, 14); err != nil {
			t.Fatalf("down to 14: %v", err)
		}
		w := db.Writer()
		for _, q := range []string{
			`INSERT INTO users (id, registered, updated_at) VALUES (901, 0, 0), (902, 0, 0)`,
			`INSERT INTO oauth_clients (client_id, name, auth_method, created_at, updated_at) VALUES ('old-app', 'Old', 'none', 0, 0)`,
		} {
			if _, err := w.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		rows := map[string][]byte{
			"launch":  []byte(`{"id":"r1","session":{"uid":902,"patient":"901","exp":{}}}`),
			"own":     []byte(`{"id":"r2","session":{"uid":901,"exp":{}}}`),
			"gone":    []byte(`{"id":"r3","session":{"uid":902,"patient":"999","exp":{}}}`),
			"garbage": {0x00, 0xff, 0xfe, '{'},
		}
		insert := `INSERT INTO oauth_tokens (signature, kind, request_id, client_id, user_id,
			requested_at, expires_at, data) VALUES (?, 'refresh', ?, 'old-app', 902, 0, 1, ?)`
		if db.Dialect() == sqlstore.Postgres {
			insert = strings.NewReplacer("(?, 'refresh', ?,", "($1, 'refresh', $2,", "1, ?)", "1, $3)").Replace(insert)
		}
		for sig, data := range rows {
			if _, err := w.ExecContext(ctx, insert, sig, sig, data); err != nil {
				t.Fatalf("insert %s as of 00014: %v", sig, err)
			}
		}
		if err := sqlstore.MigrateSchemaTo(ctx, db, math.MaxInt64); err != nil {
			t.Fatalf("up from 14: %v", err)
		}
		want := map[string]int64{"launch": 901, "own": 0, "gone": 0, "garbage": 0}
		for sig, pid := range want {
			tok, err := db.GetToken(ctx, tokens.KindRefresh, sig)
			if err != nil || tok.PatientID != pid {
				t.Errorf("token %s after 00015: %v, patient %d, want %d", sig, err, tok.PatientID, pid)
			}
		}
		if err := sqlstore.MigrateSchemaTo(ctx, db, 14); err != nil {
			t.Fatalf("down to 14 again: %v", err)
		}
		if err := sqlstore.MigrateSchemaTo(ctx, db, 15); err != nil {
			t.Fatalf("up to 15 again: %v", err)
		}
	})
}
