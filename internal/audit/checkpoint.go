package audit

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"ward/internal/apperr"
)

// The hash chain proves that no stored event was edited or removed from
// the middle, but an intruder with write access to the database can delete
// the newest events and move the chain head back: what is left is a valid,
// shorter chain. A checkpoint closes that gap. At an interval and on
// shutdown the head (sequence number, hash, time) is signed and written
// outside the database, to an append-only file in the data directory and to
// the log; Log.VerifyCheckpoint then compares the chain with the latest
// checkpoint, and a chain that ends before it, or differs at it, is broken.
//
// The signing key is an Ed25519 key derived from the master key
// (CheckpointKeyPurpose), not the JWT signing key of internal/oauth/keys:
//
//   - Those keys rotate every 90 days and a retired key is deleted from the
//     database a day later, so a checkpoint signed by one could no longer
//     be checked; a checkpoint must stay checkable for as long as the
//     audit trail is kept. The derived key lasts as long as the master key.
//   - Its private half is never stored anywhere, not even encrypted in the
//     database an intruder may control: forging a checkpoint needs the
//     master key.
//   - It is still asymmetric: an auditor given only the public key (the JWK
//     printed by `ward audit checkpoint-key`, named by the kid of every
//     checkpoint) verifies the file, or the log lines, as standard JWS
//     without ever holding the master key.

// CheckpointKeyPurpose is the secrets.DeriveKey purpose of the 32-byte seed
// of the checkpoint signing key.
const CheckpointKeyPurpose = "audit-checkpoint"

// CheckpointFile is the name of the checkpoint file in the data directory.
const CheckpointFile = "audit-checkpoints.jsonl"

// checkpointType is the "typ" of the signed payload, so no other JWS ward
// might sign can pass for a checkpoint.
const checkpointType = "ward-audit-checkpoint"

// maxCheckpointLine bounds one line of a checkpoint file when reading.
const maxCheckpointLine = 4096

// Checkpoint is a signed statement of the chain head at a time.
type Checkpoint struct {
	// Seq is the id of the last event (the chain's length).
	Seq int64 `json:"seq"`
	// Hash is that event's hash.
	Hash string `json:"hash"`
	// Time is when the checkpoint was taken (UTC, second precision).
	Time time.Time `json:"time"`
	// KID names the signing key: the RFC 7638 thumbprint of its public JWK.
	KID string `json:"kid"`
	// JWS is the compact JWS (EdDSA) over {typ, seq, hash, time}: the only
	// part a verifier trusts; the fields above repeat it for people.
	JWS string `json:"jws"`
}

// checkpointClaims is what a checkpoint signs.
type checkpointClaims struct {
	Typ  string    `json:"typ"`
	Seq  int64     `json:"seq"`
	Hash string    `json:"hash"`
	Time time.Time `json:"time"`
}

// CheckpointKey signs and verifies checkpoints.
type CheckpointKey struct {
	priv ed25519.PrivateKey // nil for a verify-only key
	pub  ed25519.PublicKey
	kid  string
}

// NewCheckpointKey returns the key whose private half is derived from seed
// (32 bytes: secrets.DeriveKey(master, CheckpointKeyPurpose, 32)).
func NewCheckpointKey(seed []byte) (*CheckpointKey, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("audit checkpoint key: seed is %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return newKey(priv, priv.Public().(ed25519.PublicKey))
}

// ParseCheckpointPublicKey returns a verify-only key from its public JWK
// (what `ward audit checkpoint-key` prints), for an auditor's own checks.
func ParseCheckpointPublicKey(jwk []byte) (*CheckpointKey, error) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(jwk); err != nil {
		return nil, fmt.Errorf("audit checkpoint key: %w", err)
	}
	pub, ok := k.Key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("audit checkpoint key: %T is not an Ed25519 public key", k.Key)
	}
	return newKey(nil, pub)
}

func newKey(priv ed25519.PrivateKey, pub ed25519.PublicKey) (*CheckpointKey, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("audit checkpoint key: thumbprint: %w", err)
	}
	return &CheckpointKey{priv: priv, pub: pub, kid: base64.RawURLEncoding.EncodeToString(tp)}, nil
}

// KID is the key's id, the RFC 7638 thumbprint of its public JWK.
func (k *CheckpointKey) KID() string { return k.kid }

// PublicJWK is the public key as a JWK (alg EdDSA, use sig, kid).
func (k *CheckpointKey) PublicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.pub, KeyID: k.kid, Algorithm: string(jose.EdDSA), Use: "sig"}
}

// sign returns a checkpoint of the head (seq, hash) at t.
func (k *CheckpointKey) sign(seq int64, hash string, t time.Time) (*Checkpoint, error) {
	if k.priv == nil {
		return nil, errors.New("audit checkpoint: a verify-only key cannot sign")
	}
	t = t.UTC().Truncate(time.Second)
	payload, err := json.Marshal(checkpointClaims{Typ: checkpointType, Seq: seq, Hash: hash, Time: t})
	if err != nil {
		return nil, fmt.Errorf("audit checkpoint: encode: %w", err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}}, nil)
	if err != nil {
		return nil, fmt.Errorf("audit checkpoint: signer: %w", err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return nil, fmt.Errorf("audit checkpoint: sign: %w", err)
	}
	compact, err := jws.CompactSerialize()
	if err != nil {
		return nil, fmt.Errorf("audit checkpoint: serialize: %w", err)
	}
	return &Checkpoint{Seq: seq, Hash: hash, Time: t, KID: k.kid, JWS: compact}, nil
}

// Verify checks cp's signature with k and that its readable fields say
// what the signed payload says, and returns the checkpoint as signed. A
// checkpoint that fails is Invalid: forged, altered, or signed by another
// key (another master key: another installation).
func (k *CheckpointKey) Verify(cp Checkpoint) (*Checkpoint, error) {
	jws, err := jose.ParseSignedCompact(cp.JWS, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, err, "not a signed checkpoint")
	}
	if len(jws.Signatures) != 1 || jws.Signatures[0].Header.KeyID != k.kid {
		return nil, apperr.New(apperr.Invalid, "signed by key %q, not this server's checkpoint key %s",
			firstKID(jws), k.kid)
	}
	payload, err := jws.Verify(k.pub)
	if err != nil {
		return nil, apperr.New(apperr.Invalid, "signature does not verify (forged or altered)")
	}
	var c checkpointClaims
	if err := json.Unmarshal(payload, &c); err != nil || c.Typ != checkpointType {
		return nil, apperr.New(apperr.Invalid, "signed payload is not an audit checkpoint")
	}
	if c.Seq != cp.Seq || c.Hash != cp.Hash || !c.Time.Equal(cp.Time) {
		return nil, apperr.New(apperr.Invalid, "fields differ from what was signed (seq %d, hash %s, time %s): altered",
			c.Seq, c.Hash, c.Time.Format(time.RFC3339))
	}
	return &Checkpoint{Seq: c.Seq, Hash: c.Hash, Time: c.Time.UTC(), KID: k.kid, JWS: cp.JWS}, nil
}

func firstKID(j *jose.JSONWebSignature) string {
	if len(j.Signatures) == 0 {
		return ""
	}
	return j.Signatures[0].Header.KeyID
}

// HeadReader reads the chain head; Store provides it.
type HeadReader interface {
	AuditHead(ctx context.Context) (id int64, hash string, err error)
}

// Checkpointer takes checkpoints: it signs the current head and appends it
// to the checkpoint file (when it has one) and to the log.
type Checkpointer struct {
	head HeadReader
	key  *CheckpointKey
	path string
	log  *slog.Logger
	now  func() time.Time

	mu       sync.Mutex
	lastSeq  int64
	lastHash string
}

// CheckpointerDeps are what a Checkpointer cannot work without.
type CheckpointerDeps struct {
	Head HeadReader
	Key  *CheckpointKey
}

// CheckpointerConfig is how a Checkpointer behaves; the zero value is valid.
type CheckpointerConfig struct {
	// Path is the checkpoint file ("" to write checkpoints to the log
	// only: a server with no data directory).
	Path string
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// NewCheckpointer wires a Checkpointer.
func NewCheckpointer(d CheckpointerDeps, cfg CheckpointerConfig) *Checkpointer {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Checkpointer{head: d.Head, key: d.Key, path: cfg.Path, log: cfg.Logger, now: cfg.Now}
}

// Key returns the signing key.
func (c *Checkpointer) Key() *CheckpointKey { return c.key }

// Path returns the checkpoint file ("" for none).
func (c *Checkpointer) Path() string { return c.path }

// Checkpoint signs the current head and records it. It returns nil (and
// records nothing) when the chain is empty or this Checkpointer already
// recorded this head. The file is opened for appending only and synced
// before Checkpoint returns.
func (c *Checkpointer) Checkpoint(ctx context.Context) (*Checkpoint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seq, hash, err := c.head.AuditHead(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit checkpoint: read head: %w", err)
	}
	if seq == 0 || (seq == c.lastSeq && hash == c.lastHash) {
		return nil, nil
	}
	cp, err := c.key.sign(seq, hash, c.now())
	if err != nil {
		return nil, err
	}
	// The log line first: it leaves the machine even if the disk is full.
	c.log.InfoContext(ctx, "audit checkpoint", slog.Int64("seq", cp.Seq), slog.String("hash", cp.Hash),
		slog.Time("time", cp.Time), slog.String("kid", cp.KID), slog.String("jws", cp.JWS))
	if c.path != "" {
		if err := appendCheckpoint(c.path, cp); err != nil {
			return nil, err
		}
	}
	c.lastSeq, c.lastHash = seq, hash
	return cp, nil
}

func appendCheckpoint(path string, cp *Checkpoint) error {
	line, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("audit checkpoint: encode: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("audit checkpoint: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit checkpoint: %w", err)
	}
	// One write per line: appends of concurrent writers do not interleave.
	_, err = f.Write(append(line, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("audit checkpoint: write %s: %w", path, err)
	}
	return nil
}

// LatestCheckpoint reads a checkpoint file and returns its checkpoint of
// the highest sequence number, each line verified with key. Any line that
// does not verify fails the whole read (Invalid, naming the line): a forged
// line in the file is itself evidence of tampering. A missing file is
// NotFound; a file with no checkpoints gives (nil, nil).
func LatestCheckpoint(path string, key *CheckpointKey) (*Checkpoint, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, apperr.Wrap(apperr.NotFound, err, "no checkpoint file at %s", path)
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	defer f.Close()
	return latestCheckpoint(f, path, key)
}

func latestCheckpoint(r io.Reader, name string, key *CheckpointKey) (*Checkpoint, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, maxCheckpointLine), maxCheckpointLine)
	var best *Checkpoint
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var cp Checkpoint
		if err := json.Unmarshal(line, &cp); err != nil {
			return nil, apperr.Wrap(apperr.Invalid, err, "%s line %d: not a checkpoint", name, n)
		}
		ok, err := key.Verify(cp)
		if err != nil {
			return nil, apperr.Wrap(apperr.Invalid, err, "%s line %d: checkpoint refused", name, n)
		}
		if best == nil || ok.Seq > best.Seq || ok.Seq == best.Seq && ok.Time.After(best.Time) {
			best = ok
		}
	}
	if err := sc.Err(); err != nil {
		return nil, apperr.Wrap(apperr.Invalid, err, "%s: unreadable", name)
	}
	return best, nil
}

// VerifyCheckpoint compares the chain with a verified checkpoint (run
// Verify first: this checks only what Verify cannot see). The chain must
// reach the checkpoint's event, and that event must carry the signed hash.
// It returns nil when it does; the gap otherwise.
func (l *Log) VerifyCheckpoint(ctx context.Context, cp *Checkpoint) (*Broken, error) {
	headID, _, err := l.st.AuditHead(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify against checkpoint: read head: %w", err)
	}
	signed := cp.Time.UTC().Format(time.RFC3339)
	if headID < cp.Seq {
		return &Broken{ID: headID + 1, Reason: fmt.Sprintf(
			"chain ends at event %d but the checkpoint signed %s is at event %d: %d events missing (deleted from the end and the head rewritten)",
			headID, signed, cp.Seq, cp.Seq-headID)}, nil
	}
	e, err := l.Get(ctx, cp.Seq)
	if apperr.Is(err, apperr.NotFound) {
		return &Broken{ID: cp.Seq, Reason: fmt.Sprintf(
			"event %d, checkpointed at %s, is missing", cp.Seq, signed)}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("verify against checkpoint: %w", err)
	}
	if e.Hash != cp.Hash {
		return &Broken{ID: cp.Seq, Reason: fmt.Sprintf(
			"event %d differs from the checkpoint signed %s (hash %s, signed %s): the chain was rewritten at or before it",
			cp.Seq, signed, e.Hash, cp.Hash)}, nil
	}
	return nil, nil
}
