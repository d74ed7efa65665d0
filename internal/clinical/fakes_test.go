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

func (m *memStore) CreateObservation(_ context.Context, o *clinical.Observation) error {
	m.next++
	o.ID, o.Version, o.UpdatedAt = m.next, 1, fixed
	m.obs[o.ID] = *o
	return nil
}

func (m *memStore) GetObservation(_ context.Context, id int64) (*clinical.Observation, error) {
	o, ok := m.obs[id]
	if !ok {
		return nil, apperr.New(apperr.NotFound, "observation %d not found", id)
	}
	return &o, nil
}

func (m *memStore) UpdateObservation(_ context.Context, o *clinical.Observation) error {
	old, ok := m.obs[o.ID]
	if !ok {
		return apperr.New(apperr.NotFound, "observation %d not found", o.ID)
	}
	if old.Version != o.Version || old.DeletedAt != nil {
		return apperr.New(apperr.Conflict, "stale")
	}
	o.Version++
	m.obs[o.ID] = *o
	return nil
}

func (m *memStore) DeleteObservation(_ context.Context, id, version int64, at time.Time) error {
	old, ok := m.obs[id]
	if !ok {
		return apperr.New(apperr.NotFound, "observation %d not found", id)
	}
	if old.Version != version || old.DeletedAt != nil {
		return apperr.New(apperr.Conflict, "stale")
	}
	old.Version++
	old.DeletedAt = &at
	m.obs[id] = old
	return nil
}

func (m *memStore) ListObservations(_ context.Context, patientID int64, _ store.Page) ([]*clinical.Observation, string, error) {
	var out []*clinical.Observation
	for _, o := range m.obs {
		if o.PatientID == patientID && o.DeletedAt == nil {
			out = append(out, &o)
		}
	}
	slices.SortFunc(out, func(a, b *clinical.Observation) int { return int(b.ID - a.ID) })
	return out, "", nil
}

func (m *memStore) CountObservations(ctx context.Context, patientID int64) (int, error) {
	l, _, err := m.ListObservations(ctx, patientID, store.Page{})
	return len(l), err
}

func (m *memStore) ScanObservations(context.Context, int64, time.Time, func(*clinical.Observation) error) error {
	return nil
}

func (m *memStore) CreateProcedure(_ context.Context, p *clinical.Procedure) error {
	m.next++
	p.ID, p.Version, p.UpdatedAt = m.next, 1, fixed
	m.proc[p.ID] = *p
	return nil
}

func (m *memStore) GetProcedure(_ context.Context, id int64) (*clinical.Procedure, error) {
	p, ok := m.proc[id]
	if !ok {
		return nil, apperr.New(apperr.NotFound, "procedure %d not found", id)
	}
	return &p, nil
}

func (m *memStore) UpdateProcedure(_ context.Context, p *clinical.Procedure) error {
	old, ok := m.proc[p.ID]
	if !ok {
		return apperr.New(apperr.NotFound, "procedure %d not found", p.ID)
	}
	if old.Version != p.Version || old.DeletedAt != nil {
		return apperr.New(apperr.Conflict, "stale")
	}
	p.Version++
	m.proc[p.ID] = *p
	return nil
}

func (m *memStore) DeleteProcedure(_ context.Context, id, version int64, at time.Time) error {
	old, ok := m.proc[id]
	if !ok {
		return apperr.New(apperr.NotFound, "procedure %d not found", id)
	}
	if old.Version != version || old.DeletedAt != nil {
		return apperr.New(apperr.Conflict, "stale")
	}
	old.Version++
	old.DeletedAt = &at
	m.proc[id] = old
	return nil
}

func (m *memStore) ListProcedures(_ context.Context, patientID int64, _ store.Page) ([]*clinical.Procedure, string, error) {
	var out []*clinical.Procedure
	for _, p := range m.proc {
		if p.PatientID == patientID && p.DeletedAt == nil {
			out = append(out, &p)
		}
	}
	slices.SortFunc(out, func(a, b *clinical.Procedure) int { return int(b.ID - a.ID) })
	return out, "", nil
}

func (m *memStore) CountProcedures(ctx context.Context, patientID int64) (int, error) {
	l, _, err := m.ListProcedures(ctx, patientID, store.Page{})
	return len(l), err
}

func (m *memStore) ScanProcedures(context.Context, int64, time.Time, func(*clinical.Procedure) error) error {
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

// The searches keep what Filter.MatchesObservation/MatchesProcedure keep;
// paging is not modelled (one page).

func (m *memStore) SearchObservations(_ context.Context, f clinical.Filter, _ store.Page) ([]*clinical.Observation, string, error) {
	var out []*clinical.Observation
	for _, o := range m.obs {
		if f.MatchesObservation(&o, fixed) {
			out = append(out, &o)
		}
	}
	slices.SortFunc(out, func(a, b *clinical.Observation) int { return int(a.ID - b.ID) })
	return out, "", nil
}

func (m *memStore) CountObservationsMatching(ctx context.Context, f clinical.Filter) (int, error) {
	l, _, err := m.SearchObservations(ctx, f, store.Page{})
	return len(l), err
}

func (m *memStore) ScanObservationsFiltered(context.Context, clinical.Filter, int64, func(*clinical.Observation) error) error {
	return nil
}

func (m *memStore) SearchProcedures(_ context.Context, f clinical.Filter, _ store.Page) ([]*clinical.Procedure, string, error) {
	var out []*clinical.Procedure
	for _, p := range m.proc {
		if f.MatchesProcedure(&p, fixed) {
			out = append(out, &p)
		}
	}
	slices.SortFunc(out, func(a, b *clinical.Procedure) int { return int(a.ID - b.ID) })
	return out, "", nil
}

func (m *memStore) CountProceduresMatching(ctx context.Context, f clinical.Filter) (int, error) {
	l, _, err := m.SearchProcedures(ctx, f, store.Page{})
	return len(l), err
}

func (m *memStore) ScanProceduresFiltered(context.Context, clinical.Filter, int64, func(*clinical.Procedure) error) error {
	return nil
}
