package blob

import (
	"context"
	"crypto/sha256"
	"io"
	"mime"
	"strings"
	"time"

	"ward/internal/apperr"
)

// Store keeps named blobs. Implementations are safe for concurrent use by
// many goroutines and, for Dir, by several processes sharing one root.
//
// The contract every implementation keeps (blobtest.Run checks it):
//
//   - Keys are checked by ValidateKey; an invalid key or prefix is
//     apperr.Invalid, a missing blob apperr.NotFound.
//   - Create returns a Writer that streams to temporary storage. Nothing is
//     visible under the key until Commit returns nil, and then the whole blob
//     is, at once: a reader sees either the previous version (or NotFound) or
//     the new one, never a mix, and a crash before Commit leaves no trace
//     under the key. Commit replaces an existing blob. Abort, a failed Write
//     or a cancelled context discards the write.
//   - Info (size, SHA-256, content type, modification time) is computed while
//     writing and always describes exactly the bytes Open returns.
//   - Delete of a missing key is not an error.
//   - A prefix is a key (a trailing "/" is allowed) and matches whole
//     segments: "exports/12" matches "exports/12" and "exports/12/a.ndjson",
//     never "exports/123". List("") lists every key; DeletePrefix("") is
//     refused, so a bug cannot empty the store.
//   - "a" and "a/b" may both be keys; keys are case-sensitive.
//   - Implementations never hold a whole blob in memory.
type Store interface {
	// Create starts writing the blob key. The context bounds the whole
	// write: once it is done, Write and Commit fail.
	Create(ctx context.Context, key string, opts ...CreateOption) (Writer, error)
	// Open returns the committed blob key for reading, with its Info. The
	// reader keeps seeing the version it opened even if the blob is replaced
	// or deleted meanwhile. The caller closes it.
	Open(ctx context.Context, key string) (io.ReadSeekCloser, Info, error)
	// Stat returns the Info of the committed blob key.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the blob key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// DeletePrefix removes every blob matched by prefix (one export's files,
	// say). The prefix must not be empty.
	DeletePrefix(ctx context.Context, prefix string) error
	// List returns the committed keys matched by prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
}

// Writer streams one blob. It is not safe for concurrent use. Exactly one of
// Commit or Abort should be called; a Writer dropped without either leaves a
// temporary file that a sweep (Dir.CleanTemp) removes.
type Writer interface {
	// Write appends to the blob. Past the WithMaxBytes limit it fails with
	// apperr.TooLarge; after any failed Write the blob can no longer be
	// committed.
	io.Writer
	// SetContentType records the blob's media type (it replaces one given
	// with WithContentType); "" clears it. Call it before Commit.
	SetContentType(contentType string) error
	// Commit makes the blob visible under its key, replacing any previous
	// version, and returns its Info. It fails if a Write failed, and then
	// nothing is committed.
	Commit() (Info, error)
	// Abort discards the write. It is a no-op after Commit or Abort, so it can
	// be deferred.
	Abort() error
}

// Info describes a committed blob.
type Info struct {
	Key string
	// Size is the length in bytes.
	Size int64
	// SHA256 is the digest of the content, computed while it was written.
	SHA256 [sha256.Size]byte
	// ContentType is the media type recorded by the writer, or "".
	ContentType string
	// ModTime is when the blob was committed.
	ModTime time.Time
}

// CreateOption configures Store.Create.
type CreateOption func(*CreateOptions)

// CreateOptions is the result of applying CreateOptions; Store
// implementations read it through ApplyOptions.
type CreateOptions struct {
	// ContentType is the media type to record, or "".
	ContentType string
	// MaxBytes is the largest size the blob may reach; negative means no
	// limit.
	MaxBytes int64

	err error // the first bad option
}

// WithContentType records contentType as the blob's media type.
func WithContentType(contentType string) CreateOption {
	return func(o *CreateOptions) { o.ContentType = contentType }
}

// WithMaxBytes makes a Write that would take the blob past n bytes fail with
// apperr.TooLarge, so an upload is cut off as it streams rather than after.
// n must not be negative; 0 allows only an empty blob.
func WithMaxBytes(n int64) CreateOption {
	return func(o *CreateOptions) {
		if n < 0 {
			o.err = apperr.New(apperr.Invalid, "blob: size limit must not be negative")
			return
		}
		o.MaxBytes = n
	}
}

// ApplyOptions applies opts to the defaults (no content type, no limit) and
// checks the result; a bad option is apperr.Invalid.
func ApplyOptions(opts []CreateOption) (CreateOptions, error) {
	o := CreateOptions{MaxBytes: -1}
	for _, opt := range opts {
		opt(&o)
	}
	if o.err != nil {
		return o, o.err
	}
	if err := ValidateContentType(o.ContentType); err != nil {
		return o, err
	}
	return o, nil
}

// MaxContentTypeLen bounds a recorded content type.
const MaxContentTypeLen = 255

// ValidateContentType accepts "" or a type/subtype media type (parameters
// allowed) that mime.ParseMediaType understands, in printable ASCII of at most MaxContentTypeLen bytes.
func ValidateContentType(ct string) error {
	if ct == "" {
		return nil
	}
	if len(ct) > MaxContentTypeLen {
		return apperr.New(apperr.Invalid, "blob: content type longer than %d bytes", MaxContentTypeLen)
	}
	for i := 0; i < len(ct); i++ {
		if ct[i] < 0x20 || ct[i] > 0x7e {
			return apperr.New(apperr.Invalid, "blob: content type must be printable ASCII")
		}
	}
	mt, _, err := mime.ParseMediaType(ct)
	typ, sub, ok := strings.Cut(mt, "/")
	if err != nil || !ok || typ == "" || sub == "" || strings.Contains(sub, "/") {
		return apperr.New(apperr.Invalid, "blob: content type is not a type/subtype media type")
	}
	return nil
}

// Key limits. A segment stays well under the 255-byte file-name limit of
// common filesystems, leaving room for the suffix Dir adds.
const (
	MaxKeyLen     = 512
	MaxSegmentLen = 128
)

// ValidateKey reports whether key is a usable blob key: segments separated by
// "/", each 1 to MaxSegmentLen bytes of ASCII letters, digits, '.', '_' and
// '-', not starting with '.', with no ".." anywhere; at most MaxKeyLen bytes
// in all. So a key has no leading, trailing or doubled slash, no backslash,
// no "." or ".." segment and no hidden file name, and means the same thing as
// a relative path on every system. A bad key is apperr.Invalid.
func ValidateKey(key string) error {
	if key == "" {
		return apperr.New(apperr.Invalid, "blob: empty key")
	}
	if len(key) > MaxKeyLen {
		return apperr.New(apperr.Invalid, "blob: key longer than %d bytes", MaxKeyLen)
	}
	if strings.Contains(key, "..") {
		return apperr.New(apperr.Invalid, "blob: key contains \"..\"")
	}
	seg := 0 // length of the current segment
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '/':
			if seg == 0 {
				return apperr.New(apperr.Invalid, "blob: key has an empty segment")
			}
			seg = 0
			continue
		case c == '.':
			if seg == 0 {
				return apperr.New(apperr.Invalid, "blob: key segment starts with '.'")
			}
		case c == '_' || c == '-' ||
			'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9':
		default:
			return apperr.New(apperr.Invalid, "blob: key may hold only letters, digits, '.', '_', '-' and '/'")
		}
		seg++
		if seg > MaxSegmentLen {
			return apperr.New(apperr.Invalid, "blob: key segment longer than %d bytes", MaxSegmentLen)
		}
	}
	if seg == 0 {
		return apperr.New(apperr.Invalid, "blob: key has an empty segment")
	}
	return nil
}

// CleanPrefix checks a List or DeletePrefix prefix and returns it without
// its trailing "/". "" (everything) is allowed; anything else must be a valid
// key once the slash is gone.
func CleanPrefix(prefix string) (string, error) {
	if prefix == "" {
		return "", nil
	}
	p := strings.TrimSuffix(prefix, "/")
	if err := ValidateKey(p); err != nil {
		return "", err
	}
	return p, nil
}

// HasPrefix reports whether key is matched by a prefix cleaned by
// CleanPrefix: equal to it, or below it by whole segments.
func HasPrefix(key, prefix string) bool {
	if prefix == "" {
		return true
	}
	return key == prefix || strings.HasPrefix(key, prefix) && key[len(prefix)] == '/'
}
