package secrets

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestLoadOrCreateMasterKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // does not exist yet
	k1, err := LoadOrCreateMasterKey(dir, "")
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	if len(k1) != MasterKeySize {
		t.Fatalf("key is %d bytes, want %d", len(k1), MasterKeySize)
	}
	path := filepath.Join(dir, MasterKeyFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("key file: %v", err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	k2, err := LoadOrCreateMasterKey(dir, "")
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if !bytes.Equal(k1, k2) {
		t.Fatal("second run returned a different key")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("data directory holds %d entries, want only the key file", len(entries))
	}
}

func TestLoadOrCreateMasterKeyEnvWins(t *testing.T) {
	dir := t.TempDir()
	want := bytes.Repeat([]byte{0xfb}, MasterKeySize) // 0xfb exercises + and / vs - and _
	for name, enc := range map[string]string{
		"std padded":  base64.StdEncoding.EncodeToString(want),
		"url raw":     base64.RawURLEncoding.EncodeToString(want),
		"with spaces": " " + base64.StdEncoding.EncodeToString(want) + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			got, err := LoadOrCreateMasterKey(dir, enc)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("env key not used")
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, MasterKeyFile)); !os.IsNotExist(err) {
		t.Fatalf("a key file was created although the env key was set (stat: %v)", err)
	}
}

func TestLoadOrCreateMasterKeyRejects(t *testing.T) {
	tests := []struct {
		name  string
		env   string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{name: "env not base64", env: "not base64!!", want: "WARD_MASTER_KEY"},
		{name: "env too short", env: base64.StdEncoding.EncodeToString([]byte("short")), want: "want 32"},
		{name: "no data dir", want: "neither"},
		{name: "file readable by others", setup: func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, MasterKeyFile), base64.StdEncoding.EncodeToString(make([]byte, 32)), 0o644)
		}, want: "chmod 600"},
		{name: "file truncated", setup: func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, MasterKeyFile), "AAAA", 0o600)
		}, want: "want 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "file readable by others" && runtime.GOOS == "windows" {
				t.Skip("no POSIX modes")
			}
			dir := ""
			if tt.setup != nil {
				dir = t.TempDir()
				tt.setup(t, dir)
			}
			_, err := LoadOrCreateMasterKey(dir, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask may have narrowed it
		t.Fatal(err)
	}
}

func TestDeriveKey(t *testing.T) {
	master := bytes.Repeat([]byte{7}, MasterKeySize)
	a, err := DeriveKey(master, PurposeSession, 32)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := DeriveKey(master, PurposeSession, 32)
	other, _ := DeriveKey(master, PurposeClientSecret, 32)
	otherMaster, _ := DeriveKey(bytes.Repeat([]byte{8}, MasterKeySize), PurposeSession, 32)
	if !bytes.Equal(a, again) {
		t.Fatal("derivation is not deterministic")
	}
	if bytes.Equal(a, other) || bytes.Equal(a, otherMaster) || bytes.Equal(a, master) {
		t.Fatal("different purposes or masters gave the same key")
	}
	for _, bad := range []struct {
		master  []byte
		purpose string
		n       int
	}{{master[:16], PurposeSession, 32}, {master, "", 32}, {master, PurposeSession, 8}, {master, PurposeSession, 65}} {
		if _, err := DeriveKey(bad.master, bad.purpose, bad.n); err == nil {
			t.Fatalf("DeriveKey(%d-byte master, %q, %d) succeeded", len(bad.master), bad.purpose, bad.n)
		}
	}
}
