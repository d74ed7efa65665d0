package secrets

import (
	"encoding/base64"
	"testing"
)

func TestRandomToken(t *testing.T) {
	tests := []struct {
		n  int
		ok bool
	}{{32, true}, {1, true}, {0, false}, {-1, false}, {maxTokenBytes + 1, false}}
	for _, tt := range tests {
		tok, err := RandomToken(tt.n)
		if (err == nil) != tt.ok {
			t.Fatalf("RandomToken(%d) error %v, want ok=%v", tt.n, err, tt.ok)
		}
		if !tt.ok {
			continue
		}
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(b) != tt.n {
			t.Fatalf("RandomToken(%d) = %q: not %d bytes of unpadded base64url (%v)", tt.n, tok, tt.n, err)
		}
	}
	a, _ := RandomToken(32)
	b, _ := RandomToken(32)
	if a == b {
		t.Fatal("two random tokens are equal")
	}
}

func TestSHA256Hex(t *testing.T) {
	// FIPS 180-2 test vector.
	if got, want := SHA256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Fatalf("SHA256Hex(abc) = %s, want %s", got, want)
	}
}

func TestHMACKey(t *testing.T) {
	// RFC 4231 test case 2.
	k := HMACKey("Jefe")
	want := "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got := k.Sign("what do ya want for nothing?"); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	tests := []struct {
		name string
		key  HMACKey
		msg  string
		sig  string
		want bool
	}{
		{"own signature", k, "what do ya want for nothing?", want, true},
		{"other message", k, "what do ya want for something?", want, false},
		{"other key", HMACKey("Jeff"), "what do ya want for nothing?", want, false},
		{"truncated signature", k, "what do ya want for nothing?", want[:32], false},
		{"empty signature", k, "what do ya want for nothing?", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.key.Verify(tt.msg, tt.sig); got != tt.want {
				t.Fatalf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}
