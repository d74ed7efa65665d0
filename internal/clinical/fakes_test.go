package clinical_test

import (
	"context"
	"errors"
	"slices"
	"time"

	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/clinical"
	"ward/internal/directory"
	"ward/internal/store"
)

// memStore is an in-memory clinical.Store following the contract closely
// enough for the Service's tests (the real contract is checked by
// internal/sqlstore/storetest).
type memStore struct {
	obs  map[int64]clinical.Observation
	proc map[int64]clinical.Procedure
	next int64
}

func newMemStore() *memStore {
	return &memStore{obs: map[int64]clinical.Observation{}, proc: map[int64]clinical.Procedure{}}
}

func (m *memStore) snapshot() *memStore {
	c := &memStore{obs: map[int64]clinical.Observation{}, proc: map[int64]clinical.Procedure{}, next: m.next}
	for k, v := range m.obs {
		c.obs[k] = v
	}
	for k, v := range m.proc {
		c.proc[k] = v
	}
	return c
}

var fixed = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func (m *memStore) Observations() clinical.Records[clinical.Observation] {
	return memRecords[clinical.Observation, *clinical.Observation]{name: "observation", rows: m.obs, next: &m.next,
		matches: func(f clinical.Filter, o *clinical.Observation) bool { return f.MatchesObservation(o, fixed) }}
}

func (m *memStore) Procedures() clinical.Records[clinical.Procedure] {
	return memRecords[clinical.Procedure, *clinical.Procedure]{name: "procedure", rows: m.proc, next: &m.next,
		matches: func(f clinical.Filter, p *clinical.Procedure) bool { return f.MatchesProcedure(p, fixed) }}
}

// memRecords is one kind's rows of a memStore. The searches keep what
// matches keeps (Filter.MatchesObservation/MatchesProcedure); paging is
// not modelled (one page), nor are scans.
type memRecords[T any, P clinical.Record[T]] struct {
	name    string
	rows    map[int64]T
	next    *int64
	matches func(clinical.Filter, *T) bool
}

func (m memRecords[T, P]) Create(_ context.Context, r *T) error {
	*m.next++
	h := P(r).Head()
	*h.ID, *h.Version, *h.UpdatedAt = *m.next, 1, fixed
	m.rows[*h.ID] = *r
	return nil
}

func (m memRecords[T, P]) Get(_ context.Context, id int64) (*T, error) {
	r, ok := m.rows[id]
	if !ok {
		return nil, apperr.New(apperr.NotFound, "%s %d not found", m.name, id)
	}
	return &r, nil
}

func (m memRecords[T, P]) Update(_ context.Context, r *T) error {
	h := P(r).Head()
	old, ok := m.rows[*h.ID]
	if !ok {
		return apperr.New(apperr.NotFound, "%s %d not found", m.name, *h.ID)
	}
	if oh := P(&old).Head(); *oh.Version != *h.Version || *oh.DeletedAt != nil {
		return apperr.New(apperr.Conflict, "stale")
	}
	*h.Version++
	m.rows[*h.ID] = *r
	return nil
}

func (m memRecords[T, P]) Delete(_ context.Context, id, version int64, at time.Time) error {
	old, ok := m.rows[id]
	if !ok {
		return apperr.New(apperr.NotFound, "%s %d not found", m.name, id)
	}
	oh := P(&old).Head()
	if *oh.Version != version || *oh.DeletedAt != nil {
		return apperr.New(apperr.Conflict, "stale")
	}
	*oh.Version++
	*oh.DeletedAt = &at
	m.rows[id] = old
	return nil
}

func (m memRecords[T, P]) keep(keep func(*T) bool, desc bool) []*T {
	var out []*T
	for _, r := range m.rows {
		if keep(&r) {
			out = append(out, &r)
		}
	}
	slices.SortFunc(out, func(a, b *T) int {
		d := int(*P(a).Head().ID - *P(b).Head().ID)
		if desc {
			return -d
		}
		return d
	})
	return out
}

func (m memRecords[T, P]) List(_ context.Context, patientID int64, _ store.Page) ([]*T, string, error) {
	return m.keep(func(r *T) bool { h := P(r).Head(); return *h.PatientID == patientID && *h.DeletedAt == nil }, true), "", nil
}

func (m memRecords[T, P]) Count(ctx context.Context, patientID int64) (int, error) {
	l, _, err := m.List(ctx, patientID, store.Page{})
	return len(l), err
}

func (m memRecords[T, P]) Scan(context.Context, int64, time.Time, func(*T) error) error { return nil }

func (m memRecords[T, P]) Search(_ context.Context, f clinical.Filter, _ store.Page) ([]*T, string, error) {
	return m.keep(func(r *T) bool { return m.matches(f, r) }, false), "", nil
}

func (m memRecords[T, P]) CountMatching(ctx context.Context, f clinical.Filter) (int, error) {
	l, _, err := m.Search(ctx, f, store.Page{})
	return len(l), err
}

func (m memRecords[T, P]) ScanFiltered(context.Context, clinical.Filter, int64, func(*T) error) error {
	return nil
}

// memTx is a Transactor over memStore: fn's error restores the store as it
// was, and ctx carries a marker so the auditor can check it runs inside.
type memTx struct{ st *memStore }

type inTxKey struct{}

func (x memTx) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if ctx.Value(inTxKey{}) != nil {
		return fn(ctx)
	}
	saved := x.st.snapshot()
	if err := fn(context.WithValue(ctx, inTxKey{}, true)); err != nil {
		*x.st = *saved
		return err
	}
	return nil
}

// grants is a Permissions that allows exactly the listed (perm, patient)
// pairs; anything else is Forbidden.
type grants map[directory.Permission][]int64

func (g grants) CheckRole(_ context.Context, perm directory.Permission, targetID int64) error {
	if slices.Contains(g[perm], targetID) {
		return nil
	}
	return apperr.New(apperr.Forbidden, "you may not %s user %d", perm, targetID)
}

type event struct {
	ctx     audit.Context
	subject int64
	comment string
	inTx    bool
}

// memAudit records events; fail makes Record fail.
type memAudit struct {
	events []event
	fail   error
}

func (a *memAudit) Record(ctx context.Context, ch audit.Change) error {
	if a.fail != nil {
		return a.fail
	}
	a.events = append(a.events, event{audit.ContextOf(ch.Type), ch.SubjectID, ch.Comment, ctx.Value(inTxKey{}) != nil})
	return nil
}

func (a *memAudit) RecordEach(context.Context, []audit.Entry) error {
	return errors.New("unexpected RecordEach")
}
