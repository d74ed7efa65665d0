package secrets

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// cheap keeps tests fast; the format and the checks are the same at any cost.
var cheap = Argon2{Time: 1, MemoryKiB: 64, Threads: 1}

func TestArgon2HashAndVerify(t *testing.T) {
	phc, err := cheap.Hash("correct horse")
	if err != nil {
		t.Fatalf("hash: %v", err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("PHC string %q does not carry the parameters", phc)
	}
	other, err := cheap.Hash("correct horse")
	if err != nil {
		t.Fatalf("hash: %v", err)
	}
	if other == phc {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}

	tests := []struct {
		name     string
		password string
		want     bool
	}{
		{"right password", "correct horse", true},
		{"wrong password", "correct horsE", false},
		{"empty password", "", false},
		{"prefix of the password", "correct", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := cheap.Verify(tt.password, phc)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if ok != tt.want {
				t.Fatalf("verify(%q) = %v, want %v", tt.password, ok, tt.want)
			}
		})
	}
}

func TestArgon2VerifyUsesTheHashParameters(t *testing.T) {
	phc, err := cheap.Hash("pw")
	if err != nil {
		t.Fatalf("hash: %v", err)
	}
	// A verifier configured differently still checks an older hash.
	ok, err := Argon2{Time: 2, MemoryKiB: 128, Threads: 2}.Verify("pw", phc)
	if err != nil || !ok {
		t.Fatalf("verify with other settings = %v, %v; want true, nil", ok, err)
	}
}

func TestArgon2TamperedHashIsRejected(t *testing.T) {
	phc, err := cheap.Hash("pw")
	if err != nil {
		t.Fatalf("hash: %v", err)
	}
	parts := strings.Split(phc, "$")
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	join := func(salt, hash, params string) string {
		return strings.Join([]string{"", "argon2id", "v=19", params, salt, hash}, "$")
	}
	tests := []struct {
		name string
		phc  string
	}{
		{"first hash character", join(parts[4], flip(parts[5], 0), parts[3])},
		{"last hash character", join(parts[4], flip(parts[5], len(parts[5])-1), parts[3])},
		{"salt character", join(flip(parts[4], 3), parts[5], parts[3])},
		{"time parameter", join(parts[4], parts[5], "m=64,t=2,p=1")},
		{"memory parameter", join(parts[4], parts[5], "m=72,t=1,p=1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := cheap.Verify("pw", tt.phc)
			if ok {
				t.Fatalf("tampered hash %q verified", tt.phc)
			}
			// Trailing-bit edits are malformed (strict base64); the
			// others are well-formed but wrong. Both must say no.
			if err != nil && !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("unexpected error %v", err)
			}
		})
	}
}

func TestArgon2MalformedHash(t *testing.T) {
	good, err := cheap.Hash("pw")
	if err != nil {
		t.Fatalf("hash: %v", err)
	}
	parts := strings.Split(good, "$")
	salt, hash := parts[4], parts[5]
	tests := []struct {
		name string
		phc  string
	}{
		{"empty", ""},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + hash},
		{"old version", "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + hash},
		{"missing hash", "$argon2id$v=19$m=64,t=1,p=1$" + salt},
		{"extra field", good + "$x"},
		{"no leading dollar", strings.TrimPrefix(good, "$")},
		{"parameters out of order", "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + hash},
		{"zero time", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + hash},
		{"zero threads", "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + hash},
		{"threads overflow uint8", "$argon2id$v=19$m=8192,t=1,p=256$" + salt + "$" + hash},
		{"memory below 8 KiB per thread", "$argon2id$v=19$m=8,t=1,p=2$" + salt + "$" + hash},
		{"huge memory", "$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + hash},
		{"huge time", "$argon2id$v=19$m=64,t=100000,p=1$" + salt + "$" + hash},
		{"negative", "$argon2id$v=19$m=-64,t=1,p=1$" + salt + "$" + hash},
		{"leading zero", "$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + hash},
		{"plus sign", "$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + hash},
		{"salt not base64", "$argon2id$v=19$m=64,t=1,p=1$!!!!!!!!!!!$" + hash},
		{"padded salt", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + hash},
		{"short salt", "$argon2id$v=19$m=64,t=1,p=1$AAAA$" + hash},
		{"short hash", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAAA"},
		{"empty hash", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := cheap.Verify("pw", tt.phc)
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("verify(%q) = %v, %v; want false, ErrMalformedHash", tt.phc, ok, err)
			}
			if err != nil && strings.Contains(err.Error(), hash) {
				t.Fatalf("error %q echoes the hash", err)
			}
		})
	}
}

func TestArgon2NeedsRehash(t *testing.T) {
	phc, err := cheap.Hash("pw")
	if err != nil {
		t.Fatalf("hash: %v", err)
	}
	tests := []struct {
		name string
		a    Argon2
		phc  string
		want bool
	}{
		{"same settings", cheap, phc, false},
		{"more memory now", Argon2{Time: 1, MemoryKiB: 128, Threads: 1}, phc, true},
		{"more passes now", Argon2{Time: 2, MemoryKiB: 64, Threads: 1}, phc, true},
		{"more threads now", Argon2{Time: 1, MemoryKiB: 64, Threads: 2}, phc, true},
		{"unreadable hash", cheap, "garbage", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.NeedsRehash(tt.phc); got != tt.want {
				t.Fatalf("NeedsRehash = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestArgon2HashRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name string
		a    Argon2
		ok   bool
	}{
		{"default", DefaultArgon2(), true},
		{"zero value", Argon2{}, false},
		{"no threads", Argon2{Time: 1, MemoryKiB: 64}, false},
		{"too little memory", Argon2{Time: 1, MemoryKiB: 8, Threads: 2}, false},
		{"too much memory", Argon2{Time: 1, MemoryKiB: maxMemoryKiB + 1, Threads: 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.a.validate(); (err == nil) != tt.ok {
				t.Fatalf("validate = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// FuzzArgon2Verify feeds arbitrary strings as stored hashes: Verify must
// never panic, must only ever fail with ErrMalformedHash, and must never
// accept a password for a string it did not make from that password.
func FuzzArgon2Verify(f *testing.F) {
	good, err := cheap.Hash("pw")
	if err != nil {
		f.Fatalf("hash: %v", err)
	}
	for _, s := range []string{good, "", "$", "$$$$$", "$argon2id$v=19$m=64,t=1,p=1$$",
		"$argon2id$v=19$m=64,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=99999999999,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		good[:len(good)-3], strings.ReplaceAll(good, "$", "$$")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, phc string) {
		if p, err := parsePHC(phc); err == nil && (p.memoryKiB > 1024 || p.time > 4) {
			// Well-formed but costly: parsing was the point; hashing
			// megabytes per input would only slow the fuzzer down.
			t.Skip()
		}
		ok, err := cheap.Verify("pw", phc)
		if err != nil && !errors.Is(err, ErrMalformedHash) {
			t.Fatalf("unexpected error %v", err)
		}
		if ok && err != nil {
			t.Fatal("verified and errored at once")
		}
		if !ok {
			return
		}
		// Accepted: it must be the one canonical spelling of its hash
		// (no two strings verify as the same stored hash) and must not
		// accept another password too.
		p, err := parsePHC(phc)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", phc, err)
		}
		canon := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", p.memoryKiB, p.time, p.threads,
			b64.EncodeToString(p.salt), b64.EncodeToString(p.key))
		if canon != phc {
			t.Fatalf("accepted non-canonical %q (canonical %q)", phc, canon)
		}
		if ok, _ := cheap.Verify("pw2", phc); ok {
			t.Fatalf("%q accepts two passwords", phc)
		}
	})
}
