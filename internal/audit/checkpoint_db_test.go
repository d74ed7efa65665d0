package audit_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/testutil"
)

func checkpointKey(t *testing.T, fill byte) *audit.CheckpointKey {
	t.Helper()
	k, err := audit.NewCheckpointKey(bytes.Repeat([]byte{fill}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var checkpointTime = time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC)

// TestCheckpointCatchesTruncationDB is issue 9 finding 9: an intruder
// deletes the newest events and moves the chain head back. The chain that
// is left verifies (that is the finding), but not against the checkpoint
// taken before, which names the gap.
func TestCheckpointCatchesTruncationDB(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		db, l := newChain(t, url, 6)
		ctx := t.Context()
		path := filepath.Join(t.TempDir(), audit.CheckpointFile)
		key := checkpointKey(t, 1)
		cpr := audit.NewCheckpointer(audit.CheckpointerDeps{Head: db, Key: key}, audit.CheckpointerConfig{Path: path, Now: func() time.Time { return checkpointTime }})
		if cp, err := cpr.Checkpoint(ctx); err != nil || cp == nil || cp.Seq != 6 {
			t.Fatalf("checkpoint = %+v, %v; want one at event 6", cp, err)
		}

		for _, q := range []string{
			`DELETE FROM audit_events WHERE id > 4`,
			`UPDATE audit_head SET last_id = 4, last_hash = (SELECT hash FROM audit_events WHERE id = 4) WHERE id = 1`,
		} {
			if _, err := db.Writer().ExecContext(ctx, q); err != nil {
				t.Fatalf("tamper %q: %v", q, err)
			}
		}
		if b, err := l.Verify(ctx); err != nil || b != nil {
			t.Fatalf("the truncated chain alone: %v, %v; the chain cannot see this", b, err)
		}
		cp, err := audit.LatestCheckpoint(path, key)
		if err != nil {
			t.Fatal(err)
		}
		b, err := l.VerifyCheckpoint(ctx, cp)
		if err != nil {
			t.Fatal(err)
		}
		want := "chain ends at event 4 but the checkpoint signed 2026-12-07T11:00:00Z is at event 6: 2 events missing"
		if b == nil || b.ID != 5 || !strings.Contains(b.Reason, want) {
			t.Fatalf("broken = %+v, want id 5 and %q", b, want)
		}
	})
}

// TestCheckpointIntactChainDB: a chain that reached its checkpoint, and grew
// since, verifies against it; Checkpoint records each new head once, and
// the latest checkpoint in the file is the one of the highest event.
func TestCheckpointIntactChainDB(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		db, l := newChain(t, url, 3)
		ctx := t.Context()
		path := filepath.Join(t.TempDir(), "sub", audit.CheckpointFile)
		key := checkpointKey(t, 1)
		cpr := audit.NewCheckpointer(audit.CheckpointerDeps{Head: db, Key: key}, audit.CheckpointerConfig{Path: path, Now: func() time.Time { return checkpointTime }})
		for i, want := range []int64{3, 0, 4} {
			if i == 2 {
				if err := l.Record(actor.System(ctx), audit.Change{Type: audit.UserUpdated, SubjectID: 1, Comment: "one more"}); err != nil {
					t.Fatal(err)
				}
			}
			cp, err := cpr.Checkpoint(ctx)
			if err != nil || (want == 0) != (cp == nil) || cp != nil && cp.Seq != want {
				t.Fatalf("checkpoint %d = %+v, %v; want seq %d (0: none, the head did not move)", i, cp, err, want)
			}
		}
		if err := l.Record(actor.System(ctx), audit.Change{Type: audit.UserUpdated, SubjectID: 1, Comment: "after the checkpoint"}); err != nil {
			t.Fatal(err)
		}
		cp, err := audit.LatestCheckpoint(path, key)
		if err != nil || cp.Seq != 4 {
			t.Fatalf("latest = %+v, %v; want event 4", cp, err)
		}
		if b, err := l.Verify(ctx); err != nil || b != nil {
			t.Fatalf("verify = %v, %v", b, err)
		}
		if b, err := l.VerifyCheckpoint(ctx, cp); err != nil || b != nil {
			t.Fatalf("verify against the checkpoint = %v, %v; want intact", b, err)
		}
		lines, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(lines, []byte("\n")); n != 2 {
			t.Fatalf("%d checkpoint lines, want 2 (an unmoved head is not recorded again):\n%s", n, lines)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("checkpoint file: %v, %v; want mode 0600", fi, err)
		}

		// The checkpointed event rewritten (as if the whole chain after it
		// were rehashed, which Verify alone could miss) differs from it.
		if _, err := db.Writer().ExecContext(ctx, `UPDATE audit_events SET hash = 'x' WHERE id = 4`); err != nil {
			t.Fatal(err)
		}
		b, err := l.VerifyCheckpoint(ctx, cp)
		if err != nil || b == nil || b.ID != 4 || !strings.Contains(b.Reason, "event 4 differs from the checkpoint") {
			t.Fatalf("rewritten checkpointed event: %+v, %v", b, err)
		}
	})
}

// TestForgedCheckpointRefused: a checkpoint line signed with another key,
// one whose readable fields were edited, or one whose payload was swapped
// is refused, and the refusal names the line.
func TestForgedCheckpointRefused(t *testing.T) {
	db, _ := newChain(t, testutil.SQLiteURL(t), 2)
	ctx := t.Context()
	dir := t.TempDir()
	key := checkpointKey(t, 1)
	good := filepath.Join(dir, "good.jsonl")
	if _, err := audit.NewCheckpointer(audit.CheckpointerDeps{Head: db, Key: key}, audit.CheckpointerConfig{Path: good, Now: func() time.Time { return checkpointTime }}).Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if cp, err := audit.LatestCheckpoint(good, key); err != nil || cp.Seq != 2 {
		t.Fatalf("genuine checkpoint: %+v, %v", cp, err)
	}
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	var genuine audit.Checkpoint
	if err := json.Unmarshal(raw, &genuine); err != nil {
		t.Fatal(err)
	}

	other := filepath.Join(dir, "other.jsonl")
	if _, err := audit.NewCheckpointer(audit.CheckpointerDeps{Head: db, Key: checkpointKey(t, 2)}, audit.CheckpointerConfig{Path: other}).Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	otherLine, err := os.ReadFile(other)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(*audit.Checkpoint)) []byte {
		c := genuine
		f(&c)
		b, _ := json.Marshal(c)
		return append(b, '\n')
	}
	parts := strings.Split(genuine.JWS, ".")
	for _, c := range []struct {
		name string
		line []byte
		why  string
	}{
		{"signed by another key", otherLine, "not this server's checkpoint key"},
		{"seq raised", edit(func(c *audit.Checkpoint) { c.Seq = 99 }), "fields differ from what was signed"},
		{"payload swapped", edit(func(c *audit.Checkpoint) {
			c.JWS = parts[0] + "." + strings.TrimRight(parts[1], "=") + "AA." + parts[2]
		}), "checkpoint refused"},
		{"signature zeroed", edit(func(c *audit.Checkpoint) { c.JWS = parts[0] + "." + parts[1] + ".AAAA" }), "checkpoint refused"},
		{"not JSON", []byte("seq=99\n"), "line 2: not a checkpoint"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".jsonl")
		if err := os.WriteFile(path, append(append([]byte{}, raw...), c.line...), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := audit.LatestCheckpoint(path, key)
		if !apperr.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), c.why) || !strings.Contains(err.Error(), "line") {
			t.Errorf("%s: %v, want Invalid naming the line and %q", c.name, err, c.why)
		}
	}

	// An auditor holding only the public key verifies the genuine file.
	jwk, err := json.Marshal(key.PublicJWK())
	if err != nil {
		t.Fatal(err)
	}
	pub, err := audit.ParseCheckpointPublicKey(jwk)
	if err != nil || pub.KID() != key.KID() {
		t.Fatalf("public key: %v, kid %v", err, pub)
	}
	if cp, err := audit.LatestCheckpoint(good, pub); err != nil || cp.Seq != 2 {
		t.Fatalf("verified with the public JWK only: %+v, %v", cp, err)
	}
	if _, err := audit.LatestCheckpoint(filepath.Join(dir, "missing"), key); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("missing file: %v, want NotFound", err)
	}
}
