package keys_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/oauth"
	"ward/internal/oauth/keys"
	"ward/internal/sqlstore"
	"ward/internal/store"
	"ward/internal/testutil"
)

// clock is a settable clock shared by the Managers of one test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is one migrated database with a clock and a master key.
type env struct {
	db    *sqlstore.DB
	clk   *clock
	aead  keys.AEAD
	audit *audit.Log
}

func newEnv(t *testing.T, url string) *env {
	t.Helper()
	clk := &clock{t: time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)}
	db := testutil.NewStore(t, url, sqlstore.WithClock(clk.now))
	a, err := keys.NewMasterKeyAEAD(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatalf("aead: %v", err)
	}
	return &env{db: db, clk: clk, aead: a, audit: audit.NewLog(audit.Deps{Store: db, Tx: db}, audit.Config{Version: "test", Now: clk.now})}
}

// manager returns a new Manager (a replica) on e's database.
func (e *env) manager() *keys.Manager {
	return keys.NewManager(keys.Deps{Store: e.db, Tx: e.db, AEAD: e.aead, Audit: e.audit}, keys.Config{Now: e.clk.now})
}

// keyEvents returns the comments of the audit events about signing keys.
func (e *env) keyEvents(t *testing.T) []string {
	t.Helper()
	evs, _, err := e.db.ListAudit(t.Context(), audit.Filter{Context: audit.Other}, store.Page{Limit: store.MaxLimit})
	if err != nil {
		t.Fatalf("list audit: %v", err)
	}
	var out []string
	for _, ev := range evs {
		if strings.HasPrefix(ev.Comment, "signing key") || strings.HasPrefix(ev.Comment, "retired signing key") {
			out = append(out, ev.Comment)
		}
	}
	return out
}

func ctxSystem(t *testing.T) context.Context { return actor.System(t.Context()) }

func mustEnsure(t *testing.T, m *keys.Manager) {
	t.Helper()
	if err := m.EnsureActive(ctxSystem(t)); err != nil {
		t.Fatalf("EnsureActive: %v", err)
	}
}

func mustActive(t *testing.T, m *keys.Manager, alg string) *keys.Key {
	t.Helper()
	k, err := m.Active(t.Context(), alg)
	if err != nil {
		t.Fatalf("Active(%s): %v", alg, err)
	}
	return k
}

func publishedKIDs(t *testing.T, m *keys.Manager) []string {
	t.Helper()
	set, err := m.PublicJWKS(t.Context())
	if err != nil {
		t.Fatalf("PublicJWKS: %v", err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	slices.Sort(kids)
	return kids
}

func sorted(s ...string) []string { slices.Sort(s); return s }

func TestEnsureActiveFirstRun(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		m := e.manager()
		if _, err := m.Active(t.Context(), keys.ES256); err == nil {
			t.Fatal("Active succeeded before any key exists")
		}
		mustEnsure(t, m)
		mustEnsure(t, m) // idempotent
		mustEnsure(t, e.manager())

		ks, err := m.List(t.Context())
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		var algs []string
		for _, k := range ks {
			algs = append(algs, k.Alg)
			if !k.Current() || k.CreatedAt.IsZero() || !k.ActivatedAt.Equal(e.clk.now()) || k.KID == "" {
				t.Errorf("first-run key %v: want current, created and activated now, with a kid", k)
			}
		}
		slices.Sort(algs)
		if !slices.Equal(algs, []string{keys.ES256, keys.RS256}) {
			t.Fatalf("keys for %v, want one ES256 and one RS256", algs)
		}
		if _, ok := mustActive(t, m, keys.ES256).Signer().(*ecdsa.PrivateKey); !ok {
			t.Error("the ES256 key is not ECDSA")
		}
		rk, ok := mustActive(t, m, keys.RS256).Signer().(*rsa.PrivateKey)
		if !ok || rk.N.BitLen() < 2048 {
			t.Error("the RS256 key is not RSA of at least 2048 bits")
		}
		if _, err := m.Active(t.Context(), "HS256"); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("Active(HS256) = %v, want Invalid", err)
		}
		if got := e.keyEvents(t); len(got) != 2 {
			t.Errorf("audit events %q, want one per created key", got)
		}
	})
}

func TestConcurrentEnsureActiveCreatesOneKeyPerAlg(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		// Four replicas starting at once, each with its own cache.
		const n = 4
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			m := e.manager()
			wg.Go(func() { errs[i] = m.EnsureActive(ctxSystem(t)) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("replica %d: %v", i, err)
			}
		}
		ks, err := e.manager().List(t.Context())
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		count := map[string]int{}
		for _, k := range ks {
			count[k.Alg]++
		}
		if len(ks) != 2 || count[keys.ES256] != 1 || count[keys.RS256] != 1 {
			t.Fatalf("stored keys per alg %v, want exactly one ES256 and one RS256", count)
		}
		if got := e.keyEvents(t); len(got) != 2 {
			t.Errorf("audit events %q, want exactly one per stored key", got)
		}
		// Every replica signs with the keys that were stored.
		for i := range n {
			if k := mustActive(t, e.manager(), keys.ES256); !slices.ContainsFunc(ks, func(s *keys.Key) bool { return s.KID == k.KID }) {
				t.Errorf("replica %d signs with %s, which is not stored", i, k.KID)
			}
		}
	})
}

func TestPrivateKeysNeverStoredInClear(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		m := e.manager()
		mustEnsure(t, m)
		if _, err := m.Rotate(ctxSystem(t), time.Hour); err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		ks, err := m.List(t.Context())
		if err != nil || len(ks) != 4 {
			t.Fatalf("List: %d keys, %v; want 4", len(ks), err)
		}
		// Every way the private key could be written: PKCS #8 DER and PEM,
		// the raw private scalar / exponent, and the JWK "d" member.
		var needles [][]byte
		for _, k := range ks {
			der, err := x509.MarshalPKCS8PrivateKey(k.Signer())
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			var d []byte
			switch p := k.Signer().(type) {
			case *ecdsa.PrivateKey:
				d, err = p.Bytes()
				if err != nil {
					t.Fatalf("ecdsa bytes: %v", err)
				}
			case *rsa.PrivateKey:
				d = p.D.Bytes()
			}
			needles = append(needles, der, d, []byte(base64.RawURLEncoding.EncodeToString(d)),
				pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		}

		// Scan every column of every row, as the database returns it.
		rows, err := e.db.Writer().QueryContext(t.Context(),
			`SELECT kid, alg, created_at, activated_at, retire_after, private_key FROM signing_keys`)
		if err != nil {
			t.Fatalf("query: %v", err)
		}
		defer rows.Close()
		var raw bytes.Buffer
		n := 0
		for rows.Next() {
			var kid, alg string
			var created, activated int64
			var retire *int64
			var priv []byte
			if err := rows.Scan(&kid, &alg, &created, &activated, &retire, &priv); err != nil {
				t.Fatalf("scan: %v", err)
			}
			raw.WriteString(kid + alg)
			raw.Write(priv)
			n++
		}
		if err := rows.Err(); err != nil || n != 4 {
			t.Fatalf("rows: %d, %v; want 4", n, err)
		}
		// On SQLite the database files themselves are scanned too.
		if path, ok := strings.CutPrefix(url, "sqlite://"); ok {
			for _, f := range []string{path, path + "-wal"} {
				b, err := os.ReadFile(f)
				if err != nil && !os.IsNotExist(err) {
					t.Fatalf("read %s: %v", filepath.Base(f), err)
				}
				raw.Write(b)
			}
		}
		for i, needle := range needles {
			if bytes.Contains(raw.Bytes(), needle) {
				t.Fatalf("private key material #%d found in the database", i)
			}
		}
	})
}

func TestCiphertextBoundToItsRow(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t))
	m := e.manager()
	mustEnsure(t, m)
	es, rs := mustActive(t, m, keys.ES256), mustActive(t, m, keys.RS256)
	// Copy the ES256 ciphertext into the RS256 row: the associated data
	// names the kid and alg, so the copy must not decrypt.
	if _, err := e.db.Writer().ExecContext(t.Context(),
		`UPDATE signing_keys SET private_key = (SELECT private_key FROM signing_keys WHERE kid = ?) WHERE kid = ?`,
		es.KID, rs.KID); err != nil {
		t.Fatalf("tamper: %v", err)
	}
	if _, err := m.List(t.Context()); err == nil {
		t.Fatal("a ciphertext moved to another row decrypted")
	}
	if err := e.manager().EnsureActive(ctxSystem(t)); err == nil {
		t.Fatal("EnsureActive accepted a tampered key set")
	}
}

func TestWrongMasterKeyFailsAtStart(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t))
	mustEnsure(t, e.manager())
	other, err := keys.NewMasterKeyAEAD(bytes.Repeat([]byte{8}, 32))
	if err != nil {
		t.Fatalf("aead: %v", err)
	}
	m := keys.NewManager(keys.Deps{Store: e.db, Tx: e.db, AEAD: other, Audit: e.audit}, keys.Config{Now: e.clk.now})
	if err := m.EnsureActive(ctxSystem(t)); err == nil {
		t.Fatal("EnsureActive succeeded with another master key")
	}
	if _, err := m.PublicJWKS(t.Context()); err == nil {
		t.Fatal("PublicJWKS succeeded with another master key")
	}
}

func TestRotationKeepsOldKeysUntilTheirTokensExpire(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		m := e.manager()
		mustEnsure(t, m)
		oldES, oldRS := mustActive(t, m, keys.ES256), mustActive(t, m, keys.RS256)
		oldToken, err := oldES.Sign([]byte(`{"sub":"old"}`))
		if err != nil {
			t.Fatalf("sign: %v", err)
		}

		if _, err := m.Rotate(ctxSystem(t), 0); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("Rotate(0) = %v, want Invalid", err)
		}

		e.clk.advance(time.Hour)
		rotatedAt := e.clk.now()
		const lifetime = 4 * time.Hour
		fresh, err := m.Rotate(ctxSystem(t), lifetime)
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		if len(fresh) != 2 {
			t.Fatalf("Rotate returned %d keys, want one per algorithm", len(fresh))
		}
		newES, newRS := mustActive(t, m, keys.ES256), mustActive(t, m, keys.RS256)
		if newES.KID == oldES.KID || newRS.KID == oldRS.KID {
			t.Fatal("Active still returns the pre-rotation keys")
		}
		if !newES.ActivatedAt.Equal(rotatedAt) {
			t.Errorf("new key activated at %v, want %v", newES.ActivatedAt, rotatedAt)
		}
		all := sorted(oldES.KID, oldRS.KID, newES.KID, newRS.KID)
		if got := publishedKIDs(t, m); !slices.Equal(got, all) {
			t.Fatalf("published right after rotation %v, want old and new %v", got, all)
		}
		retireAt := rotatedAt.Add(lifetime + keys.RetireMargin)
		stored, err := m.List(t.Context())
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		for _, k := range stored {
			old := k.KID == oldES.KID || k.KID == oldRS.KID
			if old && !k.RetireAfter.Equal(retireAt) {
				t.Errorf("old key %s retires after %v, want %v", k.KID, k.RetireAfter, retireAt)
			}
			if !old && !k.Current() {
				t.Errorf("new key %s is not current", k.KID)
			}
		}

		// Just before the retire time, a token signed by the old key still
		// verifies against the published set.
		e.clk.set(retireAt.Add(-time.Second))
		if _, err := verify(t, m, oldToken); err != nil {
			t.Fatalf("token from the retired key, before its retire time: %v", err)
		}
		if got := publishedKIDs(t, m); !slices.Equal(got, all) {
			t.Fatalf("published just before the retire time %v, want %v", got, all)
		}
		if n, err := m.PruneRetired(ctxSystem(t)); err != nil || n != 0 {
			t.Fatalf("PruneRetired before the retire time = %d, %v; want 0", n, err)
		}

		// From the retire time on, the old keys are gone from the set.
		e.clk.set(retireAt)
		if got, want := publishedKIDs(t, m), sorted(newES.KID, newRS.KID); !slices.Equal(got, want) {
			t.Fatalf("published at the retire time %v, want only the new keys %v", got, want)
		}
		if _, err := verify(t, m, oldToken); err == nil {
			t.Fatal("a token from an unpublished key verified")
		}
		n, err := m.PruneRetired(ctxSystem(t))
		if err != nil || n != 2 {
			t.Fatalf("PruneRetired = %d, %v; want 2", n, err)
		}
		if stored, err := m.List(t.Context()); err != nil || len(stored) != 2 {
			t.Fatalf("after prune %d keys, %v; want the 2 current ones", len(stored), err)
		}
		// Two created, two rotated, two pruned.
		if got := e.keyEvents(t); len(got) != 6 {
			t.Errorf("audit events %q, want 6", got)
		}
	})
}

func TestReplicaSeesRotationWithinCacheTTL(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		// b's clock lags a's: the key a activates is, by b's clock, not yet
		// activated, and b must sign with it all the same.
		a := e.manager()
		b := keys.NewManager(keys.Deps{Store: e.db, Tx: e.db, AEAD: e.aead, Audit: e.audit},
			keys.Config{Now: func() time.Time { return e.clk.now().Add(-5 * time.Second) }})
		mustEnsure(t, a)
		before := mustActive(t, b, keys.ES256) // b caches the key set
		if _, err := a.Rotate(ctxSystem(t), time.Hour); err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		after := mustActive(t, a, keys.ES256)
		if got := mustActive(t, b, keys.ES256); got.KID != before.KID {
			t.Fatalf("replica b re-read within CacheTTL (got %s); the cache is not being used", got.KID)
		}
		e.clk.advance(keys.CacheTTL)
		if got := mustActive(t, b, keys.ES256); got.KID != after.KID {
			t.Fatalf("replica b signs with %s one CacheTTL after the rotation, want %s", got.KID, after.KID)
		}
		if got, want := publishedKIDs(t, b), publishedKIDs(t, a); !slices.Equal(got, want) {
			t.Fatalf("replica b publishes %v, a publishes %v", got, want)
		}
	})
}

func TestRotateIfOlder(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t))
	m := e.manager()
	const maxAge = 30 * 24 * time.Hour
	// No keys yet: rotation is due and creates them.
	if did, err := m.RotateIfOlder(ctxSystem(t), maxAge, time.Hour); err != nil || !did {
		t.Fatalf("RotateIfOlder without keys = %v, %v; want a rotation", did, err)
	}
	first := mustActive(t, m, keys.ES256)
	for _, c := range []struct {
		name    string
		advance time.Duration
		want    bool
	}{
		{"young keys", maxAge - time.Second, false},
		{"exactly max age", time.Second, false},
		{"older than max age", time.Second, true},
		{"just rotated", 0, false},
	} {
		e.clk.advance(c.advance)
		did, err := m.RotateIfOlder(ctxSystem(t), maxAge, time.Hour)
		if err != nil || did != c.want {
			t.Fatalf("%s: RotateIfOlder = %v, %v; want %v", c.name, did, err, c.want)
		}
	}
	if mustActive(t, m, keys.ES256).KID == first.KID {
		t.Fatal("the due rotation did not change the active key")
	}
	if _, err := m.RotateIfOlder(ctxSystem(t), 0, time.Hour); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("RotateIfOlder(0) = %v, want Invalid", err)
	}
}

// verify checks a compact JWS against m's published keys, as a relying
// party would: the kid in the header picks the key.
func verify(t *testing.T, m *keys.Manager, token string) ([]byte, error) {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		return nil, err
	}
	set, err := m.PublicJWKS(t.Context())
	if err != nil {
		return nil, err
	}
	found := set.Key(jws.Signatures[0].Header.KeyID)
	if len(found) != 1 {
		return nil, errNoKey
	}
	return jws.Verify(found[0])
}

type errString string

func (e errString) Error() string { return string(e) }

const errNoKey = errString("kid not published")

func TestSignVerifiesAgainstPublicJWKS(t *testing.T) {
	testutil.ForEachDB(t, func(t *testing.T, url string) {
		e := newEnv(t, url)
		m := e.manager()
		mustEnsure(t, m)

		// Keys of another deployment are never published here.
		stranger := newEnv(t, testutil.SQLiteURL(t)).manager()
		mustEnsure(t, stranger)

		payload := []byte(`{"iss":"https://ward.example","sub":"42"}`)
		for _, alg := range keys.Algorithms() {
			k := mustActive(t, m, alg)
			tok, err := k.Sign(payload)
			if err != nil {
				t.Fatalf("sign %s: %v", alg, err)
			}
			got, err := verify(t, m, tok)
			if err != nil || !bytes.Equal(got, payload) {
				t.Fatalf("%s token: verify = %q, %v; want the payload", alg, got, err)
			}
			jws, _ := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
			if h := jws.Signatures[0].Header; h.Algorithm != alg || h.KeyID != k.KID {
				t.Errorf("%s token header alg %s kid %s, want %s %s", alg, h.Algorithm, h.KeyID, alg, k.KID)
			}

			// Denied: a tampered payload, and a key not published here.
			parts := strings.Split(tok, ".")
			parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://ward.example","sub":"1"}`))
			if _, err := verify(t, m, strings.Join(parts, ".")); err == nil {
				t.Errorf("%s: a tampered token verified", alg)
			}
			foreign, err := mustActive(t, stranger, alg).Sign(payload)
			if err != nil {
				t.Fatalf("sign: %v", err)
			}
			if _, err := verify(t, m, foreign); err == nil {
				t.Errorf("%s: a token from another deployment's key verified", alg)
			}
		}
	})
}

// privateMembers are the JWK members that carry private key material
// (RFC 7518 sections 6.2.2 and 6.3.2).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

func TestJWKSEndpoint(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t))
	m := e.manager()
	mustEnsure(t, m)
	if _, err := m.Rotate(ctxSystem(t), time.Hour); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	h := oauth.JWKSHandler(m, nil)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, want 200", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/jwk-set+json" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
		t.Errorf("Cache-Control %q, want a max-age", cc)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(doc.Keys) != 4 {
		t.Fatalf("%d keys published, want 4 (two current, two retired)", len(doc.Keys))
	}
	ktys := map[string]int{}
	for _, k := range doc.Keys {
		for _, member := range privateMembers {
			if _, ok := k[member]; ok {
				t.Fatalf("published key %v has private member %q", k["kid"], member)
			}
		}
		if k["use"] != "sig" || k["kid"] == "" || (k["alg"] != keys.ES256 && k["alg"] != keys.RS256) {
			t.Errorf("published key %v lacks use sig, a kid or a supported alg", k)
		}
		ktys[k["kty"].(string)]++
	}
	if ktys["EC"] != 2 || ktys["RSA"] != 2 {
		t.Errorf("key types %v, want 2 EC and 2 RSA", ktys)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil {
		t.Fatalf("decode as a JWKS: %v", err)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || !k.Valid() {
			t.Errorf("key %s: public %v valid %v", k.KeyID, k.IsPublic(), k.Valid())
		}
	}

	// A database failure is a bare 500, without detail.
	broken := newEnv(t, testutil.SQLiteURL(t))
	bm := broken.manager()
	if err := broken.db.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	rec = httptest.NewRecorder()
	oauth.JWKSHandler(bm, nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "sql") {
		t.Fatalf("broken database: status %d body %q, want a bare 500", rec.Code, rec.Body.String())
	}
}

func TestKeyStringHidesMaterial(t *testing.T) {
	e := newEnv(t, testutil.SQLiteURL(t))
	m := e.manager()
	mustEnsure(t, m)
	k := mustActive(t, m, keys.ES256)
	p := k.Signer().(*ecdsa.PrivateKey)
	d, err := p.Bytes()
	if err != nil {
		t.Fatalf("bytes: %v", err)
	}
	s := k.String()
	if !strings.Contains(s, k.KID) || strings.Contains(s, base64.RawURLEncoding.EncodeToString(d)) {
		t.Fatalf("String() = %q: want the kid and no key material", s)
	}
}
