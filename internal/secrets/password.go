package secrets

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ErrMalformedHash is returned (wrapped) by Verify for a string that is not
// an argon2id PHC hash ward can check. The message never includes the hash.
var ErrMalformedHash = errors.New("malformed password hash")

// Argon2 hashes and checks passwords with argon2id, storing them as PHC
// strings: $argon2id$v=19$m=<KiB>,t=<passes>,p=<threads>$<salt>$<hash>
// (salt and hash in unpadded standard base64). The parameters apply to new
// hashes; Verify reads each hash's own parameters, so raising them later
// keeps old passwords working (see NeedsRehash).
type Argon2 struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// DefaultArgon2 returns OWASP's first recommended argon2id setting (19 MiB,
// 2 passes, 1 thread). It is deliberately not the heaviest setting: every
// concurrent sign-in holds that memory, and a login endpoint that can be made
// to allocate gigabytes is a denial-of-service lever.
func DefaultArgon2() Argon2 { return Argon2{Time: 2, MemoryKiB: 19 * 1024, Threads: 1} }

const (
	saltLen = 16
	keyLen  = 32

	// Bounds on the parameters read from a stored hash, so a corrupted or
	// hostile row cannot make one Verify allocate without limit or spin for
	// minutes. They are far above any setting ward would choose.
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 64
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 64
)

// b64 is unpadded standard base64 as PHC uses it. Strict decoding rejects
// non-zero trailing bits, so each hash has exactly one accepted spelling and
// an edit to the last character is never silently ignored.
var b64 = base64.RawStdEncoding.Strict()

// Hash returns the PHC string of password under a fresh random salt.
func (a Argon2) Hash(password string) (string, error) {
	if err := a.validate(); err != nil {
		return "", err
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: read salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, a.Time, a.MemoryKiB, a.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, a.MemoryKiB, a.Time, a.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether password matches the PHC string phc, comparing in
// constant time. A wrong password is (false, nil); a string that is not a
// well-formed argon2id hash within ward's parameter bounds is (false, an
// error wrapping ErrMalformedHash). It never panics on any input.
func (a Argon2) Verify(password, phc string) (bool, error) {
	p, err := parsePHC(phc)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), p.salt, p.time, p.memoryKiB, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(got, p.key) == 1, nil
}

// NeedsRehash reports whether phc was made with other parameters than a (or
// cannot be read), so a caller that has just verified the password can store
// a fresh hash with the current setting.
func (a Argon2) NeedsRehash(phc string) bool {
	p, err := parsePHC(phc)
	if err != nil {
		return true
	}
	return p.time != a.Time || p.memoryKiB != a.MemoryKiB || p.threads != a.Threads ||
		len(p.salt) != saltLen || len(p.key) != keyLen
}

func (a Argon2) validate() error {
	switch {
	case a.Time < 1 || a.Time > maxTime:
		return fmt.Errorf("argon2: time %d out of range [1, %d]", a.Time, maxTime)
	case a.Threads < 1:
		return errors.New("argon2: threads must be at least 1")
	case a.MemoryKiB < 8*uint32(a.Threads) || a.MemoryKiB > maxMemoryKiB:
		// argon2 needs at least 8 KiB per thread.
		return fmt.Errorf("argon2: memory %d KiB out of range [%d, %d]", a.MemoryKiB, 8*uint32(a.Threads), maxMemoryKiB)
	}
	return nil
}

type phcHash struct {
	time, memoryKiB uint32
	threads         uint8
	salt, key       []byte
}

func malformed(why string) error { return fmt.Errorf("%w: %s", ErrMalformedHash, why) }

// parsePHC reads an argon2id PHC string strictly: the exact field order ward
// writes, version 19, parameters within bounds.
func parsePHC(s string) (phcHash, error) {
	var p phcHash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return p, malformed("want $argon2id$v=19$m=..,t=..,p=..$salt$hash")
	}
	if parts[1] != "argon2id" {
		return p, malformed("not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, malformed("unsupported version")
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return p, malformed("want parameters m, t, p")
	}
	m, err := phcParam(params[0], "m", maxMemoryKiB)
	if err != nil {
		return p, err
	}
	t, err := phcParam(params[1], "t", maxTime)
	if err != nil {
		return p, err
	}
	th, err := phcParam(params[2], "p", 255)
	if err != nil {
		return p, err
	}
	if m < 8*th {
		return p, malformed("memory below 8 KiB per thread")
	}
	p.memoryKiB, p.time, p.threads = m, t, uint8(th)
	if p.salt, err = b64.DecodeString(parts[4]); err != nil {
		return p, malformed("salt is not base64")
	}
	if len(p.salt) < minSaltLen || len(p.salt) > maxSaltLen {
		return p, malformed("salt length out of range")
	}
	if p.key, err = b64.DecodeString(parts[5]); err != nil {
		return p, malformed("hash is not base64")
	}
	if len(p.key) < minKeyLen || len(p.key) > maxKeyLen {
		return p, malformed("hash length out of range")
	}
	return p, nil
}

// phcParam parses "name=value" with value a decimal in [1, max], no sign and
// no leading zeros (one spelling per hash).
func phcParam(s, name string, max uint32) (uint32, error) {
	v, ok := strings.CutPrefix(s, name+"=")
	if !ok {
		return 0, malformed("want parameter " + name)
	}
	if v == "" || len(v) > 10 || v[0] == '0' || strings.TrimLeft(v, "0123456789") != "" {
		return 0, malformed("parameter " + name + " is not a positive decimal")
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n < 1 || n > uint64(max) {
		return 0, malformed("parameter " + name + " out of range")
	}
	return uint32(n), nil
}
