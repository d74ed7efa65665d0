package blob

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"ward/internal/apperr"
)

// Layout of a Dir root:
//
//	tmp/                      writes in progress, and metadata being swapped
//	objects/<dirs>/<name>~m   the metadata of key <dirs>/<name> (JSON)
//	objects/<dirs>/<name>~<id> its content, id being 16 random hex digits
//
// The metadata file is the commit point: content is renamed into place under
// a fresh name that nothing refers to yet, then the metadata naming it is
// renamed over the old one. One rename makes a new version visible whole, a
// reader always gets the content its metadata describes, and a crash at any
// step leaves the old version (plus, at worst, an unreferenced file that
// CleanTemp sweeps). '~' cannot occur in a key, so these names never collide
// with each other or with the directories of longer keys.
const (
	tmpDir     = "tmp"
	objectsDir = "objects"
	metaSuffix = "~m"
	dataSep    = "~"
	idLen      = 16 // hex digits in a content file's id

	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600

	maxMetaSize = 4096
	// openAttempts bounds how often Open rereads metadata whose content was
	// replaced between the two reads.
	openAttempts = 8
	// minSweepAge keeps CleanTemp away from writes that are just committing.
	minSweepAge = time.Minute
)

// Dir is a Store on a local directory, the default one, inside the data
// directory. Directories are 0700 and files 0600. All access goes through
// an os.Root, so not even a symbolic link planted under the root leads a key
// outside it. On a case-insensitive filesystem keys differing only in case
// name the same blob; ward's keys are generated, so this does not arise.
type Dir struct {
	root *os.Root
	path string
	now  func() time.Time
}

var _ Store = (*Dir)(nil)

// DirOption configures NewDir.
type DirOption func(*Dir)

// WithClock sets the clock used for commit times and CleanTemp's cutoff.
func WithClock(now func() time.Time) DirOption {
	return func(d *Dir) { d.now = now }
}

// NewDir opens the store rooted at root, creating it (mode 0700) when
// missing. An existing root that group or others may access is refused, as a
// key file is: it would expose patient data.
func NewDir(root string, opts ...DirOption) (*Dir, error) {
	if root == "" {
		return nil, errors.New("blob store: empty root directory")
	}
	if err := os.MkdirAll(root, dirMode); err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("blob store: %s is not a directory", root)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("blob store: directory %s has mode %v: it must be accessible by its owner only (chmod 700)",
			root, fi.Mode().Perm())
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	d := &Dir{root: r, path: root, now: time.Now}
	for _, o := range opts {
		o(d)
	}
	for _, sub := range []string{tmpDir, objectsDir} {
		if err := r.MkdirAll(sub, dirMode); err != nil {
			r.Close()
			return nil, fmt.Errorf("blob store: %w", err)
		}
	}
	return d, nil
}

// Close releases the root directory. Readers already open stay usable.
func (d *Dir) Close() error { return d.root.Close() }

// Path returns the root directory.
func (d *Dir) Path() string { return d.path }

// metadata is the content of a "~m" file.
type metadata struct {
	Data        string    `json:"data"` // content file name, in the same directory
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"` // hex
	ContentType string    `json:"content_type,omitempty"`
	Modified    time.Time `json:"modified"`
}

// location splits a valid key into its directory under the root and the
// base name of its files.
func location(key string) (dir, base string) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return objectsDir, key
	}
	return filepath.Join(objectsDir, filepath.FromSlash(key[:i])), key[i+1:]
}

func metaName(key string) string {
	dir, base := location(key)
	return filepath.Join(dir, base+metaSuffix)
}

func randomID() string {
	var b [idLen / 2]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

func isDataName(base, name string) bool {
	id, ok := strings.CutPrefix(name, base+dataSep)
	if !ok || len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !('0' <= id[i] && id[i] <= '9' || 'a' <= id[i] && id[i] <= 'f') {
			return false
		}
	}
	return true
}

func internal(err error, op string) error {
	return apperr.Wrap(apperr.Internal, err, "blob store: %s", op)
}

func notFound() error { return apperr.New(apperr.NotFound, "blob not found") }

// readMeta reads the metadata file name (relative to the root) of a blob
// whose files have base name base.
func (d *Dir) readMeta(name, base string) (metadata, error) {
	var m metadata
	f, err := d.root.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
			return m, notFound()
		}
		return m, internal(err, "read metadata")
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMetaSize+1))
	if err != nil {
		return m, internal(err, "read metadata")
	}
	if len(b) > maxMetaSize {
		return m, internal(errors.New("metadata too large"), "read metadata")
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, internal(err, "read metadata")
	}
	if !isDataName(base, m.Data) {
		return m, internal(fmt.Errorf("metadata names %q", m.Data), "read metadata")
	}
	return m, nil
}

// isNotDir reports an ENOTDIR, which a key whose directory part runs through
// a file (never made by Dir) produces; for the caller the key is just absent.
func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }

func (m metadata) info(key string) (Info, error) {
	in := Info{Key: key, Size: m.Size, ContentType: m.ContentType, ModTime: m.Modified}
	sum, err := hex.DecodeString(m.SHA256)
	if err != nil || len(sum) != sha256.Size {
		return Info{}, internal(errors.New("bad digest"), "read metadata")
	}
	copy(in.SHA256[:], sum)
	return in, nil
}

// Create implements Store.
func (d *Dir) Create(ctx context.Context, key string, opts ...CreateOption) (Writer, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	o, err := ApplyOptions(opts)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name := filepath.Join(tmpDir, "w-"+randomID())
	f, err := d.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return nil, internal(err, "create temporary file")
	}
	return &dirWriter{d: d, ctx: ctx, key: key, tmp: name, f: f, h: sha256.New(),
		max: o.MaxBytes, contentType: o.ContentType}, nil
}

type dirWriter struct {
	d           *Dir
	ctx         context.Context
	key         string
	tmp         string // temporary file, relative to the root
	f           *os.File
	h           hash.Hash
	n           int64
	max         int64
	contentType string
	err         error // first failure; the write can no longer commit
	done        bool  // committed or aborted
}

var errWriterClosed = errors.New("blob: writer already committed or aborted")

// fail records err, drops the temporary file and returns err.
func (w *dirWriter) fail(err error) error {
	if w.err == nil {
		w.err = err
		w.discard()
	}
	return w.err
}

func (w *dirWriter) discard() {
	if w.f != nil {
		w.f.Close()
		w.f = nil
		_ = w.d.root.Remove(w.tmp)
	}
}

func (w *dirWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errWriterClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	if err := w.ctx.Err(); err != nil {
		return 0, w.fail(err)
	}
	if w.max >= 0 && int64(len(p)) > w.max-w.n {
		return 0, w.fail(apperr.New(apperr.TooLarge, "blob is larger than %d bytes", w.max))
	}
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	if err != nil {
		return n, w.fail(internal(err, "write"))
	}
	return n, nil
}

func (w *dirWriter) SetContentType(ct string) error {
	if w.done {
		return errWriterClosed
	}
	if err := ValidateContentType(ct); err != nil {
		return err
	}
	w.contentType = ct
	return nil
}

func (w *dirWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.discard()
	return nil
}

func (w *dirWriter) Commit() (Info, error) {
	if w.done {
		return Info{}, errWriterClosed
	}
	if w.err != nil {
		w.done = true
		return Info{}, w.err
	}
	info, err := w.commit()
	w.done = true
	if err != nil {
		w.discard()
		return Info{}, err
	}
	return info, nil
}

func (w *dirWriter) commit() (Info, error) {
	d := w.d
	if err := w.ctx.Err(); err != nil {
		return Info{}, err
	}
	if err := w.f.Sync(); err != nil {
		return Info{}, internal(err, "sync")
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		_ = d.root.Remove(w.tmp)
		return Info{}, internal(err, "close")
	}
	// Stamp the commit time, so that CleanTemp's age test sees a file being
	// committed as fresh however long ago its last Write was.
	now := d.now().UTC()
	if err := d.root.Chtimes(w.tmp, now, now); err != nil {
		_ = d.root.Remove(w.tmp)
		return Info{}, internal(err, "commit")
	}

	dir, base := location(w.key)
	data := base + dataSep + randomID()
	if err := d.moveInto(w.tmp, dir, data); err != nil {
		_ = d.root.Remove(w.tmp)
		return Info{}, internal(err, "commit")
	}
	dataPath := filepath.Join(dir, data)

	m := metadata{Data: data, Size: w.n, SHA256: hex.EncodeToString(w.h.Sum(nil)),
		ContentType: w.contentType, Modified: now}
	mname := metaName(w.key)
	old, oldErr := d.readMeta(mname, base)
	if err := d.writeMeta(m, mname); err != nil {
		_ = d.root.Remove(dataPath)
		return Info{}, err
	}
	d.syncDir(dir)
	// Only this commit replaced old's metadata, so nothing refers to its
	// content any more; readers that opened it keep their descriptor.
	if oldErr == nil && old.Data != data {
		_ = d.root.Remove(filepath.Join(dir, old.Data))
	}
	return m.info(w.key)
}

// moveInto renames the root-relative file from to dir/name, creating dir. A
// concurrent Delete may prune a directory between MkdirAll and Rename, or
// between the levels MkdirAll creates, so an ENOENT from either is retried
// while the source still exists.
func (d *Dir) moveInto(from, dir, name string) error {
	var err error
	for range 8 {
		if err = d.root.MkdirAll(dir, dirMode); err == nil {
			err = d.root.Rename(from, filepath.Join(dir, name))
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if _, serr := d.root.Lstat(from); serr != nil {
			return serr
		}
	}
	return err
}

// writeMeta writes m to a temporary file and renames it over name.
func (d *Dir) writeMeta(m metadata, name string) error {
	b, err := json.Marshal(m)
	if err != nil {
		return internal(err, "write metadata")
	}
	tmp := filepath.Join(tmpDir, "m-"+randomID())
	f, err := d.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return internal(err, "write metadata")
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = d.root.Rename(tmp, name)
	}
	if err != nil {
		_ = d.root.Remove(tmp)
		return internal(err, "write metadata")
	}
	return nil
}

// syncDir makes renames into dir durable. Failure only costs durability of a
// rename already done, so it is not reported.
func (d *Dir) syncDir(dir string) {
	if f, err := d.root.Open(dir); err == nil {
		_ = f.Sync()
		f.Close()
	}
}

// Open implements Store.
func (d *Dir) Open(ctx context.Context, key string) (io.ReadSeekCloser, Info, error) {
	if err := ValidateKey(key); err != nil {
		return nil, Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, Info{}, err
	}
	dir, base := location(key)
	mname := metaName(key)
	for range openAttempts {
		m, err := d.readMeta(mname, base)
		if err != nil {
			return nil, Info{}, err
		}
		f, err := d.root.Open(filepath.Join(dir, m.Data))
		if errors.Is(err, fs.ErrNotExist) {
			continue // replaced or deleted since the metadata was read
		}
		if err != nil {
			return nil, Info{}, internal(err, "open")
		}
		info, err := m.info(key)
		if err == nil {
			var fi fs.FileInfo
			if fi, err = f.Stat(); err == nil && fi.Size() != m.Size {
				err = internal(fmt.Errorf("content is %d bytes, metadata says %d", fi.Size(), m.Size), "open")
			}
		}
		if err != nil {
			f.Close()
			return nil, Info{}, err
		}
		return f, info, nil
	}
	return nil, Info{}, internal(errors.New("content keeps disappearing"), "open")
}

// Stat implements Store.
func (d *Dir) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	_, base := location(key)
	m, err := d.readMeta(metaName(key), base)
	if err != nil {
		return Info{}, err
	}
	return m.info(key)
}

// Delete implements Store.
func (d *Dir) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return d.delete(key)
}

// delete takes the metadata away with one rename, so exactly the version it
// took is removed, whatever commits race with it.
func (d *Dir) delete(key string) error {
	dir, base := location(key)
	taken := filepath.Join(tmpDir, "d-"+randomID())
	if err := d.root.Rename(metaName(key), taken); err != nil {
		if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
			return nil
		}
		return internal(err, "delete")
	}
	// The blob is gone from here on; a content file that cannot be removed
	// is left for CleanTemp rather than reported.
	if m, err := d.readMeta(taken, base); err == nil {
		_ = d.root.Remove(filepath.Join(dir, m.Data))
	}
	_ = d.root.Remove(taken)
	d.prune(dir)
	return nil
}

// prune removes dir and its parents up to objects/ while they are empty.
func (d *Dir) prune(dir string) {
	for dir != objectsDir && strings.HasPrefix(dir, objectsDir+string(filepath.Separator)) {
		if d.root.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// DeletePrefix implements Store.
func (d *Dir) DeletePrefix(ctx context.Context, prefix string) error {
	p, err := CleanPrefix(prefix)
	if err != nil {
		return err
	}
	if p == "" {
		return apperr.New(apperr.Invalid, "blob: DeletePrefix needs a prefix")
	}
	keys, err := d.List(ctx, p)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := d.delete(k); err != nil {
			return err
		}
	}
	return nil
}

// List implements Store.
func (d *Dir) List(ctx context.Context, prefix string) ([]string, error) {
	p, err := CleanPrefix(prefix)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var keys []string
	fsys := d.root.FS()
	start := objectsDir
	if p != "" {
		start = path.Join(objectsDir, p)
		// The prefix itself may be a key.
		if _, err := fs.Stat(fsys, start+metaSuffix); err == nil {
			keys = append(keys, p)
		}
	}
	err = fs.WalkDir(fsys, start, func(name string, de fs.DirEntry, err error) error {
		if err != nil {
			if name == start && (errors.Is(err, fs.ErrNotExist) || isNotDir(err)) {
				return fs.SkipAll
			}
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if de.IsDir() {
			return nil
		}
		rel, ok := strings.CutSuffix(strings.TrimPrefix(name, objectsDir+"/"), metaSuffix)
		if ok && de.Type().IsRegular() && ValidateKey(rel) == nil {
			keys = append(keys, rel)
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, internal(err, "list")
	}
	sort.Strings(keys)
	return keys, nil
}

// CleanTemp removes what interrupted work left behind and has not been
// touched for olderThan: temporary files of writers that never committed or
// aborted, and content files no metadata refers to (a crash between the two
// renames of a commit or a delete, or two commits of one key racing). It
// returns how many files it removed. Call it at startup or periodically;
// olderThan must exceed the longest write still in progress (a day is
// plenty) and be at least a minute.
func (d *Dir) CleanTemp(olderThan time.Duration) (int, error) {
	if olderThan < minSweepAge {
		return 0, apperr.New(apperr.Invalid, "blob: CleanTemp age must be at least %v", minSweepAge)
	}
	cutoff := d.now().Add(-olderThan)
	old := func(de fs.DirEntry) bool {
		fi, err := de.Info()
		return err == nil && fi.Mode().IsRegular() && fi.ModTime().Before(cutoff)
	}
	removed := 0
	fsys := d.root.FS()

	entries, err := fs.ReadDir(fsys, tmpDir)
	if err != nil {
		return removed, internal(err, "clean temporary files")
	}
	for _, de := range entries {
		if old(de) && d.root.Remove(filepath.Join(tmpDir, de.Name())) == nil {
			removed++
		}
	}

	err = fs.WalkDir(fsys, objectsDir, func(dir string, de fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // pruned meanwhile
			}
			return err
		}
		if !de.IsDir() {
			return nil
		}
		entries, err := fs.ReadDir(fsys, dir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fs.SkipDir
			}
			return err
		}
		// Read the metadata after listing: content a commit renames in after
		// the listing is not looked at, and content it renamed in before is
		// fresh (stamped at commit), so it is kept either way.
		referenced := map[string]bool{}
		for _, e := range entries {
			if base, ok := strings.CutSuffix(e.Name(), metaSuffix); ok {
				if m, err := d.readMeta(filepath.Join(filepath.FromSlash(dir), e.Name()), base); err == nil {
					referenced[m.Data] = true
				}
			}
		}
		for _, e := range entries {
			name := e.Name()
			base, _, ok := strings.Cut(name, dataSep)
			if !ok || strings.HasSuffix(name, metaSuffix) || !isDataName(base, name) ||
				referenced[name] || !old(e) {
				continue
			}
			if d.root.Remove(filepath.Join(filepath.FromSlash(dir), name)) == nil {
				removed++
			}
		}
		return nil
	})
	if err != nil {
		return removed, internal(err, "clean orphaned files")
	}
	return removed, nil
}
