package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/store"
)

// fakeStore is an in-memory audit.Store with the contract of the real one:
// Append assigns the id, links and hashes; the head lives apart from rows.
type fakeStore struct {
	events   []Event
	headID   int64
	headHash string
	// inTx records, per append, whether the caller's transaction was joined.
	inTx []bool
}

type txKey struct{}

// fakeTx marks ctx as inside a transaction; a nested call joins the outer one.
type fakeTx struct{ begun int }

func (f *fakeTx) InTx(ctx context.Context, fn func(context.Context) error) error {
	if ctx.Value(txKey{}) != nil {
		return fn(ctx)
	}
	f.begun++
	return fn(context.WithValue(ctx, txKey{}, true))
}

func (s *fakeStore) AppendAudit(ctx context.Context, e *Event) error {
	s.inTx = append(s.inTx, ctx.Value(txKey{}) != nil)
	e.ID, e.PrevHash = s.headID+1, s.headHash
	e.Hash = ComputeHash(e)
	s.events = append(s.events, *e)
	s.headID, s.headHash = e.ID, e.Hash
	return nil
}

func (s *fakeStore) AppendAudits(ctx context.Context, es []*Event) error {
	for _, e := range es {
		if err := s.AppendAudit(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

func (s *fakeStore) ListAudit(_ context.Context, f Filter, p store.Page) ([]Event, string, error) {
	var out []Event
	for _, e := range s.events {
		if (f.Context == "" || e.Context == f.Context) && (f.Type == "" || e.Type == f.Type) {
			out = append(out, e)
		}
	}
	return out, "", nil
}

func (s *fakeStore) ScanAudit(_ context.Context, afterID int64, fn func(Event) error) error {
	for _, e := range s.events {
		if e.ID <= afterID {
			continue
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func (s *fakeStore) AuditHead(context.Context) (int64, string, error) {
	return s.headID, s.headHash, nil
}

var t0 = time.Date(2025, 3, 4, 5, 6, 7, 891234567, time.FixedZone("CET", 3600))

func newTestLog(st *fakeStore) (*Log, *fakeTx) {
	tx := &fakeTx{}
	return NewLog(Deps{Store: st, Tx: tx}, Config{Version: "9.9.9", Now: func() time.Time { return t0 }}), tx
}

func TestRecordBuildsEventFromActor(t *testing.T) {
	st := &fakeStore{}
	l, tx := newTestLog(st)
	ctx := actor.With(t.Context(), actor.Actor{UserID: 7, ClientID: "app-1"})
	ctx = actor.WithAddr(ctx, "192.0.2.7")
	if err := l.Record(ctx, Change{Type: UserUpdated, Subject: "Patient/42", SubjectID: 42,
		Fields: map[string]any{"changed": []string{"email"}}, Comment: "changed email"}); err != nil {
		t.Fatalf("record: %v", err)
	}
	want := Event{
		ID: 1, Timestamp: time.Date(2025, 3, 4, 4, 6, 7, 891234000, time.UTC), UserID: 7, SubjectID: 42,
		ClientID: "app-1", Context: User, Comment: "changed email", Version: "9.9.9",
		Type: UserUpdated, Subject: "Patient/42", Payload: `{"changed":["email"]}`, SourceIP: "192.0.2.7",
	}
	want.Hash = ComputeHash(&want)
	got := st.events[0]
	if got != want || got.Timestamp.Location() != time.UTC {
		t.Fatalf("event\n got %+v\nwant %+v", got, want)
	}
	if tx.begun != 1 || !st.inTx[0] {
		t.Fatalf("record outside a transaction of its own: begun %d, inTx %v", tx.begun, st.inTx)
	}

	// Inside a caller's transaction, Record joins it instead of starting one.
	err := tx.InTx(t.Context(), func(ctx context.Context) error { return l.Record(ctx, Change{Type: SigninFailed, Comment: "x"}) })
	if err != nil {
		t.Fatal(err)
	}
	if tx.begun != 2 || !st.inTx[1] {
		t.Fatalf("record in a caller's transaction: begun %d (want 2: only the caller's), inTx %v", tx.begun, st.inTx)
	}
	if st.events[1].UserID != 0 {
		t.Fatalf("anonymous caller recorded as user %d", st.events[1].UserID)
	}
}

func TestRecordRejectsInvalidInput(t *testing.T) {
	tests := []struct {
		name    string
		c       EventType
		subject int64
		fields  map[string]any
		ok      bool
	}{
		{"registered type", RoleGranted, 1, nil, true},
		{"unregistered type", EventType("bogus.happened"), 1, nil, false},
		{"empty type", EventType(""), 1, nil, false},
		{"negative subject", RoleGranted, -1, nil, false},
		{"safe fields", UserUpdated, 1, map[string]any{"changed": []string{"email"}}, true},
		{"a password field", UserUpdated, 1, map[string]any{"password": "x"}, false},
		{"a client secret field", ClientUpdated, 1, map[string]any{"client_secret": "x"}, false},
		{"a token field", TokenIssued, 1, map[string]any{"access_token": "x"}, false},
		{"a hash field", UserUpdated, 1, map[string]any{"PasswordHash": "x"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &fakeStore{}
			l, _ := newTestLog(st)
			err := l.Record(t.Context(), Change{Type: tt.c, SubjectID: tt.subject, Fields: tt.fields, Comment: "c"})
			if tt.ok {
				if err != nil || len(st.events) != 1 {
					t.Fatalf("record = %v with %d events; want success", err, len(st.events))
				}
				return
			}
			if !apperr.Is(err, apperr.Invalid) || len(st.events) != 0 {
				t.Fatalf("record = %v with %d events; want Invalid and nothing written", err, len(st.events))
			}
		})
	}
}

func TestCleanText(t *testing.T) {
	long := strings.Repeat("é", MaxCommentBytes) // 2 bytes each
	tests := []struct {
		name, in, want string
	}{
		{"plain", "hello", "hello"},
		{"NUL", "a\x00b", "a\uFFFDb"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
	}
	for _, tt := range tests {
		if got := cleanText(tt.in, MaxCommentBytes); got != tt.want {
			t.Errorf("%s: cleanText = %q, want %q", tt.name, got, tt.want)
		}
	}
	got := cleanText(long, MaxCommentBytes)
	if len(got) > MaxCommentBytes || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Fatalf("long comment cut to %d bytes (valid %v), want <= %d, valid, marked", len(got), utf8.ValidString(got), MaxCommentBytes)
	}
}

func TestListValidatesFilter(t *testing.T) {
	st := &fakeStore{}
	l, _ := newTestLog(st)
	ctx := t.Context()
	for _, c := range []EventType{SigninSucceeded, UserUpdated, SigninFailed} {
		if err := l.Record(ctx, Change{Type: c}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		f    Filter
		n    int
		ok   bool
	}{
		{"all", Filter{}, 3, true},
		{"by context", Filter{Context: Login}, 2, true},
		{"by type", Filter{Type: UserUpdated}, 1, true},
		{"unknown type", Filter{Type: "user.nope"}, 0, false},
		{"unknown context", Filter{Context: "nope"}, 0, false},
		{"negative user", Filter{UserID: -1}, 0, false},
		{"from after to", Filter{From: t0, To: t0.Add(-time.Second)}, 0, false},
		{"from equals to", Filter{From: t0, To: t0}, 0, false},
		{"from before to", Filter{From: t0, To: t0.Add(time.Second)}, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, _, err := l.List(ctx, tt.f, store.Page{})
			if tt.ok != (err == nil) || (err != nil && !apperr.Is(err, apperr.Invalid)) {
				t.Fatalf("list error %v, want ok=%v (else Invalid)", err, tt.ok)
			}
			if len(evs) != tt.n {
				t.Fatalf("%d events, want %d", len(evs), tt.n)
			}
		})
	}
}

// chain returns a fake store holding n events appended through a Log.
func chain(t *testing.T, n int) *fakeStore {
	t.Helper()
	st := &fakeStore{}
	l, _ := newTestLog(st)
	ctx := actor.With(t.Context(), actor.Actor{UserID: 3})
	for i := range n {
		if err := l.Record(ctx, Change{Type: UserCreated, SubjectID: int64(i + 100), Comment: fmt.Sprintf("change %d", i+1)}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		tamper func(s *fakeStore)
		wantID int64
		reason string // substring of the reason; "" means intact
	}{
		{name: "empty chain", n: 0, tamper: func(*fakeStore) {}},
		{name: "intact chain", n: 20, tamper: func(*fakeStore) {}},
		{name: "edited comment", n: 20, tamper: func(s *fakeStore) { s.events[16].Comment = "nothing happened" },
			wantID: 17, reason: "event 17: hash mismatch (row edited)"},
		{name: "edited actor", n: 20, tamper: func(s *fakeStore) { s.events[4].UserID = 1 },
			wantID: 5, reason: "event 5: hash mismatch (row edited)"},
		{name: "edited timestamp", n: 20, tamper: func(s *fakeStore) { s.events[0].Timestamp = s.events[0].Timestamp.Add(time.Microsecond) },
			wantID: 1, reason: "event 1: hash mismatch (row edited)"},
		{name: "edited and rehashed", n: 20, tamper: func(s *fakeStore) {
			s.events[9].Comment = "forged"
			s.events[9].Hash = ComputeHash(&s.events[9])
		}, wantID: 10, reason: "event 10: rewritten"},
		{name: "deleted middle row", n: 20, tamper: func(s *fakeStore) { s.events = append(s.events[:17], s.events[18:]...) },
			wantID: 18, reason: "event 18 missing (row deleted)"},
		{name: "deleted first row", n: 5, tamper: func(s *fakeStore) { s.events = s.events[1:] },
			wantID: 1, reason: "event 1 missing (row deleted)"},
		{name: "deleted tail rows", n: 20, tamper: func(s *fakeStore) { s.events = s.events[:18] },
			wantID: 19, reason: "event 19 missing (row deleted"},
		{name: "deleted every row", n: 3, tamper: func(s *fakeStore) { s.events = nil },
			wantID: 1, reason: "event 1 missing (row deleted"},
		{name: "deleted tail and head rewound", n: 20, tamper: func(s *fakeStore) {
			// A careful attacker moves the head too; without the rows the
			// chain is shorter but consistent. Only the head itself can say
			// so, and it was rewritten: this is the documented limit.
			s.events = s.events[:18]
			s.headID, s.headHash = 18, s.events[17].Hash
		}},
		{name: "head rewound below rows", n: 20, tamper: func(s *fakeStore) { s.headID, s.headHash = 15, s.events[14].Hash },
			wantID: 16, reason: "event 16: beyond the chain head"},
		{name: "head hash rewritten", n: 20, tamper: func(s *fakeStore) { s.headHash = strings.Repeat("0", 64) },
			wantID: 20, reason: "event 20: does not match the chain head"},
		{name: "rows reordered", n: 20, tamper: func(s *fakeStore) {
			// Swap the contents of rows 7 and 8 under their ids.
			a, b := s.events[6], s.events[7]
			a.ID, b.ID = 8, 7
			s.events[6], s.events[7] = b, a
		}, wantID: 7, reason: "event 7: hash mismatch (row edited)"},
		{name: "rows reordered and rehashed", n: 20, tamper: func(s *fakeStore) {
			a, b := s.events[6], s.events[7]
			a.ID, b.ID = 8, 7
			b.Hash, a.Hash = ComputeHash(&b), ComputeHash(&a)
			s.events[6], s.events[7] = b, a
		}, wantID: 6, reason: "event 6: rewritten"},
		{name: "duplicated id", n: 5, tamper: func(s *fakeStore) {
			s.events = append(s.events[:3], append([]Event{s.events[2]}, s.events[3:]...)...)
		}, wantID: 3, reason: "event 3: out of order"},
		{name: "first event given a predecessor", n: 3, tamper: func(s *fakeStore) {
			s.events[0].PrevHash = "ab"
			s.events[0].Hash = ComputeHash(&s.events[0])
		}, wantID: 1, reason: "event 1: first event links"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := chain(t, tt.n)
			tt.tamper(st)
			l, _ := newTestLog(st)
			b, err := l.Verify(t.Context())
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if tt.reason == "" {
				if b != nil {
					t.Fatalf("intact chain reported broken: %s", b)
				}
				return
			}
			if b == nil {
				t.Fatalf("tampering not detected; want %q", tt.reason)
			}
			if b.ID != tt.wantID || !strings.Contains(b.Reason, tt.reason) {
				t.Fatalf("broken = (%d, %q), want (%d, containing %q)", b.ID, b.Reason, tt.wantID, tt.reason)
			}
		})
	}
}

// appendingStore appends one more event the first time the scan starts, as
// a concurrent writer would between Verify's first head read and its scan.
type appendingStore struct {
	*fakeStore
	once bool
}

func (s *appendingStore) ScanAudit(ctx context.Context, afterID int64, fn func(Event) error) error {
	if !s.once {
		s.once = true
		e := Event{Timestamp: t0.UTC().Truncate(time.Microsecond), Context: Login}
		if err := s.fakeStore.AppendAudit(ctx, &e); err != nil {
			return err
		}
	}
	return s.fakeStore.ScanAudit(ctx, afterID, fn)
}

func TestVerifyToleratesConcurrentAppend(t *testing.T) {
	st := &appendingStore{fakeStore: chain(t, 5)}
	l := NewLog(Deps{Store: st, Tx: &fakeTx{}}, Config{Version: "v"})
	b, err := l.Verify(t.Context())
	if err != nil || b != nil {
		t.Fatalf("verify during an append = %v, %v; want intact", b, err)
	}
	if len(st.events) != 6 {
		t.Fatalf("the test did not append: %d events", len(st.events))
	}
}

type failingStore struct{ fakeStore }

func (failingStore) ScanAudit(context.Context, int64, func(Event) error) error {
	return errors.New("disk on fire")
}

func TestVerifyReportsScanErrors(t *testing.T) {
	l := NewLog(Deps{Store: &failingStore{}, Tx: &fakeTx{}}, Config{Version: "v"})
	b, err := l.Verify(t.Context())
	if err == nil || b != nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("verify = %v, %v; want the scan error and no verdict", b, err)
	}
}

func TestGetFindsOneEvent(t *testing.T) {
	l, _ := newTestLog(&fakeStore{})
	ctx := actor.With(context.Background(), actor.Actor{UserID: 4})
	for i := range 3 {
		if err := l.Record(ctx, Change{Type: UserUpdated, SubjectID: int64(10 + i), Comment: "event"}); err != nil {
			t.Fatal(err)
		}
	}
	e, err := l.Get(ctx, 2)
	if err != nil || e.ID != 2 || e.SubjectID != 11 {
		t.Fatalf("Get(2) = %+v, %v; want event 2 about user 11", e, err)
	}
	for _, id := range []int64{0, -1, 4} {
		if _, err := l.Get(ctx, id); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("Get(%d): %v, want NotFound", id, err)
		}
	}
}

// TestAuthorizerGuardsChainChecks: with an authorizer wired, Verify, Head
// and ListAll answer its refusal and read nothing; what it allows runs.
func TestAuthorizerGuardsChainChecks(t *testing.T) {
	st := &fakeStore{}
	l, _ := newTestLog(st)
	ctx := actor.With(t.Context(), actor.Actor{UserID: 7})
	if err := l.Record(ctx, Change{Type: UserUpdated, Subject: "Patient/7", Comment: "x"}); err != nil {
		t.Fatalf("record: %v", err)
	}
	var asked []string
	l.WithAuthorizer(func(ctx context.Context, what string) error {
		asked = append(asked, what)
		if actor.From(ctx).System {
			return nil
		}
		return apperr.New(apperr.Forbidden, "only an administrator may %s", what)
	})
	if _, err := l.Verify(ctx); !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("Verify by a non-admin: %v, want Forbidden", err)
	}
	if _, _, err := l.Head(ctx); !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("Head by a non-admin: %v, want Forbidden", err)
	}
	if _, _, err := l.ListAll(ctx, Filter{}, store.Page{}); !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("ListAll by a non-admin: %v, want Forbidden", err)
	}
	if len(asked) != 3 {
		t.Errorf("authorizer asked %d times (%q), want 3", len(asked), asked)
	}
	sys := actor.System(t.Context())
	if b, err := l.Verify(sys); err != nil || b != nil {
		t.Errorf("Verify by ward itself = %v, %v; want intact", b, err)
	}
	if n, h, err := l.Head(sys); err != nil || n != 1 || h == "" {
		t.Errorf("Head by ward itself = %d, %q, %v; want 1 and a hash", n, h, err)
	}
	if evs, _, err := l.ListAll(sys, Filter{}, store.Page{}); err != nil || len(evs) != 1 {
		t.Errorf("ListAll by ward itself = %d events, %v; want 1", len(evs), err)
	}
}
