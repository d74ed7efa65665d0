package bulk_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ward/internal/blob"
	"ward/internal/bulk"
	"ward/internal/testutil"
)

// tempFiles lists the blob store's temporary area.
func tempFiles(t *testing.T, d *blob.Dir) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(d.Path(), "tmp", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// age sets the modification time of every file in the temporary area that
// is not in keep to d ago, as if its writer had stopped then.
func age(t *testing.T, d *blob.Dir, ago time.Duration, keep ...string) {
	t.Helper()
	when := time.Now().Add(-ago)
	for _, name := range tempFiles(t, d) {
		skip := false
		for _, k := range keep {
			skip = skip || k == name
		}
		if !skip {
			if err := os.Chtimes(name, when, when); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestSweepTempKeepsLiveWrites: the part file of an export whose process
// crashed is removed once it has gone untouched longer than an export run
// can last; the part file a live run is writing is kept and still commits.
func TestSweepTempKeepsLiveWrites(t *testing.T) {
	ctx := context.Background()
	d, err := blob.NewDir(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	slice := 30 * time.Minute
	eng, err := bulk.NewEngine(&memStore{m: map[string]bulk.Export{}}, d, &fakeSource{}, bulk.EngineConfig{Slice: slice})
	if err != nil {
		t.Fatal(err)
	}

	crashed, err := d.Create(ctx, "exports/crashed/Patient-1.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crashed.Write([]byte(`{"resourceType":"Patient"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	// The crashed writer is never committed or aborted: its process died.
	age(t, d, 2*bulk.RunTimeout(slice)+time.Minute)
	crashedFiles := tempFiles(t, d)

	live, err := d.Create(ctx, "exports/live/Patient-1.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := live.Write([]byte(`{"resourceType":"Patient"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	// The live run last wrote as long ago as a run may last.
	var liveFile string
	for _, n := range tempFiles(t, d) {
		if n != crashedFiles[0] {
			liveFile = n
		}
	}
	when := time.Now().Add(-bulk.RunTimeout(slice))
	if err := os.Chtimes(liveFile, when, when); err != nil {
		t.Fatal(err)
	}

	n, err := eng.SweepTemp(ctx)
	if err != nil || n != 1 {
		t.Fatalf("SweepTemp = %d, %v; want the crashed part file only", n, err)
	}
	if left := tempFiles(t, d); len(left) != 1 || left[0] != liveFile {
		t.Fatalf("temporary files left %v, want only the live one %s", left, liveFile)
	}
	if _, err := live.Commit(); err != nil {
		t.Fatalf("the live write cannot commit after the sweep: %v", err)
	}

	// A sweep age an export run could outlast is refused at wiring.
	if _, err := bulk.NewEngine(&memStore{m: map[string]bulk.Export{}}, d, &fakeSource{}, bulk.EngineConfig{Slice: slice, TempMaxAge: slice}); err == nil {
		t.Fatal("a sweep age shorter than an export run was accepted")
	}
}

// TestCleanupJobSweepsTemp: the periodic cleanup job (which also runs when
// the runner starts) removes a crashed export's stale part file.
func TestCleanupJobSweepsTemp(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url, envOpts{})
		w, err := e.blobs.Create(context.Background(), "exports/crashed/Observation-1.ndjson")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("{}\n")); err != nil {
			t.Fatal(err)
		}
		age(t, e.blobs, 2*time.Hour)
		if len(tempFiles(t, e.blobs)) != 1 {
			t.Fatalf("temporary files %v, want the crashed one", tempFiles(t, e.blobs))
		}
		e.start()
		deadline := time.Now().Add(waitTimeout)
		for len(tempFiles(t, e.blobs)) != 0 {
			if time.Now().After(deadline) {
				t.Fatal("the cleanup job did not sweep the crashed export's part file")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
