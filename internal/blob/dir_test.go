package blob_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/blob"
	"ward/internal/blob/blobtest"
)

func newDir(t *testing.T, opts ...blob.DirOption) *blob.Dir {
	t.Helper()
	d, err := blob.NewDir(filepath.Join(t.TempDir(), "blobs"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestDirConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return newDir(t) })
}

func put(t *testing.T, s blob.Store, key, content string) {
	t.Helper()
	w, err := s.Create(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, content)
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

// files returns every regular file under root, relative, with its mode.
func files(t *testing.T, root string) map[string]fs.FileMode {
	t.Helper()
	out := map[string]fs.FileMode{}
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = fi.Mode()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDirFileModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	d := newDir(t)
	w, err := d.Create(context.Background(), "exports/e1/Patient.ndjson", blob.WithContentType("application/fhir+ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "{}\n")
	check := func(stage string) {
		t.Helper()
		for name, mode := range files(t, d.Path()) {
			want := fs.FileMode(0o600)
			if mode.IsDir() {
				want = fs.ModeDir | 0o700
			}
			if mode != want {
				t.Errorf("%s: %s has mode %v, want %v", stage, name, mode, want)
			}
		}
	}
	check("while writing")
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	check("after commit")
	if len(files(t, d.Path())) < 6 { // root, tmp, objects, exports, e1, meta, data
		t.Fatalf("expected the blob's files, got %v", files(t, d.Path()))
	}
}

func TestNewDir(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "a", "b")
	d, err := blob.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if runtime.GOOS != "windows" {
		fi, _ := os.Stat(root)
		if fi.Mode().Perm() != 0o700 {
			t.Fatalf("root mode %v, want 0700", fi.Mode().Perm())
		}
		// An existing root others can read is refused, not silently used.
		open := filepath.Join(base, "open")
		os.Mkdir(open, 0o755)
		os.Chmod(open, 0o755)
		if _, err := blob.NewDir(open); err == nil || !strings.Contains(err.Error(), "chmod 700") {
			t.Fatalf("NewDir on a 0755 directory: %v", err)
		}
	}
	// Reopening keeps what was there.
	d, err = blob.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	put(t, d, "k", "v")
	d.Close()
	d, err = blob.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Stat(context.Background(), "k"); err != nil {
		t.Fatalf("after reopening: %v", err)
	}

	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := blob.NewDir(file); err == nil {
		t.Fatal("NewDir on a file succeeded")
	}
	if _, err := blob.NewDir(""); err == nil {
		t.Fatal("NewDir(\"\") succeeded")
	}
}

// TestDirNoEscape drives hostile keys and a planted symbolic link at a root
// whose parent holds a sibling directory, and checks nothing lands outside.
func TestDirNoEscape(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	os.Mkdir(outside, 0o700)
	root := filepath.Join(base, "blobs")
	d, err := blob.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	for _, k := range blobtest.HostileKeys {
		if w, err := d.Create(ctx, k); err == nil {
			w.Commit()
			t.Errorf("Create(%q) accepted", k)
		}
		d.Delete(ctx, k)
		d.DeletePrefix(ctx, k)
	}
	for _, k := range []string{"../outside/x", "../../outside/x", "objects/../../outside/x"} {
		if w, err := d.Create(ctx, k); err == nil {
			w.Commit()
		}
	}

	// A symbolic link planted inside the root (not something a key can make)
	// still does not lead outside: every access goes through an os.Root.
	if runtime.GOOS != "windows" {
		if err := os.Symlink(outside, filepath.Join(root, "objects", "evil")); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(outside, "secret~m"), []byte(`{"data":"secret~0123456789abcdef","size":1,"sha256":"00"}`), 0o600)
		w, err := d.Create(ctx, "evil/x")
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "escaped?")
		if _, err := w.Commit(); err == nil {
			t.Error("Commit through a symbolic link out of the root succeeded")
		}
		if _, err := d.Stat(ctx, "evil/secret"); err == nil {
			t.Error("Stat through a symbolic link out of the root succeeded")
		}
		if r, _, err := d.Open(ctx, "evil/secret"); err == nil {
			r.Close()
			t.Error("Open through a symbolic link out of the root succeeded")
		}
		d.Delete(ctx, "evil/secret")
		d.DeletePrefix(ctx, "evil")
	}

	got := files(t, outside)
	delete(got, ".")
	if runtime.GOOS != "windows" {
		if _, ok := got["secret~m"]; !ok {
			t.Error("the planted file outside was removed through the link")
		}
		delete(got, "secret~m")
	}
	if len(got) != 0 {
		t.Fatalf("files appeared outside the root: %v", got)
	}
	entries, _ := os.ReadDir(base)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"blobs", "outside"}) {
		t.Fatalf("root's parent holds %v", names)
	}
}

func TestCleanTemp(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	d := newDir(t, blob.WithClock(func() time.Time { return now }))
	root := d.Path()

	put(t, d, "exports/e1/kept.ndjson", "kept")
	// An abandoned writer (a crash mid-export) and a live one.
	w, err := d.Create(ctx, "exports/e1/abandoned.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "half")
	// Content a crash left between the two renames of a commit: no metadata
	// refers to it.
	orphan := filepath.Join(root, "objects", "exports", "e1", "kept.ndjson~0123456789abcdef")
	if err := os.WriteFile(orphan, []byte("orphan"), 0o600); err != nil {
		t.Fatal(err)
	}
	stranger := filepath.Join(root, "objects", "README")
	os.WriteFile(stranger, []byte("not ours"), 0o600)

	if _, err := d.CleanTemp(time.Second); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("CleanTemp(1s): %v, want invalid", err)
	}
	// Nothing is old yet.
	if n, err := d.CleanTemp(time.Hour); err != nil || n != 0 {
		t.Fatalf("CleanTemp on fresh files removed %d (%v)", n, err)
	}

	now = now.Add(2 * time.Hour)
	before := files(t, root)
	n, err := d.CleanTemp(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("CleanTemp removed %d files, want 2 (the temporary file and the orphan); before: %v", n, before)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Error("orphaned content not removed")
	}
	if _, err := os.Stat(stranger); err != nil {
		t.Error("a file that is not the store's was removed")
	}
	tmp, _ := os.ReadDir(filepath.Join(root, "tmp"))
	if len(tmp) != 0 {
		t.Errorf("tmp still holds %d files", len(tmp))
	}
	r, info, err := d.Open(ctx, "exports/e1/kept.ndjson")
	if err != nil {
		t.Fatalf("committed blob lost: %v", err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "kept" || info.Size != 4 {
		t.Fatalf("committed blob reads %q", b)
	}
	// The swept writer can no longer commit, and leaves nothing behind.
	if _, err := w.Commit(); err == nil {
		t.Error("Commit of a swept writer succeeded")
	}
	if _, err := d.Stat(ctx, "exports/e1/abandoned.ndjson"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("swept writer's key: %v", err)
	}
}

// TestDirCrashLeftovers simulates a crash after each step of a commit and of
// a delete by placing the files those steps leave.
func TestDirCrashLeftovers(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	root := d.Path()
	put(t, d, "docs/d1", "committed")

	// Crash after the content rename of a replacing commit: the old version
	// stays, whole.
	os.WriteFile(filepath.Join(root, "objects", "docs", "d1~00000000000000aa"), []byte("new but uncommitted"), 0o600)
	// Crash after the content rename of a first commit: no blob.
	os.WriteFile(filepath.Join(root, "objects", "docs", "d2~00000000000000bb"), []byte("uncommitted"), 0o600)
	// Crash mid-delete: metadata taken away to tmp, content still present.
	os.WriteFile(filepath.Join(root, "tmp", "d-0000000000000001"), []byte(`{}`), 0o600)

	r, info, err := d.Open(ctx, "docs/d1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "committed" || info.Size != int64(len("committed")) {
		t.Fatalf("read %q", b)
	}
	if _, err := d.Stat(ctx, "docs/d2"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("uncommitted docs/d2: %v", err)
	}
	keys, err := d.List(ctx, "")
	if err != nil || !slices.Equal(keys, []string{"docs/d1"}) {
		t.Fatalf("List = %q, %v", keys, err)
	}
	// Deleting and re-creating still works around the leftovers.
	if err := d.Delete(ctx, "docs/d1"); err != nil {
		t.Fatal(err)
	}
	put(t, d, "docs/d2", "fresh")
	keys, _ = d.List(ctx, "docs")
	if !slices.Equal(keys, []string{"docs/d2"}) {
		t.Fatalf("List = %q", keys)
	}
}

func TestDirDeletePrunesDirectories(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	put(t, d, "exports/e1/a/b/c.ndjson", "x")
	put(t, d, "exports/e2/a.ndjson", "y")
	if err := d.DeletePrefix(ctx, "exports/e1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d.Path(), "objects", "exports", "e1")); !os.IsNotExist(err) {
		t.Errorf("empty directories of a deleted export remain: %v", err)
	}
	if err := d.Delete(ctx, "exports/e2/a.ndjson"); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Join(d.Path(), "objects")); len(entries) != 0 {
		t.Errorf("objects/ still holds %d entries", len(entries))
	}
}

func TestDirCorruptMetadata(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	put(t, d, "k", "v")
	meta := filepath.Join(d.Path(), "objects", "k~m")
	for _, bad := range []string{"not json", `{"data":"../../etc/passwd~0123456789abcdef","size":1,"sha256":"00"}`,
		`{"data":"other~0123456789abcdef"}`} {
		os.WriteFile(meta, []byte(bad), 0o600)
		_, _, err := d.Open(ctx, "k")
		if err == nil || apperr.KindOf(err) != apperr.Internal {
			t.Errorf("Open with metadata %q: %v, want an internal error", bad, err)
		}
		if apperr.Message(err) != "internal error" {
			t.Errorf("internal detail shown: %q", apperr.Message(err))
		}
	}
}

// A Delete prunes empty parents while another writer is creating them; the
// writer's commit must not fail because a level it just made went away.
func TestDirCommitRacesPrune(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, key := range []string{"exports/e/a/b/x.ndjson", "exports/e/a/c/y.ndjson"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 300 {
				w, err := d.Create(ctx, key)
				if err == nil {
					_, err = w.Commit()
				}
				if err != nil {
					errs <- fmt.Errorf("commit %s: %w", key, err)
					return
				}
				if err := d.Delete(ctx, key); err != nil {
					errs <- fmt.Errorf("delete %s: %w", key, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
