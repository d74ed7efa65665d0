package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ward/internal/sqlstore"
	"ward/internal/testutil"
)

// TestAuditVerifyAgainstCheckpoint is issue 9 finding 9 from the command
// line: after the newest events are deleted and the chain head rewritten,
// the chain alone still verifies, but `ward audit verify` compares it with
// the signed checkpoint in the data directory, names the gap and exits 1;
// a checkpoint file that was tampered with is refused.
func TestAuditVerifyAgainstCheckpoint(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, dbURL string) {
		c := newCLI(t, dbURL)
		for _, email := range []string{"a@example.org", "b@example.org", "c@example.org"} {
			c.must("add-user", "--email", email, "--password", "a-long-password-1", "--role", "patient")
		}
		var cp struct {
			Seq int64  `json:"seq"`
			KID string `json:"kid"`
		}
		if err := json.Unmarshal([]byte(c.must("audit", "checkpoint")), &cp); err != nil || cp.Seq < 3 {
			t.Fatalf("checkpoint printed %+v (%v)", cp, err)
		}
		var jwk map[string]any
		if err := json.Unmarshal([]byte(c.must("audit", "checkpoint-key")), &jwk); err != nil ||
			jwk["kid"] != cp.KID || jwk["crv"] != "Ed25519" || jwk["d"] != nil {
			t.Fatalf("checkpoint-key printed %v (%v), want the public Ed25519 JWK of kid %s", jwk, err, cp.KID)
		}
		out := c.must("audit", "verify")
		if !strings.Contains(out, "audit chain OK") || !strings.Contains(out, "reaches the checkpoint at event") {
			t.Fatalf("verify of an intact chain printed %q", out)
		}

		db, err := sqlstore.Open(context.Background(), dbURL, c.dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`DELETE FROM audit_events WHERE id > (SELECT last_id - 2 FROM audit_head WHERE id = 1)`,
			`UPDATE audit_head SET last_id = (SELECT max(id) FROM audit_events),
				last_hash = (SELECT hash FROM audit_events WHERE id = (SELECT max(id) FROM audit_events)) WHERE id = 1`,
		} {
			if _, err := db.Writer().Exec(q); err != nil {
				t.Fatalf("tamper %q: %v", q, err)
			}
		}
		db.Close()

		// Without the checkpoint the truncated chain looks intact.
		empty := filepath.Join(t.TempDir(), "none.jsonl")
		if err := os.WriteFile(empty, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if out := c.must("audit", "verify", "--checkpoint", empty); !strings.Contains(out, "audit chain OK") {
			t.Fatalf("verify without a checkpoint printed %q", out)
		}
		code, out, _ := c.run("audit", "verify")
		want := "events missing"
		if code != 1 || !strings.Contains(out, "BROKEN") || !strings.Contains(out, "2 "+want) ||
			!strings.Contains(out, "chain ends at event") {
			t.Fatalf("verify of a truncated chain = exit %d %q, want 1 naming the 2 missing events", code, out)
		}

		// A checkpoint line whose sequence number was edited is refused.
		line, err := os.ReadFile(filepath.Join(c.dir, "audit-checkpoints.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		m["seq"] = 1
		forged, _ := json.Marshal(m)
		path := filepath.Join(t.TempDir(), "forged.jsonl")
		if err := os.WriteFile(path, append(forged, '\n'), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, _ = c.run("audit", "verify", "--checkpoint", path)
		if code != 1 || !strings.Contains(out, "checkpoint REFUSED") {
			t.Fatalf("verify with a forged checkpoint = exit %d %q, want 1 and REFUSED", code, out)
		}
		if code, _, _ := c.run("audit", "verify", "--checkpoint", filepath.Join(t.TempDir(), "missing")); code == 0 {
			t.Fatal("verify with a missing --checkpoint file succeeded")
		}
	})
}
