package secrets

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// MasterKeySize is the length in bytes of the master key.
const MasterKeySize = 32

// MasterKeyFile is the name of the key file LoadOrCreateMasterKey keeps in
// the data directory when WARD_MASTER_KEY is not set.
const MasterKeyFile = "master.key"

// Key purposes for DeriveKey. Each use of the master key gets its own
// sub-key, so a key leaked from one use (an HMAC key in a log, say) says
// nothing about the others.
const (
	PurposeKeysetKEK    = "keyset-kek"
	PurposeSession      = "session"
	PurposeClientSecret = "client-secret"
	PurposeToken        = "token"
	// PurposeSigninLimit keys the sign-in lockout counters by the HMAC of
	// an email, so the database holds no guessed address in clear.
	PurposeSigninLimit = "signin-limit"
)

// LoadOrCreateMasterKey returns the 32-byte master key. envValue (the
// WARD_MASTER_KEY variable) wins when set: base64, standard or URL alphabet,
// padded or not. Otherwise the key is read from <dataDir>/master.key, which is
// created with fresh random bytes (mode 0600, directory 0700) on first run.
// An existing key file readable by group or others is refused rather than
// used, since whoever can read it can decrypt every secret at rest.
func LoadOrCreateMasterKey(dataDir, envValue string) ([]byte, error) {
	if strings.TrimSpace(envValue) != "" {
		k, err := decodeMasterKey(envValue)
		if err != nil {
			return nil, fmt.Errorf("WARD_MASTER_KEY: %w", err)
		}
		return k, nil
	}
	if dataDir == "" {
		return nil, errors.New("master key: neither WARD_MASTER_KEY nor a data directory was given")
	}
	path := filepath.Join(dataDir, MasterKeyFile)
	k, err := readMasterKeyFile(path)
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := createMasterKeyFile(dataDir, path); err != nil {
		return nil, err
	}
	// Read back what is on disk: another process may have won the race to
	// create it, and its key is the one everyone must use.
	return readMasterKeyFile(path)
}

func decodeMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("-", "+", "_", "/").Replace(s)
	k, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("not valid base64")
	}
	if len(k) != MasterKeySize {
		return nil, fmt.Errorf("decodes to %d bytes, want %d", len(k), MasterKeySize)
	}
	return k, nil
}

func readMasterKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("master key file: %w", err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key file %s has mode %v: it must be readable by its owner only (chmod 600)",
			path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("master key file: %w", err)
	}
	k, err := decodeMasterKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return k, nil
}

// createMasterKeyFile writes a fresh key to a temporary file and links it
// into place: the link is atomic and never replaces an existing file, so a
// crash leaves either no key file or a complete one, and two processes
// starting together end up sharing one key.
func createMasterKeyFile(dataDir, path string) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("master key: create data directory: %w", err)
	}
	k := make([]byte, MasterKeySize)
	if _, err := rand.Read(k); err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	tmp, err := os.CreateTemp(dataDir, ".master.key-*")
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	defer os.Remove(tmp.Name()) // the link below is the real name; the temp name always goes
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("master key: %w", err)
	}
	if _, err := tmp.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("master key: write: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("master key: sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("master key: %w", err)
	}
	return nil
}

// DeriveKey returns an n-byte sub-key of master for purpose (HKDF-SHA-256,
// the purpose as info). The same master and purpose always give the same key.
func DeriveKey(master []byte, purpose string, n int) ([]byte, error) {
	if len(master) < MasterKeySize {
		return nil, fmt.Errorf("derive key: master key is %d bytes, want at least %d", len(master), MasterKeySize)
	}
	if purpose == "" {
		return nil, errors.New("derive key: empty purpose")
	}
	if n < 16 || n > 64 {
		return nil, fmt.Errorf("derive key: length %d out of range [16, 64]", n)
	}
	k, err := hkdf.Key(sha256.New, master, nil, "ward/"+purpose, n)
	if err != nil {
		return nil, fmt.Errorf("derive key %q: %w", purpose, err)
	}
	return k, nil
}

// DeriveHMACKey returns the HMAC key for purpose (32 bytes, see DeriveKey).
func DeriveHMACKey(master []byte, purpose string) (HMACKey, error) {
	k, err := DeriveKey(master, purpose, 32)
	if err != nil {
		return nil, err
	}
	return HMACKey(k), nil
}
