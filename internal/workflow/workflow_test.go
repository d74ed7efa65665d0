package workflow

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"ward/internal/actor"
	"ward/internal/apperr"
	"ward/internal/audit"
	"ward/internal/oauth/scope"
	"ward/internal/store"
)

// The transition table, spelled out: every (action, status) pair is
// either the one step the workflow allows or refused.
func TestTransitionTable(t *testing.T) {
	want := map[Action]map[BusinessStatus]BusinessStatus{
		Validate: {Submitted: Validated},
		Register: {Submitted: Registered, Validated: Registered},
		Certify:  {Registered: Certified},
		Issue:    {Certified: Issued},
		Reject:   {Submitted: Rejected, Validated: Rejected},
	}
	for _, a := range Actions {
		for _, from := range BusinessStatuses {
			to, ok := Allowed(a, from)
			w, wok := want[a][from]
			if ok != wok || to != w {
				t.Errorf("%s from %s: %q %v, want %q %v", a, from, to, ok, w, wok)
			}
		}
	}
	if _, ok := Allowed("approve", Submitted); ok {
		t.Error("an unknown action is allowed")
	}
	for _, final := range []BusinessStatus{Issued, Rejected} {
		for _, a := range Actions {
			if _, ok := Allowed(a, final); ok {
				t.Errorf("%s leaves the final status %s", a, final)
			}
		}
	}
	for _, s := range BusinessStatuses {
		if FHIRStatus[s] == "" || !s.Valid() {
			t.Errorf("%s has no FHIR Task.status", s)
		}
	}
	if len(Transitions) != len(Actions) {
		t.Errorf("%d transitions, %d actions", len(Transitions), len(Actions))
	}
}

// Each action has its scope, and the scope model knows no action the
// workflow lacks.
func TestActionsAreScopes(t *testing.T) {
	var names []string
	for _, a := range Actions {
		names = append(names, string(a))
		if _, err := scope.Parse("system/Task." + string(a)); err != nil {
			t.Errorf("action %s has no scope: %v", a, err)
		}
	}
	if !slices.Equal(names, scope.TaskActions) {
		t.Errorf("actions %v, scope.TaskActions %v", names, scope.TaskActions)
	}
}

type fakeStore struct {
	tasks map[int64]*Task
	orgs  map[string]int64
}

func (f *fakeStore) CreateTask(_ context.Context, t *Task) error {
	t.ID, t.Version = int64(len(f.tasks)+1), 1
	c := *t
	f.tasks[t.ID] = &c
	return nil
}

func (f *fakeStore) GetTask(_ context.Context, id int64) (*Task, error) {
	t, ok := f.tasks[id]
	if !ok {
		return nil, apperr.New(apperr.NotFound, "Task %d not found", id)
	}
	c := *t
	return &c, nil
}

func (f *fakeStore) UpdateTaskStatus(_ context.Context, t *Task) error {
	cur := f.tasks[t.ID]
	if cur.Version != t.Version {
		return apperr.New(apperr.Conflict, "stale")
	}
	t.Version++
	c := *t
	f.tasks[t.ID] = &c
	return nil
}

func (f *fakeStore) SearchTasks(context.Context, Filter, store.Page) ([]*Task, string, error) {
	return nil, "", nil
}
func (f *fakeStore) CountTasks(context.Context, Filter) (int, error) { return 0, nil }
func (f *fakeStore) FindOrganization(_ context.Context, r OrgRef) (int64, error) {
	if r.ID != 0 {
		return f.orgs["id"], nil
	}
	return f.orgs[r.System+"|"+r.Value], nil
}

type tx struct{}

func (tx) InTx(ctx context.Context, fn func(context.Context) error) error { return fn(ctx) }

type recorder struct{ changes []audit.Change }

func (r *recorder) Record(_ context.Context, c audit.Change) error {
	r.changes = append(r.changes, c)
	return nil
}
func (r *recorder) RecordEach(context.Context, []audit.Entry) error { return nil }

func newService() (*Service, *fakeStore, *recorder) {
	fs := &fakeStore{tasks: map[int64]*Task{}, orgs: map[string]int64{"urn:clinic|A": 7, "id": 7}}
	rec := &recorder{}
	return NewService(Deps{Store: fs, Tx: tx{}, Audit: rec, Now: func() time.Time { return time.Unix(1, 0) }}), fs, rec
}

func TestServiceActs(t *testing.T) {
	s, _, rec := newService()
	portal := actor.With(context.Background(), actor.Actor{ClientID: "portal", Scopes: []string{"system/Task.c"}})
	task, err := s.Create(portal, Declaration{Resource: []byte(`{}`), PatientID: 3})
	if err != nil || task.BusinessStatus != Submitted || task.Status != "requested" {
		t.Fatalf("create: %+v %v", task, err)
	}
	_, err = s.Act(portal, task.ID, Certify, "", nil)
	var te *TransitionError
	if !apperr.Is(err, apperr.Conflict) || !errors.As(err, &te) || te.Current != Submitted || te.Action != Certify {
		t.Fatalf("certify a submitted declaration: %v", err)
	}
	refused := errors.New("no")
	if _, err := s.Act(portal, task.ID, Validate, "", func(*Task) error { return refused }); !errors.Is(err, refused) {
		t.Fatalf("check error: %v", err)
	}
	for _, a := range []Action{Validate, Register, Certify, Issue} {
		if _, err := s.Act(portal, task.ID, a, "", nil); err != nil {
			t.Fatalf("%s: %v", a, err)
		}
	}
	got, _ := s.Get(portal, task.ID)
	if got.BusinessStatus != Issued || got.Status != "completed" || got.Version != 5 {
		t.Errorf("after the path: %+v", got)
	}
	var steps []string
	for _, c := range rec.changes {
		if c.Subject != "Task/1" || c.SubjectID != 3 {
			t.Errorf("event about %s/%d", c.Subject, c.SubjectID)
		}
		if c.Type == audit.TaskStatusChanged {
			steps = append(steps, c.Fields["from"].(string)+">"+c.Fields["to"].(string))
		}
	}
	if rec.changes[0].Type != audit.TaskCreated ||
		!slices.Equal(steps, []string{"submitted>validated", "validated>registered", "registered>certified", "certified>issued"}) {
		t.Errorf("events %v", steps)
	}
	if _, err := s.Act(portal, 99, Validate, "", nil); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("unknown task: %v", err)
	}
	if _, err := s.Act(portal, task.ID, "approve", "", nil); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("unknown action: %v", err)
	}
	long := make([]byte, MaxReason+1)
	for i := range long {
		long[i] = 'x'
	}
	for _, reason := range []string{string(long), "a\x00b", "a\xffb"} {
		if _, err := s.Act(portal, task.ID, Reject, reason, nil); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("reason %.10q: %v", reason, err)
		}
	}
}

// Seed 002: self notifications shouldn't come from health facilities
// already in the reference data.
func TestSelfSubmittedFromKnownFacility(t *testing.T) {
	s, fs, _ := newService()
	known := []OrgRef{{System: "urn:clinic", Value: "A", Expression: "Task.owner"}}
	unknown := []OrgRef{{System: "urn:clinic", Value: "Z", Expression: "Task.owner"}}
	portal := actor.With(context.Background(), actor.Actor{ClientID: "portal"})
	registrar := actor.With(context.Background(), actor.Actor{ClientID: "office", UserID: 5})
	_, err := s.Create(portal, Declaration{Resource: []byte(`{}`), Sources: known})
	var se *SourceError
	if !apperr.Is(err, apperr.Invalid) || !errors.As(err, &se) || se.OrganizationID != 7 || se.Expression != "Task.owner" {
		t.Errorf("portal naming a known facility: %v", err)
	}
	if _, err := s.Create(registrar, Declaration{Resource: []byte(`{}`), Sources: known, RequesterIsSubject: true}); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("a person declaring themself from a known facility: %v", err)
	}
	if len(fs.tasks) != 0 {
		t.Fatalf("a refused declaration was stored")
	}
	if _, err := s.Create(portal, Declaration{Resource: []byte(`{}`), Sources: unknown}); err != nil {
		t.Errorf("portal naming an unknown facility: %v", err)
	}
	if _, err := s.Create(registrar, Declaration{Resource: []byte(`{}`), Sources: known}); err != nil {
		t.Errorf("a registrar's declaration from a known facility: %v", err)
	}
}
