package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/store"
)

// MaxCommentBytes bounds an event's comment. Comments are written by ward's
// own code but often quote caller input (a name, an email); a bound keeps one
// request from writing an unbounded row into a table that is never pruned.
const MaxCommentBytes = 4096

// Log records and checks the audit trail.
type Log struct {
	st      Store
	tx      store.Transactor
	now     func() time.Time
	version string
	// authorize decides who may verify the chain (see WithAuthorizer).
	authorize func(ctx context.Context, what string) error
}

// WithAuthorizer sets who may run the chain checks (Verify, Head): fn
// returns nil to allow, or the apperr to answer with; the server wires
// directory.RequireAdmin (ward itself or an administrator). The log is
// built before the directory, which records through it, so this is set
// after. Without one (package tests, tools holding the database) the
// checks are open to whoever holds the Log.
func (l *Log) WithAuthorizer(fn func(ctx context.Context, what string) error) *Log {
	l.authorize = fn
	return l
}

// allowed applies the authorizer, when there is one.
func (l *Log) allowed(ctx context.Context, what string) error {
	if l.authorize == nil {
		return nil
	}
	return l.authorize(ctx, what)
}

// Deps are the collaborators a Log cannot work without.
type Deps struct {
	Store Store
	Tx    store.Transactor
}

// Config is how a Log behaves; the zero Config is valid.
type Config struct {
	// Version is the ward version stamped on every event.
	Version string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// NewLog wires a Log.
func NewLog(d Deps, cfg Config) *Log {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Log{st: d.Store, tx: d.Tx, now: cfg.Now, version: cfg.Version}
}

// Recorder records typed change events in the caller's transaction. It is
// the one contract every service records through (*Log implements it):
// Record joins the transaction in ctx, so the event commits or rolls back
// with the change it describes; RecordEach writes a batch, each entry with
// its own actor.
type Recorder interface {
	Record(ctx context.Context, c Change) error
	RecordEach(ctx context.Context, entries []Entry) error
}

var _ Recorder = (*Log)(nil)

// Change is one typed event: what happened (Type, from the registry in
// events.go), to what (Subject, a reference such as "Observation/9"),
// about which user (SubjectID, 0 for none: whose compartment and history
// the event belongs to), the safe changed fields (Fields, shown as JSON:
// never a secret, password hash or token) and today's human-readable
// Comment. Its audit context follows from the type.
type Change struct {
	Type      EventType
	Subject   string
	SubjectID int64
	Fields    map[string]any
	Comment   string
}

// Entry is one event for RecordEach: a Change with its actor given
// explicitly rather than read from a context. SourceIP, when "", is the
// address in RecordEach's ctx.
type Entry struct {
	Actor    actor.Actor
	SourceIP string
	Change
}

// Record appends c, acted by the actor in ctx from the address in ctx. It
// joins the transaction in ctx (without one it runs in its own). An
// unregistered type is refused.
func (l *Log) Record(ctx context.Context, c Change) error {
	e, err := l.event(Entry{Actor: actor.From(ctx), SourceIP: actor.Addr(ctx), Change: c})
	if err != nil {
		return err
	}
	err = l.tx.InTx(ctx, func(ctx context.Context) error { return l.st.AppendAudit(ctx, e) })
	if err != nil {
		return fmt.Errorf("record audit event (%s): %w", c.Type, err)
	}
	return nil
}

// RecordEach appends entries in order, in the transaction in ctx (or one of
// its own), with few statements: for a batch of changes committed together,
// each by its own actor.
func (l *Log) RecordEach(ctx context.Context, entries []Entry) error {
	es := make([]*Event, len(entries))
	for i, en := range entries {
		if en.SourceIP == "" {
			en.SourceIP = actor.Addr(ctx)
		}
		e, err := l.event(en)
		if err != nil {
			return err
		}
		es[i] = e
	}
	if err := l.tx.InTx(ctx, func(ctx context.Context) error { return l.st.AppendAudits(ctx, es) }); err != nil {
		return fmt.Errorf("record %d audit events: %w", len(es), err)
	}
	return nil
}

// MaxPayloadBytes bounds an event's JSON payload; a larger one is replaced
// by {"truncated":true} (cutting JSON would not leave JSON).
const MaxPayloadBytes = 2048

// MaxSubjectBytes bounds the subject reference and the source address.
const MaxSubjectBytes = 256

// forbiddenField is part of a field name that must never be in a payload:
// the guard behind "never a secret" for whatever a call site passes.
var forbiddenField = []string{"password", "secret", "hash", "token", "private", "credential", "jwt", "assertion"}

// payload encodes fields as a JSON object with sorted keys ("" for none),
// refusing a field whose name says it holds a secret.
func payload(fields map[string]any) (string, error) {
	if len(fields) == 0 {
		return "", nil
	}
	for k := range fields {
		lk := strings.ToLower(k)
		for _, f := range forbiddenField {
			if strings.Contains(lk, f) {
				return "", apperr.New(apperr.Invalid, "audit payload field %q may hold a secret", k)
			}
		}
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return "", fmt.Errorf("encode audit payload: %w", err)
	}
	s := cleanText(string(b), 1<<20)
	if len(s) > MaxPayloadBytes || !json.Valid([]byte(s)) {
		return `{"truncated":true}`, nil
	}
	return s, nil
}

func (l *Log) event(en Entry) (*Event, error) {
	c, ok := registry[en.Type]
	if !ok {
		return nil, apperr.New(apperr.Invalid, "unregistered audit event type %q", string(en.Type))
	}
	if en.SubjectID < 0 {
		return nil, apperr.New(apperr.Invalid, "audit subject id must not be negative")
	}
	p, err := payload(en.Fields)
	if err != nil {
		return nil, err
	}
	return &Event{
		// UTC at the precision both databases store, so the hash computed
		// at append time is the one Verify recomputes from the row.
		Timestamp: l.now().UTC().Truncate(time.Microsecond),
		UserID:    en.Actor.UserID,
		SubjectID: en.SubjectID,
		ClientID:  cleanText(en.Actor.ClientID, MaxCommentBytes),
		Context:   c.context,
		Comment:   cleanText(en.Comment, MaxCommentBytes),
		Version:   l.version,
		Type:      en.Type,
		Subject:   cleanText(en.Subject, MaxSubjectBytes),
		Payload:   p,
		SourceIP:  cleanText(en.SourceIP, MaxSubjectBytes),
	}, nil
}

// cleanText makes s storable on both databases and bounded: invalid UTF-8
// and NUL (which PostgreSQL text rejects) become U+FFFD, and the result is
// cut to at most max bytes on a rune boundary, marked with "…".
func cleanText(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	if len(s) <= max {
		return s
	}
	const ellipsis = "…"
	cut := max - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// List returns one page of events matching f, oldest first. It does not
// check permissions: the edge decides who may read whose events.
func (l *Log) List(ctx context.Context, f Filter, p store.Page) ([]Event, string, error) {
	if f.Context != "" && !ValidContext(f.Context) {
		return nil, "", apperr.New(apperr.Invalid, "unknown audit context %q", string(f.Context))
	}
	if f.Type != "" && !Registered(f.Type) {
		return nil, "", apperr.New(apperr.Invalid, "unknown audit event type %q", string(f.Type))
	}
	if f.UserID < 0 || f.SubjectID < 0 || f.Involving < 0 {
		return nil, "", apperr.New(apperr.Invalid, "user ids must not be negative")
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return nil, "", apperr.New(apperr.Invalid, "from must be before to")
	}
	evs, next, err := l.st.ListAudit(ctx, f, p.Normalize())
	if err != nil {
		return nil, "", fmt.Errorf("list audit events: %w", err)
	}
	return evs, next, nil
}

// ListAll is List over the whole log, for whom the authorizer allows (an
// administrator, or ward itself): the admin console's audit page. The
// management API lists through List with its own scope (everyone sees the
// events they did or that are about them; admins see all), which agrees
// with this rule for the whole log.
func (l *Log) ListAll(ctx context.Context, f Filter, p store.Page) ([]Event, string, error) {
	if err := l.allowed(ctx, "read the whole audit log"); err != nil {
		return nil, "", err
	}
	return l.List(ctx, f, p)
}

// Broken names the first event where the chain fails verification.
type Broken struct {
	// ID is the event at fault (for a deleted row, the missing id).
	ID int64
	// Reason says what is wrong, starting with the event, e.g.
	// "event 17: hash mismatch (row edited)".
	Reason string
}

// String returns the reason, so a Broken prints as its explanation.
func (b *Broken) String() string { return b.Reason }

// errStop ends a scan at the first broken event.
var errStop = errors.New("stop scan")

// Verify walks the whole chain in id order, holding only the previous event,
// so memory stays constant however long the chain is. It checks that ids run
// 1, 2, ... without gaps, that every stored hash recomputes from its row,
// that every event links to the one before, and that the chain head (kept
// apart from the events) names the last event, which catches rows deleted
// from the end. It returns nil when the chain is intact; an error only when
// the check itself could not run.
//
// Verify runs without a transaction so it never blocks writers; events
// appended while it runs are checked too, and the head is read before and
// after the scan so a concurrent append is not mistaken for tampering.
//
// Only whom the authorizer allows may run it (an administrator, or ward
// itself): the walk reads every event.
func (l *Log) Verify(ctx context.Context) (*Broken, error) {
	if err := l.allowed(ctx, "verify the audit chain"); err != nil {
		return nil, err
	}
	headID, headHash, err := l.st.AuditHead(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify audit chain: read head: %w", err)
	}
	var (
		broken   *Broken
		lastID   int64
		lastHash string
		seenHead bool
	)
	fail := func(id int64, format string, args ...any) error {
		broken = &Broken{ID: id, Reason: fmt.Sprintf("event %d: ", id) + fmt.Sprintf(format, args...)}
		return errStop
	}
	err = l.st.ScanAudit(ctx, 0, func(e Event) error {
		if e.ID%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		want := lastID + 1
		switch {
		case e.ID > want:
			broken = &Broken{ID: want, Reason: fmt.Sprintf("event %d missing (row deleted)", want)}
			return errStop
		case e.ID < want:
			return fail(e.ID, "out of order after event %d (id edited or duplicated)", lastID)
		case ComputeHash(&e) != e.Hash:
			return fail(e.ID, "hash mismatch (row edited)")
		case e.PrevHash != lastHash && e.ID == 1:
			return fail(e.ID, "first event links to a predecessor (chain start rewritten)")
		case e.PrevHash != lastHash:
			// Event e is self-consistent, so the one before it was
			// rewritten with a recomputed hash (or rows were swapped).
			return fail(lastID, "rewritten (event %d links to a different hash; row edited and rehashed, or rows reordered)", e.ID)
		}
		if e.ID == headID {
			if e.Hash != headHash {
				return fail(e.ID, "does not match the chain head (last event rewritten)")
			}
			seenHead = true
		}
		lastID, lastHash = e.ID, e.Hash
		return nil
	})
	if broken != nil {
		return broken, nil
	}
	if err != nil {
		return nil, fmt.Errorf("verify audit chain: %w", err)
	}
	if lastID < headID {
		return &Broken{ID: lastID + 1, Reason: fmt.Sprintf(
			"event %d missing (row deleted; the chain head says %d events)", lastID+1, headID)}, nil
	}
	if headID > 0 && !seenHead {
		// Unreachable when ids are consecutive and lastID >= headID, but
		// cheap to state rather than assume.
		return &Broken{ID: headID, Reason: fmt.Sprintf("event %d: chain head not found", headID)}, nil
	}
	if headID == 0 && headHash != "" {
		return &Broken{ID: 0, Reason: "event 0: empty chain with a head hash (head rewritten)"}, nil
	}
	if lastID > headID {
		// Events past the first head read: fine if they were appended while
		// we scanned, which the head now shows.
		headID2, _, err := l.st.AuditHead(ctx)
		if err != nil {
			return nil, fmt.Errorf("verify audit chain: read head: %w", err)
		}
		if lastID > headID2 {
			return &Broken{ID: headID2 + 1, Reason: fmt.Sprintf(
				"event %d: beyond the chain head (head rewound or rows inserted)", headID2+1)}, nil
		}
	}
	return nil, nil
}

// Head returns the chain head: how many events there are and the last
// one's hash (0, "" for an empty chain). Like Verify, only whom the
// authorizer allows may read it.
func (l *Log) Head(ctx context.Context) (int64, string, error) {
	if err := l.allowed(ctx, "read the audit chain head"); err != nil {
		return 0, "", err
	}
	id, hash, err := l.st.AuditHead(ctx)
	if err != nil {
		return 0, "", fmt.Errorf("read audit head: %w", err)
	}
	return id, hash, nil
}

// errFound stops a scan at the first event.
var errFound = errors.New("found")

// Get returns event id, or apperr NotFound. Like List it does not check
// permissions.
func (l *Log) Get(ctx context.Context, id int64) (*Event, error) {
	if id <= 0 {
		return nil, apperr.New(apperr.NotFound, "audit event %d not found", id)
	}
	var out *Event
	err := l.st.ScanAudit(ctx, id-1, func(e Event) error {
		if e.ID == id {
			out = &e
		}
		return errFound
	})
	if err != nil && !errors.Is(err, errFound) {
		return nil, fmt.Errorf("read audit event %d: %w", id, err)
	}
	if out == nil {
		return nil, apperr.New(apperr.NotFound, "audit event %d not found", id)
	}
	return out, nil
}
