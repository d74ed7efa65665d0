package secrets

import (
	"bytes"
	"testing"
)

func testKEK(t *testing.T, fill byte) interface {
	Encrypt(pt, ad []byte) ([]byte, error)
	Decrypt(ct, ad []byte) ([]byte, error)
} {
	t.Helper()
	kek, err := NewAEAD(bytes.Repeat([]byte{fill}, MasterKeySize))
	if err != nil {
		t.Fatalf("NewAEAD: %v", err)
	}
	return kek
}

func TestNewAEADRoundTripAndTamper(t *testing.T) {
	kek := testKEK(t, 1)
	ct, err := kek.Encrypt([]byte("secret"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := kek.Decrypt(ct, []byte("ad")); err != nil || string(pt) != "secret" {
		t.Fatalf("decrypt = %q, %v", pt, err)
	}
	if _, err := testKEK(t, 2).Decrypt(ct, []byte("ad")); err == nil {
		t.Fatal("another master key decrypted")
	}
	if _, err := NewAEAD([]byte("short")); err == nil {
		t.Fatal("NewAEAD accepted a short master key")
	}
}

func TestKeysetRoundTripTamperAndRotation(t *testing.T) {
	ks, err := NewKeyset()
	if err != nil {
		t.Fatal(err)
	}
	ad := []byte("connector_tokens/42")
	ct, err := ks.Encrypt([]byte("refresh-token"), ad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("refresh-token")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	pt, err := ks.Decrypt(ct, ad)
	if err != nil || string(pt) != "refresh-token" {
		t.Fatalf("decrypt = %q, %v", pt, err)
	}

	tampered := bytes.Clone(ct)
	tampered[len(tampered)-1] ^= 1
	denied := []struct {
		name string
		ct   []byte
		ad   []byte
	}{
		{"flipped bit", tampered, ad},
		{"other associated data", ct, []byte("connector_tokens/43")},
		{"truncated", ct[:len(ct)-5], ad},
		{"empty", nil, ad},
	}
	for _, tt := range denied {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ks.Decrypt(tt.ct, tt.ad); err == nil {
				t.Fatal("decrypted a tampered ciphertext")
			}
		})
	}

	// Seal, reopen with the right master key, and refuse the wrong one.
	kek := testKEK(t, 1)
	sealed, err := ks.Seal(kek)
	if err != nil {
		t.Fatal(err)
	}
	reopened, err := OpenKeyset(sealed, kek)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if pt, err := reopened.Decrypt(ct, ad); err != nil || string(pt) != "refresh-token" {
		t.Fatalf("reopened keyset decrypt = %q, %v", pt, err)
	}
	if _, err := OpenKeyset(sealed, testKEK(t, 2)); err == nil {
		t.Fatal("opened a keyset with the wrong master key")
	}
	badSeal := bytes.Clone(sealed)
	badSeal[len(badSeal)/2] ^= 1
	if _, err := OpenKeyset(badSeal, kek); err == nil {
		t.Fatal("opened an edited sealed keyset")
	}
	if _, err := OpenKeyset(nil, kek); err == nil {
		t.Fatal("opened an empty keyset")
	}

	// Rotation: new ciphertexts use the new key, old ones still decrypt,
	// and the old keyset cannot read the new ciphertexts.
	rotated, err := ks.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Len() != 2 || ks.Len() != 1 {
		t.Fatalf("lengths after rotate: new %d, old %d; want 2, 1", rotated.Len(), ks.Len())
	}
	if pt, err := rotated.Decrypt(ct, ad); err != nil || string(pt) != "refresh-token" {
		t.Fatalf("rotated keyset cannot read old ciphertext: %q, %v", pt, err)
	}
	ct2, err := rotated.Encrypt([]byte("new"), ad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Decrypt(ct2, ad); err == nil {
		t.Fatal("old keyset decrypted a ciphertext of the new primary key")
	}
}
