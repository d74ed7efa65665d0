package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/oauth/keys"
)

// sealedKey returns a stored-key fixture with every field but RetireAfter set
// (a new key is current), n mixed into each, and sub-microsecond times.
func sealedKey(n int, alg string) *keys.SealedKey {
	return &keys.SealedKey{
		KID:         fmt.Sprintf("kid-%s-%d", alg, n),
		Alg:         alg,
		CreatedAt:   base.Add(time.Duration(n) * time.Hour),
		ActivatedAt: base.Add(time.Duration(n)*time.Hour + time.Minute),
		PrivateKey:  []byte(fmt.Sprintf("\x00ciphertext-%d\xff", n)),
	}
}

// stored is k as a backend returns it.
func stored(k *keys.SealedKey) keys.SealedKey {
	out := *k
	out.CreatedAt, out.ActivatedAt = micro(k.CreatedAt), micro(k.ActivatedAt)
	if !k.RetireAfter.IsZero() {
		out.RetireAfter = micro(k.RetireAfter)
	}
	return out
}

func keysVersion(t *testing.T, b Backend) int64 {
	t.Helper()
	v, err := b.Keys.SigningKeysVersion(t.Context())
	must(t, err, "signing keys version")
	return v
}

func createKey(t *testing.T, b Backend, k *keys.SealedKey) {
	t.Helper()
	created, err := b.Keys.CreateSigningKey(t.Context(), k)
	must(t, err, "create signing key "+k.KID)
	if !created {
		t.Fatalf("create signing key %s: not created", k.KID)
	}
}

func testSigningKeyRoundTrip(t *testing.T, b Backend) {
	ctx := t.Context()
	k := sealedKey(1, keys.ES256)
	v0 := keysVersion(t, b)
	createKey(t, b, k)
	got, err := b.Keys.ListSigningKeys(ctx, time.Time{})
	must(t, err, "list")
	mustEqual(t, got, []keys.SealedKey{stored(k)}, "stored current key")

	retire := base.Add(72*time.Hour + 987*time.Nanosecond)
	kid, err := b.Keys.RetireSigningKey(ctx, keys.ES256, retire)
	must(t, err, "retire")
	if kid != k.KID {
		t.Fatalf("retired kid %q, want %q", kid, k.KID)
	}
	k.RetireAfter = retire
	got, err = b.Keys.ListSigningKeys(ctx, time.Time{})
	must(t, err, "list")
	want := stored(k)
	mustEqual(t, got, []keys.SealedKey{want}, "stored retired key")
	// Every field is set, so a column dropped on the way in or out shows.
	if want.KID == "" || want.Alg == "" || want.CreatedAt.IsZero() || want.ActivatedAt.IsZero() ||
		want.RetireAfter.IsZero() || len(want.PrivateKey) == 0 {
		t.Fatalf("fixture has a zero field: %+v", want)
	}
	if v := keysVersion(t, b); v != v0+2 {
		t.Fatalf("version %d after a create and a retire, want %d", v, v0+2)
	}

	// Invalid input is refused before it reaches the database.
	bad := sealedKey(2, keys.ES256)
	bad.RetireAfter = base
	_, err = b.Keys.CreateSigningKey(ctx, bad)
	wantKind(t, err, apperr.Invalid, "create a key that is already retired")
	bad = sealedKey(3, keys.ES256)
	bad.PrivateKey = nil
	_, err = b.Keys.CreateSigningKey(ctx, bad)
	wantKind(t, err, apperr.Invalid, "create a key without private key")
	_, err = b.Keys.RetireSigningKey(ctx, keys.ES256, time.Time{})
	wantKind(t, err, apperr.Invalid, "retire without a time")
}

func testSigningKeyOneCurrentPerAlg(t *testing.T, b Backend) {
	ctx := t.Context()
	es1, es2, rs1 := sealedKey(1, keys.ES256), sealedKey(2, keys.ES256), sealedKey(3, keys.RS256)
	createKey(t, b, es1)
	v := keysVersion(t, b)

	// A second current key for the same alg is a no-op, not an error.
	created, err := b.Keys.CreateSigningKey(ctx, es2)
	must(t, err, "second current ES256 key")
	if created {
		t.Fatal("a second current ES256 key was created")
	}
	if got := keysVersion(t, b); got != v {
		t.Fatalf("version moved from %d to %d on a no-op create", v, got)
	}
	// Another alg has its own current key.
	createKey(t, b, rs1)

	// A duplicate kid is Conflict even when its alg has no current key.
	kid, err := b.Keys.RetireSigningKey(ctx, keys.ES256, base.Add(time.Hour))
	must(t, err, "retire es1")
	mustEqual(t, kid, es1.KID, "retired kid")
	dup := sealedKey(1, keys.ES256)
	_, err = b.Keys.CreateSigningKey(ctx, dup)
	wantKind(t, err, apperr.Conflict, "duplicate kid")

	// After the retirement a new current key is admitted.
	createKey(t, b, es2)

	// Retiring an alg without a current key retires nothing.
	kid, err = b.Keys.RetireSigningKey(ctx, "PS256", base)
	must(t, err, "retire an alg without keys")
	if kid != "" {
		t.Fatalf("retired %q for an alg without keys", kid)
	}

	got, err := b.Keys.ListSigningKeys(ctx, time.Time{})
	must(t, err, "list")
	current := map[string]int{}
	for _, k := range got {
		if k.RetireAfter.IsZero() {
			current[k.Alg]++
		}
	}
	mustEqual(t, current, map[string]int{keys.ES256: 1, keys.RS256: 1}, "current keys per alg")
}

func testSigningKeyListAndDelete(t *testing.T, b Backend) {
	ctx := t.Context()
	// Three generations of ES256 keys: k1 retired at +1h, k2 at +3h, k3 current.
	k1, k2, k3 := sealedKey(1, keys.ES256), sealedKey(2, keys.ES256), sealedKey(3, keys.ES256)
	createKey(t, b, k1)
	_, err := b.Keys.RetireSigningKey(ctx, keys.ES256, base.Add(time.Hour))
	must(t, err, "retire k1")
	createKey(t, b, k2)
	_, err = b.Keys.RetireSigningKey(ctx, keys.ES256, base.Add(3*time.Hour))
	must(t, err, "retire k2")
	createKey(t, b, k3)
	// An RS256 key activated at the same time as k3 orders by kid.
	rs := sealedKey(3, keys.RS256)
	createKey(t, b, rs)

	kids := func(ks []keys.SealedKey) []string {
		var out []string
		for _, k := range ks {
			out = append(out, k.KID)
		}
		return out
	}
	for _, c := range []struct {
		name string
		at   time.Time
		want []string
	}{
		{"every key", time.Time{}, []string{k3.KID, rs.KID, k2.KID, k1.KID}},
		{"before both retire times", base, []string{k3.KID, rs.KID, k2.KID, k1.KID}},
		{"exactly at k1's retire time", base.Add(time.Hour), []string{k3.KID, rs.KID, k2.KID}},
		{"after every retire time", base.Add(4 * time.Hour), []string{k3.KID, rs.KID}},
	} {
		got, err := b.Keys.ListSigningKeys(ctx, c.at)
		must(t, err, "list "+c.name)
		mustEqual(t, kids(got), c.want, "list "+c.name)
	}

	v := keysVersion(t, b)
	gone, err := b.Keys.DeleteRetiredSigningKeys(ctx, base)
	must(t, err, "delete before any retire time")
	if len(gone) != 0 || keysVersion(t, b) != v {
		t.Fatalf("deleted %v (version %d -> %d) before any key retired", gone, v, keysVersion(t, b))
	}
	gone, err = b.Keys.DeleteRetiredSigningKeys(ctx, base.Add(3*time.Hour))
	must(t, err, "delete at k2's retire time")
	mustEqual(t, gone, []string{k1.KID, k2.KID}, "deleted kids")
	if got := keysVersion(t, b); got != v+1 {
		t.Fatalf("version %d after a delete, want %d", got, v+1)
	}
	got, err := b.Keys.ListSigningKeys(ctx, time.Time{})
	must(t, err, "list after delete")
	mustEqual(t, kids(got), []string{k3.KID, rs.KID}, "current keys survive any delete")
}

func testSigningKeyRollback(t *testing.T, b Backend) {
	ctx := t.Context()
	v := keysVersion(t, b)
	boom := errors.New("boom")
	err := b.Tx.InTx(ctx, func(ctx context.Context) error {
		created, err := b.Keys.CreateSigningKey(ctx, sealedKey(1, keys.ES256))
		if err != nil || !created {
			return fmt.Errorf("create in tx: created %v: %w", created, err)
		}
		// The transaction sees its own key.
		ks, err := b.Keys.ListSigningKeys(ctx, time.Time{})
		if err != nil || len(ks) != 1 {
			return fmt.Errorf("list in tx: %d keys: %w", len(ks), err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx returned %v, want boom", err)
	}
	ks, err := b.Keys.ListSigningKeys(ctx, time.Time{})
	must(t, err, "list")
	if len(ks) != 0 || keysVersion(t, b) != v {
		t.Fatalf("after rollback: %d keys, version %d (want 0 keys, version %d)", len(ks), keysVersion(t, b), v)
	}
}

func testSigningKeyConcurrentCreate(t *testing.T, b Backend) {
	const n = 6
	var wg sync.WaitGroup
	results := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = b.Keys.CreateSigningKey(t.Context(), sealedKey(i, keys.ES256))
		})
	}
	wg.Wait()
	won := 0
	for i := range n {
		must(t, errs[i], fmt.Sprintf("create #%d", i))
		if results[i] {
			won++
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent creates won, want exactly 1", won)
	}
	ks, err := b.Keys.ListSigningKeys(t.Context(), time.Time{})
	must(t, err, "list")
	if len(ks) != 1 {
		t.Fatalf("%d keys stored, want 1", len(ks))
	}
}
