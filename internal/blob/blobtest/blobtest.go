// Package blobtest is the conformance suite for blob.Store: every
// implementation runs Run, so a shared store that replaces the data
// directory keeps the contract callers rely on.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"

	"ward/internal/apperr"
	"ward/internal/blob"
)

// HostileKeys are keys every Store must refuse with apperr.Invalid.
var HostileKeys = []string{
	"",
	"/",
	"/etc/passwd",
	"/abs",
	"..",
	"../x",
	"a/../../x",
	"a/..",
	"a/../b",
	".",
	"./a",
	"a/./b",
	"a/.",
	".hidden",
	"a/.git",
	"a..b",
	"a//b",
	"a/",
	"//a",
	"a\\b",
	"..\\..\\windows",
	"C:\\x",
	"c:/x",
	"a\x00b",
	"a\nb",
	"a b",
	"a~m",
	"a~0123456789abcdef",
	"%2e%2e/x",
	"a/b?c",
	"a*",
	"é",
	"a/\u202e/b",
	string(bytes.Repeat([]byte("a"), blob.MaxSegmentLen+1)),
	string(bytes.Repeat([]byte("ab/"), blob.MaxKeyLen/3)) + "abc",
}

// Run checks the Store contract on stores made by newStore, each empty.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	t.Helper()
	ctx := context.Background()

	t.Run("RoundTrip", func(t *testing.T) {
		s := newStore(t)
		content := bytes.Repeat([]byte(`{"resourceType":"Patient"}`+"\n"), 5000)
		w, err := s.Create(ctx, "exports/e1/Patient.ndjson", blob.WithContentType("application/fhir+ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		for chunk := range slices.Chunk(content, 4093) {
			if _, err := w.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
		info, err := w.Commit()
		if err != nil {
			t.Fatal(err)
		}
		want := blob.Info{Key: "exports/e1/Patient.ndjson", Size: int64(len(content)),
			SHA256: sha256.Sum256(content), ContentType: "application/fhir+ndjson"}
		checkInfo(t, info, want)
		if info.ModTime.IsZero() {
			t.Error("ModTime is zero")
		}

		st, err := s.Stat(ctx, want.Key)
		if err != nil {
			t.Fatal(err)
		}
		checkInfo(t, st, want)
		if !st.ModTime.Equal(info.ModTime) {
			t.Errorf("Stat ModTime %v, Commit said %v", st.ModTime, info.ModTime)
		}

		r, oinfo, err := s.Open(ctx, want.Key)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		checkInfo(t, oinfo, want)
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("read %d bytes (err %v), want %d", len(got), err, len(content))
		}
		// Seekable, for range requests.
		if _, err := r.Seek(27, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		part := make([]byte, 26)
		if _, err := io.ReadFull(r, part); err != nil || !bytes.Equal(part, content[27:53]) {
			t.Fatalf("after Seek read %q (err %v)", part, err)
		}
	})

	t.Run("EmptyBlob", func(t *testing.T) {
		s := newStore(t)
		info := put(t, s, "docs/empty", "")
		checkInfo(t, info, blob.Info{Key: "docs/empty", SHA256: sha256.Sum256(nil)})
		if got := read(t, s, "docs/empty"); got != "" {
			t.Fatalf("read %q", got)
		}
	})

	t.Run("SetContentType", func(t *testing.T) {
		s := newStore(t)
		w, err := s.Create(ctx, "docs/d1", blob.WithContentType("text/plain"))
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "%PDF-1.7")
		if err := w.SetContentType("not a type;;"); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("bad content type: %v, want invalid", err)
		}
		if err := w.SetContentType("application/pdf"); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		st, err := s.Stat(ctx, "docs/d1")
		if err != nil || st.ContentType != "application/pdf" {
			t.Fatalf("Stat = %+v, %v; want application/pdf", st, err)
		}
		for _, ct := range []string{"text", "a/b\r\nX-Injected: 1", string(bytes.Repeat([]byte("a"), 300)) + "/b"} {
			if _, err := s.Create(ctx, "docs/d2", blob.WithContentType(ct)); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("Create with content type %q: %v, want invalid", ct, err)
			}
		}
		w, err = s.Create(ctx, "docs/d3", blob.WithContentType("text/plain; charset=utf-8"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.Stat(ctx, "docs/d3"); st.ContentType != "text/plain; charset=utf-8" {
			t.Errorf("content type %q not kept as given", st.ContentType)
		}
	})

	t.Run("Replace", func(t *testing.T) {
		s := newStore(t)
		put(t, s, "k", "version one")
		info := put(t, s, "k", "v2")
		checkInfo(t, info, blob.Info{Key: "k", Size: 2, SHA256: sha256.Sum256([]byte("v2"))})
		if got := read(t, s, "k"); got != "v2" {
			t.Fatalf("read %q, want v2", got)
		}
		if keys := list(t, s, ""); !slices.Equal(keys, []string{"k"}) {
			t.Fatalf("List = %q", keys)
		}
	})

	t.Run("UncommittedIsInvisible", func(t *testing.T) {
		s := newStore(t)
		w, err := s.Create(ctx, "new")
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "half")
		assertNotFound(t, s, "new")
		if keys := list(t, s, ""); len(keys) != 0 {
			t.Fatalf("List during write = %q", keys)
		}
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		assertNotFound(t, s, "new")
		if _, err := w.Commit(); err == nil {
			t.Fatal("Commit after Abort succeeded")
		}
		assertNotFound(t, s, "new")

		// A writer dropped without Commit or Abort (a crash) leaves nothing.
		w, err = s.Create(ctx, "dropped")
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "never committed")
		assertNotFound(t, s, "dropped")
	})

	t.Run("ReplaceIsAtomic", func(t *testing.T) {
		s := newStore(t)
		put(t, s, "k", "old")
		w, err := s.Create(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "new content, not committed yet")
		if got := read(t, s, "k"); got != "old" {
			t.Fatalf("during write read %q, want old", got)
		}
		if st, err := s.Stat(ctx, "k"); err != nil || st.Size != 3 {
			t.Fatalf("during write Stat = %+v, %v", st, err)
		}
		w.Abort()
		if got := read(t, s, "k"); got != "old" {
			t.Fatalf("after Abort read %q, want old", got)
		}
	})

	t.Run("ReaderKeepsItsVersion", func(t *testing.T) {
		s := newStore(t)
		put(t, s, "k", "first")
		r, _, err := s.Open(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		put(t, s, "k", "second")
		if err := s.Delete(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || string(got) != "first" {
			t.Fatalf("open reader read %q, %v; want first", got, err)
		}
	})

	t.Run("WriterLifecycle", func(t *testing.T) {
		s := newStore(t)
		w, err := s.Create(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "x")
		if _, err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Commit(); err == nil {
			t.Error("second Commit succeeded")
		}
		if _, err := w.Write([]byte("y")); err == nil {
			t.Error("Write after Commit succeeded")
		}
		if err := w.Abort(); err != nil {
			t.Errorf("Abort after Commit: %v", err)
		}
		if got := read(t, s, "k"); got != "x" {
			t.Fatalf("read %q, want x", got)
		}
	})

	t.Run("SizeLimit", func(t *testing.T) {
		s := newStore(t)
		w, err := s.Create(ctx, "up/exact", blob.WithMaxBytes(10))
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "01234")
		if _, err := io.WriteString(w, "56789"); err != nil {
			t.Fatalf("write up to the limit: %v", err)
		}
		if _, err := w.Commit(); err != nil {
			t.Fatalf("commit at the limit: %v", err)
		}

		put(t, s, "up/big", "previous")
		w, err = s.Create(ctx, "up/big", blob.WithMaxBytes(10))
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "0123456")
		if _, err := io.WriteString(w, "7890"); !apperr.Is(err, apperr.TooLarge) {
			t.Fatalf("write past the limit: %v, want too_large", err)
		}
		if _, err := w.Write([]byte("!")); err == nil {
			t.Error("Write after a failed Write succeeded")
		}
		if _, err := w.Commit(); !apperr.Is(err, apperr.TooLarge) {
			t.Fatalf("Commit after too large: %v, want too_large", err)
		}
		if got := read(t, s, "up/big"); got != "previous" {
			t.Fatalf("read %q, want the previous version", got)
		}

		w, err = s.Create(ctx, "up/new", blob.WithMaxBytes(3))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, bytes.NewReader(make([]byte, 1<<20))); !apperr.Is(err, apperr.TooLarge) {
			t.Fatalf("copy past the limit: %v", err)
		}
		w.Commit()
		assertNotFound(t, s, "up/new")

		if _, err := s.Create(ctx, "up/neg", blob.WithMaxBytes(-1)); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("negative limit: %v, want invalid", err)
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		s := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		w, err := s.Create(cctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "part")
		cancel()
		if _, err := io.WriteString(w, "more"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Write after cancel: %v", err)
		}
		if _, err := w.Commit(); err == nil {
			t.Fatal("Commit after cancel succeeded")
		}
		assertNotFound(t, s, "k")
	})

	t.Run("Delete", func(t *testing.T) {
		s := newStore(t)
		if err := s.Delete(ctx, "missing/key"); err != nil {
			t.Fatalf("Delete of a missing key: %v", err)
		}
		put(t, s, "a/b/c", "x")
		put(t, s, "a/b", "parent key")
		if err := s.Delete(ctx, "a/b/c"); err != nil {
			t.Fatal(err)
		}
		assertNotFound(t, s, "a/b/c")
		if got := read(t, s, "a/b"); got != "parent key" {
			t.Fatalf("a/b read %q", got)
		}
		if err := s.Delete(ctx, "a/b/c"); err != nil {
			t.Fatalf("second Delete: %v", err)
		}
		put(t, s, "a/b/c", "again")
		if got := read(t, s, "a/b/c"); got != "again" {
			t.Fatalf("recreated read %q", got)
		}
	})

	t.Run("ListAndDeletePrefix", func(t *testing.T) {
		s := newStore(t)
		for _, k := range []string{
			"exports/1/Patient.ndjson", "exports/1/Observation.ndjson", "exports/1",
			"exports/12/Patient.ndjson", "exports/1-x/a", "exports-1/a", "other",
		} {
			put(t, s, k, k)
		}
		if got, want := list(t, s, ""), []string{
			"exports-1/a", "exports/1", "exports/1-x/a", "exports/1/Observation.ndjson",
			"exports/1/Patient.ndjson", "exports/12/Patient.ndjson", "other",
		}; !slices.Equal(got, want) {
			t.Fatalf("List(\"\") = %q\nwant %q", got, want)
		}
		want := []string{"exports/1", "exports/1/Observation.ndjson", "exports/1/Patient.ndjson"}
		for _, p := range []string{"exports/1", "exports/1/"} {
			if got := list(t, s, p); !slices.Equal(got, want) {
				t.Fatalf("List(%q) = %q, want %q", p, got, want)
			}
		}
		if got := list(t, s, "exports/1/Patient.ndjson"); !slices.Equal(got, []string{"exports/1/Patient.ndjson"}) {
			t.Fatalf("List of a key = %q", got)
		}
		if got := list(t, s, "nothing/here"); len(got) != 0 {
			t.Fatalf("List of an absent prefix = %q", got)
		}
		if err := s.DeletePrefix(ctx, "exports/1"); err != nil {
			t.Fatal(err)
		}
		if got, want := list(t, s, ""), []string{"exports-1/a", "exports/1-x/a", "exports/12/Patient.ndjson", "other"}; !slices.Equal(got, want) {
			t.Fatalf("after DeletePrefix List = %q, want %q", got, want)
		}
		if err := s.DeletePrefix(ctx, "nothing/here"); err != nil {
			t.Fatalf("DeletePrefix of an absent prefix: %v", err)
		}
		for _, p := range []string{"", "/"} {
			if err := s.DeletePrefix(ctx, p); !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("DeletePrefix(%q): %v, want invalid", p, err)
			}
		}
		if len(list(t, s, "")) != 4 {
			t.Fatal("a refused DeletePrefix deleted something")
		}
	})

	t.Run("HostileKeys", func(t *testing.T) {
		s := newStore(t)
		put(t, s, "ok/key", "x")
		for _, k := range HostileKeys {
			if w, err := s.Create(ctx, k); !apperr.Is(err, apperr.Invalid) {
				if w != nil {
					w.Abort()
				}
				t.Errorf("Create(%q): %v, want invalid", k, err)
			}
			if r, _, err := s.Open(ctx, k); !apperr.Is(err, apperr.Invalid) {
				if r != nil {
					r.Close()
				}
				t.Errorf("Open(%q): %v, want invalid", k, err)
			}
			if _, err := s.Stat(ctx, k); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("Stat(%q): %v, want invalid", k, err)
			}
			if err := s.Delete(ctx, k); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("Delete(%q): %v, want invalid", k, err)
			}
			if k == "" || k == "a/" {
				continue // as prefixes these are everything and "a"
			}
			if _, err := s.List(ctx, k); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("List(%q): %v, want invalid", k, err)
			}
			if err := s.DeletePrefix(ctx, k); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("DeletePrefix(%q): %v, want invalid", k, err)
			}
		}
		if got := read(t, s, "ok/key"); got != "x" {
			t.Fatalf("ok/key read %q after hostile keys", got)
		}
	})

	t.Run("ConcurrentWriters", func(t *testing.T) {
		s := newStore(t)
		const n = 16
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				key := fmt.Sprintf("exports/c/file-%02d.ndjson", i)
				w, err := s.Create(ctx, key)
				if err != nil {
					errs <- err
					return
				}
				for j := range 200 {
					if _, err := fmt.Fprintf(w, "{\"writer\":%d,\"line\":%d}\n", i, j); err != nil {
						errs <- err
						return
					}
				}
				if _, err := w.Commit(); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		keys := list(t, s, "exports/c")
		if len(keys) != n {
			t.Fatalf("List = %d keys, want %d", len(keys), n)
		}
		for i, k := range keys {
			var want bytes.Buffer
			for j := range 200 {
				fmt.Fprintf(&want, "{\"writer\":%d,\"line\":%d}\n", i, j)
			}
			if got := read(t, s, k); got != want.String() {
				t.Fatalf("%s holds another writer's lines", k)
			}
		}
	})

	t.Run("ConcurrentReplaceAndRead", func(t *testing.T) {
		s := newStore(t)
		put(t, s, "hot", "v0")
		var wg sync.WaitGroup
		stop := make(chan struct{})
		errs := make(chan error, 8)
		wg.Go(func() {
			defer close(stop)
			for i := range 100 {
				w, err := s.Create(ctx, "hot")
				if err != nil {
					errs <- err
					return
				}
				w.Write(bytes.Repeat([]byte{byte('a' + i%26)}, 100+i*37))
				if _, err := w.Commit(); err != nil {
					errs <- err
					return
				}
			}
		})
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					r, info, err := s.Open(ctx, "hot")
					if err != nil {
						errs <- fmt.Errorf("open while replacing: %w", err)
						return
					}
					h := sha256.New()
					n, err := io.Copy(h, r)
					r.Close()
					if err != nil || n != info.Size || !bytes.Equal(h.Sum(nil), info.SHA256[:]) {
						errs <- fmt.Errorf("read %d bytes (err %v) not matching Info size %d / hash", n, err, info.Size)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	})
}

func put(t *testing.T, s blob.Store, key, content string) blob.Info {
	t.Helper()
	w, err := s.Create(context.Background(), key)
	if err != nil {
		t.Fatalf("Create(%q): %v", key, err)
	}
	if _, err := io.WriteString(w, content); err != nil {
		t.Fatalf("Write(%q): %v", key, err)
	}
	info, err := w.Commit()
	if err != nil {
		t.Fatalf("Commit(%q): %v", key, err)
	}
	return info
}

func read(t *testing.T, s blob.Store, key string) string {
	t.Helper()
	r, info, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	if int64(len(b)) != info.Size || sha256.Sum256(b) != info.SHA256 {
		t.Fatalf("%q: content does not match its Info", key)
	}
	return string(b)
}

func list(t *testing.T, s blob.Store, prefix string) []string {
	t.Helper()
	keys, err := s.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return keys
}

func assertNotFound(t *testing.T, s blob.Store, key string) {
	t.Helper()
	if _, err := s.Stat(context.Background(), key); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("Stat(%q): %v, want not_found", key, err)
	}
	r, _, err := s.Open(context.Background(), key)
	if !apperr.Is(err, apperr.NotFound) {
		if r != nil {
			r.Close()
		}
		t.Fatalf("Open(%q): %v, want not_found", key, err)
	}
	if keys, _ := s.List(context.Background(), key); len(keys) != 0 {
		t.Fatalf("List(%q) = %q, want nothing", key, keys)
	}
}

func checkInfo(t *testing.T, got, want blob.Info) {
	t.Helper()
	if got.Key != want.Key || got.Size != want.Size || got.SHA256 != want.SHA256 || got.ContentType != want.ContentType {
		t.Fatalf("Info = {%q %d %x %q}, want {%q %d %x %q}", got.Key, got.Size, got.SHA256, got.ContentType,
			want.Key, want.Size, want.SHA256, want.ContentType)
	}
}
