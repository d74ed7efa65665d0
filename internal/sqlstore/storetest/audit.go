package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/directory"
	"ward/internal/store"
)

// checkChain scans the whole chain and fails unless ids run 1..n, every
// PrevHash is the previous Hash, and every Hash recomputes from the row.
func checkChain(t *testing.T, b Backend) []audit.Event {
	t.Helper()
	var evs []audit.Event
	prev := ""
	must(t, b.Audit.ScanAudit(t.Context(), 0, func(e audit.Event) error {
		if want := int64(len(evs) + 1); e.ID != want {
			return fmt.Errorf("event id %d, want %d", e.ID, want)
		}
		if e.PrevHash != prev {
			return fmt.Errorf("event %d: prev hash %q, want %q (forked chain)", e.ID, e.PrevHash, prev)
		}
		if h := audit.ComputeHash(&e); h != e.Hash {
			return fmt.Errorf("event %d: stored hash %s, recomputed %s", e.ID, e.Hash, h)
		}
		prev = e.Hash
		evs = append(evs, e)
		return nil
	}), "scan chain")
	id, hash, err := b.Audit.AuditHead(t.Context())
	must(t, err, "head")
	if id != int64(len(evs)) || hash != prev {
		t.Fatalf("head (%d, %s), want (%d, %s)", id, hash, len(evs), prev)
	}
	return evs
}

func testAuditChain(t *testing.T, b Backend) {
	ctx := t.Context()
	id, hash, err := b.Audit.AuditHead(ctx)
	must(t, err, "empty head")
	if id != 0 || hash != "" {
		t.Fatalf("empty chain head (%d, %q), want (0, \"\")", id, hash)
	}
	var appended []audit.Event
	for i := range 3 {
		e := audit.Event{
			Timestamp: base.Add(time.Duration(i) * time.Minute).In(time.FixedZone("AEST", 10*3600)),
			UserID:    int64(10 + i),
			SubjectID: int64(20 + i),
			ClientID:  fmt.Sprintf("client-%d", i),
			Context:   audit.Account,
			Comment:   fmt.Sprintf("comment %d", i),
			Version:   "1.2.3",
		}
		must(t, b.Audit.AppendAudit(ctx, &e), "append")
		if e.ID != int64(i+1) || e.Hash == "" || e.Timestamp.Location() != time.UTC ||
			!e.Timestamp.Equal(micro(base.Add(time.Duration(i)*time.Minute))) {
			t.Fatalf("appended event %+v: want id %d, a hash and a UTC microsecond timestamp", e, i+1)
		}
		appended = append(appended, e)
	}
	evs := checkChain(t, b)
	mustEqual(t, evs, appended, "scanned events")

	// Scan from the middle, and stop on fn's error.
	var ids []int64
	must(t, b.Audit.ScanAudit(ctx, 1, func(e audit.Event) error { ids = append(ids, e.ID); return nil }), "scan from 1")
	mustEqual(t, ids, []int64{2, 3}, "scan after 1")
	stop := errors.New("stop")
	n := 0
	err = b.Audit.ScanAudit(ctx, 0, func(audit.Event) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("scan returned %v after %d calls, want fn's error after 1", err, n)
	}
}

func testAuditList(t *testing.T, b Backend) {
	ctx := t.Context()
	add := func(user, subject int64, c audit.Context, at time.Time) {
		e := audit.Event{Timestamp: at, UserID: user, SubjectID: subject, Context: c, Comment: "x"}
		must(t, b.Audit.AppendAudit(ctx, &e), "append")
	}
	add(1, 2, audit.User, base)                        // 1
	add(2, 3, audit.Login, base.Add(time.Hour))        // 2
	add(3, 1, audit.ConsentCtx, base.Add(2*time.Hour)) // 3
	add(1, 1, audit.Login, base.Add(3*time.Hour))      // 4
	add(0, 4, audit.Group, base.Add(4*time.Hour))      // 5

	for _, tc := range []struct {
		name string
		f    audit.Filter
		want []int64
	}{
		{"all", audit.Filter{}, []int64{1, 2, 3, 4, 5}},
		{"by user", audit.Filter{UserID: 1}, []int64{1, 4}},
		{"by subject", audit.Filter{SubjectID: 1}, []int64{3, 4}},
		{"involving", audit.Filter{Involving: 1}, []int64{1, 3, 4}},
		{"context", audit.Filter{Context: audit.Login}, []int64{2, 4}},
		{"time range, from inclusive, to exclusive", audit.Filter{From: base.Add(time.Hour), To: base.Add(3 * time.Hour)}, []int64{2, 3}},
		{"combined", audit.Filter{Involving: 1, Context: audit.Login}, []int64{4}},
		{"nothing", audit.Filter{UserID: 42}, nil},
	} {
		evs, next, err := b.Audit.ListAudit(ctx, tc.f, store.Page{Limit: 100})
		must(t, err, tc.name)
		var ids []int64
		for _, e := range evs {
			ids = append(ids, e.ID)
		}
		if next != "" {
			t.Errorf("%s: next cursor on the only page", tc.name)
		}
		mustEqual(t, ids, tc.want, tc.name)
	}

	var ids []int64
	p := store.Page{Limit: 2}
	for range 10 {
		evs, next, err := b.Audit.ListAudit(ctx, audit.Filter{}, p)
		must(t, err, "page")
		for _, e := range evs {
			ids = append(ids, e.ID)
		}
		if next == "" {
			break
		}
		p.After = next
	}
	mustEqual(t, ids, []int64{1, 2, 3, 4, 5}, "paged audit")

	// Newest first, filtered and paged: the cursor continues with older ones.
	ids = nil
	p = store.Page{Limit: 2}
	for range 10 {
		evs, next, err := b.Audit.ListAudit(ctx, audit.Filter{Involving: 1, Newest: true}, p)
		must(t, err, "newest page")
		for _, e := range evs {
			ids = append(ids, e.ID)
		}
		if next == "" {
			break
		}
		p.After = next
	}
	mustEqual(t, ids, []int64{4, 3, 1}, "newest first, paged")
	_, _, err := b.Audit.ListAudit(ctx, audit.Filter{}, store.Page{After: "!"})
	wantKind(t, err, apperr.Invalid, "bad cursor")
}

func testAuditConcurrent(t *testing.T, b Backend) {
	ctx := t.Context()
	const workers, each = 6, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				e := audit.Event{Timestamp: base, UserID: int64(w + 1), Context: audit.Other, Comment: fmt.Sprintf("w%d-%d", w, i)}
				var err error
				if i%2 == 0 {
					// Half the appends ride in a transaction with a write,
					// as services do; the other half stand alone.
					err = b.Tx.InTx(ctx, func(ctx context.Context) error {
						u := &directory.User{Email: fmt.Sprintf("w%d-%d@example.org", w, i), Registered: base}
						if err := b.Directory.CreateUser(ctx, u); err != nil {
							return err
						}
						e.SubjectID = u.ID
						return b.Audit.AppendAudit(ctx, &e)
					})
				} else {
					err = b.Audit.AppendAudit(ctx, &e)
				}
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err, "concurrent append")
	}
	evs := checkChain(t, b)
	if len(evs) != workers*each {
		t.Fatalf("%d events in the chain, want %d", len(evs), workers*each)
	}
}

func testTransactions(t *testing.T, b Backend) {
	ctx := t.Context()
	boom := errors.New("boom")
	attempt := func(email string, fail func() error) error {
		return b.Tx.InTx(ctx, func(ctx context.Context) error {
			u := &directory.User{Email: email, Registered: base}
			if err := b.Directory.CreateUser(ctx, u); err != nil {
				return err
			}
			// Reads inside the transaction see its writes.
			if _, err := b.Directory.GetUserByEmail(ctx, email); err != nil {
				return err
			}
			e := audit.Event{Timestamp: base, SubjectID: u.ID, Context: audit.User, Comment: "created"}
			if err := b.Audit.AppendAudit(ctx, &e); err != nil {
				return err
			}
			return fail()
		})
	}
	noTrace := func(email string) {
		t.Helper()
		_, err := b.Directory.GetUserByEmail(ctx, email)
		wantKind(t, err, apperr.NotFound, "user after rollback")
		id, _, err := b.Audit.AuditHead(ctx)
		must(t, err, "head")
		if id != 0 {
			t.Fatalf("audit head %d after rollback, want 0", id)
		}
	}

	if err := attempt("fail@example.org", func() error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("InTx returned %v, want fn's error", err)
	}
	noTrace("fail@example.org")

	func() {
		defer func() {
			if r := recover(); r != "kaboom" {
				t.Fatalf("recovered %v, want the re-raised panic", r)
			}
		}()
		_ = attempt("panic@example.org", func() error { panic("kaboom") })
	}()
	noTrace("panic@example.org")

	// A nested InTx joins the outer one: its success is undone by the
	// outer failure, and its failure fails the outer one.
	err := b.Tx.InTx(ctx, func(ctx context.Context) error {
		if err := b.Tx.InTx(ctx, func(ctx context.Context) error {
			return b.Directory.CreateUser(ctx, &directory.User{Email: "inner@example.org", Registered: base})
		}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("outer InTx returned %v", err)
	}
	noTrace("inner@example.org")

	// A store error inside the transaction (here a Conflict) rolls back
	// what came before it.
	newUser(t, b, "taken@example.org")
	err = b.Tx.InTx(ctx, func(ctx context.Context) error {
		if err := b.Directory.CreateUser(ctx, &directory.User{Email: "first@example.org", Registered: base}); err != nil {
			return err
		}
		return b.Directory.CreateUser(ctx, &directory.User{Email: "TAKEN@example.org", Registered: base})
	})
	wantKind(t, err, apperr.Conflict, "conflict inside a transaction")
	noTrace("first@example.org")

	// And a successful one commits everything.
	must(t, attempt("ok@example.org", func() error { return nil }), "commit")
	if _, err := b.Directory.GetUserByEmail(ctx, "ok@example.org"); err != nil {
		t.Fatalf("committed user: %v", err)
	}
	checkChain(t, b)
}

// testAuditBatch: AppendAudits continues the chain exactly as single appends
// do, inside one transaction with single appends around it, and a rolled
// back batch leaves the head where it was.
func testAuditBatch(t *testing.T, b Backend) {
	ctx := t.Context()
	mk := func(i int) *audit.Event {
		return &audit.Event{Timestamp: base.Add(time.Duration(i) * time.Second), UserID: int64(i), SubjectID: int64(i + 1),
			ClientID: fmt.Sprintf("c-%d", i), Context: audit.Authentication, Comment: fmt.Sprintf("batch %d", i), Version: "v"}
	}
	var want []audit.Event
	err := b.Tx.InTx(ctx, func(ctx context.Context) error {
		first := mk(0)
		if err := b.Audit.AppendAudit(ctx, first); err != nil {
			return err
		}
		want = append(want, *first)
		var batch []*audit.Event
		for i := 1; i <= 150; i++ {
			batch = append(batch, mk(i))
		}
		if err := b.Audit.AppendAudits(ctx, batch); err != nil {
			return err
		}
		for _, e := range batch {
			want = append(want, *e)
		}
		last := mk(151)
		if err := b.Audit.AppendAudit(ctx, last); err != nil {
			return err
		}
		want = append(want, *last)
		id, hash, err := b.Audit.AuditHead(ctx)
		if err != nil {
			return err
		}
		if id != last.ID || hash != last.Hash {
			t.Errorf("head inside the transaction (%d, %s), want the last event (%d, %s)", id, hash, last.ID, last.Hash)
		}
		return nil
	})
	must(t, err, "batch in a transaction")
	mustEqual(t, checkChain(t, b), want, "chain after a batch")

	headID, headHash, err := b.Audit.AuditHead(ctx)
	must(t, err, "head")
	errRollback := fmt.Errorf("roll back")
	err = b.Tx.InTx(ctx, func(ctx context.Context) error {
		if err := b.Audit.AppendAudits(ctx, []*audit.Event{mk(200), mk(201)}); err != nil {
			return err
		}
		return errRollback
	})
	if err != errRollback {
		t.Fatalf("rolled back batch: %v", err)
	}
	id, hash, err := b.Audit.AuditHead(ctx)
	must(t, err, "head after rollback")
	if id != headID || hash != headHash {
		t.Fatalf("a rolled back batch moved the head to (%d, %s)", id, hash)
	}
	mustEqual(t, checkChain(t, b), want, "chain after a rolled back batch")
}

// testAuditTyped: the typed fields (type, subject, payload, source IP)
// round-trip, the hash covers them, an untyped event and typed ones share
// one chain, and List filters by type.
func testAuditTyped(t *testing.T, b Backend) {
	ctx := t.Context()
	old := audit.Event{Timestamp: base, UserID: 1, SubjectID: 2, Context: audit.Account, Comment: "before types"}
	must(t, b.Audit.AppendAudit(ctx, &old), "append untyped")
	typed := []*audit.Event{
		{Timestamp: base.Add(time.Second), UserID: 1, SubjectID: 2, ClientID: "app", Context: audit.User,
			Comment: "updated user 2: email", Type: audit.UserUpdated, Subject: "Patient/2",
			Payload: `{"changed":["email"],"note":"ünïcode"}`, SourceIP: "2001:db8::1"},
		{Timestamp: base.Add(2 * time.Second), Context: audit.Observation, Comment: "created observation 9",
			Type: audit.ObservationCreated, Subject: "Observation/9", SubjectID: 2, SourceIP: "192.0.2.1"},
	}
	must(t, b.Audit.AppendAudits(ctx, typed), "append typed")
	evs := checkChain(t, b)
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3", len(evs))
	}
	mustEqual(t, evs[1], *typed[0], "typed event read back")
	mustEqual(t, evs[2], *typed[1], "second typed event read back")
	if evs[0].Type != "" || evs[0].Subject != "" || evs[0].Payload != "" || evs[0].SourceIP != "" {
		t.Fatalf("untyped event read back with typed fields: %+v", evs[0])
	}
	// The hash covers each typed field.
	for name, edit := range map[string]func(*audit.Event){
		"type":    func(e *audit.Event) { e.Type = audit.UserDeleted },
		"subject": func(e *audit.Event) { e.Subject = "Patient/3" },
		"payload": func(e *audit.Event) { e.Payload = `{"changed":["name"]}` },
		"source":  func(e *audit.Event) { e.SourceIP = "203.0.113.9" },
		"all":     func(e *audit.Event) { e.Type, e.Subject, e.Payload, e.SourceIP = "", "", "", "" },
	} {
		e := evs[1]
		edit(&e)
		if audit.ComputeHash(&e) == evs[1].Hash {
			t.Errorf("editing the %s of a typed event leaves its hash unchanged", name)
		}
	}
	got, _, err := b.Audit.ListAudit(ctx, audit.Filter{Type: audit.ObservationCreated}, store.Page{})
	must(t, err, "list by type")
	if len(got) != 1 || got[0].ID != 3 {
		t.Fatalf("list by type: %+v, want event 3", got)
	}
}
